"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

import contextlib
import io
import sys
from typing import List

import pytest

from ..support import FIXTURES, load_vectors

try:  # the differential oracle; sev-snp-measure 0.0.13 needs Python >= 3.10 (the [test] extra skips it below)
    from sevsnpmeasure import cli as ssm_cli
    from sevsnpmeasure import guest as ssm_guest  # noqa: F401  (re-exported: the differential tests use it)
    from sevsnpmeasure.sev_mode import SevMode  # noqa: F401  (re-exported)
    from sevsnpmeasure.vmm_types import VMMType  # noqa: F401  (re-exported)

    HAVE_SSM = True
except ImportError:  # the names stay importable; the tests that use them skip (needs_ssm)
    HAVE_SSM = False
    ssm_cli = ssm_guest = SevMode = VMMType = None  # type: ignore[assignment]


#: Only the tests that call sev-snp-measure skip without it; where it installs, its absence fails
#: test_the_oracle_is_present_where_it_installs instead of skipping quietly.
needs_ssm = pytest.mark.skipif(not HAVE_SSM, reason="sev-snp-measure 0.0.13 (the oracle) needs Python >= 3.10")


PEER = FIXTURES / "peer"


VECTORS = load_vectors()


#: An empty regular file (not os.devnull: a kernel must be a file QEMU can size)
EMPTY = str(FIXTURES / "empty")


def run_ssm(argv: List[str], monkeypatch: pytest.MonkeyPatch) -> tuple:
    out = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["sev-snp-measure"] + argv)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = ssm_cli.main()
    return rc, out.getvalue()


A = str(PEER / "ovmf_AmdSev_suffix.bin")


X = str(PEER / "ovmf_OvmfX64_suffix.bin")

#: The Coconut SVSM fixture's files, for --mode snp:svsm (tests/fixtures/README.md).
SVSM_FILES = ["--ovmf", str(PEER / "svsm_ovmf.fd"), "--svsm", str(PEER / "svsm.bin"), "--vars-size", "540672"]
