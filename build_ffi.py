"""cffi (API mode) builder for snpmeasure._native.

The cdef is the cdef-only public header csrc/snpmeasure.h; the C sources never include Python.h,
so cffi releases the GIL around every call. Extra compiler flags (e.g. -Werror or sanitizers in CI)
come from the SNPMEASURE_CFLAGS environment variable. SNPMEASURE_REQUIRE_AVX2=1 makes a compiler
that cannot build the AVX2 kernel an error instead of a portable-only build, SNPMEASURE_REQUIRE_AVX512=1
the same for the AVX-512 kernel. No -march flag is ever added: only the kernels carry target(...)
attributes, and the core picks one at run time.
"""

import os
import platform
import shlex
import subprocess
import sys
import sysconfig
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")
SOURCES = ["sha512.c", "sha512_avx2.c", "sha512_avx512.c", "launch_digest.c", "igvm_scan.c"]

#: What SNP_HAVE_AVX2_KERNEL turns on in csrc/: target("avx2") intrinsics, target("bmi2") (the
#: chain's rorx) and the run-time CPU check.
AVX2_PROBE = """#include <immintrin.h>
__m256i probe_avx2(__m256i a, __m256i b);
unsigned long long probe_bmi2(unsigned long long x);
int probe_cpu(void);
__attribute__((target("avx2"))) __m256i probe_avx2(__m256i a, __m256i b) { return _mm256_add_epi64(a, b); }
__attribute__((target("bmi2"))) unsigned long long probe_bmi2(unsigned long long x) { return (x >> 7) | (x << 57); }
int probe_cpu(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx2") + __builtin_cpu_supports("bmi2"); }
"""

#: What SNP_HAVE_AVX512_KERNEL turns on: the zmm, ymm and xmm forms of vprorq and vpternlogq, the
#: zmm byte shuffle (BW) and 128-bit-lane shuffle, and the run-time checks of all three features.
AVX512_PROBE = """#include <immintrin.h>
#define T __attribute__((target("avx512f,avx512vl,avx512bw")))
T __m512i probe_zmm(__m512i a, __m512i b);
T __m256i probe_ymm(__m256i a, __m256i b);
T __m128i probe_xmm(__m128i a, __m128i b);
int probe_cpu(void);
T __m512i probe_zmm(__m512i a, __m512i b) {
    return _mm512_shuffle_epi8(_mm512_shuffle_i64x2(_mm512_ternarylogic_epi64(_mm512_ror_epi64(a, 14), b, a, 0x96), b, 0x88), b);
}
T __m256i probe_ymm(__m256i a, __m256i b) { return _mm256_ternarylogic_epi64(_mm256_ror_epi64(a, 14), b, a, 0xca); }
T __m128i probe_xmm(__m128i a, __m128i b) { return _mm_ternarylogic_epi64(_mm_ror_epi64(a, 14), b, a, 0xe8); }
int probe_cpu(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") + __builtin_cpu_supports("avx512vl") + __builtin_cpu_supports("avx512bw");
}
"""


def _compiles(source: str) -> bool:
    """Whether the C compiler of this build compiles ``source`` with the build's own flags (-m32,
    -march, sanitizers, ...) but not -Werror: a warning about a probe's few lines must not silently
    cost a fast kernel."""
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    flags = [
        f
        for f in shlex.split(os.environ.get("CFLAGS", "")) + shlex.split(os.environ.get("SNPMEASURE_CFLAGS", ""))
        if not f.startswith("-Werror")
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w", encoding="utf-8") as f:
                f.write(source)
            return (
                subprocess.run(
                    cc + flags + ["-c", src, "-o", os.path.join(tmp, "probe.o")],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ).returncode
                == 0
            )
    except OSError:
        return False  # no usable compiler here: the real build reports that


def _compiler_name() -> str:
    return " ".join(shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"))


def _kernel_or_fallback(kernel: str, probe: str, flag: str, fallback: str) -> list:
    """[] if the probe for ``kernel`` compiles (or this is no x86-64 machine: csrc/sha512.h enables
    the x86 kernels there only), else [flag] and a line on stderr; with SNPMEASURE_REQUIRE_<KERNEL>=1
    a failed probe stops the build instead."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    if _compiles(probe):
        return []
    env = "SNPMEASURE_REQUIRE_" + kernel.replace("-", "")
    message = f"snpmeasure: the C compiler ({_compiler_name()}) cannot build the {kernel} kernel"
    if os.environ.get(env) == "1":
        raise SystemExit(f"{message} and {env}=1 is set")
    print(f"{message}; {fallback}", file=sys.stderr)
    return [flag]


def avx2_kernel_flags() -> list:
    """[] if the C compiler builds the AVX2 kernel, else ["-DSNP_NO_AVX2"]: the build then succeeds
    with the portable kernel alone (``snpmeasure info`` shows it too)."""
    return _kernel_or_fallback(
        "AVX2", AVX2_PROBE, "-DSNP_NO_AVX2", "building the portable kernel only (about 2.5x slower per page)"
    )


def avx512_kernel_flags() -> list:
    """[] if the C compiler builds the AVX-512 kernel, else ["-DSNP_NO_AVX512"]: the build then has
    the AVX2 and portable kernels."""
    return _kernel_or_fallback(
        "AVX-512", AVX512_PROBE, "-DSNP_NO_AVX512", "building the AVX2 and portable kernels only"
    )


def kernel_flags() -> list:
    """The -D flags that leave out the kernels this compiler cannot build (AVX-512 needs AVX2)."""
    avx2 = avx2_kernel_flags()
    return avx2 if avx2 else avx512_kernel_flags()


ffibuilder = FFI()
with open(os.path.join(CSRC, "snpmeasure.h"), encoding="utf-8") as f:
    ffibuilder.cdef(f.read())

ffibuilder.set_source(
    "snpmeasure._native",
    '#include <stddef.h>\n#include <stdint.h>\n#include "snpmeasure.h"\n',
    # Relative paths keep the sdist and wheel builds reproducible.
    sources=[os.path.relpath(os.path.join(CSRC, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(CSRC)],
    extra_compile_args=["-std=gnu11", "-O3"] + kernel_flags() + shlex.split(os.environ.get("SNPMEASURE_CFLAGS", "")),
    extra_link_args=shlex.split(os.environ.get("SNPMEASURE_LDFLAGS", "")),
    libraries=["pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
