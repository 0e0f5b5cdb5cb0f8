"""snpmeasure.exports and snpmeasure.references: every export read back row for row, the CoRIM's
bytes against the profile's structure, the real Milan report matched against a set, verify
configs, and hostile CBOR and JSON refused in one line."""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import InvalidInputError, SignatureError
from snpmeasure.exports import (
    CLASS_OIDS,
    from_go_sev_guest,
    from_trustee,
    row_tag_id,
    rows_from_corim,
    to_corim,
    to_go_sev_guest,
    to_trustee,
)
from snpmeasure.references import VERIFY_CONFIG_KEYS, VerifyConfig, load_references
from snpmeasure.report import AttestationReport
from snpmeasure.tables import ReferenceTable, TableRow, table

from .builders.manifests import A
from .builders.reports_cli import MEASUREMENT, RAW
from .support import FIXTURES

ROOT = FIXTURES.parent.parent
MILAN = bytes.fromhex(MEASUREMENT)


def _plain(obj: Any) -> Any:
    """cbor2's decoded containers (frozendict, tuple in cbor2 6) as dict and list."""
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    if hasattr(obj, "items") and not isinstance(obj, cbor2.CBORTag):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _corim_around(comid: Any) -> bytes:
    """A hand-made CoMID in an unsigned CoRIM of the SEV-SNP profile."""
    profile = cbor2.CBORTag(32, "tag:amd.com,2024:snp-corim-profile")
    return bytes(cbor2.dumps(cbor2.CBORTag(501, {1: [cbor2.CBORTag(506, cbor2.dumps(comid))], 3: profile})))


def _table(*extra: TableRow) -> ReferenceTable:
    t = table(ovmf=A, vcpu_types=["EPYC-Milan", "0xa10f10"], vcpus="1-2", profiles=["qemu", "gce"])
    return ReferenceTable([*t.rows, *extra], firmware=t.firmware, inputs=t.inputs, profiles=t.profiles)


def test_corim_round_trip_and_bytes() -> None:
    t = _table()
    data = to_corim(t, policy=0x30000)
    assert rows_from_corim(data) == t.rows
    assert data[:3] == bytes.fromhex("d901f5")  # tag 501: an unsigned CoRIM
    doc = cbor2.loads(data)
    assert doc.tag == 501 and sorted(doc.value) == [0, 1, 3, 5]
    assert doc.value[3] == cbor2.CBORTag(32, "tag:amd.com,2024:snp-corim-profile")
    assert _plain(doc.value[5]) == [{0: "snpmeasure " + t.snpmeasure_version, 2: [1]}]
    assert len(doc.value[1]) == len(t.rows)
    for row, tag in zip(t.rows, doc.value[1]):
        assert tag.tag == 506 and isinstance(tag.value, bytes)
        comid = _plain(cbor2.loads(tag.value))
        assert comid[1] == {0: row_tag_id(row)} and sorted(comid) == [1, 4]
        ((env, claims),) = comid[4][0]
        assert env == {0: {0: cbor2.CBORTag(111, bytes.fromhex("2b060104019c780301"))}}
        assert _plain(claims) == [
            {0: 641, 1: {2: [[7, row.measurement]]}},
            {0: 2, 1: {4: cbor2.CBORTag(560, (0x30000).to_bytes(8, "little"))}},
        ]
        # the measurement claim's exact encoding: {0: 641, 1: {2: [[7, bstr .size 48]]}}
        assert bytes.fromhex("a2 00 19 02 81 01 a1 02 81 82 07 58 30") + row.measurement in tag.value
    assert to_corim(t, policy=0x30000) == data  # deterministic: the same table, the same bytes


def test_signed_corim_needs_its_key() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    t = _table()
    signed = to_corim(t, signer=key)
    assert signed[:1] == b"\xd2"  # tag 18: COSE_Sign1
    protected = cbor2.loads(cbor2.loads(signed).value[0])
    assert protected[1] == -35 and protected[3] == "application/rim+cbor"
    assert rows_from_corim(signed, public_key=key.public_key()) == t.rows
    with pytest.raises(InvalidInputError, match="is signed: give the signer's public key"):
        rows_from_corim(signed)
    with pytest.raises(SignatureError, match="does not verify"):
        rows_from_corim(signed, public_key=ec.generate_private_key(ec.SECP384R1()).public_key())


def test_trustee_and_go_sev_guest_round_trips() -> None:
    t = _table()
    message = to_trustee(t, policy=0x30000)
    assert message["version"] == "0.1.0" and message["type"] == "sample"
    values = json.loads(base64.b64decode(message["payload"]))
    assert values == from_trustee(message)
    assert values["snp_launch_measurement"] == list(dict.fromkeys(r.measurement.hex() for r in t.rows))
    assert values["snp_smt_allowed"] is True and values["snp_single_socket"] is False
    for row in t.rows:
        text = to_go_sev_guest(row.measurement, comment="x")
        assert from_go_sev_guest(text) == (row.measurement, 0x30000)
        assert '  measurement: "\\' in text and text.count("\\") == 48


def test_the_real_milan_report_against_sets_with_and_without_its_measurement(tmp_path: Path) -> None:
    report = AttestationReport.from_bytes(RAW)
    milan_row = TableRow("qemu", "EPYC-Milan", 0xA00F11, 0x1, 4, MILAN)
    with_it, without = _table(milan_row), _table()
    for name, doc in (
        ("with.json", json.dumps(with_it.to_json())),
        ("with.csv", with_it.to_csv()),
        ("without.json", json.dumps(without.to_json())),
    ):
        (tmp_path / name).write_text(doc)
    (tmp_path / "with.corim").write_bytes(to_corim(with_it))
    for name in ("with.json", "with.csv", "with.corim"):
        rows, failures = load_references(tmp_path / name).check(report)
        assert rows == [milan_row] and failures == [], name
    rows, failures = load_references(tmp_path / "without.json").check(report)
    assert rows == [] and [f.field for f in failures] == ["MEASUREMENT"]
    assert load_references(to_corim(with_it)).form == "corim"


def test_verify_config(tmp_path: Path) -> None:
    report = AttestationReport.from_bytes(RAW)
    doc: dict = {
        "schema": "snpmeasure/verify-config",
        "schema_version": 1,
        "measurements": ["00" * 48, MEASUREMENT],
        "policy": "0xb0000",
        "min_tcb": {"bootloader": 2},
        "product": "milan",
        "vmpl": report.vmpl,
        "host_data": report.host_data.hex(),
    }
    config = VerifyConfig.from_json(doc)
    assert config.product == "milan" and config.check(report) == []
    doc["measurements"] = ["00" * 48]
    doc["policy"] = "0x30000"
    assert [m.field for m in VerifyConfig.from_json(doc).check(report)] == ["MEASUREMENT", "POLICY"]
    schema = json.loads((ROOT / "docs" / "verify-config.schema.json").read_text())
    assert sorted(schema["properties"]) == sorted(VERIFY_CONFIG_KEYS)  # the schema documents every key


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ([], "must be a JSON object"),
        ({"schema": "snpmeasure/verify-config"}, "schema_version"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "measurment": []}, "is no key"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "measurements": "ab"}, "must be a list"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "measurements": ["ab"]}, "measurements[0]"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "vmpl": 4}, "vmpl"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "policy_at_most": True}, "give policy too"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "product": "rome"}, "product"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "min_tcb": {"snp": "x"}}, "min_tcb"),
        # an empty list would check nothing: refused, as an absent key is the way to say that
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "measurements": []}, "measurements: is empty"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "id_key_digests": []}, "id_key_digests: is empty"),
        ({"schema": "snpmeasure/verify-config", "schema_version": 1, "min_tcb": "snp=9,snp=0"}, "names snp twice"),
        (
            {"schema": "snpmeasure/verify-config", "schema_version": 1, "permit_provisional_firmware": 1},
            r"permit_provisional_firmware: must be a bool \(true or false\)",
        ),
    ],
)
def test_bad_verify_configs_are_named(doc: Any, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment.replace("[", r"\[")):
        VerifyConfig.from_json(doc)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "is empty"),
        (b"\xd9\x01\xf5", "is not valid CBOR"),
        (b"\xd9\x01\xf5\x81" * 5000 + b"\x00", "is not"),  # deep nesting
        (b"\xd9\x01\xf5\x5b\xff\xff\xff\xff\xff\xff\xff\xff", "is not valid CBOR"),  # a huge length
        (cbor2.dumps(cbor2.CBORTag(501, {1: []})), "profile"),
        (b"{}", "not a snpmeasure/reference-values table"),
        (b"\xff\xfe", "neither a table"),
        (b"a,b\n1,2\n", "must start with the header line"),
    ],
)
def test_hostile_reference_files_are_named(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        load_references(data)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 8))
def test_mutated_corims_fail_in_one_named_error(seed: int, n: int) -> None:
    data = bytearray(to_corim(_SMALL))
    rnd = random.Random(seed)
    for _ in range(n):
        data[rnd.randrange(len(data))] = rnd.randrange(256)
    try:
        rows = rows_from_corim(bytes(data))
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
    else:  # a mutation that keeps the structure (a digest byte) still gives rows the file names
        assert all(row_tag_id(r).startswith("snpmeasure:") for r in rows)
        # (that holds by construction; what can fail: whatever was read is a set the writer
        # reproduces, so no accepted mutation yields rows that do not round-trip)
        again = ReferenceTable(rows, firmware={}, inputs={}, profiles={})
        assert rows_from_corim(to_corim(again)) == rows


_SMALL = ReferenceTable([TableRow("qemu", "EPYC-Milan", 0xA00F11, 1, 1, MILAN)], firmware={}, inputs={}, profiles={})


def test_key_digests_in_corim_and_go_sev_guest() -> None:
    idk, author = b"\x11" * 48, b"\x22" * 48
    data = to_corim(_SMALL, id_key_digest=idk, author_key_digest=author)
    comid = _plain(cbor2.loads(cbor2.loads(data).value[1][0].value))
    ((_, claims),) = comid[4][0]
    assert claims[1:] == [{0: 643, 1: {2: [[7, idk]]}}, {0: 644, 1: {2: [[7, author]]}}]
    assert rows_from_corim(data) == _SMALL.rows
    text = to_go_sev_guest(MILAN, id_key_digests=[idk])
    assert text.endswith('"\n  require_id_block: true\n}\n') and "trusted_id_key_hashes" in text
    assert from_go_sev_guest(text) == (MILAN, 0x30000)
    with pytest.raises(InvalidInputError, match="48-byte"):
        to_corim(_SMALL, id_key_digest=b"x")


def test_review_findings_stay_fixed(tmp_path: Path) -> None:
    """A key with an unsigned set, claims that are no list, deep JSON, a huge CSV field, a
    profile name with a path in it: each refused in one line (or made harmless)."""
    from snpmeasure.exports import row_name

    key = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(InvalidInputError, match="not signed, but a signer's key was given"):
        rows_from_corim(to_corim(_SMALL), public_key=key)
    with pytest.raises(InvalidInputError, match="not a signed CoRIM"):
        load_references(json.dumps(_SMALL.to_json()).encode(), public_key=key)
    comid = {
        1: {0: row_tag_id(_SMALL.rows[0])},
        4: {0: [[{0: {0: cbor2.CBORTag(111, bytes.fromhex("2b060104019c780301"))}}, 7]]},
    }
    bad = _corim_around(comid)
    with pytest.raises(InvalidInputError, match="reference triple"):
        rows_from_corim(bad)
    with pytest.raises(InvalidInputError, match="nests JSON too deeply"):
        load_references(b'{"a":' * 100000 + b"1" + b"}" * 100000)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(InvalidInputError, match="nests JSON too deeply"):
        VerifyConfig.load(deep)
    huge = "profile,vcpu_type,vcpu_sig,guest_features,vcpus,measurement\n" + "x" * 200000 + ",a,,0x1,1,00\n"
    with pytest.raises(InvalidInputError, match="is not CSV"):
        load_references(huge.encode())
    evil = TableRow("../../escaped", "EPYC-Milan", 0xA00F11, 1, 1, MILAN)
    assert "/" not in row_name(evil) and not row_name(evil).startswith(".")
    doc = {"schema": "snpmeasure/verify-config", "schema_version": 1, "min_tcb": {"fmc": 1}}
    config = VerifyConfig.from_json(doc)  # fmc is a Turin component: checked against the report
    with pytest.raises(InvalidInputError, match="min_tcb"):
        config.check(AttestationReport.from_bytes(RAW))


def test_a_minimum_tcb_in_each_format() -> None:
    from snpmeasure.report import TcbVersion

    tcb = TcbVersion.encode({"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}, "milan")
    assert tcb.raw == 0x7308000000000003 and TcbVersion.decode(tcb.raw, "milan") == tcb
    comid = _plain(cbor2.loads(cbor2.loads(to_corim(_SMALL, min_tcb=tcb)).value[1][0].value))
    ((_, claims),) = comid[4][0]
    assert claims[-1] == {0: 647, 1: {1: cbor2.CBORTag(553, 0x7308000000000003)}}
    values = from_trustee(to_trustee(_SMALL, host_tcb={"bootloader": 3, "tee": 0, "snp": 8, "microcode": 115}))
    assert (values["snp_bootloader"], values["snp_tee_svn"], values["snp_snp_svn"], values["snp_microcode"]) == (
        [3],
        [0],
        [8],
        [115],
    )
    text = to_go_sev_guest(MILAN, min_tcb=tcb, id_key_digests=[b"\x11" * 48], author_key_digests=[b"\x22" * 48])
    assert f"  minimum_tcb: {0x7308000000000003}\n  require_author_key: true\n" in text
    assert from_go_sev_guest(text)[0] == MILAN
    with pytest.raises(InvalidInputError, match="host_tcb"):
        to_trustee(_SMALL, host_tcb={"snp": 8})
    with pytest.raises(InvalidInputError, match="fmc is no TCB component of milan"):
        TcbVersion.encode({"fmc": 1}, "milan")
    assert TcbVersion.encode({"fmc": 1, "snp": 2}, "turin").raw == 0x0000000002000001


def test_an_external_signer_signs_a_corim() -> None:
    """The signer id-block takes (a key kept elsewhere, behind a function) signs a CoRIM too."""
    from cryptography.hazmat.primitives import hashes

    from snpmeasure.blobs import AmdPublicKey, ExternalSigner

    hsm = ec.generate_private_key(ec.SECP384R1())
    seen = []

    def sign(message: bytes) -> bytes:
        seen.append(message)
        return hsm.sign(message, ec.ECDSA(hashes.SHA384()))

    signer = ExternalSigner(AmdPublicKey.from_cryptography(hsm.public_key()), sign)
    signed = to_corim(_SMALL, signer=signer)
    assert len(seen) == 1 and seen[0].startswith(b"\x84\x6aSignature1")  # RFC 9052's Sig_structure
    assert rows_from_corim(signed, public_key=hsm.public_key()) == _SMALL.rows


def test_a_corims_other_claims_are_checked_not_dropped() -> None:
    """Second review: the policy, key digests, class (VCEK/VLEK) and minimum TCB a CoRIM carries
    beside the measurement are checked against the report."""
    from snpmeasure.report import TcbVersion

    report = AttestationReport.from_bytes(RAW)
    one = ReferenceTable([TableRow("qemu", "EPYC-Milan", 0xA00F11, 1, 4, MILAN)], firmware={}, inputs={}, profiles={})
    good = to_corim(one, policy=report.policy, min_tcb=TcbVersion.decode(report.reported_tcb.raw, "milan"))
    assert load_references(good).check(report) == (one.rows, [])
    for kwargs, field in (
        (dict(policy=0x30000), "POLICY"),
        (dict(signing_key="VLEK"), "SIGNING_KEY"),
        (dict(id_key_digest=b"\x11" * 48), "ID_KEY_DIGEST"),
        (dict(author_key_digest=b"\x22" * 48), "AUTHOR_KEY_DIGEST"),
        (dict(min_tcb=TcbVersion.encode({"microcode": 255}, "milan")), "REPORTED_TCB.microcode"),
        # per component: microcode 60 < the report's 68 in the top byte must not hide bootloader 3 > 2
        (
            dict(min_tcb=TcbVersion.encode({"bootloader": 3, "snp": 5, "microcode": 60}, "milan")),
            "REPORTED_TCB.bootloader",
        ),
    ):
        rows, failures = load_references(to_corim(one, **kwargs)).check(report)
        assert rows == [] and [f.field for f in failures] == [field], kwargs
    comid = {
        1: {0: row_tag_id(one.rows[0])},
        4: {
            0: [
                [
                    {0: {0: cbor2.CBORTag(111, bytes.fromhex("2b060104019c780301"))}},
                    [{0: 641, 1: {2: [[7, MILAN]]}}, {0: 3, 1: {4: b""}}],
                ]
            ]
        },
    }
    unknown = _corim_around(comid)
    with pytest.raises(InvalidInputError, match="mkey 3, which snpmeasure does not check"):
        load_references(unknown)


def test_a_corim_constraint_the_reader_does_not_check_is_refused() -> None:
    """An environment instance (another chip), a group, class fields beside class-id, values
    beside the digest (flags, a mask) and other triples would narrow the reference; dropping them
    would accept what the issuer did not. Veraison's instance, 560(MEASUREMENT), is read."""
    report = AttestationReport.from_bytes(RAW)
    row = TableRow("qemu", "EPYC-Milan", 0xA00F11, 1, 4, MILAN)
    oid = cbor2.CBORTag(111, bytes.fromhex("2b060104019c780301"))
    measurement = {0: 641, 1: {2: [[7, MILAN]]}}

    def corim(env: Any = None, claims: Any = None, triples: Any = None) -> bytes:
        env = {0: {0: oid}} if env is None else env
        body = {0: [[env, claims or [measurement]]]} if triples is None else triples
        return _corim_around({1: {0: row_tag_id(row)}, 4: body})

    veraison = load_references(corim(env={0: {0: oid}, 1: cbor2.CBORTag(560, MILAN)}))
    assert veraison.check(report)[0] == [row]
    for bad, fragment in (
        (corim(env={0: {0: oid}, 1: cbor2.CBORTag(560, b"\x11" * 64)}), "instance is not 560(the MEASUREMENT)"),
        (corim(env={0: {0: oid}, 2: cbor2.CBORTag(37, b"\x00" * 16)}), "may hold only a class-id"),
        (corim(env={0: {0: oid, 1: "AMD"}}), "may hold only a class-id"),
        (corim(claims=[{0: 641, 1: {2: [[7, MILAN]], 3: {4: False}}}]), "values beside the one snpmeasure checks"),
        (corim(claims=[{0: 641, 1: {2: [[7, MILAN]]}, 2: [b"k"]}]), "malformed or repeated claim"),
        (corim(triples={0: [[{0: {0: oid}}, [measurement]]], 1: []}), "triples other than reference values"),
    ):
        with pytest.raises(InvalidInputError, match=re.escape(fragment)):
            load_references(bad)


def test_the_veraison_dialect_is_what_veraisons_scheme_reads() -> None:
    """veraison/services scheme/sevsnp: corim.go refuses a reference environment without a bytes
    instance, scheme.go finds references by instance = the report's MEASUREMENT and compares key
    digests as raw values (its test CoRIM, corim-sevsnp-valid.cbor, has the 48-byte instance).
    snpmeasure's reader takes the dialect back with every claim."""
    from snpmeasure.report import TcbVersion

    report = AttestationReport.from_bytes(RAW)
    one = ReferenceTable([TableRow("qemu", "EPYC-Milan", 0xA00F11, 1, 4, MILAN)], firmware={}, inputs={}, profiles={})
    kw = dict(
        policy=report.policy,
        id_key_digest=b"\x11" * 48,
        min_tcb=TcbVersion.decode(report.reported_tcb.raw, "milan"),
    )
    data = to_corim(one, dialect="veraison", **kw)
    comid = cbor2.loads(cbor2.loads(data).value[1][0].value)
    env, claims = comid[4][0][0]
    assert env[1] == cbor2.CBORTag(560, MILAN) and env[0] == {0: cbor2.CBORTag(111, CLASS_OIDS["VCEK"])}
    assert {0: 643, 1: {4: cbor2.CBORTag(560, b"\x11" * 48)}} in claims
    rows, failures = load_references(data).check(report)
    assert rows == [] and [f.field for f in failures] == ["ID_KEY_DIGEST"]  # the claim is read, not dropped
    assert load_references(to_corim(one, dialect="veraison", policy=report.policy)).check(report) == (one.rows, [])
    with pytest.raises(InvalidInputError, match="dialect: must be one of profile, veraison"):
        to_corim(one, dialect="x")


def test_exports_refuse_a_policy_no_launch_has_and_offer_every_tcb_layout() -> None:
    from snpmeasure.cli._exports import add_export_arguments
    from snpmeasure.report import TCB_LAYOUTS

    with pytest.raises(InvalidInputError, match="reserved"):
        to_corim(_SMALL, policy=0x30000 | 1 << 40)
    with pytest.raises(InvalidInputError, match="reserved"):
        to_go_sev_guest(MILAN, policy=0x30000 | 1 << 40)
    import argparse

    p = argparse.ArgumentParser()
    add_export_arguments(p)
    product = next(a for a in p._actions if a.dest == "export_product")
    assert list(product.choices or ()) == list(TCB_LAYOUTS)


def test_a_corim_minimum_tcb_with_bytes_no_component_has_is_refused() -> None:
    """Per-component comparison must not drop what it cannot compare: a minimum whose reserved
    bytes are set (Milan's 2-5) is refused rather than read as its components alone."""
    from snpmeasure.report import TcbVersion

    report = AttestationReport.from_bytes(RAW)
    one = ReferenceTable([TableRow("qemu", "EPYC-Milan", 0xA00F11, 1, 4, MILAN)], firmware={}, inputs={}, profiles={})
    odd = TcbVersion.decode(0x4405FFFF00000000, "milan")
    with pytest.raises(InvalidInputError, match=r"^reference: its minimum TCB 0x4405ffff00000000 sets bytes"):
        load_references(to_corim(one, min_tcb=odd)).check(report)


def test_a_json_object_with_a_key_twice_is_refused(tmp_path: Path) -> None:
    """Python keeps a repeated key's last value, other readers its first: a verify config (or any
    JSON snpmeasure reads) with a key twice is refused, so a check written twice cannot silently
    become the other one. QEMU's JSON parser refuses a duplicate key too."""
    from snpmeasure import SevSnpGuest
    from snpmeasure.errors import QemuObjectError
    from snpmeasure.qemu_cmdline import parse_qemu_cmdline

    twice = tmp_path / "twice.json"
    head = '{"schema": "snpmeasure/verify-config", "schema_version": 1'
    twice.write_text(head + f', "measurements": ["{MEASUREMENT}"], "measurements": []}}')
    with pytest.raises(InvalidInputError, match="has the key 'measurements' twice in one JSON object"):
        VerifyConfig.load(twice)
    with pytest.raises(InvalidInputError, match="has the key 'schema' twice"):
        load_references(b'{"schema": "a", "schema": "b"}')
    with pytest.raises(QemuObjectError, match="^qmp: has the key 'policy' twice"):
        SevSnpGuest.from_qmp('{"qom-type": "sev-snp-guest", "id": "s", "policy": 1, "policy": 196608}')
    with pytest.raises(InvalidInputError, match="^-object: has the key 'id' twice"):
        parse_qemu_cmdline(["qemu-system-x86_64", "-object", '{"qom-type": "sev-snp-guest", "id": "a", "id": "b"}'])


def _signed_with(payload: bytes, header: dict, key: Any) -> bytes:
    """A COSE_Sign1 over ``payload`` with this protected header (ES384), signed by ``key``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    protected = cbor2.dumps({1: -35, 3: "application/rim+cbor", **header}, canonical=True)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)
    r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hashes.SHA384())))
    return bytes(
        cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")]))
    )


def test_a_corims_validity_dependencies_and_critical_headers_are_honoured() -> None:
    """The CoRIM's rim-validity and a signature's corim-meta signature-validity must hold at the
    time checked (--at); dependent RIMs, corim-map keys the draft does not define and a COSE
    header marked critical that is not read are refused (RFC 9052 §3.1), not ignored."""
    import datetime

    corim = cbor2.loads(to_corim(_SMALL))
    at = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)

    def with_keys(**extra: Any) -> bytes:
        body = {**_plain(corim.value), **{int(k[1:]): v for k, v in extra.items()}}
        return bytes(cbor2.dumps(cbor2.CBORTag(501, body)))

    def epoch(year: int) -> Any:
        return cbor2.CBORTag(1, int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp()))

    valid = with_keys(k4={0: epoch(2025), 1: epoch(2027)})
    assert load_references(valid, now=at).rows == _SMALL.rows
    with pytest.raises(InvalidInputError, match=r"^reference.rim-validity: ended 2001-01-01T00:00:00\+00:00"):
        load_references(with_keys(k4={1: epoch(2001)}), now=at)
    with pytest.raises(InvalidInputError, match="^reference.rim-validity: begins 2096"):
        load_references(with_keys(k4={0: epoch(2096), 1: epoch(2097)}), now=at)
    with pytest.raises(InvalidInputError, match="rim-validity: ended"):
        load_references(with_keys(k4={1: epoch(2001)}))  # now, by default
    with pytest.raises(InvalidInputError, match="must be a validity map"):
        load_references(with_keys(k4={0: epoch(2001)}), now=at)
    with pytest.raises(InvalidInputError, match="^reference.dependent-rims: names other RIMs"):
        load_references(with_keys(k2=[{0: "https://example.com/other.corim"}]), now=at)
    with pytest.raises(InvalidInputError, match="has the corim-map key 9, which snpmeasure does not check"):
        load_references(with_keys(k9=1), now=at)
    key = ec.generate_private_key(ec.SECP384R1())
    payload = bytes(cbor2.dumps(corim))
    ok = _signed_with(payload, {8: cbor2.dumps({0: {0: "me"}, 1: {1: epoch(2027)}})}, key)
    assert load_references(ok, public_key=key.public_key(), now=at).rows == _SMALL.rows
    expired = _signed_with(payload, {8: cbor2.dumps({0: {0: "me"}, 1: {1: epoch(2001)}})}, key)
    with pytest.raises(InvalidInputError, match="corim-meta.signature-validity: ended 2001"):
        load_references(expired, public_key=key.public_key(), now=at)
    critical = _signed_with(payload, {2: [99], 99: 1}, key)
    with pytest.raises(InvalidInputError, match="marks the COSE header 99 critical, which snpmeasure does not read"):
        load_references(critical, public_key=key.public_key(), now=at)
    assert load_references(_signed_with(payload, {2: [3]}, key), public_key=key.public_key(), now=at).rows
    with pytest.raises(InvalidInputError, match="marks the COSE header"):  # a map as a label: no crash
        load_references(_signed_with(payload, {2: [{1: 2}]}, key), public_key=key.public_key(), now=at)
    assert load_references(valid, now=datetime.datetime(2026, 6, 1)).rows  # naive: UTC, as verify reads it
    with pytest.raises(InvalidInputError, match="^now: must be a datetime.datetime"):
        load_references(b'{"schema": "x"}', now="yesterday")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="marks the COSE header True critical"):
        load_references(_signed_with(payload, {2: [True]}, key), public_key=key.public_key(), now=at)
