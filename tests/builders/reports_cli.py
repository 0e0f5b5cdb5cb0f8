"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from ..support import FIXTURES

ATT = FIXTURES / "attestation"


RAW = (ATT / "attestation.bin").read_bytes()


VCEK = ATT / "vcek.testcer"


MEASUREMENT = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"
