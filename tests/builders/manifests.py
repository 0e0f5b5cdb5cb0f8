"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from snpmeasure.images import FirmwareManifest

from ..support import FIXTURES

PEER = FIXTURES / "peer"


A = str(PEER / "ovmf_AmdSev_suffix.bin")


X = str(PEER / "ovmf_OvmfX64_suffix.bin")


GOOD = FirmwareManifest.from_image(A).to_json()
