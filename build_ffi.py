"""cffi (API mode) builder for snpmeasure._native.

The cdef is the cdef-only public header csrc/snpmeasure.h; the C sources never include Python.h,
so cffi releases the GIL around every call. Extra compiler flags (e.g. -Werror or sanitizers in CI)
come from the SNPMEASURE_CFLAGS environment variable.
"""
import os
import shlex

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")
SOURCES = ["sha512.c", "sha512_avx2.c", "launch_digest.c"]

ffibuilder = FFI()
with open(os.path.join(CSRC, "snpmeasure.h"), encoding="utf-8") as f:
    ffibuilder.cdef(f.read())

ffibuilder.set_source(
    "snpmeasure._native",
    "#include <stddef.h>\n#include <stdint.h>\n#include \"snpmeasure.h\"\n",
    # Relative paths keep the sdist and wheel builds reproducible.
    sources=[os.path.relpath(os.path.join(CSRC, s)) for s in SOURCES],
    include_dirs=[os.path.relpath(CSRC)],
    extra_compile_args=["-std=gnu11", "-O3"] + shlex.split(os.environ.get("SNPMEASURE_CFLAGS", "")),
    extra_link_args=shlex.split(os.environ.get("SNPMEASURE_LDFLAGS", "")),
    libraries=["pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
