"""`snpmeasure measure`: JSON and trace, sweeps, profiles and profile files, SEV HMACs, --dump-vmsa, warnings for ignored flags, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

import snpmeasure
from snpmeasure import measure
from snpmeasure.errors import ManifestError
from snpmeasure.images import FirmwareManifest
from snpmeasure.measurement import sev_launch_measurement, sweep
from snpmeasure.profiles import BUILTIN_PROFILES

from ..builders.cli_inputs import OVMF
from ..builders.manifests import GOOD, PEER, A
from ..builders.measure_cases import EMPTY, SVSM_FILES, VECTORS, X, needs_ssm, run_ssm
from ..support import FIXTURES, run_ours


def mutated(path: str, value: Any) -> Dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return doc


@pytest.mark.differential
@pytest.mark.sanitize
@pytest.mark.parametrize(
    "path,value,fragment",
    [
        ("schema", "other", "schema"),
        ("schema_version", 2, "newer"),
        ("schema_version", "1", "positive integer"),
        ("schema_version", True, "positive integer"),
        ("kernel_hashes_supported", "yes", "as its sections and sev_hash_table say"),
        ("kernel_hashes_supported", False, "must be true"),
        ("ovmf_digest", "00", "96 hex"),
        ("firmware.sha256", "zz" * 32, "64 hex"),
        ("firmware.size", 100, "multiple of 4096"),
        ("firmware.gpa", "0x1000", "4 GiB - size"),
        ("sections.0.gpa", "0x800800", "4 KiB aligned"),
        ("sections.1.gpa", "0x800000", "overlaps section 0"),
        ("sections.2.gpa", "0xfffff000", "overlaps the firmware image"),
        ("sections.0.size", "0xffffffff", "aligned"),
        ("sections.0.type", "x", "number"),
        ("sev_hash_table.gpa", "0x900000", "outside the SNP_KERNEL_HASHES section"),
        ("sections", KeyError, "missing"),
    ],
)
def test_bad_manifests(path: str, value: Any, fragment: str, tmp_path: Path) -> None:
    doc = mutated(path, value)
    with pytest.raises(ManifestError) as exc:
        FirmwareManifest.from_json(doc)
    assert fragment in str(exc.value)
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    rc, out, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--firmware-manifest", str(p)]
    )
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1


@pytest.mark.differential
@pytest.mark.sanitize
def test_sweep_cli_and_svsm() -> None:
    rc, out, _ = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1,3", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--json"]
    )
    records = json.loads(out)
    assert rc == 0 and [r["vcpus"] for r in records] == [1, 3]
    # #17 item 7: one shape: each record has exactly the fields of the single-count output.
    rc, one, _ = run_ours(["measure", "--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--json"])
    assert rc == 0 and records[1] == json.loads(one)
    assert records[1]["measurement"] == measure(mode="snp", ovmf=A, vcpus=3, vcpu_type="EPYC-v4").hex()
    svsm = dict(
        mode="snp:svsm",
        ovmf=str(PEER / "svsm_ovmf.fd"),
        svsm=str(PEER / "svsm.bin"),
        vars_size=540672,
        vcpu_type="EPYC-v4",
    )
    assert sweep(vcpus="2-3", **svsm)[3] == measure(vcpus=3, **svsm).digest


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
    rc, out, err = run_ours(
        ["qemu-object", "--object", "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,init-flags=0"]
    )
    assert rc == 0 and err.count("\n") == 1 and "warning: 'init-flags' is a pre-merge property" in err


def test_sweep_json_names_the_profile_used(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"base": "qemu", "name": "old-host", "vmsa": {"mxcsr": 0}}))
    argv = ["measure", "--mode", "snp", "--vcpus", "1-2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--json"]
    assert [r["profile"] for r in json.loads(run_ours(argv + ["--profile-file", str(prof)])[1])] == ["old-host"] * 2
    assert json.loads(run_ours(argv + ["--vmm-type", "QEMU"])[1])[0]["profile"] == "qemu"
    prof.write_text(json.dumps({"base": "qemu", "name": "qemu", "vmsa": {"mxcsr": 0}}))
    rc, _, err = run_ours(argv + ["--profile-file", str(prof)])
    assert rc == 2 and "is a built-in profile's name" in err


@pytest.mark.differential
@pytest.mark.sanitize
def test_cli_json_and_trace() -> None:
    argv = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel", EMPTY]
    rc, out, _ = run_ours(argv + ["--json", "--trace"])
    assert rc == 0
    doc = json.loads(out)
    plain = run_ours(argv)[1].strip()
    assert doc["measurement"] == plain
    assert doc["trace"][-1]["digest"] == plain
    assert doc["profile"] == "qemu" and doc["vcpu_sig"] == "0x800f12" and doc["guest_features"] == "0x1"
    assert doc["inputs"]["ovmf"]["sha256"] and doc["inputs"]["kernel"]["sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert doc["snpmeasure_version"] == snpmeasure.__version__
    rc, out, _ = run_ours(argv + ["--trace"])
    lines = out.strip().splitlines()
    assert lines[-1] == plain and lines[0].startswith("SNP_LAUNCH_UPDATE") and len(lines) == 1 + 1 + 7 + 2


@pytest.mark.differential
@pytest.mark.sanitize
def test_cli_list_profiles() -> None:
    rc, out, _ = run_ours(["measure", "--list-profiles"])
    assert rc == 0 and all(name in out for name in BUILTIN_PROFILES)
    rc, out, _ = run_ours(["measure", "--list-profiles", "--json"])
    assert {p["name"] for p in json.loads(out)} == set(BUILTIN_PROFILES)


@pytest.mark.differential
@pytest.mark.sanitize
@pytest.mark.parametrize(
    "argv,fragment",
    [
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", X, "--kernel", EMPTY],
            "SNP_KERNEL_HASHES",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--initrd", EMPTY],
            "initrd: needs a kernel",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--append", "x"],
            "append: needs a kernel",
        ),
        (["--mode", "snp", "--vcpus", "1", "--ovmf", A], "--vcpu-type: a vCPU type, signature"),
        (["--mode", "snp", "--vcpu-type", "EPYC-v4", "--ovmf", A], "vcpus: is required"),
        (["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", "/nonexistent.fd"], "/nonexistent.fd"),
        (["--mode", "snp", "--vcpus", "1", "--vcpu-type", "Pentium", "--ovmf", A], "unknown CPU model"),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-family", "25", "--ovmf", A],
            "--vcpu-model: is missing: --vcpu-family names a signature only with all three of --vcpu-family, "
            "--vcpu-model and --vcpu-stepping",
        ),
        (
            [
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC-v4",
                "--ovmf",
                A,
                "--profile",
                "ec2",
                "--vmm-type",
                "gce",
            ],
            "contradicts",
        ),
        (["--mode", "sev", "--ovmf", X, "--kernel", EMPTY], "hash table"),
        (
            [
                "--mode",
                "snp:svsm",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC-v4",
                "--ovmf",
                A,
                "--svsm",
                str(PEER / "svsm.bin"),
            ],
            "--vars-size or --vars-file",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--snp-ovmf-hash", "abc"],
            "--snp-ovmf-hash: must be a 48-byte launch digest as 96 hex digits",
        ),
        (["--mode", "sev", "--ovmf", A, "--dump-vmsa"], "--dump-vmsa"),
        (["--vcpus", "1", "--ovmf", A], "--mode"),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel-hash", "12"],
            "--kernel-hash: must be a SHA-256",
        ),
        (["--mode", "snp", "--vcpus", "zero", "--ovmf", A], "whole number"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv: List[str], fragment: str) -> None:
    rc, out, err = run_ours(["measure"] + argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err


@pytest.mark.differential
@pytest.mark.sanitize
@needs_ssm
def test_dump_vmsa_refuses_to_overwrite(in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--dump-vmsa"]
    assert run_ours(["measure"] + argv)[0] == 0
    ours = [(in_tmp_cwd / f"vmsa{i}.bin").read_bytes() for i in range(2)]
    assert run_ours(["measure"] + argv)[0] == 2
    assert run_ours(["measure"] + argv + ["--force"])[0] == 0
    for p in in_tmp_cwd.glob("vmsa*.bin"):
        p.unlink()
    run_ssm(argv, monkeypatch)
    assert ours == [(in_tmp_cwd / f"vmsa{i}.bin").read_bytes() for i in range(2)]


@pytest.mark.differential
@pytest.mark.sanitize
def test_sev_hmac_cli(tmp_path: Path) -> None:
    v = VECTORS["sev_launch_measure_hmac"][0]
    tik = tmp_path / "tik.bin"
    tik.write_bytes(bytes.fromhex(v["tik"]))
    import base64

    m = measure(mode="sev", ovmf=A)
    expected = sev_launch_measurement(
        m.digest,
        tik=tik.read_bytes(),
        mnonce=bytes.fromhex(v["mnonce"]),
        api_major=0,
        api_minor=0x12,
        build=0xF,
        policy=0,
    )
    blob = base64.b64encode(expected + bytes.fromhex(v["mnonce"])).decode()
    base = [
        "measure",
        "--mode",
        "sev",
        "--ovmf",
        A,
        "--tik",
        str(tik),
        "--api-major",
        "0",
        "--api-minor",
        "0x12",
        "--build",
        "15",
        "--policy",
        "0",
    ]
    rc, out, _ = run_ours(base + ["--launch-measure-blob", blob])
    assert rc == 0 and out.splitlines()[-1] == f"launch-measure: {expected.hex()}"
    bad = base64.b64encode(bytes(32) + bytes.fromhex(v["mnonce"])).decode()
    assert run_ours(base + ["--launch-measure-blob", bad])[0] == 1
    rc, out, _ = run_ours(base + ["--mnonce", base64.b64encode(bytes.fromhex(v["mnonce"])).decode(), "--json"])
    assert json.loads(out)["launch_measure"]["hmac"] == expected.hex()
    rc, out, _ = run_ours(base + ["--launch-measure-blob", bad, "--json"])
    doc = json.loads(out)["launch_measure"]
    assert (
        rc == 1
        and doc["blob_hmac"] == "00" * 32
        and (doc["api_minor"], doc["build"], doc["policy"]) == (0x12, 15, "0x0")
    )
    for size, fragment in ((32, "32 bytes (sev-tool's 32-byte tmp_tk.bin is TEK then TIK"), (5000, "more than 4096")):
        big = tmp_path / f"tik{size}"
        big.write_bytes(bytes(size))
        rc, _, err = run_ours([*base[:6], str(big), *base[7:], "--launch-measure-blob", blob])
        assert rc == 2 and f"--tik: must be a file of the 16-byte TIK, got {fragment}" in err
    rc, _, err = run_ours([*base[:10], "0x10", *base[11:], "--launch-measure-blob", blob])
    assert rc == 2 and "SEV API 0.16: before 0.17 the HMAC had no version header" in err
    # QEMU launches SEV-ES exactly when POLICY.ES (bit 2) is set: a mode that contradicts it is refused
    rc, _, err = run_ours([*base[:-1], "0x5", "--launch-measure-blob", blob])
    assert rc == 2 and "--policy: 0x5 sets ES (bit 2), so QEMU launches the guest as SEV-ES" in err


def test_seves_says_which_vm_type_its_default_profile_assumes() -> None:
    """QEMU 9.1+ keeps the legacy KVM_SEV_ES_INIT for an SEV-ES guest without SEV features
    (legacy-vm-type=auto), and KVM's legacy VMSAs have no FPU state: the default profile (the
    digest sev-snp-measure computes) says so on stderr; an explicit profile, or SEV features, do not."""
    argv = ["measure", "--mode", "seves", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", A]
    rc, out, err = run_ours(argv)
    assert rc == 0 and len(out.strip()) == 64 and "--profile qemu-legacy measures that" in err
    legacy = run_ours([*argv, "--profile", "qemu-legacy"])
    assert legacy[0] == 0 and legacy[2] == "" and legacy[1] != out
    assert run_ours([*argv, "--profile", "qemu"])[2] == ""
    assert run_ours([*argv, "--guest-features", "0x20"])[2] == ""  # debug-swap=on: KVM_SEV_INIT2


@pytest.mark.differential
@pytest.mark.sanitize
def test_profile_file(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"base": "qemu", "name": "old-host", "vmsa": {"mxcsr": 0, "x87_fcw": 0}}))
    argv = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A]
    rc, out, _ = run_ours(argv + ["--profile-file", str(p)])
    assert rc == 0 and out == run_ours(argv + ["--profile", "qemu-legacy"])[1]
    full = tmp_path / "full.json"
    full.write_text(json.dumps(BUILTIN_PROFILES["ec2"].to_json()))
    assert run_ours(argv + ["--profile-file", str(full)])[1] == run_ours(argv + ["--profile", "ec2"])[1]


@pytest.mark.differential
@pytest.mark.sanitize
@pytest.mark.parametrize(
    "doc,field",
    [
        ({"vmm": "xen"}, "vmm"),
        ({"colour": 1}, "colour"),
        ({"vmsa": {"mxcsr": -1}}, "vmsa.mxcsr"),
        ({"vmsa": {"kind": "weird"}}, "vmsa.kind"),
        ({"vmsa_gpa": 123}, "vmsa_gpa"),
        ({"sec_mem_page_type": "VMSA"}, "sec_mem_page_type"),
        ({"cpuid_placement": "first"}, "cpuid_placement"),
        ({"base": "nope"}, "base"),
        ([], "p.json"),
    ],
)
def test_bad_profile_files(tmp_path: Path, doc: Any, field: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    rc, out, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--profile-file", str(p)]
    )
    assert rc == 2 and field in err


def test_firmware_without_sev_metadata_is_refused_unless_allowed(tmp_path: Path) -> None:
    """#17 item 3: upstream QEMU refuses such an SNP launch, so measure does too (exit 2); the
    opt-in measures it as another loader would, with the warning on stderr and in the JSON; a
    truncated or foreign file gets no hint about --vcpus."""
    fd = tmp_path / "r.fd"
    fd.write_bytes(bytes(range(256)) * 32)
    argv = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", str(fd)]
    rc, out, err = run_ours(argv)
    assert rc == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("snpmeasure measure: error: --ovmf: ") and "has no SEV metadata" in err
    assert "not an OVMF build" in err and "(--allow-no-sev-metadata)" in err and "--vcpus 1" not in err
    rc, out, err = run_ours([*argv, "--allow-no-sev-metadata"])
    assert rc == 0 and len(out.strip()) == 96 and err.startswith("snpmeasure measure: warning: ")
    multi = [*argv[:4], "2", *argv[5:], "--allow-no-sev-metadata"]
    rc, _, err = run_ours(multi)
    assert rc == 2 and "no SEV-ES reset block for the APs" in err and "--vcpus 1 or another" not in err
    rc, out, err = run_ours([*argv[:4], "1-2", *argv[5:], "--allow-no-sev-metadata", "--json"])
    assert rc == 2  # the APs again
    rc, out, err = run_ours([*argv[:4], "1,1", *argv[5:], "--allow-no-sev-metadata", "--json"])
    records = json.loads(out)
    assert rc == 0 and all("has no SEV metadata" in r["warnings"][0] for r in records)
    assert snpmeasure.measure(mode="snp", ovmf=str(fd), vcpus=1, vcpu_type="EPYC", allow_no_sev_metadata=True)


def test_measure_json_has_one_record_shape_for_one_count_or_many() -> None:
    """#17 item 7: a vCPU range or list prints a list of the records one count prints."""
    base = ["measure", "--mode", "snp", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF, "--json"]
    one = json.loads(run_ours([*base, "--vcpus", "2"])[1])
    many = json.loads(run_ours([*base, "--vcpus", "1-3"])[1])
    assert isinstance(one, dict) and [r["vcpus"] for r in many] == [1, 2, 3]
    assert all(set(r) == set(one) for r in many) and many[1] == one


def test_kernel_that_is_no_bzimage_is_warned_about(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux"
    elf.write_bytes(b"\x7fELF" + bytes(1000))
    argv = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--kernel", str(elf)]
    rc, out, err = run_ours(argv)
    assert rc == 0 and len(out.strip()) == 96
    assert err == (
        f"snpmeasure measure: warning: the kernel {elf} is an ELF file (no 'HdrS' boot header at offset 0x202): "
        "QEMU's direct boot loads a bzImage (vmlinuz); its hash is measured all the same\n"
    )
    bz = tmp_path / "vmlinuz"
    bz.write_bytes(bytes(0x202) + b"HdrS" + bytes(10))
    assert run_ours(argv[:-1] + [str(bz)])[2] == ""


def test_libvirt_domain_is_the_launch_and_flags_fill_only_what_it_leaves_open(tmp_path: Path) -> None:
    """#18 part 2, the domain XML: its <vcpu>, <cpu>, loader, kernel and launchSecurity decide;
    a flag that contradicts them is refused naming both."""
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(bytes(0x202) + b"HdrS" + bytes(100))
    dom = tmp_path / "d.xml"
    dom.write_text(
        "<domain><vcpu current='3'>8</vcpu><os><loader type='rom'>/fw/OVMF.fd</loader>"
        "<kernel>/boot/vmlinuz</kernel><cmdline>quiet</cmdline></os>"
        "<cpu mode='custom'><model>EPYC-Milan</model></cpu>"
        "<launchSecurity type='sev-snp' kernelHashes='yes'><cbitpos>51</cbitpos>"
        "<reducedPhysBits>1</reducedPhysBits><policy>0x30000</policy></launchSecurity></domain>"
    )
    paths = ["--path-map", f"/fw/OVMF.fd={OVMF}", "--path-map", f"/boot={tmp_path}"]
    rc, out, err = run_ours(["measure", "--libvirt-domain", str(dom), *paths])
    flags = ["measure", "--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    assert rc == 0 and err == "" and out == run_ours([*flags, "--kernel", str(kernel), "--append", "quiet"])[1]
    rc, _, err = run_ours(["measure", "--libvirt-domain", str(dom), *paths, "--vcpus", "4"])
    assert rc == 2 and "--vcpus: is 4, but the domain's <vcpu> says 3: give one" in err
    rc, _, err = run_ours(["measure", "--libvirt-domain", str(dom), *paths, "--vcpu-type", "EPYC-Genoa"])
    assert rc == 2 and "the domain's <cpu><model> says 'EPYC-Milan'" in err
    rc, out2, _ = run_ours(["measure", "--libvirt-domain", str(dom), *paths, "--vcpus", "3"])
    assert rc == 0 and out2 == out  # agreeing flags are fine
    # launch reads the whole domain, also when it is given as --libvirt
    for flag in ("--libvirt-domain", "--libvirt"):
        rc, text, _ = run_ours(["launch", flag, str(dom), *paths, "--json"])
        doc = json.loads(text)
        assert rc == 0 and doc["report"]["measurement"] == out.strip(), flag
    host = tmp_path / "host.xml"
    host.write_text(
        "<domain><vcpu>2</vcpu><os><loader>/fw/OVMF.fd</loader></os><cpu mode='host-passthrough'/>"
        "<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></domain>"
    )
    rc, _, err = run_ours(["measure", "--libvirt-domain", str(host), *paths[:2]])
    assert rc == 2 and "host-passthrough" in err and "give --vcpu-type or --vcpu-sig" in err
    rc, out, _ = run_ours(["measure", "--libvirt-domain", str(host), *paths[:2], "--vcpu-type", "EPYC-Genoa"])
    assert (
        rc == 0
        and out
        == run_ours(["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Genoa", "--ovmf", OVMF])[1]
    )
    rc, _, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF, *paths[:2]]
    )
    assert rc == 2 and "--path-map: maps the paths of a --libvirt-domain" in err


def test_qemu_command_line_is_the_launch(tmp_path: Path) -> None:
    """#18 part 2, QEMU's command line: the same rules as the domain XML."""
    line = f"qemu-system-x86_64 -smp 3 -cpu EPYC-Milan -bios {OVMF} -machine q35,confidential-guest-support=s "
    line += "-object sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1"
    rc, out, err = run_ours(["measure", "--qemu-cmdline", line])
    flags = ["measure", "--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    assert rc == 0 and err == "" and out == run_ours(flags)[1]
    argv_file = tmp_path / "argv"
    argv_file.write_text(line.replace(" -", " \\\n-"))
    assert run_ours(["measure", "--qemu-argv-file", str(argv_file)])[1] == out
    argv_file.write_text(line.ljust(1 << 20) + " -smp 24")  # refused whole, never cut inside "-smp 24"
    rc, _, err = run_ours(["measure", "--qemu-argv-file", str(argv_file)])
    assert rc == 2 and "--qemu-argv-file: is larger than 1 MiB" in err
    rc, _, err = run_ours(["measure", "--qemu-cmdline", line, "--vcpus", "2"])
    assert rc == 2 and "--vcpus: is 2, but the command line's -smp says 3: give one" in err
    rc, _, err = run_ours(["measure", "--qemu-cmdline", line + " -vnc :1 -frob x"])
    assert rc == 2 and err.count("\n") == 1 and "-frob: is an option snpmeasure does not know" in err
    rc, out, _ = run_ours(["launch", "--qemu-cmdline", line, "--json"])
    assert rc == 0 and json.loads(out)["status"] == "SUCCESS"


def test_measure_exports_one_measurement_a_sweep_and_an_igvm_file(tmp_path: Path) -> None:
    """#20: measure --format writes the measurement(s) as reference values, with provenance."""
    from snpmeasure.exports import from_go_sev_guest, rows_from_corim

    base = ["measure", "--mode", "snp", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    one = run_ours([*base, "--vcpus", "4"])[1].strip()
    rc, out, _ = run_ours(
        [*base, "--vcpus", "4", "--format", "go-sev-guest", "--output", str(tmp_path / "c.textproto")]
    )
    assert rc == 0 and from_go_sev_guest((tmp_path / "c.textproto").read_text())[0].hex() == one
    rc, out, _ = run_ours([*base, "--vcpus", "1-4", "--format", "corim", "--output", str(tmp_path / "r.corim")])
    rows = rows_from_corim((tmp_path / "r.corim").read_bytes())
    assert rc == 0 and [r.vcpus for r in rows] == [1, 2, 3, 4] and rows[3].measurement.hex() == one
    provenance = json.loads((tmp_path / "r.corim.provenance.json").read_text())
    assert provenance["firmware"]["ovmf"]["sha256"] and provenance["profiles"]["qemu"]["name"] == "qemu"
    igvm = str(FIXTURES / "igvm" / "tiny_x86.igvm")
    rc, _, _ = run_ours(
        ["measure", "--mode", "snp:igvm", "--igvm", igvm, "--format", "trustee", "--output", str(tmp_path / "t.json")]
    )
    assert rc == 0 and (tmp_path / "t.json.provenance.json").exists()
    rc, _, err = run_ours(["measure", "--mode", "sev", "--ovmf", OVMF, "--format", "corim", "--output", "x"])
    assert rc == 2 and "--format: exports SNP launch digests" in err


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--kernel", "/dev/zero"], "--kernel: /dev/zero: is a device or socket, not a regular file: QEMU loads"),
        (["--kernel", "."], "--kernel: .: is a directory"),
        (["--kernel", OVMF, "--initrd", "/dev/zero"], "--initrd: /dev/zero: is a device or socket"),
        (["--ovmf", "/dev/zero"], "--ovmf: /dev/zero: is a device or socket, not a regular file (it is read whole)"),
        (["--mode", "snp:igvm", "--igvm", "/dev/zero"], "--igvm: /dev/zero: is a device or socket"),
    ],
)
def test_inputs_no_loader_reads_to_an_end_are_refused(flags: list, fragment: Any) -> None:
    """A device never ends (the hash ran forever), a directory is no file: exit 2, one line."""
    base = ["measure", "--vcpus", "1"] + ([] if "--mode" in flags else ["--mode", "snp"])
    if "--igvm" not in flags:
        base += ["--vcpu-type", "EPYC-Milan"] + ([] if "--ovmf" in flags else ["--ovmf", OVMF])
    rc, _, err = run_ours([*base, *flags])
    assert rc == 2 and fragment in err and err.count("\n") == 1, err


def test_a_kernel_from_a_pipe_is_refused_but_an_initrd_is_read(tmp_path: Path) -> None:
    """QEMU sizes -kernel with fseek (a pipe fails); an initrd's digest depends on its bytes alone, so a pipe
    (``<(zcat initrd.gz)``) measures as the file it stands for."""
    import os
    import threading

    base = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    rc, _, err = run_ours([*base, "--kernel", str(fifo)])
    assert rc == 2 and "is a pipe, not a regular file: QEMU loads -kernel from a file it can size" in err
    initrd = b"initrd" * 1000
    (tmp_path / "initrd").write_bytes(initrd)
    writer = threading.Thread(target=lambda: fifo.write_bytes(initrd), daemon=True)
    writer.start()
    piped = run_ours([*base, "--kernel", OVMF, "--initrd", str(fifo)])
    writer.join()
    assert piped[0] == 0 and piped[1] == run_ours([*base, "--kernel", OVMF, "--initrd", str(tmp_path / "initrd")])[1]


def test_a_failed_export_writes_nothing_and_keeps_what_was_there(tmp_path: Path) -> None:
    """The export and its provenance are written together or not at all."""
    base = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    out = tmp_path / "refs"
    out.write_text("old")
    (tmp_path / "refs.provenance.json").mkdir()
    rc, _, err = run_ours([*base, "--format", "corim", "--output", str(out)])
    assert rc == 2 and "--output:" in err and "is a directory" in err and err.count("\n") == 1
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["refs", "refs.provenance.json"]
    long_name = tmp_path / ("y" * 245)  # fits; with ".provenance.json" it does not
    rc, _, err = run_ours([*base, "--format", "trustee", "--output", str(long_name)])
    assert rc == 2 and "longer than" in err and not long_name.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs", "refs.provenance.json"]


def test_exports_get_the_usual_file_mode_and_failures_name_the_users_path(tmp_path: Path) -> None:
    """Published reference values are readable as any file the umask allows (mkstemp's 0600 was
    kept), a replaced file keeps its mode, and a failure names --output's path, not a temporary one."""
    import os
    import stat

    base = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF]
    old = os.umask(0o022)
    try:
        out = tmp_path / "new.corim"
        assert run_ours([*base, "--format", "corim", "--output", str(out)])[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        assert stat.S_IMODE((tmp_path / "new.corim.provenance.json").stat().st_mode) == 0o644
        out.chmod(0o640)
        assert run_ours([*base, "--format", "corim", "--output", str(out)])[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(old)
    rc, _, err = run_ours([*base, "--format", "corim", "--output", str(tmp_path / "no" / "x.corim")])
    assert rc == 2 and f"--output: {tmp_path / 'no' / 'x.corim'}: No such file or directory" in err


def test_a_domains_file_that_is_not_here_asks_for_path_map(tmp_path: Path) -> None:
    """The domain names the host's paths: one missing here is said as the domain's, with the fix."""
    dom = tmp_path / "d.xml"
    dom.write_text(
        "<domain><vcpu>2</vcpu><os><loader type='rom'>/no/such/OVMF.fd</loader></os>"
        "<cpu mode='custom'><model>EPYC-Milan</model></cpu>"
        "<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></domain>"
    )
    rc, _, err = run_ours(["measure", "--libvirt-domain", str(dom)])
    assert rc == 2 and err == (
        "snpmeasure measure: error: --libvirt-domain: the domain's <os><loader> is /no/such/OVMF.fd, which is not "
        "here: map it to your copy with --path-map HOSTPATH=LOCALPATH\n"
    )
    rc, _, err = run_ours(["measure", "--libvirt-domain", str(dom), "--path-map", f"/no={tmp_path}"])
    assert rc == 2 and "is not here: check --path-map" in err
    rc, out, _ = run_ours(["measure", "--libvirt-domain", str(dom), "--path-map", f"/no/such/OVMF.fd={OVMF}"])
    assert rc == 0 and len(out.strip()) == 96


def test_sev_es_and_snp_launches_need_the_reset_block_and_seves_has_no_snp_active(tmp_path: Path) -> None:
    """QEMU exits when an SEV-ES or SEV-SNP firmware has no SEV info block (sev_es_save_reset_vector),
    whatever the vCPU count, and finds the block in its original place too (before the GUID
    table); an SEV-ES VMSA never has SNPActive; --initrd/--append need a kernel in every mode."""
    import struct

    from snpmeasure.images import SEV_ES_RESET_BLOCK_GUID, FirmwareImage

    data = Path(OVMF).read_bytes()
    assert FirmwareImage(data).sev_es_reset_eip is not None and data.count(SEV_ES_RESET_BLOCK_GUID) == 1
    fw = tmp_path / "noreset.fd"
    fw.write_bytes(data.replace(SEV_ES_RESET_BLOCK_GUID, bytes(16)))  # the table entry's GUID gone
    base = ["measure", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", str(fw)]
    for mode in ("seves", "snp"):
        rc, _, err = run_ours([*base, "--mode", mode])
        assert rc == 2 and "has no SEV-ES reset block (the SEV info block" in err and "not found in pflash rom" in err
    assert run_ours([*base, "--mode", "sev"])[0] == 0  # SEV has no VMSAs
    # the original place: the SEV info block (address, u16 length, GUID) ending 0x20 before the end
    legacy = bytearray(4096) + struct.pack("<IH", 0xFFFF1234, 22) + SEV_ES_RESET_BLOCK_GUID + bytes(0x20)
    legacy = bytes(4096 * 2 - len(legacy)) + legacy
    assert FirmwareImage(legacy, name="legacy.fd").sev_es_reset_eip == 0xFFFF1234
    seves = ["measure", "--mode", "seves", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF]
    rc, _, err = run_ours([*seves, "--guest-features", "0x1"])
    assert rc == 2 and "--guest-features: 0x1 has bit 0, SNPActive, which no SEV-ES VMSA has" in err
    assert run_ours([*seves, "--guest-features", "0x20"])[0] == 0  # DebugSwap: an SEV-ES feature
    svsm = ["measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--svsm", OVMF]
    rc, _, err = run_ours([*svsm, "--append", "x"])
    assert rc == 2 and "--append: needs a kernel, and snp:svsm mode boots none (it ignores --kernel)" in err
    # --kernel is ignored there, as sev-snp-measure ignores it; snpmeasure's own hash flags are refused, by name
    for flag in ("--kernel-hash", "--initrd-hash", "--append-hash"):
        rc, _, err = run_ours([*svsm, flag, "00" * 32])
        assert rc == 2 and err.endswith(f"error: {flag}: snp:svsm mode measures no kernel hashes\n"), err
    # an image with neither an SVSM entry point nor SEV metadata is said to be no SVSM: the missing
    # metadata's advice (--allow-no-sev-metadata) could not make it one
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(bytes(65536))
    rc, _, err = run_ours([*svsm[:-2], "--svsm", str(zeros), "--vars-size", "540672"])
    assert rc == 2 and "--svsm: " in err and "SVSM image has no SVSM info GUID entry" in err and "allow" not in err
    rc, _, err = run_ours([*svsm[:-2], "--svsm", SVSM_FILES[3], "--vars-file", str(zeros.parent / "nope")])
    assert rc == 2 and "--vars-file: " in err
    # the same file as --ovmf and --svsm: the SVSM's fault is said as --svsm's; a store too large for the SVSM as the store's
    rc, _, err = run_ours([*svsm, "--vars-size", "540672"])
    assert rc == 2 and f"error: --svsm: {OVMF}: SVSM image has no SVSM info GUID entry" in err, err
    rc, _, err = run_ours(
        [*svsm[:-2], "--svsm", SVSM_FILES[3], "--vars-size", str(FirmwareImage.open(OVMF).gpa - 0x1000)]
    )
    assert rc == 2 and "error: --vars-size: leaves 0x1000 bytes below the variable store, too few for the" in err, err
    (tmp_path / "vars5000").write_bytes(bytes(5000))
    rc, _, err = run_ours([*svsm[:-2], "--svsm", SVSM_FILES[3], "--vars-file", str(tmp_path / "vars5000")])
    assert rc == 2 and "--vars-file: holds 5000 bytes: the OVMF_VARS flash must be a multiple of 4096" in err
    rc, out, _ = run_ours(
        ["measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", *SVSM_FILES, "--json"]
    )
    assert rc == 0 and json.loads(out)["inputs"]["ovmf_vars"] == {"size": 540672}  # it moves the SVSM


def test_outputs_are_written_whole_or_not_at_all(in_tmp_cwd: Path) -> None:
    """--dump-vmsa writes every vmsa<N>.bin or none, and no output replaces a file the command reads."""
    argv = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--dump-vmsa", "--force"]
    (in_tmp_cwd / "vmsa0.bin").write_text("old")
    (in_tmp_cwd / "vmsa1.bin").mkdir()
    rc, _, err = run_ours(argv)
    assert rc == 2 and err.endswith("--dump-vmsa: vmsa1.bin: is a directory\n")
    assert (in_tmp_cwd / "vmsa0.bin").read_text() == "old"
    assert sorted(p.name for p in in_tmp_cwd.iterdir()) == ["vmsa0.bin", "vmsa1.bin"]  # no temporary left
    firmware = in_tmp_cwd / "fw.bin"
    firmware.write_bytes(Path(A).read_bytes())
    base = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", str(firmware)]
    rc, _, err = run_ours([*base, "--format", "corim", "--output", "./fw.bin"])
    assert rc == 2 and err.endswith("--output: ./fw.bin: is the file --ovmf reads\n")
    assert firmware.read_bytes() == Path(A).read_bytes()


def test_snp_guest_features_need_snp_active() -> None:
    """Every SEV-SNP VMSA has SEV_FEATURES bit 0 (KVM sets it): a value without it is no SNP launch."""
    base = ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A]
    for argv in (
        ["measure", *base, "--guest-features", "0x2"],
        ["table", "--ovmf", A, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--guest-features", "0x1,0x0", "--quiet"],
    ):
        rc, _, err = run_ours(argv)
        assert rc == 2 and "--guest-features: 0x" in err and "lacks bit 0, SNPActive" in err, argv
    rc, _, err = run_ours(["explain", "--measurement", "00" * 48, *base[2:], "--search-guest-features", "0x1,0x20"])
    assert rc == 2 and err.endswith(
        "--search-guest-features: 0x20 lacks bit 0, SNPActive, which every SEV-SNP VMSA has\n"
    )


def test_a_configuration_whose_policy_kvm_refuses_is_no_launch_to_measure() -> None:
    line = (
        f"qemu-system-x86_64 -enable-kvm -smp 2 -cpu EPYC-v4 -bios {A} -machine q35,confidential-guest-support=s "
        "-object sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1,policy=0x10000"
    )
    rc, _, err = run_ours(["measure", "--qemu-cmdline", line])
    assert rc == 2 and "--qemu-cmdline: the command line's sev-snp-guest policy: RESERVED_MBO: bit 17" in err, err
    rc, _, err = run_ours(["measure", "--qemu-cmdline", line.replace("0x10000", "0x70000")])
    assert rc == 2 and "sets MIGRATE_MA (bit 18), which KVM refuses" in err, err
    assert run_ours(["measure", "--qemu-cmdline", line.replace("0x10000", "0x30000")])[0] == 0


def test_a_seed_reads_as_xxd_prints_it() -> None:
    """--snp-ovmf-hash takes the hex digits with line breaks and spaces, as sev-snp-measure's
    bytes.fromhex does (``$(xxd -p seed.bin)`` is two lines)."""
    seed = bytes(range(48)).hex()
    base = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A]
    plain = run_ours([*base, "--snp-ovmf-hash", seed])
    assert plain[0] == 0
    assert run_ours([*base, "--snp-ovmf-hash", seed[:60] + "\n" + seed[60:]]) == plain
    assert run_ours([*base, "--snp-ovmf-hash", " ".join(seed[i : i + 2] for i in range(0, 96, 2))]) == plain


def test_a_profile_default_without_snp_active_is_refused(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text('{"base": "qemu", "name": "zero", "default_guest_features": 0}')
    rc, _, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--profile-file", str(prof)]
    )
    assert rc == 2 and "default_guest_features: 0x0 lacks bit 0, SNPActive" in err and "--guest-features" not in err, (
        err
    )


def test_json_carries_the_flags_measure_ignored() -> None:
    rc, out, err = run_ours(["measure", "--mode", "sev", "--ovmf", A, "--vcpus", "2", "--json"])
    said = "--vcpus is ignored in sev mode (SEV measures the firmware and kernel hashes, no VMSA)"
    assert rc == 0 and said in err and json.loads(out)["warnings"][0] == said
