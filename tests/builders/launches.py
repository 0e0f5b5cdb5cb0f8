"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from snpmeasure import measure

from ..support import FIXTURES

KEYS = FIXTURES / "keys"


A = str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin")


LD = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan").digest
