"""snpmeasure.report against hostile reports."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.report import AttestationReport

from .builders import reports as tr
from .builders.hostile import REPORT, mutate, only_errors, seeds
from .support import FIXTURES

pytestmark = [pytest.mark.sanitize]


@given(rnd=seeds, n=st.integers(1, 10), cut=st.integers(0, 1200))
def test_attestation_reports(rnd: random.Random, n: int, cut: int) -> None:
    data = mutate(REPORT, rnd, n)
    only_errors(lambda: AttestationReport.from_bytes(data).to_json())
    only_errors(lambda: AttestationReport.from_bytes(REPORT[:cut]))
    only_errors(
        lambda: AttestationReport.from_bytes(data).verify(FIXTURES / "attestation" / "vcek.testcer", now=tr.WHILE_VALID)
    )
