"""Launch-digest core speed, as ratios measured in one run on the same data.

    python bench/digest.py [--quick]

For 1 MiB, 4 MiB and 64 MiB regions of NORMAL pages it prints time per page and MB/s of: the
native core on 1 thread and on all threads, the pure-Python reference, and hashlib's single-core
SHA-384 over the same pages (the per-core bound of a single-buffer hash). Variants run round-robin,
several times, and the median is reported: this machine is a noisy VM, so compare within one table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from typing import Callable, Dict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import require_native, round_robin  # noqa: E402

from snpmeasure import _core, _reference  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, skip 64 MiB")
    ap.add_argument(
        "--break-even", action="store_true", help="also time small regions on 1 and all threads (the threshold)"
    )
    args = ap.parse_args()
    require_native()
    sizes = [1, 4] if args.quick else [1, 4, 64]
    cpus = _core.simd_info()["cpus"]
    print(f"kernel: {_core.simd_info()['active']}, cpus: {cpus}")
    print(f"{'region':>7} {'variant':<22} {'us/page':>9} {'MB/s':>8} {'vs python':>10} {'vs hashlib':>11}")
    for mib in sizes:
        data = os.urandom(mib << 20)
        npages = len(data) // 4096
        reps = 3 if args.quick else (7 if mib <= 4 else 3)
        variants: Dict[str, Callable[[], object]] = {
            "native 1 thread": lambda: _core.NativeLaunchDigest(threads=1).update_normal(0, data),
            f"native {cpus} threads": lambda: _core.NativeLaunchDigest().update_normal(0, data),
            "python reference": lambda: _reference.LaunchDigest().update_normal(0, data),
            "hashlib sha384 pages": lambda: [
                hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096)
            ],
        }
        med = round_robin(variants, reps)
        for name, t in med.items():
            print(
                f"{mib:>4} MiB {name:<22} {t / npages * 1e6:>9.2f} {len(data) / t / 1e6:>8.0f}"
                f" {med['python reference'] / t:>9.2f}x {med['hashlib sha384 pages'] / t:>10.2f}x"
            )


def break_even() -> None:
    """Small regions on 1 thread and on all threads, with the threshold lifted: where does a second
    thread start to pay? (The core's default is 48 pages per thread.)"""
    lib = _core._native.lib
    old = lib.snp_min_pages_per_thread(1)
    try:
        print(f"\n{'pages':>6} {'1 thread us':>12} {'all threads us':>15} {'speed-up':>9}")
        for npages in (16, 32, 64, 128, 192, 256, 384, 512):
            data = os.urandom(4096 * npages)
            med = round_robin(
                {
                    "1": lambda: _core.NativeLaunchDigest(threads=1).update_normal(0, data),
                    "n": lambda: _core.NativeLaunchDigest().update_normal(0, data),
                },
                41,
            )
            print(f"{npages:>6} {med['1'] * 1e6:>12.1f} {med['n'] * 1e6:>15.1f} {med['1'] / med['n']:>8.2f}x")
    finally:
        lib.snp_min_pages_per_thread(old)


if __name__ == "__main__":
    main()
    if "--break-even" in sys.argv:
        break_even()
