"""snpmeasure._core: the C SHA-384/512 against NIST vectors and hashlib."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import _core

from .support import using_simd

pytestmark = [
    pytest.mark.core,
    pytest.mark.differential,
    pytest.mark.sanitize,
    pytest.mark.skipif(not _core.native_available(), reason="native core not built"),
]


ffi = _core._native.ffi if _core.native_available() else None


lib = _core._native.lib if _core.native_available() else None


# NIST CSRC "Example Algorithms" SHA-384 / SHA-512 (FIPS 180-4 appendix examples).
NIST_384 = [
    (b"abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
    (b"", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"),
    (
        b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039",
    ),
    (
        b"a" * 1_000_000,
        "9d0e1809716474cb086e834e310a4a1ced149e9c00f248527972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985",
    ),
]


NIST_512_ABC = (
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
)


def native_sha384(data: bytes) -> bytes:
    out = ffi.new("uint8_t[48]")
    assert lib.snp_sha384(data, len(data), out) == 0
    return bytes(out)


def native_sha512(data: bytes) -> bytes:
    out = ffi.new("uint8_t[64]")
    assert lib.snp_sha512(data, len(data), out) == 0
    return bytes(out)


def _page(kind: str, byte: int, pos: int, other: int, rnd: random.Random) -> bytes:
    if kind == "random":
        return rnd.randbytes(4096)
    page = bytearray([byte]) * 4096
    if kind == "near-fill" and other != byte:
        page[pos] = other  # one differing byte: must not be taken for a fill page
    return bytes(page)


#: Pages as firmware has them: random contents, pages of one repeated byte (erased flash 0xFF,
#: zero fill, any other value), and pages one byte away from that, the byte placed where the
#: fill-page test looks (the first 8 bytes, the 8-byte shift, the last byte) or anywhere.
fill_pages = st.builds(
    _page,
    st.sampled_from(["random", "fill", "near-fill"]),
    st.sampled_from([0x00, 0xFF]) | st.integers(0, 255),
    st.sampled_from([0, 1, 7, 8, 9, 4087, 4088, 4095]) | st.integers(0, 4095),
    st.integers(0, 255),
    st.integers(0, 2**32).map(random.Random),
)


@pytest.mark.parametrize("msg,expected", NIST_384, ids=["abc", "empty", "896bit", "million-a"])
def test_sha384_nist(msg: bytes, expected: str) -> None:
    assert native_sha384(msg).hex() == expected


def test_sha512_nist_abc() -> None:
    assert native_sha512(b"abc").hex() == NIST_512_ABC


@pytest.mark.parametrize("n", [0, 1, 110, 111, 112, 113, 119, 120, 127, 128, 129, 239, 240, 255, 256, 257, 4096])
def test_boundary_lengths(n: int) -> None:
    data = bytes((i * 7 + 3) & 0xFF for i in range(n))
    assert native_sha384(data) == hashlib.sha384(data).digest()
    assert native_sha512(data) == hashlib.sha512(data).digest()


@given(st.binary(min_size=0, max_size=20000))
def test_sha_matches_hashlib(data: bytes) -> None:
    assert native_sha384(data) == hashlib.sha384(data).digest()
    assert native_sha512(data) == hashlib.sha512(data).digest()


@given(
    st.integers(0, 40),
    st.integers(1, 4),
    st.sampled_from(["portable", "avx2", "avx512"]),
    st.integers(0, 2**32).map(random.Random),
)
def test_page_kernels_match_hashlib(npages: int, threads: int, kernel: str, rnd: random.Random) -> None:
    """Both content kernels, every lane/remainder combination, 1..4 threads."""
    if kernel not in _core.simd_info()["supported"]:  # type: ignore[operator]
        kernel = "portable"
    data = rnd.randbytes(4096 * npages)
    with using_simd(kernel):
        got = _core.sha384_pages(data, threads)
    want = b"".join(hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096))
    assert got == want


@given(st.lists(fill_pages, max_size=24), st.integers(1, 4), st.sampled_from(["portable", "avx2", "avx512"]))
def test_fill_pages_match_hashlib(pages: list, threads: int, kernel: str) -> None:
    """Fill pages take a cached hash; everything around them still goes through the lanes in order."""
    if kernel not in _core.simd_info()["supported"]:  # type: ignore[operator]
        kernel = "portable"
    data = b"".join(pages)
    with using_simd(kernel):
        got = _core.sha384_pages(data, threads)
    assert got == b"".join(hashlib.sha384(p).digest() for p in pages)


def test_large_region_kernels_agree() -> None:
    """A region large enough for several chunks on every thread: distinct pages, then runs of fill
    pages (0xFF, 0x00, 0x5A) of lengths that end inside, on and across chunk and lane boundaries."""
    rnd = random.Random(6)
    data = bytes(range(256)) * (16 * 1030)  # 1030 pages, every one distinct from a fill page
    for fill, run in ((0xFF, 500), (0x00, 3), (0x5A, 65), (0xFF, 1)):
        data += bytes([fill]) * 4096 * run + rnd.randbytes(4096 * rnd.randrange(1, 7))
    want = b"".join(hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096))
    for kernel in _core.simd_info()["supported"]:
        with using_simd(kernel):
            for threads in (1, 2, 3):
                assert _core.sha384_pages(data, threads) == want
