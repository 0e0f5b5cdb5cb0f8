"""snpmeasure._core: the SIMD content kernels (portable, AVX2, AVX-512) against hashlib and each other, and how one is chosen."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from snpmeasure import _core, _reference
from snpmeasure.pages import PageType

from .support import using_simd

pytestmark = [
    pytest.mark.core,
    pytest.mark.sanitize,
    pytest.mark.skipif(not _core.native_available(), reason="native core not built"),
]


KERNELS = ["portable", "avx2", "avx512"]


NEEDS = {"portable": [], "avx2": ["avx2"], "avx512": ["avx512f", "avx512vl", "avx512bw"]}


def _require(kernel: str) -> None:
    info = _core.simd_info()
    if kernel in info["supported"]:  # type: ignore[operator]
        return
    missing = [f for f in NEEDS[kernel] if f not in info["cpu_features"]]  # type: ignore[operator]
    why = f"this CPU lacks {', '.join(missing)}" if missing else "this build has no such kernel"
    required = {"avx512": "SNPMEASURE_REQUIRE_AVX512", "avx2": "SNPMEASURE_REQUIRE_AVX2"}.get(kernel)
    if required and os.environ.get(required) == "1":
        pytest.fail(f"{required}=1 but the {kernel} kernel cannot run: {why}")
    pytest.skip(f"the {kernel} kernel cannot run here: {why}")


def _pages(n: int, rnd: random.Random) -> bytes:
    """n pages, about one in four a fill page (0x00, 0xFF or another byte) between random ones."""
    out = []
    for _ in range(n):
        r = rnd.random()
        out.append(bytes([rnd.choice([0, 0xFF, 0x5A])]) * 4096 if r < 0.25 else rnd.randbytes(4096))
    return b"".join(out)


def _hashlib_pages(data: bytes) -> bytes:
    return b"".join(hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096))


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_equals_hashlib_on_every_tail(kernel: str) -> None:
    _require(kernel)
    rnd = random.Random(19)
    with using_simd(kernel):
        assert _core.simd_info()["active"] == kernel
        for n in list(range(1, 34)) + [47, 63, 100, 257]:
            for fills in (False, True):
                data = _pages(n, rnd) if fills else rnd.randbytes(4096 * n)
                want = _hashlib_pages(data)
                for threads in (1, 2):
                    assert _core.sha384_pages(data, threads) == want, (kernel, n, fills, threads)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_lanes_are_independent(kernel: str) -> None:
    """Pages that differ in one bit, all-zero and all-0xFF-but-one-byte pages, in every lane
    position of a batch: a lane mixed up with another or a wrong byte order shows."""
    _require(kernel)
    base = bytes(random.Random(7).randbytes(4096))
    pages = []
    for i in range(40):
        p = bytearray(base if i % 3 else bytes([0xFF]) * 4096)
        p[(i * 997) % 4096] ^= 1 << (i % 8)
        pages.append(bytes(p))
    data = b"".join(pages)
    with using_simd(kernel):
        assert _core.sha384_pages(data, 1) == _hashlib_pages(data)


def test_digests_are_equal_across_kernels() -> None:
    """The same regions (with tails, fills, 1 and 2 threads) give one launch digest per kernel."""
    rnd = random.Random(5)
    data = _pages(16 * 37 + 11, rnd)
    digests = {}
    for kernel in _core.simd_info()["supported"]:  # type: ignore[attr-defined]
        with using_simd(kernel):
            for threads in (1, 2):
                d = _core.NativeLaunchDigest(threads=threads)
                d.update_normal(0x10_0000, data)
                d.update(PageType.ZERO, 0xFFFF_F000, length=4096 * 3)
                d.update_vmsa(data[:4096], count=5)
                digests[(kernel, threads)] = d.digest()
    ref = _reference.LaunchDigest()
    ref.update_normal(0x10_0000, data)
    ref.update(PageType.ZERO, 0xFFFF_F000, length=4096 * 3)
    ref.update_vmsa(data[:4096], count=5)
    assert set(digests.values()) == {ref.digest()}, digests


@pytest.mark.parametrize("kernel", KERNELS)
def test_chain_follows_the_kernel(kernel: str) -> None:
    """Each kernel runs its own chain (avx512: the AVX-512VL schedule), and that chain equals the
    reference over many steps, GPAs whose byte swap matters and a trail of digests."""
    _require(kernel)
    with using_simd(kernel):
        info = _core.simd_info()
        if "bmi2" in info["cpu_features"]:  # type: ignore[operator]
            assert info["chain"] == kernel
        d = _core.NativeLaunchDigest(threads=1)
        d.update(PageType.ZERO, 0xFEDC_BA98_7654_3000, length=4096 * 1000, imi=1, vmpl1_perms=7)
        trail = d.update_vmsa_each(bytes(range(256)) * 16, count=33)
    ref = _reference.LaunchDigest()
    ref.update(PageType.ZERO, 0xFEDC_BA98_7654_3000, length=4096 * 1000, imi=1, vmpl1_perms=7)
    assert trail == ref.update_vmsa_each(bytes(range(256)) * 16, count=33)
    assert d.digest() == ref.digest()


def test_forcing_a_kernel_the_cpu_lacks_is_refused() -> None:
    info = _core.simd_info()
    for kernel in KERNELS:
        if kernel not in info["supported"]:  # type: ignore[operator]
            with pytest.raises(_core.InvalidInputError, match=f"simd: {kernel}: this"):
                _core.set_simd(kernel)
    with pytest.raises(_core.InvalidInputError, match="must be 'avx512', 'avx2' or 'portable'"):
        _core.set_simd("sse")
    assert _core.simd_info()["active"] == info["active"]


def test_the_best_kernel_is_active_by_default() -> None:
    info = _core.simd_info()
    if os.environ.get("SNPMEASURE_SIMD", "") not in ("", "auto", "on"):
        pytest.skip("SNPMEASURE_SIMD forces a kernel in this run")
    assert info["active"] == info["supported"][-1]  # type: ignore[index]
    if os.environ.get("SNPMEASURE_REQUIRE_AVX512") == "1":
        assert info["active"] == "avx512", info


@pytest.mark.parametrize("setting", ["avx512", "avx2", "portable", "off"])
def test_snpmeasure_simd_forces_a_kernel(setting: str) -> None:
    import subprocess
    import sys

    kernel = "portable" if setting == "off" else setting
    env = dict(os.environ, SNPMEASURE_SIMD=setting)
    env.pop("SNPMEASURE_REQUIRE_AVX512", None)
    code = "from snpmeasure import _core; print(_core.simd_info()['active'])"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if kernel in _core.simd_info()["supported"]:  # type: ignore[operator]
        assert run.returncode == 0 and run.stdout.strip() == kernel, run.stderr
    else:
        assert run.returncode != 0 and f"SNPMEASURE_SIMD={kernel}: this" in run.stderr
