"""snpmeasure: AMD SEV-SNP launch measurements, computed before launch.

The launch digest core (``LaunchDigest``) is native C; everything else is thin Python on top.
Importing the package stays light: modules that need ``cryptography`` load on first use.
"""

from __future__ import annotations

from ._core import LaunchDigest, backend
from .errors import ConfigError, Error, ImageError, InvalidInputError, ManifestError, NativeError, ProfileError
from .pages import PAGE_SIZE, VMSA_GPA, PageType

from ._version import __version__
from .measure import Measurement, measure
from .profiles import LaunchProfile
from .firmware import Firmware

__all__ = [
    "LaunchDigest",
    "measure",
    "Measurement",
    "LaunchProfile",
    "Firmware",
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
