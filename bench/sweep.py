"""vCPU sweep cost, as ratios measured in one run.

    python bench/sweep.py [--ovmf OVMF.fd] [--max 240]

Compares, on the same firmware: one snpmeasure measurement (max vCPUs), a 1..max sweep
(`snpmeasure.sweep`), max separate snpmeasure measurements, and max separate sev-snp-measure
library calls. The sweep should cost less than 1.5x one measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import snpmeasure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OVMF = os.path.join(HERE, "..", "tests", "fixtures", "peer", "svsm_ovmf.fd")


def timed(fn: Callable[[], object], reps: int) -> float:
    ts: List[float] = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ovmf", default=DEFAULT_OVMF, help="firmware image (default: the 3.5 MiB svsm_ovmf.fd fixture)")
    ap.add_argument("--max", type=int, default=240, help="largest vCPU count")
    args = ap.parse_args()
    n = args.max
    kw = dict(mode="snp", ovmf=args.ovmf, vcpu_type="EPYC-Milan")
    variants: Dict[str, Callable[[], object]] = {
        f"one measurement ({n} vCPUs)": lambda: snpmeasure.measure(vcpus=n, **kw),
        f"sweep 1..{n}": lambda: snpmeasure.sweep(vcpus=f"1-{n}", **kw),
        f"{n} separate snpmeasure.measure": lambda: [snpmeasure.measure(vcpus=i, **kw) for i in range(1, n + 1)],
    }
    try:
        from sevsnpmeasure import guest
        from sevsnpmeasure.sev_mode import SevMode
        from sevsnpmeasure.vmm_types import VMMType

        variants[f"{n} separate sev-snp-measure calls"] = lambda: [
            guest.calc_launch_digest(SevMode.SEV_SNP, i, 0xA00F11, args.ovmf, None, None, None, 1, "", VMMType.QEMU)
            for i in range(1, n + 1)
        ]
    except ImportError:
        print("sev-snp-measure is not installed: its row is skipped")
    med = {name: timed(fn, 3 if "separate" not in name else 1) for name, fn in variants.items()}
    one = med[f"one measurement ({n} vCPUs)"]
    print(f"{'variant':<40} {'time':>10} {'vs one measurement':>20}")
    for name, t in med.items():
        print(f"{name:<40} {t * 1e3:>8.1f}ms {t / one:>19.2f}x")
    sweep_ratio = med[f"sweep 1..{n}"] / one
    print(f"\nsweep / one measurement = {sweep_ratio:.2f} (target < 1.5): {'ok' if sweep_ratio < 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
