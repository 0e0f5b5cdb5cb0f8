"""The sev-snp-guest object (-object, QMP, libvirt) and the launch dry run (firmware status paths)."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import measure
from snpmeasure.blobs import IdBlock, sign_id_block
from snpmeasure.errors import BlobError, QemuObjectError
from snpmeasure.firmware import Firmware, FirmwareError, GuestState, HostModel, KvmError, Status
from snpmeasure.qemu import SevSnpGuest

from .support import FIXTURES, run_ours

KEYS = FIXTURES / "keys"
A = str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin")
MEASURE = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", A]
LD = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan").digest

b64 = lambda n: st.binary(min_size=n, max_size=n).map(lambda b: base64.b64encode(b).decode())  # noqa: E731

objects = st.builds(
    SevSnpGuest,
    id=st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    policy=st.integers(0, 2**64 - 1),
    guest_visible_workarounds=st.none() | b64(16),
    id_block=st.none() | b64(96),
    id_auth=st.none() | st.integers(0, 4096).flatmap(b64),
    author_key_enabled=st.booleans(),
    host_data=st.none() | b64(32),
    vcek_disabled=st.booleans(),
    kernel_hashes=st.booleans(),
    cbitpos=st.none() | st.integers(0, 63),
    reduced_phys_bits=st.integers(1, 63),
    debug_swap=st.booleans(),
    secure_tsc=st.booleans(),
)


@given(objects)
def test_round_trips_cli_qmp_libvirt(obj: SevSnpGuest) -> None:
    via_cli = SevSnpGuest.from_cli(obj.to_cli())
    assert via_cli == obj
    assert via_cli.to_cli() == obj.to_cli()
    assert SevSnpGuest.from_qmp(json.dumps(obj.to_qmp())) == obj
    if not (obj.debug_swap or obj.secure_tsc):
        assert SevSnpGuest.from_libvirt(obj.to_libvirt(), id=obj.id) == obj


def test_cli_syntax() -> None:
    o = SevSnpGuest.from_cli(
        "-object sev-snp-guest,id=sev0,policy=0x30000,author-key-enabled=on,kernel-hashes=yes,cbitpos=51,reduced-phys-bits=1"
    )
    assert o.author_key_enabled and o.kernel_hashes and o.cbitpos == 51 and o.policy == 0x30000
    o = SevSnpGuest.from_cli("qom-type=sev-snp-guest,id=x,policy=196608,reduced-phys-bits=1,sev-device=/dev/sev,,odd")
    assert o.sev_device == "/dev/sev,odd" and o.to_cli().endswith("sev-device=/dev/sev,,odd")
    R = ",reduced-phys-bits=1"
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=010" + R).policy == 8  # octal, as QEMU parses it
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=-1" + R).policy == 2**64 - 1  # strtoull wraps
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=0x1,policy=0x30000" + R + ",").policy == 0x30000  # last wins
    o = SevSnpGuest.from_cli("sev-snp-guest,id=a,debug-swap=on,secure-tsc=on,tsc-frequency=2000000" + R)
    assert o.sev_features() == 0x221


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("sev-guest,id=a", "qom-type"),
        ("sev-snp-guest,id=a,colour=red", "Property 'sev-snp-guest.colour' not found"),
        ("sev-snp-guest,id=a,policy=banana", "expects integer"),
        ("sev-snp-guest,id=a,policy=0x3_0000", "expects integer"),
        ("sev-snp-guest,id=a,cbitpos=0x100000000", "expects uint32_t"),
        ("sev-snp-guest,id=a,vcek-disabled=maybe", "expects 'on' or 'off'"),
        ("sev-snp-guest,id=a,vcek-disabled=ON", "expects 'on' or 'off'"),
        ("sev-snp-guest,id=a,author-key-enabled", "Expected '=' after parameter 'author-key-enabled'"),
        ("sev-snp-guest,id=a,reduced-phys-bits=64", "range of 1 to 63"),
        ("sev-snp-guest,id=a,policy=0x30000", "Parameter 'reduced-phys-bits' is missing"),
        ("sev-snp-guest,policy=0x30000,reduced-phys-bits=1", "Parameter 'id' is missing"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,host-data=AAAA", "parameter length of 3 not equal to 32"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,id-block=AAAA", "parameter length of 3 not equal to 96"),
        (
            "sev-snp-guest,id=a,reduced-phys-bits=1,guest-visible-workarounds=AAAA",
            "parameter length of 3 exceeds max of 16",
        ),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,host-data=AA AA", "Base64 data contains invalid characters"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,tsc-frequency=1", "secure-tsc"),
        ("sev-snp-guest,id=a,init-flags=1", "init-flags"),
        (",sev-snp-guest,id=a", "empty option"),
        ("sev-snp-guest,id=9a,reduced-phys-bits=1", "identifier"),
    ],
)
def test_cli_errors(text: str, fragment: str) -> None:
    with pytest.raises((QemuObjectError, BlobError)) as exc:
        SevSnpGuest.from_cli(text)
    assert fragment in str(exc.value)


def test_rfc_spellings_warn() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        o = SevSnpGuest.from_cli("sev-snp-guest,id=a,auth-key-enabled=on,init-flags=0,reduced-phys-bits=1")
    assert o.author_key_enabled and len(caught) == 2


def test_libvirt_safety_and_errors() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><launchSecurity type="sev-snp"><policy>&lol;</policy></launchSecurity>'
    with pytest.raises(QemuObjectError, match="DOCTYPE"):
        SevSnpGuest.from_libvirt(bomb)
    with pytest.raises(QemuObjectError, match="type"):
        SevSnpGuest.from_libvirt("<launchSecurity type='sev'/>")
    with pytest.raises(QemuObjectError, match="well-formed"):
        SevSnpGuest.from_libvirt("<launchSecurity")
    dom = "<domain><launchSecurity type='sev-snp' vcek='no'><policy>0x00030000</policy></launchSecurity></domain>"
    o = SevSnpGuest.from_libvirt(dom)
    assert o.vcek_disabled and o.policy == 0x30000
    assert (
        SevSnpGuest.from_libvirt("<launchSecurity type='sev-snp'><policy>30000</policy></launchSecurity>").policy
        == 0x30000
    )
    decoy = (
        "<domain><metadata><launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></metadata>"
        "<launchSecurity type='sev-snp'><policy>0x70000</policy></launchSecurity></domain>"
    )
    assert SevSnpGuest.from_libvirt(decoy).policy == 0x70000
    with pytest.raises(QemuObjectError, match="exactly one"):
        SevSnpGuest.from_libvirt("<domain><metadata><launchSecurity type='sev-snp'/></metadata></domain>")
    with pytest.raises(QemuObjectError, match="policy"):
        SevSnpGuest.from_libvirt("<launchSecurity type='sev-snp'><cbitpos>51</cbitpos></launchSecurity>")
    with pytest.raises(QemuObjectError, match="decimal"):
        SevSnpGuest.from_libvirt(
            "<launchSecurity type='sev-snp'><policy>0x30000</policy><cbitpos>0x33</cbitpos></launchSecurity>"
        )


def test_qmp_errors() -> None:
    with pytest.raises(QemuObjectError, match="object-add"):
        SevSnpGuest.from_qmp({"execute": "quit"})
    with pytest.raises(QemuObjectError, match="expects a number"):
        SevSnpGuest.from_qmp({"qom-type": "sev-snp-guest", "id": "a", "policy": "0x30000", "reduced-phys-bits": 1})


# ---- the firmware model ------------------------------------------------------------------------


def signed(ld: bytes = LD, policy: int = 0x30000, author: bool = True) -> Tuple[IdBlock, Any]:
    return sign_id_block(ld, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem" if author else None, policy=policy)


def launched(policy: int = 0x30000, host: Optional[HostModel] = None) -> Firmware:
    fw = Firmware(host=HostModel() if host is None else host)
    fw.launch_start(policy)
    measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", firmware=fw)
    return fw


def test_launch_finish_success_fields() -> None:
    block, auth = signed()
    r = launched().launch_finish(block, auth, author_key_enabled=True, host_data=b"\x07" * 32)
    assert (
        r.measurement == LD and r.id_key_digest == auth.id_key_digest and r.author_key_digest == auth.author_key_digest
    )
    assert r.host_data == b"\x07" * 32 and r.id_block_en and r.author_key_en
    r = launched().launch_finish(block, auth, author_key_enabled=False)
    assert r.author_key_digest == bytes(48) and not r.author_key_en
    r = launched().launch_finish(vcek_disabled=True)
    assert r.id_key_digest == bytes(48) and r.signing_key == "VLEK"


def status_of(fn: Any) -> Status:
    with pytest.raises(FirmwareError) as exc:
        fn()
    return exc.value.status


def test_launch_finish_status_paths_in_spec_order() -> None:
    block, auth = signed(ld=bytes(48))
    assert status_of(lambda: launched().launch_finish(block, auth, author_key_enabled=True)) == Status.BAD_MEASUREMENT
    # LD right, policy wrong: POLICY_FAILURE even though the signature is also bad
    block, auth = signed(policy=0x30000 | 1 << 19)
    assert status_of(lambda: launched().launch_finish(block, auth)) == Status.POLICY_FAILURE
    block, auth = signed()
    tampered = IdBlock(block.ld, block.family_id, b"\x01" * 16, block.version, block.guest_svn, block.policy)
    assert status_of(lambda: launched().launch_finish(tampered, auth)) == Status.BAD_SIGNATURE
    _, other = signed()
    other_author = type(auth)(auth.id_block_sig, auth.id_key, other.id_block_sig, auth.author_key)
    assert (
        status_of(lambda: launched().launch_finish(block, other_author, author_key_enabled=True))
        == Status.BAD_SIGNATURE
    )
    assert launched().launch_finish(block, other_author, author_key_enabled=False).measurement == LD
    with pytest.raises(KvmError, match="EFAULT"):
        launched().launch_finish(block, None)


def test_launch_start_checks() -> None:
    with pytest.raises(KvmError, match="bit 17"):
        Firmware().launch_start(0x10000)
    with pytest.raises(KvmError, match="MIGRATE_MA"):
        Firmware().launch_start(0x70000)
    assert status_of(lambda: Firmware().launch_start(0x20000)) == Status.POLICY_FAILURE  # SMT=0 on an SMT host
    Firmware(host=HostModel(smt_enabled=False)).launch_start(0x20000)
    assert (
        status_of(lambda: Firmware(host=HostModel(abi=(1, 55))).launch_start(0x30000 | 1 << 25))
        == Status.POLICY_FAILURE
    )
    assert status_of(lambda: Firmware(host=HostModel(abi=(1, 51))).launch_start(0x31037)) == Status.POLICY_FAILURE
    Firmware(host=HostModel(kvm_checks=False)).launch_start(0x70000)


def test_state_machine_illegal_orders() -> None:
    fw = Firmware()
    assert status_of(lambda: fw.launch_update(1, 0, bytes(4096))) == Status.INVALID_GUEST_STATE
    assert status_of(lambda: fw.launch_finish()) == Status.INVALID_GUEST_STATE
    fw.launch_start()
    assert status_of(lambda: fw.launch_start()) == Status.INVALID_GUEST_STATE
    fw.launch_finish()
    assert fw.state is GuestState.RUNNING
    assert status_of(lambda: fw.launch_update_vmsa(bytes(4096))) == Status.INVALID_GUEST_STATE
    assert status_of(lambda: fw.launch_finish()) == Status.INVALID_GUEST_STATE


# ---- the launch CLI: policy -> id-block -> qemu-object -> launch ---------------------------------


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
    rc, out, _ = run_ours(["launch", "--object", "sev-snp-guest,id=a,policy=0x70000,reduced-phys-bits=1", *MEASURE])
    assert rc == 1 and "KVM returns -EINVAL" in out
    rc, out, _ = run_ours(
        [
            "launch",
            "--object",
            "sev-snp-guest,id=a,policy=0x230000,reduced-phys-bits=1",
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
            "sev-snp-guest,id=a,policy=0x30000,reduced-phys-bits=1",
            *MEASURE,
            "--kvm-policy-bits",
            "0x1bffff",
        ]
    )
    assert rc == 0, out
    for bad in ("-1", str(1 << 64)):
        rc, _, err = run_ours(
            ["launch", "--object", "sev-snp-guest,id=a,reduced-phys-bits=1", *MEASURE, "--kvm-policy-bits", bad]
        )
        assert rc == 2 and "--kvm-policy-bits: must be a 64-bit mask" in err, err
    rc, _, err = run_ours(["launch", "--object", "sev-snp-guest,id=a,host-data=AAAA,reduced-phys-bits=1", *MEASURE])
    assert rc == 2 and "not equal to 32" in err


def test_launch_uses_object_features(tmp_path: Path) -> None:
    obj = "sev-snp-guest,id=a,reduced-phys-bits=1,debug-swap=on"
    rc, out, _ = run_ours(["launch", "--object", obj, *MEASURE, "--json"])
    want = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", guest_features=0x21).hex()
    assert rc == 0 and json.loads(out)["report"]["measurement"] == want
