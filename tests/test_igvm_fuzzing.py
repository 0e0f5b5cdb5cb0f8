"""snpmeasure.igvm against hostile files: mutations of real and synthetic files (lengths, offsets,
types, CRC, truncation) raise only snpmeasure.Error, quickly and in bounded memory; the CLI answers
with one line and exit 2."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure.igvm import IgvmFile
from snpmeasure.igvm_launch import IGVM_PROFILES, lint_igvm, measure_igvm, summarize_igvm

from .builders.hostile import mutate, only_errors, seeds
from .builders.igvm_files import TINY, area, build, insert, page, pd, vp
from .support import run_ours

pytestmark = [pytest.mark.sanitize]

REAL = TINY["tiny_x86"].read_bytes()
SYNTHETIC = build([area(0, 0x2000), pd(0x1000, page(1)), pd(0x2000), insert(0x9000, 0), vp()])


def _with_crc(data: bytes) -> bytes:
    """The file with its CRC recomputed, so that mutations reach past the checksum."""
    if len(data) < 24:
        return data
    out = bytearray(data)
    _, _, off, size, _, _ = struct.unpack_from("<6I", out, 0)
    if off + size > len(out):
        return data
    struct.pack_into(
        "<I", out, 20, zlib.crc32(bytes(out[:20]) + bytes(4) + bytes(out[24:off]) + bytes(out[off : off + size]))
    )
    return bytes(out)


def _everything(data: bytes) -> None:
    f = IgvmFile.from_bytes(data)
    summarize_igvm(f)
    lint_igvm(f)
    for model in IGVM_PROFILES:
        only_errors(lambda m=model: measure_igvm(f, profile=m))  # type: ignore[misc]
    f.to_bytes()


@settings(max_examples=150, deadline=2000)
@given(rnd=seeds, n=st.integers(1, 8), real=st.booleans(), crc=st.booleans())
def test_mutated_files_raise_only_errors(rnd: random.Random, n: int, real: bool, crc: bool) -> None:
    data = mutate(REAL if real else SYNTHETIC, rnd, n)
    only_errors(lambda: _everything(_with_crc(data) if crc else data))


@settings(max_examples=150, deadline=2000)
@given(
    field=st.sampled_from([8, 12, 16]),  # variable header offset, size, total size
    value=st.integers(0, 2**32 - 1),
    header=st.integers(0, 6),
    word=st.integers(0, 10),
    patch=st.integers(0, 2**32 - 1),
)
def test_lengths_offsets_and_types_are_bounded(field: int, value: int, header: int, word: int, patch: int) -> None:
    data = bytearray(SYNTHETIC)
    f = IgvmFile.from_bytes(SYNTHETIC)
    off = f.offsets[min(header, len(f.offsets) - 1)]
    struct.pack_into("<I", data, min(off + 4 * word, len(data) - 4), patch)  # type, length or a body word
    only_errors(lambda: _everything(_with_crc(bytes(data))))
    struct.pack_into("<I", data, field, value)
    only_errors(lambda: _everything(_with_crc(bytes(data))))


def test_a_huge_header_count_or_length_allocates_nothing() -> None:
    import tracemalloc

    data = bytearray(SYNTHETIC)
    struct.pack_into("<I", data, 12, 0xFFFFFFF0)  # variable header size far past the file
    tracemalloc.start()
    only_errors(lambda: IgvmFile.from_bytes(bytes(data)))
    f = IgvmFile.from_bytes(SYNTHETIC)
    data = bytearray(SYNTHETIC)
    struct.pack_into("<I", data, f.offsets[1] + 4, 0xFFFFFFF0)  # one header's length
    only_errors(lambda: IgvmFile.from_bytes(_with_crc(bytes(data))))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 << 20


@pytest.mark.parametrize("cut", [0, 3, 24, 100, len(REAL) // 2, len(REAL) - 1])
def test_cli_answers_hostile_files_with_one_line(tmp_path: Path, cut: int) -> None:
    bad = tmp_path / "bad.igvm"
    bad.write_bytes(REAL[:cut])
    for argv in (
        ["measure", "--mode", "snp:igvm", "--igvm", str(bad)],
        ["igvm", "show", str(bad)],
        ["igvmmeasure", str(bad), "measure"],
    ):
        rc, out, err = run_ours(argv)
        assert rc == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, (argv, err)
