"""``snpmeasure explain``: configurations searched per second, and the default search's time.

    python bench/explain.py [--ovmf OVMF.fd] [--reps 5]

The default search (every built-in profile, CPU signature and default SEV-features value, vCPU
counts 1-512; with a kernel also kernel hashes off and three command-line variants: 131,072
configurations) against a digest that matches nothing, so every configuration is computed. Target
(#18): the default search in under 10 s on a 2-core machine. Rows, in the same rounds: without a
kernel, with a kernel, and the CLI end to end (process start, firmware hashing, search, output).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import require_native, round_robin  # noqa: E402

from snpmeasure.explanations import explain  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OVMF = os.path.join(HERE, "..", "tests", "fixtures", "peer", "ovmf_AmdSev_suffix.bin")
TARGET_SECONDS = 10.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ovmf", default=DEFAULT_OVMF, help="firmware image with a kernel-hashes section")
    ap.add_argument("--reps", type=int, default=5, help="rounds (the median is reported)")
    args = ap.parse_args()
    require_native()
    with tempfile.NamedTemporaryFile(suffix=".vmlinuz") as kernel:
        kernel.write(os.urandom(8 << 20))  # an 8 MiB kernel: hashed once per search
        kernel.flush()
        counts = {}

        def run(with_kernel: bool) -> None:
            extra = dict(kernel=kernel.name, append="console=ttyS0") if with_kernel else {}
            counts[with_kernel] = explain(bytes(48), ovmf=args.ovmf, **extra).searched  # type: ignore[arg-type]

        cli = [sys.executable, "-m", "snpmeasure", "explain", "--measurement", "00" * 48, "--ovmf", args.ovmf]
        cli += ["--kernel", kernel.name, "--append", "console=ttyS0", "--json"]
        med = round_robin(
            {
                "without a kernel": lambda: run(False),
                "with a kernel": lambda: run(True),
                "CLI, with a kernel": lambda: subprocess.run(cli, capture_output=True, check=False),
            },
            args.reps,
        )
    print(f"{'variant':<22} {'configurations':>15} {'time':>10} {'configurations/s':>18}")
    for name, seconds in med.items():
        n = counts[name != "without a kernel"]
        print(f"{name:<22} {n:>15,} {seconds * 1e3:>8.1f}ms {n / seconds:>18,.0f}")
    worst = max(med.values())
    verdict = "ok" if worst < TARGET_SECONDS else "MISSED"
    print(f"\ndefault search: {worst:.2f} s at most (target < {TARGET_SECONDS:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
