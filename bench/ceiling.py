"""The op-count ceiling of the launch digest on *this* host: the CPU, its clock, and the best kernel.

A ceiling is a count of vector operations per page divided by the pipes that execute them, in
cycles, over the clock measured here with a dependent-add chain. The counts and pipe widths are
known for two (kernel, microarchitecture) pairs, derived in docs/reference/performance.md:

- AVX-512 2x8 on AMD Zen 5 (family 0x1A): per 8-lane block 2136 ALU ops on 4 full-width pipes,
  928 of them rotates/shifts/shuffles on 2 of those pipes: max(2136/4, 928/2) = 534 cycles; the
  pre-expanded padding block 322; so (32 * 534 + 322) / 8 = 2176 cycles per page per core. Chain:
  4 dependent ops a round (rorx, xor, xor, add) x 160 rounds + ~20 = 660 cycles per PAGE_INFO.
- AVX2 4-lane on AMD Zen 3 (family 0x19): 2.95 us per page per core and 0.36 us per PAGE_INFO at
  3.0 GHz: 8850 and 1080 cycles.

On any other CPU, or when the best kernel present is not the one a model is for, there is no
ceiling: the bench says so and prints no ratio against one. A ceiling from another CPU is never
applied silently.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

_CLOCK_C = r"""
#include <stdint.h>
/* 16 dependent register adds per iteration: the loop runs at one add per cycle. Not adds of an
 * immediate: Intel Golden Cove folds those at rename (12 G "adds"/s measured on a 2.4 GHz core). */
uint64_t snpbench_adds(uint64_t n)
{
    uint64_t x = 0, one = n | 1;
    for (uint64_t i = 0; i < n; i++)
        __asm__ volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                         "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
                         : "+r"(x) : "r"(one));
    return x;
}
"""


@dataclass(frozen=True)
class Model:
    """Cycles per page of content hashing on one core, and per PAGE_INFO of the serial chain."""

    name: str
    kernel: str
    content_cycles: float
    chain_cycles: float


#: (vendor, family) -> model; see the module docstring and docs/reference/performance.md.
MODELS: Dict[Tuple[str, int], Model] = {
    ("AuthenticAMD", 0x1A): Model(
        "AVX-512 2x8 op count on Zen 5 (4 vector pipes, 2 for rotates)", "avx512", 2176.0, 660.0
    ),
    ("AuthenticAMD", 0x19): Model(
        "AVX2 4-lane op count on Zen 3 (4 vector pipes, 2 for shifts)", "avx2", 8850.0, 1080.0
    ),
}


def cpu_identity() -> Tuple[str, int, int, str]:
    """(vendor, family, model, model name) from /proc/cpuinfo (family as CPUID reports it)."""
    vendor, family, model, name = "unknown", -1, -1, "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "vendor_id":
                    vendor = value
                elif key == "cpu family":
                    family = int(value)
                elif key == "model":
                    model = int(value)
                elif key == "model name":
                    name = value
                elif not key and vendor != "unknown":
                    break
    except OSError:
        pass
    return vendor, family, model, name


def measure_clock_ghz(rounds: int = 7) -> Optional[float]:
    """The clock as dependent adds per nanosecond (the median of ``rounds``), from a small C
    function compiled here with cffi; None when no compiler is available."""
    try:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef("uint64_t snpbench_adds(uint64_t n);")
        ffi.set_source("_snpbench_clock", _CLOCK_C)
        with tempfile.TemporaryDirectory() as tmp:
            lib_path = ffi.compile(tmpdir=tmp, verbose=False)
            import importlib.util

            spec = importlib.util.spec_from_file_location("_snpbench_clock", lib_path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
    except Exception:  # no compiler, or no x86-64 assembler: the bench prints no ceiling
        return None
    n = 2_000_000
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        mod.lib.snpbench_adds(n)
        rates.append(16 * n / (time.perf_counter() - t0) / 1e9)
    rates.sort()
    return rates[len(rates) // 2]


def host_ceiling(best_kernel: str) -> Dict[str, Any]:
    """What the bench knows about this host: CPU, measured clock, and the ceiling in microseconds
    (content per page per core, chain per PAGE_INFO) when a model covers this CPU and kernel,
    else ``model`` None and ``why`` saying what is missing."""
    vendor, family, model_no, name = cpu_identity()
    out: Dict[str, Any] = {
        "cpu": name,
        "vendor": vendor,
        "family": family,
        "model_number": model_no,
        "kernel": best_kernel,
        "clock_ghz": None,
        "model": None,
    }
    model = MODELS.get((vendor, family))
    if model is None:
        out["why"] = f"no op-count model for {vendor} family {family:#x} ({name})"
        return out
    if model.kernel != best_kernel:
        out["why"] = (
            f"the model for this CPU is for the {model.kernel} kernel, the best kernel present is {best_kernel}"
        )
        return out
    ghz = measure_clock_ghz()
    if ghz is None:
        out["why"] = "the clock could not be measured (no C compiler)"
        return out
    out.update(
        clock_ghz=ghz,
        model=model.name,
        content_us=model.content_cycles / ghz / 1e3,
        chain_us=model.chain_cycles / ghz / 1e3,
    )
    return out


if __name__ == "__main__":
    import json
    import sys

    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
    from snpmeasure import _core

    info = host_ceiling(str(_core.simd_info()["active"]))
    info["measured_clock_ghz"] = info["clock_ghz"] or measure_clock_ghz()
    print(json.dumps(info, indent=2))
