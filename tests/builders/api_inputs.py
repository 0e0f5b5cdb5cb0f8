"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from ..support import FIXTURES

OVMF = str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin")


MEASURE = dict(mode="snp", ovmf=OVMF, vcpus=1, vcpu_type="EPYC-Milan")
