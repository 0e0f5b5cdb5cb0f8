"""`snpmeasure id-block`: snp-create-id-block's output shape, JSON, keys given every way (encrypted, DER, wrong curves), and private keys never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from snpmeasure.blobs import IdAuth, IdBlock

from ..builders.cli_inputs import KEY, OVMF
from ..builders.keys import KEYS, VECTOR
from ..builders.measure_cases import SVSM_FILES
from ..support import FIXTURES, run_ours


def test_cli_output_matches_snp_create_id_block_shape() -> None:
    rc, out, _ = run_ours(
        [
            "id-block",
            "--measurement",
            VECTOR["launch_digest_b64"],
            "--idkey",
            str(KEYS / "id_key_test.pem"),
            "--authorkey",
            str(KEYS / "author_key_test.pem"),
        ]
    )
    lines = out.splitlines()
    assert rc == 0 and len(lines) == 3
    assert lines[0].startswith("id-block=" + VECTOR["expected_id_block_b64"] + ",id-auth=")
    assert lines[1] == "id_key_hash: " + VECTOR["expected_id_key_digest_b64"]
    assert lines[2] == "author_key: " + VECTOR["expected_author_key_digest_b64"]
    auth = IdAuth.from_base64(lines[0].split(",id-auth=")[1])
    auth.verify(IdBlock.from_base64(VECTOR["expected_id_block_b64"]))


def test_measurement_takes_what_measure_prints_in_hex_too() -> None:
    """`M=$(snpmeasure measure ...); snpmeasure id-block --measurement $M`: 96 hex digits are told
    apart from base64 (64 characters for 48 bytes) by their length; both give the same block."""
    import base64

    hexed = base64.b64decode(VECTOR["launch_digest_b64"]).hex()
    argv = ["id-block", "--idkey", str(KEYS / "id_key_test.pem"), "--measurement"]
    b64_out = run_ours([*argv, VECTOR["launch_digest_b64"]])
    hex_out = run_ours([*argv, hexed])
    assert b64_out[0] == hex_out[0] == 0 and b64_out[1] == hex_out[1]
    rc, _, err = run_ours([*argv, hexed[:-2]])
    assert rc == 2 and "--measurement:" in err


def test_id_block_cli_json_and_from_measure(tmp_path: Path) -> None:
    rc, out, _ = run_ours(
        [
            "id-block",
            "--from-measure",
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin"),
            "--id-key",
            str(KEYS / "id_key_test.pem"),
            "--family-id",
            "00112233445566778899aabbccddeeff",
            "--guest-svn",
            "3",
            "--json",
        ]
    )
    doc = json.loads(out)
    assert (
        rc == 0
        and doc["id_block_fields"]["ld"]
        == "19358ba9a7615534a9a1e2f0dfc29384dcd4dcb7062ff9c6013b26869a5fc6ecabe033c48dd6f6db5d6d76e7c5df632d"
    )
    assert doc["author_key_digest"] is None and doc["id_block_fields"]["guest_svn"] == 3
    rc, _, err = run_ours(["id-block", "--measurement", "AAAA", "--id-key", str(KEYS / "id_key_test.pem")])
    assert rc == 2 and "48 bytes" in err
    rc, _, err = run_ours(["id-block", "--measurement", VECTOR["launch_digest_b64"]])
    assert rc == 2 and "--id-key" in err


def test_one_key_encrypted_one_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--key-password-env applies to each encrypted key, so an encrypted ID key goes with a plain author key."""

    from snpmeasure.blobs import load_private_key

    key = load_private_key(KEY)
    enc = tmp_path / "id_enc.pem"
    enc.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    monkeypatch.setenv("PW", "s3cret")
    author = str(FIXTURES / "keys" / "author_key_test.pem")
    rc, out, err = run_ours(
        [
            "id-block",
            "--measurement-hex",
            "00" * 48,
            "--id-key",
            str(enc),
            "--author-key",
            author,
            "--key-password-env",
            "PW",
            "--json",
        ]
    )
    assert rc == 0, err


@pytest.mark.sanitize
def test_private_keys_never_reach_output(tmp_path: Path) -> None:
    key_text = (KEYS / "id_key_test.pem").read_text()
    secret_line = key_text.splitlines()[1]
    rc, out, err = run_ours(
        ["id-block", "--measurement-hex", "00" * 48, "--id-key", str(KEYS / "id_key_test.pem"), "--json"]
    )
    assert rc == 0 and secret_line not in out and "PRIVATE" not in out
    broken = tmp_path / "k.pem"
    broken.write_text(key_text.replace(secret_line, secret_line[:-4] + "AAAA"))
    rc, out, err = run_ours(["id-block", "--measurement-hex", "00" * 48, "--id-key", str(broken)])
    assert rc == 2 and secret_line[:20] not in err


@pytest.mark.sanitize
def test_non_p384_keys_rejected_by_name(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    for key in (ec.generate_private_key(ec.SECP521R1()), ed25519.Ed25519PrivateKey.generate()):
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = tmp_path / "k.pem"
        path.write_bytes(pem)
        rc, _, err = run_ours(["id-block", "--measurement-hex", "00" * 48, "--id-key", str(path)])
        assert rc == 2 and "P-384" in err


def _direct_boot_flow(tmp_path: Path, *extra: str) -> list:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"not a real kernel, but hashed like one")
    return ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF, "--kernel", str(kernel)] + [
        *extra
    ]


def test_id_block_json_records_how_it_was_measured_and_qemu_object_reproduces_it(tmp_path: Path) -> None:
    """#17 item 1: the README's flow with direct boot (id-block --from-measure --kernel ... --json,
    qemu-object --from-id-block, launch --object) ends in SUCCESS, not BAD_MEASUREMENT."""
    flags = _direct_boot_flow(tmp_path, "--append", "console=ttyS0")
    rc, out, _ = run_ours(["id-block", "--from-measure", *flags, "--id-key", KEY, "--json"])
    doc = json.loads(out)
    record = doc["measure"]
    assert rc == 0 and record["kernel_hashes"] is True and record["mode"] == "snp" and record["profile"] == "qemu"
    assert record["vcpus"] == 2 and record["vcpu_sig"] == "0xa00f11" and record["guest_features"] == "0x1"
    assert record["inputs"]["kernel"]["sha256"] and record["inputs"]["ovmf"]["sha256"]
    assert record["profile_definition"]["vmm"] == "qemu"
    assert doc["measurement"] == record["measurement"]
    (tmp_path / "k.json").write_text(out)
    rc, obj, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "k.json")])
    assert rc == 0 and "kernel-hashes=on" in obj
    rc, xml, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "k.json"), "--format", "libvirt"])
    assert rc == 0 and 'kernelHashes="yes"' in xml
    rc, out, err = run_ours(["launch", "--object", obj.strip(), *flags, "--json"])
    assert rc == 0 and json.loads(out)["status"] == "SUCCESS", err
    # Without the record (a digest given as --measurement), nothing is assumed.
    rc, out, _ = run_ours(["id-block", "--measurement-hex", record["measurement"], "--id-key", KEY, "--json"])
    assert rc == 0 and json.loads(out)["measure"] is None
    (tmp_path / "m.json").write_text(out)
    rc, obj, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "m.json")])
    assert rc == 0 and "kernel-hashes" not in obj


def test_from_id_block_refuses_what_cannot_reproduce_the_digest(tmp_path: Path) -> None:
    rc, out, _ = run_ours(["id-block", "--from-measure", *_direct_boot_flow(tmp_path)[:8], "--id-key", KEY, "--json"])
    assert rc == 0 and json.loads(out)["measure"]["kernel_hashes"] is False
    (tmp_path / "plain.json").write_text(out)
    rc, _, err = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "plain.json"), "--kernel-hashes"])
    assert rc == 2 and "--kernel-hashes: contradicts --from-id-block" in err
    doc = json.loads(out)
    for key, value, fragment in (
        ("profile_definition", {**doc["measure"]["profile_definition"], "vmm": "ec2"}, "with profile qemu (VMM ec2)"),
        ("guest_features", "0x3", "0x3 cannot be asked of QEMU"),
        ("guest_features", "0x0", "0x0 cannot be asked of QEMU"),
        ("kernel_hashes", "yes", "kernel_hashes: must be true or false"),
        ("mode", "sev", "must be snp or snp:svsm"),
    ):
        bad = {**doc, "measure": {**doc["measure"], key: value}}
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        rc, _, err = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "bad.json")])
        assert rc == 2 and fragment in err, (key, err)
    debug_swap = {**doc, "measure": {**doc["measure"], "guest_features": "0x21"}}
    (tmp_path / "ds.json").write_text(json.dumps(debug_swap))
    rc, obj, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "ds.json")])
    assert rc == 0 and "debug-swap=on" in obj


def test_from_measure_binds_the_configurations_policy(tmp_path: Path) -> None:
    """An ID block for a launch configuration binds the policy its sev-snp-guest object launches
    with (LAUNCH_FINISH compares them); a --policy that contradicts it is refused."""
    from ..builders.manifests import A

    cmd = (
        f"qemu-system-x86_64 -machine q35,confidential-guest-support=s -bios {A} -cpu EPYC-Milan -smp 2 "
        "-object sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1,policy=0xb0000"
    )
    base = ["id-block", "--from-measure", "--qemu-cmdline", cmd, "--id-key", str(KEYS / "id_key_test.pem")]
    rc, out, _ = run_ours([*base, "--json"])
    assert rc == 0 and json.loads(out)["id_block_fields"]["policy"] == "0xb0000"
    rc, _, err = run_ours([*base, "--policy", "0x30000"])
    assert rc == 2 and "--policy: is 0x30000, but the command line's sev-snp-guest object has policy 0xb0000" in err
    rc, _, err = run_ours([*base, "--policy", "bogus"])
    assert rc == 2 and err.startswith("snpmeasure id-block: error: --policy: unknown flag 'bogus'")


def test_the_passphrase_goes_to_an_encrypted_der_key_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--key-password-env: an encrypted DER ID key beside a plain DER author key (a DER key's first
    field says whether it is encrypted: PKCS#8 EncryptedPrivateKeyInfo starts with a SEQUENCE)."""
    enc = serialization.BestAvailableEncryption(b"secret")
    plain = serialization.NoEncryption()
    for name, fmt, protect in (
        ("id.der", serialization.PrivateFormat.PKCS8, enc),
        ("author.der", serialization.PrivateFormat.PKCS8, plain),
        ("author_sec1.der", serialization.PrivateFormat.TraditionalOpenSSL, plain),
    ):
        key = ec.generate_private_key(ec.SECP384R1())
        (tmp_path / name).write_bytes(key.private_bytes(serialization.Encoding.DER, fmt, protect))
    monkeypatch.setenv("PW", "secret")
    for author in ("author.der", "author_sec1.der"):
        argv = ["id-block", "--measurement-hex", "00" * 48, "--id-key", str(tmp_path / "id.der")]
        rc, out, err = run_ours([*argv, "--author-key", str(tmp_path / author), "--key-password-env", "PW"])
        assert rc == 0 and out.startswith("id-block="), err


def test_the_measure_record_carries_the_flags_it_ignored() -> None:
    """What id-block --from-measure says it ignored on stderr is in its record's warnings, as in
    measure --json's (the next step reads the record, not stderr)."""
    argv = ["id-block", "--from-measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC-v4", *SVSM_FILES]
    rc, out, err = run_ours([*argv, "--kernel", OVMF, "--id-key", KEY, "--json"])
    said = "--kernel/--initrd/--append are ignored in snp:svsm mode"
    assert rc == 0 and said in err and json.loads(out)["measure"]["warnings"] == [said]
