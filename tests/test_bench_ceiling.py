"""bench/ceiling.py: the op counts it times are the kernels' (docs/reference/performance.md), and its
instruction mixes assemble and run on every kernel this CPU has. No timing is asserted."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from collections import Counter
from types import ModuleType

import pytest

from snpmeasure import _core

BENCH = os.path.join(os.path.dirname(__file__), "..", "bench", "ceiling.py")


def _ceiling() -> ModuleType:
    spec = importlib.util.spec_from_file_location("snpbench_ceiling", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look the module up
    spec.loader.exec_module(mod)
    return mod


ceiling = _ceiling()


def per_block(kernel: str, kind: str) -> int:
    return 8 * sum(ceiling.MIXES[kernel][kind].values())


def test_avx512_counts_are_the_documented_ones() -> None:
    # 80 rounds x 17 + 64 schedule words x 11 + 64 transpose/byte-swap shuffles + 8 feed-forward adds
    assert per_block("avx512", "message") == 80 * 17 + 64 * 11 + 64 + 8 == 2136
    # of which rotates, shifts and shuffles (Zen 5 runs them on 2 of its 4 pipes): 928
    m = ceiling.MIXES["avx512"]["message"]
    assert 8 * sum(m[k] for k in ("vprorq", "vpsrlq", "vpunpcklqdq", "vshufi64x2", "vpshufb")) == 928
    # the padding block: W+K pre-expanded, 16 ops a round, no schedule
    assert per_block("avx512", "padding") == 80 * 16 + 8


def test_avx2_counts_are_the_documented_ones() -> None:
    # 35 vector ops a round (Maj's b ^ c reused from the round before), 19 a schedule word, 48 for
    # the transpose, 8 feed-forward adds; the padding block's rounds add no K
    assert per_block("avx2", "message") == 80 * 35 + 64 * 19 + 48 + 8 == 4072
    assert per_block("avx2", "padding") == 80 * 34 + 8


@pytest.mark.parametrize("kernel", ["avx512", "avx2"])
def test_chain_counts(kernel: str) -> None:
    chain = ceiling.MIXES[kernel]["chain"]
    scalar = sum(n for op, n in chain.items() if not op.startswith("x."))
    assert 16 * scalar == 160 * 22 + 32  # 22 scalar ops a round; K[t] adds and feed-forwards, rounded up
    step = {"avx512": 14, "avx2": 22}[kernel]  # one two-word schedule step of chain_avx512 / chain_avx2
    assert 16 * sum(n for op, n in chain.items() if op.startswith("x.")) == 32 * step


@pytest.mark.parametrize("kernel", ["avx512", "avx2"])
@pytest.mark.parametrize("kind", ["message", "padding", "chain"])
def test_mix_asm_holds_exactly_the_counted_instructions(kernel: str, kind: str) -> None:
    body = ceiling._mix_asm(kernel, kind).split("\\n\\t")
    counted = Counter(line.split()[0] for line in body)
    expected = Counter({op.removeprefix("x."): 0 for op in ceiling.MIXES[kernel][kind]})
    for op, n in ceiling.MIXES[kernel][kind].items():
        expected[op.removeprefix("x.")] += n
    assert counted == expected
    widths = {w for line in body for w in re.findall(r"%%([xyz]mm)\d+", line)}
    assert widths <= {"xmm" if kind == "chain" else {"avx512": "zmm", "avx2": "ymm"}[kernel], "xmm"}


@pytest.mark.parametrize("kernel", ["avx512", "avx2"])
def test_mix_runs_on_this_cpu(kernel: str) -> None:
    if kernel not in _core.simd_info()["supported"]:  # type: ignore[operator]
        feature = {"avx512": "AVX-512 F/VL/BW", "avx2": "AVX2"}[kernel]
        pytest.skip(f"this CPU lacks {feature}")
    mixes = ceiling.measure_mixes([kernel], rounds=1)
    if mixes is None:
        pytest.skip("no C compiler for the mix loops")
    out = mixes[kernel]
    keys = ["clock_ghz", "content_us", "chain_us", "message_ops_per_cycle", "padding_ops_per_cycle"]
    if "bmi2" in _core.simd_info()["cpu_features"]:  # type: ignore[operator]
        keys.append("chain_ops_per_cycle")  # its mix runs rorx
    for key in keys:
        assert math.isfinite(out[key]) and out[key] > 0, key
    assert out["chain_cycles"] >= ceiling.CHAIN_FLOOR_CYCLES


@pytest.mark.parametrize(
    ("vendor", "family", "model", "generation", "table"),
    [
        ("AuthenticAMD", 0x19, 0x01, "Zen 3", "avx2"),  # Milan, the Zen 3 development VM
        ("AuthenticAMD", 0x19, 0x21, "Zen 3", "avx2"),
        ("AuthenticAMD", 0x19, 0x11, "Zen 4", None),  # Genoa: family 0x19 too, 512-bit ops in two halves
        ("AuthenticAMD", 0x19, 0xA0, "Zen 4", None),
        ("AuthenticAMD", 0x1A, 0x02, "Zen 5", "avx512"),  # Turin, the Zen 5 prototype's host
        ("AuthenticAMD", 0x1A, 0x11, "Zen 5", "avx512"),
        ("AuthenticAMD", 0x1A, 0x24, "Zen 5", None),  # mobile: 512-bit ops in two halves, as on Zen 4
        ("AuthenticAMD", 0x1A, 0x60, "Zen 5", None),
        ("AuthenticAMD", 0x1A, 0x50, "Zen 6", None),
        ("AuthenticAMD", 0x1A, 0x30, None, None),
        ("AuthenticAMD", 0x17, 0x31, None, None),
        ("GenuineIntel", 0x06, 0x8F, None, None),
    ],
)
def test_table_models_by_core(vendor: str, family: int, model: int, generation: object, table: object) -> None:
    assert ceiling.core_generation(vendor, family, model) == generation
    found = ceiling.table_model(vendor, family, model)
    assert (found.kernel if found is not None else None) == table
