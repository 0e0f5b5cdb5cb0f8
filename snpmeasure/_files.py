"""Opening the files users name: firmware, kernels, keys, certificates, reports, JSON documents.

A path must be a ``str`` or ``os.PathLike``: ``open()`` also takes an int as a file descriptor (and
closes it afterwards), so ``measure(ovmf=1)`` would read and close stdout. Every failure to open
or read is an :class:`InputFileError`, which is both a :class:`snpmeasure.Error` naming the field
and an ``OSError`` (``errno`` and ``filename`` set) for callers that catch those.
"""

from __future__ import annotations

import os
from typing import IO, Union

from .errors import InputFileError, InvalidInputError, show

PathLike = Union[str, "os.PathLike[str]"]


def check_path(field: str, path: object) -> str:
    """``path`` as a str, if it is a usable path (a str or os.PathLike naming no NUL byte)."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise InvalidInputError(field, f"must be a file path (str or os.PathLike), got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise InvalidInputError(field, f"must be a file path as str, got {type(text).__name__}")
    if "\0" in text:
        raise InvalidInputError(field, "must be a file path, got one with a NUL byte")
    return text


def open_input(field: str, path: object, *, buffering: int = -1) -> IO[bytes]:
    """Open a user's file for reading in binary mode; failures are InputFileError naming ``field``."""
    name = check_path(field, path)
    if isinstance(buffering, bool) or not isinstance(buffering, int):
        raise InvalidInputError("buffering", f"must be an int, got {type(buffering).__name__}")
    try:
        return open(name, "rb", buffering=buffering)
    except OSError as exc:
        raise InputFileError(field, f"{name}: {exc.strerror or exc}", exc.errno, name) from None


def check_loadable(field: str, path: object, *, pipe: bool = False, why: str = "") -> None:
    """Refuse a path that names no file a loader could read to its end: a directory, a device
    (``/dev/zero`` never ends), and unless ``pipe``, a pipe (which cannot be sized or read twice).
    ``why`` says which loader; a path that cannot be examined is left to the open that follows."""
    import errno
    import stat

    name = check_path(field, path)
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or (pipe and stat.S_ISFIFO(mode)):
        return
    kind = "a directory" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "a device or socket"
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.ESPIPE if stat.S_ISFIFO(mode) else errno.EINVAL
    raise InputFileError(field, f"{name}: is {kind}, not a regular file{why}", code, name)


def read_input(field: str, path: object, limit: int) -> bytes:
    """At most ``limit`` bytes of a user's file (callers pass one more than any valid input, so a
    huge file is never read whole); failures are InputFileError naming ``field``."""
    with open_input(field, path) as f:
        try:
            return f.read(limit)
        except OSError as exc:
            raise read_error(field, f.name, exc) from None


def file_size(field: str, path: object) -> int:
    """The size of a user's file in bytes; failures are InputFileError naming ``field``."""
    name = check_path(field, path)
    try:
        return os.stat(name).st_size
    except OSError as exc:
        raise InputFileError(field, f"{name}: {exc.strerror or exc}", exc.errno, name) from None


def read_error(field: str, name: str, exc: OSError) -> InputFileError:
    """An OSError raised while reading an opened file, as an InputFileError (for this package's
    readers; not part of the public API). A name with a line break or other control character is
    quoted, so the error stays one line."""
    said = name if name.isprintable() else show(name)
    return InputFileError(field, f"{said}: {exc.strerror or exc}", exc.errno, name)


__all__ = ["InputFileError", "check_path", "check_loadable", "open_input", "read_input", "file_size"]
