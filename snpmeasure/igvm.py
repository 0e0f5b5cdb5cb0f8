"""IGVM files: the parser and the writer.

An IGVM file (Independent Guest Virtual Machine format, microsoft/igvm) describes a guest's initial
memory and processor state: a fixed header, the variable headers (type-length-value records in
three sections: platforms, initialization, directives) and the file data the directives point
into by absolute file offset. Layouts are the igvm crate's ``igvm_defs`` (docs/reference/igvm.md
§1, which cites each); all little-endian.

Hostile files are expected: the header count and every length are checked against the file size
before anything is allocated, every offset must lie inside the file, and every malformation is an
:class:`IgvmError` naming the header index, its type and its file offset. A file is read with
``mmap`` (:meth:`IgvmFile.load`) and page data reaches the digest core as ``memoryview`` slices of
the mapping, never copied.

The writer (:meth:`IgvmFile.to_bytes`, :class:`IgvmBuilder`) lays out file data itself, one blob
per distinct content (as the crate's serializer does), and writes format version 1.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from dataclasses import dataclass, field, fields, replace
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from ._checks import require_type
from .errors import IgvmError, InputFileError, show

PAGE = 4096
HUGE_PAGE = 2 << 20
#: The largest parameter area accepted (a loader allocates it whole; its tables take a few pages):
#: bounds the pages a hostile file can make a model measure.
MAX_PARAMETER_AREA = 1 << 30
MAGIC = 0x4D564749  # "IGVM"

# ---- header types (igvm_defs IgvmVariableHeaderType; docs/reference/igvm.md §1.2) ------------------
VHT_SUPPORTED_PLATFORM = 0x1
VHT_GUEST_POLICY = 0x101
VHT_RELOCATABLE_REGION = 0x102
VHT_PAGE_TABLE_RELOCATION_REGION = 0x103
VHT_CORIM_DOCUMENT = 0x104
VHT_CORIM_SIGNATURE = 0x105
VHT_CCA_POLICY = 0x106
VHT_PARAMETER_AREA = 0x301
VHT_PAGE_DATA = 0x302
VHT_PARAMETER_INSERT = 0x303
VHT_VP_CONTEXT = 0x304
VHT_REQUIRED_MEMORY = 0x305
VHT_SHARED_BOUNDARY_GPA = 0x306  # reserved (removed)
VHT_VP_COUNT_PARAMETER = 0x307
VHT_SRAT = 0x308
VHT_MADT = 0x309
VHT_MMIO_RANGES = 0x30A
VHT_SNP_ID_BLOCK = 0x30B
VHT_MEMORY_MAP = 0x30C
VHT_ERROR_RANGE = 0x30D
VHT_COMMAND_LINE = 0x30E
VHT_SLIT = 0x30F
VHT_PPTT = 0x310
VHT_VBS_MEASUREMENT = 0x311
VHT_DEVICE_TREE = 0x312
VHT_ENVIRONMENT_INFO = 0x313

#: Every header type this module knows, by name (as the igvm crate names them).
HEADER_NAMES: Dict[int, str] = {
    VHT_SUPPORTED_PLATFORM: "SUPPORTED_PLATFORM",
    VHT_GUEST_POLICY: "GUEST_POLICY",
    VHT_RELOCATABLE_REGION: "RELOCATABLE_REGION",
    VHT_PAGE_TABLE_RELOCATION_REGION: "PAGE_TABLE_RELOCATION_REGION",
    VHT_CORIM_DOCUMENT: "CORIM_DOCUMENT",
    VHT_CORIM_SIGNATURE: "CORIM_SIGNATURE",
    VHT_CCA_POLICY: "CCA_POLICY",
    VHT_PARAMETER_AREA: "PARAMETER_AREA",
    VHT_PAGE_DATA: "PAGE_DATA",
    VHT_PARAMETER_INSERT: "PARAMETER_INSERT",
    VHT_VP_CONTEXT: "VP_CONTEXT",
    VHT_REQUIRED_MEMORY: "REQUIRED_MEMORY",
    VHT_SHARED_BOUNDARY_GPA: "SHARED_BOUNDARY_GPA",
    VHT_VP_COUNT_PARAMETER: "VP_COUNT_PARAMETER",
    VHT_SRAT: "SRAT",
    VHT_MADT: "MADT",
    VHT_MMIO_RANGES: "MMIO_RANGES",
    VHT_SNP_ID_BLOCK: "SNP_ID_BLOCK",
    VHT_MEMORY_MAP: "MEMORY_MAP",
    VHT_ERROR_RANGE: "ERROR_RANGE",
    VHT_COMMAND_LINE: "COMMAND_LINE",
    VHT_SLIT: "SLIT",
    VHT_PPTT: "PPTT",
    VHT_VBS_MEASUREMENT: "VBS_MEASUREMENT",
    VHT_DEVICE_TREE: "DEVICE_TREE",
    VHT_ENVIRONMENT_INFO: "ENVIRONMENT_INFO",
}

#: The parameter directives (IGVM_VHS_PARAMETER: a loader writes host data into an area).
PARAMETER_TYPES = (
    VHT_VP_COUNT_PARAMETER,
    VHT_SRAT,
    VHT_MADT,
    VHT_MMIO_RANGES,
    VHT_MEMORY_MAP,
    VHT_COMMAND_LINE,
    VHT_SLIT,
    VHT_PPTT,
    VHT_DEVICE_TREE,
    VHT_ENVIRONMENT_INFO,
)

# Sections and the ranges of their types (docs/reference/igvm.md §1.2): platform, initialization, directive.
SECTIONS = (("platform", 0x1, 0x100), ("initialization", 0x101, 0x200), ("directive", 0x301, 0x400))

# SUPPORTED_PLATFORM platform_type values
PLATFORM_NATIVE, PLATFORM_VSM_ISOLATION, PLATFORM_SEV_SNP, PLATFORM_TDX = 0, 1, 2, 3
PLATFORM_SEV, PLATFORM_SEV_ES, PLATFORM_CCA = 4, 5, 6
PLATFORM_NAMES = {0: "NATIVE", 1: "VSM_ISOLATION", 2: "SEV_SNP", 3: "TDX", 4: "SEV", 5: "SEV_ES", 6: "CCA"}

# PAGE_DATA flags and data types (IgvmPageDataFlags, IgvmPageDataType)
FLAG_IS_2MB_PAGE = 1 << 0
FLAG_UNMEASURED = 1 << 1
FLAG_SHARED = 1 << 2
_KNOWN_FLAGS = FLAG_IS_2MB_PAGE | FLAG_UNMEASURED | FLAG_SHARED
DATA_NORMAL, DATA_SECRETS, DATA_CPUID_DATA, DATA_CPUID_XF = 0, 1, 2, 3
DATA_TYPE_NAMES = {0: "NORMAL", 1: "SECRETS", 2: "CPUID_DATA", 3: "CPUID_XF"}

_FIXED_V1 = struct.Struct("<6I")
_PAGE_RECORD = struct.Struct("<IIQIIIHH")  # a PAGE_DATA header: type, length, then its body
_GPA_LIMIT = (
    (1 << 64) - HUGE_PAGE
)  # below it, a page (even a 2 MiB one) ends inside the address space  # magic, format_version, vh offset, vh size, total size, checksum
_FIXED_V2 = struct.Struct("<8I")  # + architecture, page_size
_TLV = struct.Struct("<II")


def _align8(n: int) -> int:
    return (n + 7) & ~7


# ---- the headers, one typed class each ----------------------------------------------------------

H = TypeVar("H", bound="IgvmHeader")


@dataclass(frozen=True)
class IgvmHeader:
    """A variable header. Subclasses name their fields in the order of the body's layout (``LAYOUT``,
    a ``struct`` format); :meth:`from_body` and :meth:`to_body` convert."""

    TYPE: ClassVar[int] = -1
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("")

    @property
    def header_type(self) -> int:
        """The header's type code."""
        return self.TYPE

    @property
    def type_name(self) -> str:
        """The igvm crate's name of the type (``PAGE_DATA``), or its hex code."""
        return HEADER_NAMES.get(self.header_type, f"{self.header_type:#x}")

    @classmethod
    def from_body(cls: Type[H], body: bytes, where: str) -> H:
        """Parse a body of exactly ``LAYOUT.size`` bytes (``where`` names it in errors)."""
        if len(body) != cls.LAYOUT.size:
            raise IgvmError(where, f"body is {len(body)} bytes; a {HEADER_NAMES[cls.TYPE]} has {cls.LAYOUT.size}")
        return cls(*cls.LAYOUT.unpack(body))

    def to_body(self) -> bytes:
        """The body bytes."""
        return self.LAYOUT.pack(*(getattr(self, f.name) for f in fields(self)))

    def to_json(self) -> Dict[str, Any]:
        """The header as JSON: its type, then its fields (numbers as they are, bytes as hex)."""
        out: Dict[str, Any] = {"type": self.type_name}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.hex() if isinstance(value, bytes) else value
        return out


@dataclass(frozen=True)
class SupportedPlatform(IgvmHeader):
    """IGVM_VHS_SUPPORTED_PLATFORM (16 bytes): a platform the file supports; its
    ``compatibility_mask`` (one bit) selects the directives that apply to it."""

    TYPE: ClassVar[int] = VHT_SUPPORTED_PLATFORM
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IBBHQ")
    compatibility_mask: int
    highest_vtl: int
    platform_type: int
    platform_version: int
    shared_gpa_boundary: int


@dataclass(frozen=True)
class GuestPolicy(IgvmHeader):
    """IGVM_VHS_GUEST_POLICY (16 bytes): for SEV-SNP, the SNP guest policy of LAUNCH_START."""

    TYPE: ClassVar[int] = VHT_GUEST_POLICY
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QII")
    policy: int
    compatibility_mask: int
    reserved: int = 0


@dataclass(frozen=True)
class RelocatableRegion(IgvmHeader):
    """IGVM_VHS_RELOCATABLE_REGION (48 bytes)."""

    TYPE: ClassVar[int] = VHT_RELOCATABLE_REGION
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IHBBQQQQQ")
    compatibility_mask: int
    vp_index: int
    vtl: int
    flags: int
    relocation_alignment: int
    relocation_region_gpa: int
    relocation_region_size: int
    minimum_relocation_gpa: int
    maximum_relocation_gpa: int


@dataclass(frozen=True)
class PageTableRelocationRegion(IgvmHeader):
    """IGVM_VHS_PAGE_TABLE_RELOCATION (32 bytes)."""

    TYPE: ClassVar[int] = VHT_PAGE_TABLE_RELOCATION_REGION
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IHBBQQQ")
    compatibility_mask: int
    vp_index: int
    vtl: int
    reserved: int
    gpa: int
    size: int
    used_size: int


@dataclass(frozen=True)
class ParameterArea(IgvmHeader):
    """IGVM_VHS_PARAMETER_AREA (16 bytes): an area the loader fills with parameters; no mask.
    ``file_offset`` 0 means the area starts zeroed."""

    TYPE: ClassVar[int] = VHT_PARAMETER_AREA
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QII")
    number_of_bytes: int
    parameter_area_index: int
    file_offset: int = 0


@dataclass(frozen=True)
class PageData(IgvmHeader):
    """IGVM_VHS_PAGE_DATA (24 bytes): one page imported at ``gpa``; ``file_offset`` 0 is a page
    of zeros, otherwise 4096 bytes of file data (the crate reads exactly 4 KiB, even for a 2 MiB
    page). ``flags``: bit 0 IS_2MB_PAGE, bit 1 UNMEASURED, bit 2 SHARED; ``data_type``: 0 NORMAL,
    1 SECRETS, 2 CPUID_DATA, 3 CPUID_XF."""

    TYPE: ClassVar[int] = VHT_PAGE_DATA
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QIIIHH")
    gpa: int
    compatibility_mask: int
    file_offset: int = 0
    flags: int = 0
    data_type: int = DATA_NORMAL
    reserved: int = 0

    @property
    def size(self) -> int:
        """The page's size: 2 MiB with IS_2MB_PAGE, else 4 KiB."""
        return HUGE_PAGE if self.flags & FLAG_IS_2MB_PAGE else PAGE


@dataclass(frozen=True)
class ParameterInsert(IgvmHeader):
    """IGVM_VHS_PARAMETER_INSERT (16 bytes): the parameter area ``parameter_area_index`` is
    imported at ``gpa`` as unmeasured pages."""

    TYPE: ClassVar[int] = VHT_PARAMETER_INSERT
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QII")
    gpa: int
    compatibility_mask: int
    parameter_area_index: int


@dataclass(frozen=True)
class VpContext(IgvmHeader):
    """IGVM_VHS_VP_CONTEXT (20 bytes; the TLV says 20, its 8-byte alignment pads the next header):
    for SEV-SNP and SEV-ES, a 4 KiB VMSA at ``file_offset`` to be placed at ``gpa`` for vCPU
    ``vp_index``; for the other platforms their own context structure."""

    TYPE: ClassVar[int] = VHT_VP_CONTEXT
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QIIHH")
    gpa: int
    compatibility_mask: int
    file_offset: int
    vp_index: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class RequiredMemory(IgvmHeader):
    """IGVM_VHS_REQUIRED_MEMORY (24 bytes): memory the guest needs; not measured."""

    TYPE: ClassVar[int] = VHT_REQUIRED_MEMORY
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QIIII")
    gpa: int
    compatibility_mask: int
    number_of_bytes: int
    flags: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class Parameter(IgvmHeader):
    """IGVM_VHS_PARAMETER (8 bytes), for every parameter type (VP_COUNT, MEMORY_MAP, COMMAND_LINE,
    MADT, ...): the loader writes that information into area ``parameter_area_index`` at
    ``byte_offset``. Unmeasured; no mask."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<II")
    kind: int
    parameter_area_index: int
    byte_offset: int

    @property
    def header_type(self) -> int:
        return self.kind

    @classmethod
    def parse(cls, kind: int, body: bytes, where: str) -> Parameter:
        """Parse the 8-byte body of parameter type ``kind``."""
        if len(body) != cls.LAYOUT.size:
            raise IgvmError(where, f"body is {len(body)} bytes; a parameter directive has {cls.LAYOUT.size}")
        return cls(kind, *cls.LAYOUT.unpack(body))

    def to_body(self) -> bytes:
        return self.LAYOUT.pack(self.parameter_area_index, self.byte_offset)


@dataclass(frozen=True)
class SnpIdBlock(IgvmHeader):
    """IGVM_VHS_SNP_ID_BLOCK (696 bytes): the ID block and its signatures, which a loader turns
    into SNP_LAUNCH_FINISH's ID block and ID authentication structure. Signatures are ``r ‖ s``
    (72 little-endian bytes each); public keys are ``curve u32 ‖ reserved u32 ‖ qx[72] ‖ qy[72]``.
    ``author_key_enabled`` is 0 or 1."""

    TYPE: ClassVar[int] = VHT_SNP_ID_BLOCK
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IB3s48s16s16sIIII144s152s144s152s")
    compatibility_mask: int
    author_key_enabled: int
    reserved: bytes
    ld: bytes
    family_id: bytes
    image_id: bytes
    version: int
    guest_svn: int
    id_key_algorithm: int
    author_key_algorithm: int
    id_key_signature: bytes
    id_public_key: bytes
    author_key_signature: bytes
    author_public_key: bytes


@dataclass(frozen=True)
class ErrorRange(IgvmHeader):
    """IGVM_VHS_ERROR_RANGE (16 bytes): shared memory for the guest's error reports; not measured."""

    TYPE: ClassVar[int] = VHT_ERROR_RANGE
    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<QII")
    gpa: int
    compatibility_mask: int
    size_bytes: int


@dataclass(frozen=True)
class CorimData(IgvmHeader):
    """IGVM_VHS_CORIM_DATA (16 bytes), for a CoRIM document (0x104) or its signature (0x105)."""

    LAYOUT: ClassVar[struct.Struct] = struct.Struct("<IIII")
    kind: int
    compatibility_mask: int
    file_offset: int
    size_bytes: int
    reserved: int = 0

    @property
    def header_type(self) -> int:
        return self.kind

    @classmethod
    def parse(cls, kind: int, body: bytes, where: str) -> CorimData:
        """Parse the 16-byte body of a CoRIM header of type ``kind``."""
        if len(body) != cls.LAYOUT.size:
            raise IgvmError(where, f"body is {len(body)} bytes; a CoRIM header has {cls.LAYOUT.size}")
        return cls(kind, *cls.LAYOUT.unpack(body))

    def to_body(self) -> bytes:
        return self.LAYOUT.pack(self.compatibility_mask, self.file_offset, self.size_bytes, self.reserved)


@dataclass(frozen=True)
class RawHeader(IgvmHeader):
    """A header of a known range whose body this module does not interpret (CCA policy, VBS
    measurement, the removed SHARED_BOUNDARY_GPA, a type newer than this module), kept as bytes."""

    kind: int
    body: bytes = field(repr=False)

    @property
    def header_type(self) -> int:
        return self.kind

    def to_body(self) -> bytes:
        return self.body

    def to_json(self) -> Dict[str, Any]:
        return {"type": self.type_name, "body": self.body.hex()}


_FIXED_TYPES: Dict[int, Type[IgvmHeader]] = {
    cls.TYPE: cls
    for cls in (
        SupportedPlatform,
        GuestPolicy,
        RelocatableRegion,
        PageTableRelocationRegion,
        ParameterArea,
        PageData,
        ParameterInsert,
        VpContext,
        RequiredMemory,
        SnpIdBlock,
        ErrorRange,
    )
}


def _section_of(kind: int) -> Optional[int]:
    for i, (_, lo, hi) in enumerate(SECTIONS):
        if lo <= kind <= hi:
            return i
    return None


# ---- the file ---------------------------------------------------------------------------------------


def _new_page(gpa: int, mask: int, fo: int, flags: int, dtype: int) -> PageData:
    """A PageData of checked values, without the frozen dataclass's per-field __init__ (a file
    holds thousands: this is the parser's hot path)."""
    h = object.__new__(PageData)
    d = h.__dict__
    d["gpa"], d["compatibility_mask"], d["file_offset"] = gpa, mask, fo
    d["flags"], d["data_type"], d["reserved"] = flags, dtype, 0
    return h


def _page_at(view: memoryview, off: int) -> PageData:
    """The PAGE_DATA header whose record starts at ``off`` (a record the parser has checked)."""
    _, _, gpa, mask, fo, flags, dtype, _ = _PAGE_RECORD.unpack_from(view, off)
    return _new_page(gpa, mask, fo, flags, dtype)


class _Headers(Sequence[IgvmHeader]):
    """An IGVM file's headers in file order. The pages of a run the native core read (thousands
    in a file) are kept as their records' file offsets and made into :class:`PageData` objects
    only when asked for, so reading a file costs no Python object per page."""

    __slots__ = ("_items", "_view")

    def __init__(self, view: memoryview) -> None:
        self._items: List[Union[IgvmHeader, int]] = []
        self._view = view

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> IgvmHeader: ...

    @overload
    def __getitem__(self, index: slice) -> List[IgvmHeader]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[IgvmHeader, List[IgvmHeader]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        item = self._items[index]
        return _page_at(self._view, item) if isinstance(item, int) else item

    def __iter__(self) -> Iterator[IgvmHeader]:
        view = self._view
        for item in self._items:
            yield _page_at(view, item) if isinstance(item, int) else item

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, (list, _Headers)) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} IGVM headers>"


Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


class IgvmFile:
    """A parsed IGVM file: its headers as typed objects, in file order, over the file's bytes.

    :meth:`load` maps a file (no copy); :meth:`from_bytes` takes any buffer. :meth:`data_of`
    gives a header's file data as a ``memoryview`` of that buffer. :meth:`to_bytes` writes the
    file anew (format version 1, file data laid out by this module).
    """

    def __init__(self, data: Buffer, *, name: str = "igvm") -> None:
        if not isinstance(name, str):
            raise IgvmError("name", f"must be a str, got {type(name).__name__}")
        if not isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
            raise IgvmError(name, f"must be bytes, bytearray, memoryview or mmap, got {type(data).__name__}")
        view = memoryview(data)
        if not view.readonly:  # parsed headers must not change under their file: a snapshot
            data = bytes(view)
            view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        self.name = name
        self._data = data
        self._view = view
        self._headers = _Headers(view)
        self._platforms: List[SupportedPlatform] = []
        #: Runs of plain PAGE_DATA headers read by the native core: first header index ->
        #: (headers, merged regions, where the run QEMU holds open at the end starts).
        self._page_runs: Dict[int, Tuple[int, List[Tuple[int, int, int, int, int]], int]] = {}
        self._inserted: Set[int] = set()
        #: The length of each VSM VP context's data, by (file offset, mask): another platform's
        #: context may share the offset (and so the first bytes), and is a page.
        self._vp_lengths: Dict[Tuple[int, int], int] = {}
        #: Each header's file offset (of its type field), parallel to ``headers``.
        self.offsets: List[int] = []
        self._parse()

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]], *, field_name: str = "igvm") -> IgvmFile:
        """Map the file read-only and parse it."""
        from ._files import check_path
        from .images import map_file

        name = check_path(field_name, path)
        return cls(map_file(path, field_name), name=name)

    @classmethod
    def from_bytes(cls, data: Buffer, *, name: str = "igvm") -> IgvmFile:
        """Parse an IGVM file held in memory."""
        return cls(data, name=name)

    # ---- parsing ------------------------------------------------------------------------------
    def _fail(self, offset: int, rule: str) -> IgvmError:
        return IgvmError(f"{self.name}: fixed header at file offset {offset:#x}", rule)

    def _parse(self) -> None:
        v = self._view
        size = len(v)
        if size < _FIXED_V1.size:
            raise self._fail(0, f"the file is {size} bytes, shorter than the {_FIXED_V1.size}-byte fixed header")
        magic, version, vh_off, vh_size, total, checksum = _FIXED_V1.unpack_from(v, 0)
        if magic != MAGIC:
            raise self._fail(0, f"magic is {magic:#010x}, not 0x4d564749 ('IGVM'): this is no IGVM file")
        if version not in (1, 2):
            raise self._fail(4, f"format_version is {version}; versions 1 and 2 are defined")
        fixed = _FIXED_V2 if version == 2 else _FIXED_V1
        if size < fixed.size:
            raise self._fail(0, f"the file is {size} bytes, shorter than the version-2 fixed header ({fixed.size})")
        self.format_version = version
        self.architecture = 0
        self.page_size = PAGE
        if version == 2:
            _, _, _, _, _, _, self.architecture, self.page_size = _FIXED_V2.unpack_from(v, 0)
            if self.architecture not in (0, 1):
                raise self._fail(24, f"architecture is {self.architecture}; 0 (x64) and 1 (AArch64) are defined")
            if self.page_size != PAGE:
                raise self._fail(28, f"page_size is {self.page_size}; only 4096 is supported")
        if total != size:
            raise self._fail(
                16, f"total_file_size is {total:#x}, but the file is {size:#x} bytes (truncated or padded)"
            )
        if vh_off < fixed.size or vh_off % 8:
            raise self._fail(8, f"variable_header_offset {vh_off:#x} must be 8-aligned and at least {fixed.size:#x}")
        if vh_off + vh_size > size:
            raise self._fail(
                12, f"the variable headers ({vh_off:#x} + {vh_size:#x}) run past the end of the file ({size:#x})"
            )
        crc = zlib.crc32(bytes(v[:20]) + bytes(4) + bytes(v[24 : fixed.size]))  # the checksum field as zero
        crc = zlib.crc32(v[vh_off : vh_off + vh_size], crc)
        if crc != checksum:
            raise self._fail(20, f"checksum is {checksum:#010x}, but the CRC32 of the headers is {crc:#010x}")
        self.checksum = checksum
        self.data_start = vh_off + vh_size
        if self.data_start >= size:
            raise self._fail(12, "the file has no file data after its headers (the igvm crate refuses such a file)")
        self._parse_headers(vh_off, vh_off + vh_size)

    def _parse_headers(self, start: int, end: int) -> None:
        v = self._view
        size = len(v)
        section = 0
        off = start
        index = 0
        areas: Dict[int, ParameterArea] = {}
        headers, offsets = self._headers._items, self.offsets
        data_start = self.data_start
        from ._core import igvm_page_runs

        reader = igvm_page_runs(v)
        snp = 0  # the SEV-SNP platform's mask, once the platforms are read

        page_record = _PAGE_RECORD.unpack_from
        while off < end:  # every header takes at least 8 bytes: at most (end - start) / 8 iterations
            # The common case, a PAGE_DATA that breaks no rule, without the general path's cost
            # (a file holds one per page: thousands). Anything unusual takes the general path.
            if end - off >= 32:
                kind, length, gpa, mask, fo, flags, dtype, rsv = page_record(v, off)
                plain = kind == VHT_PAGE_DATA and not flags and not dtype and mask & snp
                run = reader.run(off, end, data_start, snp) if plain and reader is not None else None
                if run is not None and run[0]:
                    # a run of the platform's plain pages, read and merged in C; the headers
                    # stay file offsets until asked for
                    n = run[0]
                    self._page_runs[index] = run
                    headers.extend(range(off, off + 32 * n, 32))
                    offsets.extend(range(off, off + 32 * n, 32))
                    section = 2
                    off += 32 * n
                    index += n
                    continue
                if (
                    kind == VHT_PAGE_DATA
                    and length == 24
                    and not flags & ~_KNOWN_FLAGS
                    and dtype <= DATA_CPUID_XF
                    and not rsv
                    and not gpa & 0xFFF
                    and gpa < _GPA_LIMIT
                    and (not fo or data_start <= fo <= size - PAGE)
                ):
                    headers.append(_new_page(gpa, mask, fo, flags, dtype))
                    offsets.append(off)
                    section = 2
                    off += 32
                    index += 1
                    continue
            if end - off < _TLV.size:
                raise IgvmError(
                    f"{self.name}: header {index} at file offset {off:#x}",
                    f"only {end - off} bytes remain in the variable headers, less than a type and length",
                )
            kind, length = _TLV.unpack_from(v, off)
            name = HEADER_NAMES.get(kind, f"type {kind:#x}")
            where = f"{self.name}: header {index} ({name}, {kind:#x}) at file offset {off:#x}"
            if length > end - off - _TLV.size:
                raise IgvmError(where, f"length {length:#x} runs past the end of the variable headers ({end:#x})")
            sec = _section_of(kind)
            if sec is None:
                raise IgvmError(
                    where,
                    "type is outside the platform (0x1-0x100), initialization (0x101-0x200) and directive "
                    "(0x301-0x400) ranges" + (" (the 'optional' bit 31 is not honoured)" if kind >> 31 else ""),
                )
            if sec < section:
                raise IgvmError(
                    where,
                    f"{SECTIONS[sec][0]} header after a {SECTIONS[section][0]} header: the sections go in order "
                    "(platform, initialization, directive)",
                )
            section = sec
            body = bytes(v[off + _TLV.size : off + _TLV.size + length])
            header = self._header(kind, body, where)
            self._check(header, where, size, areas)
            if isinstance(header, ParameterArea):
                areas[header.parameter_area_index] = header
            if isinstance(header, SupportedPlatform):
                self._platforms.append(header)
                if header.platform_type == PLATFORM_SEV_SNP and not snp:
                    snp = header.compatibility_mask
            headers.append(header)
            offsets.append(off)
            off += _align8(_TLV.size + length)
            index += 1

    @staticmethod
    def _header(kind: int, body: bytes, where: str) -> IgvmHeader:
        cls = _FIXED_TYPES.get(kind)
        if cls is not None:
            return cls.from_body(body, where)
        if kind in PARAMETER_TYPES:
            return Parameter.parse(kind, body, where)
        if kind in (VHT_CORIM_DOCUMENT, VHT_CORIM_SIGNATURE):
            return CorimData.parse(kind, body, where)
        return RawHeader(kind, body)

    def _check(self, h: IgvmHeader, where: str, size: int, areas: Dict[int, ParameterArea]) -> None:
        """Per-header rules: masks, alignment, data inside the file's data section."""

        def data_in_file(offset: int, length: int, what: str) -> None:
            if offset and not (self.data_start <= offset and offset + length <= size):
                raise IgvmError(
                    where,
                    f"{what} at file offset {offset:#x} (+{length:#x}) is outside the file data "
                    f"({self.data_start:#x}..{size:#x})",
                )

        def aligned(gpa: int, align: int, length: int) -> None:
            if gpa % align:
                raise IgvmError(where, f"gpa {gpa:#x} is not {align:#x}-aligned")
            if gpa + length > 1 << 64:
                raise IgvmError(where, f"gpa {gpa:#x} + {length:#x} passes the 64-bit address space")

        if isinstance(h, SupportedPlatform):
            if bin(h.compatibility_mask).count("1") != 1:
                raise IgvmError(where, f"compatibility_mask {h.compatibility_mask:#x} must have exactly one bit set")
            if h.platform_type not in PLATFORM_NAMES:
                raise IgvmError(where, f"platform_type {h.platform_type} is not defined (0..6)")
            if h.platform_version != 1:
                raise IgvmError(where, f"platform_version is {h.platform_version}; every platform is at version 1")
            if h.highest_vtl not in (0, 2):
                raise IgvmError(where, f"highest_vtl is {h.highest_vtl}; VTL 0 and 2 are defined")
            if any(p.compatibility_mask == h.compatibility_mask for p in self._platforms):
                raise IgvmError(where, f"compatibility_mask {h.compatibility_mask:#x} is already another platform's")
            if any(p.platform_type == h.platform_type for p in self._platforms):
                raise IgvmError(
                    where,
                    f"a second {PLATFORM_NAMES[h.platform_type]} platform: the igvm crate (and so igvmmeasure and "
                    "QEMU) refuses the file (MultiplePlatformHeadersWithSameIsolation)",
                )
        elif isinstance(h, PageData):
            # Flag bits beyond IS_2MB_PAGE, UNMEASURED and SHARED are reserved; the igvm crate and
            # QEMU ignore them (QEMU compares the whole word when it merges pages into runs).
            if h.data_type not in DATA_TYPE_NAMES:
                raise IgvmError(where, f"data_type {h.data_type} is not defined (0..3)")
            if h.reserved:
                raise IgvmError(where, f"reserved is {h.reserved:#x}, must be 0")
            aligned(h.gpa, PAGE, h.size)  # the crate asks 4 KiB alignment of 2 MiB pages too
            data_in_file(h.file_offset, _data_length(h), "the page's data")
        elif isinstance(h, VpContext):
            # The igvm crate (and so igvmmeasure and QEMU) reads a VP context by the platform whose
            # mask equals its own (igvm/src/lib.rs, IGVM_VHT_VP_CONTEXT): a 4 KiB VMSA for SEV-SNP
            # and SEV-ES, a register list for VSM, a context structure followed by zeros for
            # NATIVE, SEV and CCA; TDX, or no such platform, is InvalidVpContextPlatformType.
            platform = next((p for p in self._platforms if p.compatibility_mask == h.compatibility_mask), None)
            if platform is None or platform.platform_type == PLATFORM_TDX:
                whose = "is not exactly one platform's" if platform is None else "is the TDX platform's"
                raise IgvmError(
                    where,
                    f"compatibility_mask {h.compatibility_mask:#x} {whose}: the igvm crate (and so igvmmeasure and "
                    "QEMU) cannot read the VP context (InvalidVpContextPlatformType)",
                )
            aligned(h.gpa, PAGE, PAGE)
            if not h.file_offset:
                raise IgvmError(where, "file_offset is 0: a VP context needs its data")
            if platform.platform_type == PLATFORM_VSM_ISOLATION:
                self._vp_lengths[h.file_offset, h.compatibility_mask] = self._vbs_context_length(h, where, data_in_file)
            else:
                data_in_file(h.file_offset, PAGE, "the VP context")
                used = _CONTEXT_BYTES.get(platform.platform_type)
                tail = self._view[h.file_offset + used : h.file_offset + PAGE] if used is not None else b""
                if tail and bytes(tail) != bytes(len(tail)):
                    raise IgvmError(
                        where,
                        f"the {PLATFORM_NAMES[platform.platform_type]} VP context has non-zero bytes after its "
                        f"{used}-byte structure: the igvm crate refuses it (InvalidContext)",
                    )
        elif isinstance(h, ParameterArea):
            if h.number_of_bytes % PAGE:  # the crate's only rule: 0 is a (useless) area too
                raise IgvmError(where, f"number_of_bytes {h.number_of_bytes:#x} must be a multiple of 4096")
            if h.number_of_bytes > MAX_PARAMETER_AREA:
                raise IgvmError(
                    where,
                    f"number_of_bytes {h.number_of_bytes:#x} is over {MAX_PARAMETER_AREA:#x}: a parameter area holds "
                    "tables for the guest, and a loader allocates it whole",
                )
            if h.parameter_area_index in areas:
                raise IgvmError(where, f"parameter area {h.parameter_area_index} is declared twice")
            data_in_file(h.file_offset, _data_length(h), "the area's initial data")
        elif isinstance(h, (ParameterInsert, Parameter)):
            area = areas.get(h.parameter_area_index)
            if area is None:
                raise IgvmError(where, f"parameter area {h.parameter_area_index} is not declared before it")
            if isinstance(h, ParameterInsert):
                aligned(h.gpa, PAGE, area.number_of_bytes)
                if h.parameter_area_index in self._inserted:
                    raise IgvmError(where, f"parameter area {h.parameter_area_index} is inserted twice")
                self._inserted.add(h.parameter_area_index)
            elif h.parameter_area_index in self._inserted:
                raise IgvmError(
                    where,
                    f"parameter area {h.parameter_area_index} is already inserted: the igvm crate refuses a "
                    "parameter for it after its PARAMETER_INSERT (InvalidParameterAreaIndex)",
                )
            # a byte_offset outside the area is taken: the igvm crate leaves it unchecked (its own
            # comment says it should validate it one day); the qemu model, whose loader would write
            # there, refuses it
        elif isinstance(h, RequiredMemory):  # the crate's rules (UnalignedSize, ReservedNotZero)
            aligned(h.gpa, PAGE, h.number_of_bytes)
            if h.number_of_bytes % PAGE:
                raise IgvmError(where, f"number_of_bytes {h.number_of_bytes:#x} is not a multiple of 4096")
            if h.reserved:
                raise IgvmError(where, f"reserved is {h.reserved:#x}, must be 0")
        elif isinstance(h, ErrorRange):
            aligned(h.gpa, PAGE, h.size_bytes)  # the crate asks 4 KiB alignment
        elif isinstance(h, CorimData):
            data_in_file(h.file_offset, _data_length(h), "the CoRIM data")
        elif isinstance(h, SnpIdBlock):
            if h.author_key_enabled not in (0, 1):
                raise IgvmError(where, f"author_key_enabled is {h.author_key_enabled}, must be 0 or 1")

    def _vbs_context_length(self, h: VpContext, where: str, data_in_file: Callable[[int, int, str], None]) -> int:
        """The bytes of a VSM platform's VP context: VbsVpContextHeader (register_count u32) and
        that many 32-byte VbsVpContextRegister (vtl u8 @0, name u32 @1, mbz[11], value[16]), as
        the igvm crate reads them: at least one register, all of one VTL (0-2), only for
        vp_index 0 (the crate asserts both, so a tool built on it stops), each a register it
        converts (_VBS_REGISTERS)."""
        data_in_file(h.file_offset, 4, "the VSM VP context")
        count = int(struct.unpack_from("<I", self._view, h.file_offset)[0])
        length = 4 + 32 * count
        data_in_file(h.file_offset, length, "the VSM VP context's registers")
        if not count:
            raise IgvmError(where, "the VSM VP context has no registers (NoVbsVpContextRegisters)")
        vtls = {self._view[h.file_offset + 4 + 32 * i] for i in range(count)}
        if len(vtls) > 1 or not vtls <= {0, 1, 2}:
            raise IgvmError(where, f"the VSM VP context's registers name VTLs {sorted(vtls)}: one VTL, 0-2")
        if h.vp_index:
            raise IgvmError(where, f"a VSM VP context is for vp_index 0 only (the igvm crate), got {h.vp_index}")
        names = _VBS_REGISTERS[self.architecture]
        for i in range(count):
            (name,) = struct.unpack_from("<I", self._view, h.file_offset + 4 + 32 * i + 1)
            if name not in names:
                raise IgvmError(
                    where,
                    f"the VSM VP context's register {i} is {name:#x}, a register the igvm crate does not read "
                    "(UnsupportedRegister)",
                )
        return length

    # ---- views ---------------------------------------------------------------------------------
    @property
    def headers(self) -> Sequence[IgvmHeader]:
        """The headers in file order, as typed objects (a read-only sequence: the pages of runs the
        native core read are made into :class:`~snpmeasure.igvm.PageData` objects when asked for)."""
        return self._headers

    @property
    def platforms(self) -> List[SupportedPlatform]:
        """The SUPPORTED_PLATFORM headers."""
        return list(self._platforms)

    def platform(self, platform_type: int = PLATFORM_SEV_SNP) -> Optional[SupportedPlatform]:
        """The platform header of a type (default SEV-SNP), or None."""
        return next((p for p in self.platforms if p.platform_type == platform_type), None)

    def directives(self) -> Iterator[Tuple[int, IgvmHeader]]:
        """(header index, header) of every directive header, in file order."""
        for i, h in enumerate(self.headers):
            if _section_of(h.header_type) == 2:
                yield i, h

    def data_of(self, header: IgvmHeader) -> Optional[memoryview]:
        """The file data a header points at (4 KiB for PAGE_DATA and VP_CONTEXT, the area for a
        PARAMETER_AREA, the CoRIM blob), as a view of the file; None when it has none."""
        offset = getattr(header, "file_offset", 0)
        if not offset:
            return None
        if isinstance(header, VpContext):  # a VSM context's register list, else a page
            length = self._vp_lengths.get((offset, header.compatibility_mask), PAGE)
        else:
            length = _data_length(header)
        return self._view[offset : offset + length]

    @property
    def data(self) -> memoryview:
        """The whole file."""
        return self._view

    def __repr__(self) -> str:
        return f"IgvmFile({show(self.name)}, version {self.format_version}, {len(self.headers)} headers)"

    # ---- writing -------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The file written anew: version 1, headers in this order, file data laid out afresh
        (identical blobs once). Parsing the result gives equal headers but for file offsets."""
        builder = IgvmBuilder()
        for h in self.headers:
            builder.add(h, self.data_of(h))
        return builder.to_bytes()


#: The Hyper-V register names a VSM VP context may set, per architecture (0 x64, 1 AArch64): those
#: the igvm crate converts (igvm/src/registers.rs TryFrom<VbsVpContextRegister>; values from
#: igvm/src/hv_defs.rs HvX64RegisterName / HvArm64RegisterName). x64: RSP, RBP, RSI, R8-R12, RIP,
#: RFLAGS; CR0, CR3, CR4; ES, CS, SS, DS, FS, GS, TR; IDTR, GDTR; EFER, PAT; the MTRRs it names.
_VBS_REGISTERS = {
    0: frozenset(
        [0x20004, 0x20005, 0x20006, *range(0x20008, 0x2000D), 0x20010, 0x20011]
        + [0x40000, 0x40002, 0x40003, *range(0x60000, 0x60006), 0x60007, 0x70000, 0x70001, 0x80001, 0x80004]
        + [0x8000E, *range(0x80010, 0x80015), *range(0x80040, 0x80045)]
        + [0x80070, 0x80071, 0x80077, 0x80078, 0x80079, 0x8007A]
    ),
    # AArch64: X0-X7, PC, CPSR; SCTLR_EL1, TTBR0_EL1, TTBR1_EL1, TCR_EL1, MAIR_EL1, VBAR_EL1
    1: frozenset([*range(0x20000, 0x20008), 0x20022, 0x20023, 0x40002, 0x40005, 0x40006, 0x40007, 0x4000B, 0x4000C]),
}

#: The bytes of a NATIVE/SEV (IgvmNativeVpContextX64: 18 GPRs, IDTR/GDTR, code and data
#: segments, GS base, CR0/3/4, EFER) or CCA (IgvmVpContextAArch64Cca: x0-x7, pc, flags) VP
#: context, which the rest of its page must follow as zeros (igvm_defs).
_CONTEXT_BYTES = {PLATFORM_NATIVE: 232, PLATFORM_SEV: 232, PLATFORM_CCA: 80}


def _data_length(header: IgvmHeader) -> int:
    """How many bytes of file data a header with a file_offset points at: a PARAMETER_AREA's
    number_of_bytes, a CoRIM header's size_bytes, else one page (PAGE_DATA, VP_CONTEXT; a 2 MiB
    PAGE_DATA carries one page of data too, as the crate reads it)."""
    if isinstance(header, ParameterArea):
        return header.number_of_bytes
    if isinstance(header, CorimData):
        return header.size_bytes
    return PAGE


def _data_bytes(data: object) -> bytes:
    """A header's data from any bytes-like object (bytes, memoryview, mmap, array); an int is no data
    (``bytes(4096)`` would be a page of zeros)."""
    try:
        return bytes(memoryview(data).cast("B"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise IgvmError("data", f"must be bytes-like (bytes, memoryview, mmap), got {type(data).__name__}") from None


def _body(header: IgvmHeader) -> bytes:
    """A header's body, or an IgvmError when a field does not fit its width (a negative GPA, None)."""
    try:
        return header.to_body()
    except (struct.error, TypeError, ValueError, OverflowError) as exc:
        raise IgvmError("header", f"{header.type_name}: a field does not fit the header's layout ({exc})") from None


class IgvmBuilder:
    """Writes an IGVM file: headers in order (they must respect the section order), each with
    its data when it has any. File offsets in the headers given are ignored and set by the
    layout: the data follows the headers, every blob 4 KiB-aligned, identical blobs stored once."""

    def __init__(self) -> None:
        self._items: List[Tuple[IgvmHeader, Optional[bytes]]] = []

    def add(self, header: IgvmHeader, data: Optional[Union[bytes, bytearray, memoryview]] = None) -> IgvmBuilder:
        """Append a header (and the data it points at: a page for PAGE_DATA and VP_CONTEXT, the
        area's initial contents for a PARAMETER_AREA, the blob of a CoRIM header)."""
        require_type("header", header, IgvmHeader, error=IgvmError)
        raw = None if data is None else _data_bytes(data)
        if isinstance(header, VpContext) and raw is None:
            raise IgvmError("data", "a VP_CONTEXT carries its 4096-byte VMSA: give it")
        section = _section_of(header.header_type)
        if section is None:
            raise IgvmError("header", f"type {header.header_type:#x} is outside the three sections' ranges")
        if self._items and section < (_section_of(self._items[-1][0].header_type) or 0):
            last = _section_of(self._items[-1][0].header_type) or 0
            raise IgvmError(
                "header",
                f"{header.type_name} belongs to the {SECTIONS[section][0]} section, which comes before the "
                f"{SECTIONS[last][0]} section already written (platform, initialization, directive)",
            )
        if raw is not None:
            if not hasattr(header, "file_offset"):
                raise IgvmError("data", f"a {header.type_name} header carries no file data")
            want = _data_length(header)
            # a VSM platform's register list has its own length; the parser checks every context
            if len(raw) != want and not (isinstance(header, VpContext) and raw):
                raise IgvmError("data", f"a {header.type_name} carries {want} bytes of data, got {len(raw)}")
        self._items.append((header, raw))
        return self

    def to_bytes(self) -> bytes:
        """The file: fixed header (v1, CRC32 over the headers), variable headers, file data."""
        vh_off = _FIXED_V1.size
        bodies = []
        for h, _ in self._items:
            body = _body(h)
            bodies.append((h.header_type, len(body)))
        vh_size = sum(_align8(_TLV.size + n) for _, n in bodies)
        data_start = (vh_off + vh_size + PAGE - 1) // PAGE * PAGE
        blobs: Dict[bytes, int] = {}
        layout = bytearray()
        headers: List[IgvmHeader] = []
        for h, raw in self._items:
            if raw is not None:
                offset = blobs.get(raw)
                if offset is None:
                    offset = data_start + len(layout)
                    blobs[raw] = offset
                    layout += raw
                    layout += bytes(-len(layout) % PAGE)
                h = replace(h, file_offset=offset)  # type: ignore[call-arg]
            elif hasattr(h, "file_offset") and not isinstance(h, VpContext):
                h = replace(h, file_offset=0)  # type: ignore[call-arg]  # no data: zeros (or none)
            headers.append(h)
        out = bytearray(data_start)
        off = vh_off
        for h in headers:
            body = _body(h)
            _TLV.pack_into(out, off, h.header_type, len(body))
            out[off + _TLV.size : off + _TLV.size + len(body)] = body
            off += _align8(_TLV.size + len(body))
        if not layout:
            layout = bytearray(PAGE)  # the crate refuses a file whose file data is empty
        out += layout
        _FIXED_V1.pack_into(out, 0, MAGIC, 1, vh_off, vh_size, len(out), 0)
        crc = zlib.crc32(out[: vh_off + vh_size])
        struct.pack_into("<I", out, 20, crc)
        return bytes(out)


def is_igvm(path: Union[str, os.PathLike[str]]) -> bool:
    """Whether a file starts with the IGVM magic (for refusing one where firmware is expected)."""
    from ._files import read_input

    try:
        return read_input("path", path, 4) == struct.pack("<I", MAGIC)
    except InputFileError:
        return False


__all__ = [
    "IgvmFile",
    "IgvmBuilder",
    "IgvmHeader",
    "SupportedPlatform",
    "GuestPolicy",
    "RelocatableRegion",
    "PageTableRelocationRegion",
    "ParameterArea",
    "PageData",
    "ParameterInsert",
    "VpContext",
    "RequiredMemory",
    "Parameter",
    "SnpIdBlock",
    "ErrorRange",
    "CorimData",
    "RawHeader",
    "HEADER_NAMES",
    "is_igvm",
]
