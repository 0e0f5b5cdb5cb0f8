"""Firmware images: the OVMF footer GUID table, SEV metadata sections, SVSM images.

Layouts (snp-abi.md §3.8; QEMU ``hw/i386/pc_sysfw_ovmf.c`` / ``include/hw/i386/pc.h``; edk2
``OvmfPkg/ResetVector``):

* Footer GUID table: the last 32 bytes of the image are the reset vector area; just before them
  sits the footer entry ``{u16 size; GUID 96b582de-…}`` whose size covers the whole table. Entries
  are packed backwards from there, each ``data ‖ u16 size ‖ GUID`` with size including the 18-byte
  header.
* ``dc886566-…`` (SEV metadata): ``u32`` offset from the image end to
  ``{char sig[4] = "ASEV"; u32 len; u32 version = 1; u32 num_desc; {u32 base; u32 len; u32 type}[]}``.
* ``00f771de-…`` (SEV-ES reset block): ``u32`` AP reset address.
* ``7255371f-…`` (SEV hash table): ``{u32 base; u32 size}``.
* ``a789a612-…`` (SVSM info): ``u32`` entry offset from the SVSM image base.

Every structure is bounds-checked; a malformed image raises :class:`ImageError` naming the
structure and its offset in the file.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import uuid
import warnings
from dataclasses import dataclass
from enum import IntEnum
from typing import Dict, List, Optional, Tuple, Union

from .errors import ImageError

FOUR_GIB = 1 << 32
PAGE = 4096

OVMF_TABLE_FOOTER_GUID = uuid.UUID("96b582de-1fb2-45f7-baea-a366c55a082d")
SEV_META_DATA_GUID = uuid.UUID("dc886566-984a-4798-a75e-5585a7bf67cc")
SEV_ES_RESET_BLOCK_GUID = uuid.UUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
SEV_HASH_TABLE_RV_GUID = uuid.UUID("7255371f-3a3b-4b04-927b-1da6efa8d454")
SEV_SECRET_GUID = uuid.UUID("4c2eb361-7d9b-4cc3-8081-127c90d3d294")
SVSM_INFO_GUID = uuid.UUID("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd")

_ENTRY_HEADER = struct.Struct("<H16s")  # u16 size, GUID (bytes_le)
_META_HEADER = struct.Struct("<4sIII")  # "ASEV", len, version, num_desc
_META_DESC = struct.Struct("<III")  # base, len, type
#: Size of QEMU's PaddedSevHashTable (snp-abi.md §8.2); QEMU requires the area to hold it.
SEV_HASH_TABLE_SIZE = 0xB0
#: A real OVMF has a handful of sections; this bounds the work a hostile image can ask for.
MAX_SECTIONS = 1024


class SectionType(IntEnum):
    """OVMF SEV metadata section types (edk2 OvmfSevMetadata.asm; QEMU pc.h)."""

    SNP_SEC_MEM = 1
    SNP_SECRETS = 2
    CPUID = 3
    SVSM_CAA = 4
    SNP_KERNEL_HASHES = 0x10


@dataclass(frozen=True)
class MetadataSection:
    """One SEV metadata descriptor: a GPA range the VMM must hand to the firmware at launch."""

    gpa: int
    size: int
    type: int  # a SectionType value, or an unknown number (measured as ZERO, as upstream QEMU does)

    @property
    def type_name(self) -> str:
        """The section type's name, or ``UNKNOWN(0x..)``."""
        try:
            return SectionType(self.type).name
        except ValueError:
            return f"UNKNOWN({self.type:#x})"


BufferLike = Union[bytes, bytearray, memoryview, mmap.mmap]


def _u32(buf: bytes, what: str, offset: int) -> int:
    if len(buf) < 4:
        raise ImageError(what, f"entry at file offset {offset:#x} has {len(buf)} data bytes, needs 4")
    return int.from_bytes(buf[:4], "little")


class FirmwareImage:
    """A firmware image (OVMF, or a Coconut SVSM) mapped so that it ends at ``end_gpa``.

    Holds the image bytes (``data``, zero-copy when opened from a file with :meth:`open`), the
    parsed footer GUID table and SEV metadata sections.
    """

    kind = "firmware"

    def __init__(self, data: BufferLike, *, name: str = "firmware", end_gpa: int = FOUR_GIB) -> None:
        self.name = name
        self._data = data
        self.size = len(data)
        if self.size == 0:
            raise ImageError(name, "image is empty")
        if self.size % PAGE:
            raise ImageError(name, f"image size {self.size} is not a multiple of 4096 bytes")
        if self.size > end_gpa:
            raise ImageError(name, f"image of {self.size:#x} bytes does not fit below GPA {end_gpa:#x}")
        self.gpa = end_gpa - self.size
        self.table: Dict[uuid.UUID, Tuple[int, bytes]] = {}
        self._parse_footer_table()
        self.sections: List[MetadataSection] = self._parse_sev_metadata()

    @classmethod
    def open(cls, path: Union[str, "os.PathLike[str]"], *, end_gpa: int = FOUR_GIB) -> "FirmwareImage":
        """Map the image file read-only (no copy) and parse it."""
        return cls(map_file(path), name=os.fspath(path), end_gpa=end_gpa)

    @property
    def data(self) -> BufferLike:
        """The image bytes (measured as NORMAL pages at :attr:`gpa`)."""
        return self._data

    def sha256(self) -> str:
        """SHA-256 of the image file, hex."""
        return hashlib.sha256(self._data).hexdigest()

    # ---- footer GUID table ----------------------------------------------------------------
    def _parse_footer_table(self) -> None:
        size = self.size
        hdr = _ENTRY_HEADER.size
        footer_off = size - 32 - hdr
        if footer_off < 0:
            return
        fsize, fguid = _ENTRY_HEADER.unpack(bytes(self._data[footer_off : footer_off + hdr]))
        if uuid.UUID(bytes_le=fguid) != OVMF_TABLE_FOOTER_GUID:
            return  # no table: a plain image (fine for SEV; SNP then finds no metadata)
        table_size = fsize - hdr
        where = f"{self.name}: footer GUID table at offset {footer_off:#x}"
        if table_size < 0:
            raise ImageError(where, f"size {fsize} is smaller than its {hdr}-byte header")
        if table_size > footer_off:
            raise ImageError(where, f"size {fsize} reaches before the start of the image")
        end = footer_off  # entries end here, walked backwards
        start = footer_off - table_size
        while end - start >= hdr:
            esize, eguid_raw = _ENTRY_HEADER.unpack(bytes(self._data[end - hdr : end]))
            ewhere = f"{self.name}: GUID table entry at offset {end - hdr:#x}"
            if esize < hdr:
                raise ImageError(ewhere, f"size {esize} is smaller than its {hdr}-byte header")
            if esize > end - start:
                raise ImageError(ewhere, f"size {esize} runs past the start of the table at {start:#x}")
            eguid = uuid.UUID(bytes_le=eguid_raw)
            if eguid in self.table:
                raise ImageError(ewhere, f"GUID {eguid} appears twice in the table")
            self.table[eguid] = (end - esize, bytes(self._data[end - esize : end - hdr]))
            end -= esize
        if end != start:
            raise ImageError(where, f"{end - start} stray bytes at offset {start:#x} do not form an entry")

    def entry(self, guid: uuid.UUID) -> Optional[Tuple[int, bytes]]:
        """(file offset, data) of a GUID table entry, or None."""
        return self.table.get(guid)

    # ---- SEV metadata -----------------------------------------------------------------------
    def _parse_sev_metadata(self) -> List[MetadataSection]:
        found = self.entry(SEV_META_DATA_GUID)
        if found is None:
            return []
        eoff, edata = found
        offset_from_end = _u32(edata, f"{self.name}: SEV metadata GUID", eoff)
        start = self.size - offset_from_end
        where = f"{self.name}: SEV metadata at offset {start:#x}"
        if offset_from_end > self.size or start + _META_HEADER.size > self.size:
            raise ImageError(
                f"{self.name}: SEV metadata GUID entry at offset {eoff:#x}",
                f"points {offset_from_end:#x} bytes before the end, outside the image",
            )
        sig, length, version, count = _META_HEADER.unpack(bytes(self._data[start : start + _META_HEADER.size]))
        if sig != b"ASEV":
            raise ImageError(where, f"signature is {sig!r}, expected b'ASEV'")
        if version != 1:
            raise ImageError(where, f"version is {version}, expected 1")
        if length < _META_HEADER.size or length > self.size - start:
            raise ImageError(where, f"length {length:#x} is outside {_META_HEADER.size:#x}..{self.size - start:#x}")
        if count > MAX_SECTIONS:
            raise ImageError(where, f"{count} sections is more than the limit of {MAX_SECTIONS}")
        if _META_HEADER.size + count * _META_DESC.size > length:
            raise ImageError(where, f"{count} section descriptors do not fit in its length {length:#x}")
        sections: List[MetadataSection] = []
        for i in range(count):
            doff = start + _META_HEADER.size + i * _META_DESC.size
            base, size, stype = _META_DESC.unpack(bytes(self._data[doff : doff + _META_DESC.size]))
            section = MetadataSection(base, size, stype)
            dwhere = f"{self.name}: SEV metadata section {i} ({section.type_name}) at offset {doff:#x}"
            if base % PAGE or size % PAGE:
                raise ImageError(dwhere, f"GPA {base:#x} size {size:#x} is not 4 KiB aligned")
            if size == 0:
                raise ImageError(dwhere, f"GPA {base:#x} has size 0")
            if base + size > FOUR_GIB:
                raise ImageError(dwhere, f"GPA range {base:#x}+{size:#x} passes 4 GiB")
            for j, other in enumerate(sections):
                if base < other.gpa + other.size and other.gpa < base + size:
                    raise ImageError(dwhere, f"GPA range {base:#x}+{size:#x} overlaps section {j} at {other.gpa:#x}")
            if stype not in SectionType._value2member_map_:
                # Upstream QEMU measures unknown types as ZERO pages (snp-abi.md §3.7 table);
                # the pre-merge RFC aborted. Say so instead of failing.
                warnings.warn(f"{dwhere}: unknown section type {stype:#x}, measured as ZERO pages as QEMU does", stacklevel=2)
            sections.append(section)
        return sections

    def section(self, stype: SectionType) -> Optional[MetadataSection]:
        """The first metadata section of a type, or None."""
        return next((s for s in self.sections if s.type == stype), None)

    # ---- other GUID entries -----------------------------------------------------------------
    @property
    def sev_es_reset_eip(self) -> Optional[int]:
        """The AP reset address from the SEV-ES reset block, or None if the image has none."""
        found = self.entry(SEV_ES_RESET_BLOCK_GUID)
        if found is None:
            return None
        return _u32(found[1], f"{self.name}: SEV-ES reset block GUID", found[0])

    @property
    def sev_hash_table(self) -> Optional[Tuple[int, int]]:
        """(GPA, size) of the SEV kernel hashes area, or None if the image has no such entry."""
        found = self.entry(SEV_HASH_TABLE_RV_GUID)
        if found is None:
            return None
        eoff, data = found
        if len(data) < 8:
            raise ImageError(f"{self.name}: SEV hash table GUID entry at offset {eoff:#x}", f"has {len(data)} data bytes, needs 8")
        base, size = struct.unpack_from("<II", data)
        return base, size

    def require_sev_hash_table(self) -> int:
        """GPA of a usable SEV hash table area (QEMU: base != 0 and size >= 0xB0), else ImageError."""
        area = self.sev_hash_table
        if area is None:
            raise ImageError(self.name, "kernel hashes need the SEV hash table GUID entry (7255371f-…), which this firmware lacks")
        base, size = area
        if base == 0 or size < SEV_HASH_TABLE_SIZE:
            raise ImageError(self.name, f"SEV hash table area is invalid (base={base:#x} size={size:#x}; QEMU needs base != 0 and size >= 0xb0)")
        return base


class SvsmImage(FirmwareImage):
    """A Coconut SVSM image (pre-IGVM layout): mapped below the OVMF and its variable store."""

    kind = "svsm"

    @property
    def svsm_entry_gpa(self) -> int:
        """The BSP/AP entry point: SVSM info offset + the image's GPA (coconut QEMU)."""
        found = self.entry(SVSM_INFO_GUID)
        if found is None:
            raise ImageError(self.name, "SVSM image has no SVSM info GUID entry (a789a612-…)")
        return _u32(found[1], f"{self.name}: SVSM info GUID", found[0]) + self.gpa


def map_file(path: Union[str, "os.PathLike[str]"]) -> BufferLike:
    """The contents of a file, mapped read-only when possible (regular, non-empty files)."""
    with open(path, "rb") as f:
        try:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):
            return f.read()  # empty file, pipe, or a file system without mmap
