"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from ..support import FIXTURES

OVMF = str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin")


ATT = FIXTURES / "attestation"


# --at: inside the real VCEK's validity (it expires 2029-09-24), so the checks after the chain still run
VERIFY = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(ATT / "vcek.testcer"), "--at", "2026-06-01"]


KEY = str(FIXTURES / "keys" / "id_key_test.pem")


OBJ = "sev-snp-guest,id=a,policy=0x30000,cbitpos=51,reduced-phys-bits=1"
