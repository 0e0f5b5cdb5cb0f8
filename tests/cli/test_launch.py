"""`snpmeasure launch`: the dry run's steps, its formats and failures, and the object's SEV features."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Sequence

from snpmeasure import measure

from ..builders.igvm_files import TINY
from ..builders.launches import KEYS, LD, A
from ..builders.measure_cases import SVSM_FILES
from ..support import run_ours

MEASURE = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", A]


def workflow(tmp_path: Path, extra_object: Sequence[str] = ()) -> str:
    rc, out, _ = run_ours(
        [
            "id-block",
            "--from-measure",
            *MEASURE,
            "--id-key",
            str(KEYS / "id_key_test.pem"),
            "--author-key",
            str(KEYS / "author_key_test.pem"),
            "--json",
        ]
    )
    assert rc == 0
    (tmp_path / "idb.json").write_text(out)
    rc, obj, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "idb.json"), *extra_object])
    assert rc == 0
    return obj.strip()


def test_launch_cli_success_and_formats(tmp_path: Path) -> None:
    obj = workflow(tmp_path)
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["report"]["measurement"] == LD.hex() and doc["report"]["author_key_en"]
    (tmp_path / "o.json").write_text(run_ours(["qemu-object", "--object", obj, "--format", "qmp"])[1])
    assert run_ours(["launch", "--qmp", str(tmp_path / "o.json"), *MEASURE])[0] == 0
    (tmp_path / "o.xml").write_text(run_ours(["qemu-object", "--object", obj, "--format", "libvirt"])[1])
    assert run_ours(["launch", "--libvirt", str(tmp_path / "o.xml"), *MEASURE])[0] == 0


def test_launch_cli_failures(tmp_path: Path) -> None:
    obj = workflow(tmp_path)
    rc, out, _ = run_ours(
        ["launch", "--object", obj, "--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-Milan", "--ovmf", A]
    )
    assert rc == 1 and "BAD_MEASUREMENT" in out and LD.hex() in out
    wrong_policy = obj.replace("policy=0x30000", "policy=0xb0000")
    rc, out, _ = run_ours(["launch", "--object", wrong_policy, *MEASURE, "--json"])
    assert rc == 1 and json.loads(out)["status"] == "POLICY_FAILURE"
    raw = bytearray(base64.b64decode(obj.split("id-auth=")[1].split(",")[0]))
    raw[0x50] ^= 1  # a byte of ID_BLOCK_SIG.R
    tampered = (
        obj.split("id-auth=")[0]
        + "id-auth="
        + base64.b64encode(bytes(raw)).decode()
        + ","
        + obj.split("id-auth=")[1].split(",", 1)[1]
    )
    rc, out, _ = run_ours(["launch", "--object", tampered, *MEASURE, "--json"])
    assert rc == 1 and json.loads(out)["status"] == "BAD_SIGNATURE"
    # a malformed ID_AUTH (ID_KEY curve 0) is read after the LD check: a wrong LD is still BAD_MEASUREMENT
    raw = bytearray(base64.b64decode(obj.split("id-auth=")[1].split(",")[0]))
    raw[0x240:0x244] = bytes(4)
    curve0 = tampered.replace(tampered.split("id-auth=")[1].split(",")[0], base64.b64encode(bytes(raw)).decode())
    three = ["--mode", "snp", "--vcpus", "3", "--vcpu-type", "EPYC-Milan", "--ovmf", A, "--json"]
    rc, out, _ = run_ours(["launch", "--object", curve0, *three])
    assert rc == 1 and json.loads(out)["status"] == "BAD_MEASUREMENT"
    rc, out, _ = run_ours(["launch", "--object", curve0, *MEASURE, "--json"])
    assert rc == 1 and json.loads(out)["status"] == "INVALID_PARAM" and "inferred" in json.loads(out)["reason"]
    rc, out, _ = run_ours(
        ["launch", "--object", "sev-snp-guest,id=a,cbitpos=51,policy=0x70000,reduced-phys-bits=1", *MEASURE]
    )
    assert rc == 1 and "KVM returns -EINVAL" in out
    rc, out, _ = run_ours(
        [
            "launch",
            "--object",
            "sev-snp-guest,id=a,cbitpos=51,policy=0x230000,reduced-phys-bits=1",
            *MEASURE,
            "--kvm-policy-bits",
            "0x1bffff",
        ]
    )  # a 6.11-era kernel: bits 0-17, 19, 20
    assert rc == 1 and "bit 21" in out
    rc, out, _ = run_ours(
        [
            "launch",
            "--object",
            "sev-snp-guest,id=a,cbitpos=51,policy=0x30000,reduced-phys-bits=1",
            *MEASURE,
            "--kvm-policy-bits",
            "0x1bffff",
        ]
    )
    assert rc == 0, out
    for bad in ("-1", str(1 << 64)):
        rc, _, err = run_ours(
            [
                "launch",
                "--object",
                "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1",
                *MEASURE,
                "--kvm-policy-bits",
                bad,
            ]
        )
        assert rc == 2 and "--kvm-policy-bits: must be a 64-bit mask" in err, err
    rc, _, err = run_ours(
        ["launch", "--object", "sev-snp-guest,id=a,cbitpos=51,host-data=AAAA,reduced-phys-bits=1", *MEASURE]
    )
    assert rc == 2 and "not equal to 32" in err


def test_launch_uses_object_features(tmp_path: Path) -> None:
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,debug-swap=on"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--json"])
    want = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", guest_features=0x21).hex()
    assert rc == 0 and json.loads(out)["report"]["measurement"] == want


def test_launch_steps_count_vmsas_in_english() -> None:
    obj = "sev-snp-guest,id=sev0,policy=0x30000,cbitpos=51,reduced-phys-bits=1"
    rc, out, _ = run_ours(["launch", "--object", obj, "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", A])
    assert rc == 0 and "1 VMSA)" in out and "1 VMSAs" not in out
    rc, out, _ = run_ours(["launch", "--object", obj, "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", A])
    assert rc == 0 and "2 VMSAs)" in out


def test_launch_json_always_carries_status() -> None:
    obj = "sev-snp-guest,id=sev0,policy=0x30000,cbitpos=51,reduced-phys-bits=1"
    rc, out, _ = run_ours(
        ["launch", "--object", obj, "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", A, "--json"]
    )
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] is True and doc["status"] == "SUCCESS" and doc["status_code"] == 0
    bad = obj.replace("0x30000", "0x20000")  # SMT off on a host with SMT on: POLICY_FAILURE
    rc, out, _ = run_ours(
        ["launch", "--object", bad, "--vcpus", "1", "--vcpu-type", "EPYC-Milan", "--ovmf", A, "--json"]
    )
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False and isinstance(doc["status"], str)


def test_launch_fails_objects_upstream_qemu_cannot_parse() -> None:
    """init-flags and auth-key-enabled (the 2021 RFC series' spellings): upstream QEMU 9.1+ refuses
    the object before any launch command, so the dry run fails (exit 1) unless told otherwise."""
    base = "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,policy=0x30000"
    for extra, name, fix in (
        ("init-flags=0", "init-flags", "upstream has no such property"),
        ("auth-key-enabled=off", "auth-key-enabled", "upstream spells it 'author-key-enabled'"),
    ):
        rc, out, err = run_ours(["launch", "--object", f"{base},{extra}", *MEASURE])
        assert (
            rc == 1 and err == "" and out.startswith(f"launch fails: QEMU: Property 'sev-snp-guest.{name}' not found")
        )
        assert "upstream QEMU (9.1 and later) refuses" in out and fix in out and "--accept-rfc-spellings" in out
        rc, out, _ = run_ours(["launch", "--object", f"{base},{extra}", *MEASURE, "--json"])
        doc = json.loads(out)
        assert rc == 1 and doc["ok"] is False and doc["layer"] == "qemu" and doc["status"] == "PROPERTY_NOT_FOUND"
        rc, out, err = run_ours(["launch", "--object", f"{base},{extra}", *MEASURE, "--accept-rfc-spellings"])
        assert rc == 0 and "SNP_LAUNCH_FINISH: SUCCESS" in out and err.count("warning:") == 1
    # upstream's spelling is no RFC spelling
    rc, out, _ = run_ours(["launch", "--object", f"{base},author-key-enabled=off", *MEASURE])
    assert rc == 0


def test_launch_json_carries_the_warnings(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinux"
    kernel.write_bytes(b"\x7fELF" + bytes(100))
    obj = "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--kernel", str(kernel), "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["status"] == "SUCCESS" and "no 'HdrS' boot header" in doc["warnings"][0]


def test_launch_igvm(tmp_path: Path) -> None:
    """An IGVM launch: the file's policy at LAUNCH_START, its ID block at LAUNCH_FINISH."""
    from ..builders.igvm_files import known_digest
    from ..support import FIXTURES

    x86 = str(TINY["tiny_x86"])
    rc, out, _ = run_ours(["launch", "--igvm", x86, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["status"] == "SUCCESS" and doc["report"]["measurement"] == known_digest("tiny_x86")
    assert doc["report"]["policy"] == "0x3001f" and doc["report"]["id_block_en"] is True
    rc, out, _ = run_ours(["launch", "--igvm", x86])
    assert rc == 0 and "  AUTHOR_KEY_EN      false" in out and "True" not in out
    rc, out, _ = run_ours(["launch", "--igvm", x86, "--native-zero", "--json"])
    assert rc == 1 and json.loads(out)["status"] == "BAD_MEASUREMENT"
    obj = "sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1"
    rc, _, err = run_ours(["launch", "--igvm", x86, "--object", obj + ",policy=0x30000"])
    assert rc == 2 and "differs from the IGVM file's GUEST_POLICY 0x3001f" in err
    rc, out, _ = run_ours(["launch", "--igvm", x86, "--object", obj + ",host-data=" + "A" * 43 + "=", "--json"])
    assert rc == 0 and json.loads(out)["report"]["host_data"] == "00" * 32
    rc, _, err = run_ours(["launch", "--igvm", x86, "--ovmf", x86])
    assert rc == 2 and "--ovmf: does not apply with --igvm" in err
    # a signature tampered with is named by the dry run
    from snpmeasure.igvm import IgvmFile
    from snpmeasure.igvm_launch import sign_igvm

    signed = bytearray(sign_igvm(x86, FIXTURES / "keys" / "id_key_test.pem"))
    f = IgvmFile.from_bytes(bytes(signed))
    signed[f.offsets[-1] + 8 + 104] ^= 1  # the ID block signature's r
    import struct
    import zlib

    _, _, off, size, _, _ = struct.unpack_from("<6I", signed, 0)
    struct.pack_into("<I", signed, 20, zlib.crc32(bytes(signed[:20]) + bytes(4) + bytes(signed[off : off + size])))
    bad = tmp_path / "tampered.igvm"
    bad.write_bytes(bytes(signed))
    rc, out, _ = run_ours(["launch", "--igvm", str(bad), "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "BAD_SIGNATURE" and doc["command"] == "SNP_LAUNCH_FINISH"


def test_qemu_compares_cbitpos_with_the_host_and_kvm_reads_id_auth_only_with_an_id_block() -> None:
    """QEMU's sev_common_kvm_init refuses a cbitpos other than the host's (it has no default: a
    missing one is 0); KVM copies id_auth only when an ID block is given (id_block_en)."""
    base = "sev-snp-guest,id=a,reduced-phys-bits=1"
    rc, out, _ = run_ours(["launch", "--object", base, *MEASURE])
    assert rc == 1 and out == "launch fails: QEMU: cbitpos check failed, host '51' requested '0'\n"
    rc, out, _ = run_ours(["launch", "--object", base + ",cbitpos=47", *MEASURE, "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["layer"] == "qemu" and doc["status"] == "CBITPOS_CHECK_FAILED" and doc["steps"] == []
    assert doc["command"] == "sev_common_kvm_init"  # QEMU's machine init, after the object parsed
    rc, _, err = run_ours(["launch", "--object", base + ",cbitpos=51", *MEASURE, "--host-cbitpos", "-5"])
    assert rc == 2 and "--host-cbitpos: must be a bit position from 0 to 63" in err
    assert run_ours(["launch", "--object", base + ",cbitpos=47", *MEASURE, "--host-cbitpos", "47"])[0] == 0
    lone_auth = base + ",cbitpos=51,id-auth=" + base64.b64encode(bytes(4096)).decode()
    rc, out, err = run_ours(["launch", "--object", lone_auth, *MEASURE])
    assert rc == 0, (out, err)


def test_a_6_11_era_kernel_refuses_single_socket_and_requires_smt() -> None:
    """Linux 6.11-6.16's snp_launch_start: bits outside 0x1bffff, SINGLE_SOCKET, or SMT clear are
    -EINVAL before the firmware: --kvm-policy-bits 0xbffff --kvm-required-bits 0x10000."""
    era = ["--kvm-policy-bits", "0xbffff", "--kvm-required-bits", "0x10000"]
    base = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,policy="
    assert run_ours(["launch", "--object", base + "0x30000", *MEASURE, *era])[0] == 0
    rc, out, _ = run_ours(["launch", "--object", base + "0x130000", *MEASURE, *era])
    assert rc == 1 and "policy bit 20 is outside" in out and "KVM returns -EINVAL" in out
    rc, out, _ = run_ours(["launch", "--object", base + "0x20000", *MEASURE, *era, "--host-smt-off", "--json"])
    doc = json.loads(out)
    assert (
        rc == 1 and doc["layer"] == "kvm" and "policy bit 16 is clear, but the host's KVM requires it" in doc["reason"]
    )
    rc, _, err = run_ours(["launch", "--object", base + "0x30000", *MEASURE, "--kvm-required-bits", "-1"])
    assert rc == 2 and "--kvm-required-bits: must be a 64-bit mask" in err
    rc, _, err = run_ours(
        ["launch", "--object", base + "0x30000", *MEASURE, "--no-kvm-checks", "--kvm-required-bits", "1"]
    )
    assert rc == 2 and "--kvm-required-bits: is one of KVM's checks" in err
    # 6.17 and 6.18: the same mask, SMT and SINGLE_SOCKET left to the firmware
    later = ["--kvm-policy-bits", "0x1bffff"]
    assert run_ours(["launch", "--object", base + "0x130000", *MEASURE, *later])[0] == 0
    rc, out, _ = run_ours(["launch", "--object", base + "0x20000", *MEASURE, *later, "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["layer"] == "firmware" and doc["status"] == "POLICY_FAILURE"  # SMT on in the BIOS
    rc, out, _ = run_ours(["launch", "--object", base + "0x1030000", *MEASURE, *later])
    assert rc == 1 and "policy bit 24 is outside" in out  # CIPHERTEXT_HIDING: a 6.19 bit


def test_an_igvm_replay_under_another_model_says_what_qemu_would_do(tmp_path: Path) -> None:
    """launch --igvm follows the chosen model (igvmmeasure by default); when QEMU + KVM would
    measure the file otherwise, or refuse it, a warning says so, since reports carry QEMU's digest."""
    from snpmeasure.igvm_launch import measure_igvm

    from ..builders.igvm_files import TINY, build, page, pd, vp

    rc, out, _ = run_ours(["launch", "--igvm", str(TINY["tiny_x86"]), "--json"])
    assert rc == 0 and any("QEMU + KVM would not launch the file" in w for w in json.loads(out)["warnings"])
    same, first = tmp_path / "same.igvm", tmp_path / "first.igvm"
    same.write_bytes(build([pd(0x1000, page(0xA)), vp()]))
    first.write_bytes(build([vp(), pd(0x1000, page(0xA))]))  # KVM measures the VMSA last
    rc, out, _ = run_ours(["launch", "--igvm", str(same), "--json"])
    # the igvmmeasure model's VMM is not KVM: its checks (no VMSA page from userspace) do not apply
    assert rc == 0 and json.loads(out)["warnings"] == [
        "this replay follows the igvmmeasure model, whose VMM hands the firmware the VMSAs itself: "
        "QEMU's and KVM's checks are not applied"
    ]
    rc, _, err = run_ours(["launch", "--igvm", str(same), "--kvm-policy-bits", "0xbffff"])
    assert rc == 2 and "--kvm-policy-bits: is one of KVM's checks; the igvmmeasure model's VMM is not QEMU + KVM" in err
    rc, out, _ = run_ours(["launch", "--igvm", str(first), "--json"])
    qemu = measure_igvm(str(first), profile="qemu").hex()
    assert rc == 0 and any(f"as --profile qemu does ({qemu})" in w for w in json.loads(out)["warnings"])
    rc, out, _ = run_ours(["launch", "--igvm", str(first), "--profile", "qemu", "--json"])
    assert rc == 0 and json.loads(out)["warnings"] == [] and json.loads(out)["report"]["measurement"] == qemu


def test_an_igvm_launch_with_vmsas_as_updates_and_a_failure_says_what_qemu_would_do(tmp_path: Path) -> None:
    """The igvmmeasure model hands each VMSA as an update (not a populated page: no -EIO for a
    second one); when the replay fails at LAUNCH_FINISH the warning still says what QEMU would measure."""
    from snpmeasure.igvm_launch import measure_igvm, sign_igvm

    from ..builders.igvm_files import build, page, pd, vp
    from ..builders.keys import KEYS

    two = tmp_path / "two.igvm"
    two.write_bytes(build([pd(0x1000, page(1)), vp(0), vp(1)]))
    assert run_ours(["launch", "--igvm", str(two)])[0] == 0
    first = tmp_path / "first.igvm"
    first.write_bytes(sign_igvm(build([vp(), pd(0x1000, page(1))]), KEYS / "id_key_test.pem", profile="qemu"))
    rc, out, err = run_ours(["launch", "--igvm", str(first), "--json"])
    assert rc == 1 and json.loads(out)["status"] == "BAD_MEASUREMENT"
    assert f"as --profile qemu does ({measure_igvm(str(first), profile='qemu').hex()})" in err
    assert run_ours(["launch", "--igvm", str(first), "--profile", "qemu"])[0] == 0


def test_libvirt_fills_a_missing_cbitpos_from_the_host(tmp_path: Path) -> None:
    """libvirt completes <cbitpos> and <reducedPhysBits> from the host's capabilities
    (qemuProcessUpdateSEVInfo); a QEMU -object without cbitpos fails QEMU's check instead."""
    (tmp_path / "ls.xml").write_text("<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity>")
    rc, out, _ = run_ours(["launch", "--libvirt", str(tmp_path / "ls.xml"), *MEASURE, "--host-cbitpos", "47"])
    assert rc == 0, out
    rc, out, _ = run_ours(["launch", "--object", "sev-snp-guest,id=s,reduced-phys-bits=1", *MEASURE])
    assert rc == 1 and "cbitpos check failed, host '51' requested '0'" in out


def _rewrite(data: bytes, at: int, value: bytes) -> bytes:
    """The IGVM file with ``value`` at ``at`` and its header CRC32 recomputed."""
    import struct
    import zlib

    out = bytearray(data)
    out[at : at + len(value)] = value
    _, _, off, size, _, _ = struct.unpack_from("<6I", out, 0)
    struct.pack_into("<I", out, 20, zlib.crc32(bytes(out[:20]) + bytes(4) + bytes(out[off : off + size])))
    return bytes(out)


def test_qemu_launches_an_igvm_file_with_the_object_policy(tmp_path: Path) -> None:
    """QEMU sends LAUNCH_START during KVM set-up with the -object policy; the file's GUEST_POLICY
    reaches only its ID block (docs/reference/igvm.md §2.2), so a differing object policy fails
    LAUNCH_FINISH with POLICY_FAILURE when the file is signed, and is the guest's policy when not.
    An -object id-block is dropped when the file is loaded: KVM then refuses the NULL block."""
    from snpmeasure.blobs import IdBlock
    from snpmeasure.igvm_launch import sign_igvm

    from ..builders.igvm_files import build, page, pd, vp
    from ..builders.keys import KEYS

    file_policy = 0x3001F  # the file's; QEMU's default object policy is 0x30000
    plain = build([pd(0x1000, page(1)), vp()], policy=file_policy)
    unsigned, signed = tmp_path / "unsigned.igvm", tmp_path / "signed.igvm"
    unsigned.write_bytes(plain)
    signed.write_bytes(sign_igvm(plain, KEYS / "id_key_test.pem", profile="qemu"))
    qemu = ["--profile", "qemu", "--json"]
    obj = "sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1"
    # no --object: the object's policy is taken to be the file's
    rc, out, _ = run_ours(["launch", "--igvm", str(signed), *qemu])
    doc = json.loads(out)
    assert rc == 0 and doc["report"]["policy"] == f"{file_policy:#x}" and doc["report"]["id_block_en"] is True
    assert "no --object: the object's policy taken to be the file's GUEST_POLICY" in doc["steps"][0]
    # an object of another policy: LAUNCH_START takes it, the ID block binds the file's
    rc, out, _ = run_ours(["launch", "--igvm", str(signed), "--object", obj + ",policy=0x30000", *qemu])
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "POLICY_FAILURE" and doc["command"] == "SNP_LAUNCH_FINISH"
    assert doc["steps"][0] == "SNP_LAUNCH_START policy=0x30000 (the -object policy): SUCCESS"
    # the object's default policy is QEMU's 0x30000 too
    rc, out, _ = run_ours(["launch", "--igvm", str(signed), "--object", obj, *qemu])
    assert rc == 1 and json.loads(out)["status"] == "POLICY_FAILURE"
    # unsigned: the guest runs under the object's policy, and the file's is said to be unused
    rc, out, _ = run_ours(["launch", "--igvm", str(unsigned), "--object", obj, *qemu])
    doc = json.loads(out)
    assert rc == 0 and doc["report"]["policy"] == "0x30000"
    assert doc["warnings"] == [
        f"QEMU launches with the -object policy 0x30000: the file's GUEST_POLICY {file_policy:#x} reaches only an ID "
        "block, and the file has none"
    ]
    # an -object id-block: replaced by the file's, or dropped with id_block_en kept (KVM: EINVAL)
    block = IdBlock(bytes(48), policy=file_policy).base64()
    auth = base64.b64encode(bytes(4096)).decode()
    with_block = f"{obj},policy={file_policy:#x},id-block={block},id-auth={auth}"
    rc, out, _ = run_ours(["launch", "--igvm", str(signed), "--object", with_block, *qemu])
    doc = json.loads(out)
    assert rc == 0 and doc["warnings"] == [
        "QEMU replaces the -object id-block and id-auth with the IGVM file's ID block"
    ]
    rc, out, _ = run_ours(["launch", "--igvm", str(unsigned), "--object", with_block, *qemu])
    doc = json.loads(out)
    assert rc == 1 and doc["layer"] == "kvm" and doc["command"] == "SNP_LAUNCH_FINISH"
    assert "drops the -object id-block" in doc["reason"] and len(doc["steps"]) == 2
    # a QEMU command line's object is the one QEMU launches with
    cmdline = (
        "qemu-system-x86_64 -machine q35,confidential-guest-support=sev0,igvm-cfg=ig0 "
        f"-object {obj.replace('id=s', 'id=sev0')},policy=0x30000 -object igvm-cfg,id=ig0,file={signed}"
    )
    rc, out, _ = run_ours(["launch", "--qemu-cmdline", cmdline, "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "POLICY_FAILURE" and "(the -object policy)" in doc["steps"][0]
    # the other models' VMMs launch with the file's policy: an object that says otherwise is refused
    rc, _, err = run_ours(["launch", "--igvm", str(signed), "--object", obj + ",policy=0x30000"])
    assert rc == 2 and "which the igvmmeasure model's VMM launches with" in err
    rc, _, err = run_ours(["launch", "--igvm", str(signed), "--object", with_block])
    assert rc == 2 and "has an id-block, and so does the IGVM file" in err


def test_an_igvm_id_block_with_a_malformed_key_fails_launch_finish(tmp_path: Path) -> None:
    """QEMU copies the SNP_ID_BLOCK's keys into the ID authentication structure unread; the
    firmware is the first to parse them, after the LD and POLICY checks: INVALID_PARAM (exit 1),
    not bad input. measure says the signatures could not be checked (a failed check, exit 1)."""
    from snpmeasure.igvm import IgvmFile, SnpIdBlock
    from snpmeasure.igvm_launch import sign_igvm

    from ..builders.igvm_files import build, page, pd, vp
    from ..builders.keys import KEYS

    signed = sign_igvm(build([pd(0x1000, page(1)), vp()]), KEYS / "id_key_test.pem", profile="qemu")
    f = IgvmFile.from_bytes(signed)
    (at,) = [off for h, off in zip(f.headers, f.offsets) if isinstance(h, SnpIdBlock)]
    bad = tmp_path / "bad-key.igvm"
    bad.write_bytes(_rewrite(signed, at + 8 + 256, b"\xff" * 72))  # the ID key's qx: no P-384 point
    for model in (["--profile", "qemu"], []):
        rc, out, err = run_ours(["launch", "--igvm", str(bad), *model, "--json"])
        doc = json.loads(out)
        assert rc == 1 and doc["status"] == "INVALID_PARAM" and doc["command"] == "SNP_LAUNCH_FINISH", err
        assert "ID_KEY" in doc["reason"]
    rc, out, _ = run_ours(["measure", "--mode", "snp:igvm", "--igvm", str(bad), "--profile", "qemu", "--json"])
    assert rc == 1 and json.loads(out)["igvm"]["id_block"]["unchecked"] == "id_public_key: is not a point on P-384"


def test_a_launch_under_another_vmms_profile_skips_qemus_and_kvms_checks() -> None:
    """launch --profile ec2/gce replays a VMM that is not QEMU + KVM: QEMU's cbitpos check and
    KVM's policy checks are not applied (as for an IGVM model other than qemu), and it says so."""
    no_cbitpos = "sev-snp-guest,id=a,reduced-phys-bits=1,policy=0x30000"
    rc, out, err = run_ours(["launch", "--object", no_cbitpos, *MEASURE, "--profile", "ec2", "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["warnings"][0] == (
        "this replay follows the ec2 VMM, which is not QEMU + KVM: QEMU's and KVM's checks are not applied"
    )
    rc, out, _ = run_ours(["launch", "--object", no_cbitpos, *MEASURE, "--vmm-type", "gce"])
    assert rc == 0 and "SNP_LAUNCH_FINISH: SUCCESS" in out
    rc, _, err = run_ours(["launch", "--object", no_cbitpos, *MEASURE, "--profile", "ec2", "--kvm-policy-bits", "1"])
    assert rc == 2 and "--kvm-policy-bits: is one of KVM's checks; the ec2 VMM (the launch profile's)" in err
    # the same object under QEMU fails QEMU's check
    assert run_ours(["launch", "--object", no_cbitpos, *MEASURE])[0] == 1
    for qemu_only in (["--host-cbitpos", "47"], ["--accept-rfc-spellings"]):
        rc, _, err = run_ours(["launch", "--object", no_cbitpos, *MEASURE, "--profile", "gce", *qemu_only])
        assert rc == 2 and f"{qemu_only[0]}: describes QEMU, and the gce VMM replayed here is not QEMU" in err


def test_a_host_with_a_vlek_signs_the_reports_with_it() -> None:
    """The firmware signs with the VLEK whenever the host has one installed (a cloud provider's),
    VCEK_DISABLED or not: --host-vlek says so, and the expectations launch writes follow."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--json"])
    assert rc == 0 and json.loads(out)["report"]["signing_key"] == "VCEK"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--host-vlek", "--json"])
    assert rc == 0 and json.loads(out)["report"]["signing_key"] == "VLEK"
    rc, out, _ = run_ours(["launch", "--object", obj + ",vcek-disabled=on", *MEASURE, "--json"])
    assert rc == 0 and json.loads(out)["report"]["signing_key"] == "VLEK"


def test_the_hosts_platform_info_checks_rapl_and_ciphertext_hiding() -> None:
    """The policy's RAPL_DIS and CIPHERTEXT_HIDING demand the platform's (PLATFORM_INFO bits 3
    and 4, as the host's reports carry them): with --host-platform-info the dry run checks them,
    and SMT_EN (bit 0) stands for --host-smt-off; without it they stay unchecked."""
    base = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,policy="
    rapl, hiding = base + "0x830000", base + "0x1030000"  # bits 23 and 24
    assert run_ours(["launch", "--object", rapl, *MEASURE])[0] == 0  # the platform unknown
    rc, out, _ = run_ours(["launch", "--object", rapl, *MEASURE, "--host-platform-info", "0x1", "--json"])
    doc = json.loads(out)
    assert (
        rc == 1 and doc["status"] == "POLICY_FAILURE" and "RAPL_DIS: the policy requires RAPL disabled" in doc["reason"]
    )
    assert run_ours(["launch", "--object", rapl, *MEASURE, "--host-platform-info", "0x9"])[0] == 0
    rc, out, _ = run_ours(["launch", "--object", hiding, *MEASURE, "--host-platform-info", "0x9"])
    assert rc == 1 and "CIPHERTEXT_HIDING: the policy requires DRAM ciphertext hiding" in out
    assert run_ours(["launch", "--object", hiding, *MEASURE, "--host-platform-info", "0x11"])[0] == 0
    # SMT_EN clear: an SMT=0 policy passes, as with --host-smt-off
    assert run_ours(["launch", "--object", base + "0x20000", *MEASURE, "--host-platform-info", "0x0"])[0] == 0
    rc, _, err = run_ours(["launch", "--object", rapl, *MEASURE, "--host-platform-info", "0x9", "--host-smt-off"])
    assert rc == 2 and "--host-smt-off: contradicts --host-platform-info 0x9" in err
    rc, _, err = run_ours(["launch", "--object", rapl, *MEASURE, "--host-platform-info", str(1 << 64)])
    assert rc == 2 and "--host-platform-info: must be the 64-bit PLATFORM_INFO" in err


def test_a_single_socket_policy_fails_on_a_host_of_more_sockets() -> None:
    """KVM activates the guest with SNP_ACTIVATE, which the firmware fails for SINGLE_SOCKET on a
    host of more than one socket (--host-sockets); one socket, or an unknown count, passes."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,policy=0x130000"
    assert run_ours(["launch", "--object", obj, *MEASURE])[0] == 0
    assert run_ours(["launch", "--object", obj, *MEASURE, "--host-sockets", "1"])[0] == 0
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--host-sockets", "2", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "POLICY_FAILURE" and "the host has 2 sockets" in doc["reason"]
    rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--host-sockets", "0"])
    assert rc == 2 and "--host-sockets: must be a socket count of 1 or more" in err
    rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--host-sockets", "2", "--no-kvm-checks"])
    assert rc == 2 and "--host-sockets: is one of KVM's checks" in err


def test_what_launch_says_on_stderr_reaches_its_json() -> None:
    """A --guest-features other than the object's SEV features is measured as asked, and the
    warning that QEMU launches with the object's is in --json's warnings, which the next step reads."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1,debug-swap=on"
    rc, out, err = run_ours(["launch", "--object", obj, *MEASURE, "--guest-features", "0x1", "--json"])
    doc = json.loads(out)
    assert rc == 0 and "differs from the object's SEV_FEATURES 0x21" in doc["warnings"][0]
    assert "differs from the object's SEV_FEATURES 0x21" in err
    # a launch that fails carries them too
    failing = (
        obj + ",id-block=" + base64.b64encode(bytes(96)).decode() + ",id-auth=" + base64.b64encode(bytes(4096)).decode()
    )
    rc, out, err = run_ours(["launch", "--object", failing, *MEASURE, "--guest-features", "0x1", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "BAD_MEASUREMENT"
    assert "differs from the object's SEV_FEATURES 0x21" in doc["warnings"][0] and doc["warnings"][0] in err


def test_a_policy_bit_newer_than_the_firmware_fails_in_kvm() -> None:
    """Linux 6.19 allows PAGE_SWAP_DISABLE only from firmware 1.58: with --firmware-abi 1.55 KVM
    refuses it (-EINVAL) before the firmware sees it; --kvm-policy-bits models a kernel that passes it on."""
    obj = "sev-snp-guest,id=a,policy=0x2030000,cbitpos=51,reduced-phys-bits=1"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--firmware-abi", "1.55", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["layer"] == "kvm" and doc["command"] == "SNP_LAUNCH_START"
    rc, out, _ = run_ours(
        ["launch", "--object", obj, *MEASURE, "--firmware-abi", "1.55", "--kvm-policy-bits", "0x3fbffff", "--json"]
    )
    doc = json.loads(out)
    assert rc == 1 and doc["status"] == "POLICY_FAILURE"
    assert run_ours(["launch", "--object", obj, *MEASURE, "--firmware-abi", "1.58"])[0] == 0


def test_an_unmeasured_kernel_must_still_load(tmp_path: Path) -> None:
    """With kernel-hashes=off QEMU measures no kernel, but it loads one: a file it cannot is no launch."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1"
    for path, said in ((tmp_path / "missing", "No such file or directory"), (tmp_path, "is a directory")):
        rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--kernel", str(path)])
        assert rc == 2 and err.startswith(f"snpmeasure launch: error: --kernel: {path}: ") and said in err, err


SVSM = ["--mode", "snp:svsm", "--vcpus", "2", "--vcpu-type", "EPYC-v4", *SVSM_FILES]


def test_an_svsm_launch_replays_with_its_id_block(tmp_path: Path) -> None:
    """snp:svsm's ID block (id-block --from-measure) goes through qemu-object to launch, whose
    replay reaches LAUNCH_FINISH with the digest measure gives (sev-snp-measure's, in its tests)."""
    rc, out, _ = run_ours(["id-block", "--from-measure", *SVSM, "--id-key", str(KEYS / "id_key_test.pem"), "--json"])
    assert rc == 0
    (tmp_path / "idb.json").write_text(out)
    rc, obj, _ = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "idb.json")])
    assert rc == 0
    digest = run_ours(["measure", *SVSM])[1].strip()
    rc, out, _ = run_ours(["launch", "--object", obj.strip(), *SVSM, "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["ok"] and doc["report"]["measurement"] == digest and doc["report"]["id_block_en"]
    assert doc["steps"][1].startswith("SNP_LAUNCH_UPDATE (SVSM, firmware, metadata sections, 2 VMSAs): SUCCESS")
    # the same object against the plain OVMF launch: another digest, so the ID block fails
    rc, out, _ = run_ours(["launch", "--object", obj.strip(), *MEASURE, "--json"])
    assert rc == 1 and json.loads(out)["status"] == "BAD_MEASUREMENT"


def test_an_svsm_launch_refuses_what_measure_ignores() -> None:
    """measure ignores a kernel and SEV features in snp:svsm mode, as sev-snp-measure does; a dry
    run of them would replay another launch than the one asked for, so launch refuses them, and
    the SVSM flags outside snp:svsm."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1"
    for extra, said in (
        (["--kernel", A], "--kernel: the snp:svsm launch boots the SVSM and its OVMF: it loads no kernel"),
        (["--append", "x"], "--append: the snp:svsm launch boots"),
        (["--guest-features", "0x21"], "--guest-features: asks for SEV_FEATURES 0x21: the snp:svsm launch's VMSAs"),
    ):
        rc, _, err = run_ours(["launch", "--object", obj, *SVSM, *extra])
        assert rc == 2 and said in err, err
    rc, _, err = run_ours(["launch", "--object", obj + ",debug-swap=on", *SVSM])
    assert rc == 2 and "--object: asks for SEV_FEATURES 0x21" in err, err
    for flag, value in (("--svsm", "x"), ("--vars-size", "540672"), ("--vars-file", "x")):
        rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, flag, value])
        assert rc == 2 and f"{flag}: applies to --mode snp:svsm only, not snp" in err, err
    # flags that do not fit together are bad input (exit 2) before any replayed check can fail (exit 1):
    # this object's cbitpos fails QEMU's check
    wrong_cbit = "sev-snp-guest,id=a,cbitpos=47,reduced-phys-bits=1"
    for argv in (
        [*MEASURE, "--svsm", "x"],
        [*SVSM, "--kernel", A],
        [*SVSM, "--guest-features", "0x21"],
        [*MEASURE, "--mode", "snp:igvm"],
        ["--vcpus", "1", "--vcpu-type", "EPYC-v4"],  # no --ovmf
        [*MEASURE, "--initrd", A],  # the library's rule: found by measuring once when QEMU refuses
        [*MEASURE, "--threads", "0"],  # a host or launch flag: checked by building the guest context
        [*MEASURE, "--host-sockets", "0"],
        ["--igvm", str(TINY["tiny_x64_noopt"]), "--profile", "qemu", "--vcpus", "0"],  # an IGVM launch's input
        ["--igvm", A, "--profile", "qemu"],  # no IGVM file
    ):
        rc, _, err = run_ours(["launch", "--object", wrong_cbit, *argv])
        assert rc == 2 and "cbitpos" not in err, (argv, err)
    rc, out, _ = run_ours(["launch", "--object", wrong_cbit, *MEASURE, "--json"])  # QEMU's refusal: exit 1
    doc = json.loads(out)
    assert rc == 1 and doc["layer"] == "qemu" and doc["warnings"] == []  # the key every launch record has


def test_a_configurations_policy_kvm_refuses_is_launchs_to_judge() -> None:
    """launch replays LAUNCH_START on a configuration's policy (KVM refuses MIGRATE_MA: exit 1, or
    the firmware takes it with --no-kvm-checks), where measure refuses it as no launch (exit 2)."""
    line = (
        f"qemu-system-x86_64 -enable-kvm -smp 2 -cpu EPYC-v4 -bios {A} -machine q35,confidential-guest-support=s "
        "-object sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1,policy=0x70000"
    )
    rc, out, _ = run_ours(["launch", "--qemu-cmdline", line])
    assert rc == 1 and "MIGRATE_MA" in out
    assert run_ours(["launch", "--qemu-cmdline", line, "--no-kvm-checks"])[0] == 0
    assert run_ours(["measure", "--qemu-cmdline", line])[0] == 2


def test_launch_says_what_it_does_not_take(tmp_path: Path) -> None:
    """Each refusal names the flag or property at fault: an object property no sev-snp-guest has is
    QEMU's error even when a flag has its name (Coconut's svsm=on); --native-zero needs --igvm;
    launch has no --firmware-manifest to offer; the IGVM models are no profiles of an OVMF launch;
    a variable store's size is its file's."""
    obj = "sev-snp-guest,id=a,cbitpos=51,reduced-phys-bits=1"
    rc, _, err = run_ours(["launch", "--object", obj + ",svsm=on", *SVSM])
    assert rc == 2 and err.endswith("error: svsm: Property 'sev-snp-guest.svsm' not found\n"), err
    rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--native-zero"])
    assert rc == 2 and "--native-zero: applies to an IGVM launch: give --igvm FILE" in err
    rc, _, err = run_ours(["launch", "--object", obj, "--vcpus", "1", "--vcpu-type", "EPYC-v4"])
    assert rc == 2 and err.endswith("error: --ovmf: is required\n"), err
    rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--profile", "igvmmeasure"])
    assert rc == 2 and "--profile: igvmmeasure is an IGVM model: it applies to mode 'snp:igvm'" in err
    (tmp_path / "vars").write_bytes(bytes(5000))
    rc, _, err = run_ours(["launch", "--object", obj, *SVSM[:-2], "--vars-file", str(tmp_path / "vars")])
    assert rc == 2 and "--vars-file: holds 5000 bytes: the OVMF_VARS flash must be a multiple of 4096" in err


def test_an_svsm_profile_of_the_users_own_sets_the_features(tmp_path: Path) -> None:
    """The built-in svsm profile fixes SEV_FEATURES 0x1; a profile file that does not fix them
    measures the features it gives (measure, id-block), and launch takes them from the object that
    qemu-object writes, so the round trip holds; with the built-in profile that object is refused."""
    rc, out, _ = run_ours(["id-block", "--from-measure", *SVSM, "--id-key", str(KEYS / "id_key_test.pem"), "--json"])
    definition = {
        **json.loads(out)["measure"]["profile_definition"],
        "name": "svsm-debug-swap",
        "fixed_guest_features": False,
        "default_guest_features": 0x21,
    }
    (tmp_path / "p.json").write_text(json.dumps(definition))
    own = [*SVSM, "--profile-file", str(tmp_path / "p.json")]
    rc, out, err = run_ours(["id-block", "--from-measure", *own, "--id-key", str(KEYS / "id_key_test.pem"), "--json"])
    assert rc == 0 and json.loads(out)["measure"]["guest_features"] == "0x21" and err == ""
    (tmp_path / "idb.json").write_text(out)
    obj = run_ours(["qemu-object", "--from-id-block", str(tmp_path / "idb.json")])[1].strip()
    assert "debug-swap=on" in obj
    rc, out, _ = run_ours(["launch", "--object", obj, *own, "--json"])
    assert rc == 0 and json.loads(out)["report"]["measurement"] == run_ours(["measure", *own])[1].strip()
    rc, _, err = run_ours(["launch", "--object", obj, *SVSM])
    assert (
        rc == 2 and "--object: asks for SEV_FEATURES 0x21: the snp:svsm launch's VMSAs carry 0x1 (profile svsm)" in err
    )
    # in mode snp too, a profile that fixes the features refuses an object that asks for others, by --object's name
    definition = json.loads(run_ours(["measure", *MEASURE, "--json"])[1])["profile_definition"]
    (tmp_path / "fixed.json").write_text(json.dumps({**definition, "name": "qfix", "fixed_guest_features": True}))
    rc, _, err = run_ours(["launch", "--object", obj, *MEASURE, "--profile-file", str(tmp_path / "fixed.json")])
    assert rc == 2 and "--object: asks for SEV_FEATURES 0x21: profile qfix fixes the VMSAs' at 0x1" in err, err
