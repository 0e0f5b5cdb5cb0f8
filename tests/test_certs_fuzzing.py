"""snpmeasure.certs against hostile CRLs (random and mutated, also signed by the trusted ARK)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure.report import AttestationReport

from .builders import reports as tr
from .builders.hostile import REPORT, mutate, only_errors, seeds
from .support import FIXTURES

pytestmark = [pytest.mark.sanitize]


def _forged_milan_crl() -> bytes:
    """A DER CRL naming AMD's Milan ARK as issuer, signed by a throwaway key, revoking serial 2."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    from snpmeasure.certs import load_certs

    ark = load_certs(FIXTURES / "attestation" / "ask_ark_milan.pem", "ask_ark")[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    day = datetime.datetime(2025, 1, 1)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ark.subject)
        .last_update(day)
        .next_update(day + datetime.timedelta(days=3650))
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(2).revocation_date(day).build())
        .sign(key, hashes.SHA384(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48))
    )
    return crl.public_bytes(Encoding.DER)


CRL = _forged_milan_crl()


def _der_len(n: int) -> bytes:
    return (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )


def _der_children(der: bytes) -> list:
    """The encoded elements inside a DER SEQUENCE (enough DER for a CRL's three parts)."""

    def length(pos: int) -> tuple:
        first = der[pos]
        if first < 0x80:
            return first, pos + 1
        k = first & 0x7F
        return int.from_bytes(der[pos + 1 : pos + 1 + k], "big"), pos + 1 + k

    _, pos = length(1)
    out = []
    while pos < len(der):
        n, body = length(pos + 1)
        out.append(der[pos : body + n])
        pos = body + n
    return out


@given(rnd=seeds, n=st.integers(1, 10), cut=st.integers(0, 600))
def test_crls(rnd: random.Random, n: int, cut: int) -> None:
    vcek = FIXTURES / "attestation" / "vcek.testcer"
    for data in (mutate(CRL, rnd, n), CRL[:cut]):
        only_errors(lambda: AttestationReport.from_bytes(REPORT).verify(vcek, crl=data, now=tr.WHILE_VALID))  # noqa: B023


@settings(max_examples=60)
@given(rnd=seeds, n=st.integers(1, 6))
def test_crls_signed_by_the_trusted_ark(rnd: random.Random, n: int) -> None:
    """Mutations of a CRL's signed part, re-signed by a trusted ARK: they pass the signature check
    and reach every later rule; still only snpmeasure.Error may escape."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import Encoding

    tbs, alg, _ = _der_children(tr.make_crl(revoked=(7, 9)).public_bytes(Encoding.DER))
    body = mutate(tbs, rnd, n)
    sig = tr.ARK_KEY.sign(body, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())
    inner = body + alg + b"\x03" + _der_len(len(sig) + 1) + b"\x00" + sig
    only_errors(lambda: tr.verify_with_crl(b"\x30" + _der_len(len(inner)) + inner))
