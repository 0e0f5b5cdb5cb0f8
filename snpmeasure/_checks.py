"""Argument checks shared by the modules.

``bytes(x)`` accepts an int (``bytes(48)`` is 48 zero bytes) and an iterable of ints, so a caller
who passes a length or a list where a byte string belongs would get zeros signed or parsed. Byte
arguments go through :func:`as_bytes` instead.
"""

from __future__ import annotations

from typing import Optional

from .errors import InvalidInputError


def as_bytes(field: str, value: object, size: Optional[int] = None) -> bytes:
    """``value`` as bytes if it is bytes, bytearray or memoryview (of ``size`` bytes, if given);
    otherwise InvalidInputError naming ``field``."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidInputError(field, f"must be bytes, bytearray or memoryview, got {type(value).__name__}")
    raw = bytes(value)
    if size is not None and len(raw) != size:
        raise InvalidInputError(field, f"must be {size} bytes, got {len(raw)}")
    return raw


__all__ = ["as_bytes"]
