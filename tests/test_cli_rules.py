"""Command-line rules a user relies on, found by a user-level audit of every command: options that
would be silently ignored are refused, out-of-range values are bad input (exit 2) rather than a
failed check (exit 1), and malformed JSON inputs never reach a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from .support import FIXTURES, run_ours

OVMF = str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin")
ATT = FIXTURES / "attestation"
# --at: inside the real VCEK's validity (it expires 2029-09-24), so the checks after the chain still run
VERIFY = ["report", "verify", str(ATT / "attestation.bin"), "--vcek", str(ATT / "vcek.testcer"), "--at", "2026-06-01"]
KEY = str(FIXTURES / "keys" / "id_key_test.pem")
OBJ = "sev-snp-guest,id=a,policy=0x30000,reduced-phys-bits=1"


@pytest.mark.parametrize(
    "argv,fragment",
    [
        # report verify: measure flags without --mode would verify no measurement at all
        (
            VERIFY + ["--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF],
            "--mode: is required to check the measurement",
        ),
        (VERIFY + ["--ovmf", "/nonexistent"], "--mode: is required"),
        # expectations no report can meet are bad input
        (VERIFY + ["--expect-vmpl", "4"], "--expect-vmpl: must be an int from 0 to 3"),
        (VERIFY + ["--expect-vmpl", "-1"], "--expect-vmpl: must be an int from 0 to 3"),
        (VERIFY + ["--expect-guest-svn", "4294967296"], "--expect-guest-svn: must be an int from 0 to 4294967295"),
        (VERIFY + ["--min-tcb", "snp=256"], "--min-tcb: snp must be an SVN from 0 to 255"),
        (VERIFY + ["--min-tcb", "foo=1"], "--min-tcb: unknown TCB component 'foo'"),
        # a report argument that is neither a file nor a report
        (["report", "show", "/nonexistent/report.bin"], "is no file, and not a report as hex or base64 text"),
        # measurement ranges are checked before they are expanded (no MemoryError, no 800 MB first)
        (
            ["measure", "--mode", "snp", "--vcpus", "1-99999999999999999", "--vcpu-type", "EPYC", "--ovmf", OVMF],
            "from 1 to 4096",
        ),
        (["measure", "--mode", "snp", "--vcpus", "1,,2", "--vcpu-type", "EPYC", "--ovmf", OVMF], "comma list"),
        (["table", "--ovmf", OVMF, "--vcpus", "1-20000000", "--vcpu-type", "EPYC", "--quiet"], "from 1 to 4096"),
        # table: lists and the firmware source
        (
            ["table", "--ovmf", OVMF, "--vcpu-type", "EPYC", "--guest-features", "abc", "--quiet"],
            "--guest-features: must be numbers",
        ),
        (["table", "--ovmf", OVMF, "--vcpu-type", "EPYC,", "--quiet"], "--vcpu-type: has an empty item"),
        (["table", "--ovmf", OVMF, "--firmware-manifest", OVMF, "--vcpu-type", "EPYC"], "one of them"),
        # policy: values and host flags
        (["policy", "decode", ""], "policy: is empty"),
        (["policy", "decode", "smt,,debug"], "has an empty flag"),
        (
            ["policy", "decode", "0x30000", "--firmware-abi", "256.1"],
            "--firmware-abi: must be MAJOR.MINOR with each part 0..255",
        ),
        (["policy", "decode", "0x20000", "--host-smt-off"], "--host-smt-off: describes the host of a firmware"),
        # qemu-object: an object given whole does not take builder flags; --json is QMP
        (["qemu-object", "--object", OBJ, "--policy", "0xb0000"], "--policy: builds an object field by field"),
        (["qemu-object", "--object", OBJ, "--host-data", "hex:00"], "--host-data: builds an object field by field"),
        (["qemu-object", "--object", OBJ, "--json", "--format", "libvirt"], "--json: prints QMP JSON"),
        # id-block: measure flags need --from-measure, and an SNP mode
        (
            ["id-block", "--measurement-hex", "00" * 48, "--id-key", KEY, "--ovmf", "/nonexistent"],
            "--ovmf: describes a guest to measure",
        ),
        (["id-block", "--from-measure", "--mode", "sev", "--ovmf", OVMF, "--id-key", KEY], "is not an SNP mode"),
        # launch: the KVM policy mask is 64 bits
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--kvm-policy-bits",
                "-1",
            ],
            "--kvm-policy-bits: must be a 64-bit mask",
        ),
        # checks that would be skipped: the LAUNCH_MEASURE flags need --tik; two sources for one value
        (
            ["measure", "--mode", "sev", "--ovmf", OVMF, "--launch-measure-blob", "A" * 64],
            "--launch-measure-blob: computes the LAUNCH_MEASURE HMAC",
        ),
        (["measure", "--mode", "sev", "--ovmf", OVMF, "--api-major", "0"], "which needs --tik"),
        (
            ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--force"],
            "--force: only lets --dump-vmsa",
        ),
        (["measure", "--list-profiles", "--ovmf", OVMF], "--list-profiles: lists the profiles"),
        (
            [
                "measure",
                "--mode",
                "snp",
                "--vcpus",
                "1-2",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--json",
                "--output-format",
                "base64",
            ],
            "--json: prints every form",
        ),
        (
            ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--json", "-v"],
            "--json: prints every form",
        ),
        (
            VERIFY
            + [
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--expect-measurement",
                "00" * 48,
            ],
            "--expect-measurement: the measurement is already set by the measure flags",
        ),
        (VERIFY + ["--policy-at-most"], "--policy-at-most: compares with an expected policy"),
        (VERIFY + ["--min-tcb", "fmc=1"], "--min-tcb: fmc is no TCB component of milan"),
        # numbers beyond 64 bits, and bytes that are not UTF-8
        (["policy", "decode", "0x" + "f" * 5000], "policy: must be a 64-bit unsigned int, got <an int of 20000 bits>"),
        (
            ["measure", "--mode", "snp", "--vcpus", "1", "--ovmf", OVMF, "--vcpu-sig", "0x" + "f" * 5000],
            "got <an int of 20000 bits>",
        ),
        (
            [
                "measure",
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--guest-features",
                "0x" + "f" * 5000,
            ],
            "got <an int of 20000 bits>",
        ),
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--kvm-policy-bits",
                "0x" + "f" * 5000,
            ],
            "--kvm-policy-bits: must be a 64-bit mask",
        ),
        (
            ["measure", "--mode", "snp", "--vcpus", "1-2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--policy", "1"],
            "which needs --tik",
        ),
        (
            ["measure", "--mode", "snp", "--vcpus", "1,2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--force"],
            "--force: only lets",
        ),
        (["qemu-object", "--object", OBJ, "--cbitpos", "0"], "--cbitpos: builds an object field by field"),
        (["qemu-object", "--id", "", "--reduced-phys-bits", "1"], "id: Parameter 'id' expects an identifier"),
        (["id-block", "--measurement-hex", "00", "--id-key", KEY], "--measurement-hex: must be 48 bytes"),
        (
            ["id-block", "--measurement-hex", "00" * 48, "--id-key", KEY, "--author-key", "/nonexistent.pem"],
            "--author-key: /nonexistent.pem",
        ),
        (VERIFY + ["--min-tcb", "snp=\u00b2"], "--min-tcb: must be component=N"),
        (["report", "show", "\udcff"], "report: '\\udcff' is no file"),
        # options that would be silently ignored
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--no-kvm-checks",
                "--kvm-policy-bits",
                "0",
            ],
            "--kvm-policy-bits: is one of KVM's checks",
        ),
        (
            ["id-block", "--from-measure", "--mode", "snp:ovmf-hash", "--ovmf", OVMF, "--id-key", KEY],
            "is not an SNP mode",
        ),
        (
            ["qemu-object", "--id", "a", "--reduced-phys-bits", "1", "--cbitpos", "99"],
            "cbitpos: must fit CPUID 0x8000001F EBX[5:0]",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: List[str], fragment: str) -> None:
    rc, out, err = run_ours(argv)
    assert rc == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err, err


def test_policy_without_a_firmware_checks_nothing() -> None:
    """Plain encoding and decoding exit 0; the SMT rule applies once --firmware-abi names a firmware."""
    assert run_ours(["policy", "encode", "--debug"])[:2] == (0, "0xa0000\n")
    assert run_ours(["policy", "decode", "0x20000"])[0] == 0
    rc, _, err = run_ours(["policy", "decode", "0x20000", "--firmware-abi", "1.55"])
    assert rc == 1 and "SMT" in err
    assert run_ours(["policy", "decode", "0x20000", "--firmware-abi", "1.55", "--host-smt-off"])[0] == 0


def test_qemu_object_json_is_qmp() -> None:
    rc, out, _ = run_ours(["qemu-object", "--object", OBJ, "--json"])
    assert rc == 0 and json.loads(out)["arguments"]["qom-type"] == "sev-snp-guest"
    assert run_ours(["qemu-object", "--object", OBJ, "--json", "--format", "qmp"])[1] == out


@pytest.mark.parametrize(
    "doc,fragment",
    [
        ({"id_block": "AA==", "id_auth": "AA==", "id_block_fields": {"policy": "abc"}}, "unknown flag"),
        ({"id_block": "AA==", "id_auth": "AA==", "id_block_fields": []}, "id_block_fields.policy"),
        ({"id_block": 5, "id_auth": "AA=="}, "id_block and id_auth strings"),
        (
            {"id_block": "AA==", "id_auth": "AA==", "author_key_enabled": "false"},
            "author_key_enabled must be true or false",
        ),
    ],
)
def test_from_id_block_checks_its_json(tmp_path: Path, doc: dict, fragment: str) -> None:
    path = tmp_path / "idblock.json"
    path.write_text(json.dumps(doc))
    rc, _, err = run_ours(["qemu-object", "--from-id-block", str(path)])
    assert rc == 2 and fragment in err and "Traceback" not in err, err


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


def test_from_id_block_sets_what_it_binds(tmp_path: Path) -> None:
    doc = {"id_block": "AA==", "id_auth": "AA==", "id_block_fields": {"policy": "0x30000"}, "author_key_enabled": False}
    path = tmp_path / "idblock.json"
    path.write_text(json.dumps(doc))
    for flag, value in (
        ("--policy", "0xb0000"),
        ("--id-block", "AA=="),
        ("--id-auth", "AA=="),
        ("--author-key-enabled", None),
    ):
        rc, _, err = run_ours(["qemu-object", "--from-id-block", str(path), flag] + ([value] if value else []))
        assert rc == 2 and "is set by --from-id-block" in err, err


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


def test_ignored_flags_warn(tmp_path: Path) -> None:
    rc, out, err = run_ours(["measure", "--mode", "snp:ovmf-hash", "--ovmf", OVMF, "--vcpus", "2", "--profile", "gce"])
    assert rc == 0 and "--vcpus, --profile are ignored in snp:ovmf-hash mode" in err
    rc, out, err = run_ours(["measure", "--mode", "sev", "--ovmf", OVMF, "--vcpus", "2"])
    assert rc == 0 and "--vcpus is ignored in sev mode" in err
    # ignored means not checked either (it was: the warning, then a refusal of the count)
    rc, out0, err = run_ours(
        ["measure", "--mode", "sev", "--ovmf", OVMF, "--vcpus", "0", "--vcpu-sig", "0x1ffffffffff"]
    )
    assert rc == 0 and out0 == out and "--vcpus, --vcpu-sig are ignored in sev mode" in err
    rc, out, err = run_ours(["measure", "--mode", "sev", "--ovmf", OVMF, "--vcpus", "2", "--json"])
    assert rc == 0 and json.loads(out)["vcpus"] is None  # not part of an SEV measurement
    rc, _, err = run_ours(["measure", "--mode", "sev", "--ovmf", OVMF, "--vcpus", "abc"])
    assert rc == 2 and "--vcpus: must be a whole number" in err  # as sev-snp-measure's type=int
    # a sweep in a mode without VMSAs is refused, without a warning first
    rc, out, err = run_ours(["measure", "--mode", "sev", "--ovmf", OVMF, "--vcpus", "1-4"])
    assert (
        rc == 2
        and err.count("\n") == 1
        and "--vcpus: a range or list of counts applies to modes snp and snp:svsm" in err
    )
    rc, out, err = run_ours(["qemu-object", "--object", "sev-snp-guest,id=a,reduced-phys-bits=1,init-flags=0"])
    assert rc == 0 and err.count("\n") == 1 and "warning: 'init-flags' is a pre-merge property" in err


def test_sweep_json_names_the_profile_used(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"base": "qemu", "name": "old-host", "vmsa": {"mxcsr": 0}}))
    argv = ["measure", "--mode", "snp", "--vcpus", "1-2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--json"]
    assert json.loads(run_ours(argv + ["--profile-file", str(prof)])[1])["profile"] == "old-host"
    assert json.loads(run_ours(argv + ["--vmm-type", "QEMU"])[1])["profile"] == "qemu"
    prof.write_text(json.dumps({"base": "qemu", "name": "qemu", "vmsa": {"mxcsr": 0}}))
    rc, _, err = run_ours(argv + ["--profile-file", str(prof)])
    assert rc == 2 and "is a built-in profile's name" in err


def test_one_key_encrypted_one_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--key-password-env applies to each encrypted key, so an encrypted ID key goes with a plain author key."""
    from cryptography.hazmat.primitives import serialization

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
