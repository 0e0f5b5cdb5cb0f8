"""snpmeasure performance, measured in one run on the same data, printed as ratios.

    python bench/run.py [--quick] [--json FILE]

For 4 MiB, 64 MiB and 256 MiB (read through mmap) regions of random NORMAL pages (the worst case),
and for a real firmware image (tests/fixtures/peer/svsm_ovmf.fd, mostly erased flash): the native core with
the portable kernel on 1 thread, the AVX2 kernel on 1 thread and on all threads, the pure-Python
reference, sev-snp-measure's library (GCTX.update_normal_pages), hashlib's single-buffer SHA-384
per page, and the estimated ceiling, scaled by a speed probe taken in the same rounds (hashlib on one
cache-hot page, the measurement the ceiling was derived against). Then the serial chain alone, content hashing
alone, anonymous-memory growth for the mmap'd region, and whole-process CLI time against
sev-snp-measure. Variants run round-robin and the median is reported: this machine is a noisy VM
(docs/reference/zen3-performance.md), so only compare numbers within one run.

The ceiling is this host's (bench/ceiling.py): the best kernel's vector op counts, run as one mix
of independent instructions on this core (so this CPU's own pipes and vector clock), plus the
chain's latency floor over the clock measured here; none where that cannot be measured (then no
ratio against a ceiling is printed). Every vector kernel the CPU runs is measured, forced, in the
same rounds, and each ratio between kernels is printed beside the ratio their op counts allow here.

Targets: 4 MiB >= 4x sev-snp-measure and within 1.3x of the ceiling (AVX2 hosts); 256 MiB mmap
>= 1.3 GB/s, >= 4x sev-snp-measure, anonymous memory growth <= 32 MiB; AVX2 single-thread content
hashing >= 1.6x single-buffer SHA-384; CLI faster than sev-snp-measure. On AVX-512 hosts: content
>= 3.8x the AVX2 kernel and >= 5x hashlib, chain >= 1.3x the AVX2 chain, launch digest on all
threads >= 2.8x the AVX2 pipeline forced, within 1.6x of the ceiling, 4 MiB >= 10x sev-snp-measure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import os
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import median_ratio, require_native, round_robin, rss_anon_kib  # noqa: E402

from snpmeasure import _core, _reference  # noqa: E402
from snpmeasure.images import map_file  # noqa: E402

try:
    from sevsnpmeasure import gctx as ssm_gctx
except ImportError:  # pragma: no cover
    ssm_gctx = None

CPUS = int(_core.simd_info()["cpus"])  # type: ignore[call-overload]
SUPPORTED = [str(k) for k in _core.simd_info()["supported"]]  # type: ignore[attr-defined]
BEST = SUPPORTED[-1]
#: The vector kernels this CPU runs, best first: each gets its own rows, forced, in the same rounds.
VECTOR_KERNELS = [k for k in reversed(SUPPORTED) if k != "portable"]
# The ceiling is derived for this host (bench/ceiling.py: the best kernel's op counts over the pipes
# that run them, in cycles, over the clock measured here), or there is none. At the moment the clock
# is measured, the speed probe (hashlib.sha384 of one cache-hot 4 KiB page) is timed too
# (NOTES_HASHLIB_US); this VM's speed drifts 1.0-1.8x within and between runs, so each region's
# ceiling is scaled by that same probe taken in the region's own rounds. Not by the per-page hashlib
# row: its slicing and list building add about 0.8 us per page.
HOST: Dict[str, Any] = {}
CEILING_CONTENT_US, CEILING_CHAIN_US, NOTES_HASHLIB_US = float("nan"), float("nan"), float("nan")
SPEED_PROBE = "hashlib one hot page (speed probe)"
_PROBE_PAGE = os.urandom(4096)
PROBE_CALLS = 1024


def speed_probe() -> None:
    """the reference measurement (docs/reference/zen3-performance.md §3.2), PROBE_CALLS times: SHA-384 of the same 4 KiB page."""
    sha384, page = hashlib.sha384, _PROBE_PAGE
    for _ in range(PROBE_CALLS):
        sha384(page).digest()


def derive_ceiling() -> None:
    """Fill HOST and the CEILING_* figures for this host (NaN where no model covers it)."""
    global CEILING_CONTENT_US, CEILING_CHAIN_US, NOTES_HASHLIB_US
    from ceiling import host_ceiling

    HOST.update(host_ceiling(BEST, also=VECTOR_KERNELS))
    if HOST.get("model"):
        CEILING_CONTENT_US, CEILING_CHAIN_US = HOST["content_us"], HOST["chain_us"]
        # The fastest probe: the ceiling is each loop's best round (bench/ceiling.py), so the speed
        # it was derived at is this VM's quietest; a region's probe then scales it to the region's.
        probes: Dict[str, List[float]] = {}
        round_robin({SPEED_PROBE: speed_probe}, 21, probes)
        NOTES_HASHLIB_US = min(probes[SPEED_PROBE]) / PROBE_CALLS * 1e6
        print(
            f"ceiling: {HOST['model']}, clock {HOST['clock_ghz']:.2f} GHz (dependent adds): "
            f"content {CEILING_CONTENT_US:.3f} us/page/core, chain {CEILING_CHAIN_US:.3f} us/PAGE_INFO "
            f"({chain_bound_text()}); speed probe {NOTES_HASHLIB_US:.2f} us then"
        )
        ref = HOST.get("reference_model")
        if ref:
            print(
                f"  cross-check, the reference's table model for this CPU ({ref['name']}): "
                f"content {ref['content_us']:.3f} us/page/core at this clock"
            )
    else:
        print(f"ceiling: none for this host ({HOST['why']}); no ratio against a ceiling is printed")
    print(
        f"  CPU: {HOST['cpu']} (family {HOST['family']:#x} model {HOST['model_number']:#x}"
        + (f", {HOST['generation']})" if HOST.get("generation") else ")")
    )


def chain_bound_text() -> str:
    """Which bound the chain's ceiling is: its measured op count or its latency floor."""
    if "chain_ops_per_cycle" not in HOST:
        return "its latency floor; no BMI2, so its op count was not measured"
    which = "its op count" if HOST["chain_ops_cycles"] >= HOST["chain_cycles"] else "its latency floor"
    return f"{which}; the op count at {HOST['chain_ops_per_cycle']:.2f} ops/cycle"


def vs_ceiling_text(x: float) -> str:
    return "n/a (no ceiling for this host)" if x != x else f"{x:.2f}x"


def probe_us(med: Dict[str, float]) -> float:
    return med[SPEED_PROBE] / PROBE_CALLS * 1e6


def ceiling_s(hashed: int, chained: int, hashlib_us: float) -> float:
    """The op-count bound for a region whose `hashed` pages need a content hash and whose `chained`
    pages all go through the chain, on CPUS cores; scaled by the speed probe's time per page against
    the reference's (the VM's speed drifts), so take the probe in the same rounds."""
    bound_us = max(chained * CEILING_CHAIN_US, (hashed * CEILING_CONTENT_US + chained * CEILING_CHAIN_US) / CPUS)
    return bound_us * (hashlib_us / NOTES_HASHLIB_US) / 1e6


def with_kernel(kernel: str, threads: Optional[int], data: Any) -> Callable[[], object]:
    def run() -> object:
        _core.set_simd(kernel)
        d = _core.NativeLaunchDigest(threads=threads)
        d.update_normal(0x100000, data)
        return d.digest()

    return run


def region_variants(data: Any, *, slow: bool) -> Dict[str, Callable[[], object]]:
    v: Dict[str, Callable[[], object]] = {
        "native portable 1T": with_kernel("portable", 1, data),
    }
    for kernel in VECTOR_KERNELS[::-1]:  # the best kernel last: the probe follows it
        v[f"native {kernel} 1T"] = with_kernel(kernel, 1, data)
        v[f"native {kernel} {CPUS}T"] = with_kernel(kernel, None, data)
    if not VECTOR_KERNELS:
        v[f"native portable {CPUS}T"] = with_kernel("portable", None, data)
    v[SPEED_PROBE] = speed_probe  # next to the variant it scales: same moment of the VM
    if CPUS > 1 and VECTOR_KERNELS:
        # The page hashes alone (no chain) on 1 and all threads: how well this VM scales the
        # same work in these rounds, against the perfect scaling the ceiling assumes.
        v[f"content only {BEST} 1T"] = lambda: (_core.set_simd(BEST), _core.sha384_pages(data, 1))
        v[f"content only {BEST} {CPUS}T"] = lambda: (_core.set_simd(BEST), _core.sha384_pages(data, CPUS))
    v["hashlib sha384 per page 1T"] = lambda: [
        hashlib.sha384(data[i : i + 4096]).digest() for i in range(0, len(data), 4096)
    ]
    if slow:
        v["python reference"] = lambda: _reference.LaunchDigest().update_normal(0x100000, data)
        if ssm_gctx is not None:
            v["sev-snp-measure"] = lambda: ssm_gctx.GCTX().update_normal_pages(0x100000, data)
    return v


def bound_ratio(slow: str, fast: str, what: str = "content") -> str:
    """What this core's op counts allow for kernel ``fast`` over ``slow``: content hashing, the
    chain, or the whole pipeline on CPUS cores; as text, empty without a ceiling."""
    content, chain = HOST.get("content_bounds_us", {}), HOST.get("chain_bounds_us", {})
    if slow not in content or fast not in content:
        return ""

    def per_page(k: str) -> float:
        if what == "chain":
            return float(chain[k])
        if what == "pipeline":
            return max(chain[k], (content[k] + chain[k]) / CPUS)
        return float(content[k])

    return f"; this core's op counts allow {per_page(slow) / per_page(fast):.2f}x"


def vs_forced_avx2(samples: Dict[str, List[float]]) -> str:
    """The AVX2 pipeline forced, over the AVX-512 one, on all threads (per round), when both run."""
    if "avx512" not in SUPPORTED:
        return ""
    r = median_ratio(samples[f"native avx2 {CPUS}T"], samples[f"native avx512 {CPUS}T"])
    return f"; avx512 is {r:.2f}x the avx2 pipeline forced, {CPUS}T (target >= 2.8{bound_ratio('avx2', 'avx512', 'pipeline')})"


def best_native(med: Dict[str, float]) -> float:
    return min(t for k, t in med.items() if k.startswith("native"))


def best_native_name(med: Dict[str, float]) -> str:
    return min((t, k) for k, t in med.items() if k.startswith("native"))[1]


def vs_ssm(samples: Dict[str, List[float]], med: Dict[str, float], key: str = "sev-snp-measure") -> float:
    """sev-snp-measure's time over the best native variant's, the median of the per-round ratios."""
    return median_ratio(samples[key], samples[best_native_name(med)])


def vs_scaled_ceiling(samples: Dict[str, List[float]], med: Dict[str, float], hashed: int, chained: int) -> float:
    """The best native variant against the ceiling scaled by the round's probe, the median over
    rounds of that ratio (robust to the VM changing speed between rounds). The probe runs right
    after the all-threads native variant, which is the best one whenever threads help."""
    probe = [ceiling_s(hashed, chained, t / PROBE_CALLS * 1e6) for t in samples[SPEED_PROBE]]
    return median_ratio(samples[best_native_name(med)], probe)


def print_scaling(med: Dict[str, float]) -> None:
    if f"content only {BEST} {CPUS}T" in med:
        print(
            f"  => {CPUS}-thread scaling in these rounds: page hashes alone {med[f'content only {BEST} 1T'] / med[f'content only {BEST} {CPUS}T']:.2f}x, "
            f"launch digest {med[f'native {BEST} 1T'] / med[f'native {BEST} {CPUS}T']:.2f}x (the ceiling assumes {CPUS}.00x)"
        )


def print_region(label: str, npages: int, med: Dict[str, float], ceiling: float) -> Dict[str, Any]:
    best = best_native(med)
    print(f"\n{label} ({npages} pages)")
    print(f"  {'variant':<28} {'ms':>9} {'us/page':>8} {'MB/s':>7} {'best native is':>15}")
    rows: Dict[str, Any] = {}
    for name, t in [(k, t) for k, t in med.items() if k != SPEED_PROBE] + (
        [("estimated ceiling", ceiling)] if ceiling == ceiling else []
    ):
        print(
            f"  {name:<28} {t * 1e3:>9.2f} {t / npages * 1e6:>8.2f} {npages * 4096 / t / 1e6:>7.0f} {t / best:>14.2f}x"
        )
        rows[name] = {"seconds": t, "us_per_page": t / npages * 1e6, "mb_per_s": npages * 4096 / t / 1e6}
    if SPEED_PROBE in med:
        print(
            f"  speed probe: hashlib takes {probe_us(med):.2f} us per cache-hot page in these rounds"
            + (
                f" ({probe_us(med) / NOTES_HASHLIB_US:.2f}x the {NOTES_HASHLIB_US:.2f} us when the clock was measured)"
                if NOTES_HASHLIB_US == NOTES_HASHLIB_US
                else ""
            )
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions; 4 MiB and 64 MiB only")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args()
    require_native()
    default_kernel = str(_core.simd_info()["active"])
    out: Dict[str, Any] = {"cpus": CPUS, "kernels": _core.simd_info()["supported"], "regions": {}}
    print(f"cpus: {CPUS}, kernels: {', '.join(_core.simd_info()['supported'])}")  # type: ignore[arg-type]

    derive_ceiling()
    out["host"] = HOST
    # kernels alone: the chain, and content hashing, on 1 thread; every kernel forced, same rounds
    n = 16384
    content = os.urandom(4096 * 1024)

    def chain_run(kernel: str) -> Callable[[], object]:
        return lambda: (_core.set_simd(kernel), _core.NativeLaunchDigest(threads=1).update_zero(0, 4096 * n))

    def content_run(kernel: str) -> Callable[[], object]:
        return lambda: (_core.set_simd(kernel), _core.sha384_pages(content, 1))

    k: Dict[str, Callable[[], object]] = {}
    for kernel in reversed(SUPPORTED):  # the kernel setting also picks the chain
        k[f"chain {kernel}"] = chain_run(kernel)
        if kernel == BEST:
            k[SPEED_PROBE] = speed_probe
    for kernel in reversed(SUPPORTED):
        k[f"content {kernel} 1T"] = content_run(kernel)
    ksamples: Dict[str, List[float]] = {}
    kmed = round_robin(k, 5 if args.quick else 15, ksamples)
    chain_us = kmed[f"chain {BEST}"] / n * 1e6
    best_us = kmed[f"content {BEST} 1T"] / 1024 * 1e6
    hashlib_us = probe_us(kmed)
    print(
        "\nserial chain, 1 thread (us per PAGE_INFO): "
        + ", ".join(f"{kk} {kmed[f'chain {kk}'] / n * 1e6:.3f}" for kk in reversed(SUPPORTED))
    )
    if "avx512" in SUPPORTED:
        print(
            f"  => chain avx512 is {median_ratio(ksamples['chain avx2'], ksamples['chain avx512']):.2f}x chain avx2 "
            f"(per round; target >= 1.3{bound_ratio('avx2', 'avx512', 'chain')})"
        )
    if CEILING_CHAIN_US == CEILING_CHAIN_US:
        chain_ref = median_ratio(ksamples[f"chain {BEST}"], ksamples[SPEED_PROBE]) * PROBE_CALLS / n * NOTES_HASHLIB_US
        print(
            f"  => {chain_ref:.3f} us at the speed the ceiling was derived at: {chain_ref / CEILING_CHAIN_US:.2f}x this core's chain bound ({CEILING_CHAIN_US:.3f} us)"
        )
    print(
        "content hashing, 1 thread (us per page): "
        + ", ".join(f"{kk} {kmed[f'content {kk} 1T'] / 1024 * 1e6:.2f}" for kk in reversed(SUPPORTED))
        + f", hashlib {hashlib_us:.2f} (OpenSSL, one hot page)"
    )
    if "avx512" in SUPPORTED:
        print(
            f"  => avx512 is {median_ratio(ksamples['content avx2 1T'], ksamples['content avx512 1T']):.2f}x the avx2 kernel "
            f"(target >= 3.8{bound_ratio('avx2', 'avx512')}) and {hashlib_us / best_us:.2f}x single-buffer SHA-384 (target >= 5)"
        )
    elif "avx2" in SUPPORTED:
        print(f"  => avx2 is {hashlib_us / best_us:.2f}x single-buffer SHA-384 (target >= 1.6)")
    if CEILING_CONTENT_US == CEILING_CONTENT_US:
        content_ref = (
            median_ratio(ksamples[f"content {BEST} 1T"], ksamples[SPEED_PROBE]) * PROBE_CALLS / 1024 * NOTES_HASHLIB_US
        )
        print(
            f"  => {BEST} {content_ref:.3f} us at the speed the ceiling was derived at: "
            f"{content_ref / CEILING_CONTENT_US:.2f}x this core's op-count bound ({CEILING_CONTENT_US:.3f} us)"
        )
    out["chain_us_per_page"] = {kk: kmed[f"chain {kk}"] / n * 1e6 for kk in SUPPORTED}
    out["content_us_per_page"] = {
        **{kk: kmed[f"content {kk} 1T"] / 1024 * 1e6 for kk in SUPPORTED},
        "hashlib_hot_page": hashlib_us,
    }
    # ceilings: the host's op-count bound, and a model from this run's kernels
    model_us = max(chain_us, (best_us + chain_us) / CPUS)
    bound_us = ceiling_s(1, 1, NOTES_HASHLIB_US) * 1e6
    print(
        (
            f"ceiling: op-count bound {bound_us:.2f} us/page on {CPUS} cores; each region scales it by "
            f"its speed probe (ratios: per round, against the probe right after the variant); "
            if bound_us == bound_us
            else ""
        )
        + f"model from this run's kernels max(chain, (content + chain) / {CPUS}) = {model_us:.2f} us/page"
    )
    out["ceiling_us_per_page"] = {
        "op_count_bound": bound_us if bound_us == bound_us else None,
        "kernel_model": model_us,
    }

    hashlib_us = NOTES_HASHLIB_US
    for mib in (4, 64):
        data = os.urandom(mib << 20)
        npages = len(data) // 4096
        samples: Dict[str, List[float]] = {}
        med = round_robin(
            region_variants(data, slow=mib <= 4 or not args.quick), 3 if args.quick else (9 if mib <= 4 else 3), samples
        )
        fastest = {k: min(v) for k, v in samples.items()}
        hashlib_us = probe_us(med)
        ceiling = ceiling_s(npages, npages, hashlib_us)
        rows = print_region(f"{mib} MiB of random pages in memory", npages, med, ceiling)
        region: Dict[str, Any] = {"variants": rows, "speed_probe_us_per_page": probe_us(med)}
        out["regions"][f"{mib}MiB"] = region
        print_scaling(med)
        target = "1.6" if BEST == "avx512" else "1.3"
        print(
            f"  => vs the ceiling scaled to these rounds: {vs_ceiling_text(vs_scaled_ceiling(samples, med, npages, npages))} (target <= {target})"
            + vs_forced_avx2(samples)
            + (
                f"; vs sev-snp-measure (per round): {vs_ssm(samples, med):.2f}x{(' (target >= 10)' if BEST == 'avx512' else ' (target >= 4)') if mib == 4 else ''}"
                if "sev-snp-measure" in med
                else ""
            )
        )
        print(
            f"  => fastest round of the best native variant: {best_native(fastest) * 1e3:.2f} ms, "
            f"{vs_ceiling_text(best_native(fastest) / (bound_us * npages / 1e6))} the unscaled op-count bound (the least disturbed round)"
        )
        region["fastest_best_native_seconds"] = best_native(fastest)
        if mib == 4:
            # A measurement is usually a process's only work: the other CPUs are idle when it
            # starts, and the worker threads must wake them (csrc start_workers).
            cold_samples: Dict[str, List[float]] = {}
            cold = round_robin(
                {
                    k: f
                    for k, f in region_variants(data, slow=True).items()
                    if k in (f"native {BEST} 1T", f"native {BEST} {CPUS}T", "sev-snp-measure")
                },
                5 if args.quick else 11,
                cold_samples,
                idle=0.005,
            )
            print(
                "  => after 5 ms idle, as the only work of a process: "
                + ", ".join(f"{k} {t * 1e3:.2f} ms" for k, t in cold.items())
                + (
                    f"; sev-snp-measure (per round) is {vs_ssm(cold_samples, cold):.2f}x the best native"
                    if "sev-snp-measure" in cold
                    else ""
                )
            )
            region["after_idle_seconds"] = cold
            if "sev-snp-measure" in cold:
                region["after_idle_vs_sev_snp_measure"] = vs_ssm(cold_samples, cold)
        region["vs_scaled_ceiling"] = vs_scaled_ceiling(samples, med, npages, npages)
        if "sev-snp-measure" in med:
            region["vs_sev_snp_measure"] = vs_ssm(samples, med)

    # a real firmware image: most OVMF pages are erased flash (0xFF), which the core hashes once
    fw_path = os.path.join(ROOT, "tests", "fixtures", "peer", "svsm_ovmf.fd")
    with open(fw_path, "rb") as f:
        fw = f.read()
    fw_pages = len(fw) // 4096
    fill = sum(1 for i in range(0, len(fw), 4096) if fw[i : i + 4096].count(fw[i : i + 1]) == 4096)
    samples = {}
    med = round_robin(region_variants(fw, slow=True), 3 if args.quick else 9, samples)
    ceiling = ceiling_s(fw_pages - fill, fw_pages, probe_us(med))
    rows = print_region(
        f"real firmware svsm_ovmf.fd in memory ({fill} pages of one repeated byte, hashed once)", fw_pages, med, ceiling
    )
    out["regions"]["svsm_ovmf"] = {
        "variants": rows,
        "speed_probe_us_per_page": probe_us(med),
        "vs_scaled_ceiling": vs_scaled_ceiling(samples, med, fw_pages - fill, fw_pages),
    }
    if "sev-snp-measure" in med:
        out["regions"]["svsm_ovmf"]["vs_sev_snp_measure"] = vs_ssm(samples, med)
    print(
        f"  => vs the ceiling for its {fw_pages - fill} distinct pages: {vs_ceiling_text(vs_scaled_ceiling(samples, med, fw_pages - fill, fw_pages))}"
        + (f"; vs sev-snp-measure (per round): {vs_ssm(samples, med):.2f}x" if "sev-snp-measure" in med else "")
    )

    if not args.quick:
        with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR", "/tmp"), delete=False) as f:
            for _ in range(256):
                f.write(os.urandom(1 << 20))
            path = f.name
        try:
            npages = (256 << 20) // 4096

            def mapped(kernel: str, threads: Optional[int]) -> Callable[[], object]:
                def run() -> object:
                    _core.set_simd(kernel)
                    m = map_file(path)  # what the measurement path uses for files
                    d = _core.NativeLaunchDigest(threads=threads)
                    d.update_normal(0, m)
                    if isinstance(m, mmap.mmap):
                        m.close()
                    return d.digest()

                return run

            before = rss_anon_kib()
            mapped(default_kernel, None)()
            growth_mib = (rss_anon_kib() - before) / 1024
            v: Dict[str, Callable[[], object]] = {
                f"native {default_kernel} {CPUS}T mmap": mapped(default_kernel, None),
                f"native {default_kernel} 1T mmap": mapped(default_kernel, 1),
            }
            if default_kernel == "avx512":
                v[f"native avx2 {CPUS}T mmap"] = mapped("avx2", None)
            if ssm_gctx is not None:

                def ssm_run() -> object:
                    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
                        g = ssm_gctx.GCTX()
                        g.update_normal_pages(0, m)
                        return g.ld()

                v["sev-snp-measure (mmap)"] = ssm_run
            samples = {}
            med = round_robin(v, 3, samples)
            # no probe in these rounds (each takes seconds): scale by the 64 MiB rounds' probe
            rows = print_region(
                "256 MiB of random pages through mmap, end to end", npages, med, ceiling_s(npages, npages, hashlib_us)
            )
            speed = hashlib_us / NOTES_HASHLIB_US
            gbps = npages * 4096 / best_native(med) / 1e9
            forced = (
                f"; avx512 is {median_ratio(samples[f'native avx2 {CPUS}T mmap'], samples[f'native avx512 {CPUS}T mmap']):.2f}x avx2 forced "
                f"(target >= 2.8{bound_ratio('avx2', 'avx512', 'pipeline')})"
                if default_kernel == "avx512"
                else ""
            )
            print(
                f"  => {gbps:.2f} GB/s (target >= 1.3"
                + (f"; {gbps * speed:.2f} GB/s at the speed the ceiling was derived at" if speed == speed else "")
                + f"); anonymous memory growth {growth_mib:.1f} MiB (target <= 32)"
                + forced
                + (
                    f"; vs sev-snp-measure (per round) {vs_ssm(samples, med, 'sev-snp-measure (mmap)'):.2f}x (target >= 4)"
                    if "sev-snp-measure (mmap)" in med
                    else ""
                )
            )
            out["regions"]["256MiB_mmap"] = {"variants": rows, "gb_per_s": gbps, "rss_anon_growth_mib": growth_mib}
            if "sev-snp-measure (mmap)" in med:
                out["regions"]["256MiB_mmap"]["vs_sev_snp_measure"] = vs_ssm(samples, med, "sev-snp-measure (mmap)")
        finally:
            os.unlink(path)

    # whole-process CLI time on a 3.5 MiB OVMF with SEV metadata
    ovmf = os.path.join(ROOT, "tests", "fixtures", "peer", "svsm_ovmf.fd")
    argv = ["--mode", "snp", "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--ovmf", ovmf]
    cmds = {"snpmeasure measure": [sys.executable, "-m", "snpmeasure", "measure", *argv]}
    if ssm_gctx is not None:
        cmds["sev-snp-measure"] = [sys.executable, "-m", "sevsnpmeasure.cli", *argv]
    env = dict(os.environ, PYTHONPATH=ROOT)
    # Byte-compile the package first, as `pip install` does (sev-snp-measure's modules are compiled
    # in site-packages); with PYTHONDONTWRITEBYTECODE set, every run would otherwise recompile.
    import compileall

    compileall.compile_dir(os.path.join(ROOT, "snpmeasure"), quiet=1)
    outputs = {name: subprocess.run(c, capture_output=True, text=True, env=env).stdout for name, c in cmds.items()}
    if len(set(outputs.values())) != 1:
        print("WARNING: the two CLIs printed different measurements:", outputs)
    cmed = round_robin(
        {name: (lambda c=c: subprocess.run(c, capture_output=True, env=env)) for name, c in cmds.items()},
        5 if args.quick else 11,
    )
    print("\nwhole-process CLI time (median)")
    for name, t in cmed.items():
        print(f"  {name:<20} {t * 1e3:>7.1f} ms")
    if "sev-snp-measure" in cmed:
        print(
            f"  => snpmeasure is {cmed['sev-snp-measure'] / cmed['snpmeasure measure']:.2f}x sev-snp-measure (target > 1)"
        )
    out["cli_seconds"] = cmed

    # Start-up: a command that does almost nothing, against the interpreter alone, in the same
    # rounds. What snpmeasure adds on top of `python -c pass` is what its imports cost; the CLI
    # dispatch imports only the running command's module, so this must not grow between releases
    # (0.1.0, one cli.py: about 67 ms over the interpreter on the Zen 3 development VM).
    starts = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "snpmeasure --version": [sys.executable, "-m", "snpmeasure", "--version"],
        "snpmeasure policy decode": [sys.executable, "-m", "snpmeasure", "policy", "decode", "0x30000"],
        "snpmeasure info": [sys.executable, "-m", "snpmeasure", "info"],
    }
    smed = round_robin(
        {name: (lambda c=c: subprocess.run(c, capture_output=True, env=env)) for name, c in starts.items()},
        7 if args.quick else 21,
    )
    base = smed["python -c pass"]
    print("\nstart-up (median; what snpmeasure adds over the bare interpreter)")
    for name, t in smed.items():
        print(
            f"  {name:<26} {t * 1e3:>7.1f} ms" + ("" if name == "python -c pass" else f"   +{(t - base) * 1e3:.1f} ms")
        )
    out["startup_seconds"] = smed
    _core.set_simd(default_kernel)
    if args.json:

        def no_nan(x: Any) -> Any:  # no ceiling for this host: null, not NaN (which JSON lacks)
            if isinstance(x, dict):
                return {k: no_nan(v) for k, v in x.items()}
            return None if isinstance(x, float) and x != x else x

        with open(args.json, "w") as f:
            json.dump(no_nan(out), f, indent=2)


if __name__ == "__main__":
    main()
