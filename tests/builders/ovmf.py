"""Builds synthetic OVMF-like images (footer GUID table, SEV metadata) for tests."""

from __future__ import annotations

import struct
from typing import List, Optional, Sequence, Tuple

from snpmeasure import images

Entry = Tuple[bytes, bytes]


def footer_table(entries: Sequence[Entry]) -> bytes:
    """Entries packed as ``data ‖ u16 size ‖ GUID``, first entry nearest the footer."""
    body = b""
    for guid, data in entries:
        body = data + struct.pack("<H", len(data) + 18) + guid + body
    footer = struct.pack("<H", len(body) + 18) + images.OVMF_TABLE_FOOTER_GUID
    return body + footer


def build_image(
    size: int = 0x4000,
    sections: Sequence[Tuple[int, int, int]] = ((0x800000, 0x9000, 1), (0x80D000, 0x1000, 2), (0x80E000, 0x1000, 3)),
    reset_eip: Optional[int] = 0x80B004,
    hash_table: Optional[Tuple[int, int]] = None,
    version: int = 1,
    signature: bytes = b"ASEV",
    extra: Sequence[Entry] = (),
    fill: int = 0xCC,
) -> bytes:
    """An image of ``size`` bytes: metadata at offset 0x100, GUID table ending 32 bytes before the end."""
    img = bytearray([fill]) * size
    meta = struct.pack("<4sIII", signature, 16 + 12 * len(sections), version, len(sections))
    for base, length, stype in sections:
        meta += struct.pack("<III", base, length, stype)
    img[0x100 : 0x100 + len(meta)] = meta
    entries: List[Entry] = [(images.SEV_META_DATA_GUID, struct.pack("<I", size - 0x100))]
    if reset_eip is not None:
        entries.append((images.SEV_ES_RESET_BLOCK_GUID, struct.pack("<I", reset_eip)))
    if hash_table is not None:
        entries.append((images.SEV_HASH_TABLE_RV_GUID, struct.pack("<II", *hash_table)))
    entries.extend(extra)
    table = footer_table(entries)
    end = size - 32
    img[end - len(table) : end] = table
    return bytes(img)
