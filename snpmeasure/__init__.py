"""snpmeasure: AMD SEV-SNP launch measurements, computed before launch.

The launch digest core (``LaunchDigest``) is native C; everything else is thin Python on top.
Importing the package stays light: modules that need ``cryptography`` load on first use.
"""

from __future__ import annotations

from ._core import LaunchDigest, backend
from .errors import ConfigError, Error, ImageError, InvalidInputError, ManifestError, NativeError, ProfileError
from .pages import PAGE_SIZE, VMSA_GPA, PageType

__version__ = "0.1.0"

__all__ = [
    "LaunchDigest",
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
    "__version__",
]
