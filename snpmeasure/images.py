"""Firmware images: the OVMF footer GUID table, SEV metadata sections, SVSM images.

Layouts (docs/reference/firmware-abi.md §3.8; QEMU ``hw/i386/pc_sysfw_ovmf.c`` / ``include/hw/i386/pc.h``; edk2
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

import mmap
import os
import struct
import warnings
from enum import IntEnum
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

from ._checks import ascii_int
from ._guids import guid_le, guid_str
from .errors import ImageError, no_member, show

FOUR_GIB = 1 << 32
PAGE = 4096

OVMF_TABLE_FOOTER_GUID = guid_le("96b582de-1fb2-45f7-baea-a366c55a082d")
SEV_META_DATA_GUID = guid_le("dc886566-984a-4798-a75e-5585a7bf67cc")
SEV_ES_RESET_BLOCK_GUID = guid_le("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
SEV_HASH_TABLE_RV_GUID = guid_le("7255371f-3a3b-4b04-927b-1da6efa8d454")
SVSM_INFO_GUID = guid_le("a789a612-0597-4c4b-a49f-cbb1fe9d1ddd")

_ENTRY_HEADER = struct.Struct("<H16s")  # u16 size, GUID (bytes_le)
_META_HEADER = struct.Struct("<4sIII")  # "ASEV", len, version, num_desc
_META_DESC = struct.Struct("<III")  # base, len, type
#: Size of QEMU's PaddedSevHashTable (docs/reference/firmware-abi.md §8.2); QEMU requires the area to hold it.
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

    @classmethod
    def _missing_(cls, value: object) -> SectionType:
        raise no_member(cls, "section type", value)


class MetadataSection(NamedTuple):
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
        if not isinstance(name, str):
            raise ImageError("name", f"must be a str, got {type(name).__name__}")
        if not isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
            raise ImageError(
                name, f"image data must be bytes, bytearray, memoryview or mmap, got {type(data).__name__}"
            )
        if isinstance(end_gpa, bool) or not isinstance(end_gpa, int) or not 0 <= end_gpa <= FOUR_GIB or end_gpa % PAGE:
            raise ImageError("end_gpa", f"must be a page-aligned int up to 4 GiB, got {show(end_gpa)}")
        self.name = name
        self._data = data
        self.size = len(data)
        if self.size == 0:
            raise ImageError(name, "image is empty")
        if bytes(data[:4]) == b"IGVM":  # an IGVM file measured as raw firmware would give a wrong digest
            raise ImageError(
                name,
                "is an IGVM file (magic 'IGVM'), not a firmware image: measure it with --mode snp:igvm --igvm FILE",
            )
        if self.size % PAGE:
            raise ImageError(name, f"image size {self.size} is not a multiple of 4096 bytes")
        if self.size > end_gpa:
            raise ImageError(name, f"image of {self.size:#x} bytes does not fit below GPA {end_gpa:#x}")
        self.gpa = end_gpa - self.size
        self.table: Dict[bytes, Tuple[int, bytes]] = {}
        self._parse_footer_table()
        self.sections: List[MetadataSection] = self._parse_sev_metadata()

    @classmethod
    def open(
        cls, path: Union[str, os.PathLike[str]], *, end_gpa: int = FOUR_GIB, field: str = "image"
    ) -> FirmwareImage:
        """Map the image file read-only (no copy) and parse it."""
        return cls(map_file(path, field), name=os.fspath(path), end_gpa=end_gpa)

    @property
    def data(self) -> BufferLike:
        """The image bytes (measured as NORMAL pages from ``gpa``, where the image ends at its ``end_gpa``)."""
        return self._data

    def sha256(self) -> str:
        """SHA-256 of the image file, hex."""
        import hashlib  # deferred: loading OpenSSL costs start-up time that most runs never use

        return hashlib.sha256(self._data).hexdigest()

    # ---- footer GUID table ----------------------------------------------------------------
    def _parse_footer_table(self) -> None:
        size = self.size
        hdr = _ENTRY_HEADER.size
        footer_off = size - 32 - hdr
        if footer_off < 0:
            return
        fsize, fguid = _ENTRY_HEADER.unpack(bytes(self._data[footer_off : footer_off + hdr]))
        if fguid != OVMF_TABLE_FOOTER_GUID:
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
            eguid = eguid_raw
            if eguid in self.table:
                raise ImageError(ewhere, f"GUID {guid_str(eguid)} appears twice in the table")
            self.table[eguid] = (end - esize, bytes(self._data[end - esize : end - hdr]))
            end -= esize
        if end != start:
            raise ImageError(where, f"{end - start} stray bytes at offset {start:#x} do not form an entry")

    def entry(self, guid: bytes) -> Optional[Tuple[int, bytes]]:
        """(file offset, data) of a GUID table entry (GUID in on-disk form), or None."""
        if not isinstance(guid, bytes):
            raise ImageError("guid", f"must be the 16 GUID bytes, got {type(guid).__name__}")
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
            raise ImageError(where, f"signature is {show(sig)}, expected b'ASEV'")
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
            if stype not in SectionType._value2member_map_:
                # Upstream QEMU measures unknown types as ZERO pages (docs/reference/firmware-abi.md §3.7 table);
                # the pre-merge RFC aborted. Say so instead of failing.
                warnings.warn(
                    f"{dwhere}: unknown section type {stype:#x}, measured as ZERO pages as QEMU does", stacklevel=2
                )
            sections.append(section)
        _check_layout(f"{self.name}: SEV metadata at offset {start:#x}", self.gpa, self.size, sections, ImageError)
        return sections

    def section(self, stype: SectionType) -> Optional[MetadataSection]:
        """The first metadata section of a type, or None."""
        return next((s for s in self.sections if s.type == stype), None)

    # ---- other GUID entries -----------------------------------------------------------------
    @property
    def sev_es_reset_eip(self) -> Optional[int]:
        """The AP reset address from the SEV-ES reset block (the SEV info block), or None if the
        image has none. Looked up as QEMU's sev_es_find_reset_vector does: in the GUID table, else
        in its original place, an SEV info block ending 0x20 bytes before the end of the flash
        (its GUID there, its u16 length before the GUID: OVMF builds before the GUID table)."""
        found = self.entry(SEV_ES_RESET_BLOCK_GUID)
        if found is not None:
            return _u32(found[1], f"{self.name}: SEV-ES reset block GUID", found[0])
        data, end = self._data, self.size - 0x20
        if self.size < 0x32 or bytes(data[end - 16 : end]) != SEV_ES_RESET_BLOCK_GUID:
            return None
        length = struct.unpack_from("<H", data, end - 18)[0]
        if not 22 <= length <= end:  # the u32 address, the length and the GUID at least
            raise ImageError(f"{self.name}: SEV info block before offset {end:#x}", f"has length {length}")
        return _u32(bytes(data[end - length : end - length + 4]), f"{self.name}: SEV info block", end - length)

    @property
    def sev_hash_table(self) -> Optional[Tuple[int, int]]:
        """(GPA, size) of the SEV kernel hashes area, or None if the image has no such entry."""
        found = self.entry(SEV_HASH_TABLE_RV_GUID)
        if found is None:
            return None
        eoff, data = found
        if len(data) < 8:
            raise ImageError(
                f"{self.name}: SEV hash table GUID entry at offset {eoff:#x}", f"has {len(data)} data bytes, needs 8"
            )
        base, size = struct.unpack_from("<II", data)
        return base, size

    def require_sev_hash_table(self) -> int:
        """GPA of a usable SEV hash table area (QEMU: base != 0 and size >= 0xB0), else ImageError."""
        area = self.sev_hash_table
        if area is None:
            raise ImageError(
                self.name, "kernel hashes need the SEV hash table GUID entry (7255371f-…), which this firmware lacks"
            )
        base, size = area
        if base == 0 or size < SEV_HASH_TABLE_SIZE:
            raise ImageError(
                self.name,
                f"SEV hash table area is invalid (base={base:#x} size={size:#x}; QEMU needs base != 0 and size >= 0xb0)",
            )
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


#: The most map_file reads from an input it cannot map (a pipe, a character device): firmware
#: images and IGVM files are far smaller, and an endless stream (/dev/zero, a misdirected pipe)
#: must end in an error, not in all the memory there is.
STREAM_LIMIT = 1 << 30


def map_file(path: Union[str, os.PathLike[str]], field: str = "path") -> BufferLike:
    """The contents of a file, mapped read-only when possible (regular, non-empty files); a path
    that cannot be opened or read, or a stream of more than STREAM_LIMIT bytes, is an
    InputFileError naming ``field``, as is a device or directory (``/dev/zero`` never ends)."""
    from ._files import InputFileError, check_loadable, open_input, read_error

    check_loadable(field, path, pipe=True, why=" (it is read whole)")
    with open_input(field, path) as f:
        try:
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):
            try:
                data = f.read(STREAM_LIMIT + 1)  # empty file, pipe, or a file system without mmap
            except OSError as exc:
                raise read_error(field, f.name, exc) from None
            if len(data) > STREAM_LIMIT:
                raise InputFileError(
                    field,
                    f"{f.name}: more than {STREAM_LIMIT >> 20} MiB from a stream that cannot be mapped; "
                    "give a regular file",
                    None,
                    f.name,
                ) from None
            return data
    if hasattr(m, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        m.madvise(mmap.MADV_SEQUENTIAL)  # read once, front to back: aggressive read-ahead
    return m


# ---- firmware manifests: everything a measurement needs from a firmware, without the binary ------

MANIFEST_SCHEMA = "snpmeasure/firmware-manifest"
MANIFEST_VERSION = 1


def _check_layout(name: str, gpa: int, size: int, sections: List[MetadataSection], error: type) -> None:
    """Rules shared by images and manifests: sections page aligned, non-empty, inside 4 GiB, below
    the firmware's flash range, and not overlapping each other."""
    for i, s in enumerate(sections):
        where = f"{name}: section {i} ({s.type_name})"
        if s.gpa % PAGE or s.size % PAGE or s.size == 0:
            raise error(where, f"GPA {s.gpa:#x} size {s.size:#x} must be non-empty and 4 KiB aligned")
        if s.gpa + s.size > FOUR_GIB:
            raise error(where, f"GPA range {s.gpa:#x}+{s.size:#x} passes 4 GiB")
        if s.gpa < gpa + size and gpa < s.gpa + s.size:
            raise error(where, f"GPA range {s.gpa:#x}+{s.size:#x} overlaps the firmware image at {gpa:#x}+{size:#x}")
        for j, o in enumerate(sections[:i]):
            if s.gpa < o.gpa + o.size and o.gpa < s.gpa + s.size:
                raise error(where, f"GPA range {s.gpa:#x}+{s.size:#x} overlaps section {j} at {o.gpa:#x}")


class FirmwareManifest:
    """What an SNP measurement needs from an OVMF image, as a versioned JSON document.

    Holds the digest of the firmware pages (``snp:ovmf-hash``), the image's SHA-256, size and GPA,
    the SEV-ES reset address, every metadata section in table order, and the SEV hash table area,
    so verifiers can measure without the binary.
    """

    def __init__(
        self,
        *,
        name: str,
        size: int,
        sha256: str,
        ovmf_digest: bytes,
        sections: List[MetadataSection],
        sev_es_reset_eip: Optional[int],
        sev_hash_table: Optional[Tuple[int, int]],
        snpmeasure_version: str = "",
    ) -> None:
        from .errors import ManifestError

        if not isinstance(name, str) or not isinstance(sha256, str) or not isinstance(snpmeasure_version, str):
            raise ManifestError("manifest", "name, sha256 and snpmeasure_version must be str")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= FOUR_GIB or size % PAGE:
            raise ManifestError(f"{name}: size", f"must be a non-zero multiple of 4096 up to 4 GiB, got {show(size)}")
        if not isinstance(ovmf_digest, bytes) or len(ovmf_digest) != 48:
            raise ManifestError(f"{name}: ovmf_digest", "must be 48 bytes")
        if not isinstance(sections, list) or not all(isinstance(s, MetadataSection) for s in sections):
            raise ManifestError(f"{name}: sections", "must be a list of MetadataSection")
        if sev_es_reset_eip is not None and (
            isinstance(sev_es_reset_eip, bool) or not isinstance(sev_es_reset_eip, int)
        ):
            raise ManifestError(f"{name}: sev_es_reset_eip", f"must be an int or None, got {show(sev_es_reset_eip)}")
        if sev_hash_table is not None and not (
            isinstance(sev_hash_table, tuple)
            and len(sev_hash_table) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in sev_hash_table)
        ):
            raise ManifestError(f"{name}: sev_hash_table", f"must be (gpa, size) or None, got {show(sev_hash_table)}")
        self.name = name
        self.size = size
        self.gpa = FOUR_GIB - size
        self.sha256 = sha256
        self.ovmf_digest = ovmf_digest
        self.sections = sections
        self._reset_eip = sev_es_reset_eip
        self._hash_table = sev_hash_table
        self.snpmeasure_version = snpmeasure_version
        _check_layout(name, self.gpa, size, sections, ManifestError)
        if sev_hash_table is not None and any(s.type == SectionType.SNP_KERNEL_HASHES for s in sections):
            base, _ = sev_hash_table
            ks = next(s for s in sections if s.type == SectionType.SNP_KERNEL_HASHES)
            if base and not ks.gpa <= base < ks.gpa + ks.size:
                raise ManifestError(
                    f"{name}: sev_hash_table",
                    f"GPA {base:#x} is outside the SNP_KERNEL_HASHES section {ks.gpa:#x}+{ks.size:#x}",
                )

    def __eq__(self, other: object) -> bool:
        """Manifests compare by value (``from_json(m.to_json()) == m``)."""
        if not isinstance(other, FirmwareManifest):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # compared by value, and its fields can be set

    def __repr__(self) -> str:
        return f"FirmwareManifest(name={show(self.name)}, size={self.size:#x}, sha256={self.sha256})"

    @property
    def sev_es_reset_eip(self) -> Optional[int]:
        """The AP reset address, or None."""
        return self._reset_eip

    @property
    def sev_hash_table(self) -> Optional[Tuple[int, int]]:
        """(GPA, size) of the SEV hash table area, or None."""
        return self._hash_table

    @property
    def kernel_hashes_supported(self) -> bool:
        """True when an SNP launch can measure a kernel (a KERNEL_HASHES section and a usable table)."""
        ht = self._hash_table
        return (
            any(s.type == SectionType.SNP_KERNEL_HASHES for s in self.sections)
            and ht is not None
            and ht[0] != 0
            and ht[1] >= SEV_HASH_TABLE_SIZE
        )

    def require_sev_hash_table(self) -> int:
        """GPA of a usable SEV hash table area, else ImageError (QEMU's rule)."""
        return FirmwareImage.require_sev_hash_table(self)  # type: ignore[arg-type]

    @classmethod
    def from_image(
        cls, image: Union[FirmwareImage, str, os.PathLike[str]], *, threads: Optional[int] = None
    ) -> FirmwareManifest:
        """Measure the firmware pages of an image and record its layout."""
        from ._core import LaunchDigest
        from ._version import __version__

        im = image if isinstance(image, FirmwareImage) else FirmwareImage.open(image)
        ld = LaunchDigest(threads=threads)
        ld.update_normal(im.gpa, im.data)
        return cls(
            name=os.path.basename(im.name),
            size=im.size,
            sha256=im.sha256(),
            ovmf_digest=ld.digest(),
            sections=list(im.sections),
            sev_es_reset_eip=im.sev_es_reset_eip,
            sev_hash_table=im.sev_hash_table,
            snpmeasure_version=__version__,
        )

    def to_json(self) -> Dict[str, object]:
        """The manifest document."""
        return {
            "schema": MANIFEST_SCHEMA,
            "schema_version": MANIFEST_VERSION,
            "snpmeasure_version": self.snpmeasure_version,
            "firmware": {"name": self.name, "sha256": self.sha256, "size": self.size, "gpa": f"{self.gpa:#x}"},
            "ovmf_digest": self.ovmf_digest.hex(),
            "sev_es_reset_eip": None if self._reset_eip is None else f"{self._reset_eip:#x}",
            "sections": [
                {"gpa": f"{s.gpa:#x}", "size": f"{s.size:#x}", "type": s.type, "type_name": s.type_name}
                for s in self.sections
            ],
            "sev_hash_table": None
            if self._hash_table is None
            else {"gpa": f"{self._hash_table[0]:#x}", "size": f"{self._hash_table[1]:#x}"},
            "kernel_hashes_supported": self.kernel_hashes_supported,
        }

    @classmethod
    def from_json(cls, doc: object, *, where: str = "manifest") -> FirmwareManifest:
        """Read and validate a manifest (unknown schema, newer version, bad fields: ManifestError)."""
        from .errors import ManifestError

        def need(obj: object, key: str, path: str) -> object:
            if not isinstance(obj, dict) or key not in obj:
                raise ManifestError(f"{where}.{path}", "is missing")
            return obj[key]

        def num(value: object, path: str, top: int) -> int:
            try:
                n = ascii_int(value, 0) if isinstance(value, str) else value
            except ValueError:
                raise ManifestError(f"{where}.{path}", f"must be a number, got {show(value)}") from None
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= top:
                raise ManifestError(f"{where}.{path}", f"must be an int from 0 to {top:#x}, got {show(value)}")
            return n

        if not isinstance(doc, dict):
            raise ManifestError(where, "must be a JSON object")
        if need(doc, "schema", "schema") != MANIFEST_SCHEMA:
            raise ManifestError(f"{where}.schema", f"must be {show(MANIFEST_SCHEMA)}, got {doc.get('schema')!r}")
        version = need(doc, "schema_version", "schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ManifestError(f"{where}.schema_version", f"must be a positive integer, got {show(version)}")
        if version > MANIFEST_VERSION:
            raise ManifestError(
                f"{where}.schema_version",
                f"is {version}, newer than this snpmeasure reads ({MANIFEST_VERSION}); upgrade snpmeasure",
            )
        fw = need(doc, "firmware", "firmware")
        size = num(need(fw, "size", "firmware.size"), "firmware.size", FOUR_GIB)
        if size == 0 or size % PAGE:
            raise ManifestError(f"{where}.firmware.size", f"must be a non-zero multiple of 4096, got {size}")
        if isinstance(fw, dict) and "gpa" in fw and num(fw["gpa"], "firmware.gpa", FOUR_GIB) != FOUR_GIB - size:
            raise ManifestError(f"{where}.firmware.gpa", f"must be 4 GiB - size = {FOUR_GIB - size:#x}")
        sha = need(fw, "sha256", "firmware.sha256")
        if not isinstance(sha, str) or not re_hex(sha, 64):
            raise ManifestError(f"{where}.firmware.sha256", "must be 64 hex digits")
        digest = need(doc, "ovmf_digest", "ovmf_digest")
        if not isinstance(digest, str) or not re_hex(digest, 96):
            raise ManifestError(f"{where}.ovmf_digest", "must be 96 hex digits")
        raw_sections = need(doc, "sections", "sections")
        if not isinstance(raw_sections, list) or len(raw_sections) > MAX_SECTIONS:
            raise ManifestError(f"{where}.sections", f"must be a list of at most {MAX_SECTIONS} sections")
        sections = [
            MetadataSection(
                num(need(s, "gpa", f"sections[{i}].gpa"), f"sections[{i}].gpa", 0xFFFFFFFF),
                num(need(s, "size", f"sections[{i}].size"), f"sections[{i}].size", 0xFFFFFFFF),
                num(need(s, "type", f"sections[{i}].type"), f"sections[{i}].type", 0xFFFFFFFF),
            )
            for i, s in enumerate(raw_sections)
        ]
        eip = doc.get("sev_es_reset_eip")
        ht = doc.get("sev_hash_table")
        hash_table = None
        if ht is not None:
            hash_table = (
                num(need(ht, "gpa", "sev_hash_table.gpa"), "sev_hash_table.gpa", 0xFFFFFFFF),
                num(need(ht, "size", "sev_hash_table.size"), "sev_hash_table.size", 0xFFFFFFFF),
            )
        name = fw.get("name", where) if isinstance(fw, dict) else where
        man = cls(
            name=str(name),
            size=size,
            sha256=sha.lower(),
            ovmf_digest=bytes.fromhex(digest),
            sections=sections,
            sev_es_reset_eip=None if eip is None else num(eip, "sev_es_reset_eip", 0xFFFFFFFF),
            sev_hash_table=hash_table,
            snpmeasure_version=str(doc.get("snpmeasure_version", "")),
        )
        # Derived from the sections, written for readers: a value that disagrees means an edited file.
        claimed = doc.get("kernel_hashes_supported", man.kernel_hashes_supported)
        if claimed is not man.kernel_hashes_supported:
            raise ManifestError(
                f"{where}.kernel_hashes_supported",
                f"must be {str(man.kernel_hashes_supported).lower()}, "
                f"as its sections and sev_hash_table say, got {show(claimed)}",
            )
        return man

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]]) -> FirmwareManifest:
        """Read a manifest file."""
        from ._files import check_path
        from ._jsonfile import load_json_file
        from .errors import ManifestError

        name = check_path("manifest", path)
        return cls.from_json(load_json_file(name, name, ManifestError, read_field="manifest"), where=name)


def re_hex(text: str, n: int) -> bool:
    """True if ``text`` is exactly ``n`` hex digits."""
    return len(text) == n and all(c in "0123456789abcdefABCDEF" for c in text)
