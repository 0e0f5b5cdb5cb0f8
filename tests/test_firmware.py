"""snpmeasure.firmware: the SNP command state machine, LAUNCH_START and LAUNCH_FINISH checks in the specification's order; failed commands change nothing."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import pytest

from snpmeasure import InvalidInputError, measure
from snpmeasure.blobs import IdBlock, sign_id_block
from snpmeasure.firmware import Firmware, FirmwareError, GuestState, HostModel, KvmError, Status

from .builders.launches import KEYS, LD, A


def signed(ld: bytes = LD, policy: int = 0x30000, author: bool = True) -> Tuple[IdBlock, Any]:
    return sign_id_block(ld, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem" if author else None, policy=policy)


def launched(policy: int = 0x30000, host: Optional[HostModel] = None) -> Firmware:
    fw = Firmware(host=HostModel() if host is None else host)
    fw.launch_start(policy)
    measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", firmware=fw)
    return fw


def status_of(fn: Any) -> Status:
    with pytest.raises(FirmwareError) as exc:
        fn()
    return exc.value.status


def test_failed_firmware_commands_change_nothing() -> None:
    fw = Firmware(trace=True)
    with pytest.raises(InvalidInputError, match="gosvw"):
        fw.launch_start(0x30000, gosvw="x" * 16)  # type: ignore[arg-type]
    assert fw.policy is None
    fw.launch_start()
    before, steps = fw.ld, len(fw.trace or [])
    for bad in (dict(label="{x}"), dict(label=b"vmsa"), dict(first="0")):
        with pytest.raises(InvalidInputError):
            fw.launch_update_vmsa(bytes(4096), **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="page_type"):
        fw.launch_update(7, 0, length=4096)
    with pytest.raises(InvalidInputError, match="page_type"):
        fw.launch_update_fill(9, 0, bytes(4096), 1)
    with pytest.raises(InvalidInputError, match="count"):
        fw.launch_update_vmsa(bytes(4096), count=-1)
    assert (fw.ld, len(fw.trace or [])) == (before, steps)
    with pytest.raises(InvalidInputError, match="host_data"):
        fw.launch_finish(host_data=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="id_block"):
        fw.launch_finish(bytes(96), bytes(4096))  # type: ignore[arg-type]
    fw.launch_update_vmsa(bytes(4096), count=2, label="cpu {}", first=3)
    assert [t.label for t in (fw.trace or [])[-2:]] == ["cpu 3", "cpu 4"]
    assert fw.launch_finish().measurement == fw.ld


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
    with pytest.raises(KvmError, match="EINVAL"):
        launched().launch_finish(block, None)
    # the 4096 bytes QEMU hands over: the firmware reads them after the LD and POLICY checks
    raw = bytearray(auth.to_bytes())
    assert launched().launch_finish(block, bytes(raw)).measurement == LD
    raw[0x240:0x244] = bytes(4)  # ID_KEY's curve 0: no P-384 key
    wrong_ld = IdBlock(bytes(48), block.family_id, block.image_id, block.version, block.guest_svn, block.policy)
    assert status_of(lambda: launched().launch_finish(wrong_ld, bytes(raw))) == Status.BAD_MEASUREMENT
    with pytest.raises(FirmwareError, match=r"ID_AUTH: .*curve.*\(inferred status\)") as exc:
        launched().launch_finish(block, bytearray(raw))
    assert exc.value.status == Status.INVALID_PARAM
    from snpmeasure import BlobError

    with pytest.raises(BlobError, match="must be 4096 bytes"):
        launched().launch_finish(block, bytes(100))  # KVM always reads 4096: QEMU's buffer, not the firmware


def test_launch_start_checks() -> None:
    with pytest.raises(KvmError, match="bit 17"):
        Firmware().launch_start(0x10000)
    with pytest.raises(KvmError, match="MIGRATE_MA"):
        Firmware().launch_start(0x70000)
    assert status_of(lambda: Firmware().launch_start(0x20000)) == Status.POLICY_FAILURE  # SMT=0 on an SMT host
    Firmware(host=HostModel(smt_enabled=False)).launch_start(0x20000)
    assert status_of(lambda: Firmware(host=HostModel(abi=(1, 51))).launch_start(0x31037)) == Status.POLICY_FAILURE
    Firmware(host=HostModel(abi=(1, 55))).launch_start(0x30000 | 1 << 22)


def test_policy_bits_newer_than_the_firmware_fail_in_kvm_first() -> None:
    """Linux 6.19 (the default model) allows bits 21-25 only as the firmware reports them: a bit
    newer than the firmware's ABI is -EINVAL from KVM before the firmware's POLICY_FAILURE."""
    with pytest.raises(KvmError, match=r"bit 25 is outside KVM_X86_SNP_POLICY_BITS.*ABI 1\.58.*firmware's 1\.55"):
        Firmware(host=HostModel(abi=(1, 55))).launch_start(0x30000 | 1 << 25)
    with pytest.raises(KvmError, match=r"bit 24 .*ABI 1\.55, above the firmware's 1\.54"):
        Firmware(host=HostModel(abi=(1, 54))).launch_start(0x30000 | 1 << 21 | 1 << 24)
    # without KVM, or with a kernel whose mask the user gives, the firmware decides
    for host in (HostModel(abi=(1, 55), kvm_checks=False), HostModel(abi=(1, 55), kvm_policy_bits=(1 << 26) - 1)):
        with pytest.raises(FirmwareError) as exc:
            Firmware(host=host).launch_start(0x30000 | 1 << 25)
        assert exc.value.status == Status.POLICY_FAILURE
    # a firmware of unknown ABI: nothing to compare with
    Firmware().launch_start(0x30000 | 1 << 25)
    Firmware(host=HostModel(kvm_checks=False)).launch_start(0x70000)


def test_state_machine_illegal_orders() -> None:
    """The firmware refuses a command in the wrong state (INVALID_GUEST_STATE); with KVM's checks
    KVM refuses it first (-EINVAL: sev->snp_context), and the firmware never sees it."""
    from snpmeasure import HostModel

    kvm = Firmware()
    with pytest.raises(KvmError, match="EINVAL.*guest is none, the command needs it launching"):
        kvm.launch_update(1, 0, bytes(4096))
    kvm.launch_start()
    with pytest.raises(KvmError, match="EINVAL"):
        kvm.launch_start()
    kvm.launch_finish()  # after LAUNCH_FINISH mainline KVM has no state check: the firmware's
    assert status_of(lambda: kvm.launch_finish()) == Status.INVALID_GUEST_STATE
    fw = Firmware(host=HostModel(kvm_checks=False))
    assert status_of(lambda: fw.launch_update(1, 0, bytes(4096))) == Status.INVALID_GUEST_STATE
    assert status_of(lambda: fw.launch_finish()) == Status.INVALID_GUEST_STATE
    fw.launch_start()
    assert status_of(lambda: fw.launch_start()) == Status.INVALID_GUEST_STATE
    fw.launch_finish()
    assert fw.state is GuestState.RUNNING
    assert status_of(lambda: fw.launch_update_vmsa(bytes(4096))) == Status.INVALID_GUEST_STATE
    assert status_of(lambda: fw.launch_finish()) == Status.INVALID_GUEST_STATE


def test_kvm_populates_a_guest_page_once() -> None:
    """With KVM's checks a LAUNCH_UPDATE over a page already populated is refused (kvm_gmem_populate
    fails; snp_launch_update returns -EIO) and the replay stops; the firmware alone
    (kvm_checks=False) measures it again."""
    from snpmeasure import HostModel, PageType

    fw = Firmware()
    fw.launch_start(0x30000)
    fw.launch_update(PageType.NORMAL, 0x2000, bytes(8192))
    before = fw.ld
    for update in (
        lambda: fw.launch_update(PageType.NORMAL, 0x3000, bytes(4096)),
        lambda: fw.launch_update(PageType.ZERO, 0x1000, length=0x2000),
        lambda: fw.launch_update_fill(PageType.NORMAL, 0x0, bytes(4096), 3),
    ):
        with pytest.raises(KvmError, match="EIO"):
            update()
        assert fw.ld == before
    fw.launch_update(PageType.NORMAL, 0x4000, bytes(4096))  # the next page is free
    firmware_only = Firmware(host=HostModel(kvm_checks=False))
    firmware_only.launch_start(0x30000)
    firmware_only.launch_update(PageType.NORMAL, 0x2000, bytes(4096))
    firmware_only.launch_update(PageType.NORMAL, 0x2000, bytes(4096))


def test_populated_pages_are_tracked_per_context_and_after_argument_checks() -> None:
    """copy() is independent; a bad argument is said before -EIO; a None kvm_required_bits
    means none. (VMSA pages are KVM's own: test_kvm_takes_no_vmsa_page_from_userspace.)"""
    from snpmeasure import HostModel, PageType

    fw = Firmware()
    fw.launch_start(0x30000)
    other = fw.copy()
    fw.launch_update(PageType.NORMAL, 0x1000, bytes(4096))
    other.launch_update(PageType.NORMAL, 0x1000, bytes(4096))  # its own guest
    with pytest.raises(InvalidInputError):
        fw.launch_update(PageType.NORMAL, 0x1001, bytes(4096))  # misaligned: not EIO
    with pytest.raises(KvmError, match="EIO"):
        fw.launch_update(PageType.NORMAL, 0x1000, bytes(4096))
    lenient = Firmware(host=HostModel(kvm_required_bits=None))
    lenient.launch_start(0x30000)


def test_a_launch_without_an_author_key_reads_no_author_fields() -> None:
    """With AUTHOR_KEY_EN 0 the firmware reads neither AUTH_KEY_ALGO nor the author key: an ID auth
    that sets the algorithm to 1 without a key (as igvmmeasure's sign writes it) launches."""
    block, auth = signed(author=False)
    raw = bytearray(auth.to_bytes())
    raw[4:8] = (1).to_bytes(4, "little")
    assert launched().launch_finish(block, bytes(raw)).measurement == LD
    with pytest.raises(FirmwareError, match="inferred"):  # enabled, it is read: no key is INVALID_PARAM
        launched().launch_finish(block, bytes(raw), author_key_enabled=True)


def test_kvm_takes_no_vmsa_page_from_userspace() -> None:
    """snp_launch_update accepts KVM_SEV_SNP_PAGE_TYPE_NORMAL, ZERO, UNMEASURED, SECRETS and CPUID:
    VMSAs are KVM's own (launch_update_vmsa); the firmware alone takes a VMSA page."""
    from snpmeasure.errors import KvmError
    from snpmeasure.firmware import Firmware, HostModel
    from snpmeasure.pages import PageType

    fw = Firmware()
    fw.launch_start(0x30000)
    with pytest.raises(KvmError, match="page type VMSA: KVM adds the VMSAs itself"):
        fw.launch_update(PageType.VMSA, 0xFFFFFFFFF000, bytes(4096))
    with pytest.raises(KvmError, match="page type VMSA"):
        fw.launch_update_fill(PageType.VMSA, 0xFFFFFFFFF000, bytes(4096), 1)
    bare = Firmware(host=HostModel(kvm_checks=False))
    bare.launch_start(0x30000)
    bare.launch_update(PageType.VMSA, 0xFFFFFFFFF000, bytes(4096))


def test_a_hosts_platform_info_decides_rapl_and_ciphertext_hiding() -> None:
    """HostModel.platform_info (the host's PLATFORM_INFO): RAPL_DIS needs its bit 3,
    CIPHERTEXT_HIDING its bit 4 (POLICY_FAILURE); SMT_EN must agree with smt_enabled."""
    from snpmeasure import GuestPolicy, HostModel

    pol = GuestPolicy.from_int(0x1830000)
    assert [f for f, _ in pol.firmware_problems(platform_info=0x1)] == ["RAPL_DIS", "CIPHERTEXT_HIDING"]
    assert pol.firmware_problems(platform_info=0x19) == [] and pol.firmware_problems() == []
    with pytest.raises(InvalidInputError, match="^platform_info: must be the 64-bit PLATFORM_INFO"):
        pol.firmware_problems(platform_info=-1)
    assert (
        status_of(lambda: Firmware(host=HostModel(platform_info=0x1)).launch_start(0x830000)) == Status.POLICY_FAILURE
    )
    Firmware(host=HostModel(platform_info=0x9)).launch_start(0x830000)
    with pytest.raises(InvalidInputError, match="^platform_info: SMT_EN .* contradicts smt_enabled=True"):
        Firmware(host=HostModel(platform_info=0x8))


def test_kvm_has_no_guest_memory_past_2_52_nor_more_than_4096_vcpus() -> None:
    """A range past x86's widest guest-physical address space, or more VMSAs than KVM_MAX_VCPUS,
    is no launch KVM runs: refused before any digest work (a 2**62-byte region would take years)."""
    from snpmeasure import HostModel

    fw = Firmware()
    fw.launch_start()
    before = fw.ld
    for call in (
        lambda: fw.launch_update(3, 1 << 52, length=4096),
        lambda: fw.launch_update(3, 0, length=1 << 62),
        lambda: fw.launch_update_fill(3, (1 << 52) - 4096, bytes(4096), 2),
        lambda: fw.launch_update_vmsa(bytes(4096), gpa=0x1000, count=4097),
    ):
        with pytest.raises(KvmError):
            call()
    assert fw.ld == before
    fw.launch_update_vmsa(bytes(4096), gpa=0x1000, count=4096)
    with pytest.raises(KvmError, match="4097 VMSAs"):
        fw.launch_update_vmsa_each(bytes(4096), gpa=0x1000)
    bare = Firmware(host=HostModel(kvm_checks=False))  # the firmware alone takes any 64-bit GPA
    bare.launch_start()
    bare.launch_update(3, 1 << 60, length=4096)


def test_a_failed_vmsa_update_counts_no_vcpu() -> None:
    fw = Firmware(trace=True)
    fw.launch_start()
    with pytest.raises(InvalidInputError, match="label"):
        fw.launch_update_vmsa(bytes(4096), gpa=0x1000, count=4096, label="{x}")
    fw.launch_update_vmsa(bytes(4096), gpa=0x1000, count=4096)  # all 4096 still to come
