"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from typing import Any, Tuple

from ..support import FIXTURES

ATT = FIXTURES / "attestation"


RAW = (ATT / "attestation.bin").read_bytes()


VCEK = ATT / "vcek.testcer"


MEASUREMENT = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"


def signed_by_test_chain(tmp_path: Any, monkeypatch: Any, name: str = "report", **report: Any) -> Tuple[str, str]:
    """A report (``make_report(**report)``) and its VCEK as files under ``tmp_path``, with the
    built-in AMD chain swapped for the test chain that signed them: (report path, VCEK path)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    import snpmeasure.certs
    from snpmeasure.report import AttestationReport

    from .reports import ARK, ASK, make_report, vcek_for

    monkeypatch.setattr(snpmeasure.certs, "product_chain", lambda product, kind="vcek": [ASK, ARK])
    r = AttestationReport.from_bytes(make_report(**report))
    (tmp_path / f"{name}.bin").write_bytes(r.raw)
    vcek = tmp_path / f"{name}-vcek.der"
    vcek.write_bytes(vcek_for(r.reported_tcb.components, b"\x11" * 64).public_bytes(Encoding.DER))
    return str(tmp_path / f"{name}.bin"), str(vcek)
