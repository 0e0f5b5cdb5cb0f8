"""IGVM files for the tests: the fixtures, and small files built with snpmeasure's writer."""

from __future__ import annotations

import json
import struct
from typing import Any, List, Optional, Sequence, Tuple

from snpmeasure.igvm import (
    GuestPolicy,
    IgvmBuilder,
    IgvmHeader,
    PageData,
    ParameterArea,
    ParameterInsert,
    SupportedPlatform,
    VpContext,
)
from snpmeasure.pages import VMSA_GPA

from ..support import FIXTURES

IGVM = FIXTURES / "igvm"
TINY = {name: IGVM / f"{name}.igvm" for name in ("tiny_x86", "tiny_x64_noopt")}


def known_digest(name: str) -> str:
    """igvm-tooling's digest for a fixture (its meas.json)."""
    with open(IGVM / f"{name}.meas.json", encoding="utf-8") as f:
        value: str = json.load(f)["x-ms-sevsnpvm-launchmeasurement"]
    return value


SNP = 1  # the SEV-SNP platform's compatibility mask in the files built here
POLICY = 0x30000


def page(fill: int) -> bytes:
    """4 KiB of one byte."""
    return bytes([fill]) * 4096


def kvm_vmsa(rip: int = 0xFFF0, features: int = 1) -> bytes:
    """A VMSA QEMU loads and KVM measures as it is (EFER.SVME, CR4.MCE, CR0 0x31, SEV_FEATURES)."""
    v = bytearray(4096)
    struct.pack_into("<HHIQ", v, 0x10, 0xF000, 0x9B, 0xFFFF, 0xFFFF0000)  # CS
    struct.pack_into("<Q", v, 0x0D0, 1 << 12)  # EFER.SVME
    struct.pack_into("<Q", v, 0x148, 1 << 6)  # CR4.MCE
    struct.pack_into("<Q", v, 0x158, 0x31)  # CR0
    struct.pack_into("<Q", v, 0x170, 2)  # RFLAGS
    struct.pack_into("<Q", v, 0x178, rip)  # RIP
    struct.pack_into("<Q", v, 0x3B0, features)  # SEV_FEATURES
    return bytes(v)


def build(
    directives: Sequence[Tuple[IgvmHeader, Optional[bytes]]],
    *,
    policy: Optional[int] = POLICY,
    platforms: Sequence[SupportedPlatform] = (SupportedPlatform(SNP, 0, 2, 1, 0),),
    extra_init: Sequence[IgvmHeader] = (),
) -> bytes:
    """A file: the platforms, a GUEST_POLICY, then the directives (each with its data)."""
    b = IgvmBuilder()
    for p in platforms:
        b.add(p)
    if policy is not None:
        b.add(GuestPolicy(policy, SNP))
    for h in extra_init:
        b.add(h)
    for h, data in directives:
        b.add(h, data)
    return b.to_bytes()


def vp(vp_index: int = 0, gpa: int = VMSA_GPA, vmsa: Optional[bytes] = None) -> Tuple[IgvmHeader, bytes]:
    """A VP context with its VMSA."""
    return VpContext(gpa, SNP, 0, vp_index), vmsa if vmsa is not None else kvm_vmsa()


def pd(gpa: int, data: Optional[bytes] = None, **kw: Any) -> Tuple[IgvmHeader, Optional[bytes]]:
    """A PAGE_DATA directive for the SNP platform."""
    return PageData(gpa, kw.pop("mask", SNP), 0, **kw), data


def area(index: int, size: int) -> Tuple[IgvmHeader, None]:
    return ParameterArea(size, index, 0), None


def insert(gpa: int, index: int) -> Tuple[IgvmHeader, None]:
    return ParameterInsert(gpa, SNP, index), None


Expected = List[Tuple[str, int, Optional[bytes]]]  # (page type name, gpa, 4 KiB contents or None)
