"""EFI GUIDs in their on-disk little-endian form ("bytes_le"), without importing :mod:`uuid`
(which pulls in :mod:`platform` and slows every CLI start)."""

from __future__ import annotations


def guid_le(text: str) -> bytes:
    """``"96b582de-1fb2-45f7-baea-a366c55a082d"`` → the 16 bytes as EFI stores them (the first
    three fields little-endian, the rest in order)."""
    parts = text.split("-")
    raw = bytes.fromhex("".join(parts))
    if len(raw) != 16 or [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        raise ValueError(f"not a GUID: {text!r}")
    return raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]


def guid_str(le: bytes) -> str:
    """The canonical text of a GUID stored little-endian."""
    b = le[3::-1] + le[5:3:-1] + le[7:5:-1] + le[8:]
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
