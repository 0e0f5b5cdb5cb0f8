"""build_ffi.py: the compiler probes for the AVX2 and AVX-512 kernels and their fallbacks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BUILD_FFI = Path(__file__).resolve().parent.parent / "build_ffi.py"
pytestmark = pytest.mark.skipif(not BUILD_FFI.exists(), reason="needs the source tree (build_ffi.py)")


def load_build_ffi() -> ModuleType:
    spec = importlib.util.spec_from_file_location("snpmeasure_build_ffi", BUILD_FFI)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_avx2_probe_falls_back_to_the_portable_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compiler that fails the AVX2 probe (here: one that fails everything) gets -DSNP_NO_AVX2;
    .ci/run builds and tests the core with that flag."""
    mod = load_build_ffi()
    monkeypatch.delenv("SNPMEASURE_REQUIRE_AVX2", raising=False)  # CI sets it for its own build
    monkeypatch.setattr(mod.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("CC", "false")
    assert mod.avx2_kernel_flags() == ["-DSNP_NO_AVX2"]
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert mod.avx2_kernel_flags() == ["-DSNP_NO_AVX2"]
    monkeypatch.setenv("SNPMEASURE_REQUIRE_AVX2", "1")
    with pytest.raises(SystemExit, match="cannot build the AVX2 kernel and SNPMEASURE_REQUIRE_AVX2=1"):
        mod.avx2_kernel_flags()
    monkeypatch.setattr(mod.platform, "machine", lambda: "aarch64")
    assert mod.avx2_kernel_flags() == []  # no x86 kernel to probe for


def test_avx2_probe_passes_with_this_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiler that built this checkout's core (gcc or clang on x86-64) passes the probe."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the AVX2 kernel exists on x86-64 only")
    mod = load_build_ffi()
    monkeypatch.delenv("SNPMEASURE_CFLAGS", raising=False)
    assert mod.avx2_kernel_flags() == []


def test_simd_info_says_what_was_built() -> None:
    from snpmeasure import _core

    info = _core.simd_info()
    if not _core.native_available():
        assert info["built"] == info["supported"] == []
        return
    assert "portable" in info["built"]  # type: ignore[operator]
    assert set(info["supported"]) <= set(info["built"])  # type: ignore[call-overload]
    assert info["active"] in info["supported"]  # type: ignore[operator]


def test_avx512_probe_falls_back_to_avx2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A compiler that fails the AVX-512 probe gets -DSNP_NO_AVX512 (and a line on stderr), or a
    build error with SNPMEASURE_REQUIRE_AVX512=1; one that fails AVX2 too needs no AVX-512 flag."""
    mod = load_build_ffi()
    monkeypatch.delenv("SNPMEASURE_REQUIRE_AVX512", raising=False)
    monkeypatch.delenv("SNPMEASURE_REQUIRE_AVX2", raising=False)
    monkeypatch.setattr(mod.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(mod, "_compiles", lambda source: source == mod.AVX2_PROBE)
    assert mod.kernel_flags() == ["-DSNP_NO_AVX512"]
    assert "cannot build the AVX-512 kernel; building the AVX2 and portable kernels only" in capsys.readouterr().err
    monkeypatch.setenv("SNPMEASURE_REQUIRE_AVX512", "1")
    with pytest.raises(SystemExit, match="cannot build the AVX-512 kernel and SNPMEASURE_REQUIRE_AVX512=1"):
        mod.kernel_flags()
    monkeypatch.delenv("SNPMEASURE_REQUIRE_AVX512")
    monkeypatch.setattr(mod, "_compiles", lambda source: False)
    assert mod.kernel_flags() == ["-DSNP_NO_AVX2"]  # sha512.h leaves AVX-512 out without AVX2


def test_avx512_probe_passes_with_this_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """gcc 12 and clang 14 on x86-64 build the AVX-512 kernel (no -march flag is needed)."""
    import platform

    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the AVX-512 kernel exists on x86-64 only")
    mod = load_build_ffi()
    monkeypatch.delenv("SNPMEASURE_CFLAGS", raising=False)
    assert mod.kernel_flags() == []


@pytest.mark.parametrize(
    "define, absent",
    [("SNP_NO_AVX512", ("avx512f", "avx512vl", "avx512bw")), ("SNP_NO_AVX2", ("avx2", "bmi2", "avx512f"))],
)
def test_a_fallback_build_asks_the_cpu_only_what_its_compiler_knows(define: str, absent: tuple) -> None:
    """A probe fails on a compiler whose __builtin_cpu_supports lacks the feature names too; the
    fallback build must then not name them anywhere (it failed to compile)."""
    import shlex
    import shutil
    import subprocess
    import sysconfig

    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if shutil.which(cc[0]) is None:
        pytest.skip(f"no C compiler ({cc[0]})")
    src = BUILD_FFI.parent / "csrc" / "launch_digest.c"
    out = subprocess.run(
        [*cc, "-E", f"-D{define}", f"-I{src.parent}", str(src)], capture_output=True, text=True, check=True
    ).stdout
    for name in absent:
        assert f'__builtin_cpu_supports("{name}")' not in out, name
