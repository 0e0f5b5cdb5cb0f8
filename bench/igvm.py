"""IGVM measurement speed, as ratios measured in one run.

    python bench/igvm.py [--quick] [--synthetic-mib 256] [--no-kernel]

Two files are made at bench time (never committed): a Debian cloud kernel packed into an IGVM file
by snpmeasure's writer (``apt-get download`` of the kernel package behind linux-image-cloud-amd64;
skipped with a line when that fails), and a synthetic file of distinct random pages (256 MiB by
default). Each is measured end to end (parse, plan, digest: ``measure_igvm`` on the mapped file)
and compared, in the same rounds, with the bare ``LaunchDigest`` fed the same regions and with the
pure-Python reference fed the same pages, both from a fresh mapping of the file as end to end
reads it (the page faults of a new mapping are no part of parsing or planning). Targets: end to
end >= 5x the pure-Python reference; parsing and planning within 1.3x of the bare digest; no copy of page data (anonymous memory grows
by at most 32 MiB while the file, mapped, is measured).
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _common import median_ratio, require_native, round_robin, rss_anon_kib  # noqa: E402

from snpmeasure import _native, _reference  # noqa: E402
from snpmeasure._core import LaunchDigest  # noqa: E402
from snpmeasure.igvm import GuestPolicy, IgvmBuilder, IgvmFile, PageData, SupportedPlatform, VpContext  # noqa: E402
from snpmeasure.igvm_launch import measure_igvm, plan_igvm  # noqa: E402
from snpmeasure.images import map_file  # noqa: E402
from snpmeasure.pages import VMSA_GPA  # noqa: E402

PAGE = 4096
KERNEL_GPA = 0x1000000


def pack(pages: List[bytes], path: str) -> None:
    """An IGVM file: one SEV-SNP platform, its policy, the pages from KERNEL_GPA, one VMSA."""
    b = IgvmBuilder()
    b.add(SupportedPlatform(1, 0, 2, 1, 0))
    b.add(GuestPolicy(0x30000, 1))
    for i, data in enumerate(pages):
        b.add(PageData(KERNEL_GPA + i * PAGE, 1), data)
    vmsa = bytearray(PAGE)
    vmsa[0x158] = 0x31  # CR0
    b.add(VpContext(VMSA_GPA, 1, 0, 0), bytes(vmsa))
    with open(path, "wb") as f:
        f.write(b.to_bytes())


def debian_kernel(workdir: str) -> Optional[str]:
    """vmlinuz of Debian's current cloud kernel, downloaded (not installed), or None."""
    try:
        name = None
        for attempt in range(2):  # the second after an apt-get update
            if attempt:
                subprocess.run(["apt-get", "update"], capture_output=True, timeout=300)
            deps = subprocess.run(
                ["apt-cache", "depends", "linux-image-cloud-amd64"], capture_output=True, text=True, timeout=60
            ).stdout
            name = next(
                (line.split(":", 1)[1].strip() for line in deps.splitlines() if line.strip().startswith("Depends:")),
                None,
            )
            if name is not None:
                break
        if name is None:
            return None
        subprocess.run(["apt-get", "download", name], cwd=workdir, capture_output=True, timeout=600, check=True)
        deb = glob.glob(os.path.join(workdir, "*.deb"))[0]
        subprocess.run(["dpkg", "-x", deb, os.path.join(workdir, "root")], check=True, timeout=300)
        found = glob.glob(os.path.join(workdir, "root", "boot", "vmlinuz-*"))
        return found[0] if found else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def bench_file(label: str, path: str, reps: int) -> Dict[str, float]:
    f = IgvmFile.load(path)
    plan = plan_igvm(f)
    ffi = _native.ffi
    base = int(ffi.cast("uintptr_t", ffi.from_buffer(f.data)))
    # Each command as (page type, gpa, file offset of its data or None, length, fill page, repeat),
    # so the bare digest can read the same pages from a mapping of its own.
    regions = [
        (
            c.page_type,
            c.gpa,
            None if c.data is None or c.op == "fill" else int(ffi.cast("uintptr_t", ffi.from_buffer(c.data))) - base,
            c.length,
            c.data if c.op == "fill" else None,
            c.repeat,
        )
        for c in plan.commands
    ]

    def fed(backend: Any, fresh: bool) -> Callable[[], object]:
        def run() -> object:
            # fresh: map the file anew, as a measurement of a file does (the page faults of a new
            # mapping are paid by any reader of the file, not by parsing or planning)
            view = memoryview(map_file(path)) if fresh else f.data
            d = backend()
            for ptype, gpa, offset, length, fill, repeat in regions:
                if fill is not None:
                    d.update_fill(ptype, gpa, fill, repeat)
                elif offset is not None:
                    d.update(ptype, gpa, view[offset : offset + length])
                else:
                    d.update(ptype, gpa, length=length)
            return d.digest()

        return run

    bare, reference = fed(LaunchDigest, True), fed(_reference.LaunchDigest, True)

    def end_to_end() -> object:
        return measure_igvm(path).digest

    assert end_to_end() == bare() == reference()
    before = rss_anon_kib()
    end_to_end()
    grown = (rss_anon_kib() - before) / 1024
    variants: Dict[str, Callable[[], object]] = {
        "end to end (parse, plan, digest)": end_to_end,
        "bare LaunchDigest, same regions": bare,  # from a fresh mapping, as end to end
        "pure-Python reference, same pages": reference,
    }
    samples: Dict[str, List[float]] = {}
    med = round_robin(variants, reps, samples)
    npages = sum(r[3] // PAGE for r in regions)
    print(f"\n{label}: {os.path.getsize(path) / 2**20:.1f} MiB file, {npages} pages, {len(regions)} regions")
    for name, t in med.items():
        print(f"  {name:<36} {t * 1e3:9.1f} ms  {t / npages * 1e6:7.3f} us/page")
    vs_ref = median_ratio(samples["pure-Python reference, same pages"], samples["end to end (parse, plan, digest)"])
    overhead = median_ratio(samples["end to end (parse, plan, digest)"], samples["bare LaunchDigest, same regions"])
    print(f"  end to end vs pure-Python reference: {vs_ref:.1f}x (target >= 5x): {'met' if vs_ref >= 5 else 'MISSED'}")
    print(f"  end to end / bare digest: {overhead:.2f}x (target <= 1.3x): {'met' if overhead <= 1.3 else 'MISSED'}")
    print(
        f"  anonymous memory grown while measuring: {grown:.1f} MiB (target <= 32): {'met' if grown <= 32 else 'MISSED'}"
    )
    return {"vs_reference": vs_ref, "overhead": overhead, "rss_mib": grown}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, a 64 MiB synthetic file")
    ap.add_argument("--synthetic-mib", type=int, help="size of the synthetic file (default 256, 64 with --quick)")
    ap.add_argument("--no-kernel", action="store_true", help="skip the Debian kernel row (no download)")
    args = ap.parse_args()
    require_native()
    reps = 3 if args.quick else 7
    mib = args.synthetic_mib or (64 if args.quick else 256)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_kernel:
            kernel = debian_kernel(tmp)
            if kernel is None:
                print("the Debian cloud kernel could not be downloaded: its row is skipped")
            else:
                data = open(kernel, "rb").read()
                data += bytes(-len(data) % PAGE)
                path = os.path.join(tmp, "kernel.igvm")
                pack([data[i : i + PAGE] for i in range(0, len(data), PAGE)], path)
                bench_file(f"Debian cloud kernel {os.path.basename(kernel)}", path, max(reps, 9))  # milliseconds each
        path = os.path.join(tmp, "synthetic.igvm")
        pack([os.urandom(PAGE) for _ in range(mib * 256)], path)
        bench_file(f"synthetic {mib} MiB", path, max(2, reps // 2))


if __name__ == "__main__":
    main()
