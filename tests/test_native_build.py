"""The native build: compilers that cannot build the AVX2 kernel still get a working core."""

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
    monkeypatch.setattr(mod.platform, "machine", lambda: "x86_64")
    monkeypatch.setenv("CC", "false")
    assert mod.avx2_kernel_flags() == ["-DSNP_NO_AVX2"]
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert mod.avx2_kernel_flags() == ["-DSNP_NO_AVX2"]
    monkeypatch.setattr(mod.platform, "machine", lambda: "aarch64")
    assert mod.avx2_kernel_flags() == []  # no x86 kernel to probe for
