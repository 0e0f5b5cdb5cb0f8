# Named tasks for developers and for CI (.ci/run calls these targets). `make` lists them.
# Variables: PYTHON (default python), PYTEST_ARGS (extra pytest arguments), FUZZ_SECONDS.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c  # a failing stage of a pipe (make fuzz | tail) fails the target
PYTHON ?= python
PYTEST ?= $(PYTHON) -m pytest
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 45
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g
STRICT_CFLAGS = -Wall -Wextra -Wconversion -Werror
comma := ,
KERNELS_NO_AVX512 := portable$(comma)avx2

.PHONY: help install test test-portable test-noavx2 test-noavx512 sanitize fuzz typecheck lint format docs wheel bench clean

help:
	@echo "make install        editable install with the test extra"
	@echo "make test           the README's test command (pytest)"
	@echo "make test-portable  the differential tests with the portable kernel, AVX2 forced (on AVX-512 hosts) and one thread"
	@echo "make test-noavx2    a build without the AVX2 kernel, its core tests; test-noavx512 the same without AVX-512"
	@echo "make sanitize       the C core under AddressSanitizer and UndefinedBehaviorSanitizer (tests marked sanitize)"
	@echo "make fuzz           libFuzzer on the C entry points (FUZZ_SECONDS, clang)"
	@echo "make typecheck      mypy --strict on the package and on a consumer of its API"
	@echo "make lint           ruff check, ruff format --check, clang-format --dry-run"
	@echo "make format         ruff format and clang-format, in place"
	@echo "make docs           the Sphinx site in docs/_build (warnings are errors, nitpicky)"
	@echo "make wheel          sdist, a wheel built from it, repaired to manylinux (dist/)"
	@echo "make bench          the benchmarks, short"

install:
	$(PYTHON) -m pip install -e '.[test]'

test:
	$(PYTEST) $(PYTEST_ARGS)

test-portable:
	SNPMEASURE_SIMD=off $(PYTEST) -q -p no:cacheprovider -m differential $(PYTEST_ARGS)
	if [ "$$($(PYTHON) -c 'import snpmeasure._core as c; print("avx512" in c.simd_info()["supported"])')" = True ]; then \
	    SNPMEASURE_SIMD=avx2 $(PYTEST) -q -p no:cacheprovider -m differential $(PYTEST_ARGS); fi
	SNPMEASURE_THREADS=1 $(PYTEST) -q -p no:cacheprovider -m differential $(PYTEST_ARGS)

# A copy of the tracked tree built with one -DSNP_NO_* flag; EXPECT: the kernels it must have built.
define build_without
	tree=$$(mktemp -d) && trap 'rm -rf "$$tree"' EXIT && \
	git ls-files | tar -cf - -T - | tar -xf - -C "$$tree" && \
	( cd "$$tree" && SNPMEASURE_CFLAGS="$(1) $(STRICT_CFLAGS)" $(PYTHON) build_ffi.py > build.log 2>&1 || { cat build.log; exit 1; } ) && \
	( cd "$$tree" && PYTHONPATH="$$tree" HYPOTHESIS_PROFILE=dev EXPECT="$(2)" $(PYTHON) -c 'import os, snpmeasure._core as c; i = c.simd_info(); print(i); assert ",".join(i["built"]) == os.environ["EXPECT"] and set(i["supported"]) <= set(i["built"]), i' && \
	  PYTHONPATH="$$tree" HYPOTHESIS_PROFILE=dev $(PYTEST) -q -p no:cacheprovider -m core $(PYTEST_ARGS) )
endef

test-noavx2:
	$(call build_without,-DSNP_NO_AVX2,portable)

test-noavx512:
	$(call build_without,-DSNP_NO_AVX512,$(KERNELS_NO_AVX512))

sanitize:
	tree=$$(mktemp -d) && trap 'rm -rf "$$tree"' EXIT && \
	git ls-files | tar -cf - -T - | tar -xf - -C "$$tree" && \
	( cd "$$tree" && SNPMEASURE_CFLAGS="$(SAN_FLAGS) $(STRICT_CFLAGS)" SNPMEASURE_LDFLAGS="-fsanitize=address,undefined" \
	    $(PYTHON) build_ffi.py > build.log 2>&1 || { cat build.log; exit 1; } ) && \
	( cd "$$tree" && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  LD_PRELOAD="$$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so)" PYTHONPATH="$$tree" HYPOTHESIS_PROFILE=dev \
	  $(PYTEST) -q -p no:cacheprovider -m sanitize $(PYTEST_ARGS) )

fuzz:
	$(MAKE) -s -C fuzz fuzz_launch_digest
	$(MAKE) -s -C fuzz run SECONDS=$(FUZZ_SECONDS) 2>&1 | tail -3
	$(MAKE) -s -C fuzz clean && rm -rf fuzz/corpus

typecheck:
	$(PYTHON) -m mypy --strict snpmeasure tests/typing/consumer.py

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	clang-format --dry-run --Werror csrc/*.c csrc/*.h fuzz/*.c

format:
	$(PYTHON) -m ruff format .
	clang-format -i csrc/*.c csrc/*.h fuzz/*.c

docs:
	$(PYTHON) -m sphinx -W -n --keep-going -b html docs docs/_build/html

wheel:
	rm -rf dist
	$(PYTHON) -m build
	$(PYTHON) -m auditwheel repair --wheel-dir dist/repaired dist/*.whl
	ls -l dist dist/repaired

bench:
	$(PYTHON) bench/run.py --quick
	$(PYTHON) bench/sweep.py --max 64
	$(PYTHON) bench/igvm.py --quick
	$(PYTHON) bench/explain.py --reps 3

clean:
	rm -rf build dist docs/_build .pytest_cache
