"""vCPU models and CPUID signatures.

QEMU puts the vCPU's CPUID(1).EAX signature into RDX of every VMSA (docs/reference/firmware-abi.md §7.1: from the -cpu model, not the host),
so the measurement depends on the ``-cpu`` model. The signature encodes family, model and stepping
as in AMD's CPUID specification (pub. 25481, CPUID Fn0000_0001_EAX).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from .errors import InvalidInputError, show

#: KVM's KVM_MAX_VCPUS on x86 is 4096: the most vCPUs (and so VMSAs) a launch can have.
MAX_VCPUS = 4096
MAX_FAMILY = 0xF + 0xFF  # base family 0xF plus an 8-bit extended family


def cpu_sig(family: int, model: int, stepping: int) -> int:
    """The 32-bit CPUID(1).EAX signature of a family/model/stepping (zero allowed)."""
    for name, value, top in (
        ("vcpu_family", family, MAX_FAMILY),
        ("vcpu_model", model, 0xFF),
        ("vcpu_stepping", stepping, 0xF),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise InvalidInputError(name, f"must be an int from 0 to {top}, got {show(value)}")
    if family > 0xF:
        family_low, family_ext = 0xF, family - 0xF
    else:
        family_low, family_ext = family, 0
    return (family_ext << 20) | ((model >> 4) << 16) | (family_low << 8) | ((model & 0xF) << 4) | stepping


def split_sig(sig: int) -> Tuple[int, int, int]:
    """(family, model, stepping) of a CPUID signature."""
    base_family = (sig >> 8) & 0xF
    family = base_family + ((sig >> 20) & 0xFF) if base_family == 0xF else base_family
    model = ((sig >> 16) & 0xF) << 4 | ((sig >> 4) & 0xF)
    return family, model, sig & 0xF


_EPYC = (23, 1, 2)
_ROME = (23, 49, 0)
_MILAN = (25, 1, 1)
_GENOA = (25, 17, 0)
_TURIN = (26, 0, 0)

#: QEMU's AMD EPYC CPU models and its default qemu64 (target/i386/cpu.c builtin_x86_defs and their versions). Versions of
#: a model change features, never family/model/stepping, so they share a signature.
CPU_MODELS: Dict[str, Tuple[int, int, int]] = {
    "EPYC": _EPYC,
    "EPYC-v1": _EPYC,
    "EPYC-v2": _EPYC,
    "EPYC-IBPB": _EPYC,
    "EPYC-v3": _EPYC,
    "EPYC-v4": _EPYC,
    "EPYC-v5": _EPYC,
    "EPYC-Rome": _ROME,
    "EPYC-Rome-v1": _ROME,
    "EPYC-Rome-v2": _ROME,
    "EPYC-Rome-v3": _ROME,
    "EPYC-Rome-v4": _ROME,
    "EPYC-Rome-v5": _ROME,
    "EPYC-Milan": _MILAN,
    "EPYC-Milan-v1": _MILAN,
    "EPYC-Milan-v2": _MILAN,
    "EPYC-Milan-v3": _MILAN,
    "EPYC-Genoa": _GENOA,
    "EPYC-Genoa-v1": _GENOA,
    "EPYC-Genoa-v2": _GENOA,
    "EPYC-Turin": _TURIN,
    "EPYC-Turin-v1": _TURIN,
    # QEMU's default x86-64 model, which libvirt writes when a domain names no CPU (AMD vendor,
    # family 6, model 6, stepping 3 in builtin_x86_defs since QEMU 2.x)
    "qemu64": (6, 6, 3),
}

CPU_SIGS: Dict[str, int] = {name: cpu_sig(*fms) for name, fms in CPU_MODELS.items()}


def resolve_vcpu_sig(
    vcpu_type: Optional[str] = None,
    vcpu_sig: Optional[int] = None,
    vcpu_family: Optional[int] = None,
    vcpu_model: Optional[int] = None,
    vcpu_stepping: Optional[int] = None,
) -> Optional[int]:
    """The signature from whichever input was given: family/model/stepping, a signature, or a
    QEMU CPU model. Several may be given only when they name the same signature (sev-snp-measure
    silently took the first of that order; a contradiction is refused, naming both). Returns None
    when nothing was given.
    """
    given = []  # (argument names, signature), in sev-snp-measure's order of precedence
    fms = (vcpu_family, vcpu_model, vcpu_stepping)
    if any(v is not None for v in fms):
        names = ("vcpu_family", "vcpu_model", "vcpu_stepping")
        missing = [n for n, v in zip(names, fms) if v is None]
        if missing:
            have = [n for n, v in zip(names, fms) if v is not None]
            raise InvalidInputError(
                missing[0],
                f"is missing: {' and '.join(have)} name{'s' if len(have) == 1 else ''} a signature only with "
                "all three of vcpu_family, vcpu_model and vcpu_stepping",
            )
        given.append(("vcpu_family/vcpu_model/vcpu_stepping", cpu_sig(*fms)))  # type: ignore[arg-type]
    if vcpu_sig is not None:
        if isinstance(vcpu_sig, bool) or not isinstance(vcpu_sig, int) or not 0 <= vcpu_sig <= 0xFFFFFFFF:
            raise InvalidInputError("vcpu_sig", f"must be a 32-bit unsigned int, got {show(vcpu_sig)}")
        given.append(("vcpu_sig", vcpu_sig))
    if vcpu_type is not None:
        if not isinstance(vcpu_type, str) or vcpu_type not in CPU_SIGS:
            raise InvalidInputError("vcpu_type", f"unknown CPU model {show(vcpu_type)}; known: {', '.join(CPU_SIGS)}")
        given.append(("vcpu_type", CPU_SIGS[vcpu_type]))
    if not given:
        return None
    for name, sig in given[1:]:
        if sig != given[0][1]:
            what = f"{vcpu_type} (signature {sig:#x})" if name == "vcpu_type" else f"{sig:#x}"
            raise InvalidInputError(
                name,
                f"is {what}, but {given[0][0]} gives signature {given[0][1]:#x}: "
                "the VMSAs carry one signature, give one of them (or agreeing values)",
            )
    return given[0][1]
