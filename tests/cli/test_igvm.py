"""`snpmeasure igvm show|sign|lint`, and `measure --mode snp:igvm`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from ..builders.igvm_files import TINY, build, known_digest, pd, vp
from ..support import FIXTURES, run_ours

X86 = str(TINY["tiny_x86"])
KEYS = FIXTURES / "keys"


def test_show_summarises_the_file() -> None:
    rc, out, _ = run_ours(["igvm", "show", X86, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["format_version"] == 1 and doc["headers"] == 377
    assert [p["platform"] for p in doc["platforms"]] == ["SEV_SNP"] and doc["policies"][0]["policy"] == "0x3001f"
    assert doc["directives"]["PAGE_DATA"] == {"count": 369, "gpa_first": "0xa0000", "gpa_end": "0x3472000"}
    assert doc["vp_contexts"] == [{"header": 360, "vp_index": 0, "gpa": "0x803000", "compatibility_mask": 1}]
    assert doc["id_block"]["ld"] == known_digest("tiny_x86") and len(doc["id_block"]["id_key_digest"]) == 96
    rc, text, _ = run_ours(["igvm", "show", X86])
    assert rc == 0 and "PAGE_DATA                369, gpa 0xa0000-0x3472000" in text and "ID key digest" in text


def test_measure_snp_igvm(tmp_path: Path) -> None:
    base = ["measure", "--mode", "snp:igvm", "--igvm", X86]
    assert run_ours(base) == (0, known_digest("tiny_x86") + "\n", "")
    rc, out, _ = run_ours([*base, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["measurement"] == known_digest("tiny_x86") and doc["mode"] == "snp:igvm"
    assert (
        doc["inputs"]["igvm"]["size"] == TINY["tiny_x86"].stat().st_size
        and doc["igvm"]["model"]["name"] == "igvmmeasure"
    )
    assert doc["igvm"]["id_block"]["failures"] == []
    # another model's digest differs from the one the ID block binds: exit 1, unless ignored
    rc, out, err = run_ours([*base, "--native-zero"])
    assert rc == 1 and len(out.strip()) == 96 and "is not the launch digest (BAD_MEASUREMENT)" in err
    assert run_ours([*base, "--native-zero", "--ignore-id-block"])[0] == 0
    rc, out, _ = run_ours([*base, "--output-format", "base64", "-v"])
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("Calculated SEV_SNP guest measurement: ") and lines[0].endswith("Y")
    assert lines[1] == "ID key digest: " + doc["igvm"]["id_block"]["id_key_digest"]
    assert lines[2] == "author key digest: - (no author key)"
    rc, out, _ = run_ours([*base, "--trace"])
    assert rc == 0 and out.splitlines()[-1] == known_digest("tiny_x86") and "header 375 PAGE_DATA" in out
    # --check-kvm: igvmmeasure's rules fail (exit 1) before anything is measured
    rc, out, err = run_ours([*base, "--check-kvm"])
    assert rc == 1 and out == "" and "vmsa-gpa" in err and "vmsa-cr0" in err
    rc, out, err = run_ours([*base, "--check-kvm", "--json"])  # the verdict on stdout too
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and {f["rule"] for f in doc["findings"]} >= {"vmsa-gpa", "vmsa-cr0"}
    # the qemu model refuses what QEMU refuses, with QEMU's reason: exit 2
    rc, _, err = run_ours([*base, "--profile", "qemu"])
    assert rc == 2 and "QEMU refuses the file: a VMSA at gpa 0x803000" in err
    # flags of other modes, and IGVM flags elsewhere
    rc, _, err = run_ours([*base, "--ovmf", X86])
    assert rc == 2 and "--ovmf: does not apply to --mode snp:igvm" in err
    rc, _, err = run_ours(["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--native-zero"])
    assert rc == 2 and "--native-zero: applies to --mode snp:igvm" in err
    rc, _, err = run_ours(["measure", "--mode", "snp:igvm"])
    assert rc == 2 and "give it with --igvm FILE" in err
    rc, _, err = run_ours(["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", X86])
    assert rc == 2 and "is an IGVM file (magic 'IGVM')" in err and "--mode snp:igvm" in err


def test_measure_snp_igvm_vcpu_sweep_for_the_qemu_model(tmp_path: Path) -> None:
    """QEMU launches a file with two VP contexts with two vCPUs only: a range gives that count's
    record, and a count it would refuse (out of bounds, or a VMSA not established) fails the range."""
    f = tmp_path / "two.igvm"
    f.write_bytes(build([pd(0x1000, bytes(4096)), vp(0), vp(1)]))
    base = ["measure", "--mode", "snp:igvm", "--igvm", str(f), "--profile", "qemu"]
    rc, out, _ = run_ours([*base, "--vcpus", "2-2", "--json"])
    records = json.loads(out)
    assert rc == 0 and [r["vcpus"] for r in records] == [2]
    assert run_ours([*base, "--vcpus", "2"])[1].strip() == records[0]["measurement"]
    rc, _, err = run_ours([*base, "--vcpus", "1-2"])
    assert rc == 2 and "out of bounds CPU index 1" in err and err.count("\n") == 1
    rc, _, err = run_ours([*base, "--vcpus", "3"])
    assert rc == 2 and "not established" in err


def test_measure_sweep_checks_the_id_block(tmp_path: Path) -> None:
    f, signed, other = tmp_path / "two.igvm", tmp_path / "signed.igvm", tmp_path / "other.igvm"
    f.write_bytes(build([vp(0), pd(0x1000, bytes(4096)), vp(1)]))  # KVM measures the VMSAs last
    sign = ["igvm", "sign", str(f), "--id-key", str(KEYS / "id_key_test.pem")]
    assert run_ours([*sign, "-o", str(signed), "--profile", "qemu", "--vcpus", "2"])[0] == 0
    assert run_ours([*sign, "-o", str(other), "--profile", "igvmmeasure"])[0] == 0  # binds another digest
    base = ["measure", "--mode", "snp:igvm", "--profile", "qemu", "--igvm"]
    rc, out, err = run_ours([*base, str(signed), "--vcpus", "2-2", "--json"])
    records = json.loads(out)
    assert rc == 0 and err == "" and [r["igvm"]["id_block"]["ld_matches"] for r in records] == [True]
    alone = run_ours([*base, str(signed), "--vcpus", "2", "--json"])[1]
    assert json.loads(alone) == records[0]  # the record is what measuring that count alone prints
    # a block that binds none of the counts: exit 1, said once
    rc, out, err = run_ours([*base, str(other), "--vcpus", "2-2"])
    assert rc == 1 and out.startswith("2\t") and err.count("error:") == 1
    assert "is the launch digest of none of these counts (BAD_MEASUREMENT)" in err
    assert run_ours([*base, str(other), "--vcpus", "2-2", "--ignore-id-block"])[0] == 0
    # reference values only for what LAUNCH_FINISH accepts, unless told to ignore the block
    export = ["--format", "trustee", "--output"]
    assert run_ours([*base, str(signed), "--vcpus", "2-2", *export, str(tmp_path / "r.json")])[0] == 0
    payload = json.loads(base64.b64decode(json.loads((tmp_path / "r.json").read_text())["payload"]))
    assert payload["snp_launch_measurement"] == [records[0]["measurement"]]
    rc, out, err = run_ours([*base, str(other), "--vcpus", "2", *export, str(tmp_path / "one.json")])
    assert rc == 1 and out == "" and "BAD_MEASUREMENT" in err and not (tmp_path / "one.json").exists()
    rc, out, err = run_ours([*base, str(other), "--vcpus", "2-2", *export, str(tmp_path / "none.json")])
    assert rc == 1 and "none of these counts" in err and not (tmp_path / "none.json").exists()
    ignored = [*base, str(other), "--vcpus", "2", *export, str(tmp_path / "one.json"), "--ignore-id-block"]
    assert run_ours(ignored)[0] == 0


def test_sign_then_measure_and_show(tmp_path: Path) -> None:
    out_file = tmp_path / "signed.igvm"
    argv = ["igvm", "sign", X86, "-o", str(out_file), "--id-key", str(KEYS / "id_key_test.pem")]
    argv += ["--author-key", str(KEYS / "author_key_test.pem"), "--image-id", "0x" + "22" * 16, "--guest-svn", "3"]
    rc, out, _ = run_ours([*argv, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["measurement"] == known_digest("tiny_x86") and doc["id_block"]["failures"] == []
    assert doc["id_block"]["id_block"]["image_id"] == "22" * 16 and doc["id_block"]["author_key_enabled"] is True
    rc, _, err = run_ours(argv)
    assert rc == 2 and "exists; add --force" in err
    assert run_ours(["measure", "--mode", "snp:igvm", "--igvm", str(out_file)]) == (
        0,
        known_digest("tiny_x86") + "\n",
        "",
    )
    again = tmp_path / "again.igvm"
    assert run_ours([*argv[:4], str(again), *argv[5:]])[0] == 0
    assert again.read_bytes() == out_file.read_bytes()  # RFC 6979: signing is deterministic


def test_lint(tmp_path: Path) -> None:
    rc, out, err = run_ours(["igvm", "lint", X86, "--json"])
    doc = json.loads(out)
    rules = {f["rule"] for f in doc["findings"]}
    assert rc == 1 and doc["ok"] is False and {"vmsa-gpa", "vmsa-cr0", "page-after-vmsa"} <= rules
    clean = tmp_path / "clean.igvm"
    clean.write_bytes(build([pd(0x1000, bytes(4096)), vp()]))
    assert run_ours(["igvm", "lint", str(clean)]) == (0, f"{clean}: no findings\n", "")
    rc, _, err = run_ours(["igvm", "lint", X86, "--check-kvm-only"])
    assert rc == 1 and err.count("\n") == 2 and err.startswith("snpmeasure igvm lint: error: vmsa-gpa: ")


def test_a_missing_file_is_named_as_the_usage_names_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.igvm")
    for argv in (["igvm", "show", missing], ["igvm", "lint", missing]):
        rc, _, err = run_ours(argv)
        assert rc == 2 and err.startswith(f"snpmeasure {argv[0]} {argv[1]}: error: file: {missing}:"), err
    rc, _, err = run_ours(["ovmf-hash", "--ovmf", missing])
    assert rc == 2 and f"error: --ovmf: {missing}:" in err


def test_writes_name_the_flag_and_file_and_a_long_vsm_context_is_written(tmp_path: Path) -> None:
    """A failed write says which flag's file; a VSM VP context longer than a page (its register
    list) is written back as it was read, so such a file can be signed."""
    import os
    import struct

    from snpmeasure.igvm import SupportedPlatform, VpContext

    key = str(KEYS / "id_key_test.pem")
    if os.path.exists("/dev/full"):
        rc, _, err = run_ours(["igvm", "sign", X86, "--id-key", key, "-o", "/dev/full", "--force"])
        assert rc == 2 and err == "snpmeasure igvm sign: error: --output: /dev/full: No space left on device\n"
        rc, _, err = run_ours(["igvmmeasure", X86, "sign", "--output", "/dev/full", "--id-key", key])
        assert rc == 2 and "--output: /dev/full: No space left on device" in err
        import stat

        assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # a device is written in place, never replaced
    rip = bytes([2]) + struct.pack("<I", 0x20010) + bytes(27)  # VTL 2, HvX64RegisterName Rip
    registers = struct.pack("<I", 200) + rip * 200  # 6404 bytes
    f = tmp_path / "vsm.igvm"
    f.write_bytes(
        build(
            [pd(0x1000, bytes(4096)), vp(), (VpContext(0, 2, 0, 0), registers)],
            platforms=[SupportedPlatform(1, 0, 2, 1, 0), SupportedPlatform(2, 0, 1, 1, 0)],
        )
    )
    signed = tmp_path / "signed.igvm"
    rc, out, err = run_ours(["igvm", "sign", str(f), "--id-key", key, "-o", str(signed)])
    assert rc == 0, err
    from snpmeasure import IgvmFile

    back = IgvmFile.load(signed)
    assert bytes(back.data_of(back.headers[-2]) or b"") == registers


def test_a_lone_path_map_is_refused_by_every_command(tmp_path: Path) -> None:
    """--path-map maps a launch configuration's files: without one it would do nothing."""
    report = str(FIXTURES / "attestation" / "attestation.bin")
    vcek = str(FIXTURES / "attestation" / "vcek.testcer")
    for argv in (
        ["measure", "--mode", "snp:igvm", "--igvm", X86],
        ["launch", "--igvm", X86],
        ["report", "verify", report, "--vcek", vcek, "--igvm", X86],
        ["explain", "--measurement", "00" * 48, "--igvm", X86],
    ):
        rc, _, err = run_ours([*argv, "--path-map", "/a=/b"])
        assert rc == 2 and "--path-map: maps the paths of a --libvirt-domain or QEMU command line" in err, argv


def test_sign_writes_through_a_symlink_and_never_over_its_input(tmp_path: Path) -> None:
    """An output that is a symlink is written through (the link stays); the file being signed is
    never the output, even with --force."""
    import os
    import shutil

    key = str(KEYS / "id_key_test.pem")
    target, link = tmp_path / "target.igvm", tmp_path / "link.igvm"
    target.write_bytes(b"old")
    os.symlink(target, link)
    rc, _, err = run_ours(["igvm", "sign", X86, "--id-key", key, "-o", str(link), "--force"])
    assert rc == 0, err
    assert link.is_symlink() and target.read_bytes()[:4] == b"IGVM"
    copy = tmp_path / "in.igvm"
    shutil.copy(X86, copy)
    rc, _, err = run_ours(["igvm", "sign", str(copy), "--id-key", key, "-o", str(copy), "--force"])
    assert rc == 2 and err.endswith(f"--output: {copy}: is the input file\n")
    assert copy.read_bytes() == Path(X86).read_bytes()
    rc, _, err = run_ours(["igvm", "sign", X86, "--id-key", key, "-o", "a", "--output", "b"])
    assert rc == 2 and err.endswith("--output: is given twice; give it once\n")  # the flag's long name
