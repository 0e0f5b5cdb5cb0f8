"""IGVM launches: what each loader turns an IGVM file into, as SNP launch commands.

Three tools measure an IGVM file, and they disagree (docs/reference/igvm.md §2, §2.3). Each is a
named model, an :class:`IgvmProfile` of data, never a guess:

- ``igvmmeasure`` (coconut-svsm's tool; the default): directives in file order, zero pages as
  NORMAL pages of zeros, SHARED pages measured by type, one UNMEASURED page per parameter insert,
  the file's VMSAs at their directive's GPA, a 2 MiB page with data refused (the tool asserts);
- ``igvm-crate`` (microsoft/igvm ``generate_snp_measurement``): SHARED pages skipped, a 2 MiB page
  measured as one 4 KiB page, parameter areas measured whole;
- ``qemu`` (QEMU >= 10 with KVM): page runs queued as QEMU queues them (a parameter insert that
  follows a run is measured before it), parameter areas whole, 2 MiB pages as 512 pages, and one
  VMSA per vCPU measured last at 0xFFFFFFFFF000, from the file's VP contexts; files QEMU refuses
  (unknown headers, a VMSA it cannot load) are refused with QEMU's reason.

``native_zero`` measures pages without data as ZERO pages (GCE's loader) in any model.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._checks import require_type
from ._cpus import MAX_VCPUS
from ._plan import LAUNCH_INPUTS, Command, run_snp
from ._vmsa import OFF_CR0, OFF_CR4, OFF_EFER, OFF_SEV_FEATURES
from .blobs import ID_AUTH_LAYOUT, ID_AUTH_SIZE, AmdPublicKey, AmdSignature, IdAuth, IdBlock, KeySource
from .errors import ConfigError, IgvmError, InvalidInputError, show
from .firmware import Firmware, TraceEntry
from .igvm import (
    DATA_CPUID_DATA,
    DATA_CPUID_XF,
    DATA_SECRETS,
    FLAG_IS_2MB_PAGE,
    FLAG_SHARED,
    FLAG_UNMEASURED,
    HEADER_NAMES,
    PAGE,
    PARAMETER_TYPES,
    PLATFORM_NAMES,
    PLATFORM_SEV_ES,
    PLATFORM_SEV_SNP,
    VHT_CCA_POLICY,
    VHT_ENVIRONMENT_INFO,
    VHT_GUEST_POLICY,
    VHT_MADT,
    VHT_MEMORY_MAP,
    VHT_PAGE_DATA,
    VHT_PARAMETER_AREA,
    VHT_PARAMETER_INSERT,
    VHT_REQUIRED_MEMORY,
    VHT_SNP_ID_BLOCK,
    VHT_SUPPORTED_PLATFORM,
    VHT_VBS_MEASUREMENT,
    VHT_VP_CONTEXT,
    VHT_VP_COUNT_PARAMETER,
    GuestPolicy,
    IgvmBuilder,
    IgvmFile,
    IgvmHeader,
    PageData,
    Parameter,
    ParameterArea,
    ParameterInsert,
    RawHeader,
    RequiredMemory,
    SnpIdBlock,
    SupportedPlatform,
    VpContext,
)
from .pages import VMSA_GPA, PageType
from .policy import DEFAULT_POLICY

if TYPE_CHECKING:
    import mmap
    import os

    from .measurement import Measurement

_ZERO = bytes(PAGE)


def refuse_file_held_inputs(given: Dict[str, Any]) -> None:
    """Refuse an argument (of ``given``, a call's arguments by name) that the IGVM file holds: every
    launch input (``_plan.LAUNCH_INPUTS``: the firmware, the kernel, the CPU, the VMSAs' features)."""
    name = next((k for k in LAUNCH_INPUTS if given.get(k) is not None), None)
    if name is not None:
        raise InvalidInputError(
            name, "does not apply to mode 'snp:igvm': the IGVM file holds the firmware, kernel and VMSAs"
        )


class IgvmProfile(NamedTuple):
    """How one loader turns IGVM directives into SNP_LAUNCH_UPDATE commands (docs/reference/igvm.md §2)."""

    name: str
    description: str
    source: str
    #: a 2 MiB PAGE_DATA: "expand" (512 pages; with data refused), "first" (one 4 KiB page),
    #: "qemu" (512 pages: the 4 KiB of data, then 511 of zeros)
    huge_pages: str
    #: SHARED pages: "measure" (by their type) or "skip"
    shared_pages: str
    #: PARAMETER_INSERT: "page" (one UNMEASURED page) or "area" (the area's size in pages)
    parameter_insert: str
    #: "file" (directive order) or "qemu" (page runs flushed when broken; inserts at once)
    order: str
    #: "file" (each VP context's VMSA at its GPA, in file order) or "kvm" (one per vCPU, last,
    #: at 0xFFFFFFFFF000)
    vmsas: str
    #: headers outside the loader's handlers: "ignore" or "refuse"
    unknown_headers: str
    #: several GUEST_POLICY headers for the platform: "first" or "last" counts
    policy: str
    #: VP contexts measured: "snp-or-es" (every VMSA: the VP contexts of the SEV-SNP and SEV-ES
    #: platforms, which the igvm crate reads as SNP VMSAs and igvmmeasure measures without
    #: checking the mask) or "platform" (the SEV-SNP platform's)
    vp_context_mask: str
    #: several SNP_ID_BLOCK directives: "first" or "last" counts, or "refuse"
    id_blocks: str

    def to_json(self) -> Dict[str, Any]:
        """The profile as JSON."""
        return dict(self._asdict())


IGVM_PROFILES: Dict[str, IgvmProfile] = {
    p.name: p
    for p in (
        IgvmProfile(
            "igvmmeasure",
            "coconut-svsm igvmmeasure: file order, zero pages NORMAL, one page per parameter insert",
            "coconut-svsm tools/igvmmeasure (docs/reference/igvm.md §2, §2.1)",
            huge_pages="expand",
            shared_pages="measure",
            parameter_insert="page",
            order="file",
            vmsas="file",
            unknown_headers="ignore",
            policy="first",
            vp_context_mask="snp-or-es",
            id_blocks="last",
        ),
        IgvmProfile(
            "igvm-crate",
            "microsoft/igvm generate_snp_measurement: SHARED skipped, 2 MiB pages as one page",
            "microsoft/igvm igvm/src/measurement/snp.rs (docs/reference/igvm.md §2)",
            huge_pages="first",
            shared_pages="skip",
            parameter_insert="area",
            order="file",
            vmsas="file",
            unknown_headers="ignore",
            policy="first",
            vp_context_mask="platform",
            id_blocks="first",
        ),
        IgvmProfile(
            "qemu",
            "QEMU >= 10 with KVM: QEMU's page-run queue, one VMSA per vCPU last at 0xFFFFFFFFF000",
            "qemu backends/igvm.c, target/i386/sev.c (docs/reference/igvm.md §2, §2.2)",
            huge_pages="qemu",
            shared_pages="measure",
            parameter_insert="area",
            order="qemu",
            vmsas="kvm",
            unknown_headers="refuse",
            policy="last",
            vp_context_mask="platform",
            id_blocks="refuse",
        ),
    )
}

DEFAULT_IGVM_PROFILE = "igvmmeasure"

#: The header types QEMU's IGVM loader has handlers for (backends/igvm.c ``handlers[]``); any
#: other makes it refuse the file ("Unknown header type").
QEMU_HANDLED = {
    VHT_SUPPORTED_PLATFORM,
    VHT_GUEST_POLICY,
    VHT_PARAMETER_AREA,
    VHT_PAGE_DATA,
    VHT_PARAMETER_INSERT,
    VHT_VP_CONTEXT,
    VHT_REQUIRED_MEMORY,
    VHT_VP_COUNT_PARAMETER,
    VHT_SNP_ID_BLOCK,
    VHT_MEMORY_MAP,
    VHT_ENVIRONMENT_INFO,
    VHT_MADT,  # a handler since January 2026 (qigvm_directive_madt); QEMU 10.x refuses it
}
#: What QEMU writes for a parameter: (at its byte_offset, how many bytes at least). VP_COUNT's
#: uint32 and the IgvmEnvironmentInfo word go at the offset; MEMORY_MAP and MADT fill the area
#: from its start with at least one entry.
_QEMU_WRITES = {
    VHT_VP_COUNT_PARAMETER: (True, 4),
    VHT_ENVIRONMENT_INFO: (True, 4),
    VHT_MEMORY_MAP: (False, 1),
    VHT_MADT: (False, 1),
}
#: Handled by QEMU only since a release after 10.x: accepted with a warning (they fill unmeasured
#: parameter areas, so the digest is the same either way).
QEMU_HANDLED_LATER = {VHT_MADT: "MADT"}

# VMSA fields KVM synchronises from the vCPU state QEMU loads (QEMU check_vmsa_supported; Linux
# struct sev_es_save_area offsets, docs/reference/firmware-abi.md §7.1): (offset, size). Every
# other byte of a VP context must be zero for QEMU to load it.
_VMSA_SYNCED = (
    (0x000, 0xA0),  # ES, CS, SS, DS, FS, GS, GDTR, LDTR, IDTR, TR
    (0x0D0, 8),  # EFER
    (0x148, 8),  # CR4
    (0x150, 8),  # CR3
    (0x158, 8),  # CR0
    (0x160, 8),  # DR7
    (0x168, 8),  # DR6
    (0x170, 8),  # RFLAGS
    (0x178, 8),  # RIP
    (0x1D8, 8),  # RSP
    (0x1F8, 8),  # RAX
    (0x268, 8),  # G_PAT
    (0x308, 0x18),  # RCX, RDX, RBX
    (0x328, 0x58),  # RBP, RSI, RDI, R8-R15
    (0x3B0, 8),  # SEV_FEATURES
    (0x3E8, 8),  # XCR0
    (0x408, 4),  # MXCSR
    (0x410, 2),  # X87 FCW
)
_VMSA_SYNCED_BYTES = bytearray(PAGE)  # 1 where a synchronised field lies
for _off, _size in _VMSA_SYNCED:
    _VMSA_SYNCED_BYTES[_off : _off + _size] = b"\x01" * _size
#: sizeof(struct sev_es_save_area): what QEMU checks and loads of a VP context (the rest of the
#: page is ignored, and KVM's VMSA page is zero there).
QEMU_VMSA_BYTES = 0x670
EFER_SVME = 1 << 12
CR4_MCE = 1 << 6
#: SEV_FEATURES bits QEMU can ask KVM for: SNP_ACTIVE (bit 0), DebugSwap (5), SecureTSC (9).
QEMU_SEV_FEATURES = 1 | 1 << 5 | 1 << 9


def get_igvm_profile(profile: Union[str, IgvmProfile, None]) -> IgvmProfile:
    """A built-in IGVM model by name (default igvmmeasure), or the given profile."""
    if profile is None:
        return IGVM_PROFILES[DEFAULT_IGVM_PROFILE]
    if isinstance(profile, IgvmProfile):
        return profile
    if not isinstance(profile, str) or profile not in IGVM_PROFILES:
        raise InvalidInputError("profile", f"unknown IGVM model {show(profile)}; known: {', '.join(IGVM_PROFILES)}")
    return IGVM_PROFILES[profile]


class IgvmPlan:
    """The SNP launch an IGVM file describes under one model: the launch commands in order, the
    policy, the ID block, and what was noticed on the way."""

    def __init__(self, igvm: IgvmFile, profile: IgvmProfile, native_zero: bool) -> None:
        self.igvm = igvm
        self.profile = profile
        self.native_zero = native_zero
        self.commands: List[Command] = []
        self.warnings: List[str] = []
        self.vmsas: List[bytes] = []
        self.vcpus = 0
        self.platform: SupportedPlatform = snp_platform(igvm)
        self.policy: Optional[int] = None
        self.id_block: Optional[SnpIdBlock] = None
        self.id_block_index: Optional[int] = None
        #: VP contexts for the platform, by vp_index (header index, header)
        self.vp_contexts: Dict[int, Tuple[int, VpContext]] = {}
        #: every VP context the model measures from the file, in file order
        self.file_vmsas: List[VpContext] = []


def snp_platform(igvm: IgvmFile) -> SupportedPlatform:
    """The file's SEV-SNP platform; a file without one is an IgvmError."""
    platform = igvm.platform(PLATFORM_SEV_SNP)
    if platform is None:
        have = ", ".join(PLATFORM_NAMES[p.platform_type] for p in igvm.platforms) or "none"
        raise IgvmError(
            igvm.name, f"has no SEV-SNP platform (SUPPORTED_PLATFORM with platform_type 2); its platforms: {have}"
        )
    return platform


def _where(igvm: IgvmFile, index: int) -> str:
    h = igvm.headers[index]
    return f"{igvm.name}: header {index} ({h.type_name}, {h.header_type:#x}) at file offset {igvm.offsets[index]:#x}"


def _applies(h: IgvmHeader, mask: int) -> bool:
    """Whether a header applies to the platform of ``mask`` (headers without a mask always do)."""
    hmask = getattr(h, "compatibility_mask", None)
    return hmask is None or bool(hmask & mask)


class _Page(NamedTuple):
    """One page, or a run of pages of one kind, before merging: ``offset`` is where its data
    starts in the file, or None (zeros for NORMAL, nothing measured for the other types)."""

    header: int
    ptype: PageType
    gpa: int
    npages: int
    offset: Optional[int]
    label: str


def plan_igvm(
    igvm: IgvmFile,
    profile: Union[str, IgvmProfile, None] = None,
    *,
    native_zero: bool = False,
    vcpus: Optional[int] = None,
    per_directive: bool = False,
) -> IgvmPlan:
    """The launch commands of ``igvm`` under a model. ``vcpus`` (qemu model only; default the VP
    contexts present) is the number of VMSAs KVM measures. ``per_directive``: one command per
    directive (for traces) instead of merged regions (one C call per region)."""
    prof = get_igvm_profile(profile)
    require_type("igvm", igvm, IgvmFile)
    if not isinstance(native_zero, bool):
        raise InvalidInputError("native_zero", f"must be a bool, got {show(native_zero)}")
    plan = IgvmPlan(igvm, prof, native_zero)
    mask = plan.platform.compatibility_mask
    areas: Dict[int, ParameterArea] = {}
    pages: List[_Page] = []
    pending: List[_Page] = []  # the qemu model's open page run
    last_index = -2
    last_key: Optional[Tuple[Any, ...]] = None

    def flush() -> None:
        pages.extend(pending)
        pending.clear()

    def queue(
        items: List[_Page], first: int, last: int, key: Tuple[Any, ...], end_key: Tuple[Any, ...], breaks: int = 0
    ) -> None:
        """Pages of the PAGE_DATA headers ``first``..``last``, in order. QEMU merges a PAGE_DATA
        into the open run when it is the next directive, at the next GPA, with the same flags,
        data type, mask and data presence (``key`` of the first page, ``end_key`` of the last); a
        run is handed on (queued) only when a later page breaks it, or at the end of the file.
        ``breaks``: where the last run within ``items`` starts (a native page run's own breaks)."""
        nonlocal last_index, last_key
        if prof.order != "qemu":
            pages.extend(items)
            return
        if not (pending and first == last_index + 1 and key == last_key and items[0].gpa == _end(pending[-1])):
            flush()
        if breaks:
            pending.extend(items[:breaks])
            flush()
        pending.extend(items[breaks:])
        last_index, last_key = last, end_key

    normal, refuse = PageType.NORMAL, prof.unknown_headers == "refuse"
    runs = {} if per_directive else igvm._page_runs
    index = -1
    count = len(igvm.headers)
    while index + 1 < count:
        index += 1
        run = runs.get(index)
        if run is not None and run[1][0][4] & mask:
            # a run of the platform's plain pages, merged into regions by the native core
            n, regions, breaks = run
            zero = PageType.ZERO if native_zero else normal
            items = [
                _Page(index + first, normal if fo else zero, gpa, npages, fo or None, "PAGE_DATA")
                for gpa, npages, fo, first, _ in regions
            ]
            head, tail = regions[0], regions[-1]
            queue(items, index, index + n - 1, (0, 0, head[4], head[2] != 0), (0, 0, tail[4], tail[2] != 0), breaks)
            index += n - 1
            continue
        h = igvm.headers[index]
        if type(h) is PageData and not h.flags and not h.data_type and h.compatibility_mask & mask:
            # the common page (a plain NORMAL 4 KiB page of the platform), without the general path
            page = _Page(
                index,
                normal if h.file_offset or not native_zero else PageType.ZERO,
                h.gpa,
                1,
                h.file_offset or None,
                "PAGE_DATA",
            )
            key = (0, 0, h.compatibility_mask, h.file_offset != 0)
            queue([page], index, index, key, key)
            continue
        _check_header_type(plan, index, h)
        if isinstance(h, GuestPolicy):
            if h.compatibility_mask & mask and (plan.policy is None or prof.policy == "last"):
                plan.policy = h.policy
            continue
        if isinstance(h, VpContext) and not h.compatibility_mask & mask:
            if prof.vp_context_mask == "snp-or-es" and _is_vmsa(igvm, h):
                # igvmmeasure measures every SnpVpContext the crate reads, the SEV-ES platform's too
                label = f"VP_CONTEXT {h.vp_index} (mask {h.compatibility_mask:#x})"
                pages.append(_Page(index, PageType.VMSA, h.gpa, 1, h.file_offset, label))
                plan.warnings.append(
                    f"header {index}: the SEV-ES platform's VP context (mask {h.compatibility_mask:#x}) is measured, "
                    f"as igvmmeasure measures every VMSA in the file"
                )
            continue  # another platform's context (native, VSM, CCA): no VMSA, measured by no model
        if not _applies(h, mask):
            continue
        if isinstance(h, ParameterArea):
            areas[h.parameter_area_index] = h
        elif isinstance(h, PageData):
            item = _page_data(igvm, index, h, prof, native_zero)
            if item is None:
                continue
            key = (h.flags, h.data_type, h.compatibility_mask, h.file_offset != 0)
            queue(item, index, index, key, key)
        elif isinstance(h, ParameterInsert):
            area = areas[h.parameter_area_index]
            if refuse and not area.number_of_bytes:
                raise IgvmError(
                    _where(igvm, index),
                    "inserts a 0-byte parameter area: what QEMU does with it is not established, so the qemu model "
                    "does not guess",
                )
            n = 1 if prof.parameter_insert == "page" else area.number_of_bytes // PAGE
            if n:  # the igvm crate inserts a 0-byte area as no page at all
                pages.append(_Page(index, PageType.UNMEASURED, h.gpa, n, None, "PARAMETER_INSERT"))
        elif isinstance(h, VpContext):
            pages.extend(_vp_context(plan, index, h))
        elif isinstance(h, SnpIdBlock):
            _id_block(plan, index, h)
        elif isinstance(h, (RequiredMemory, Parameter)) or h.header_type in PARAMETER_TYPES:
            if refuse and isinstance(h, Parameter) and h.kind in _QEMU_WRITES:
                _check_qemu_parameter(igvm, index, h, areas[h.parameter_area_index])
            continue  # not measured
    flush()
    if prof.vmsas == "kvm":
        _refuse_overlaps(igvm, pages)
    if prof.name == "igvm-crate" and plan.policy is None:
        raise IgvmError(igvm.name, "has no GUEST_POLICY for its SEV-SNP platform, which the igvm crate requires")
    plan.commands = list(_merge(pages, igvm, per_directive))
    if prof.vmsas == "kvm":
        _kvm_vmsas(plan, vcpus)
    else:
        if vcpus is not None and vcpus != len(plan.file_vmsas):
            raise ConfigError(
                "vcpus",
                f"the {prof.name} model measures the {len(plan.file_vmsas)} VMSA(s) in the file; "
                "a vCPU count applies to the qemu model (KVM measures one VMSA per vCPU)",
            )
        plan.vcpus = len(plan.file_vmsas)
        plan.vmsas = [bytes(igvm.data_of(h) or b"") for h in plan.file_vmsas]
    return plan


def _check_header_type(plan: IgvmPlan, index: int, h: IgvmHeader) -> None:
    """Refuse a header type the model's loader refuses: the igvm crate's undefined types (igvmmeasure,
    igvm-crate), QEMU's unhandled ones (qemu; a warning for those only later QEMU handles)."""
    igvm, prof, kind = plan.igvm, plan.profile, h.header_type
    if prof.unknown_headers != "refuse":
        if isinstance(h, RawHeader) and kind not in (VHT_CCA_POLICY, VHT_VBS_MEASUREMENT):
            # the igvm crate, which igvmmeasure reads files with, parses every type it defines
            # and refuses any other (InvalidVariableHeaderType): the file has no digest there
            raise IgvmError(
                _where(igvm, index),
                f"type {kind:#x} is no header type the igvm crate defines: the {prof.name} model's "
                "reader refuses the file (InvalidVariableHeaderType)",
            )
        return
    if kind not in QEMU_HANDLED:
        raise IgvmError(
            _where(igvm, index),
            f"QEMU refuses the file: 'IGVM: Unknown header type encountered when processing file: "
            f"({kind:#x})' ({HEADER_NAMES.get(kind, 'unknown type')} has no handler in QEMU's loader)",
        )
    if kind in QEMU_HANDLED_LATER:
        plan.warnings.append(
            f"header {index}: QEMU 10.x refuses {QEMU_HANDLED_LATER[kind]} ('Unknown header type'); "
            "later QEMU fills it in (unmeasured)"
        )


def _vp_context(plan: IgvmPlan, index: int, h: VpContext) -> List[_Page]:
    """Record the platform's VP context ``h``; the page it adds when the model measures the file's
    VMSAs (with KVM's, one per vCPU, a later context for a vp_index replaces the earlier)."""
    igvm, prof = plan.igvm, plan.profile
    if prof.vmsas == "kvm":
        if h.vp_index in plan.vp_contexts:  # sev_set_cpu_context replaces the earlier one
            check_vmsa_for_qemu(igvm, *plan.vp_contexts[h.vp_index])  # loaded (and checked) before
            plan.warnings.append(
                f"header {index}: a second VP context for vp_index {h.vp_index}; QEMU replaces "
                f"header {plan.vp_contexts[h.vp_index][0]}'s with it"
            )
        plan.vp_contexts[h.vp_index] = (index, h)
    else:
        plan.vp_contexts.setdefault(h.vp_index, (index, h))
    plan.file_vmsas.append(h)
    if prof.vmsas != "file":
        return []
    return [_Page(index, PageType.VMSA, h.gpa, 1, h.file_offset, f"VP_CONTEXT {h.vp_index}")]


def _id_block(plan: IgvmPlan, index: int, h: SnpIdBlock) -> None:
    """The platform's SNP_ID_BLOCK: a second one refused (qemu) or the first or last kept."""
    prof = plan.profile
    if plan.id_block is not None:
        if prof.id_blocks == "refuse":
            raise IgvmError(_where(plan.igvm, index), "QEMU refuses a second SNP_ID_BLOCK for the platform")
        which = "this one" if prof.id_blocks == "last" else "the first"
        plan.warnings.append(f"header {index}: a second SNP_ID_BLOCK ({which} counts, as in {prof.name})")
        if prof.id_blocks == "first":
            return
    plan.id_block, plan.id_block_index = h, index


def _check_qemu_parameter(igvm: IgvmFile, index: int, h: Parameter, area: ParameterArea) -> None:
    """A parameter QEMU writes (VP count, environment info, memory map, MADT) must fit its area."""
    at_offset, size = _QEMU_WRITES[h.kind]
    if (h.byte_offset if at_offset else 0) + size > area.number_of_bytes:
        raise IgvmError(
            _where(igvm, index),
            f"byte_offset {h.byte_offset:#x} + {size} is outside parameter area {h.parameter_area_index} "
            f"({area.number_of_bytes:#x} bytes): QEMU would write past the area"
            if at_offset
            else f"{h.type_name} in a 0-byte parameter area: QEMU writes at least one entry and refuses "
            "the file ('size exceeds parameter area')",
        )


def _is_vmsa(igvm: IgvmFile, h: VpContext) -> bool:
    """Whether a VP context is a VMSA: its mask is the SEV-SNP or SEV-ES platform's (the igvm
    crate reads it as an SnpVpContext; the parser refused a mask that is no platform's)."""
    return any(
        p.compatibility_mask == h.compatibility_mask and p.platform_type in (PLATFORM_SEV_SNP, PLATFORM_SEV_ES)
        for p in igvm.platforms
    )


def _refuse_overlaps(igvm: IgvmFile, pages: List[_Page]) -> None:
    """KVM populates each guest page once: a second SNP_LAUNCH_UPDATE of a page already made
    private fails (kvm_gmem_populate: -EEXIST, which snp_launch_update returns as -EIO), so QEMU
    cannot launch a file that imports a page twice (snpmeasure igvm lint names every overlap). Nor
    one past x86's widest guest-physical space (2**52): KVM has no memory there."""
    beyond = next((p for p in pages if _end(p) > 1 << 52), None)
    if beyond is not None:
        raise IgvmError(
            _where(igvm, beyond.header),
            f"imports gpa {beyond.gpa:#x} ({beyond.npages} pages), past 2**52, the most guest-physical address x86 "
            "has: KVM has no memory there, so QEMU cannot launch the file",
        )
    for span, reach in _overlaps([(p.gpa, _end(p), p.header) for p in pages]):
        gpa = max(span[0], reach[0])
        # a merged run names its first header: the directives that import this page, in file order
        earlier, later = _importers(igvm, gpa)[:2]
        raise IgvmError(
            _where(igvm, later),
            f"imports gpa {gpa:#x} again (header {earlier} did): KVM populates a guest page once, so QEMU "
            "cannot launch the file",
        )


def _overlaps(ranges: List[Tuple[int, int, int]]) -> Iterator[Tuple[Tuple[int, int, int], Tuple[int, int, int]]]:
    """Each (gpa, end, header) range that overlaps one before it in GPA order, with the one that
    reaches furthest so far (for the qemu model's refusal and lint's finding)."""
    reach = (-1, -1, -1)
    for r in sorted(ranges):
        if r[0] < reach[1]:
            yield r, reach
        if r[1] > reach[1]:
            reach = r


def _importers(igvm: IgvmFile, gpa: int) -> List[int]:
    """The headers (in file order) whose pages the qemu model imports at ``gpa``: the platform's
    PAGE_DATA (2 MiB ones whole) and PARAMETER_INSERTs (their area's size)."""
    mask = snp_platform(igvm).compatibility_mask
    sizes: Dict[int, int] = {}
    out = []
    for index, h in enumerate(igvm.headers):
        if isinstance(h, ParameterArea):
            sizes[h.parameter_area_index] = h.number_of_bytes
        elif isinstance(h, (PageData, ParameterInsert)) and h.compatibility_mask & mask:
            size = h.size if isinstance(h, PageData) else sizes.get(h.parameter_area_index, PAGE)
            if h.gpa <= gpa < h.gpa + size:
                out.append(index)
    return out


def _end(page: _Page) -> int:
    return page.gpa + page.npages * PAGE


def _page_data(igvm: IgvmFile, index: int, h: PageData, prof: IgvmProfile, native_zero: bool) -> Optional[List[_Page]]:
    """The pages one PAGE_DATA directive measures under a model (None: none)."""
    if h.flags & FLAG_SHARED and prof.shared_pages == "skip":
        return None
    data = h.file_offset or None
    label = "PAGE_DATA"
    if h.data_type == DATA_SECRETS:
        ptype = PageType.SECRETS
    elif h.data_type in (DATA_CPUID_DATA, DATA_CPUID_XF):
        ptype = PageType.CPUID
    elif h.flags & FLAG_UNMEASURED:
        ptype = PageType.UNMEASURED
    elif data is None:
        ptype = PageType.ZERO if native_zero else PageType.NORMAL  # NORMAL: a page of zeros
    else:
        ptype = PageType.NORMAL
    if h.flags & FLAG_IS_2MB_PAGE and data is not None and prof.huge_pages == "expand":
        raise IgvmError(
            _where(igvm, index),
            f"the {prof.name} model refuses a 2 MiB page with data (igvmmeasure asserts: the file gives 4 KiB "
            "for a 2 MiB page); the igvm-crate and qemu models measure it",
        )
    if ptype is not PageType.NORMAL:
        data = None  # the contents of these pages are not measured
    if not h.flags & FLAG_IS_2MB_PAGE:
        return [_Page(index, ptype, h.gpa, 1, data, label)]
    if prof.huge_pages == "first":
        return [_Page(index, ptype, h.gpa, 1, data, label)]
    if data is not None:  # qemu: the 4 KiB of data, then the rest of the 2 MiB as zeros
        return [
            _Page(index, ptype, h.gpa, 1, data, label),
            _Page(index, PageType.NORMAL, h.gpa + PAGE, 511, None, label),
        ]
    return [_Page(index, ptype, h.gpa, 512, None, label)]


def _merge(pages: List[_Page], igvm: IgvmFile, per_directive: bool) -> Iterator[Command]:
    """Commands from pages: consecutive pages of one type at consecutive GPAs become one region
    (data pages only where their file data is contiguous too, so a region is one view of the
    file), which the core measures in one call."""
    view = igvm.data
    i = 0
    n = len(pages)
    while i < n:
        p = pages[i]
        j = i + 1
        npages = p.npages
        if not per_directive:
            while j < n:
                q = pages[j]
                if q.ptype is not p.ptype or q.gpa != p.gpa + npages * PAGE or (q.offset is None) != (p.offset is None):
                    break
                if p.offset is not None and q.offset != p.offset + npages * PAGE:
                    break
                npages += q.npages
                j += 1
        last = pages[j - 1].header
        label = f"header {p.header} {p.label}" if last == p.header else f"headers {p.header}-{last} {p.label}"
        if p.offset is not None:
            yield Command("update", label, p.ptype, p.gpa, npages * PAGE, view[p.offset : p.offset + npages * PAGE])
        elif p.ptype is PageType.NORMAL:
            yield Command("fill", label, PageType.NORMAL, p.gpa, npages * PAGE, _ZERO, npages)
        else:
            yield Command("update", label, p.ptype, p.gpa, npages * PAGE)
        i = j


def check_vmsa_for_qemu(igvm: IgvmFile, index: int, h: VpContext) -> None:
    """QEMU's ``check_vmsa_supported`` and what KVM then measures (docs/reference/igvm.md §2.2):
    the GPA must be 0xFFFFFFFFF000, only the fields KVM synchronises may be set, SEV_FEATURES must
    hold SNP_ACTIVE and only features QEMU can ask for; and the VMSA KVM measures is the file's
    only when it already carries what KVM sets (EFER.SVME, CR4.MCE) and a CR0 KVM keeps (0x30 or
    0x31, igvmmeasure --check-kvm's rule). Anything else is refused (the first of
    :func:`_vmsa_problems`): the bytes KVM would measure are not established."""
    problems = _vmsa_problems(igvm, h)
    if problems:
        raise IgvmError(_where(igvm, index), problems[0][1])


def _vmsa_problems(igvm: IgvmFile, h: VpContext) -> List[Tuple[str, str]]:
    """Every rule of :func:`check_vmsa_for_qemu` the VMSA breaks, as (lint finding, message); the
    content rules only for a VMSA where QEMU would load it."""
    if h.gpa != VMSA_GPA:
        return [
            (
                "vmsa-gpa",
                f"QEMU refuses the file: a VMSA at gpa {h.gpa:#x}; QEMU and KVM place it at {VMSA_GPA:#x} "
                "(the igvmmeasure and igvm-crate models measure it where the file says)",
            )
        ]
    out: List[Tuple[str, str]] = []
    page = igvm.data_of(h)
    assert page is not None
    stray = next((i for i in range(QEMU_VMSA_BYTES) if page[i] and not _VMSA_SYNCED_BYTES[i]), None)
    if stray is not None:
        out.append(
            (
                "qemu-refuses-vmsa",
                f"QEMU refuses the file: VMSA byte {stray:#x} is set, outside the fields KVM synchronises "
                "(QEMU's check_vmsa_supported)",
            )
        )
    (features,) = struct.unpack_from("<Q", page, OFF_SEV_FEATURES)
    if not features & 1 or features & ~QEMU_SEV_FEATURES:
        out.append(
            (
                "qemu-refuses-vmsa",
                f"QEMU refuses the file: SEV_FEATURES {features:#x} must hold SNP_ACTIVE (bit 0) and only "
                "DebugSwap (bit 5) and SecureTSC (bit 9) besides (QEMU 10.0 and 10.1 accept exactly 0x1)",
            )
        )
    (efer,) = struct.unpack_from("<Q", page, OFF_EFER)
    (cr4,) = struct.unpack_from("<Q", page, OFF_CR4)
    (cr0,) = struct.unpack_from("<Q", page, OFF_CR0)
    if cr0 not in (0x30, 0x31):
        out.append(
            (
                "vmsa-cr0",
                f"the VMSA's CR0 is {cr0:#x}, which KVM overrides (it keeps 0x30 and 0x31): the VMSA KVM would "
                "measure is not established, so the qemu model does not guess it",
            )
        )
    if not efer & EFER_SVME or not cr4 & CR4_MCE:
        out.append(
            (
                "vmsa-efer-cr4",
                f"the VMSA's EFER {efer:#x} / CR4 {cr4:#x} lack SVME (EFER bit 12) or MCE (CR4 bit 6), which KVM "
                "sets in every VMSA it measures: the VMSA KVM would measure is not the file's, and is not guessed",
            )
        )
    return out


def _kvm_vmsas(plan: IgvmPlan, vcpus: Optional[int]) -> None:
    """The qemu model's VMSAs: one per vCPU, at 0xFFFFFFFFF000, after every page, from the VP
    context of that vCPU's index."""
    igvm = plan.igvm
    if not plan.vp_contexts:
        raise IgvmError(igvm.name, "has no VP context for its SEV-SNP platform: KVM would have no VMSA to measure")
    count = len(plan.vp_contexts) if vcpus is None else vcpus
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_VCPUS:
        raise InvalidInputError("vcpus", f"must be a count from 1 to {MAX_VCPUS}, got {show(count)}")
    for index, h in plan.vp_contexts.values():  # QEMU loads every VP context, whatever -smp says
        check_vmsa_for_qemu(igvm, index, h)
    _check_vp_bounds(plan, count)
    for vp in range(count):
        found = plan.vp_contexts.get(vp)
        if found is None:
            raise ConfigError(
                "vcpus",
                f"{count} vCPUs, but {igvm.name} has VP contexts for vp_index "
                f"{', '.join(map(str, sorted(plan.vp_contexts)))} only: the VMSA KVM measures for an AP without "
                "one (QEMU's reset state) is not established, so it is not guessed",
            )
    bsp = bytes(igvm.data_of(plan.vp_contexts[0][1]) or b"")
    features = bsp[OFF_SEV_FEATURES : OFF_SEV_FEATURES + 8]  # the VM's, taken once from vCPU 0
    pages = [_kvm_vmsa(plan, vp, features) for vp in range(count)]
    plan.vmsas = pages
    plan.vcpus = count
    first = 0
    while first < count:  # identical consecutive VMSAs in one command
        last = first
        while last + 1 < count and pages[last + 1] == pages[first]:
            last += 1
        plan.commands.append(
            Command("vmsa", "vmsa vCPU {}", PageType.VMSA, VMSA_GPA, PAGE, pages[first], last - first + 1, first)
        )
        first = last + 1


def _check_vp_bounds(plan: IgvmPlan, count: int) -> None:
    """QEMU loads every VP context into the vCPU of its index: one past the vCPUs fails the launch."""
    beyond = max(plan.vp_contexts)
    if beyond >= count:
        raise ConfigError(
            "vcpus",
            f"{count} vCPU{'s' if count != 1 else ''}, but {plan.igvm.name} has a VP context for vp_index {beyond}: "
            f"QEMU refuses the file ('SEV: unable to set CPU context for out of bounds CPU index {beyond}')",
        )


def _kvm_vmsa(plan: IgvmPlan, vp: int, features: bytes) -> bytes:
    """The VMSA KVM measures for vCPU ``vp``: QEMU loads the save area of its VP context (the
    first 0x670 bytes; KVM's page is zero beyond), and KVM writes the VM's SEV features into
    every vCPU's VMSA: QEMU takes them from vCPU 0's context for KVM_SEV_INIT2 (vmsa_features),
    and KVM's sev_es_sync_vmsa sets ``save->sev_features`` from them."""
    igvm = plan.igvm
    index, h = plan.vp_contexts[vp]
    data = bytes(igvm.data_of(h) or b"")
    page = bytearray(PAGE)
    page[:QEMU_VMSA_BYTES] = data[:QEMU_VMSA_BYTES]
    if any(data[QEMU_VMSA_BYTES:]):
        plan.warnings.append(
            f"header {index}: VMSA bytes past {QEMU_VMSA_BYTES:#x} are set; QEMU loads only the save area "
            "(struct sev_es_save_area) and KVM measures zeros there"
        )
    if data[OFF_SEV_FEATURES : OFF_SEV_FEATURES + 8] != features:
        page[OFF_SEV_FEATURES : OFF_SEV_FEATURES + 8] = features
        (own,) = struct.unpack_from("<Q", data, OFF_SEV_FEATURES)
        (vm,) = struct.unpack_from("<Q", features)
        plan.warnings.append(
            f"header {index}: vp_index {vp}'s SEV_FEATURES {own:#x} is not measured: KVM gives every vCPU the "
            f"features QEMU took from vCPU 0 ({vm:#x})"
        )
    return bytes(page)


# ---- measuring ----------------------------------------------------------------------------------

IgvmSource = Union[str, "os.PathLike[str]", IgvmFile, bytes, bytearray, memoryview, "mmap.mmap"]


def open_igvm(igvm: IgvmSource, field_name: str = "igvm") -> IgvmFile:
    """An :class:`IgvmFile` from a path (mapped, no copy), an IgvmFile, or the file's bytes."""
    import mmap
    import os

    if isinstance(igvm, IgvmFile):
        return igvm
    if isinstance(igvm, (bytes, bytearray, memoryview, mmap.mmap)):
        return IgvmFile.from_bytes(igvm, name=field_name)
    if isinstance(igvm, (str, os.PathLike)):
        return IgvmFile.load(igvm, field_name=field_name)
    raise InvalidInputError(field_name, f"must be a path, an IgvmFile or the file's bytes, got {type(igvm).__name__}")


def measure_igvm(
    igvm: IgvmSource,
    *,
    profile: Union[str, IgvmProfile, None] = None,
    native_zero: bool = False,
    vcpus: Optional[int] = None,
    trace: bool = False,
    threads: Optional[int] = None,
    describe_inputs: bool = False,
    firmware: Optional[Firmware] = None,
) -> Measurement:
    """The SNP launch digest of an IGVM file under a model (``igvmmeasure``, ``igvm-crate``,
    ``qemu``); ``snpmeasure.measure(mode="snp:igvm", igvm=...)`` calls this. The result's
    ``id_block_check`` says whether the file's ID block would pass LAUNCH_FINISH; ``igvm`` holds
    the model, the policy and the platform. ``firmware``: run the pages through this guest
    context (after its LAUNCH_START with the file's policy) instead of a fresh one."""
    f = open_igvm(igvm)
    plan = plan_igvm(f, profile, native_zero=native_zero, vcpus=vcpus, per_directive=trace)
    return measure_plan(plan, trace=trace, threads=threads, describe_inputs=describe_inputs, firmware=firmware)


def measure_plan(
    plan: IgvmPlan,
    *,
    trace: bool = False,
    threads: Optional[int] = None,
    describe_inputs: bool = False,
    firmware: Optional[Firmware] = None,
) -> Measurement:
    """:func:`measure_igvm` for a plan already made (by :func:`plan_igvm`), so a caller that needs
    the plan too (signing, the launch dry run) plans once."""
    from .firmware import GuestState, HostModel

    f = plan.igvm
    if firmware is not None:
        require_type("firmware", firmware, Firmware, "a guest context")
    fw = firmware or Firmware(trace=trace, threads=threads, host=HostModel(kvm_checks=False))
    if fw.state is GuestState.NONE:
        fw.launch_start(plan.policy if plan.policy is not None else DEFAULT_POLICY)

    run_snp(fw, plan.commands)
    digest = fw.ld
    inputs = describe_igvm_input(f) if describe_inputs else {}
    return _measurement(plan, digest, plan.vcpus, plan.vmsas, inputs, check_id_block(plan, digest), fw.trace)


def describe_igvm_input(f: IgvmFile) -> Dict[str, Dict[str, Any]]:
    """A measurement's ``inputs`` for the file (``describe_inputs``)."""
    import hashlib

    return {"igvm": {"path": f.name, "sha256": hashlib.sha256(f.data).hexdigest(), "size": len(f.data)}}


def _measurement(
    plan: IgvmPlan,
    digest: bytes,
    vcpus: Optional[int],
    vmsas: List[bytes],
    inputs: Dict[str, Dict[str, Any]],
    check: Optional[IdBlockCheck],
    trace: Optional[List[TraceEntry]] = None,
) -> Measurement:
    from .measurement import Measurement

    m = Measurement(digest, "snp:igvm", plan.profile.name, vcpus, None, None, inputs, trace, plan.warnings, vmsas)
    m.id_block_check = check
    m.igvm = {
        "model": plan.profile.to_json(),
        "native_zero": plan.native_zero,
        "policy": None if plan.policy is None else f"{plan.policy:#x}",
        "platform": plan.platform.to_json(),
        "vp_contexts": len(plan.vp_contexts),
    }
    return m


def sweep_igvm(
    igvm: IgvmSource,
    counts: Union[str, int, Sequence[int]],
    *,
    profile: Union[str, IgvmProfile, None] = "qemu",
    native_zero: bool = False,
    threads: Optional[int] = None,
) -> Dict[int, bytes]:
    """The qemu model's digest for each vCPU count (``"1-64"``, a list, as
    :func:`snpmeasure.sweep` takes them; sorted, each once), the pages measured once (KVM
    measures the VMSAs last, one per vCPU, so each count's digest extends the same prefix)."""
    return _sweep(igvm, counts, profile, native_zero, threads)[2]


def sweep_igvm_measurements(
    igvm: IgvmSource,
    counts: Union[str, int, Sequence[int]],
    *,
    profile: Union[str, IgvmProfile, None] = "qemu",
    native_zero: bool = False,
    threads: Optional[int] = None,
    describe_inputs: bool = False,
) -> List[Measurement]:
    """:func:`sweep_igvm` as one :class:`~snpmeasure.Measurement` per count, in count order,
    each as :func:`measure_igvm` describes that count but for its VMSAs (``vmsas`` empty, as
    ``measure --vcpus 1-N`` leaves them): its own ID block check (the
    block binds one digest, so ``ld_matches`` holds for at most one count; the signatures are
    checked once)."""
    f, plan, digests = _sweep(igvm, counts, profile, native_zero, threads)
    check = check_id_block(plan, next(iter(digests.values())))
    inputs = (
        describe_igvm_input(f)["igvm"] if describe_inputs else None
    )  # the file hashed once, each record its own copy
    out = []
    for n, digest in digests.items():
        own = None if check is None else check._replace(ld_matches=check.ld == digest)
        out.append(_measurement(plan, digest, n, [], {} if inputs is None else {"igvm": dict(inputs)}, own))
    return out


def _sweep(
    igvm: IgvmSource,
    counts: Union[str, int, Sequence[int]],
    profile: Union[str, IgvmProfile, None],
    native_zero: bool,
    threads: Optional[int],
) -> Tuple[IgvmFile, IgvmPlan, Dict[int, bytes]]:
    """The file, its plan for the largest count, and ``{count: digest}`` in count order."""
    from .firmware import HostModel
    from .measurement import parse_vcpu_counts

    wanted = parse_vcpu_counts(counts)
    f = open_igvm(igvm)
    plan = plan_igvm(f, profile, native_zero=native_zero, vcpus=wanted[-1])
    if plan.profile.vmsas != "kvm":
        raise ConfigError("vcpus", f"the {plan.profile.name} model measures the file's VMSAs; sweep the qemu model")
    _check_vp_bounds(plan, wanted[0])
    fw = Firmware(threads=threads, host=HostModel(kvm_checks=False))
    fw.launch_start(plan.policy if plan.policy is not None else DEFAULT_POLICY)
    run_snp(fw, [c for c in plan.commands if c.op != "vmsa"])
    digests: Dict[int, bytes] = {}
    want = set(wanted)
    for vp, page in enumerate(plan.vmsas, 1):
        fw.launch_update_vmsa(page, first=vp - 1)
        if vp in want:
            digests[vp] = fw.ld
    return f, plan, digests


# ---- the ID block -------------------------------------------------------------------------------


def id_block_structs(
    igvm: IgvmFile, header: SnpIdBlock, policy: int, index: Optional[int] = None
) -> Tuple[IdBlock, IdAuth]:
    """The ID block and ID authentication structure QEMU hands SNP_LAUNCH_FINISH for an
    SNP_ID_BLOCK directive (:func:`qemu_finish_blobs`), parsed as the firmware reads them (the
    author fields only with QEMU's AUTHOR_KEY_EN); what the firmware would refuse is an IgvmError
    naming the directive's field."""
    from .errors import BlobError

    block, raw = qemu_finish_blobs(header, policy)
    enabled = qemu_author_key_enabled(header)
    where = _where(igvm, igvm.headers.index(header) if index is None else index)
    if enabled and header.author_key_algorithm != 1:  # said by the directive's own field
        raise IgvmError(
            where,
            f"author_key_algorithm is {header.author_key_algorithm}, expected 1 with an author key "
            "(QEMU enables the author key by the key, whatever author_key_enabled says)",
        )
    try:
        return block, IdAuth.as_firmware_reads(raw, author_key_enabled=enabled)
    except BlobError as exc:
        raise IgvmError(where, f"{_ID_AUTH_FIELDS.get(exc.field, exc.field)}: {exc.rule}") from None


#: The ID authentication structure's fields, by the SNP_ID_BLOCK directive fields QEMU copies them from.
_ID_AUTH_FIELDS = {
    "id-auth.ID_KEY_ALGO": "id_key_algorithm",
    "id-auth.AUTH_KEY_ALGO": "author_key_algorithm",
    "id-auth.ID_BLOCK_SIG": "id_key_signature",
    "id-auth.ID_KEY": "id_public_key",
    "id-auth.ID_KEY_SIG": "author_key_signature",
    "id-auth.AUTHOR_KEY": "author_public_key",
}


def qemu_finish_blobs(header: SnpIdBlock, policy: int) -> Tuple[IdBlock, bytes]:
    """The ID block and the 4096-byte ID authentication structure QEMU hands SNP_LAUNCH_FINISH for
    an SNP_ID_BLOCK directive, byte for byte and unchecked (backends/igvm.c copies the fields; the
    firmware is the first to read them, so a malformed key or algorithm fails LAUNCH_FINISH, not the
    load): the block's version 1, its policy ``policy`` (the file's last matching GUEST_POLICY, 0
    without one); the key algorithms the directive's; signatures (``r ‖ s``) at the start of AMD's
    0x200-byte fields; keys as ``curve ‖ qx ‖ qy``, the IGVM key's reserved word left out
    (docs/reference/igvm.md §3; the layout: docs/reference/firmware-abi.md §4.3)."""
    block = IdBlock(header.ld, header.family_id, header.image_id, 1, header.guest_svn, policy)
    auth = bytearray(ID_AUTH_SIZE)
    struct.pack_into(
        "<II", auth, ID_AUTH_LAYOUT["ID_KEY_ALGO"][0], header.id_key_algorithm, header.author_key_algorithm
    )
    for field, signature in (("ID_BLOCK_SIG", header.id_key_signature), ("ID_KEY_SIG", header.author_key_signature)):
        at = ID_AUTH_LAYOUT[field][0]
        auth[at : at + 144] = signature
    for field, key in (("ID_KEY", header.id_public_key), ("AUTHOR_KEY", header.author_public_key)):
        at = ID_AUTH_LAYOUT[field][0]
        auth[at : at + 4] = key[:4]  # curve
        auth[at + 4 : at + 148] = key[8:152]  # qx, qy
    return block, bytes(auth)


def qemu_author_key_enabled(header: SnpIdBlock) -> bool:
    """AUTHOR_KEY_EN as QEMU hands it to LAUNCH_FINISH for an SNP_ID_BLOCK: QEMU copies the author
    key whatever ``author_key_enabled`` says, and enables it when the key's first byte (of its curve)
    is not zero (target/i386/sev.c ``cgs_set_guest_policy``: ``auth_key_en = author_key[0] ? 1 : 0``)."""
    return header.author_public_key[0] != 0


class IdBlockCheck(NamedTuple):
    """What LAUNCH_FINISH would say of an IGVM file's ID block, checked before launch."""

    #: the digest the ID block binds
    ld: bytes
    #: it equals the computed launch digest (igvmmeasure's only check)
    ld_matches: bool
    #: AUTHOR_KEY_EN as QEMU sets it, from the author key (its first byte), not the header's flag
    author_key_enabled: bool
    #: the firmware structures as QEMU builds them (None when they cannot be: see ``unchecked``)
    id_block: Optional[IdBlock]
    id_auth: Optional[IdAuth]
    #: the ID key's signature over the ID block verifies (None: not checked)
    id_block_signature_valid: Optional[bool]
    #: with an author key: the author key's signature over the ID key verifies (else None)
    id_key_signature_valid: Optional[bool]
    #: why the signatures could not be checked (no GUEST_POLICY, a key that is no P-384 point, ...)
    unchecked: Optional[str] = None

    def failures(self, *, signatures: bool = True) -> List[str]:
        """Each check that fails, in LAUNCH_FINISH's order (BAD_MEASUREMENT, BAD_SIGNATURE);
        ``signatures=False``: the digest alone, as igvmmeasure checks."""
        out = []
        if not self.ld_matches:
            out.append(f"ID block LD {self.ld.hex()} is not the launch digest (BAD_MEASUREMENT)")
        if not signatures:
            return out
        if self.unchecked is not None:
            out.append(f"the ID block's signatures cannot be checked: {self.unchecked}")
        if self.id_block_signature_valid is False:
            out.append("the ID block's signature does not verify with the ID key (BAD_SIGNATURE)")
        if self.id_key_signature_valid is False:
            out.append("the ID key's signature does not verify with the author key (BAD_SIGNATURE)")
        return out

    def to_json(self) -> Dict[str, Any]:
        """The check as JSON, with the ID and author key digests the report will carry."""
        auth = self.id_auth
        return {
            "ld": self.ld.hex(),
            "ld_matches": self.ld_matches,
            "author_key_enabled": self.author_key_enabled,
            "id_block": None if self.id_block is None else self.id_block.to_json(),
            "id_block_base64": None if self.id_block is None else self.id_block.base64(),
            "id_auth_base64": None if auth is None else auth.base64(),
            "id_block_signature_valid": self.id_block_signature_valid,
            "id_key_signature_valid": self.id_key_signature_valid,
            "id_key_digest": None if auth is None else auth.id_key_digest.hex(),
            "author_key_digest": None
            if auth is None or auth.author_key_digest is None
            else auth.author_key_digest.hex(),
            "unchecked": self.unchecked,
            "failures": self.failures(),
        }


def check_id_block(plan: IgvmPlan, digest: bytes) -> Optional[IdBlockCheck]:
    """The file's ID block against the launch digest and its own signatures (None without one).
    The signatures are checked over the ID block QEMU would build (version 1, the file's policy)."""
    h = plan.id_block
    if h is None:
        return None
    enabled = qemu_author_key_enabled(h)
    if plan.policy is None:
        reason = "the file has no GUEST_POLICY for the ID block's policy field"
        return IdBlockCheck(h.ld, h.ld == digest, enabled, None, None, None, None, reason)
    try:
        block, auth = id_block_structs(plan.igvm, h, plan.policy, plan.id_block_index)
    except IgvmError as exc:
        return IdBlockCheck(h.ld, h.ld == digest, enabled, None, None, None, None, exc.rule)
    block_ok = auth.id_block_sig.verify(auth.id_key, block.to_bytes())
    key_ok = None
    if auth.author_key is not None and auth.id_key_sig is not None:
        key_ok = auth.id_key_sig.verify(auth.author_key, auth.id_key.to_bytes())
    return IdBlockCheck(h.ld, h.ld == digest, enabled, block, auth, block_ok, key_ok)


# ---- summary ------------------------------------------------------------------------------------


def summarize_igvm(igvm: IgvmSource) -> Dict[str, Any]:
    """What ``snpmeasure igvm show`` prints: the file's platforms and policies, its directives
    counted per type with their GPA range, its VP contexts and its ID block, as JSON."""
    from .policy import GuestPolicy as Policy

    f = open_igvm(igvm)
    headers = list(f.headers)  # the page objects made once
    directives: Dict[str, Dict[str, Any]] = {}
    for h in headers[len(f.platforms) :]:
        if h.header_type < 0x301:
            continue
        row = directives.setdefault(h.type_name, {"count": 0, "gpa_first": None, "gpa_end": None})
        row["count"] += 1
        gpa = getattr(h, "gpa", None)
        if gpa is not None:
            size = getattr(h, "size", PAGE) if isinstance(h, PageData) else PAGE
            if row["gpa_first"] is None or gpa < int(row["gpa_first"], 16):
                row["gpa_first"] = f"{gpa:#x}"
            if row["gpa_end"] is None or gpa + size > int(row["gpa_end"], 16):
                row["gpa_end"] = f"{gpa + size:#x}"
    policies = []
    for h in headers:
        if isinstance(h, GuestPolicy):
            try:
                fields = Policy.from_int(h.policy).to_json()
            except InvalidInputError as exc:
                fields = {"invalid": exc.rule}
            policies.append({"policy": f"{h.policy:#x}", "compatibility_mask": h.compatibility_mask, "fields": fields})
    snp = f.platform(PLATFORM_SEV_SNP)
    id_block = None
    for index, h in enumerate(headers):
        if isinstance(h, SnpIdBlock):
            id_block = {"header": index, **h.to_json()}
            for key in ("id_key_signature", "id_public_key", "author_key_signature", "author_public_key", "reserved"):
                id_block.pop(key)
            if snp is not None and h.compatibility_mask & snp.compatibility_mask:
                pol = next(
                    (p for p in headers if isinstance(p, GuestPolicy) and p.compatibility_mask & h.compatibility_mask),
                    None,
                )
                if pol is not None:
                    try:
                        block, auth = id_block_structs(f, h, pol.policy, index)
                        id_block["id_key_digest"] = auth.id_key_digest.hex()
                        id_block["author_key_digest"] = (
                            None if auth.author_key_digest is None else auth.author_key_digest.hex()
                        )
                    except IgvmError as exc:
                        id_block["invalid"] = exc.rule
            break
    return {
        "file": f.name,
        "format_version": f.format_version,
        "size": len(f.data),
        "headers": len(f.headers),
        "platforms": [
            {**p.to_json(), "platform": PLATFORM_NAMES.get(p.platform_type, str(p.platform_type))} for p in f.platforms
        ],
        "policies": policies,
        "directives": directives,
        "vp_contexts": [
            {"header": i, "vp_index": h.vp_index, "gpa": f"{h.gpa:#x}", "compatibility_mask": h.compatibility_mask}
            for i, h in enumerate(headers)
            if isinstance(h, VpContext)
        ],
        "id_block": id_block,
    }


# ---- signing ------------------------------------------------------------------------------------


def sign_igvm(
    igvm: IgvmSource,
    id_key: KeySource,
    author_key: Optional[KeySource] = None,
    *,
    profile: Union[str, IgvmProfile, None] = None,
    native_zero: bool = False,
    vcpus: Optional[int] = None,
    family_id: Union[str, bytes, None] = None,
    image_id: Union[str, bytes, None] = None,
    guest_svn: int = 0,
    id_key_password: Optional[bytes] = None,
    author_key_password: Optional[bytes] = None,
) -> bytes:
    """A new IGVM file: ``igvm`` with an SNP_ID_BLOCK directive for its launch digest under a model
    (the policy its GUEST_POLICY's, version 1), signed by ``id_key`` (and ``author_key``): key files,
    PEM/DER bytes, ``cryptography`` keys or an :class:`~snpmeasure.blobs.ExternalSigner`. An ID
    block the file already has for its SEV-SNP platform is replaced; the new one is the last
    directive, as igvmmeasure's ``sign`` appends it. The result is written by this module's writer
    (format version 1, CRC32 set)."""
    from .blobs import sign_id_block

    f = open_igvm(igvm)
    plan = plan_igvm(f, profile, native_zero=native_zero, vcpus=vcpus)
    if plan.policy is None:
        raise IgvmError(f.name, "has no GUEST_POLICY for its SEV-SNP platform: the ID block must bind a policy")
    m = measure_plan(plan)
    block, auth = sign_id_block(
        m.digest,
        id_key,
        author_key,
        family_id=family_id,
        image_id=image_id,
        guest_svn=guest_svn,
        policy=plan.policy,
        id_key_password=id_key_password,
        author_key_password=author_key_password,
    )
    mask = plan.platform.compatibility_mask
    builder = IgvmBuilder()
    for h in f.headers:
        if isinstance(h, SnpIdBlock) and h.compatibility_mask & mask:
            continue
        builder.add(h, f.data_of(h))
    builder.add(id_block_header(block, auth, mask))
    return builder.to_bytes()


def id_block_header(block: IdBlock, auth: IdAuth, compatibility_mask: int) -> SnpIdBlock:
    """The SNP_ID_BLOCK directive that carries a firmware ID block and ID auth (the reverse of
    :func:`id_block_structs`; the ID block's policy lives in GUEST_POLICY, not here)."""

    def sig(value: Optional[AmdSignature]) -> bytes:
        return bytes(144) if value is None else value.to_bytes()[:144]

    def key(value: Optional[AmdPublicKey]) -> bytes:
        if value is None:
            return bytes(152)
        raw = value.to_bytes()  # curve u32 ‖ qx[72] ‖ qy[72] ‖ reserved: IGVM adds a reserved u32
        return raw[:4] + bytes(4) + raw[4:148]

    enabled = auth.author_key is not None
    return SnpIdBlock(
        compatibility_mask,
        int(enabled),
        bytes(3),
        block.ld,
        block.family_id,
        block.image_id,
        block.version,
        block.guest_svn,
        1,
        1,  # ECDSA P-384, with or without an author key, as igvmmeasure's sign writes it
        sig(auth.id_block_sig),
        key(auth.id_key),
        sig(auth.id_key_sig),
        key(auth.author_key),
    )


# ---- lint ---------------------------------------------------------------------------------------


class Finding(NamedTuple):
    """One lint finding: a named rule, where, and why it matters."""

    rule: str
    where: str
    message: str

    def line(self) -> str:
        """One line for the CLI."""
        return f"{self.rule}: {self.where}: {self.message}"

    def to_json(self) -> Dict[str, str]:
        """The finding as JSON."""
        return self._asdict()


#: The lint rules: igvmmeasure's --check-kvm rules, then what they miss (docs/reference/igvm.md §2.1, §2.3).
LINT_RULES = {
    "one-vmsa": "igvmmeasure --check-kvm: more than one VMSA (KVM measures its own, one per vCPU)",
    "vmsa-gpa": "igvmmeasure --check-kvm: a VMSA not at 0xFFFFFFFFF000, where KVM places it",
    "vmsa-cr0": "igvmmeasure --check-kvm: a VMSA CR0 other than 0x30/0x31, which KVM overrides",
    "insert-after-vmsa": "igvmmeasure --check-kvm: a PARAMETER_INSERT after the VMSA",
    "page-after-vmsa": "a PAGE_DATA after the VMSA: igvmmeasure measures it before the VMSA, KVM after",
    "qemu-refuses-header": "a header QEMU's loader has no handler for: QEMU refuses the file",
    "older-qemu-refuses-header": "a header QEMU handles only after 10.x (MADT): QEMU 10.x refuses the file",
    "qemu-refuses-vmsa": "a VMSA QEMU's check_vmsa_supported refuses",
    "vmsa-efer-cr4": "a VMSA without EFER.SVME or CR4.MCE, which KVM sets in every VMSA it measures",
    "overlapping-gpa": "two directives import the same guest page",
    "huge-page-with-data": "a 2 MiB page with data: igvmmeasure asserts, the crate and QEMU disagree",
    "insert-reordered": "a PARAMETER_INSERT after a page run: QEMU measures it before that run",
    "large-parameter-area": "a parameter area over 4 KiB inserted: igvmmeasure measures one page, QEMU all",
    "shared-page": "a SHARED page: igvmmeasure and QEMU measure it, the igvm crate skips it",
}


def lint_igvm(igvm: IgvmSource, *, check_kvm_only: bool = False) -> List[Finding]:
    """Findings for an IGVM file's SEV-SNP platform: igvmmeasure's --check-kvm rules (only those
    with ``check_kvm_only``) and the places where loaders disagree or QEMU refuses."""
    f = open_igvm(igvm)
    platform = snp_platform(f)
    mask = platform.compatibility_mask
    out: List[Finding] = []
    vmsa_seen: Optional[int] = None
    vmsas = 0
    areas: Dict[int, ParameterArea] = {}
    ranges: List[Tuple[int, int, int]] = []  # (gpa, end, header index)
    in_run = False
    for index, h in enumerate(f.headers):
        if not check_kvm_only and h.header_type not in QEMU_HANDLED:
            out.append(Finding("qemu-refuses-header", _where(f, index), f"QEMU has no handler for {h.type_name}"))
        elif not check_kvm_only and h.header_type in QEMU_HANDLED_LATER:
            out.append(
                Finding("older-qemu-refuses-header", _where(f, index), f"QEMU 10.x has no handler for {h.type_name}")
            )
        if isinstance(h, VpContext) and _is_vmsa(f, h):
            # igvmmeasure's check_vmsa runs on every VMSA it measures, the SEV-ES platform's too
            vmsas += 1
            if vmsas == 2:
                out.append(Finding("one-vmsa", _where(f, index), "a second VMSA: igvmmeasure --check-kvm allows one"))
            if h.gpa != VMSA_GPA:
                out.append(Finding("vmsa-gpa", _where(f, index), f"the VMSA is at {h.gpa:#x}, not {VMSA_GPA:#x}"))
            page = f.data_of(h)
            assert page is not None
            (cr0,) = struct.unpack_from("<Q", page, OFF_CR0)
            if cr0 not in (0x30, 0x31):
                out.append(
                    Finding("vmsa-cr0", _where(f, index), f"CR0 is {cr0:#x}; KVM overrides anything but 0x30/0x31")
                )
            vmsa_seen = index if vmsa_seen is None else vmsa_seen
        if not _applies(h, mask) or isinstance(h, GuestPolicy):
            continue
        if isinstance(h, ParameterArea):
            areas[h.parameter_area_index] = h
        elif isinstance(h, VpContext):
            if not check_kvm_only:  # the rules of the qemu model igvmmeasure's --check-kvm lacks
                out.extend(
                    Finding(rule, _where(f, index), text)
                    for rule, text in _vmsa_problems(f, h)
                    if rule in ("qemu-refuses-vmsa", "vmsa-efer-cr4")
                )
            ranges.append((h.gpa, h.gpa + PAGE, index))
        elif isinstance(h, ParameterInsert):
            if vmsa_seen is not None:
                out.append(Finding("insert-after-vmsa", _where(f, index), f"after the VMSA of header {vmsa_seen}"))
            size = areas[h.parameter_area_index].number_of_bytes
            if not check_kvm_only:
                if in_run:
                    out.append(
                        Finding("insert-reordered", _where(f, index), "QEMU queues it before the page run it follows")
                    )
                if size > PAGE:
                    out.append(Finding("large-parameter-area", _where(f, index), f"the area is {size:#x} bytes"))
            ranges.append((h.gpa, h.gpa + size, index))
        elif isinstance(h, PageData):
            if not check_kvm_only:
                if vmsa_seen is not None:
                    out.append(Finding("page-after-vmsa", _where(f, index), f"after the VMSA of header {vmsa_seen}"))
                if h.flags & FLAG_IS_2MB_PAGE and h.file_offset:
                    out.append(Finding("huge-page-with-data", _where(f, index), "4 KiB of data for a 2 MiB page"))
                if h.flags & FLAG_SHARED:
                    out.append(Finding("shared-page", _where(f, index), f"gpa {h.gpa:#x}"))
            ranges.append((h.gpa, h.gpa + h.size, index))
            in_run = True  # QEMU's run stays open until a later page breaks it (and opens the next)
    if not check_kvm_only:
        out.extend(
            Finding(
                "overlapping-gpa",
                _where(f, r[2]),
                f"gpa {r[0]:#x} is also imported by header {reach[2]} ({reach[0]:#x}-{reach[1] - 1:#x})",
            )
            for r, reach in _overlaps(ranges)
        )
    return out


__all__ = [
    "Finding",
    "LINT_RULES",
    "lint_igvm",
    "sign_igvm",
    "summarize_igvm",
    "id_block_header",
    "IgvmProfile",
    "IdBlockCheck",
    "check_id_block",
    "id_block_structs",
    "qemu_finish_blobs",
    "qemu_author_key_enabled",
    "IGVM_PROFILES",
    "DEFAULT_IGVM_PROFILE",
    "IgvmPlan",
    "get_igvm_profile",
    "measure_igvm",
    "measure_plan",
    "sweep_igvm",
    "open_igvm",
    "plan_igvm",
    "snp_platform",
    "check_vmsa_for_qemu",
    "refuse_file_held_inputs",
]
