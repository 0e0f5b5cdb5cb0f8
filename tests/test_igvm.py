"""snpmeasure.igvm: the parser's rules and the writer's round trips."""

from __future__ import annotations

import struct
import zlib
from typing import Callable

import pytest

from snpmeasure import IgvmError, IgvmFile
from snpmeasure.igvm import (
    HEADER_NAMES,
    IgvmBuilder,
    PageData,
    Parameter,
    ParameterArea,
    RawHeader,
    SnpIdBlock,
    SupportedPlatform,
    VpContext,
    is_igvm,
)
from snpmeasure.igvm_launch import measure_igvm

from .builders.igvm_files import SNP, TINY, area, build, known_digest, page, pd, vp


def _recrc(data: bytearray) -> bytes:
    _, _, off, size, _, _ = struct.unpack_from("<6I", data, 0)
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[:20]) + bytes(4) + bytes(data[off : off + size])))
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TINY))
def test_fixtures_parse_and_round_trip_through_the_writer(name: str) -> None:
    f = IgvmFile.load(TINY[name])
    assert f.format_version == 1 and f.platform() is not None and is_igvm(TINY[name])
    kinds = [h.type_name for h in f.headers]
    assert kinds[:2] == ["SUPPORTED_PLATFORM", "GUEST_POLICY"] and kinds[-1] == "SNP_ID_BLOCK"
    # directives: the headers of the directive section (types 0x301-0x400), with their indices
    directives = list(f.directives())
    assert directives == [(i, h) for i, h in enumerate(f.headers) if 0x301 <= h.header_type <= 0x400]
    assert directives[0][0] == 2 and directives[-1][1].type_name == "SNP_ID_BLOCK"
    written = f.to_bytes()
    back = IgvmFile.from_bytes(written)
    strip = [_no_offset(h) for h in f.headers]
    assert [_no_offset(h) for h in back.headers] == strip
    assert [bytes(back.data_of(h) or b"") for h in back.headers] == [bytes(f.data_of(h) or b"") for h in f.headers]
    assert measure_igvm(written).hex() == known_digest(name)
    assert back.to_bytes() == written  # the writer is deterministic


def _no_offset(h: object) -> object:
    from dataclasses import replace

    return replace(h, file_offset=0) if hasattr(h, "file_offset") else h  # type: ignore[type-var]


def test_every_header_type_round_trips() -> None:
    from snpmeasure.igvm import (
        VHT_CORIM_DOCUMENT,
        VHT_MEMORY_MAP,
        CorimData,
        ErrorRange,
        GuestPolicy,
        PageTableRelocationRegion,
        ParameterInsert,
        RelocatableRegion,
        RequiredMemory,
    )

    b = IgvmBuilder()
    headers = [
        SupportedPlatform(SNP, 2, 2, 1, 0),
        GuestPolicy(0x30000, SNP),
        RelocatableRegion(SNP, 0, 0, 1, 0x1000, 0x100000, 0x10000, 0, 0x10000000),
        PageTableRelocationRegion(SNP, 0, 0, 0, 0x200000, 0x10000, 0x1000),
        CorimData(VHT_CORIM_DOCUMENT, SNP, 0, 5),
        RawHeader(0x106, b"cca policy"),
        ParameterArea(0x1000, 0, 0),
        Parameter(VHT_MEMORY_MAP, 0, 0),
        ParameterInsert(0x5000, SNP, 0),
        PageData(0x1000, SNP, 0, 0, 0, 0),
        VpContext(0x803000, SNP, 0, 0),
        RequiredMemory(0x100000, SNP, 0x2000),
        ErrorRange(0x9000, SNP, 0x1000),
    ]
    for h in headers:
        data = b"corim" if isinstance(h, CorimData) else page(1) if isinstance(h, VpContext) else None
        b.add(h, data)
    f = IgvmFile.from_bytes(b.to_bytes())
    assert [_no_offset(h) for h in f.headers] == [_no_offset(h) for h in headers]
    assert bytes(f.data_of(f.headers[4]) or b"") == b"corim"
    assert all(h.type_name == HEADER_NAMES.get(h.header_type, f"{h.header_type:#x}") for h in f.headers)
    # the names themselves (the line above holds by type_name's definition)
    assert [h.type_name for h in f.headers] == [
        "SUPPORTED_PLATFORM",
        "GUEST_POLICY",
        "RELOCATABLE_REGION",
        "PAGE_TABLE_RELOCATION_REGION",
        "CORIM_DOCUMENT",
        "CCA_POLICY",
        "PARAMETER_AREA",
        "MEMORY_MAP",
        "PARAMETER_INSERT",
        "PAGE_DATA",
        "VP_CONTEXT",
        "REQUIRED_MEMORY",
        "ERROR_RANGE",
    ]
    assert f.headers[5].to_json() == {"type": "CCA_POLICY", "body": b"cca policy".hex()}


def test_identical_blobs_are_written_once() -> None:
    data = build([pd(0x1000, page(5)), pd(0x2000, page(5)), pd(0x3000, page(6)), vp()])
    f = IgvmFile.from_bytes(data)
    offsets = [h.file_offset for h in f.headers if isinstance(h, PageData)]
    assert offsets[0] == offsets[1] != offsets[2]


def _fixed(data: bytes) -> bytearray:
    return bytearray(data)


SMALL = build([pd(0x1000, page(1)), vp()])


@pytest.mark.parametrize(
    "mutate,fragment",
    [
        (lambda d: d[:20], "shorter than the 24-byte fixed header"),
        (lambda d: b"IGVX" + d[4:], "magic is 0x58564749"),
        (lambda d: d[:4] + struct.pack("<I", 3) + d[8:], "format_version is 3"),
        (lambda d: d + b"\0", "total_file_size is"),
        (lambda d: d[:-4096], "total_file_size is"),
        (lambda d: d[:20] + struct.pack("<I", 0xDEADBEEF) + d[24:], "checksum is 0xdeadbeef, but the CRC32"),
        (lambda d: d[:12] + struct.pack("<I", 0xFFFFFF) + d[16:], "run past the end of the file"),
        (lambda d: d[:8] + struct.pack("<I", 12) + d[12:], "must be 8-aligned"),
    ],
)
def test_fixed_header_malformations_are_named(mutate: Callable[[bytes], bytes], fragment: str) -> None:
    with pytest.raises(IgvmError, match=fragment) as exc:
        IgvmFile.from_bytes(mutate(SMALL), name="f.igvm")
    assert exc.value.field.startswith("f.igvm: fixed header at file offset 0x")


def _header_at(data: bytes, index: int) -> int:
    f = IgvmFile.from_bytes(data)
    return f.offsets[index]


@pytest.mark.parametrize(
    "index,patch,fragment",
    [
        (0, lambda b: struct.pack("<I", 3), "compatibility_mask 0x3 must have exactly one bit set"),
        (0, lambda b: b[:5] + bytes([9]), "platform_type 9 is not defined"),
        (2, lambda b: b[:12] + struct.pack("<I", 1), "outside the file data"),
        (2, lambda b: b[:20] + struct.pack("<H", 4), "data_type 4 is not defined"),
        (2, lambda b: b[:22] + struct.pack("<H", 1), "reserved is 0x1, must be 0"),
        (2, lambda b: struct.pack("<Q", 0x1001), "gpa 0x1001 is not 0x1000-aligned"),
        (3, lambda b: b[:12] + struct.pack("<I", 0), "file_offset is 0: a VP context needs its data"),
    ],
)
def test_header_malformations_name_index_type_and_offset(
    index: int, patch: Callable[[bytes], bytes], fragment: str
) -> None:
    data = bytearray(SMALL)
    off = _header_at(SMALL, index)
    (length,) = struct.unpack_from("<I", data, off + 4)
    body = bytes(data[off + 8 : off + 8 + length])
    new = patch(body)
    data[off + 8 : off + 8 + len(new)] = new
    name = IgvmFile.from_bytes(SMALL).headers[index].type_name
    with pytest.raises(IgvmError, match=fragment) as exc:
        IgvmFile.from_bytes(_recrc(data), name="f.igvm")
    assert (
        exc.value.field.startswith(f"f.igvm: header {index} ({name}, 0x")
        and f"at file offset {off:#x}" in exc.value.field
    )


def _retype(data: bytes, index: int, kind: int) -> bytes:
    """The file with one header's type changed (and the CRC recomputed)."""
    out = bytearray(data)
    struct.pack_into("<I", out, IgvmFile.from_bytes(data).offsets[index], kind)
    return _recrc(out)


def test_sections_in_order_and_types_in_range() -> None:
    with pytest.raises(IgvmError, match=r"header 3 \(type 0x107.*initialization header after a directive header"):
        IgvmFile.from_bytes(_retype(SMALL, 3, 0x107))  # an initialization header after a directive
    with pytest.raises(IgvmError, match=r"outside the platform .* \(the 'optional' bit 31 is not honoured\)"):
        IgvmFile.from_bytes(_retype(SMALL, 2, 0x80000302))
    b = IgvmBuilder()
    b.add(SupportedPlatform(SNP, 0, 2, 1, 0))
    b.add(ParameterArea(0x1000, 0, 0))
    with pytest.raises(IgvmError, match="belongs to the initialization section, which comes before the directive"):
        b.add(RawHeader(0x107, b""))


def test_parameter_directives_need_their_area() -> None:
    from snpmeasure.igvm import VHT_VP_COUNT_PARAMETER

    b = IgvmBuilder()
    b.add(SupportedPlatform(SNP, 0, 2, 1, 0))
    b.add(Parameter(VHT_VP_COUNT_PARAMETER, 3, 0))
    with pytest.raises(IgvmError, match="parameter area 3 is not declared before it"):
        IgvmFile.from_bytes(b.to_bytes())
    with pytest.raises(IgvmError, match="declared twice"):
        IgvmFile.from_bytes(build([area(0, 0x1000), area(0, 0x1000)]))


def test_version_2_headers_are_read() -> None:
    v1 = bytearray(SMALL)
    _, _, off, size, total, _ = struct.unpack_from("<6I", v1, 0)
    # a v2 fixed header is 32 bytes: shift everything by 8 and fix the offsets
    f = IgvmFile.from_bytes(SMALL)
    assert f.format_version == 1 and f.architecture == 0 and f.page_size == 4096
    body = v1[off:]
    head = struct.pack("<8I", 0x4D564749, 2, 32, size, 32 + len(body), 0, 0, 4096)
    data = bytearray(head + body)
    # file offsets inside the headers are absolute: move them by the 8 bytes added
    g = IgvmFile.from_bytes(SMALL)
    for i, h in enumerate(g.headers):
        if getattr(h, "file_offset", 0):
            at = 32 + (g.offsets[i] - off) + 8 + 12
            (fo,) = struct.unpack_from("<I", data, at)
            struct.pack_into("<I", data, at, fo - off + 32)
    crc = zlib.crc32(bytes(data[:20]) + bytes(4) + bytes(data[24:32]) + bytes(data[32 : 32 + size]))
    struct.pack_into("<I", data, 20, crc)
    v2 = IgvmFile.from_bytes(bytes(data))
    assert v2.format_version == 2 and len(v2.headers) == len(f.headers)
    assert measure_igvm(bytes(data)).digest == measure_igvm(SMALL).digest
    struct.pack_into("<I", data, 28, 8192)
    with pytest.raises(IgvmError, match="page_size is 8192"):
        IgvmFile.from_bytes(bytes(data))


def test_id_block_header_layout() -> None:
    assert SnpIdBlock.LAYOUT.size == 696
    assert IgvmFile.load(TINY["tiny_x86"]).headers[-1].to_json()["ld"] == known_digest("tiny_x86")


def test_an_igvm_file_given_as_firmware_is_refused() -> None:
    import snpmeasure

    with pytest.raises(snpmeasure.ImageError, match=r"is an IGVM file \(magic 'IGVM'\).*--mode snp:igvm"):
        snpmeasure.measure(mode="snp", ovmf=str(TINY["tiny_x86"]), vcpus=1, vcpu_type="EPYC")


def test_the_igvm_crates_other_rules() -> None:
    """What the igvm crate (so igvmmeasure and QEMU) refuses is refused; what it takes is taken."""
    from snpmeasure.igvm import VHT_VP_COUNT_PARAMETER, ErrorRange, RequiredMemory

    from .builders.igvm_files import insert

    def refused(directives: list, rule: str, **kw: object) -> None:
        with pytest.raises(IgvmError, match=rule):
            IgvmFile.from_bytes(build(directives, **kw))

    refused(
        [vp()],
        "a second SEV_SNP platform",
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 2, 1, 0)],
    )
    refused(
        [area(0, 0x1000), insert(0x9000, 0), (Parameter(VHT_VP_COUNT_PARAMETER, 0, 0), None), vp()], "already inserted"
    )
    refused([(RequiredMemory(0x1000, SNP, 1), None), vp()], "number_of_bytes 0x1 is not a multiple of 4096")
    refused([(RequiredMemory(0x1000, SNP, 0x1000, 0, 1), None), vp()], "reserved is 0x1, must be 0")
    refused([(ErrorRange(0x10001, SNP, 0x1000), None), vp()], "gpa 0x10001 is not 0x1000-aligned")
    # reserved PAGE_DATA flag bits: the crate and QEMU ignore them, and so does every model
    flagged = build([pd(0x1000, page(0xA), flags=8), vp()])
    assert measure_igvm(flagged).digest == measure_igvm(build([pd(0x1000, page(0xA)), vp()])).digest
