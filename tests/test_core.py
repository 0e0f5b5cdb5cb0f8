"""snpmeasure._core: LaunchDigest, native and pure-Python, against each other and known answers; argument rules, buffers, threads, the C entry points' checks."""

from __future__ import annotations

import hashlib
import mmap
import os
import random
import struct
from pathlib import Path
from typing import Any, List, Tuple, Type

import pytest
from hypothesis import given
from hypothesis import strategies as st

import snpmeasure
from snpmeasure import VMSA_GPA, PageType, _core, _reference
from snpmeasure.errors import Error, InvalidInputError
from snpmeasure.pages import LaunchDigestBase

from .support import BACKENDS, FIXTURES, using_simd

pytestmark = [pytest.mark.core, pytest.mark.differential, pytest.mark.sanitize]


OVMF_HASH = "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"


def hand_page_info(ld: bytes, contents: bytes, ptype: int, gpa: int) -> bytes:
    """PAGE_INFO written out field by field from ABI Table 67, independent of the library."""
    out = bytearray(0x70)
    out[0x00:0x30] = ld
    out[0x30:0x60] = contents
    out[0x60:0x62] = (0x70).to_bytes(2, "little")
    out[0x62] = ptype
    out[0x68:0x70] = gpa.to_bytes(8, "little")
    return bytes(out)


BAD_UPDATES: List[Tuple[str, dict]] = [
    ("page_type", dict(page_type=0, gpa=0, length=4096)),
    ("page_type", dict(page_type=7, gpa=0, length=4096)),
    ("gpa", dict(page_type=3, gpa=0x1001, length=4096)),
    ("gpa", dict(page_type=3, gpa=-4096, length=4096)),
    ("gpa", dict(page_type=3, gpa=1 << 64, length=4096)),
    ("gpa", dict(page_type=3, gpa=(1 << 64) - 4096, length=8192)),
    ("length", dict(page_type=3, gpa=0, length=100)),
    ("length", dict(page_type=3, gpa=0)),
    ("data", dict(page_type=1, gpa=0)),
    ("data", dict(page_type=2, gpa=0, length=4096)),
    ("data", dict(page_type=1, gpa=0, data=b"x" * 100)),
    ("data", dict(page_type=1, gpa=0, data="text")),
    ("length", dict(page_type=1, gpa=0, data=bytes(4096), length=8192)),
    ("imi", dict(page_type=3, gpa=0, length=4096, imi=2)),
    ("vmpl1_perms", dict(page_type=3, gpa=0, length=4096, vmpl1_perms=256)),
    ("vmpl2_perms", dict(page_type=3, gpa=0, length=4096, vmpl2_perms=-1)),
    ("vmpl3_perms", dict(page_type=3, gpa=0, length=4096, vmpl3_perms="1")),
]


op_strategy = st.tuples(
    st.sampled_from(list(PageType)),
    st.integers(0, (1 << 52) - 1).map(lambda g: g * 4096),
    st.integers(0, 512),
    st.booleans(),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
)


def test_backend_is_native_by_default() -> None:
    assert snpmeasure.backend in ("native", "python")
    assert snpmeasure.LaunchDigest is BACKENDS[snpmeasure.backend]


def test_zero_page_at_gpa_zero(digest_cls: Type[LaunchDigestBase]) -> None:
    page = bytes(4096)
    want = hashlib.sha384(hand_page_info(bytes(48), hashlib.sha384(page).digest(), 1, 0)).digest()
    d = digest_cls()
    d.update_normal(0, page)
    assert d.digest() == want
    assert d.hexdigest() == want.hex()


def test_ovmf_suffix_known_answer(digest_cls: Type[LaunchDigestBase]) -> None:
    data = (FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin").read_bytes()
    d = digest_cls()
    d.update_normal((1 << 32) - len(data), data)
    assert d.hexdigest() == OVMF_HASH


def test_every_page_type_by_hand(digest_cls: Type[LaunchDigestBase]) -> None:
    page = bytes(range(256)) * 16
    ld = bytes(48)
    d = digest_cls()
    for ptype in PageType:
        contents = hashlib.sha384(page).digest() if ptype.has_contents else bytes(48)
        ld = hashlib.sha384(hand_page_info(ld, contents, int(ptype), 0x2000)).digest()
        if ptype.has_contents:
            d.update(ptype, 0x2000, page)
        else:
            d.update(ptype, 0x2000, length=4096)
    assert d.digest() == ld


def test_page_info_fields_imi_and_vmpl_order() -> None:
    raw = _reference.page_info(bytes(48), bytes(48), 1, 0x1000, imi=1, v1=0x11, v2=0x22, v3=0x33)
    assert len(raw) == 0x70
    assert raw[0x60:0x68] == bytes([0x70, 0, 1, 1, 0x33, 0x22, 0x11, 0])
    assert raw[0x68:] == struct.pack("<Q", 0x1000)


def test_seed_bytes_and_hex(digest_cls: Type[LaunchDigestBase]) -> None:
    seed = bytes.fromhex(OVMF_HASH)
    a = digest_cls(seed=seed)
    b = digest_cls(seed=OVMF_HASH)
    c = digest_cls(seed="0x" + OVMF_HASH.upper())
    assert a.digest() == b.digest() == c.digest() == seed


@pytest.mark.parametrize("seed", [b"x" * 47, "00" * 49, "zz" * 48, 5])
def test_bad_seed(digest_cls: Type[LaunchDigestBase], seed: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        digest_cls(seed=seed)  # type: ignore[arg-type]
    assert "seed" in str(exc.value)


def test_copy_is_independent(digest_cls: Type[LaunchDigestBase]) -> None:
    d = digest_cls()
    d.update_zero(0, 4096)
    c = d.copy()
    assert type(c) is type(d)
    c.update_zero(0x1000, 4096)
    assert c.digest() != d.digest()
    d.update_zero(0x1000, 4096)
    assert c.digest() == d.digest()


def test_buffer_types_without_copy(digest_cls: Type[LaunchDigestBase], tmp_path: Path) -> None:
    data = bytes(range(256)) * 16 * 3
    path = tmp_path / "img"
    path.write_bytes(data)
    results = []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        for buf in (data, bytearray(data), memoryview(data), m, memoryview(bytearray(data)).cast("I")):
            d = digest_cls()
            d.update_normal(0x10000, buf)  # type: ignore[arg-type]
            results.append(d.digest())
    assert len(set(results)) == 1


def test_vmsa_repeat_equals_individual(digest_cls: Type[LaunchDigestBase]) -> None:
    page = bytes([7]) * 4096
    a = digest_cls()
    a.update_vmsa(page, count=5)
    b = digest_cls()
    for _ in range(5):
        b.update(PageType.VMSA, VMSA_GPA, page)
        # update() of a one-page region at VMSA_GPA is the same as one VMSA measurement
    assert a.digest() == b.digest()
    c = digest_cls()
    steps = c.update_vmsa_each(page, count=5)
    assert steps[-1] == a.digest() == c.digest() and len(set(steps)) == 5
    d = digest_cls()
    d.update_vmsa(page, count=2)
    assert d.digest() == steps[1]


@pytest.mark.parametrize("field,kwargs", BAD_UPDATES)
def test_invalid_update_raises_and_changes_nothing(
    digest_cls: Type[LaunchDigestBase], field: str, kwargs: dict
) -> None:
    d = digest_cls(seed=OVMF_HASH)
    with pytest.raises(InvalidInputError) as exc:
        d.update(**kwargs)
    assert exc.value.field == field
    assert str(exc.value).startswith(field + ":")
    assert isinstance(exc.value, (Error, ValueError))
    assert d.hexdigest() == OVMF_HASH


def test_wrap_boundary_last_page_allowed(digest_cls: Type[LaunchDigestBase]) -> None:
    d = digest_cls()
    d.update_zero((1 << 64) - 4096, 4096)
    assert d.digest() != bytes(48)


@pytest.mark.parametrize("threads", [0, 65, -1, 1.5, True])
def test_bad_threads(digest_cls: Type[LaunchDigestBase], threads: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        digest_cls(threads=threads)  # type: ignore[arg-type]
    assert exc.value.field == "threads"


def test_threads_env(monkeypatch: pytest.MonkeyPatch, digest_cls: Type[LaunchDigestBase]) -> None:
    monkeypatch.setenv("SNPMEASURE_THREADS", "1")
    assert digest_cls().threads == 1
    monkeypatch.setenv("SNPMEASURE_THREADS", "0")
    assert digest_cls().threads == 0  # all CPUs
    for bad in ("many", "65", "4294967296", "-1"):
        monkeypatch.setenv("SNPMEASURE_THREADS", bad)
        with pytest.raises(InvalidInputError, match="^SNPMEASURE_THREADS: "):
            digest_cls()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
@given(
    seed=st.binary(min_size=48, max_size=48),
    ops=st.lists(op_strategy, min_size=1, max_size=4),
    threads=st.sampled_from([1, 2, 4]),
    kernel=st.sampled_from(["portable", "avx2", "avx512"]),
    rnd=st.integers(0, 2**32).map(random.Random),
)
def test_native_equals_reference(seed: bytes, ops: list, threads: int, kernel: str, rnd: random.Random) -> None:
    if kernel not in _core.simd_info()["supported"]:  # type: ignore[operator]
        kernel = "portable"
    native = _core.NativeLaunchDigest(seed, threads=threads)
    ref = _reference.LaunchDigest(seed)
    with using_simd(kernel):
        for ptype, gpa, npages, imi, v1, v2, v3 in ops:
            gpa = min(gpa, (1 << 64) - 4096 * max(npages, 1))
            gpa -= gpa % 4096
            data = rnd.randbytes(4096 * npages) if ptype.has_contents else None
            kw = dict(imi=imi, vmpl1_perms=v1, vmpl2_perms=v2, vmpl3_perms=v3)
            native.update(ptype, gpa, data, None if data else 4096 * npages, **kw)
            ref.update(ptype, gpa, data, None if data else 4096 * npages, **kw)
    assert native.digest() == ref.digest()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
@pytest.mark.parametrize("kernel", _core.simd_info()["supported"] or ["portable"])  # type: ignore[arg-type]
def test_every_chain_entry_point_per_kernel(kernel: str) -> None:
    """The kernel setting also picks the chain (chain_generic or chain_avx2 in C): every path that
    runs it (regions on 1 and 2 threads, zero-content regions, fills, repeats with and without a
    trail of digests) against the reference, at GPAs whose byte swap matters."""
    rnd = random.Random(6)
    data, vmsa, fill = rnd.randbytes(4096 * 300), rnd.randbytes(4096), bytes([0xA5]) * 4096
    ref = _reference.LaunchDigest(OVMF_HASH)
    ref.update_normal(0xFFFF_F000_0010_0000, data)
    ref.update(PageType.ZERO, 0x1234_5678_9000, length=4096 * 70, imi=1, vmpl1_perms=1, vmpl2_perms=2, vmpl3_perms=3)
    ref.update_fill(PageType.NORMAL, 0x40_0000, fill, 37)
    ref.update_fill(PageType.CPUID, 0x80_0000, fill, 5)
    ref_trail = ref.update_vmsa_each(vmsa, count=9)
    ref.update_vmsa(vmsa, count=4)
    with using_simd(kernel):
        for threads in (1, 2):
            d = _core.NativeLaunchDigest(OVMF_HASH, threads=threads)
            d.update_normal(0xFFFF_F000_0010_0000, data)
            d.update(
                PageType.ZERO, 0x1234_5678_9000, length=4096 * 70, imi=1, vmpl1_perms=1, vmpl2_perms=2, vmpl3_perms=3
            )
            d.update_fill(PageType.NORMAL, 0x40_0000, fill, 37)
            d.update_fill(PageType.CPUID, 0x80_0000, fill, 5)
            assert d.update_vmsa_each(vmsa, count=9) == ref_trail
            d.update_vmsa(vmsa, count=4)
            assert d.digest() == ref.digest()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_threaded_update_leaves_the_callers_affinity_alone() -> None:
    """Workers start away from the caller's CPU (csrc start_workers) by their own affinity only."""
    before = os.sched_getaffinity(0)
    d = _core.NativeLaunchDigest(threads=4)
    d.update_normal(0, bytes(range(256)) * 16 * 400)
    assert os.sched_getaffinity(0) == before
    ref = _reference.LaunchDigest()
    ref.update_normal(0, bytes(range(256)) * 16 * 400)
    assert d.digest() == ref.digest()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
@given(
    npages=st.integers(1, 700),
    split=st.integers(0, 700),
    threads=st.sampled_from([1, 2, 3, 4]),
    rnd=st.integers(0, 2**32).map(random.Random),
)
def test_split_regions_and_threads_agree(npages: int, split: int, threads: int, rnd: random.Random) -> None:
    split = min(split, npages)
    data = rnd.randbytes(4096 * npages)
    whole = _core.NativeLaunchDigest(threads=threads)
    whole.update_normal(0x100000, data)
    parts = _core.NativeLaunchDigest(threads=1)
    parts.update_normal(0x100000, data[: 4096 * split])
    parts.update_normal(0x100000 + 4096 * split, data[4096 * split :])
    ref = _reference.LaunchDigest()
    ref.update_normal(0x100000, data)
    assert whole.digest() == parts.digest() == ref.digest()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
@pytest.mark.parametrize(
    "args,code",
    [
        ((1, 0, None, 100), "SNP_ERR_LENGTH"),
        ((1, 0x800, None, 4096), "SNP_ERR_GPA_ALIGN"),
        ((3, (1 << 64) - 4096, None, 8192), "SNP_ERR_GPA_WRAP"),
        ((0, 0, None, 4096), "SNP_ERR_PAGE_TYPE"),
        ((9, 0, None, 4096), "SNP_ERR_PAGE_TYPE"),
        ((1, 0, None, 4096), "SNP_ERR_NULL_DATA"),
        ((2, 0, None, 4096), "SNP_ERR_NULL_DATA"),
    ],
)
def test_c_rejects_bad_arguments(args: tuple, code: str) -> None:
    ffi, lib = _core._native.ffi, _core._native.lib
    seed = bytes(range(48))
    ld = ffi.new("uint8_t[48]", seed)
    ptype, gpa, data, length = args
    rc = lib.snp_ld_update(ld, ptype, gpa, ffi.NULL if data is None else data, length, 0, 0, 0, 0, 1)
    assert rc == getattr(lib, code)
    assert bytes(ld) == seed
    assert ffi.string(lib.snp_strerror(rc))


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_c_rejects_bad_imi_threads_and_null_digest() -> None:
    ffi, lib = _core._native.ffi, _core._native.lib
    ld = ffi.new("uint8_t[48]")
    assert lib.snp_ld_update(ld, 3, 0, ffi.NULL, 4096, 2, 0, 0, 0, 1) == lib.SNP_ERR_IMI
    assert lib.snp_ld_update(ld, 3, 0, ffi.NULL, 4096, 0, 0, 0, 0, -1) == lib.SNP_ERR_THREADS
    assert lib.snp_ld_update(ffi.NULL, 3, 0, ffi.NULL, 4096, 0, 0, 0, 0, 1) == lib.SNP_ERR_NULL_ARG
    assert lib.snp_ld_update_repeat(ld, 2, 0, ffi.NULL, 1, 0, 0, 0, 0, ffi.NULL) == lib.SNP_ERR_NULL_DATA
    assert bytes(ld) == bytes(48)
    assert _core.check_rc(0) is None
    with pytest.raises(InvalidInputError):
        _core.check_rc(lib.SNP_ERR_GPA_ALIGN)


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_each_c_check_has_its_own_code_and_message() -> None:
    """A direct cffi caller learns which rule broke: a repeat count over SNP_MAX_REPEAT, offsets
    outside an IGVM file and a region beyond the address space each have their code (they all
    used to say "length must be a multiple of 4096 bytes")."""
    ffi, lib = _core._native.ffi, _core._native.lib
    ld = ffi.new("uint8_t[48]")
    page = ffi.new("uint8_t[4096]")
    rc = lib.snp_ld_update_repeat(ld, 2, 0, page, lib.SNP_MAX_REPEAT + 1, 0, 0, 0, 0, ffi.NULL)
    assert rc == lib.SNP_ERR_REPEAT and b"SNP_MAX_REPEAT" in ffi.string(lib.snp_strerror(rc))
    with pytest.raises(InvalidInputError, match="^count: count must be at most SNP_MAX_REPEAT"):
        _core.check_rc(rc)
    regions, counts = ffi.new("uint64_t[5]"), ffi.new("uint64_t[3]")
    rc = lib.snp_igvm_page_run(page, 4096, 8, 4, 0, 1, regions, 1, counts)
    assert rc == lib.SNP_ERR_BOUNDS and b"within the file" in ffi.string(lib.snp_strerror(rc))
    if ffi.sizeof("size_t") == 8:  # a region larger than the address space: only as a length
        rc = lib.snp_hash_pages(page, 1 << 53, page, 1)
        assert rc == lib.SNP_ERR_TOO_LARGE and b"address space" in ffi.string(lib.snp_strerror(rc))
    codes = [getattr(lib, n) for n in dir(lib) if n.startswith("SNP_ERR_")]
    assert len(set(codes)) == len(codes)
    assert len({ffi.string(lib.snp_strerror(c)) for c in codes}) == len(codes)
    assert bytes(ld) == bytes(48)


@given(npages=st.integers(0, 40), ptype=st.sampled_from(list(PageType)), fill=st.integers(0, 255))
def test_update_fill_equals_a_full_buffer(npages: int, ptype: PageType, fill: int) -> None:
    page = bytes([fill]) * 4096
    for cls in BACKENDS.values():
        a = cls(seed=OVMF_HASH)
        a.update_fill(ptype, 0x200000, page, npages)
        b = cls(seed=OVMF_HASH)
        if ptype.has_contents:
            b.update(ptype, 0x200000, page * npages)
        else:
            b.update(ptype, 0x200000, length=4096 * npages)
        assert a.digest() == b.digest()


def test_update_fill_rules(digest_cls: Type[LaunchDigestBase]) -> None:
    d = digest_cls(seed=OVMF_HASH)
    for kwargs, field in (
        (dict(npages=-1), "npages"),
        (dict(page=bytes(100)), "page"),
        (dict(gpa=(1 << 64) - 4096, npages=2), "gpa"),
    ):
        args = dict(page_type=1, gpa=0, page=bytes(4096), npages=1)
        args.update(kwargs)
        with pytest.raises(InvalidInputError) as exc:
            d.update_fill(**args)  # type: ignore[arg-type]
        assert exc.value.field == field
    assert d.hexdigest() == OVMF_HASH


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_c_fill_checks() -> None:
    ffi, lib = _core._native.ffi, _core._native.lib
    ld = ffi.new("uint8_t[48]")
    assert lib.snp_ld_update_fill(ld, 1, 0, ffi.NULL, 1, 0, 0, 0, 0) == lib.SNP_ERR_NULL_DATA
    assert lib.snp_ld_update_fill(ld, 3, (1 << 64) - 4096, ffi.NULL, 2, 0, 0, 0, 0) == lib.SNP_ERR_GPA_WRAP
    assert lib.snp_ld_update_fill(ld, 3, 0, ffi.NULL, 1 << 60, 0, 0, 0, 0) == lib.SNP_ERR_GPA_WRAP
    assert bytes(ld) == bytes(48)
    old = lib.snp_min_pages_per_thread(0)
    assert lib.snp_min_pages_per_thread(7) == old and lib.snp_min_pages_per_thread(old) == 7


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_region_across_hashing_windows() -> None:
    """The core hashes at most 16384 pages per window (bounding its buffer): a region of two
    windows plus an odd remainder gives the same digest and page hashes on 1, 2 and 3 threads as
    the reference, and the chain carries across the window boundary."""
    rnd = random.Random(16384)
    data = rnd.randbytes(4096 * (2 * 16384 + 37))
    ref = _reference.LaunchDigest()
    ref.update_normal(0x7FFF000, data)
    hashes = b"".join(hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096))
    for threads in (1, 2, 3):
        native = _core.NativeLaunchDigest(threads=threads)
        native.update_normal(0x7FFF000, data)
        assert native.digest() == ref.digest(), threads
        assert _core.sha384_pages(data, threads) == hashes, threads


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
@pytest.mark.parametrize("npages", [1, 4, 5, 9, 13])
def test_a_region_handed_to_c_in_slices_has_the_same_digest(npages: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions of more than _SLICE_PAGES pages go to C in slices (so Ctrl-C can stop a 2**52-page
    ZERO region between calls); the digest equals the reference's for every kind of region."""
    monkeypatch.setattr(_core, "_SLICE_PAGES", 4)
    data = random.Random(npages).randbytes(4096 * npages)
    ours, ref = _core.NativeLaunchDigest(threads=2), _reference.LaunchDigest()
    for d in (ours, ref):
        d.update(PageType.ZERO, 0x1000, length=4096 * npages)
        d.update(PageType.NORMAL, 0x100000, data)
        d.update_fill(PageType.NORMAL, 0x900000, bytes(4096), npages)
        d.update(PageType.CPUID, 0x2000000, length=4096 * npages, imi=True)
    assert ours.digest() == ref.digest()


@pytest.mark.skipif("native" not in BACKENDS, reason="native core not built")
def test_an_interrupted_sliced_region_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between slices (KeyboardInterrupt raised by the interpreter after a C call) leaves
    the digest as it was: the slices extend a copy."""
    monkeypatch.setattr(_core, "_SLICE_PAGES", 2)
    d = _core.NativeLaunchDigest()
    d.update(PageType.ZERO, 0, length=4096)
    before, calls = d.digest(), []

    def extend(ld: Any, first: int, pages: int) -> int:
        calls.append((first, pages))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return int(
            _core._native.lib.snp_ld_update(
                ld, 3, 0x10000 + first * 4096, _core._native.ffi.NULL, pages * 4096, 0, 0, 0, 0, 1
            )
        )

    with pytest.raises(KeyboardInterrupt):
        d._sliced(7, extend)
    assert calls == [(0, 2), (2, 2), (4, 2)] and d.digest() == before
