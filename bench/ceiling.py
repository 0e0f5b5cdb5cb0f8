"""The op-count ceiling of the launch digest on *this* host: its vector pipes, its clock, the best kernel.

A ceiling is the time the best kernel's operations would take if nothing but the pipes that execute
them limited it (no loads, spills or branches; no dependencies but the chain's). The bench derives it here, on
any x86-64 host, in two parts:

- **Content hashing.** The kernel's vector instructions per eighth of a 128-byte block are counted
  from its source (MIXES below; docs/reference/performance.md shows the counting). A loop of
  exactly that instruction mix, spread over 12 independent register chains so that latency never
  binds, is timed on this core: that is the op-count bound of one eighth of a block, with this CPU's
  own pipes, port assignment and vector clock (Intel's AVX-512 frequency licence included). Per
  page: (32 message blocks + 1 padding block) x 8 eighths / lanes.
- **The serial chain.** The longer of its latency floor, 4 dependent 1-cycle scalar ops per round
  (rorx, xor, xor, add) x 160 rounds + ~20 = 660 cycles per PAGE_INFO, and its op count: the
  chain's scalar rounds and its vector schedule, measured as a mix the same way (on Intel cores
  scalar and vector instructions share issue ports, so the op count can be the longer).
  Cycles are of the clock measured with a chain of dependent register adds.

For the two (CPU, kernel) pairs the reference analysed, their table models are printed beside the
measured bound as a cross-check (MODELS): AVX-512 2x8 on AMD Zen 5 (family 0x1A, 4 vector pipes,
rotates on 2: 2176 cycles per page per core) and AVX2 4-lane on AMD Zen 3 (family 0x19 models 0x00-0x0F
and 0x20-0x5F: 8850). The Zen 5 model is for EPYC Turin (models 0x00-0x1F): a Zen 4 (family 0x19 too)
or a mobile Zen 5 gets none, as each runs a 512-bit instruction as two halves.

Where the mix cannot be measured (no C compiler, no x86-64 assembler, or only the portable kernel)
there is no ceiling: the bench says why and prints no ratio against one. A ceiling from another
CPU is never applied.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")

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

#: Cycles per PAGE_INFO of the chain's latency floor: 4 dependent scalar ops per round x 160 + ~20.
CHAIN_FLOOR_CYCLES = 660.0

#: The scalar rounds of the chain (csrc/launch_digest.c CHAIN_ROUND, sha512.h), per sixteenth of a
#: PAGE_INFO (10 of its 160 rounds): a round is 6 rorx, 8 xor (Sigma0/1 4, Ch 2, Maj 2), 2 and
#: (Ch 1, Maj 1), 6 add; Maj is b ^ ((a ^ b) & (b ^ c)), whose b ^ c is the previous round's a ^ b
#: (gcc keeps it across the unrolled rounds). Block 1's first 16 rounds add K[t] to W[t] (16 adds),
#: and the two feed-forwards add 14: 990 adds in 160 rounds, rounded up to 62 per sixteenth.
_CHAIN_ROUNDS = {"rorx": 60, "xor": 80, "and": 20, "add": 62}

#: Instructions per eighth of a 128-byte block of content ("message", "padding": an eighth holds
#: whole units, 10 rounds, 8 schedule words, 1/8 of the load transpose and one feed-forward add),
#: and per sixteenth of a PAGE_INFO of the chain ("chain": 10 rounds, 2 steps of block 1's
#: two-word xmm schedule), by kernel, counted from csrc/ (docs/reference/performance.md, "The
#: op-count ceiling", shows the counting). A "x." prefix marks a 128-bit (xmm) instruction.
MIXES: Dict[str, Dict[str, Dict[str, int]]] = {
    # sha512_avx512.c, zmm, 8 lanes. A round: 6 vprorq, 4 vpternlogq (Ch, Maj, two xor3), 7 vpaddq
    # (one adds K[t] as a {1to8} broadcast). A schedule word: sigma0 and sigma1 each 2 vprorq,
    # 1 vpsrlq, 1 vpternlogq; 3 vpaddq. load_block8: per block 16 unpack, 32 vshufi64x2, 16 vpshufb.
    # The padding block's rounds take W+K as a broadcast operand: 6 adds, no schedule, no loads.
    # chain_avx512's schedule step: 2 vpalignr, sigma0 and sigma1 as above, 3 adds and + K.
    "avx512": {
        "message": {
            "vprorq": 92,
            "vpsrlq": 16,
            "vpternlogq": 56,
            "vpaddq": 95,
            "vpunpcklqdq": 2,
            "vshufi64x2": 4,
            "vpshufb": 2,
        },
        "padding": {"vprorq": 60, "vpternlogq": 40, "vpaddq": 61},
        "chain": {
            **_CHAIN_ROUNDS,
            "x.vpalignr": 4,
            "x.vprorq": 8,
            "x.vpsrlq": 4,
            "x.vpternlogq": 4,
            "x.vpaddq": 8,
        },
    },
    # sha512_avx2.c, ymm, 4 lanes. A round: 6 rotates of 2 shifts + 1 vpor; Sigma0/1 4 vpxor, Ch
    # 2 vpxor + 1 vpand, Maj 2 vpxor + 1 vpand (its b ^ c is the previous round's a ^ b, which gcc
    # keeps: 8 vpxor a round in the compiled loops); 7 vpaddq. A schedule word: sigma0 = rotate by 1
    # (3 ops), rotate by 8 (1 vpshufb), vpsrlq, 2 vpxor; sigma1 = 2 rotates (6 ops), vpsrlq,
    # 2 vpxor; 3 vpaddq. load_block4: per block 16 unpack, 16 vperm2i128, 16 vpshufb.
    # chain_avx2's schedule step: 2 vpalignr, sigma0 and sigma1 as above, 3 adds and + K.
    "avx2": {
        "message": {
            "vpsrlq": 100,
            "vpsllq": 84,
            "vpor": 84,
            "vpxor": 112,
            "vpand": 20,
            "vpaddq": 95,
            "vpshufb": 10,
            "vpunpcklqdq": 2,
            "vperm2i128": 2,
        },
        "padding": {"vpsrlq": 60, "vpsllq": 60, "vpor": 60, "vpxor": 80, "vpand": 20, "vpaddq": 61},
        "chain": {
            **_CHAIN_ROUNDS,
            "x.vpalignr": 4,
            "x.vpsrlq": 10,
            "x.vpsllq": 6,
            "x.vpor": 6,
            "x.vpshufb": 2,
            "x.vpxor": 8,
            "x.vpaddq": 8,
        },
    },
}
LANES = {"avx512": 8, "avx2": 4}

#: One instruction of each kind: {v} a vector accumulator (12 chains, register 0-11, sources
#: 12-14), {g} a general-purpose one (8 chains, %r8-%r15, source %rax). Widths per kernel.
_VECTOR_FORMS = {
    "vprorq": "vprorq $28, %%{w}{v}, %%{w}{v}",
    "vpsrlq": "vpsrlq $7, %%{w}{v}, %%{w}{v}",
    "vpsllq": "vpsllq $36, %%{w}{v}, %%{w}{v}",
    "vpternlogq": "vpternlogq $0x96, %%{w}12, %%{w}13, %%{w}{v}",
    "vpaddq": "vpaddq %%{w}12, %%{w}{v}, %%{w}{v}",
    "vpor": "vpor %%{w}12, %%{w}{v}, %%{w}{v}",
    "vpxor": "vpxor %%{w}13, %%{w}{v}, %%{w}{v}",
    "vpand": "vpand %%{w}12, %%{w}{v}, %%{w}{v}",
    "vpunpcklqdq": "vpunpcklqdq %%{w}12, %%{w}{v}, %%{w}{v}",
    "vpshufb": "vpshufb %%{w}14, %%{w}{v}, %%{w}{v}",
    "vshufi64x2": "vshufi64x2 $0x88, %%{w}12, %%{w}{v}, %%{w}{v}",
    "vperm2i128": "vperm2i128 $0x20, %%{w}12, %%{w}{v}, %%{w}{v}",
    "vpalignr": "vpalignr $8, %%{w}12, %%{w}{v}, %%{w}{v}",
}
_SCALAR_FORMS = {
    "rorx": "rorx $14, %%r{g}, %%r{g}",
    "xor": "xor %%rax, %%r{g}",
    "and": "and %%rax, %%r{g}",
    "add": "add %%rax, %%r{g}",
}
_WIDTH = {"avx512": "zmm", "avx2": "ymm"}
_VECTOR_CHAINS, _SCALAR_CHAINS = 12, 8


def _form(kernel: str, op: str) -> Tuple[str, bool]:
    """(template, is_vector) of one instruction of a mix."""
    if op in _SCALAR_FORMS:
        return _SCALAR_FORMS[op], False
    width = "xmm" if op.startswith("x.") else _WIDTH[kernel]
    return _VECTOR_FORMS[op.removeprefix("x.")].replace("{w}", width), True


def _mix_asm(kernel: str, kind: str) -> str:
    """The instruction mix as one asm string: each kind spread evenly through the body (as a
    compiler interleaves a round's work), destinations cycling through independent chains."""
    slots = sorted(((k + 0.5) / n, op) for op, n in MIXES[kernel][kind].items() for k in range(n))
    lines, nv, ng = [], 0, 0
    for _, op in slots:
        template, vector = _form(kernel, op)
        if vector:
            lines.append(template.format(v=nv % _VECTOR_CHAINS))
            nv += 1
        else:
            lines.append(template.format(g=8 + ng % _SCALAR_CHAINS))
            ng += 1
    return "\\n\\t".join(lines)


def _bench_source() -> Tuple[str, str]:
    """(cdef, C source) of the clock and of one loop per (kernel, block kind)."""
    cdef = ["uint64_t snpbench_adds(uint64_t n);"]
    src = [_CLOCK_C]
    clobbers = ", ".join([f'"xmm{i}"' for i in range(16)] + [f'"r{i}"' for i in range(8, 16)] + ['"rax"', '"cc"'])
    for kernel in MIXES:
        for kind in MIXES[kernel]:
            name = f"snpbench_mix_{kernel}_{kind}"
            cdef.append(f"void {name}(uint64_t n);")
            src.append(
                f"void {name}(uint64_t n)\n{{\n    for (uint64_t i = 0; i < n; i++)\n"
                f'        __asm__ volatile("{_mix_asm(kernel, kind)}" ::: {clobbers});\n'
                f'    __asm__ volatile("vzeroupper");\n}}\n'
            )
    return "\n".join(cdef), "\n".join(src)


_LIB: List[Any] = []


def _bench_lib() -> Optional[Any]:
    """The compiled clock and mix loops (built once, with cffi, into a temporary directory); None
    when there is no compiler or no x86-64 assembler."""
    if _LIB:
        return _LIB[0]
    try:
        from cffi import FFI

        ffi = FFI()
        cdef, src = _bench_source()
        ffi.cdef(cdef)
        ffi.set_source("_snpbench_ceiling", src)
        with tempfile.TemporaryDirectory() as tmp:
            lib_path = ffi.compile(tmpdir=tmp, verbose=False)
            spec = importlib.util.spec_from_file_location("_snpbench_ceiling", lib_path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
    except Exception:  # no compiler, or not x86-64: the bench prints no ceiling
        return None
    _LIB.append(mod.lib)
    return mod.lib


def _ns_per_call(fn: Callable[[int], object], n: int) -> float:
    t0 = time.perf_counter()
    fn(n)
    return (time.perf_counter() - t0) / n * 1e9


@dataclass(frozen=True)
class Model:
    """Cycles per page of content hashing on one core, and per PAGE_INFO of the serial chain."""

    name: str
    kernel: str
    content_cycles: float
    chain_cycles: float


#: The table models the reference derived, and the cores they describe: family, the model ranges and
#: the model. The Zen 5 model assumes 4 full-width 512-bit pipes, measured on an EPYC Turin (family
#: 0x1A model 2): it holds for the server parts (models 0x00-0x1F), not for every Zen 5 (mobile
#: Zen 5 splits 512-bit instructions in two, as Zen 4 does). See the module docstring and
#: docs/reference/performance.md.
MODELS: Tuple[Tuple[int, Tuple[range, ...], Model], ...] = (
    (
        0x1A,
        (range(0x00, 0x20),),
        Model("AVX-512 2x8 op count on Zen 5 EPYC (4 vector pipes, 2 for rotates)", "avx512", 2176.0, 660.0),
    ),
    (
        0x19,
        (range(0x00, 0x10), range(0x20, 0x60)),
        Model("AVX2 4-lane op count on Zen 3 (4 vector pipes, 2 for shifts)", "avx2", 8850.0, 1080.0),
    ),
)

#: AMD core generations by (family, model), as Linux's bsp_init_amd (arch/x86/kernel/cpu/amd.c)
#: sets X86_FEATURE_ZEN3..6: family 0x19 holds both Zen 3 and Zen 4 (Genoa is model 0x11), so the
#: family alone would give a Zen 4 the Zen 3 model.
_AMD_CORES: Tuple[Tuple[int, Tuple[range, ...], str], ...] = (
    (0x19, (range(0x00, 0x10), range(0x20, 0x60)), "Zen 3"),
    (0x19, (range(0x10, 0x20), range(0x60, 0xB0)), "Zen 4"),
    (0x1A, (range(0x00, 0x30), range(0x40, 0x50), range(0x60, 0x80)), "Zen 5"),
    (0x1A, (range(0x50, 0x60), range(0x80, 0xB0), range(0xC0, 0xD0)), "Zen 6"),
)


def _lookup(vendor: str, family: int, model: int, table: Tuple[Tuple[int, Tuple[range, ...], T], ...]) -> Optional[T]:
    """The value of ``table``'s row whose family and model ranges hold this AMD CPU, else None."""
    if vendor == "AuthenticAMD":
        for fam, models, value in table:
            if family == fam and any(model in r for r in models):
                return value
    return None


def core_generation(vendor: str, family: int, model: int) -> Optional[str]:
    """ "Zen 3" to "Zen 6" for an AMD core Linux knows as one, else None (printed with the CPU)."""
    return _lookup(vendor, family, model, _AMD_CORES)


def table_model(vendor: str, family: int, model: int) -> Optional[Model]:
    """The reference's table model for this CPU, where it analysed one of its kind, else None."""
    return _lookup(vendor, family, model, MODELS)


def _cpu_flags() -> List[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.partition(":")[2].split()
    except OSError:
        pass
    return []


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


def measure_mixes(kernels: Sequence[str], rounds: int = 41) -> Optional[Dict[str, Dict[str, float]]]:
    """This core's op-count bound for each of ``kernels`` (keys of MIXES the CPU runs), all in the
    same rounds: the best of ``rounds`` of the clock and of every mix loop, round-robin. Per
    kernel: ``clock_ghz``; ``content_cycles`` and ``content_us`` (per page, one core);
    ``chain_ops_cycles`` (the chain's op count on this core), ``chain_cycles`` and ``chain_us``
    (per PAGE_INFO: the op count or the latency floor, whichever is longer); and, per kind,
    ``<kind>_ops_per_cycle`` (instructions per cycle of the add-chain clock). None when the loops
    cannot be built."""
    lib = _bench_lib()
    if lib is None:
        return None
    kernels = [k for k in kernels if k in MIXES]
    # The chain's mix runs rorx (BMI2), as the vector chains do; without BMI2 the core runs the
    # portable chain, and the bound is the latency floor alone.
    chain = "bmi2" in _cpu_flags()
    loops = {
        (k, kind): getattr(lib, f"snpbench_mix_{k}_{kind}")
        for k in kernels
        for kind in MIXES[k]
        if chain or kind != "chain"
    }
    n = 5_000
    for loop in loops.values():  # warm up: Intel cores switch their vector clock on heavy 512-bit work
        loop(n)
    # The best round of each: a disturbance (this VM's neighbours, an SMT sibling) only ever slows a
    # loop down, and a ceiling is what the pipes can do. Many short rounds, every kernel in each, so
    # that each loop meets quiet moments and the kernels' bounds are compared at the same ones.
    clock, ops_per_ns = 0.0, dict.fromkeys(loops, 0.0)
    for _ in range(rounds):
        clock = max(clock, 16 / _ns_per_call(lib.snpbench_adds, 50_000))
        for (k, kind), loop in loops.items():
            loop(n)  # untimed: after another width's loop, Intel cores issue 512-bit ops slowly for a while
            ops = sum(MIXES[k][kind].values())
            ops_per_ns[k, kind] = max(ops_per_ns[k, kind], ops / _ns_per_call(loop, n))
    out: Dict[str, Dict[str, float]] = {}
    for k in kernels:
        bound = {"clock_ghz": clock}
        cycles = {}
        for kind in MIXES[k]:
            if (k, kind) in loops:
                bound[f"{kind}_ops_per_cycle"] = ops_per_ns[k, kind] / clock
                cycles[kind] = sum(MIXES[k][kind].values()) / bound[f"{kind}_ops_per_cycle"]
        # a 4 KiB page is 32 message blocks and the constant padding block, each of 8 eighths
        bound["content_cycles"] = (32 * 8 * cycles["message"] + 8 * cycles["padding"]) / LANES[k]
        bound["content_us"] = bound["content_cycles"] / clock / 1e3
        # the chain: its op count (16 sixteenths) or its latency floor, whichever is longer
        bound["chain_ops_cycles"] = 16 * cycles.get("chain", 0.0)
        bound["chain_cycles"] = max(CHAIN_FLOOR_CYCLES, bound["chain_ops_cycles"])
        bound["chain_us"] = bound["chain_cycles"] / clock / 1e3
        out[k] = bound
    return out


def host_ceiling(best_kernel: str, also: Sequence[str] = ()) -> Dict[str, Any]:
    """What the bench knows about this host: CPU, measured clock, and the ceiling in microseconds
    (content per page per core, chain per PAGE_INFO) derived from the best kernel's measured op
    mix, else ``model`` None and ``why`` saying what is missing. ``reference_model`` holds the
    table model's figures where the reference analysed this CPU and kernel (a cross-check), and
    ``content_bounds_us`` and ``chain_bounds_us`` the bounds of each kernel in ``also`` (and the
    best) on this core, so that a ratio between kernels can be set against the ratio their op
    counts allow here."""
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
    if best_kernel not in MIXES:
        out["why"] = f"the best kernel present is {best_kernel}: the bench counts ops for the vector kernels only"
        return out
    mixes = measure_mixes([best_kernel, *(k for k in also if k != best_kernel)])
    if mixes is None:
        out["why"] = "the op-mix loops could not be built (no C compiler, or not x86-64)"
        return out
    mix = mixes[best_kernel]
    ghz = mix["clock_ghz"]
    out.update(mix)
    out["model"] = (
        f"{best_kernel} op mix measured on this core "
        f"({mix['message_ops_per_cycle']:.2f} vector ops/cycle; {LANES[best_kernel]} lanes)"
    )
    out["content_bounds_us"] = {k: m["content_us"] for k, m in mixes.items()}
    out["chain_bounds_us"] = {k: m["chain_us"] for k, m in mixes.items()}
    out["generation"] = core_generation(vendor, family, model_no)
    table = table_model(vendor, family, model_no)
    if table is not None and table.kernel == best_kernel:
        out["reference_model"] = {
            "name": table.name,
            "content_us": table.content_cycles / ghz / 1e3,
            "chain_us": table.chain_cycles / ghz / 1e3,
        }
    return out


if __name__ == "__main__":
    import json
    import sys

    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
    from snpmeasure import _core

    info = _core.simd_info()
    print(json.dumps(host_ceiling(str(info["active"]), also=[str(k) for k in info["supported"]]), indent=2))  # type: ignore[attr-defined]
