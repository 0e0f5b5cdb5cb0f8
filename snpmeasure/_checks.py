"""Argument checks shared by the modules.

``bytes(x)`` accepts an int (``bytes(48)`` is 48 zero bytes) and an iterable of ints, so a caller
who passes a length or a list where a byte string belongs would get zeros signed or parsed. Byte
arguments go through :func:`as_bytes` instead.
"""

from __future__ import annotations

from typing import Optional, Type

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


def hex_bytes(field: str, text: str, size: int, what: str) -> bytes:
    """``size`` bytes written as ``2 * size`` hex digits (``0x`` first, and spaces and line breaks
    anywhere, as ``xxd -p`` prints them and ``bytes.fromhex`` reads them); otherwise InvalidInputError
    naming ``field`` and ``what`` the value is (``a SHA-256``)."""
    if not isinstance(text, str):
        raise InvalidInputError(field, f"must be {what} as {2 * size} hex digits (a str), got {type(text).__name__}")
    digits = "".join(text.split()).lower()
    if digits.startswith("0x"):
        digits = digits[2:]
    if len(digits) != 2 * size:
        raise InvalidInputError(field, f"must be {what} as {2 * size} hex digits, got {len(digits)} characters")
    if not digits.isascii() or not all(c in "0123456789abcdef" for c in digits):
        raise InvalidInputError(field, f"must be {what} as {2 * size} hex digits, found a non-hex character")
    return bytes.fromhex(digits)


def require_type(
    field: str, value: object, cls: type, hint: str = "", error: Type[InvalidInputError] = InvalidInputError
) -> None:
    """Refuse a ``value`` that is no ``cls`` with ``error`` naming ``field``: "must be an IdBlock
    (``hint``), got str". For the arguments the library's own objects are passed in, where duck
    typing would fail later, further from the caller's mistake."""
    if not isinstance(value, cls):
        name = cls.__name__
        article = "an" if name[0] in "AEIOU" else "a"
        raise error(field, f"must be {article} {name}{f' ({hint})' if hint else ''}, got {type(value).__name__}")


def ascii_int(text: str, base: int = 10) -> int:
    """``int(text, base)`` in ASCII digits only: Python's int() also reads other scripts' digits
    (``int("٣")`` is 3), which no tool a number goes to (QEMU, the firmware tools) reads. Raises
    ValueError as int() does."""
    if not text.isascii():
        raise ValueError(f"non-ASCII digits in {text!r}")
    return int(text, base)


__all__ = ["as_bytes", "ascii_int", "hex_bytes", "require_type"]
