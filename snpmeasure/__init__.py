"""snpmeasure: AMD SEV-SNP launch measurements, computed before launch.

The launch digest core (``LaunchDigest``) is native C; everything else is thin Python on top.
Importing the package stays light: modules that need ``cryptography`` load on first use.
"""

from __future__ import annotations

from ._core import LaunchDigest, backend
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

from ._version import __version__
from .measure import Measurement, measure, sweep
from .images import FirmwareImage, FirmwareManifest
from .tables import TableRow, table
from .profiles import LaunchProfile
from .firmware import Firmware, FirmwareStatusError, HostModel, KvmError, LaunchResult, Status
from .policy import GuestPolicy
from .blobs import IdAuth, IdBlock, sign_id_block
from .qemu import SevSnpGuest
from .report import AttestationReport, Expectations, Mismatch, ReportError

__all__ = [
    "LaunchDigest",
    "measure",
    "sweep",
    "table",
    "TableRow",
    "FirmwareImage",
    "FirmwareManifest",
    "Measurement",
    "LaunchProfile",
    "Firmware",
    "FirmwareStatusError",
    "KvmError",
    "HostModel",
    "LaunchResult",
    "Status",
    "GuestPolicy",
    "IdBlock",
    "IdAuth",
    "sign_id_block",
    "SevSnpGuest",
    "AttestationReport",
    "Expectations",
    "Mismatch",
    "ReportError",
    "PageType",
    "VMSA_GPA",
    "PAGE_SIZE",
    "backend",
    "Error",
    "InvalidInputError",
    "ImageError",
    "ManifestError",
    "ProfileError",
    "ConfigError",
    "NativeError",
    "PolicyError",
    "BlobError",
    "SignatureError",
    "QemuObjectError",
    "__version__",
]
