"""snpmeasure: AMD SEV-SNP launch measurements, computed before launch.

The launch digest core (:class:`LaunchDigest`) is native C; everything else is Python on top.
``import snpmeasure`` loads only the exceptions and the page constants; every other name, the core
included, loads its module on first use (PEP 562), so the CLI starts fast, says a bad
``SNPMEASURE_SIMD`` in one line, and ``cryptography`` is imported only when a key, signature or
certificate is handled.

:data:`_EXPORTS` is the one list of the public API: ``__all__``, ``dir(snpmeasure)`` and the lazy
loader follow it, and ``tests/test_init.py`` checks that ``__all__`` and the imports the type
checkers read (below) say the same.
"""

from __future__ import annotations

import typing as _typing
from importlib import import_module as _import_module

from ._version import __version__
from .errors import (
    BlobError,
    ConfigError,
    Error,
    FirmwareError,
    IgvmError,
    ImageError,
    InputFileError,
    InvalidInputError,
    KvmError,
    ManifestError,
    NativeError,
    PolicyError,
    ProfileError,
    QemuObjectError,
    ReportError,
    SignatureError,
)
from .pages import PAGE_SIZE, VMSA_GPA, PageType

#: Every public name → the module that defines it. Names of ``_version``, ``errors`` and ``pages``
#: are imported above; the others load on first access.
_EXPORTS: dict[str, str] = {
    # the digest core and its constants
    "LaunchDigest": "_core", "backend": "_core", "__version__": "_version",
    "PageType": "pages", "PAGE_SIZE": "pages", "VMSA_GPA": "pages",
    # measuring
    "measure": "measurement", "sweep": "measurement", "Measurement": "measurement",
    "table": "tables", "TableRow": "tables", "ReferenceTable": "tables",
    "explain": "explanations", "Explanation": "explanations", "ExplainMatch": "explanations",
    "FirmwareImage": "images", "FirmwareManifest": "images",
    "LaunchProfile": "profiles",
    "IgvmFile": "igvm",
    # the launch dry run and the blobs QEMU hands the firmware
    "Firmware": "firmware", "HostModel": "firmware", "LaunchResult": "firmware", "Status": "firmware",
    "GuestPolicy": "policy",
    "IdAuth": "blobs", "IdBlock": "blobs", "sign_id_block": "blobs",
    "SevSnpGuest": "qemu",
    # attestation reports
    "AttestationReport": "report", "Expectations": "report", "Mismatch": "report",
    "load_references": "references", "ReferenceSet": "references", "VerifyConfig": "references",
    # exceptions
    "Error": "errors", "InvalidInputError": "errors", "InputFileError": "errors", "ImageError": "errors",
    "ManifestError": "errors", "ProfileError": "errors", "ConfigError": "errors", "PolicyError": "errors",
    "BlobError": "errors", "ReportError": "errors", "QemuObjectError": "errors", "SignatureError": "errors",
    "FirmwareError": "errors", "KvmError": "errors", "NativeError": "errors", "IgvmError": "errors",
}  # fmt: skip

if _typing.TYPE_CHECKING:  # the lazy names, for type checkers and IDEs (tests/test_init.py keeps it whole)
    from ._core import LaunchDigest as LaunchDigest
    from ._core import backend as backend
    from .blobs import IdAuth as IdAuth
    from .blobs import IdBlock as IdBlock
    from .blobs import sign_id_block as sign_id_block
    from .explanations import ExplainMatch as ExplainMatch
    from .explanations import Explanation as Explanation
    from .explanations import explain as explain
    from .firmware import Firmware as Firmware
    from .firmware import HostModel as HostModel
    from .firmware import LaunchResult as LaunchResult
    from .firmware import Status as Status
    from .igvm import IgvmFile as IgvmFile
    from .images import FirmwareImage as FirmwareImage
    from .images import FirmwareManifest as FirmwareManifest
    from .measurement import Measurement as Measurement
    from .measurement import measure as measure
    from .measurement import sweep as sweep
    from .policy import GuestPolicy as GuestPolicy
    from .profiles import LaunchProfile as LaunchProfile
    from .qemu import SevSnpGuest as SevSnpGuest
    from .references import ReferenceSet as ReferenceSet
    from .references import VerifyConfig as VerifyConfig
    from .references import load_references as load_references
    from .report import AttestationReport as AttestationReport
    from .report import Expectations as Expectations
    from .report import Mismatch as Mismatch
    from .tables import ReferenceTable as ReferenceTable
    from .tables import TableRow as TableRow
    from .tables import table as table

__all__ = [
    "AttestationReport", "BlobError", "ConfigError", "Error", "Expectations", "ExplainMatch", "Explanation", "Firmware", "FirmwareError",
    "FirmwareImage", "FirmwareManifest", "GuestPolicy", "HostModel", "IdAuth", "IdBlock", "IgvmError", "IgvmFile", "ImageError",
    "InputFileError", "InvalidInputError", "KvmError", "LaunchDigest", "LaunchProfile", "LaunchResult",
    "ManifestError", "Measurement", "Mismatch", "NativeError", "PAGE_SIZE", "PageType", "PolicyError",
    "ProfileError", "QemuObjectError", "ReferenceSet", "ReferenceTable", "ReportError", "SevSnpGuest", "SignatureError", "Status", "TableRow",
    "VMSA_GPA", "VerifyConfig", "__version__", "backend", "explain", "load_references", "measure", "sign_id_block", "sweep", "table",
]  # fmt: skip


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snpmeasure' has no attribute {name!r}")
    value = getattr(_import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
