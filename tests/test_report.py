"""snpmeasure.report: the real Milan report and synthetic ones, signature chains, TCB and chip-ID binding, reserved fields, expectations."""

from __future__ import annotations

import base64
import re
import struct
from typing import Any, Dict

import pytest
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
    VCEK_KEY,
    WHILE_VALID,
    cert,
    make_report,
    vcek_for,
)
from .builders.reports_cli import ATT, MEASUREMENT, RAW, VCEK


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
    with pytest.raises(
        SignatureError, match="was issued by CN=SEV-Milan, not by the ASK/ASVK CN=SEV-Genoa: it is a Milan"
    ):
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
    with pytest.raises(
        SignatureError, match=r"signed by a VLEK \(KEY_INFO.SIGNING_KEY\), but the certificate given is a VCEK"
    ):
        r.verify(vcek_a, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])
    asvk = cert("SEV-VLEK-Test", ASK_KEY, "ARK-Test", ARK_KEY, ca=True)
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


def test_parse_hex_and_parse_min_tcb() -> None:
    from snpmeasure.errors import InvalidInputError
    from snpmeasure.report import parse_hex, parse_min_tcb

    assert parse_hex("f", None, 2) is None
    assert parse_hex("f", "0xABcd", 2) == b"\xab\xcd"
    with pytest.raises(InvalidInputError, match=r"^f: must be 1 bytes as 2 hex digits or 4 base64 characters$"):
        parse_hex("f", "zz", 1)
    with pytest.raises(InvalidInputError, match=r"^f: must be 2 bytes \(4 hex digits or 4 base64 characters\), got 1$"):
        parse_hex("f", "ab", 2)
    # base64: 48 bytes are 96 hex digits or 64 base64 characters, never confused
    assert parse_hex("f", base64.b64encode(bytes(range(48))).decode(), 48) == bytes(range(48))
    assert parse_hex("f", bytes(range(48)).hex(), 48) == bytes(range(48))
    with pytest.raises(InvalidInputError, match=r"^f: is neither hex nor valid base64"):
        parse_hex("f", "*" * 64, 48)
    assert parse_min_tcb("bootloader=2, snp = 5") == {"bootloader": 2, "snp": 5}
    with pytest.raises(InvalidInputError, match=r"^--min-tcb: must be component=N"):
        parse_min_tcb("snp=²", "--min-tcb")


def test_launch_expectations_from_launch_json() -> None:
    from snpmeasure.errors import InvalidInputError
    from snpmeasure.report import launch_expectations

    doc = {"ok": True, "report": {"measurement": "ab" * 48, "policy": "0x30000", "guest_svn": 3, "author_key_en": True}}
    exp = launch_expectations(doc)
    assert exp["measurement"] == bytes.fromhex("ab" * 48) and exp["policy"] == 0x30000 and exp["guest_svn"] == 3
    assert exp["host_data"] == bytes(32) and exp["author_key_en"] is True and exp["signing_key"] == "VCEK"
    e = Expectations.from_launch_json(doc, vmpl=0)
    assert e.measurement == exp["measurement"] and e.vmpl == 0
    for bad, fragment in (
        ({"ok": False}, "records a launch that failed"),
        ({"report": {}}, "must be the JSON of 'snpmeasure launch --json'"),
        ({"measurement": "00" * 48, "policy": 0x30000, "colour": 1}, r"^L\.colour: is no field"),
        ({"measurement": "00" * 48, "policy": True}, r"^L\.policy: must be the policy"),
        ({"measurement": "00" * 48, "policy": 1 << 40}, r"^L\.policy: "),
        ({"measurement": "00" * 47, "policy": 0x30000}, r"^L\.measurement: must be 48 bytes"),
        ({"measurement": "00" * 48, "policy": 0x30000, "guest_svn": -1}, r"^L\.guest_svn: must be an int"),
    ):
        with pytest.raises(InvalidInputError, match=fragment):
            launch_expectations(bad, "L")


@given(
    st.dictionaries(
        st.sampled_from(["measurement", "policy", "host_data", "guest_svn", "author_key_en", "signing_key", "x"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=100), st.lists(st.integers(), max_size=2)),
    )
)
def test_launch_expectations_raises_only_named_errors(fields: Dict[str, Any]) -> None:
    from snpmeasure.errors import InvalidInputError
    from snpmeasure.report import launch_expectations

    try:
        Expectations(**launch_expectations(fields, "L"))
    except InvalidInputError as exc:
        assert exc.field == "L" or exc.field.startswith("L.") or exc.field in ("policy",)


def test_kds_urls_name_this_chip_and_its_reported_tcb() -> None:
    """#20 item 3 (VCEK logistics): the URL the fixture's VCEK came from: its hwID and TCB
    extensions are this report's CHIP_ID and REPORTED_TCB."""
    from snpmeasure.certs import der_integer, der_octets, extension_value
    from snpmeasure.report import OID_HWID, TCB_OIDS

    report = AttestationReport.from_bytes(RAW)
    with pytest.raises(ReportError, match=r"^product: give the product \(milan or genoa\): a version 2 report"):
        report.kds_urls()  # Milan and Genoa v2 reports look alike
    urls = report.kds_urls("milan")
    vcek = load_certs(VCEK, "vcek")[0]
    hwid = der_octets(extension_value(vcek, OID_HWID)).hex()  # type: ignore[arg-type]
    tcb = {c: der_integer(extension_value(vcek, TCB_OIDS[c])) for c in ("bootloader", "tee", "snp", "microcode")}  # type: ignore[arg-type]
    assert urls == {
        "vcek": f"https://kdsintf.amd.com/vcek/v1/Milan/{hwid}?blSPL={tcb['bootloader']}&teeSPL={tcb['tee']}"
        f"&snpSPL={tcb['snp']}&ucodeSPL={tcb['microcode']}",
        "cert_chain": "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
        "crl": "https://kdsintf.amd.com/vcek/v1/Milan/crl",
    }
    # Turin: the hwID is CHIP_ID's first 8 bytes, and the TCB has an FMC SPL
    raw = bytearray(RAW)
    raw[0x1A0:0x1E0] = bytes(range(1, 9)) + bytes(56)
    turin = AttestationReport.from_bytes(bytes(raw), generation="turin").kds_urls("turin")
    assert turin["vcek"] is not None and turin["vcek"].startswith(
        "https://kdsintf.amd.com/vcek/v1/Turin/0102030405060708?fmcSPL="
    )
    with pytest.raises(ReportError, match="CHIP_ID bytes 8-63 are not zero"):
        AttestationReport.from_bytes(RAW, generation="turin").kds_urls("turin")
    with pytest.raises(ReportError, match="serves Milan, Genoa and Turin certificates"):
        AttestationReport.from_bytes(RAW, generation="venice").kds_urls("venice")
    # a VLEK-signed report: the cloud provider supplies the VLEK; the chain and CRL are the ASVK's
    vlek = bytearray(RAW)
    vlek[0x48] = (vlek[0x48] & ~0x1C) | (1 << 2)
    assert AttestationReport.from_bytes(bytes(vlek)).kds_urls("milan") == {
        "vcek": None,
        "cert_chain": "https://kdsintf.amd.com/vlek/v1/Milan/cert_chain",
        "crl": "https://kdsintf.amd.com/vlek/v1/Milan/crl",
    }


def test_a_flag_mismatch_is_said_as_json_says_it() -> None:
    """AUTHOR_KEY_EN: expected true, report has false (not Python's True/False), as launch and
    --json say booleans."""
    r = AttestationReport.from_bytes(make_report())
    (m,) = r.check(Expectations(author_key_en=True))
    assert m.line() == "AUTHOR_KEY_EN: expected true, report has false"
    assert m.to_json() == {"field": "AUTHOR_KEY_EN", "expected": "true", "actual": "false"}


def test_a_masked_chip_id_is_still_verified_by_the_vcek_signature() -> None:
    """MASK_CHIP_ID: the firmware writes zeros for CHIP_ID and still signs with the chip's VCEK,
    so the hwID binding is skipped (virtee/snpguest does the same); the KDS URL cannot be made."""
    r = AttestationReport.from_bytes(make_report(3, chip_id=bytes(64)))
    vcek = vcek_for(r.reported_tcb.components, b"\x11" * 64)
    assert r.verify(vcek, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK]) == "milan"
    other = AttestationReport.from_bytes(make_report(3, chip_id=b"\x33" * 64))
    with pytest.raises(SignatureError, match="hwID 1111.* is not the report's CHIP_ID 3333"):
        other.verify(vcek, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])
    with pytest.raises(ReportError, match=r"^report.CHIP_ID: is zero \(the host masks it, MASK_CHIP_ID\)"):
        r.kds_urls()  # a v3 report names its CPU


def test_a_product_that_contradicts_the_signed_cpuid_is_refused() -> None:
    raw = make_report(3)  # CPUID family 0x19 model 0x01: Milan
    with pytest.raises(ReportError, match="^generation: is 'turin', but the report's CPUID fields name a milan CPU"):
        AttestationReport.from_bytes(raw, generation="turin")
    assert AttestationReport.from_bytes(raw, generation="milan").generation == "milan"
    assert AttestationReport.from_bytes(make_report(2), generation="genoa").generation == "genoa"  # v2 names none


def test_policy_at_most_reports_a_malformed_report_policy_as_a_mismatch() -> None:
    r = AttestationReport.from_bytes(make_report(policy=0))  # bit 17 (reserved, must be 1) clear
    [m] = r.check(Expectations(policy=0x30000, policy_at_most=True))
    assert m.field == "POLICY" and "bit 17" in m.actual


def test_base64_that_begins_with_0x_is_base64() -> None:
    from snpmeasure.report import parse_hex

    raw = bytes([0xD3, 0x10]) + bytes(range(46))
    text = base64.b64encode(raw).decode()
    assert text.startswith("0x") and parse_hex("f", text, 48) == raw
    assert parse_hex("f", "0x" + raw.hex(), 48) == raw


@pytest.mark.parametrize("pad", [None, "salt32"])  # PKCS#1 v1.5; PSS with a 32-byte salt
def test_a_certificate_an_rsa_key_signs_otherwise_than_amd_is_refused(pad: Any) -> None:
    """AMD's keys sign with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48 (go-sev-guest requires
    SHA384WithRSAPSS); a VCEK signed otherwise is not AMD's form even if it verifies."""
    from cryptography import x509 as x
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    r = AttestationReport.from_bytes(make_report(3))
    good = vcek_for(r.reported_tcb.components, b"\x11" * 64)
    builder = (
        x.CertificateBuilder()
        .subject_name(good.subject)
        .issuer_name(good.issuer)
        .public_key(VCEK_KEY.public_key())
        .serial_number(1)
        .not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc)
    )
    for ext in good.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    rsa_padding = None if pad is None else padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=32)
    other = builder.sign(ASK_KEY, hashes.SHA384(), rsa_padding=rsa_padding)
    with pytest.raises(SignatureError, match="is not signed with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt"):
        r.verify(other, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK])
    assert r.verify(good, ask_ark=[ASK, ARK], product="milan", trusted_arks=[ARK]) == "milan"


def test_a_v2_reports_product_comes_from_its_signing_certificate() -> None:
    """A v2 report names no CPU (Milan's and Genoa's look alike); verify takes the product from
    the VCEK (its product extension, else its issuer), which the chain then checks, and asks for
    it when the certificate names none. It used to guess Milan."""
    from snpmeasure.report import OID_PRODUCT

    r = AttestationReport.from_bytes(make_report(2))
    unnamed = vcek_for({"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}, b"\x11" * 64)  # "SEV-Test"
    exts = {e.oid.dotted_string: e.value.value for e in unnamed.extensions}
    genoa = cert("SEV-VCEK", VCEK_KEY, "SEV-Test", ASK_KEY, {**exts, OID_PRODUCT: b"\x16\x08Genoa-B0"})
    assert r.verify(genoa, ask_ark=[ASK, ARK], trusted_arks=[ARK]) == "genoa"
    genoa_ask = cert("SEV-Genoa", ASK_KEY, "ARK-Test", ARK_KEY, ca=True)
    by_issuer = cert("SEV-VCEK", VCEK_KEY, "SEV-Genoa", ASK_KEY, exts)
    assert r.verify(by_issuer, ask_ark=[genoa_ask, ARK], trusted_arks=[ARK]) == "genoa"
    with pytest.raises(ReportError, match=r"^product: give the product \(milan or genoa\)"):
        r.verify(unnamed, ask_ark=[ASK, ARK], trusted_arks=[ARK])
    assert r.verify(unnamed, ask_ark=[ASK, ARK], trusted_arks=[ARK], product="milan") == "milan"
    turin = AttestationReport.from_bytes(make_report(2, tcb=(9, 1, 2, 3, 0, 0, 0, 100), chip_id=bytes(64)))
    assert turin.generation == "milan" and turin.for_product("turin").reported_tcb.components["bootloader"] == 1
    with pytest.raises(SignatureError, match="CPUID fields name a milan CPU, not genoa"):
        AttestationReport.from_bytes(make_report(3)).for_product("genoa")
    # a v3 report names its CPU itself: the certificate's product must agree
    v3 = AttestationReport.from_bytes(make_report(3))
    with pytest.raises(SignatureError, match="product extension says 'Genoa-B0', not milan"):
        v3.verify(genoa, ask_ark=[ASK, ARK], trusted_arks=[ARK])


def test_validate_holds_every_report_to_go_sev_guests_rules() -> None:
    """What a verifier refuses whatever it expects (go-sev-guest's ReportToProto and validate): a
    report the host requested (VMPL 0xFFFFFFFF), provisional firmware (unless permitted), a
    REPORTED_TCB above CURRENT_TCB, and the must-be-zero fields go-sev-guest refuses (the rest are
    only reported)."""
    good = AttestationReport.from_bytes(make_report(5))
    assert good.validate() == [] and good.reserved_problems() == []
    raw = bytearray(make_report(5))
    struct.pack_into("<I", raw, 0x30, 0xFFFFFFFF)  # VMPL: the host's SNP_HV_REPORT_REQ
    (m,) = AttestationReport.from_bytes(bytes(raw)).validate()
    assert (
        m.line()
        == "VMPL: expected 0 to 3 (a report the guest requested), report has 0xffffffff (the host requested it: SNP_HV_REPORT_REQ)"
    )
    # provisional firmware: CURRENT above COMMITTED (a firmware update not yet committed)
    raw = bytearray(make_report(5))
    raw[0x38 + 6] = 9  # CURRENT_TCB.snp 9 > COMMITTED_TCB.snp 8
    raw[0x1E8:0x1EB] = bytes([21, 55, 1])  # current 1.55.21
    raw[0x1EC:0x1EF] = bytes([20, 55, 1])  # committed 1.55.20
    r = AttestationReport.from_bytes(bytes(raw))
    assert [m.field for m in r.validate()] == ["COMMITTED_TCB", "COMMITTED_VERSION"]
    assert r.validate()[1].line() == (
        "COMMITTED_VERSION: expected the current 1.55 build 21, report has 1.55 build 20 "
        "(provisional firmware, not yet committed: permit provisional firmware to accept it)"
    )
    assert r.validate(permit_provisional_firmware=True) == []
    raw[0x1E0 + 6] = 10  # COMMITTED above CURRENT: never, even provisional, and no hint that it could be
    raw[0x1EC:0x1EF] = bytes([22, 55, 1])
    above = AttestationReport.from_bytes(bytes(raw))
    for permit in (True, False):
        assert [m.line() for m in above.validate(permit_provisional_firmware=permit)] == [
            "COMMITTED_TCB.snp: expected <= CURRENT_TCB's 9, report has 10",
            "COMMITTED_VERSION: expected <= the current 1.55 build 21, report has 1.55 build 22",
        ]
    # go-sev-guest compares the build and the API version each on its own: 1.55 build 30
    # committed under 1.56 build 2 current is a newer build committed
    raw = bytearray(make_report(5))
    raw[0x1E8:0x1EB] = bytes([2, 56, 1])
    raw[0x1EC:0x1EF] = bytes([30, 55, 1])
    (m,) = AttestationReport.from_bytes(bytes(raw)).validate(permit_provisional_firmware=True)
    assert m.field == "COMMITTED_VERSION"
    # REPORTED_TCB (the VCEK's) above CURRENT_TCB
    raw = bytearray(make_report(5))
    raw[0x180 + 7] = 200
    (m,) = AttestationReport.from_bytes(bytes(raw)).validate()
    assert m.line() == "REPORTED_TCB.microcode: expected <= CURRENT_TCB's 115, report has 200"
    # must-be-zero: refused where go-sev-guest refuses, reported elsewhere
    raw = bytearray(make_report(5))
    raw[0x04C] = 1
    raw[0x400] = 7  # after the signature: not signed, so anyone may have changed it
    raw[0x40] |= 1 << 6  # PLATFORM_INFO bit 6: reported only (firmware keeps defining these)
    struct.pack_into("<I", raw, 0x48, 1 << 5)  # KEY_INFO bit 5
    r = AttestationReport.from_bytes(bytes(raw))
    assert [(m.field, m.actual) for m in r.validate()] == [
        ("RESERVED", "reserved (0x04c..0x04f) is not zero"),
        ("RESERVED", "signature reserved (0x330..0x49f) is not zero"),
        ("KEY_INFO", "KEY_INFO bits 31:5 are not zero (0x20)"),
    ]
    assert r.reserved_problems(refused=False) == ["PLATFORM_INFO reserved bits are set (0x40)"]
    raw = bytearray(make_report(5, policy=0x10000))  # bit 17 clear: no firmware launches with it
    (m,) = AttestationReport.from_bytes(bytes(raw)).validate()
    assert m.field == "POLICY" and "bit 17" in m.actual
    with pytest.raises(ReportError, match="permit_provisional_firmware: must be a bool"):
        good.validate(permit_provisional_firmware=1)  # type: ignore[arg-type]
