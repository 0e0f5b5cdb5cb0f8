"""snpmeasure: AMD SEV-SNP launch measurements, computed before launch.

The launch digest core (``LaunchDigest``) is native C; everything else is thin Python on top.
``import snpmeasure`` loads only the core and the exceptions; every other name loads its module on
first use (PEP 562), so the CLI starts fast and ``cryptography`` is imported only when a key,
signature or certificate is handled.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Dict, List

from ._core import LaunchDigest, backend
from ._version import __version__
from .errors import (
    BlobError,
    ConfigError,
    Error,
    ImageError,
    InvalidInputError,
    ManifestError,
    NativeError,
    PolicyError,
    ProfileError,
    QemuObjectError,
    SignatureError,
)
from .pages import PAGE_SIZE, VMSA_GPA, PageType

#: Public name → the module that defines it (loaded on first access).
_LAZY: Dict[str, str] = {
    "measure": "measurement", "sweep": "measurement", "Measurement": "measurement",
    "table": "tables", "TableRow": "tables",
    "FirmwareImage": "images", "FirmwareManifest": "images",
    "LaunchProfile": "profiles",
    "Firmware": "firmware", "FirmwareError": "firmware", "HostModel": "firmware", "KvmError": "firmware",
    "LaunchResult": "firmware", "Status": "firmware",
    "GuestPolicy": "policy",
    "IdAuth": "blobs", "IdBlock": "blobs", "sign_id_block": "blobs",
    "SevSnpGuest": "qemu",
    "AttestationReport": "report", "Expectations": "report", "Mismatch": "report", "ReportError": "errors",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .blobs import IdAuth, IdBlock, sign_id_block
    from .firmware import Firmware, FirmwareError, HostModel, KvmError, LaunchResult, Status
    from .images import FirmwareImage, FirmwareManifest
    from .measurement import Measurement, measure, sweep
    from .policy import GuestPolicy
    from .profiles import LaunchProfile
    from .qemu import SevSnpGuest
    from .report import AttestationReport, Expectations, Mismatch, ReportError
    from .tables import TableRow, table


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'snpmeasure' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "LaunchDigest", "PageType", "VMSA_GPA", "PAGE_SIZE", "backend", "__version__",
    "Error", "InvalidInputError", "ImageError", "ManifestError", "ProfileError", "ConfigError", "NativeError",
    "PolicyError", "BlobError", "SignatureError", "QemuObjectError",
    *_LAZY,
]
