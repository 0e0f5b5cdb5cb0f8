"""The native LaunchDigest and backend selection. The only module that imports ``_native``.

``SNPMEASURE_BACKEND=python`` selects the pure-Python reference; anything else (default
``native``) requires the compiled core and fails loudly if it is missing or broken: a silent
fallback would make a build pipeline 4x slower without anyone noticing.
``SNPMEASURE_SIMD=avx512|avx2|portable`` forces a content-hashing kernel (the chain follows it);
``off`` is ``portable``, ``auto``/``on`` (or unset) the best one this build and CPU run. A forced
kernel the build or CPU lacks is an import error, never a silent fallback.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .errors import InvalidInputError, NativeError, show
from .pages import DIGEST_SIZE, PAGE_SIZE, LaunchDigestBase, PageType

_BACKEND_ENV = os.environ.get("SNPMEASURE_BACKEND", "native").strip().lower() or "native"
if _BACKEND_ENV not in ("native", "python"):
    raise ImportError(
        f"SNPMEASURE_BACKEND: must be 'native' or 'python', got {show(_BACKEND_ENV)}", name="SNPMEASURE_BACKEND"
    )

_native: Any = None
if _BACKEND_ENV == "native":
    try:
        from . import _native
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        raise ImportError(
            "snpmeasure: the native core (snpmeasure._native) is not built or does not load "
            f"({exc}); reinstall with a C compiler available, or set SNPMEASURE_BACKEND=python "
            "to use the slow pure-Python reference"
        ) from exc

#: Which LaunchDigest implementation ``snpmeasure.LaunchDigest`` is: "native" or "python".
backend: str = _BACKEND_ENV


def _field_for(code: int) -> str:
    lib = _native.lib
    return {
        lib.SNP_ERR_LENGTH: "length",
        lib.SNP_ERR_GPA_ALIGN: "gpa",
        lib.SNP_ERR_GPA_WRAP: "gpa",
        lib.SNP_ERR_PAGE_TYPE: "page_type",
        lib.SNP_ERR_NULL_DATA: "data",
        lib.SNP_ERR_IMI: "imi",
        lib.SNP_ERR_THREADS: "threads",
        lib.SNP_ERR_SIMD: "simd",
        lib.SNP_ERR_TOO_LARGE: "length",
        lib.SNP_ERR_REPEAT: "count",
    }.get(code, "")


def check_rc(rc: int) -> None:
    """Turn a native error code into the matching snpmeasure exception."""
    if rc == 0:
        return
    message = _native.ffi.string(_native.lib.snp_strerror(rc)).decode()
    field = _field_for(rc)
    if field:
        raise InvalidInputError(field, message)
    if rc == _native.lib.SNP_ERR_NOMEM:
        raise MemoryError(f"snpmeasure native core: {message}")
    raise NativeError(f"snpmeasure native core: {message} (code {rc})")


#: Kernel names, in order of preference, and their SNP_SIMD_* codes in csrc/snpmeasure.h.
KERNELS = ("avx512", "avx2", "portable")


def _kernel_code(name: str) -> int:
    lib = _native.lib
    codes = {"portable": lib.SNP_SIMD_PORTABLE, "avx2": lib.SNP_SIMD_AVX2, "avx512": lib.SNP_SIMD_AVX512}
    return int(codes[name])


def _kernel_name(code: int) -> str:
    return next(k for k in KERNELS if _kernel_code(k) == code)


def _apply_simd_env() -> None:
    setting = os.environ.get("SNPMEASURE_SIMD", "").strip().lower()
    if setting in ("", "auto", "on"):
        return
    kernel = "portable" if setting == "off" else setting
    # An ImportError (the setting applies at import, and a forced kernel must never fall back
    # silently) named after the variable, which the CLI says in one line.
    if kernel not in KERNELS:
        raise ImportError(
            f"SNPMEASURE_SIMD: must be 'auto', 'on', 'off', 'avx512', 'avx2' or 'portable', got {show(setting)}",
            name="SNPMEASURE_SIMD",
        )
    if not _native.lib.snp_simd_supported(_kernel_code(kernel)):
        raise ImportError(f"SNPMEASURE_SIMD={kernel}: {_unsupported(kernel)}", name="SNPMEASURE_SIMD")
    check_rc(_native.lib.snp_simd_set(_kernel_code(kernel)))


#: The CPU features each kernel needs (csrc/snpmeasure.h SNP_CPU_*).
_FEATURES = {"avx2": ("avx2",), "avx512": ("avx512f", "avx512vl", "avx512bw")}
_FEATURE_BITS = {"avx2": 1, "bmi2": 2, "avx512f": 4, "avx512vl": 8, "avx512bw": 16}


def cpu_features() -> List[str]:
    """The CPU features the kernels use that this CPU (and its OS) supports."""
    if _native is None:
        return []
    bits = _native.lib.snp_cpu_features()
    return [name for name, bit in _FEATURE_BITS.items() if bits & bit]


def _unsupported(kernel: str) -> str:
    if not _native.lib.snp_simd_built(_kernel_code(kernel)):
        return "this build of snpmeasure has no such kernel (its compiler failed build_ffi.py's probe)"
    missing = [f for f in _FEATURES[kernel] if f not in cpu_features()]
    return f"this CPU lacks {', '.join(missing)}"


#: A region of more pages than this is handed to C in slices of this many (4 GiB: about 0.3 s of
#: chaining, seconds of hashing), so Ctrl-C can stop a huge one between calls: a ZERO region may
#: span 2**52 pages, days of chaining. The slices extend a copy; the digest changes only at the end.
_SLICE_PAGES = 1 << 20


class NativeLaunchDigest(LaunchDigestBase):
    """SNP launch digest computed by the C core (GIL released, threads for large regions)."""

    def _init_state(self, seed: bytes) -> None:
        self._ld = _native.ffi.new("uint8_t[48]", seed)

    def _sliced(self, npages: int, extend: Callable[[Any, int, int], int]) -> None:
        """Run ``extend(ld, first_page, pages)`` over ``npages`` in slices of ``_SLICE_PAGES``, on
        a copy of the digest that replaces it once every slice succeeded (one call when it fits)."""
        if npages <= _SLICE_PAGES:
            check_rc(extend(self._ld, 0, npages))
            return
        work = _native.ffi.new("uint8_t[48]", bytes(_native.ffi.buffer(self._ld, DIGEST_SIZE)))
        for first in range(0, npages, _SLICE_PAGES):
            check_rc(extend(work, first, min(_SLICE_PAGES, npages - first)))
        _native.ffi.memmove(self._ld, work, DIGEST_SIZE)

    def _update_region(
        self, ptype: PageType, gpa: int, view: Optional[memoryview], length: int, imi: int, v1: int, v2: int, v3: int
    ) -> None:
        ffi, lib = _native.ffi, _native.lib
        data = ffi.NULL if view is None else ffi.from_buffer(view)

        def extend(ld: Any, first: int, pages: int) -> int:
            at = data if view is None else data + first * PAGE_SIZE
            gpa_at, size = gpa + first * PAGE_SIZE, pages * PAGE_SIZE
            return int(lib.snp_ld_update(ld, int(ptype), gpa_at, at, size, imi, v1, v2, v3, self._threads))

        self._sliced(length // PAGE_SIZE, extend)  # check_update made length a multiple of 4096

    def _update_repeat(
        self, ptype: PageType, gpa: int, page: memoryview, count: int, trail: bool = False
    ) -> List[bytes]:
        ffi, lib = _native.ffi, _native.lib
        out = ffi.new("uint8_t[]", DIGEST_SIZE * count) if trail else ffi.NULL
        check_rc(lib.snp_ld_update_repeat(self._ld, int(ptype), gpa, ffi.from_buffer(page), count, 0, 0, 0, 0, out))
        if not trail:
            return []
        raw = bytes(ffi.buffer(out, DIGEST_SIZE * count))
        return [raw[i : i + DIGEST_SIZE] for i in range(0, len(raw), DIGEST_SIZE)]

    def _update_fill(self, ptype: PageType, gpa: int, page: memoryview, npages: int) -> None:
        ffi, lib = _native.ffi, _native.lib
        buf = ffi.from_buffer(page)

        def extend(ld: Any, first: int, pages: int) -> int:
            return int(lib.snp_ld_update_fill(ld, int(ptype), gpa + first * PAGE_SIZE, buf, pages, 0, 0, 0, 0))

        self._sliced(npages, extend)

    def digest(self) -> bytes:
        """The current launch digest (48 bytes)."""
        with self._lock:
            return bytes(_native.ffi.buffer(self._ld, DIGEST_SIZE))

    def copy(self) -> NativeLaunchDigest:
        """An independent copy of this digest state."""
        other = NativeLaunchDigest.__new__(NativeLaunchDigest)
        other._threads = self._threads
        other._lock = threading.Lock()
        other._init_state(self.digest())
        return other


if TYPE_CHECKING:  # a class for type checkers; the python backend has the same API (LaunchDigestBase)
    LaunchDigest = NativeLaunchDigest
elif backend == "native":
    _apply_simd_env()
    LaunchDigest = NativeLaunchDigest
else:
    from . import _reference

    LaunchDigest = _reference.LaunchDigest


def native_available() -> bool:
    """True when the compiled core is loaded."""
    return _native is not None


def simd_info() -> Dict[str, object]:
    """Which content-hashing kernels exist and which is active (native backend only): ``built``
    (compiled into this build), ``supported`` (built and this CPU runs them), ``active`` (the
    kernel in use), ``chain`` (the PAGE_INFO chain that kernel runs), ``cpu_features``."""
    if _native is None:
        return {"backend": backend, "built": [], "supported": [], "active": None, "chain": None, "cpu_features": []}
    lib = _native.lib
    order = KERNELS[::-1]
    return {
        "backend": backend,
        "built": [k for k in order if lib.snp_simd_built(_kernel_code(k))],
        "supported": [k for k in order if lib.snp_simd_supported(_kernel_code(k))],
        "active": _kernel_name(lib.snp_simd_get()),
        "chain": _kernel_name(lib.snp_chain_get()),
        "cpu_features": cpu_features(),
        "cpus": lib.snp_online_cpus(),
    }


def set_simd(kernel: str) -> None:
    """Select the content-hashing kernel: "avx512", "avx2" or "portable" (native backend only).
    The serial chain follows: "portable" runs the baseline x86-64 chain, "avx2" the AVX2+BMI2
    one, "avx512" the one whose message schedule uses AVX-512VL."""
    if _native is None:
        raise InvalidInputError("simd", "needs the native backend")
    if kernel not in KERNELS:
        raise InvalidInputError("simd", f"must be 'avx512', 'avx2' or 'portable', got {show(kernel)}")
    if not _native.lib.snp_simd_supported(_kernel_code(kernel)):
        raise InvalidInputError("simd", f"{kernel}: {_unsupported(kernel)}")
    check_rc(_native.lib.snp_simd_set(_kernel_code(kernel)))


#: At most this many regions per snp_igvm_page_run call (bounds the buffer, 5 u64 each; a run
#: with more regions takes more calls).
_IGVM_REGIONS = 1024

#: A region of an IGVM page run: (gpa, pages, file offset or 0, index of its first header, mask).
IgvmRegion = Tuple[int, int, int, int, int]


class IgvmPageRuns:
    """Reads runs of plain PAGE_DATA headers of one IGVM file (bytes-like, not to change while
    read) with the native core (csrc/igvm_scan.c), one buffer for every run."""

    def __init__(self, data: Any) -> None:
        ffi = _native.ffi
        self._buf = ffi.from_buffer(data)
        self._size = len(self._buf)
        self._room = _IGVM_REGIONS
        self._regions = ffi.new("uint64_t[]", 5 * self._room)
        self._counts = ffi.new("uint64_t[3]")

    def run(self, off: int, end: int, data_start: int, snp_mask: int) -> Tuple[int, List[IgvmRegion], int]:
        """The run from ``off``: (headers taken, merged regions, index of the region where the run
        QEMU would hold open at its end starts); (0, [], 0) when the header at ``off`` is no plain
        page of the platform."""
        ffi, lib = _native.ffi, _native.lib
        counts, out, room = self._counts, self._regions, self._room
        taken = 0
        regions: List[IgvmRegion] = []
        trailing = 0
        while True:
            check_rc(lib.snp_igvm_page_run(self._buf, self._size, off, end, data_start, snp_mask, out, room, counts))
            n, nreg, qemu_start = int(counts[0]), int(counts[1]), int(counts[2])
            if n == 0:
                return taken, regions, trailing
            flat = list(ffi.unpack(out, 5 * nreg))
            new = [(flat[i], flat[i + 1], flat[i + 2], flat[i + 3] + taken, flat[i + 4]) for i in range(0, 5 * nreg, 5)]
            # The run QEMU holds open at the end: it starts at this call's last break, or, when
            # this call (after a full buffer) has none and goes on from the previous call's run,
            # earlier.
            if qemu_start or not regions:
                trailing = len(regions) + qemu_start
            else:
                last, first = regions[-1], new[0]
                runs_on = (
                    first[0] == last[0] + last[1] * 4096 and first[4] == last[4] and bool(first[2]) == bool(last[2])
                )
                if not runs_on:
                    trailing = len(regions)
            regions.extend(new)
            taken += n
            off += 32 * n
            if nreg < room:
                return taken, regions, trailing


def igvm_page_runs(data: Any) -> Optional[IgvmPageRuns]:
    """A reader of an IGVM file's page runs, or None without the native core (or with a core built
    before it had one): the caller then reads every header itself."""
    if _native is None or not hasattr(_native.lib, "snp_igvm_page_run"):
        return None
    return IgvmPageRuns(data)  # _IGVM_REGIONS sizes its buffer (tests shrink it: runs take more calls)


def sha384_pages(data: bytes, threads: int = 1) -> bytes:
    """SHA-384 of each 4 KiB page of ``data`` (48 bytes per page), via the native kernels."""
    if _native is None:
        raise InvalidInputError("backend", "sha384_pages needs the native backend")
    view = memoryview(data).cast("B")
    if view.nbytes % PAGE_SIZE:
        raise InvalidInputError("data", f"must be a multiple of 4096 bytes, got {view.nbytes}")
    n = view.nbytes // PAGE_SIZE
    out = _native.ffi.new("uint8_t[]", max(1, 48 * n))
    check_rc(_native.lib.snp_hash_pages(_native.ffi.from_buffer(view), n, out, threads))
    return bytes(_native.ffi.buffer(out, 48 * n))
