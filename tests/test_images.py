"""Firmware image parsing: real images, and every malformation rule."""

from __future__ import annotations

import random
import struct
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import images
from snpmeasure.errors import Error, ImageError
from snpmeasure.images import FirmwareImage, SectionType, SvsmImage

from .builders.ovmf import build_image, footer_table
from .support import FIXTURES

PEER = FIXTURES / "peer"


def test_amdsev_fixture() -> None:
    im = FirmwareImage.open(PEER / "ovmf_AmdSev_suffix.bin")
    assert im.gpa == 0xFFFFF000
    assert [s.type for s in im.sections] == [1, 1, 2, 3, 4, 0x10, 1]
    assert im.sev_es_reset_eip == 0x80B004
    assert im.sev_hash_table == (0x810C00, 0x400)
    assert im.section(SectionType.SNP_KERNEL_HASHES) is not None


def test_svsm_fixture_entry_point() -> None:
    ovmf = FirmwareImage.open(PEER / "svsm_ovmf.fd")
    svsm = SvsmImage(images.map_file(PEER / "svsm.bin"), name="svsm", end_gpa=ovmf.gpa - 540672)
    assert svsm.gpa == ovmf.gpa - 540672 - svsm.size
    assert svsm.svsm_entry_gpa == svsm.gpa  # launch offset 0 in this build


def test_synthetic_image_parses() -> None:
    im = FirmwareImage(build_image(hash_table=(0x810C00, 0x400)))
    assert len(im.sections) == 3 and im.sev_hash_table == (0x810C00, 0x400)
    assert im.require_sev_hash_table() == 0x810C00


def test_image_without_table_is_plain() -> None:
    im = FirmwareImage(bytes(8192))
    assert im.sections == [] and im.sev_es_reset_eip is None and im.sev_hash_table is None


def expect_error(data: bytes, *fragments: str) -> ImageError:
    with pytest.raises(ImageError) as exc:
        FirmwareImage(data, name="img")
    for f in fragments:
        assert f in str(exc.value), str(exc.value)
    return exc.value


def test_empty_and_unaligned() -> None:
    expect_error(b"", "empty")
    expect_error(bytes(5000), "multiple of 4096")


def test_too_big_for_4gib() -> None:
    with pytest.raises(ImageError, match="does not fit"):
        FirmwareImage(bytes(8192), end_gpa=4096)


def patch_footer_size(img: bytes, size: int) -> bytes:
    off = len(img) - 32 - 18
    return img[:off] + struct.pack("<H", size) + img[off + 2 :]


def test_footer_size_underflow() -> None:
    expect_error(patch_footer_size(build_image(), 5), "footer GUID table", "smaller than its 18-byte header")


def test_footer_size_overflow() -> None:
    # A 4 KiB image whose footer claims a table larger than the image.
    expect_error(patch_footer_size(build_image(size=0x1000), 0xFFFF), "reaches before the start")


def test_entry_size_too_small() -> None:
    img = bytearray(build_image())
    off = len(img) - 32 - 18 - 18  # header of the first entry
    img[off : off + 2] = struct.pack("<H", 3)
    expect_error(bytes(img), "GUID table entry", "smaller than its 18-byte header")


def test_entry_size_past_table() -> None:
    img = bytearray(build_image())
    off = len(img) - 32 - 18 - 18
    img[off : off + 2] = struct.pack("<H", 0x7FF0)
    expect_error(bytes(img), "runs past the start of the table")


def test_duplicate_guid() -> None:
    extra = [(images.SEV_ES_RESET_BLOCK_GUID, struct.pack("<I", 1))]
    expect_error(build_image(extra=extra), "appears twice")


def test_metadata_bad_signature_and_version() -> None:
    expect_error(build_image(signature=b"XSEV"), "SEV metadata at offset 0x100", "signature")
    expect_error(build_image(version=2), "version is 2")


def test_metadata_offset_outside() -> None:
    img = build_image(size=0x2000)
    bad = footer_table([(images.SEV_META_DATA_GUID, struct.pack("<I", 0x10000))])
    img = img[: len(img) - 32 - len(bad)] + bad + img[len(img) - 32 :]
    expect_error(img, "outside the image")


def test_metadata_length_and_count() -> None:
    img = bytearray(build_image())
    struct.pack_into("<I", img, 0x104, 8)  # length smaller than the header
    expect_error(bytes(img), "length 0x8")
    img = bytearray(build_image())
    struct.pack_into("<I", img, 0x10C, 50)  # 50 descriptors do not fit in the length
    expect_error(bytes(img), "do not fit")
    img = bytearray(build_image())
    struct.pack_into("<I", img, 0x10C, 1 << 30)
    expect_error(bytes(img), "limit")


def test_section_rules() -> None:
    expect_error(build_image(sections=[(0x800800, 0x1000, 1)]), "section 0 (SNP_SEC_MEM)", "4 KiB aligned")
    expect_error(build_image(sections=[(0x800000, 0x800, 1)]), "4 KiB aligned")
    expect_error(build_image(sections=[(0x800000, 0, 2)]), "non-empty")
    expect_error(build_image(sections=[(0xFFFFE000, 0x1000, 2)]), "overlaps the firmware image")
    expect_error(build_image(sections=[(0xFFFFF000, 0x2000, 1)]), "passes 4 GiB")
    expect_error(
        build_image(sections=[(0x800000, 0x3000, 1), (0x802000, 0x1000, 2)]), "section 1", "overlaps section 0"
    )


def test_unknown_section_type_warns() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        im = FirmwareImage(build_image(sections=[(0x800000, 0x1000, 9)]), name="img")
    assert im.sections[0].type_name == "UNKNOWN(0x9)"
    assert any("unknown section type 0x9" in str(w.message) for w in caught)


def test_short_entries() -> None:
    img = build_image(reset_eip=None, extra=[(images.SEV_ES_RESET_BLOCK_GUID, b"\x01")])
    im = FirmwareImage(img, name="img")
    with pytest.raises(ImageError, match="needs 4"):
        im.sev_es_reset_eip
    im = FirmwareImage(build_image(extra=[(images.SEV_HASH_TABLE_RV_GUID, b"\x00" * 4)]), name="img")
    with pytest.raises(ImageError, match="needs 8"):
        im.sev_hash_table


def test_hash_table_rules() -> None:
    with pytest.raises(ImageError, match="lacks"):
        FirmwareImage(build_image()).require_sev_hash_table()
    with pytest.raises(ImageError, match="invalid"):
        FirmwareImage(build_image(hash_table=(0, 0))).require_sev_hash_table()
    with pytest.raises(ImageError, match="invalid"):
        FirmwareImage(build_image(hash_table=(0x810000, 0x10))).require_sev_hash_table()


def test_svsm_without_info() -> None:
    with pytest.raises(ImageError, match="SVSM info"):
        SvsmImage(build_image()).svsm_entry_gpa


def _exercise(data: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = FirmwareImage(data, name="mutant")
            im.sev_es_reset_eip, im.sev_hash_table
            for s in im.sections:
                s.type_name
    except Error:
        pass


SEEDS = [
    (PEER / "ovmf_AmdSev_suffix.bin").read_bytes(),
    (PEER / "ovmf_OvmfX64_suffix.bin").read_bytes(),
    (PEER / "svsm.bin").read_bytes()[-8192:],
]


@given(
    seed=st.sampled_from(range(len(SEEDS))),
    flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 7)), max_size=8),
)
def test_bit_flips_in_the_table_area_only_raise_snpmeasure_errors(seed: int, flips: list) -> None:
    data = bytearray(SEEDS[seed])
    for pos, bit in flips:
        data[len(data) - 1 - pos] ^= 1 << bit  # the last 4 KiB: footer table, metadata
    _exercise(bytes(data))


@given(
    seed=st.sampled_from(range(len(SEEDS))),
    cut=st.integers(0, 8192),
    value=st.integers(0, 0xFFFF),
    where=st.integers(0, 400),
)
def test_truncation_and_size_fields(seed: int, cut: int, value: int, where: int) -> None:
    data = bytearray(SEEDS[seed])
    pos = len(data) - 32 - 18 - where
    data[pos : pos + 2] = struct.pack("<H", value)
    _exercise(bytes(data[: max(0, len(data) - cut)]))
    _exercise(bytes(data[cut:]))


def test_random_garbage_images() -> None:
    rnd = random.Random(1)
    for _ in range(200):
        _exercise(rnd.randbytes(4096 * rnd.randint(1, 3)))
