"""Guest inputs → the ordered launch commands a VMM issues (the "plan").

The order is QEMU's (docs/reference/firmware-abi.md §3.7, §5.2): the firmware image as NORMAL pages, then the SEV
metadata sections in table order (CPUID pages moved last for EC2), then one VMSA per vCPU, BSP
first, inside LAUNCH_FINISH. SEV/SEV-ES: the firmware, the kernel hashes table, then the VMSAs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, NamedTuple, Optional, Protocol, Sequence, Tuple

from ._vmsa import vmsa_pages
from .errors import ConfigError
from .images import MetadataSection, SectionType
from .kernel_hashes import PADDED_SIZE, KernelHashes
from .pages import PAGE_SIZE, Buffer, PageType
from .profiles import LaunchProfile

if TYPE_CHECKING:  # pragma: no cover
    from .firmware import Firmware

MODES = ("snp", "snp:ovmf-hash", "snp:svsm", "snp:igvm", "sev", "seves")
#: measure()'s arguments that describe the launch, by what they give (the CLI flags of the same
#: names): the firmware, the kernel and its command line, the vCPUs' CPU, and the rest of the VMSA.
FIRMWARE_INPUTS = ("ovmf", "manifest", "snp_ovmf_hash", "svsm", "vars_size", "vars_file")
KERNEL_INPUTS = ("kernel", "initrd", "append", "kernel_hash", "initrd_hash", "append_hash")
CPU_INPUTS = ("vcpu_type", "vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping")
LAUNCH_INPUTS = (*FIRMWARE_INPUTS, *KERNEL_INPUTS, *CPU_INPUTS, "vmm_type", "guest_features")


class FirmwareLayout(Protocol):
    """What a plan needs to know about a firmware: a FirmwareImage or a FirmwareManifest."""

    name: str
    gpa: int
    size: int
    sections: List[MetadataSection]

    @property
    def sev_es_reset_eip(self) -> Optional[int]: ...

    @property
    def sev_hash_table(self) -> Optional[Tuple[int, int]]: ...

    def require_sev_hash_table(self) -> int: ...


class Command(NamedTuple):
    """One launch command: ``op`` is "update" (SNP_LAUNCH_UPDATE over ``data`` or ``length``),
    "fill" (SNP_LAUNCH_UPDATE over ``repeat`` consecutive pages all holding the page ``data``),
    "vmsa" (the VMSA updates in SNP_LAUNCH_FINISH, ``repeat`` identical pages), "sev-data" or
    "sev-vmsa" (SEV/SEV-ES)."""

    op: str
    label: str
    page_type: PageType = PageType.NORMAL
    gpa: int = 0
    length: int = 0
    data: Optional[Buffer] = None
    repeat: int = 1
    first: int = 0  # "vmsa": index of the first vCPU this command measures


def run_snp(fw: Firmware, commands: Sequence[Command]) -> None:
    """Issue SNP launch commands (ops "update", "fill", "vmsa") to a guest context, in order."""
    for cmd in commands:
        if cmd.op == "fill":
            assert cmd.data is not None
            fw.launch_update_fill(cmd.page_type, cmd.gpa, cmd.data, cmd.repeat, label=cmd.label)
        elif cmd.op == "vmsa":
            assert cmd.data is not None
            fw.launch_update_vmsa(cmd.data, gpa=cmd.gpa, count=cmd.repeat, label=cmd.label, first=cmd.first)
        else:
            fw.launch_update(
                cmd.page_type, cmd.gpa, cmd.data, None if cmd.data is not None else cmd.length, label=cmd.label
            )


class Plan:
    """The ordered commands of one launch, and what was decided while building them."""

    def __init__(self, mode: str, profile: LaunchProfile) -> None:
        self.mode = mode
        self.profile = profile
        self.commands: List[Command] = []
        self.warnings: List[str] = []
        self.vmsas: List[bytes] = []  # one page per vCPU (the same object for identical APs)


_ZERO_PAGE = bytes(PAGE_SIZE)


def _section_commands(
    section: MetadataSection, index: int, profile: LaunchProfile, hashes: Optional[KernelHashes], ht_gpa: Optional[int]
) -> Tuple[List[Command], Optional[str]]:
    label = f"metadata[{index}] {section.type_name}"
    npages = section.size // PAGE_SIZE
    if section.type == SectionType.SNP_SEC_MEM:
        ptype = profile.sec_mem_page_type
        if ptype.has_contents:  # a profile that measures zero pages as NORMAL: no section-sized buffer
            return [Command("fill", label, ptype, section.gpa, section.size, _ZERO_PAGE, repeat=npages)], None
        return [Command("update", label, ptype, section.gpa, section.size)], None
    if section.type == SectionType.SNP_SECRETS:
        return [Command("update", label, PageType.SECRETS, section.gpa, section.size)], None
    if section.type == SectionType.CPUID:
        return [Command("update", label, PageType.CPUID, section.gpa, section.size)], None
    if section.type == SectionType.SNP_KERNEL_HASHES and hashes is not None:
        assert ht_gpa is not None
        # QEMU zeroes the section and copies the table at the hash table's offset within its first
        # page; the rest of the section is measured as zero NORMAL pages (built once, not per page).
        offset = ht_gpa & (PAGE_SIZE - 1)
        head = min(section.size, -(-(offset + PADDED_SIZE) // PAGE_SIZE) * PAGE_SIZE)  # the pages the table touches
        cmds = [
            Command(
                "update",
                label + " (kernel hashes table)",
                PageType.NORMAL,
                section.gpa,
                head,
                hashes.section(offset, head),
            )
        ]
        if section.size > head:
            cmds.append(
                Command(
                    "fill",
                    label + " (zeros)",
                    PageType.NORMAL,
                    section.gpa + head,
                    section.size - head,
                    _ZERO_PAGE,
                    repeat=(section.size - head) // PAGE_SIZE,
                )
            )
        return cmds, None
    warning = None
    if section.type not in (SectionType.SVSM_CAA, SectionType.SNP_KERNEL_HASHES):
        warning = f"{label} at {section.gpa:#x}: unknown section type, measured as ZERO pages as upstream QEMU does"
    return [Command("update", label, PageType.ZERO, section.gpa, section.size)], warning


def snp_plan(
    *,
    mode: str,
    profile: LaunchProfile,
    firmware: FirmwareLayout,
    firmware_data: Optional[Buffer],
    svsm: Optional[FirmwareLayout] = None,
    svsm_data: Optional[Buffer] = None,
    hashes: Optional[KernelHashes] = None,
    vcpus: int = 1,
    vcpu_sig: Optional[int] = None,
    guest_features: int = 0x1,
    allow_no_sev_metadata: bool = False,
) -> Plan:
    """The SNP launch: firmware pages (unless ``firmware_data`` is None: seeded), sections, VMSAs.

    A firmware without SEV metadata is refused (upstream QEMU refuses it) unless
    ``allow_no_sev_metadata``, which measures it with a warning, as another loader would."""
    plan = Plan(mode, profile)
    if firmware_data is not None:
        plan.commands.append(
            Command("update", f"firmware {firmware.name}", PageType.NORMAL, firmware.gpa, firmware.size, firmware_data)
        )
    if mode == "snp:ovmf-hash":
        return plan
    layout = firmware
    if mode == "snp:svsm":
        assert svsm is not None and svsm_data is not None
        plan.commands.append(Command("update", f"svsm {svsm.name}", PageType.NORMAL, svsm.gpa, svsm.size, svsm_data))
        layout = svsm
    if not layout.sections:
        message = (
            f"{layout.name} has no SEV metadata: upstream QEMU refuses an SNP launch with it "
            "('Failed to locate SEV metadata header')"
        )
        if not allow_no_sev_metadata:
            raise ConfigError(
                "svsm" if mode == "snp:svsm" else "ovmf",
                f"{message}{_foreign(layout)}; to measure it as a loader other than QEMU would, "
                "allow it (allow_no_sev_metadata=True)",
            )
        plan.warnings.append(message)
    ht_gpa: Optional[int] = None
    if hashes is not None:
        if not any(s.type == SectionType.SNP_KERNEL_HASHES for s in layout.sections):
            raise ConfigError(
                "kernel",
                f"{layout.name} has no SNP_KERNEL_HASHES metadata section, so QEMU cannot measure a kernel with it; "
                "use an AmdSev OVMF build (OvmfPkg/AmdSev) or drop --kernel/--initrd/--append",
            )
        ht_gpa = layout.require_sev_hash_table()
    deferred: List[Command] = []
    for i, section in enumerate(layout.sections):
        cmds, warning = _section_commands(section, i, profile, hashes, ht_gpa)
        if warning:
            plan.warnings.append(warning)
        if section.type == SectionType.CPUID and profile.cpuid_placement == "last":
            deferred.extend(cmds)
        else:
            plan.commands.extend(cmds)
    plan.commands.extend(deferred)
    ap_eip: Optional[int]
    if profile.vmsa.kind == "svsm":
        ap_eip = getattr(layout, "svsm_entry_gpa", None)
    else:
        ap_eip = _ap_eip(firmware, vcpus, profile.vmm == "qemu" and not allow_no_sev_metadata)
    plan.vmsas = list(vmsa_pages(profile, vcpus, ap_eip, guest_features, vcpu_sig))
    _vmsa_commands(plan, profile.vmsa_gpa)
    return plan


def _vmsa_commands(plan: Plan, gpa: int) -> None:
    pages: Sequence[bytes] = plan.vmsas
    i = 0
    while i < len(pages):
        j = i
        while j + 1 < len(pages) and pages[j + 1] is pages[i]:
            j += 1
        label = "vmsa vCPU {} (BSP)" if i == 0 and plan.profile.vmsa.kind == "reset" else "vmsa vCPU {}"
        plan.commands.append(Command("vmsa", label, PageType.VMSA, gpa, PAGE_SIZE, pages[i], repeat=j - i + 1, first=i))
        i = j + 1


def _foreign(layout: FirmwareLayout) -> str:
    """Why a firmware lacks OVMF's structures, when it has none of them at all."""
    if layout.sections or layout.sev_es_reset_eip is not None or layout.sev_hash_table is not None:
        return ""
    return " (nor any OVMF GUID table entry: the file is truncated, or is not an OVMF build)"


def _ap_eip(firmware: FirmwareLayout, vcpus: int, qemu: bool = False) -> Optional[int]:
    """Where the APs start: the SEV-ES reset block's address (None with one vCPU). ``qemu``: the
    launch is QEMU's, where an SEV-ES or SEV-SNP launch needs the block whatever the vCPU count
    (x86_firmware_configure exits when sev_es_save_reset_vector finds no SEV info block)."""
    eip = firmware.sev_es_reset_eip
    if eip is None and qemu:
        raise ConfigError(
            "ovmf",
            f"{firmware.name} has no SEV-ES reset block (the SEV info block, GUID 00f771de-...): QEMU refuses an "
            "SEV-ES or SEV-SNP launch without it ('SEV information block/Firmware GUID Table block not found in "
            f"pflash rom'){_foreign(firmware)}",
        )
    if vcpus <= 1:
        return None
    if eip is None and _foreign(firmware):
        raise ConfigError(
            "ovmf",
            f"{firmware.name} has no SEV-ES reset block for the APs{_foreign(firmware)}",
        )
    return eip


def sev_plan(
    *,
    mode: str,
    profile: LaunchProfile,
    firmware: FirmwareLayout,
    firmware_data: Buffer,
    hashes: Optional[KernelHashes] = None,
    vcpus: int = 0,
    vcpu_sig: Optional[int] = None,
    guest_features: int = 0,
) -> Plan:
    """SEV / SEV-ES: firmware, kernel hashes table, then (SEV-ES) one VMSA per vCPU."""
    plan = Plan(mode, profile)
    plan.commands.append(Command("sev-data", f"firmware {firmware.name}", length=firmware.size, data=firmware_data))
    if hashes is not None:
        firmware.require_sev_hash_table()
        table = hashes.table()
        plan.commands.append(Command("sev-data", "kernel hashes table", length=len(table), data=table))
    if mode == "seves":
        plan.vmsas = list(
            vmsa_pages(profile, vcpus, _ap_eip(firmware, vcpus, profile.vmm == "qemu"), guest_features, vcpu_sig)
        )
        for i, page in enumerate(plan.vmsas):
            plan.commands.append(Command("sev-vmsa", f"vmsa vCPU {i}", PageType.VMSA, length=PAGE_SIZE, data=page))
    return plan
