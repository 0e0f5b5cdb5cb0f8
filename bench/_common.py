"""Shared by the benchmarks: round-robin timing (this VM is noisy; medians of interleaved runs)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Callable, Dict, List, Optional


def require_native() -> None:
    """Exit with a message unless the compiled core is loaded: the benchmarks measure it."""
    from snpmeasure import _core

    if not _core.native_available():
        sys.exit("the native core is not loaded (SNPMEASURE_BACKEND=python?)")


def round_robin(
    variants: Dict[str, Callable[[], object]],
    reps: int,
    samples: Optional[Dict[str, List[float]]] = None,
    idle: float = 0.0,
) -> Dict[str, float]:
    """Run every variant once per round, ``reps`` rounds; the median seconds of each. ``samples``,
    if given, receives each variant's seconds per round, in round order (docs/reference/zen3-performance.md: the minimum is
    what the hardware can do, the median what this VM typically gives; ratios of neighbours in one
    round cancel the VM's drift between rounds). ``idle`` seconds of sleep (untimed) before each
    call let the other CPUs go idle, as before a measurement that is the only work of a process."""
    times: Dict[str, List[float]] = {k: [] for k in variants}
    for _ in range(reps):
        for name, fn in variants.items():
            if idle:
                time.sleep(idle)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    if samples is not None:
        samples.update(times)
    return {k: statistics.median(v) for k, v in times.items()}


def median_ratio(a: List[float], b: List[float]) -> float:
    """The median over rounds of a[i] / b[i]: two variants compared within each round."""
    return statistics.median(x / y for x, y in zip(a, b))


def rss_anon_kib() -> int:
    """This process's anonymous resident memory in KiB (RssAnon of /proc/self/status; 0 elsewhere)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0
