"""snpmeasure.certs: AMD's CRLs, certificate validity and product extensions."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any, List

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.errors import SignatureError
from snpmeasure.report import AttestationReport, ReportError

from .builders.reports import (
    ARK,
    ARK_KEY,
    ASK,
    ASK_KEY,
    URI,
    VCEK_CRL_URL,
    VCEK_KEY,
    VLEK_CRL_URL,
    cert,
    idp_naming,
    make_crl,
    make_report,
    point,
    vcek_for,
    verify_with_crl,
)
from .builders.reports_cli import RAW, VCEK


def test_real_vcek_validity_window() -> None:
    r = AttestationReport.from_bytes(RAW)
    assert r.verify(VCEK, now=datetime.datetime(2029, 9, 24, 0, 55, 28, tzinfo=datetime.timezone.utc)) == "milan"
    for outside in (datetime.datetime(2029, 9, 24, 0, 55, 29), datetime.datetime(2022, 9, 24)):
        with pytest.raises(
            SignatureError, match="VCEK certificate: valid from 2022-09-24T00:55:28Z to 2029-09-24T00:55:28Z, not at"
        ):
            r.verify(VCEK, now=outside)


def test_product_extension_and_validity_dates() -> None:
    r = AttestationReport.from_bytes(RAW)
    with pytest.raises(SignatureError, match="valid from"):
        r.verify(VCEK, now=datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc))
    with pytest.raises(SignatureError, match="valid from"):
        r.verify(VCEK, now=datetime.datetime(2000, 1, 1))
    raw = make_report()
    rep = AttestationReport.from_bytes(raw)
    genoa_named = vcek_for(rep.reported_tcb.components, b"\x11" * 64)
    exts = {e.oid.dotted_string: e.value.value for e in genoa_named.extensions}  # type: ignore[attr-defined]
    exts["1.3.6.1.4.1.3704.1.2"] = b"\x16\x08Genoa-B0"
    renamed = cert("SEV-VCEK", VCEK_KEY, "SEV-Test", ASK_KEY, exts)
    with pytest.raises(SignatureError, match="product extension"):
        rep.verify(renamed, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])


def test_crl_from_the_ark_that_revokes_nothing_passes_in_every_form(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    crl = make_crl(revoked=(0x99,))  # someone else's serial
    der, pem = crl.public_bytes(Encoding.DER), crl.public_bytes(Encoding.PEM)
    (tmp_path / "milan.crl").write_bytes(der)
    for form in (crl, der, pem, tmp_path / "milan.crl", str(tmp_path / "milan.crl")):
        assert verify_with_crl(form) == "milan"


@pytest.mark.parametrize(
    "crl,fragment",
    [
        (lambda: make_crl(revoked=(1,)), "ASK certificate: revoked by AMD's CRL on 2025-01-01T00:00:00Z (serial 0x1)"),
        (lambda: make_crl(signer=ASK_KEY), "CRL: its signature does not verify with the ARK's key"),
        (lambda: make_crl(issuer="ARK-Other"), "CRL: issued by CN=ARK-Other, not by the ARK (CN=ARK-Test)"),
        (lambda: make_crl(days=30), "CRL: out of date since 2025-01-31T00:00:00Z"),
        (
            lambda: make_crl(issued=datetime.datetime(2026, 6, 1)),
            "CRL: issued 2026-06-01T00:00:00Z, after 2026-01-01T00:00:00Z",
        ),
        (
            lambda: make_crl(signer=ec.generate_private_key(ec.SECP384R1())),
            "CRL: signed with 1.2.840.10045.4.3.3, not RSA-PSS",
        ),
        (lambda: make_crl(pss=False), "CRL: signed with 1.2.840.113549.1.1.12, not RSA-PSS"),
        (lambda: make_crl(extensions=((x509.DeltaCRLIndicator(5), True),)), "CRL: is a delta CRL"),
        (
            lambda: make_crl(
                extensions=((x509.IssuingDistributionPoint(None, None, True, False, None, False, False), True),)
            ),
            "CRL: its issuing distribution point limits it",
        ),
        (
            lambda: make_crl(
                extensions=(
                    (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True),
                )
            ),
            "CRL: has a critical extension this check does not understand (1.3.6.1.4.1.99999.1)",
        ),
        (
            lambda: make_crl(
                revoked=(7,),
                entry_extensions=(
                    (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.2"), b"\x05\x00"), True),
                ),
            ),
            "CRL: entry 0x7 has a critical extension",
        ),
    ],
)
def test_crl_failures_name_the_rule(crl: Any, fragment: str) -> None:
    with pytest.raises(SignatureError, match=re.escape(fragment)):
        verify_with_crl(crl())


def test_crl_checks_accept_what_amd_may_add() -> None:
    """Non-critical extensions, a CRL number, an IDP covering everything, reason codes on entries."""
    crl = make_crl(
        revoked=(9,),
        extensions=(
            (x509.CRLNumber(3), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ARK_KEY.public_key()), False),
            (
                x509.IssuingDistributionPoint(
                    [x509.UniformResourceIdentifier("https://kdsintf.amd.com/vcek/v1/Milan/crl")],
                    None,
                    False,
                    True,
                    None,
                    False,
                    False,
                ),
                True,
            ),  # only CA certificates: covers the ASK
            (x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.99999.3"), b"\x05\x00"), False),
        ),
        entry_extensions=((x509.CRLReason(x509.ReasonFlags.key_compromise), False),),
    )
    assert verify_with_crl(crl) == "milan"


def test_crl_that_names_its_distribution_point_must_be_the_intermediates() -> None:
    """AMD publishes a VCEK and a VLEK CRL per product under one ARK: a CRL that names its
    distribution point only covers the intermediate that names the same one (RFC 5280 §6.3.3)."""
    assert verify_with_crl(make_crl(extensions=idp_naming(VCEK_CRL_URL))) == "milan"
    with pytest.raises(
        SignatureError,
        match=re.escape(
            f"CRL: is the list of {VLEK_CRL_URL}, but the ASK certificate names {VCEK_CRL_URL}; fetch that CRL"
        ),
    ):
        verify_with_crl(make_crl(extensions=idp_naming(VLEK_CRL_URL)))
    relative = x509.IssuingDistributionPoint(
        None,
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, "crl")]),
        False,
        False,
        None,
        False,
        False,
    )
    with pytest.raises(SignatureError, match="a name relative to the issuer"):
        verify_with_crl(make_crl(extensions=((relative, True),)))
    # the VLEK side: an ASVK naming the VLEK CRL, checked against either CRL
    r = AttestationReport.from_bytes(make_report(key_info=1 << 2))
    asvk = cert("SEV-VLEK-Test", ASK_KEY, "ARK-Test", ARK_KEY, crl_url=VLEK_CRL_URL, ca=True)
    vlek = cert(
        "SEV-VLEK",
        VCEK_KEY,
        "SEV-VLEK-Test",
        ASK_KEY,
        {
            e.oid.dotted_string: e.value.value  # type: ignore[attr-defined]
            for e in vcek_for(r.reported_tcb.components, b"\x11" * 64).extensions
            if e.oid.dotted_string != "1.3.6.1.4.1.3704.1.4"
        },
    )

    def verify_vlek(crl: Any) -> str:
        return r.verify(
            vlek, ask_ark=[asvk, ARK], product="milan", trusted_arks=[ARK], crl=crl, now=datetime.datetime(2026, 1, 1)
        )

    assert verify_vlek(make_crl(extensions=idp_naming(VLEK_CRL_URL))) == "milan"
    with pytest.raises(SignatureError, match=re.escape(f"but the ASVK certificate names {VLEK_CRL_URL}")):
        verify_vlek(make_crl(extensions=idp_naming(VCEK_CRL_URL)))
    # an intermediate without a distribution point is covered by no named CRL
    bare = AttestationReport.from_bytes(make_report())
    with pytest.raises(SignatureError, match="names no distribution point"):
        bare.verify(
            vcek_for(bare.reported_tcb.components, b"\x11" * 64),
            ask_ark=[cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY, ca=True), ARK],
            product="milan",
            trusted_arks=[ARK],
            crl=make_crl(extensions=idp_naming(VCEK_CRL_URL)),
            now=datetime.datetime(2026, 1, 1),
        )


@pytest.mark.parametrize(
    "points,idp,ok",
    [
        (
            [point(URI("https://example.com/other.crl")), point(URI(VCEK_CRL_URL))],
            [URI(VCEK_CRL_URL)],
            True,
        ),  # any of its points
        (
            [point(URI("https://example.com/other.crl"), URI(VCEK_CRL_URL))],
            [URI(VCEK_CRL_URL)],
            True,
        ),  # any name of a point
        ([point(URI(VCEK_CRL_URL))], [x509.DNSName(VCEK_CRL_URL)], False),  # names compare with their type
        (
            [point(URI(VCEK_CRL_URL), reasons=frozenset({x509.ReasonFlags.key_compromise}))],
            [URI(VCEK_CRL_URL)],
            False,
        ),  # partial
        (
            [
                point(
                    URI(VCEK_CRL_URL),
                    crl_issuer=[x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other")]))],
                )
            ],
            [URI(VCEK_CRL_URL)],
            False,
        ),  # that point's CRL comes from another issuer
        ([point(URI(VCEK_CRL_URL))], None, True),  # an IDP that names no point: the ARK's complete CRL
    ],
)
def test_crl_distribution_point_matching(points: List[x509.DistributionPoint], idp: Any, ok: bool) -> None:
    """RFC 5280 §6.3.3: the intermediate's usable distribution points against the CRL's IDP name."""
    r = AttestationReport.from_bytes(make_report())
    ask = cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY, crl_points=points, ca=True)
    crl = make_crl(extensions=((x509.IssuingDistributionPoint(idp, None, False, True, None, False, False), True),))

    def verify() -> str:
        return r.verify(
            vcek_for(r.reported_tcb.components, b"\x11" * 64),
            ask_ark=[ask, ARK],
            product="milan",
            trusted_arks=[ARK],
            crl=crl,
            now=datetime.datetime(2026, 1, 1),
        )

    if ok:
        assert verify() == "milan"
    else:
        with pytest.raises(SignatureError, match="CRL: is the list of"):
            verify()


def test_unusable_crl_fails_before_the_chain() -> None:
    """A report whose chain fails still reports a junk CRL as bad input (exit 2), not as exit 1."""
    raw = make_report()
    r = AttestationReport.from_bytes(raw)
    with pytest.raises(ReportError, match="crl"):
        r.verify(
            vcek_for(r.reported_tcb.components, b"\x11" * 64),
            ask_ark=[ASK, ARK],
            product="milan",
            trusted_arks=[],
            crl=b"junk",
        )
    with pytest.raises(ReportError, match="crl: must be a CRL"):
        verify_with_crl(1 << 30)


def test_crl_that_is_no_crl_is_bad_input(tmp_path: Path) -> None:
    for junk in (b"", b"\x30\x03\x02\x01\x01", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", RAW):
        with pytest.raises(ReportError, match="crl: is not a PEM or DER X.509 CRL"):
            verify_with_crl(junk)
    big = tmp_path / "big.crl"
    big.write_bytes(b"\x30" * ((1 << 20) + 1))
    with pytest.raises(ReportError, match="larger than"):
        verify_with_crl(big)


def test_parse_utc_reads_dates_times_and_offsets() -> None:
    import datetime

    from snpmeasure.certs import parse_utc
    from snpmeasure.errors import InvalidInputError

    utc = datetime.timezone.utc
    assert parse_utc("2026-06-01") == datetime.datetime(2026, 6, 1, tzinfo=utc)
    assert parse_utc("2026-06-01T12:30:05.5Z") == datetime.datetime(2026, 6, 1, 12, 30, 5, 500000, tzinfo=utc)
    assert parse_utc("2026-06-01 12:00+02:00") == datetime.datetime(2026, 6, 1, 10, 0, tzinfo=utc)
    now = parse_utc(None)
    assert now.tzinfo is not None and now.microsecond == 0
    for bad in ("2026-06-01+05:00", "2026-13-01", "2026-06-01T12:00+01:60", "0001-01-01T00:00+01:00", "tomorrow"):
        with pytest.raises(InvalidInputError, match=r"^when: must be a date or time"):
            parse_utc(bad, "when")


@given(st.text(max_size=40))
def test_parse_utc_raises_only_named_errors(text: str) -> None:
    from snpmeasure.certs import parse_utc
    from snpmeasure.errors import InvalidInputError

    try:
        at = parse_utc(text, "--at")
    except InvalidInputError as exc:
        assert exc.field == "--at"
    else:
        assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0


def test_an_issuer_must_be_a_ca_whose_key_may_sign_what_it_signed() -> None:
    """Go's CheckSignatureFrom (go-sev-guest's verify): a v3 issuer needs BasicConstraints
    CA:TRUE, and a KeyUsage, when present, with keyCertSign (certificates) or cRLSign (CRLs)."""
    from snpmeasure.certs import check_crl, verify_issued_by

    not_ca = cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY)  # no BasicConstraints
    leaf = cert("SEV-VCEK", VCEK_KEY, "SEV-Test", ASK_KEY)
    with pytest.raises(SignatureError, match=r"^ASK: CN=SEV-Test is no CA certificate \(BasicConstraints CA:TRUE\)"):
        verify_issued_by(leaf, not_ca, "VCEK certificate", "ASK")
    signer_only = cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY, ca=True, key_cert_sign=False)
    with pytest.raises(
        SignatureError, match="^ASK: its KeyUsage lacks keyCertSign: its key may not issue certificates"
    ):
        verify_issued_by(leaf, signer_only, "VCEK certificate", "ASK")
    with pytest.raises(SignatureError, match="^ARK: CN=SEV-Test is no CA certificate"):
        check_crl(make_crl(issuer="SEV-Test", signer=ASK_KEY), not_ca, [])
