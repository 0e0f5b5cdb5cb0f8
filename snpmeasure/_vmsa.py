"""The VMSA page (SEV-ES save area) a VMM hands to the firmware for each vCPU.

Byte offsets are the AMD APM vol. 2 Table B-4 / Linux ``struct sev_es_save_area`` offsets listed in
docs/reference/firmware-abi.md §7.1; the page is 4096 bytes, zero except for the fields set here.
"""

from __future__ import annotations

import struct
from typing import Iterator, Optional

from .errors import ConfigError
from .profiles import LaunchProfile, VmsaTemplate

VMSA_SIZE = 4096
BSP_EIP = 0xFFFFFFF0

# Segment registers: vmcb_seg {u16 selector; u16 attrib; u32 limit; u64 base} (16 bytes each).
SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS = 0x000, 0x010, 0x020, 0x030, 0x040, 0x050
SEG_GDTR, SEG_LDTR, SEG_IDTR, SEG_TR = 0x060, 0x070, 0x080, 0x090
OFF_EFER = 0x0D0
OFF_CR4 = 0x148
OFF_CR0 = 0x158
OFF_DR7 = 0x160
OFF_DR6 = 0x168
OFF_RFLAGS = 0x170
OFF_RIP = 0x178
OFF_G_PAT = 0x268
OFF_RDX = 0x310
OFF_SEV_FEATURES = 0x3B0
OFF_XCR0 = 0x3E8
OFF_MXCSR = 0x408  # u32
OFF_X87_FCW = 0x410  # u16

_SEG = struct.Struct("<HHIQ")
_U64 = struct.Struct("<Q")


def _seg(page: bytearray, off: int, selector: int, attrib: int, limit: int, base: int) -> None:
    _SEG.pack_into(page, off, selector, attrib, limit, base)


def _u64(page: bytearray, off: int, value: int) -> None:
    _U64.pack_into(page, off, value)


def build_vmsa(template: VmsaTemplate, eip: int, sev_features: int, vcpu_sig: Optional[int], *, bsp: bool) -> bytes:
    """One VMSA page for a vCPU starting at ``eip``.

    ``kind="reset"``: CS.base = eip & 0xffff0000, RIP = eip & 0xffff (real-mode reset state, QEMU
    ``sev_es_set_reset_vector``). ``kind="svsm"``: 64-bit flat segments, RIP = eip.
    """
    if template.rdx == "vcpu_sig":
        if vcpu_sig is None:
            raise ConfigError(
                "vcpu_type", "a vCPU type, signature or family/model/stepping is required: QEMU puts it in RDX"
            )
        rdx = vcpu_sig
    else:
        rdx = int(template.rdx)
    page = bytearray(VMSA_SIZE)
    if template.kind == "svsm":
        # Coconut SVSM entry state (coconut-svsm/qemu): 64-bit code, flat data segments.
        _seg(page, SEG_ES, 16, 0xC93, 0xFFFFFFFF, 0)
        _seg(page, SEG_CS, 8, 0xC9B, 0xFFFFFFFF, 0)
        _seg(page, SEG_SS, 16, 0xC93, 0xFFFFFFFF, 0)
        _seg(page, SEG_DS, 16, 0xC93, 0xFFFFFFFF, 0)
        _seg(page, SEG_FS, 16, 0xC93, 0xFFFFFFFF, 0)
        _seg(page, SEG_GS, 0, 0x093, 0xFFFF, 0)
        rip = eip
    else:
        cs_attrib = template.cs_attrib_bsp if bsp else template.cs_attrib_ap
        _seg(page, SEG_ES, 0, 0x93, 0xFFFF, 0)
        _seg(page, SEG_CS, 0xF000, cs_attrib, 0xFFFF, eip & 0xFFFF0000)
        _seg(page, SEG_SS, 0, template.ss_attrib, 0xFFFF, 0)
        _seg(page, SEG_DS, 0, 0x93, 0xFFFF, 0)
        _seg(page, SEG_FS, 0, 0x93, 0xFFFF, 0)
        _seg(page, SEG_GS, 0, 0x93, 0xFFFF, 0)
        rip = eip & 0xFFFF
    _seg(page, SEG_GDTR, 0, 0, 0xFFFF, 0)
    _seg(page, SEG_LDTR, 0, 0x82, 0xFFFF, 0)
    _seg(page, SEG_IDTR, 0, 0, 0xFFFF, 0)
    _seg(page, SEG_TR, 0, 0x8B if template.kind == "svsm" else template.tr_attrib, 0xFFFF, 0)
    _u64(page, OFF_EFER, template.efer)  # KVM sets EFER.SVME
    _u64(page, OFF_CR4, template.cr4)  # KVM sets CR4.MCE
    _u64(page, OFF_CR0, template.cr0)
    _u64(page, OFF_DR7, 0x400)
    _u64(page, OFF_DR6, 0xFFFF0FF0)
    _u64(page, OFF_RFLAGS, 0x2)
    _u64(page, OFF_RIP, rip)
    _u64(page, OFF_G_PAT, template.g_pat)  # PAT MSR reset value, AMD APM vol. 2 §A.3
    _u64(page, OFF_RDX, rdx)
    _u64(page, OFF_SEV_FEATURES, sev_features)
    _u64(page, OFF_XCR0, template.xcr0)
    struct.pack_into("<I", page, OFF_MXCSR, template.mxcsr)
    struct.pack_into("<H", page, OFF_X87_FCW, template.x87_fcw)
    return bytes(page)


def vmsa_pages(
    profile: LaunchProfile, vcpus: int, ap_eip: Optional[int], sev_features: int, vcpu_sig: Optional[int]
) -> Iterator[bytes]:
    """The VMSA pages for ``vcpus`` vCPUs: the BSP's, then identical AP pages.

    For ``kind="svsm"`` all vCPUs start at ``ap_eip`` (the SVSM entry point).
    """
    template = profile.vmsa
    if vcpus < 1:
        return
    if template.kind == "svsm":
        if ap_eip is None:
            raise ConfigError("svsm", "the SVSM entry point is unknown")
        page = build_vmsa(template, ap_eip, sev_features, vcpu_sig, bsp=True)
        for _ in range(vcpus):
            yield page
        return
    yield build_vmsa(template, BSP_EIP, sev_features, vcpu_sig, bsp=True)
    if vcpus > 1:
        if ap_eip is None:
            raise ConfigError(
                "firmware",
                "has no SEV-ES reset block (GUID 00f771de-…), so APs have no start address; use --vcpus 1 or another firmware",
            )
        ap = build_vmsa(template, ap_eip, sev_features, vcpu_sig, bsp=False)
        for _ in range(vcpus - 1):
            yield ap
