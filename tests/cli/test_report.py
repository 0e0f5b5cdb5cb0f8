"""`snpmeasure report show|verify`: input forms, --at, CRLs, --from-launch, and failing closed."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from snpmeasure.certs import load_certs
from snpmeasure.report import AttestationReport

from ..builders.cli_inputs import ATT, OVMF, VERIFY
from ..builders.reports import (
    ARK,
    ARK_KEY,
    ASK,
    make_crl,
    make_report,
    rsa_pss,
    vcek_for,
)
from ..builders.reports_cli import MEASUREMENT, RAW, VCEK
from ..support import run_ours


@pytest.mark.parametrize(
    "report,fragment",
    [
        ({"measurement": 5, "policy": "0x30000"}, "--from-launch.measurement: must be a hex string"),
        ({"measurement": "00" * 48, "policy": []}, "--from-launch.policy"),
        ({"measurement": "00" * 48, "policy": "0x30000", "guest_svn": "1"}, "--from-launch.guest_svn"),
    ],
)
def test_from_launch_checks_its_json(tmp_path: Path, report: dict, fragment: str) -> None:
    path = tmp_path / "launch.json"
    path.write_text(json.dumps({"ok": True, "report": report}))
    rc, _, err = run_ours(VERIFY + ["--from-launch", str(path)])
    assert rc == 2 and fragment in err and "Traceback" not in err, err


def test_report_from_stdin_and_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import io
    import sys

    raw = (ATT / "attestation.bin").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    rc, out, _ = run_ours(["report", "show", "-", "--json"])
    assert rc == 0 and json.loads(out)["version"] == 2
    rc, out2, _ = run_ours(["report", "show", base64.b64encode(raw).decode(), "--json"])
    assert rc == 0 and out2 == out


def test_from_launch_rules(tmp_path: Path) -> None:
    path = tmp_path / "launch.json"
    path.write_text(json.dumps({"ok": False, "command": "SNP_LAUNCH_FINISH", "status": "BAD_MEASUREMENT", "steps": []}))
    rc, _, err = run_ours(VERIFY + ["--from-launch", str(path)])
    assert rc == 2 and "records a launch that failed" in err
    path.write_text(json.dumps({"ok": True, "report": {"measurement": "00" * 48, "policy": "0x30000"}}))
    rc, _, err = run_ours(VERIFY + ["--from-launch", str(path), "--expect-policy", "0xb0000"])
    assert rc == 2 and "the policy is already set by --from-launch" in err
    rc, _, err = run_ours(
        VERIFY + ["--from-launch", str(path), "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF]
    )
    assert rc == 2 and "already set by --from-launch" in err


def test_from_launch_checks_every_field_it_records(tmp_path: Path) -> None:
    """KEY_INFO too: a launch recorded with vcek-disabled expects a VLEK-signed report."""
    rc, out, _ = run_ours(["report", "show", str(ATT / "attestation.bin"), "--json"])
    shown = json.loads(out)
    fields = {
        "measurement": shown["measurement"],
        "policy": shown["policy"]["policy"],
        "signing_key": "VLEK",
        "author_key_en": False,
    }
    path = tmp_path / "launch.json"
    path.write_text(json.dumps({"ok": True, "report": fields}))
    rc, out, _ = run_ours(VERIFY + ["--from-launch", str(path)])
    assert rc == 1 and "SIGNING_KEY" in out, out
    path.write_text(json.dumps({"ok": True, "report": {**fields, "signing_key": "VCEK", "colour": "red"}}))
    rc, _, err = run_ours(VERIFY + ["--from-launch", str(path)])
    assert rc == 2 and "--from-launch.colour: is no field" in err


def test_report_cli(tmp_path: Path) -> None:
    rc, out, _ = run_ours(["report", "show", str(ATT / "attestation.bin"), "--json"])
    assert rc == 0 and json.loads(out)["measurement"] == MEASUREMENT
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    assert run_ours(base + ["--expect-measurement", MEASUREMENT, "--expect-policy", "0xb0000"])[0] == 0
    rc, out, _ = run_ours(base + ["--expect-measurement", "00" * 48])
    assert rc == 1 and out.startswith("MEASUREMENT: expected")
    rc, out, _ = run_ours(base + ["--ask-ark", str(ATT / "ask_ark_genoa.pem"), "--json"])
    failure = json.loads(out)["failures"][0]
    assert rc == 1 and failure["field"] == "SIGNATURE" and "not AMD's root" in failure["actual"]
    assert run_ours(base + ["--expect-measurement", "zz"])[0] == 2
    # failures are objects, as Mismatch is in Python
    rc, out, _ = run_ours(base + ["--expect-measurement", "00" * 48, "--json"])
    assert rc == 1 and json.loads(out)["failures"] == [
        {"field": "MEASUREMENT", "expected": "00" * 48, "actual": MEASUREMENT}
    ]
    # the measurement (and host data) in base64 as well as hex
    b64 = base64.b64encode(bytes.fromhex(MEASUREMENT)).decode()
    assert run_ours(base + ["--expect-measurement", b64])[0] == 0
    rc, out, _ = run_ours(base + ["--expect-measurement", base64.b64encode(bytes(48)).decode()])
    assert rc == 1 and out.startswith("MEASUREMENT: expected")
    rc, _, err = run_ours(base + ["--expect-measurement", "!" * 64])
    assert (
        rc == 2
        and err
        == "snpmeasure report verify: error: --expect-measurement: is neither hex nor valid base64 (64 characters)\n"
    )
    assert run_ours(base + ["--expect-host-data", base64.b64encode(bytes(32)).decode()])[0] == 0
    assert run_ours(["report", "show", str(tmp_path / "missing.bin")])[0] == 2
    launch = tmp_path / "launch.json"
    launch.write_text(json.dumps({"ok": True, "report": {"measurement": MEASUREMENT, "policy": "0xb0000"}}))
    assert run_ours(base + ["--from-launch", str(launch)])[0] == 0


def test_report_verify_names_the_certificate_mistake() -> None:
    base = ["report", "verify", str(ATT / "attestation.bin"), "--at", "2026-06-01"]
    # a Milan VCEK checked against Genoa's chain: the cause in snpmeasure's words, no Python text
    rc, out, _ = run_ours(base + ["--vcek", str(VCEK), "--product", "genoa"])
    assert rc == 1 and out == (
        "SIGNATURE: VCEK certificate: was issued by CN=SEV-Milan, not by the ASK/ASVK CN=SEV-Genoa: "
        "it is a Milan certificate; check it against the milan chain (--product milan)\n"
    )
    # the ASK/ARK bundle where the VCEK belongs
    rc, _, err = run_ours(base + ["--vcek", str(ATT / "ask_ark_milan.pem")])
    assert rc == 2 and err.startswith(
        "snpmeasure report verify: error: --vcek: holds an AMD CA certificate (CN=SEV-Milan,"
    )
    assert "not a VCEK or VLEK" in err and "chain as --ask-ark\n" in err and "Error" not in err


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


def test_crl_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--crl through the CLI: the real Milan report with a CRL the ARK did not sign fails (exit 1), a
    file that is no CRL is bad input (exit 2); with the built-in chain swapped for the test chain, a
    clean CRL passes and a revoking one fails."""
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
    assert rc == 1 and [f["actual"] for f in json.loads(out)["failures"]] == [
        "CRL: its signature does not verify with the ARK's key"
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


def test_report_show_prints_no_python_none() -> None:
    rc, out, _ = run_ours(["report", "show", str(ATT / "attestation.bin")])
    assert rc == 0 and "None" not in out
    assert "cpuid: - (not in this report version)" in out


def test_report_verify_chain_mistakes_in_words() -> None:
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2023-06-01"]
    rc, out, _ = run_ours([*base, "--ask-ark", str(ATT / "ask_ark_milan_vlek.pem")])
    assert rc == 1 and out.startswith(
        "SIGNATURE: the ASK/ARK chain: the report is signed by a VCEK, but the intermediate"
    )
    rc, out, _ = run_ours([*base, "--ask-ark", str(VCEK)])
    assert (
        rc == 1 and out == "SIGNATURE: the ASK/ARK chain: expected the ASK (or ASVK) and the ARK, got 1 certificate\n"
    )
    rc, out, _ = run_ours(["report", "show", str(ATT / "attestation.bin")])
    assert rc == 0 and "  smt: true\n" in out and "True" not in out and "False" not in out


def test_report_kds_url() -> None:
    # a v2 report does not name its CPU, and Milan's and Genoa's chip IDs look alike (snpguest
    # refuses to guess too)
    rc, _, err = run_ours(["report", "kds-url", str(ATT / "attestation.bin")])
    assert rc == 2 and "--product: give the product (milan or genoa): a version 2 report does not name its CPU" in err
    rc, out, _ = run_ours(["report", "kds-url", str(ATT / "attestation.bin"), "--product", "milan"])
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("vcek: https://kdsintf.amd.com/vcek/v1/Milan/3ac3fe21")
    assert lines[0].endswith("?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68")
    assert lines[1:] == [
        "cert_chain: https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
        "crl: https://kdsintf.amd.com/vcek/v1/Milan/crl",
    ]
    rc, out, _ = run_ours(["report", "kds-url", str(ATT / "attestation.bin"), "--product", "milan", "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["signing_key"] == "VCEK" and doc["vcek"] == lines[0][len("vcek: ") :]


def test_report_verify_reads_snpguests_certificate_directory(tmp_path: Path) -> None:
    """#20 item 3: --vcek DIR / --certs DIR in the layout snpguest writes (DER or PEM)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    chain = load_certs(ATT / "ask_ark_milan.pem", "chain")
    (tmp_path / "vcek.der").write_bytes(Path(VCEK).read_bytes())
    (tmp_path / "ask.pem").write_bytes(chain[0].public_bytes(Encoding.PEM))
    (tmp_path / "ark.pem").write_bytes(chain[1].public_bytes(Encoding.PEM))
    base = ["report", "verify", str(ATT / "attestation.bin"), "--at", "2026-06-01"]
    for flag in ("--certs", "--vcek"):
        rc, out, err = run_ours([*base, flag, str(tmp_path)])
        assert rc == 0 and out.startswith("OK: signed by AMD (milan, VCEK)"), err
    # without the chain, the built-in one serves; half a chain is refused
    (tmp_path / "ark.pem").unlink()
    rc, _, err = run_ours([*base, "--certs", str(tmp_path)])
    assert rc == 2 and "has one certificate of the chain but no ark.pem" in err
    (tmp_path / "ask.pem").unlink()
    assert run_ours([*base, "--certs", str(tmp_path)])[0] == 0
    # a VLEK-signed report with a VCEK only
    raw = bytearray((ATT / "attestation.bin").read_bytes())
    raw[0x48] = (raw[0x48] & ~0x1C) | (1 << 2)
    (tmp_path / "vlek-report.bin").write_bytes(bytes(raw))
    rc, _, err = run_ours(["report", "verify", str(tmp_path / "vlek-report.bin"), "--certs", str(tmp_path)])
    assert rc == 2 and "has no vlek.pem, .der, .crt or .cer (it has vcek.der: the report is signed by a VLEK)" in err
    rc, _, err = run_ours([*base])
    assert rc == 2 and "give the signing certificate as --vcek CERT|DIR or --certs DIR" in err


def test_report_verify_against_reference_values_and_a_config(tmp_path: Path) -> None:
    """#20: the real Milan report against a set with its MEASUREMENT (the row is named) and one
    without (exit 1), in each form snpmeasure writes; and a verify config."""
    from snpmeasure.exports import to_corim
    from snpmeasure.tables import ReferenceTable, TableRow

    row = TableRow("qemu", "EPYC-Milan", 0xA00F11, 0x1, 4, bytes.fromhex(MEASUREMENT))
    other = TableRow("qemu", "EPYC-Milan", 0xA00F11, 0x1, 5, bytes(48))
    have = ReferenceTable([other, row], firmware={}, inputs={}, profiles={})
    lack = ReferenceTable([other], firmware={}, inputs={}, profiles={})
    (tmp_path / "have.json").write_text(json.dumps(have.to_json()))
    (tmp_path / "have.csv").write_text(have.to_csv())
    (tmp_path / "lack.json").write_text(json.dumps(lack.to_json()))
    key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "have.corim").write_bytes(to_corim(have, signer=key))
    (tmp_path / "pub.pem").write_bytes(
        key.public_key().public_bytes(Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    for name in ("have.json", "have.csv"):
        rc, out, _ = run_ours([*base, "--reference", str(tmp_path / name)])
        assert rc == 0 and "MEASUREMENT is the reference value of profile qemu, 4 vCPUs, EPYC-Milan (0xa00f11)" in out
    signed = [*base, "--reference", str(tmp_path / "have.corim")]
    rc, _, err = run_ours(signed)
    assert rc == 2 and "--reference: is signed: give the signer's public key" in err
    rc, out, _ = run_ours([*signed, "--reference-key", str(tmp_path / "pub.pem"), "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["reference_rows"] == [row.to_json()]
    rc, out, _ = run_ours([*base, "--reference", str(tmp_path / "lack.json")])
    assert rc == 1 and "MEASUREMENT: expected one of the 1 reference values of" in out
    # a CoRIM valid until 2027: by --at, not by the clock
    import cbor2

    corim = cbor2.loads(to_corim(have))
    until = {1: cbor2.CBORTag(1, int(datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc).timestamp()))}
    (tmp_path / "until.corim").write_bytes(cbor2.dumps(cbor2.CBORTag(501, {**corim.value, 4: until})))
    assert run_ours([*base, "--reference", str(tmp_path / "until.corim")])[0] == 0
    later = [*base[:-1], "2027-06-01", "--reference", str(tmp_path / "until.corim")]
    rc, _, err = run_ours(later)
    assert rc == 2 and "--reference.rim-validity: ended 2027-01-01T00:00:00+00:00" in err
    rc, _, err = run_ours([*base, "--reference", str(tmp_path / "have.json"), "--expect-measurement", MEASUREMENT])
    assert rc == 2 and "--reference: the measurement is also expected by --expect-measurement" in err
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "schema": "snpmeasure/verify-config",
                "schema_version": 1,
                "measurements": [MEASUREMENT],
                "policy": "0x30000",
                "policy_at_most": True,
                "product": "milan",
            }
        )
    )
    rc, out, _ = run_ours([*base, "--config", str(config), "--json"])
    doc = json.loads(out)
    assert rc == 1 and [f["field"] for f in doc["failures"]] == ["POLICY.DEBUG"]
    rc, _, err = run_ours([*base, "--config", str(config), "--product", "genoa"])
    assert rc == 2 and "--product: is genoa, but --config says milan" in err
    config.write_text("{")
    rc, _, err = run_ours([*base, "--config", str(config)])
    assert rc == 2 and "--config" in err and err.count("\n") == 1


def test_the_wrong_kind_of_certificate_and_another_products_chain_are_named(tmp_path: Path) -> None:
    """#20 part 3: a VLEK-signed report given a VCEK, and a chain of another CPU generation."""
    import struct

    raw = bytearray(RAW)
    key_info = struct.unpack_from("<I", raw, 0x48)[0]
    struct.pack_into("<I", raw, 0x48, (key_info & ~0x1C) | (1 << 2))  # SIGNING_KEY = VLEK
    vlek_report = tmp_path / "vlek.bin"
    vlek_report.write_bytes(bytes(raw))
    rc, out, _ = run_ours(["report", "verify", str(vlek_report), "--vcek", str(VCEK), "--at", "2026-06-01"])
    assert rc == 1 and out.startswith(
        "SIGNATURE: the report is signed by a VLEK (KEY_INFO.SIGNING_KEY), but the certificate given is a VCEK"
    )
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, out, _ = run_ours([*base, "--ask-ark", str(ATT / "ask_ark_genoa.pem")])
    assert rc == 1 and "is not AMD's root for 'milan': it is Genoa's; give the Milan ASK/ARK chain" in out


def test_a_config_and_a_flag_for_one_value_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"schema": "snpmeasure/verify-config", "schema_version": 1, "policy": "0xb0000"}))
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, _, err = run_ours([*base, "--config", str(config), "--expect-policy", "0xb0000"])
    assert rc == 2 and "--config: its policy is also expected by --expect-policy: give one" in err
    rc, out, _ = run_ours([*base, "--config", str(config), "--json"])
    assert rc == 0 and json.loads(out)["checked"] == ["config.policy"]


def test_config_lists_and_flags_for_one_value(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    doc = {
        "schema": "snpmeasure/verify-config",
        "schema_version": 1,
        "id_key_digests": ["00" * 48],
        "policy": "0xb0000",
    }
    config.write_text(json.dumps({**doc, "policy_at_most": True}))
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, _, err = run_ours([*base, "--config", str(config), "--expect-id-key-digest", "00" * 48])
    assert rc == 2 and "--config: its id_key_digests and --expect-id-key-digest both expect it" in err
    rc, out, _ = run_ours([*base, "--config", str(config), "--json"])
    assert rc == 0 and json.loads(out)["checked"] == ["config.policy", "config.id_key_digests"]
    rc, _, err = run_ours([*base, "--config", str(config), "--policy-at-most"])
    assert rc == 2 and "--policy-at-most: the --config gives the policy" in err


def test_verify_checks_the_measurement_of_an_igvm_launch_or_a_domain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measure flags of report verify cover every SNP launch: an IGVM file (--igvm), a libvirt
    domain that gives the mode; a mode whose digest no report carries is not offered."""
    import snpmeasure.certs
    from snpmeasure import measure
    from snpmeasure.igvm_launch import measure_igvm

    from ..builders.igvm_files import build, pd, vp

    monkeypatch.setattr(snpmeasure.certs, "product_chain", lambda product, kind="vcek": [ASK, ARK])
    igvm = tmp_path / "guest.igvm"
    igvm.write_bytes(build([pd(0x1000, bytes(4096)), vp()]))
    dom = tmp_path / "d.xml"
    dom.write_text(
        "<domain><vcpu>2</vcpu><os><loader type='rom'>/fw/OVMF.fd</loader></os>"
        "<cpu mode='custom'><model>EPYC-Milan</model></cpu>"
        "<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></domain>"
    )
    ovmf_digest = measure(mode="snp", ovmf=OVMF, vcpus=2, vcpu_type="EPYC-Milan").digest

    def verify(measurement: bytes, *flags: str) -> tuple:
        r = AttestationReport.from_bytes(make_report(measurement=measurement))
        (tmp_path / "report.bin").write_bytes(r.raw)
        cert = vcek_for(r.reported_tcb.components, b"\x11" * 64).public_bytes(Encoding.DER)
        (tmp_path / "vcek.der").write_bytes(cert)
        base = ["report", "verify", str(tmp_path / "report.bin"), "--vcek", str(tmp_path / "vcek.der")]
        return run_ours([*base, "--product", "milan", "--at", "2026-06-01", *flags])

    for model in ("igvmmeasure", "qemu"):
        digest = measure_igvm(str(igvm), profile=model).digest
        rc, out, _ = verify(digest, "--igvm", str(igvm), "--profile", model)
        assert rc == 0 and out.startswith("OK: signed by AMD"), out
    rc, out, _ = verify(bytes(48), "--mode", "snp:igvm", "--igvm", str(igvm))
    assert rc == 1 and "MEASUREMENT" in out
    # a signed file: QEMU hands its ID block to LAUNCH_FINISH, so the report must carry its fields
    from snpmeasure.igvm_launch import sign_igvm

    from ..builders.keys import KEYS

    signed = tmp_path / "signed.igvm"
    signed.write_bytes(
        sign_igvm(str(igvm), KEYS / "id_key_test.pem", KEYS / "author_key_test.pem", family_id="0x" + "11" * 16)
    )
    check = measure_igvm(str(signed)).id_block_check
    assert check is not None and check.id_auth is not None
    rc, out, _ = verify(measure_igvm(str(signed)).digest, "--igvm", str(signed), "--json")
    failed = {f["field"]: f for f in json.loads(out)["failures"]}
    assert rc == 1 and "MEASUREMENT" not in failed
    assert failed["ID_KEY_DIGEST"]["expected"] == check.id_auth.id_key_digest.hex()
    assert failed["FAMILY_ID"]["expected"] == "11" * 16 and failed["AUTHOR_KEY_EN"]["expected"] == "true"
    assert {"IMAGE_ID", "GUEST_SVN", "AUTHOR_KEY_DIGEST"} & set(failed) == {"AUTHOR_KEY_DIGEST"}  # 0s agree
    rc, _, err = verify(bytes(48), "--igvm", str(signed), "--expect-family-id", "00" * 16)
    assert rc == 2 and "--expect-family-id: the family id is already set by --igvm; give one" in err
    rc, _, err = verify(bytes(48), "--mode", "snp:igvm")
    assert rc == 2 and "--igvm: --mode snp:igvm checks an IGVM launch: give the file" in err
    rc, _, err = verify(bytes(48), "--igvm", str(igvm), "--ovmf", OVMF)
    assert rc == 2 and "--ovmf: does not apply to --mode snp:igvm" in err
    rc, out, err = verify(ovmf_digest, "--libvirt-domain", str(dom), "--path-map", f"/fw/OVMF.fd={OVMF}")
    assert rc == 0 and err == "", err  # the domain gives the mode
    for mode in ("sev", "seves", "snp:ovmf-hash"):
        rc, _, err = verify(bytes(48), "--mode", mode, "--ovmf", OVMF)
        assert rc == 2 and f"--mode: invalid choice: '{mode}'" in err


def test_a_configs_product_decodes_the_report(tmp_path: Path) -> None:
    """A version-2 report does not name its CPU: --config's product decides its TCB layout before
    anything is compared (it used to be applied after the report was read as a Milan one)."""
    from ..builders.reports import make_report

    (tmp_path / "r.bin").write_bytes(make_report(2, tcb=(1, 4, 2, 9, 0, 0, 0, 77), chip_id=bytes(64)))
    config = tmp_path / "config.json"
    doc = {"schema": "snpmeasure/verify-config", "schema_version": 1, "product": "turin", "min_tcb": {"snp": 10}}
    config.write_text(json.dumps(doc))
    base = ["report", "verify", str(tmp_path / "r.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, out, _ = run_ours([*base, "--config", str(config), "--json"])
    fields = {f["field"]: f for f in json.loads(out)["failures"]}
    assert rc == 1 and fields["REPORTED_TCB.snp"]["actual"] == "9"  # Turin's byte 3; Milan's would be 0
    doc["product"] = "genoa"
    config.write_text(json.dumps(doc))
    (tmp_path / "r.bin").write_bytes(make_report(3))  # its CPUID fields say Milan
    rc, _, err = run_ours([*base, "--config", str(config)])
    assert rc == 2 and "--config: is 'genoa', but the report's CPUID fields name a milan CPU" in err


def test_report_verify_holds_the_report_to_its_own_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever is expected: a report the host requested fails (VMPL 0xFFFFFFFF); and a v2
    report's TCB is read in its certificate's product's layout (a masked Turin CHIP_ID looks like
    Milan's), so --min-tcb checks the right bytes."""
    from snpmeasure.report import OID_PRODUCT, TCB_OIDS

    from ..builders.reports import ASK_KEY, VCEK_KEY, cert
    from ..builders.reports_cli import signed_by_test_chain

    host, vcek = signed_by_test_chain(tmp_path, monkeypatch, "host", version=2, vmpl=0xFFFFFFFF)
    rc, out, _ = run_ours(["report", "verify", host, "--vcek", vcek, "--product", "milan"])
    assert rc == 1 and out == (
        "VMPL: expected 0 to 3 (a report the guest requested), report has 0xffffffff "
        "(the host requested it: SNP_HV_REPORT_REQ)\n"
    )
    # provisional firmware (CURRENT_TCB above COMMITTED_TCB): by the flag or the config only
    prov, _ = signed_by_test_chain(tmp_path, monkeypatch, "prov", version=2, current_tcb=(3, 0, 0, 0, 0, 0, 9, 115))
    check = ["report", "verify", prov, "--vcek", vcek, "--product", "milan"]
    rc, out, _ = run_ours(check)
    assert rc == 1 and out.startswith("COMMITTED_TCB: expected CURRENT_TCB 0x7309000000000003, report has ")
    assert run_ours([*check, "--permit-provisional-firmware"])[0] == 0
    config = tmp_path / "permit.json"
    config.write_text(
        json.dumps(
            {
                "schema": "snpmeasure/verify-config",
                "schema_version": 1,
                "product": "milan",
                "permit_provisional_firmware": True,
            }
        )
    )
    assert run_ours([*check[:-2], "--config", str(config)])[0] == 0
    # v2, Turin, CHIP_ID masked: fmc 9, bootloader 1, tee 2, snp 3, microcode 100
    turin = AttestationReport.from_bytes(make_report(2, tcb=(9, 1, 2, 3, 0, 0, 0, 100), chip_id=bytes(64)))
    assert turin.generation == "milan"  # its bytes alone cannot say
    (tmp_path / "turin.bin").write_bytes(turin.raw)
    spl = {"fmc": 9, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 100}
    exts = {TCB_OIDS[c]: bytes([2, 1, v]) for c, v in spl.items()}
    exts[OID_PRODUCT] = b"\x16\x08Turin-C0"
    exts["1.3.6.1.4.1.3704.1.4"] = b"\x22" * 8  # an 8-byte hwID: CHIP_ID is masked, so unchecked
    (tmp_path / "turin.der").write_bytes(
        cert("SEV-VCEK", VCEK_KEY, "SEV-Test", ASK_KEY, exts).public_bytes(Encoding.DER)
    )
    base = ["report", "verify", str(tmp_path / "turin.bin"), "--vcek", str(tmp_path / "turin.der")]
    rc, out, _ = run_ours([*base, "--min-tcb", "bootloader=5"])
    assert rc == 1 and out == "REPORTED_TCB.bootloader: expected >= 5, report has 1\n"
    rc, out, _ = run_ours([*base, "--min-tcb", "fmc=9,bootloader=1"])
    assert rc == 0 and out.startswith("OK: signed by AMD (turin, VCEK)")


@pytest.mark.parametrize(
    "flag, first, last",
    [
        ("--expect-measurement", "00" * 48, MEASUREMENT),
        ("--expect-policy", "0x30000", "0xb0000"),
        ("--expect-vmpl", "3", "0"),
        ("--min-tcb", "snp=99", "snp=1"),
        ("--at", "2000-01-01", "2026-06-01"),
    ],
)
def test_a_repeated_expectation_is_refused_not_half_checked(flag: str, first: str, last: str) -> None:
    """argparse keeps a flag's last value: a second --expect-* would leave the first unchecked and pass."""
    base = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(VCEK)]
    at = [] if flag == "--at" else ["--at", "2026-06-01"]
    assert run_ours([*base, *at, flag, last])[0] == 0
    rc, out, err = run_ours([*base, *at, flag, first, flag, last])
    assert (rc, out) == (2, "") and err == f"snpmeasure report verify: error: {flag}: is given twice; give it once\n"
