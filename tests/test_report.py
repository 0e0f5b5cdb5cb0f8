"""Attestation reports: the real Milan report, synthetic v2/v3/v5 reports, expectations, CLI."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure.certs import load_certs
from snpmeasure.errors import SignatureError
from snpmeasure.firmware import LaunchResult
from snpmeasure.report import AttestationReport, Expectations, ReportError

from .builders.reports import (
    ARK,
    ARK_KEY,
    ASK,
    ASK_KEY,
    URI,
    VCEK_CRL_URL,
    VCEK_KEY,
    VLEK_CRL_URL,
    WHILE_VALID,
    cert,
    idp_naming,
    make_crl,
    make_report,
    point,
    rsa_pss,
    vcek_for,
    verify_with_crl,
)
from .support import FIXTURES, run_ours

ATT = FIXTURES / "attestation"
RAW = (ATT / "attestation.bin").read_bytes()
VCEK = ATT / "vcek.testcer"
MEASUREMENT = "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"


def test_real_milan_report_fields() -> None:
    # Values published with this report by go-sev-guest's tests (verify/testdata/attestation.bin).
    r = AttestationReport.from_bytes(RAW)
    assert r.report_data == bytes([1, 2, 3, 4, 5]) + bytes(59) and r.platform_flags() == ["SMT_EN"]
    assert r.reported_tcb.raw == r.current_tcb.raw == r.committed_tcb.raw == r.launch_tcb.raw == 0x4405000000000002
    assert r.chip_id.hex().startswith("3ac3fe21e13fb0990eb28a802e3fb6a2")
    assert (r.version, r.policy, r.measurement.hex(), r.vmpl, r.signature_algo) == (2, 0xB0000, MEASUREMENT, 0, 1)
    assert r.signing_key == "VCEK" and not r.author_key_en and not r.mask_chip_key and r.generation == "milan"
    assert r.reported_tcb.components == {"bootloader": 2, "tee": 0, "snp": 5, "microcode": 68}
    assert r.guest_policy().debug and r.guest_policy().smt
    assert r.reserved_problems() == []
    assert r.id_key_digest == bytes(48) and r.family_id == bytes(16)
    doc = r.to_json()
    assert doc["policy"]["policy"] == "0xb0000" and doc["key_info"]["signing_key"] == "VCEK"


def test_real_milan_report_verifies() -> None:
    r = AttestationReport.from_bytes(RAW)
    assert r.verify(VCEK, now=WHILE_VALID) == "milan"
    assert r.verify(VCEK, ask_ark=ATT / "ask_ark_milan.pem", product="milan", now=WHILE_VALID) == "milan"
    assert r.verify(VCEK.read_bytes(), ask_ark=load_certs(ATT / "milan.testcer", "x"), now=WHILE_VALID) == "milan"


def test_real_vcek_validity_window() -> None:
    r = AttestationReport.from_bytes(RAW)
    assert r.verify(VCEK, now=datetime.datetime(2029, 9, 24, 0, 55, 28, tzinfo=datetime.timezone.utc)) == "milan"
    for outside in (datetime.datetime(2029, 9, 24, 0, 55, 29), datetime.datetime(2022, 9, 24)):
        with pytest.raises(
            SignatureError, match="VCEK certificate: valid from 2022-09-24T00:55:28Z to 2029-09-24T00:55:28Z, not at"
        ):
            r.verify(VCEK, now=outside)


def test_input_forms() -> None:
    assert AttestationReport.from_bytes(RAW.hex()).raw == RAW
    import base64

    assert AttestationReport.from_bytes(base64.b64encode(RAW).decode()).raw == RAW
    with pytest.raises(ReportError, match="1184"):
        AttestationReport.from_bytes(RAW[:1000])


@pytest.mark.parametrize(
    "chain,fragment",
    [("ask_ark_genoa.pem", "not AMD's root for 'milan'"), ("ask_ark_turin_vcek.pem", "not AMD's root for 'milan'")],
)
def test_wrong_chain_fails_by_name(chain: str, fragment: str) -> None:
    with pytest.raises(SignatureError, match=fragment):
        AttestationReport.from_bytes(RAW).verify(VCEK, ask_ark=ATT / chain, now=WHILE_VALID)
    with pytest.raises(SignatureError, match="not signed by the ASK"):
        AttestationReport.from_bytes(RAW).verify(VCEK, product="genoa", now=WHILE_VALID)


def test_every_bit_flip_in_the_signed_area_fails() -> None:
    key = load_certs(VCEK, "vcek")[0].public_key()
    failures = 0
    for byte in range(0x2A0):
        for bit in range(8):
            data = bytearray(RAW)
            data[byte] ^= 1 << bit
            try:
                AttestationReport.from_bytes(bytes(data)).verify_signature(key)
            except (SignatureError, ReportError):
                failures += 1
    assert failures == 0x2A0 * 8


def test_tcb_and_chip_id_must_match_the_vcek() -> None:
    data = bytearray(RAW)
    data[0x1A0] ^= 1
    with pytest.raises(SignatureError, match="hwID"):
        AttestationReport.from_bytes(bytes(data)).verify(VCEK, now=WHILE_VALID)
    data = bytearray(RAW)
    data[0x186] += 1  # REPORTED_TCB.snp
    with pytest.raises(SignatureError, match="snp SPL"):
        AttestationReport.from_bytes(bytes(data)).verify(VCEK, now=WHILE_VALID)


# ---- synthetic reports, signed by keys made here ------------------------------------------------


@settings(max_examples=25)
@given(
    version=st.sampled_from([2, 3, 4, 5]),
    policy=st.integers(0, 2**26 - 1).map(lambda p: p | 1 << 17),
    measurement=st.binary(min_size=48, max_size=48),
    host=st.binary(min_size=32, max_size=32),
    rdata=st.binary(min_size=64, max_size=64),
    spl=st.tuples(st.integers(0, 127), st.integers(0, 127), st.integers(0, 127)),
)
def test_synthetic_reports_round_trip_and_verify(
    version: int, policy: int, measurement: bytes, host: bytes, rdata: bytes, spl: tuple
) -> None:
    tcb = (spl[0], 0, 0, 0, 0, 0, spl[1], spl[2])
    raw = make_report(version, policy=policy, measurement=measurement, tcb=tcb, host_data=host, report_data=rdata)
    r = AttestationReport.from_bytes(raw)
    assert (r.version, r.policy, r.measurement, r.host_data, r.report_data) == (
        version,
        policy,
        measurement,
        host,
        rdata,
    )
    assert r.generation == "milan" and r.reported_tcb.components == {
        "bootloader": spl[0],
        "tee": 0,
        "snp": spl[1],
        "microcode": spl[2],
    }
    assert (r.launch_mit_vector is not None) == (version >= 5)
    vcek = vcek_for(r.reported_tcb.components, b"\x11" * 64)
    assert r.verify(vcek, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK]) == "milan"
    with pytest.raises(SignatureError, match="not AMD's root"):
        r.verify(vcek, ask_ark=[ASK, ARK], product="milan")


def test_turin_v3_layout_and_8_byte_hwid() -> None:
    chip = b"\x22" * 8 + bytes(56)
    raw = make_report(3, tcb=(1, 4, 2, 9, 0, 0, 0, 77), chip_id=chip, cpuid=(0x1A, 0x02, 0x01))
    r = AttestationReport.from_bytes(raw)
    assert r.generation == "turin" and r.reported_tcb.components == {
        "fmc": 1,
        "bootloader": 4,
        "tee": 2,
        "snp": 9,
        "microcode": 77,
    }
    vcek = vcek_for(r.reported_tcb.components, b"\x22" * 8)
    assert r.verify(vcek, ask_ark=[ASK, ARK], product="turin", trusted_arks=[ARK]) == "turin"
    assert r.reserved_problems() == []
    bad = AttestationReport.from_bytes(
        make_report(3, tcb=(1, 4, 2, 9, 5, 0, 0, 77), chip_id=chip, cpuid=(0x1A, 0x02, 0x01))
    )
    assert any("REPORTED_TCB byte 4" in p for p in bad.reserved_problems())


def test_reserved_fields_reported() -> None:
    raw = bytearray(make_report(5))
    raw[0x4C] = 1
    raw[0x400] = 1
    problems = AttestationReport.from_bytes(bytes(raw)).reserved_problems()
    assert any("0x04c" in p for p in problems) and any("signature reserved" in p for p in problems)
    with pytest.raises(ReportError, match="VERSION"):
        AttestationReport.from_bytes(make_report(6))


def test_unsigned_reports_and_algorithms() -> None:
    r = AttestationReport.from_bytes(make_report(key_info=7 << 2))
    with pytest.raises(SignatureError, match="did not sign"):
        r.verify_signature(VCEK_KEY.public_key())


def test_check_against_launch_result() -> None:
    m = bytes(range(48))
    raw = make_report(policy=0x30000, measurement=m, host_data=b"\x05" * 32)
    r = AttestationReport.from_bytes(raw)
    ok = LaunchResult(m, 0x30000, b"\x05" * 32)
    assert r.check(ok) == []
    bad = LaunchResult(bytes(48), 0x30000, b"\x06" * 32, guest_svn=1)
    fields = [mm.field for mm in r.check(bad)]
    assert fields == ["MEASUREMENT", "HOST_DATA", "GUEST_SVN"]
    # "at most": a stricter policy passes, a more permissive one fails
    strict = AttestationReport.from_bytes(make_report(policy=0x20000 | 1 << 20))
    assert strict.check(Expectations(policy=0x30000, policy_at_most=True)) == []
    loose = AttestationReport.from_bytes(make_report(policy=0x30000 | 1 << 19))
    assert [mm.field for mm in loose.check(Expectations(policy=0x30000, policy_at_most=True))] == ["POLICY.DEBUG"]
    assert [mm.field for mm in r.check(Expectations(min_tcb={"snp": 9, "microcode": 100}))] == ["REPORTED_TCB.snp"]


def test_report_cli(tmp_path: Path) -> None:
    rc, out, _ = run_ours(["report", "show", str(ATT / "attestation.bin"), "--json"])
    assert rc == 0 and json.loads(out)["measurement"] == MEASUREMENT
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    assert run_ours(base + ["--expect-measurement", MEASUREMENT, "--expect-policy", "0xb0000"])[0] == 0
    rc, out, _ = run_ours(base + ["--expect-measurement", "00" * 48])
    assert rc == 1 and out.startswith("MEASUREMENT: expected")
    rc, out, _ = run_ours(base + ["--ask-ark", str(ATT / "ask_ark_genoa.pem"), "--json"])
    assert rc == 1 and "not AMD's root" in json.loads(out)["failures"][0]
    assert run_ours(base + ["--expect-measurement", "zz"])[0] == 2
    assert run_ours(["report", "show", str(tmp_path / "missing.bin")])[0] == 2
    launch = tmp_path / "launch.json"
    launch.write_text(json.dumps({"ok": True, "report": {"measurement": MEASUREMENT, "policy": "0xb0000"}}))
    assert run_ours(base + ["--from-launch", str(launch)])[0] == 0


@pytest.mark.parametrize(
    "when,at",
    [
        ("2026-06-01", "2026-06-01T00:00:00Z"),
        ("2026-06-01T12:30:00Z", "2026-06-01T12:30:00Z"),
        ("2026-06-01T12:30:00.999z", "2026-06-01T12:30:00.999000Z"),  # the time printed is the time checked
        ("2026-06-01 12:30:00.5", "2026-06-01T12:30:00.500000Z"),
        ("2026-06-01t12:30", "2026-06-01T12:30:00Z"),
        ("2026-06-01T12:30+02:00", "2026-06-01T10:30:00Z"),  # an offset is converted to UTC
        ("2026-06-01 23:30:00-01:00", "2026-06-02T00:30:00Z"),
    ],
)
def test_report_verify_at(when: str, at: str) -> None:
    rc, out, _ = run_ours(
        ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", when, "--json"]
    )
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["at"] == at


def test_report_verify_at_outside_and_malformed() -> None:
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK)]
    rc, out, _ = run_ours(base + ["--at", "2030-01-01"])  # after the VCEK's notAfter: a failed check, exit 1
    assert rc == 1 and out.startswith(
        "SIGNATURE: VCEK certificate: valid from 2022-09-24T00:55:28Z to 2029-09-24T00:55:28Z, "
        "not at 2030-01-01T00:00:00Z"
    )
    rc, out, _ = run_ours(base + ["--at", "0001-01-01", "--json"])  # year 1 prints as such, not "1-01-01"
    assert rc == 1 and json.loads(out)["at"] == "0001-01-01T00:00:00Z" and "not at 0001-01-01T00:00:00Z" in out
    # half a second after the VCEK's notAfter: it fails, and the JSON names that instant, so a rerun with it fails too
    rc, out, _ = run_ours(base + ["--at", "2029-09-24T00:55:28.5Z", "--json"])
    assert rc == 1 and json.loads(out)["at"] == "2029-09-24T00:55:28.500000Z"
    assert run_ours(base + ["--at", json.loads(out)["at"]])[0] == 1
    assert run_ours(base + ["--at", "2029-09-24T00:55:28Z"])[0] == 0
    rc, out, _ = run_ours(base + ["--at", "2026-06-01T12:00+02:00"])  # the plain verdict says which time it used
    assert rc == 0 and out.startswith("OK: signed by AMD (milan, VCEK) as of 2026-06-01T10:00:00Z (--at)")
    for bad in (
        "junk",
        "",
        "2026-13-01",
        "2026-02-30",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:30+01:00",
        "1700000000",
        # forms fromisoformat reads on some Pythons only, or misreads ("+05:00" taken as a time of day)
        "2026-06-01+05:00",
        "2026-06-01-05:00",
        "2026-06-01x23:00",
        "20260601",
        "2026-W23-1",
        "2026-06-01T1230",
        "2026-06-01T12:30:00.1234567Z",
        "2026-06-01T12:30+0200",
        "2026-06-01T12:30+00:99",
        "2026-06-01T12:30+24:00",
        "\u0662\u0660\u0662\u0666-06-01",
        " 2026-06-01",
        "2026-06-01\n",
    ):
        rc, _, err = run_ours(base + ["--at", bad])
        assert rc == 2 and err.count("\n") == 1 and "--at: must be a date or time as YYYY-MM-DD" in err, (bad, err)


# ---- review findings: what must never verify --------------------------------------------------


def test_reserved_signing_keys_never_verify() -> None:
    for code in range(2, 7):
        r = AttestationReport.from_bytes(make_report(key_info=code << 2))
        with pytest.raises(SignatureError, match="only a VCEK"):
            r.verify(
                vcek_for(r.reported_tcb.components, b"\x11" * 64),
                ask_ark=[ASK, ARK],
                product="milan",
                trusted_arks=[ARK],
            )


def test_vlek_report_cannot_borrow_a_vcek_chip_binding() -> None:
    """KEY_INFO says VLEK, but the leaf carries chip A's hwID and the report claims chip B."""
    r = AttestationReport.from_bytes(make_report(key_info=1 << 2, chip_id=b"\x22" * 64))
    vcek_a = vcek_for(r.reported_tcb.components, b"\x11" * 64)
    with pytest.raises(SignatureError, match="VLEK, but the intermediate"):
        r.verify(vcek_a, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])
    asvk = cert("SEV-VLEK-Test", ASK_KEY, "ARK-Test", ARK_KEY)
    exts = {e.oid.dotted_string: e.value.value for e in vcek_a.extensions}  # type: ignore[attr-defined]
    leaf_with_chip_a = cert("SEV-VLEK", VCEK_KEY, "SEV-VLEK-Test", ASK_KEY, exts)
    with pytest.raises(SignatureError, match="hwID"):
        r.verify(leaf_with_chip_a, ask_ark=[asvk, ARK], product="milan", trusted_arks=[ARK])
    del exts["1.3.6.1.4.1.3704.1.4"]  # a VLEK binds no chip: then it verifies
    assert (
        r.verify(
            cert("SEV-VLEK", VCEK_KEY, "SEV-VLEK-Test", ASK_KEY, exts),
            ask_ark=[asvk, ARK],
            product="milan",
            trusted_arks=[ARK],
        )
        == "milan"
    )


def test_generation_must_match_the_product() -> None:
    turin_v3 = AttestationReport.from_bytes(make_report(3, cpuid=(0x1A, 0x02, 0x01), chip_id=b"\x22" * 8 + bytes(56)))
    with pytest.raises(SignatureError, match="turin CPU, not milan"):
        turin_v3.verify(vcek_for({}, b"\x22" * 8), ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])
    # a v2 report is decoded with the product's layout, so every component of that layout is checked
    v2 = AttestationReport.from_bytes(make_report(2, tcb=(1, 4, 2, 9, 0, 0, 0, 77)))
    turin = {"fmc": 1, "bootloader": 4, "tee": 2, "snp": 9, "microcode": 77}
    assert v2.verify(vcek_for(turin, b"\x11" * 64), ask_ark=[ASK, ARK], product="turin", trusted_arks=[ARK]) == "turin"
    with pytest.raises(SignatureError, match="fmc"):
        v2.verify(
            vcek_for({k: v for k, v in turin.items() if k != "fmc"}, b"\x11" * 64),
            ask_ark=[ASK, ARK],
            product="turin",
            trusted_arks=[ARK],
        )


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


def test_verify_fails_closed_when_the_pipe_is_gone(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = bytearray(RAW)
    bad[0x90] ^= 1
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(bad))
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "snpmeasure", "report", "verify", str(path), "--vcek", str(VCEK)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before anything is printed
    assert proc.wait() != 0


# ---- AMD's certificate revocation list ------------------------------------------------------------


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
    asvk = cert("SEV-VLEK-Test", ASK_KEY, "ARK-Test", ARK_KEY, crl_url=VLEK_CRL_URL)
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
            ask_ark=[cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY), ARK],
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
    ask = cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY, crl_points=points)
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


def test_crl_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--crl through the CLI: the real Milan report with a CRL the ARK did not sign fails (exit 1), a
    file that is no CRL is bad input (exit 2); with the built-in chain swapped for the test chain, a
    clean CRL passes and a revoking one fails."""
    from cryptography.hazmat.primitives.serialization import Encoding

    import snpmeasure.certs

    forged = tmp_path / "forged.crl"
    milan_ark = load_certs(ATT / "ask_ark_milan.pem", "ask_ark")[1]
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(milan_ark.subject)
        .last_update(datetime.datetime(2025, 1, 1))
        .next_update(datetime.datetime(2035, 1, 1))
    )
    forged.write_bytes(b.sign(ARK_KEY, hashes.SHA384(), rsa_padding=rsa_pss()).public_bytes(Encoding.DER))
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, out, _ = run_ours(base + ["--crl", str(forged), "--json"])
    assert rc == 1 and json.loads(out)["failures"] == [
        "SIGNATURE: CRL: its signature does not verify with the ARK's key"
    ]
    (tmp_path / "junk.crl").write_bytes(b"junk")
    rc, _, err = run_ours(base + ["--crl", str(tmp_path / "junk.crl")])
    assert rc == 2 and "crl: is not a PEM or DER X.509 CRL" in err
    assert run_ours(base + ["--crl", str(tmp_path / "missing.crl")])[0] == 2

    monkeypatch.setattr(snpmeasure.certs, "product_chain", lambda product, kind="vcek": [ASK, ARK])
    r = AttestationReport.from_bytes(make_report())
    (tmp_path / "report.bin").write_bytes(r.raw)
    (tmp_path / "vcek.der").write_bytes(vcek_for(r.reported_tcb.components, b"\x11" * 64).public_bytes(Encoding.DER))
    synth = [
        "report",
        "verify",
        str(tmp_path / "report.bin"),
        "--vcek",
        str(tmp_path / "vcek.der"),
        "--product",
        "milan",
        "--at",
        "2026-06-01",
    ]  # make_crl's CRLs are current from 2025 to 2034
    for name, crl, want in (("clean.crl", make_crl(), 0), ("revoking.crl", make_crl(revoked=(1,)), 1)):
        (tmp_path / name).write_bytes(crl.public_bytes(Encoding.PEM))
        rc, out, _ = run_ours(synth + ["--crl", str(tmp_path / name)])
        assert rc == want, out
    assert "ASK certificate: revoked" in out


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"measurement": "zz"}, "measurement: must be 48 bytes"),
        ({"host_data": bytes(31)}, "host_data: must be 32 bytes"),
        ({"vmpl": 4}, "vmpl: must be an int from 0 to 3"),
        ({"guest_svn": True}, "guest_svn: must be an int"),
        ({"policy": 0x10000}, "bit 17"),
        ({"min_tcb": {"snp": 256}}, "snp must be an SVN from 0 to 255"),
        ({"min_tcb": {"ucode": 1}}, "unknown TCB component 'ucode'"),
        ({"min_tcb": [("snp", 1)]}, "must map TCB components"),
    ],
)
def test_expectations_no_report_can_meet_are_bad_input(kwargs: Dict[str, Any], fragment: str) -> None:
    with pytest.raises(ReportError, match=re.escape(fragment)):
        Expectations(**kwargs)
