"""snpmeasure.images: OVMF and SVSM images (footer table, SEV metadata, hash-table area) and firmware manifests."""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
from pathlib import Path
from typing import Any, Dict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import images, measure
from snpmeasure.errors import ImageError, InputFileError, InvalidInputError, ManifestError
from snpmeasure.images import FirmwareImage, FirmwareManifest, SectionType, SvsmImage

from .builders.images import SEEDS, _exercise
from .builders.manifests import GOOD, PEER, A, X
from .builders.ovmf import build_image, footer_table
from .support import debian_ovmf_images

IMAGES = [A, X] + [str(p) for p in debian_ovmf_images()]


def expect_error(data: bytes, *fragments: str) -> ImageError:
    with pytest.raises(ImageError) as exc:
        FirmwareImage(data, name="img")
    for f in fragments:
        assert f in str(exc.value), str(exc.value)
    return exc.value


def patch_footer_size(img: bytes, size: int) -> bytes:
    off = len(img) - 32 - 18
    return img[:off] + struct.pack("<H", size) + img[off + 2 :]


@pytest.mark.differential
@pytest.mark.sanitize
@pytest.mark.parametrize("image", IMAGES, ids=lambda p: Path(p).name)
def test_manifest_round_trip_and_measure_without_binary(image: str) -> None:
    man = FirmwareManifest.from_image(image)
    doc = json.loads(json.dumps(man.to_json()))
    back = FirmwareManifest.from_json(doc)
    assert back.to_json() == man.to_json() and back == man and not back != man
    assert man.ovmf_digest == measure(mode="snp:ovmf-hash", ovmf=image).digest
    assert man.sha256 == hashlib.sha256(Path(image).read_bytes()).hexdigest()
    for profile in ("qemu", "ec2", "gce"):
        kw: Dict[str, Any] = dict(mode="snp", vcpus=3, vcpu_type="EPYC-Genoa", profile=profile)
        # a generic build without SEV metadata: measured as a loader other than QEMU would
        kw.update(allow_no_sev_metadata=not man.sections)
        if man.kernel_hashes_supported:
            kw.update(kernel=__file__, append="console=ttyS0")
        assert measure(manifest=back, **kw).digest == measure(ovmf=image, **kw).digest


@pytest.mark.differential
@pytest.mark.sanitize
def test_manifest_not_json(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text("{")
    with pytest.raises(ManifestError, match="not valid JSON"):
        FirmwareManifest.load(p)
    with pytest.raises(Exception, match="needs the firmware binary"):
        measure(mode="sev", manifest=FirmwareManifest.from_json(GOOD))


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
    # measure() takes the placed image when the variable store's size agrees with its place
    kw: Dict[str, Any] = dict(mode="snp:svsm", ovmf=ovmf, svsm=svsm, vcpus=1, vcpu_type="EPYC-v4")
    by_path = measure(**{**kw, "svsm": PEER / "svsm.bin"}, vars_size=540672, describe_inputs=True)
    assert measure(**kw, vars_size=540672).digest == by_path.digest
    assert by_path.inputs["ovmf_vars"] == {"size": 540672}
    with pytest.raises(InvalidInputError, match=r"vars_size: puts the SVSM's end at .*\(a variable store of 540672"):
        measure(**kw, vars_size=4096)


def test_synthetic_image_parses() -> None:
    im = FirmwareImage(build_image(hash_table=(0x810C00, 0x400)))
    assert len(im.sections) == 3 and im.sev_hash_table == (0x810C00, 0x400)
    assert im.require_sev_hash_table() == 0x810C00


def test_image_without_table_is_plain() -> None:
    im = FirmwareImage(bytes(8192))
    assert im.sections == [] and im.sev_es_reset_eip is None and im.sev_hash_table is None


def test_empty_and_unaligned() -> None:
    expect_error(b"", "empty")
    expect_error(bytes(5000), "multiple of 4096")


def test_too_big_for_4gib() -> None:
    with pytest.raises(ImageError, match="does not fit"):
        FirmwareImage(bytes(8192), end_gpa=4096)


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


@given(
    seed=st.sampled_from(range(len(SEEDS))),
    flips=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 7)), max_size=8),
)
def test_bit_flips_in_the_table_area_only_raise_snpmeasure_errors(seed: int, flips: list) -> None:
    data = bytearray(SEEDS[seed])
    for pos, bit in flips:
        data[len(data) - 1 - pos] ^= 1 << bit  # the last 4 KiB: footer table, metadata
    _exercise(bytes(data))


def test_an_endless_stream_is_refused_not_read_into_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A device is refused unread (/dev/zero never ends); a pipe is read, but at most
    STREAM_LIMIT bytes: a longer stream ends in an error naming the flag, and a short one reads."""
    import os
    import threading

    monkeypatch.setattr(images, "STREAM_LIMIT", 1 << 20)
    with pytest.raises(InputFileError, match=r"^ovmf: /dev/zero: is a device or socket, not a regular file"):
        FirmwareImage.open("/dev/zero", field="ovmf")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = (PEER / "svsm_ovmf.fd").read_bytes()

    def write_too_much() -> None:
        try:
            fifo.write_bytes(data * 2)  # 2 x 3.5 MiB
        except BrokenPipeError:  # the reader stopped at the limit, as it should
            pass

    # daemon threads, joined with a timeout: a reader that never opened the FIFO must not hang the run
    writer = threading.Thread(target=write_too_much, daemon=True)
    writer.start()
    with pytest.raises(InputFileError, match=r"^ovmf: .*fifo: more than 1 MiB from a stream"):
        FirmwareImage.open(fifo, field="ovmf")
    writer.join(timeout=30)
    writer = threading.Thread(target=lambda: fifo.write_bytes(data[: 1 << 19]), daemon=True)
    writer.start()
    assert bytes(images.map_file(fifo, "ovmf")) == data[: 1 << 19]
    writer.join(timeout=30)
    assert not writer.is_alive()
