"""``snpmeasure explain``: matches and their differences, no match and what to try, a report
verified before any search, the launch configuration as the assumptions, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snpmeasure import measure

from ..builders.cli_inputs import ATT
from ..builders.manifests import A
from ..builders.measure_cases import SVSM_FILES
from ..builders.reports_cli import MEASUREMENT, VCEK
from ..support import run_ours

pytestmark = [pytest.mark.differential]


def test_a_match_names_what_differs_and_the_measure_flags_reproduce_it() -> None:
    digest = measure(mode="snp", ovmf=A, vcpus=8, vcpu_type="EPYC-Genoa", guest_features=0x21).hex()
    rc, out, err = run_ours(
        ["explain", "--measurement", digest, "--ovmf", A, "--vcpus", "4", "--vcpu-type", "EPYC-Milan"]
    )
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "MATCH: profile qemu, 8 vCPUs, EPYC-Genoa (0xa10f10), guest features 0x21, kernel hashes off"
    assert lines[1] == (
        "  differs: vcpus 8, not 4; vcpu type EPYC-Genoa (0xa10f10), not EPYC-Milan; "
        "guest features 0x21, not 0x1 (the default)"
    )
    assert lines[3].startswith("1 match among 32768 configurations (6 profiles, 512 vCPU counts, 6 CPU signatures")
    rc, text, _ = run_ours(
        ["explain", "--measurement", digest, "--ovmf", A, "--vcpus", "4", "--vcpu-type", "EPYC-Milan", "--json"]
    )
    doc = json.loads(text)
    assert rc == 0 and doc["ok"] and doc["searched"] == 32768 and doc["signature"] == "not checked"
    match = doc["matches"][0]
    assert {k: match[k] for k in ("profile", "vcpus", "vcpu_sig", "vcpu_type", "guest_features", "kernel_hashes")} == {
        "profile": "qemu",
        "vcpus": 8,
        "vcpu_sig": "0xa10f10",
        "vcpu_type": "EPYC-Genoa",
        "guest_features": "0x21",
        "kernel_hashes": False,
    }
    assert match["differs"] == ["vcpus", "vcpu_type", "guest_features"]
    # the explanation's output is measure's input
    assert run_ours(["measure", *match["measure_args"]])[1].strip() == digest


def test_no_match_exits_1_and_says_what_to_try() -> None:
    rc, out, _ = run_ours(["explain", "--measurement", "00" * 48, "--ovmf", A, "--search-vcpus", "1-4"])
    assert rc == 1
    assert "NO MATCH among 256 configurations" in out
    assert "not checked: the firmware:" in out and "try: more vCPU counts: --search-vcpus 1-4096" in out


def test_a_tampered_report_is_refused_before_any_search(tmp_path: Path) -> None:
    raw = bytearray((ATT / "attestation.bin").read_bytes())
    raw[0x90] ^= 1  # the measurement: exactly what a forger would change
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(raw))
    base = ["explain", "--report", str(bad), "--vcek", str(VCEK), "--at", "2026-06-01", "--ovmf", A]
    rc, out, _ = run_ours([*base, "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["searched"] == 0 and doc["failures"][0]["field"] == "SIGNATURE"
    rc, out, _ = run_ours(base)
    assert rc == 1 and "refused: the report's signature does not hold" in out


def test_a_verified_report_is_searched_and_its_other_fields_checked() -> None:
    base = ["explain", "--report", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    rc, out, _ = run_ours([*base, "--ovmf", A, "--search-vcpus", "1-2", "--expect-policy", "0x30000", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["signature"] == "signed by AMD (milan)" and doc["measurement"] == MEASUREMENT
    assert [f["field"] for f in doc["failures"]] == ["POLICY"] and doc["matches"] == []
    rc, _, err = run_ours(["explain", "--report", str(ATT / "attestation.bin"), "--ovmf", A, "--search-vcpus", "1"])
    assert rc == 1 and "the report's signature was not checked" in err


def test_the_domain_is_the_assumption(tmp_path: Path) -> None:
    dom = tmp_path / "d.xml"
    dom.write_text(
        "<domain><vcpu>4</vcpu><os><loader type='rom'>/fw/OVMF.fd</loader></os>"
        "<cpu mode='custom'><model>EPYC-Milan</model></cpu>"
        "<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></domain>"
    )
    digest = measure(mode="snp", ovmf=A, vcpus=6, vcpu_type="EPYC-Milan").hex()
    argv = ["explain", "--measurement", digest, "--libvirt-domain", str(dom), "--path-map", f"/fw/OVMF.fd={A}"]
    rc, out, _ = run_ours([*argv, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["matches"][0]["notes"] == ["vcpus 6, not 4"]
    assert doc["assumptions"]["vcpus"] == 4 and doc["assumptions"]["vcpu_type"] == "EPYC-Milan"
    rc, _, err = run_ours([*argv, "--vcpus", "6"])
    assert rc == 2 and "--vcpus: is 6, but the domain's <vcpu> says 4: give one" in err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "--measurement: give what the guest reported"),
        (["--measurement", "00" * 48, "--report", "x"], "--measurement: give what the guest reported"),
        (["--measurement", "00" * 47], "--measurement"),
        (["--measurement", "00" * 48, "--fix", "vcpus"], "--fix: vcpus keeps the stated value: give --vcpus"),
        (["--measurement", "00" * 48, "--fix", "cpu"], "--fix: 'cpu' is no dimension"),
        (["--measurement", "00" * 48, "--search-kernel-hashes", "yes"], "--search-kernel-hashes: must be on, off"),
        (["--measurement", "00" * 48, "--search-guest-features", "x"], "--search-guest-features: must be numbers"),
        (["--measurement", "00" * 48, "--search-vcpus", "0-2"], "--search-vcpus: each count must be from 1"),
        (["--measurement", "00" * 48, "--kernel-hashes", "on"], "--kernel-hashes: on needs the kernel"),
        (["--measurement", "00" * 48, "--vcek", "x"], "--vcek: checks a report: give --report"),
        (["--measurement", "00" * 48, "--mode", "sev"], "--mode: invalid choice: 'sev' (choose from 'snp', 'snp:svsm'"),
        (["--measurement", "00" * 48, "--snp-ovmf-hash", "00"], "unrecognized arguments: --snp-ovmf-hash 00"),
        (["--measurement", "00" * 48, "--vcpus", "1-4"], "--vcpus: must be a whole number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list, fragment: str) -> None:
    rc, out, err = run_ours(["explain", "--ovmf", A, *argv])
    assert rc == 2 and out == "" and fragment in err and err.count("\n") == 1, err


def test_the_matches_export_as_reference_values(tmp_path: Path) -> None:
    from snpmeasure.exports import rows_from_corim

    digest = measure(mode="snp", ovmf=A, vcpus=3, vcpu_type="EPYC-Milan").hex()
    argv = ["explain", "--measurement", digest, "--ovmf", A, "--search-vcpus", "1-4", "--search-profiles", "qemu"]
    rc, out, _ = run_ours([*argv, "--format", "corim", "--output", str(tmp_path / "m.corim")])
    rows = rows_from_corim((tmp_path / "m.corim").read_bytes())
    assert rc == 0 and [(r.profile, r.vcpus, r.vcpu_type) for r in rows] == [("qemu", 3, "EPYC-Milan")]
    rc, out, _ = run_ours(
        [
            "explain",
            "--measurement",
            "00" * 48,
            "--ovmf",
            A,
            "--search-vcpus",
            "1",
            "--format",
            "corim",
            "--output",
            str(tmp_path / "n"),
        ]
    )
    assert rc == 1 and "NO MATCH" in out and not (tmp_path / "n").exists()


def test_an_igvm_files_matches_export_as_measure_exports_them(tmp_path: Path) -> None:
    from snpmeasure.exports import rows_from_corim

    from ..builders.igvm_files import build, pd, vp

    f = tmp_path / "two.igvm"
    f.write_bytes(build([vp(0), pd(0x1000, bytes(4096)), vp(1)]))
    base = ["--mode", "snp:igvm", "--igvm", str(f), "--profile", "qemu", "--vcpus", "2"]
    digest = run_ours(["measure", *base])[1].strip()
    rc, out, _ = run_ours(["explain", "--measurement", digest, "--igvm", str(f)])
    assert (
        rc == 0 and "MATCH: profile qemu, 2 vCPUs\n" in out and f"measure: snpmeasure measure {' '.join(base)}" in out
    )
    rc, out, _ = run_ours(
        ["explain", "--measurement", digest, "--igvm", str(f), "--format", "corim", "--output", str(tmp_path / "e")]
    )
    assert rc == 0 and out.split() == [str(tmp_path / "e"), str(tmp_path / "e.provenance.json")]
    assert run_ours(["measure", *base, "--format", "corim", "--output", str(tmp_path / "m")])[0] == 0
    assert rows_from_corim((tmp_path / "e").read_bytes()) == rows_from_corim((tmp_path / "m").read_bytes())


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--measurement", "00" * 48, "--at", "2026-01-01"], "--at: checks a report: give --report"),
        (["--measurement", "00" * 48, "--policy-at-most"], "--policy-at-most: checks a report"),
        (["--measurement", "00" * 48, "--expect-author-key-digest", "00" * 48], "--expect-author-key-digest"),
        (["--report", str(ATT / "attestation.bin"), "--crl", "x"], "--crl: checks the report's signature"),
        (["--measurement", "00" * 48, "--format", "corim", "--output", "x", "--json"], "--format: writes --output"),
    ],
)
def test_flags_that_would_do_nothing_are_refused(argv: list, fragment: str) -> None:
    rc, _, err = run_ours(["explain", "--ovmf", A, *argv])
    assert rc == 2 and fragment in err, err


def test_no_reference_values_from_a_report_that_fails_its_checks(tmp_path: Path) -> None:
    """Second review: an explained report that fails a check exports nothing and says why."""
    digest = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan").digest
    raw = bytearray((ATT / "attestation.bin").read_bytes())
    raw[0x90:0xC0] = digest
    fake = tmp_path / "fake.bin"
    fake.write_bytes(bytes(raw))
    out_file = tmp_path / "e.json"
    argv = ["explain", "--report", str(fake), "--ovmf", A, "--search-vcpus", "1-2", "--search-profiles", "qemu"]
    rc, out, err = run_ours([*argv, "--expect-policy", "0x30000", "--format", "trustee", "--output", str(out_file)])
    assert rc == 1 and "POLICY: expected 0x30000" in out and not out_file.exists()
    assert "signature was not checked" in err
    rc, out, _ = run_ours([*argv, "--format", "trustee", "--output", str(out_file)])
    assert rc == 0 and out_file.exists()


def test_a_configurations_id_auth_sets_the_expected_key_digests(tmp_path: Path) -> None:
    """The object's ID auth gives the expected ID (and, enabled, author) key digests; without an ID
    block KVM reads no ID auth, and nothing is expected of it (this used to crash)."""
    from ..builders.keys import KEYS
    from ..cli.test_launch import MEASURE

    keys = ["--id-key", str(KEYS / "id_key_test.pem"), "--author-key", str(KEYS / "author_key_test.pem")]
    rc, out, _ = run_ours(["id-block", "--from-measure", *MEASURE, *keys, "--json"])
    doc = json.loads(out)
    blocks = f"id-block={doc['id_block']},id-auth={doc['id_auth']}"
    base = ["explain", "--report", str(ATT / "attestation.bin"), "--vcek", str(VCEK), "--at", "2026-06-01"]
    cmd = f"qemu-system-x86_64 -machine q35,confidential-guest-support=s -bios {A} -cpu EPYC-Milan -smp 4"
    obj = "-object sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1,policy=0x30000"
    rc, out, _ = run_ours([*base, "--qemu-cmdline", f"{cmd} {obj},{blocks}", "--json"])
    fields = [f["field"] for f in json.loads(out)["failures"]]
    assert rc == 1 and "ID_KEY_DIGEST" in fields and "AUTHOR_KEY_DIGEST" not in fields  # not enabled
    rc, out, _ = run_ours([*base, "--qemu-cmdline", f"{cmd} {obj},{blocks},author-key-enabled=on", "--json"])
    fields = [f["field"] for f in json.loads(out)["failures"]]
    assert rc == 1 and "ID_KEY_DIGEST" in fields and "AUTHOR_KEY_DIGEST" in fields
    auth_only = f"{obj},id-auth={doc['id_auth']}"
    rc, out, _ = run_ours([*base, "--qemu-cmdline", f"{cmd} {auth_only}", "--json"])
    assert "ID_KEY_DIGEST" not in [f["field"] for f in json.loads(out)["failures"]]


def test_a_profile_files_match_is_reproduced_with_the_file(tmp_path: Path) -> None:
    """measure takes a user's profile with --profile-file: the reproduce line says that."""
    import shlex

    from snpmeasure.profiles import BUILTIN_PROFILES

    doc = {**BUILTIN_PROFILES["qemu"].to_json(), "name": "myvmm", "description": "mine", "source": "test"}
    doc["vmsa"] = {**doc["vmsa"], "x87_fcw": 0x37E}
    prof = tmp_path / "myvmm.json"
    prof.write_text(json.dumps(doc))
    base = ["--ovmf", A, "--vcpu-type", "EPYC-Milan", "--profile-file", str(prof)]
    rc, digest, _ = run_ours(["measure", "--mode", "snp", "--vcpus", "5", *base])
    rc, out, _ = run_ours(["explain", "--measurement", digest.strip(), "--vcpus", "4", *base, "--json"])
    args = json.loads(out)["matches"][0]["measure_args"]
    assert rc == 0 and args[args.index("--profile-file") + 1] == str(prof) and "--profile" not in args
    rc, again, _ = run_ours(["measure", *args])  # the reproduce line names the firmware too
    assert rc == 0 and again == digest, shlex.join(args)


def test_a_kernel_with_a_firmware_that_cannot_hash_it_is_booted_unmeasured(tmp_path: Path) -> None:
    """Without SNP_KERNEL_HASHES QEMU boots the kernel unmeasured (kernel-hashes=off, its default):
    that is the launch searched; kernel-hashes on is no launch with such a firmware."""
    from ..builders.igvm_files import FIXTURES

    plain = str(FIXTURES / "peer" / "ovmf_OvmfX64_suffix.bin")
    kernel = str(FIXTURES / "igvm" / "test_bzImage.input")
    digest = measure(mode="snp", ovmf=plain, vcpus=2, vcpu_type="EPYC-Milan").hex()
    base = ["explain", "--measurement", digest, "--ovmf", plain, "--vcpus", "2", "--vcpu-type", "EPYC-Milan"]
    for extra in ([], ["--kernel-hashes", "off"]):
        rc, out, _ = run_ours([*base, "--kernel", kernel, *extra, "--json"])
        assert rc == 0 and json.loads(out)["matches"][0]["notes"] == [], extra
    rc, _, err = run_ours([*base, "--kernel", kernel, "--kernel-hashes", "on"])
    assert rc == 2 and "--kernel-hashes: on needs a firmware with an SNP_KERNEL_HASHES section" in err


def test_a_configurations_unmeasured_kernel_is_searched_measured_too() -> None:
    """A command line with -kernel and kernel-hashes off boots the kernel unmeasured; the digest of
    the same launch with kernel-hashes on is the pitfall explain names (it used to lose the kernel)."""
    from ..builders.igvm_files import FIXTURES

    kernel = str(FIXTURES / "igvm" / "test_bzImage.input")
    cmd = (
        "qemu-system-x86_64 -machine q35,confidential-guest-support=s -object sev-snp-guest,id=s,cbitpos=51,"
        f"reduced-phys-bits=1 -smp 2 -cpu EPYC-Milan -bios {A} -kernel {kernel} -append ro"
    )
    hashed = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", kernel=kernel, append="ro").hex()
    rc, out, _ = run_ours(["explain", "--measurement", hashed, "--qemu-cmdline", cmd, "--json"])
    assert rc == 0 and json.loads(out)["matches"][0]["notes"] == ["kernel hashes on, not off"]
    rc, _, err = run_ours(["explain", "--measurement", hashed, "--qemu-cmdline", cmd, "--kernel-hashes", "on"])
    assert (
        rc == 2 and "--kernel-hashes: is on, but the command line's sev-snp-guest object has kernel-hashes off" in err
    )


@pytest.mark.parametrize(
    "flags",
    [
        ["--initrd", "x"],
        ["--append", "ro"],
        ["--vcpu-family", "25"],
        ["--search-cmdline", "given"],
        ["--kernel-hashes", "off"],
    ],
)
def test_flags_an_igvm_search_would_not_use_are_refused(flags: list) -> None:
    from ..builders.igvm_files import TINY

    igvm = str(TINY["tiny_x86"])
    digest = measure(mode="snp:igvm", igvm=igvm).hex()
    rc, _, err = run_ours(["explain", "--measurement", digest, "--igvm", igvm, *flags])
    assert rc == 2 and f"{flags[0]}: does not apply to --igvm" in err


def test_mode_snp_with_svsm_flags_is_read_as_measure_reads_it() -> None:
    """measure (as sev-snp-measure) ignores --svsm in mode snp with a warning; so does explain, so
    the flags that made a digest explain it."""
    flags = [*SVSM_FILES, "--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-Genoa"]
    rc, digest, _ = run_ours(["measure", *flags])
    rc, out, err = run_ours(["explain", "--measurement", digest.strip(), *flags, "--json"])
    assert rc == 0 and json.loads(out)["matches"][0]["notes"] == [] and "only apply to --mode snp:svsm" in err


def test_an_exported_match_records_what_was_measured(tmp_path: Path) -> None:
    """The provenance of explain --format names the inputs as measure --format does for the same
    launch: the command line of the matched variant, and no kernel when none was hashed."""
    import hashlib

    from ..builders.igvm_files import FIXTURES

    kernel = str(FIXTURES / "igvm" / "test_bzImage.input")
    flags = ["--mode", "snp", "--ovmf", A, "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--kernel", kernel]
    rc, digest, _ = run_ours(["measure", *flags, "--append", "ro\n"])

    def provenance(argv: list, name: str) -> dict:
        out = tmp_path / name
        assert run_ours([*argv, "--format", "trustee", "--output", str(out)])[0] == 0
        return json.loads((tmp_path / f"{name}.provenance.json").read_text())["inputs"]

    by_measure = provenance(["measure", *flags, "--append", "ro\n"], "m")
    by_explain = provenance(["explain", "--measurement", digest.strip(), *flags[2:], "--append", "ro"], "e")
    assert by_explain["cmdline_sha256"] == by_measure["append"]["sha256"]  # "ro\n", not the "ro" given
    rc, bare, _ = run_ours(["measure", *flags])  # no -append: the empty command line, one NUL
    absent = provenance(["explain", "--measurement", bare.strip(), *flags[2:], "--append", "ro"], "a")
    assert absent["cmdline_sha256"] == hashlib.sha256(b"\0").hexdigest()
    rc, plain, _ = run_ours(["measure", *flags[:-2]])
    unhashed = provenance(["explain", "--measurement", plain.strip(), *flags[2:]], "u")
    assert "kernel_sha256" not in unhashed and "cmdline_sha256" not in unhashed


def test_a_verified_report_is_held_to_the_rules_report_verify_holds_it_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report the host requested (VMPL 0xFFFFFFFF) is explained, and the failure said beside the
    matches (exit 1, nothing exported), as report verify fails it."""
    from ..builders.reports_cli import signed_by_test_chain

    digest = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan").digest
    report, vcek = signed_by_test_chain(tmp_path, monkeypatch, version=2, vmpl=0xFFFFFFFF, measurement=digest)
    argv = ["explain", "--report", report, "--vcek", vcek, "--product", "milan", "--ovmf", A, "--search-vcpus", "1-2"]
    rc, out, _ = run_ours([*argv, "--search-profiles", "qemu", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["matches"] and [f["field"] for f in doc["failures"]] == ["VMPL"]
