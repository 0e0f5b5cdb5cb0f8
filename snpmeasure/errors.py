"""The exceptions snpmeasure raises.

Every failure is an :class:`Error`. Subclasses that describe bad input also derive from
:class:`ValueError`, so generic callers can catch them the usual way. Messages name the field (or
argument) and the rule it broke, e.g. ``gpa: must be a multiple of 4096, got 0x1001``.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Tuple

if TYPE_CHECKING:
    from .firmware import Status


def show(value: object) -> str:
    """``repr(value)`` for an error message, at most 80 characters. A huge int's decimal repr
    raises ValueError (Python's int-string limit), which must not replace the error it describes."""
    try:
        text = repr(value)
    except ValueError:
        text = f"<an int of {value.bit_length()} bits>" if isinstance(value, int) else f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def no_member(enum: type[Enum], field: str, value: object) -> InvalidInputError:
    """What an enum's ``_missing_`` raises for a value it has no member for (``PageType(9)``): an
    :class:`InvalidInputError` naming the field, where Python raises a bare ValueError."""
    members = list(enum)
    if len(members) <= 8:
        allowed = "one of " + ", ".join(f"{m.value} ({m.name})" for m in members)
    else:
        allowed = f"one of the {len(members)} codes of {enum.__name__}"
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64:
            return InvalidInputError(field, f"must be {allowed}, got {value:#x}")
    return InvalidInputError(field, f"must be {allowed}, got {show(value)}")


class Error(Exception):
    """Base class of every exception snpmeasure raises on purpose."""


class InvalidInputError(Error, ValueError):
    """An argument or input value breaks a rule; ``field`` names it."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")

    def __reduce__(self) -> Tuple[Any, ...]:  # pickles (multiprocessing) with field and rule
        return (type(self), (self.field, self.rule))


class ImageError(InvalidInputError):
    """A firmware (OVMF or SVSM) image is malformed; ``field`` names the structure and offset."""


class ManifestError(InvalidInputError):
    """A firmware manifest is malformed, from an unknown schema, or inconsistent."""


class ProfileError(InvalidInputError):
    """A launch profile (built-in name or profile file) is unknown or invalid."""


class ConfigError(InvalidInputError):
    """A combination of launch inputs cannot be measured (e.g. a kernel without a hashes area)."""


class PolicyError(InvalidInputError):
    """A guest policy value or string breaks a rule; ``field`` names the bit or field."""


class BlobError(InvalidInputError):
    """An ID block, ID auth, key, signature, host data or GOSVW blob is malformed."""


class ReportError(InvalidInputError):
    """An attestation report (or a certificate or CRL for it) is malformed."""


class IgvmError(InvalidInputError):
    """An IGVM file is malformed, or describes a launch the chosen model refuses; ``field`` names
    the file, the header's index, type and file offset."""


class SignatureError(Error):
    """A signature in an ID auth structure or report does not verify; the message says which."""


class QemuObjectError(InvalidInputError):
    """A ``sev-snp-guest`` object (option string, QMP JSON or libvirt XML) is invalid."""


class InputFileError(InvalidInputError, OSError):
    """A file named by ``field`` cannot be opened or read."""

    def __init__(self, field: str, rule: str, errno: Any = None, filename: Any = None) -> None:
        InvalidInputError.__init__(self, field, rule)
        self.errno, self.filename = errno, filename

    def __str__(self) -> str:  # not OSError's "[Errno n] ..." form
        return f"{self.field}: {self.rule}"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.field, self.rule, self.errno, self.filename))


class FirmwareError(Error):
    """The firmware would refuse a command: ``status`` says how, the message says why."""

    def __init__(self, command: str, status: Status, reason: str) -> None:
        self.command = command
        self.status = status
        self.reason = reason
        super().__init__(f"{command}: firmware returns {status.name} ({int(status):#04x}): {reason}")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.command, self.status, self.reason))


class KvmError(Error):
    """KVM would refuse the ioctl before the firmware sees it (``-errno``, ``fw_error=0``)."""

    def __init__(self, command: str, reason: str, errno: str = "EINVAL") -> None:
        self.command = command
        self.reason = reason
        self.errno = errno
        super().__init__(f"{command}: KVM returns -{errno} before calling the firmware (fw_error=0): {reason}")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.command, self.reason, self.errno))


class NativeError(Error):
    """The native core failed for a reason other than bad input (e.g. out of memory)."""


__all__ = [
    "ReportError",
    "InputFileError",
    "FirmwareError",
    "KvmError",
    "show",
    "Error",
    "InvalidInputError",
    "ImageError",
    "ManifestError",
    "ProfileError",
    "ConfigError",
    "PolicyError",
    "BlobError",
    "IgvmError",
    "SignatureError",
    "QemuObjectError",
    "NativeError",
]
