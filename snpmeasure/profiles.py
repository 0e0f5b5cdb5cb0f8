"""Launch profiles: every VMM and host choice that enters an SNP launch measurement.

No peer tool says which VMM and host behaviour its digest assumes, so each host or VMM change
(KVM_SEV_INIT2, DebugSwap, EC2's RDX) silently changed their outputs between releases. Here a
:class:`LaunchProfile` names all of them; the built-in profiles cite their sources
(docs/reference/firmware-abi.md §3.7, §7; docs/reference/peers.md §3).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, NamedTuple, Type, Union

from .errors import InvalidInputError, ProfileError, show
from .pages import VMSA_GPA, PageType

VMM_TYPES = ("qemu", "ec2", "gce")
#: The IGVM models' names (snpmeasure.igvm_launch.IGVM_PROFILES holds them), for ``--profile`` in
#: mode snp:igvm without loading the IGVM modules at start-up.
IGVM_PROFILE_NAMES = ("igvmmeasure", "igvm-crate", "qemu")


class VmsaTemplate(NamedTuple):
    """Initial register state a VMM puts into each VMSA (SEV-ES save area, docs/reference/firmware-abi.md §7.1).

    ``kind="reset"`` is the x86 reset state (BSP at 0xfffffff0, APs at the firmware's SEV-ES reset
    address); ``kind="svsm"`` is Coconut SVSM's 64-bit flat entry state (all vCPUs at the SVSM
    entry point). ``rdx`` is ``"vcpu_sig"`` (QEMU: the vCPU's CPUID signature) or a fixed number.
    """

    kind: str = "reset"
    cs_attrib_bsp: int = 0x9B
    cs_attrib_ap: int = 0x9B
    ss_attrib: int = 0x93
    tr_attrib: int = 0x8B
    rdx: Union[str, int] = "vcpu_sig"
    mxcsr: int = 0x1F80
    x87_fcw: int = 0x37F
    g_pat: int = 0x0007040600070406
    efer: int = 0x1000
    cr0: int = 0x10
    cr4: int = 0x40
    xcr0: int = 0x1


def require_snp_active(field: str, features: int, error: Type[InvalidInputError] = InvalidInputError) -> None:
    """Every SEV-SNP VMSA has SEV_FEATURES bit 0, SNPActive: KVM sets it for SNP guests
    (sev_es_init_vmcb; docs/reference/firmware-abi.md §7.2-7.3), so features without it are no SNP launch."""
    if not features & 1:
        raise error(field, f"{features:#x} lacks bit 0, SNPActive, which every SEV-SNP VMSA has")


class LaunchProfile(NamedTuple):
    """What a VMM/host combination puts into the SNP launch, beyond the user's own inputs."""

    name: str
    description: str
    source: str
    vmm: str = "qemu"
    vmsa: VmsaTemplate = VmsaTemplate()
    vmsa_gpa: int = VMSA_GPA
    sec_mem_page_type: PageType = PageType.ZERO
    cpuid_placement: str = "table"  # "table": in metadata order; "last": after all sections (EC2)
    default_guest_features: int = 0x1
    fixed_guest_features: bool = False  # SVSM mode: the VMM always uses its own value

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict (the format ``--profile-file`` reads)."""
        d = self._asdict()
        d["vmsa"] = self.vmsa._asdict()
        d["sec_mem_page_type"] = self.sec_mem_page_type.name
        return d

    @classmethod
    def from_json(cls, obj: Any, *, where: str = "profile") -> LaunchProfile:
        """Build and validate a profile from parsed JSON (unknown keys are errors)."""
        if not isinstance(obj, dict):
            raise ProfileError(where, "must be a JSON object")
        known = set(cls._fields) | {"base"}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ProfileError(f"{where}.{unknown[0]}", f"unknown key; known keys: {', '.join(sorted(known))}")
        if "base" in obj and (not isinstance(obj["base"], str) or obj["base"] not in BUILTIN_PROFILES):
            raise ProfileError(
                f"{where}.base", f"unknown profile {show(obj['base'])}; built-in: {', '.join(BUILTIN_PROFILES)}"
            )
        base = BUILTIN_PROFILES[obj["base"]] if "base" in obj else None
        args: Dict[str, Any] = base.to_json() if base else {}
        base_vmsa = args.get("vmsa", {})
        args.update(obj)
        if isinstance(obj.get("vmsa"), dict):
            args["vmsa"] = {**base_vmsa, **obj["vmsa"]}
        for key in ("name", "description", "source"):
            args.setdefault(key, "user profile" if key != "name" else "custom")
            if not isinstance(args[key], str):
                raise ProfileError(f"{where}.{key}", "must be a string")
        if not args["name"].strip() or not args["name"].isprintable():  # it names rows, files and CoRIM entries
            raise ProfileError(f"{where}.name", f"must be a printable, non-blank name, got {show(args['name'])}")
        if args.get("vmm", "qemu") not in VMM_TYPES:
            raise ProfileError(f"{where}.vmm", f"must be one of {', '.join(VMM_TYPES)}, got {args.get('vmm')!r}")
        vmsa_in = args.get("vmsa", {})
        if not isinstance(vmsa_in, dict):
            raise ProfileError(f"{where}.vmsa", "must be a JSON object")
        vknown = set(VmsaTemplate._fields)
        vunknown = sorted(set(vmsa_in) - vknown)
        if vunknown:
            raise ProfileError(f"{where}.vmsa.{vunknown[0]}", f"unknown key; known keys: {', '.join(sorted(vknown))}")
        limits = {
            "cs_attrib_bsp": 0xFFFF,
            "cs_attrib_ap": 0xFFFF,
            "ss_attrib": 0xFFFF,
            "tr_attrib": 0xFFFF,
            "mxcsr": 0xFFFFFFFF,
            "x87_fcw": 0xFFFF,
        }
        for key, value in vmsa_in.items():
            if key == "kind":
                if value not in ("reset", "svsm"):
                    raise ProfileError(f"{where}.vmsa.kind", f"must be 'reset' or 'svsm', got {show(value)}")
            elif key == "rdx" and value == "vcpu_sig":
                pass
            elif (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value <= limits.get(key, (1 << 64) - 1)
            ):
                raise ProfileError(
                    f"{where}.vmsa.{key}",
                    f"must be an int from 0 to {limits.get(key, (1 << 64) - 1):#x}, got {show(value)}",
                )
        args["vmsa"] = VmsaTemplate(**vmsa_in)
        gpa = args.get("vmsa_gpa", VMSA_GPA)
        if isinstance(gpa, bool) or not isinstance(gpa, int) or not 0 <= gpa < (1 << 64) or gpa % 4096:
            raise ProfileError(f"{where}.vmsa_gpa", f"must be a page-aligned 64-bit GPA, got {show(gpa)}")
        smt = args.get("sec_mem_page_type", "ZERO")
        if isinstance(smt, PageType):
            smt = smt.name
        if smt not in ("ZERO", "UNMEASURED", "NORMAL"):
            raise ProfileError(f"{where}.sec_mem_page_type", f"must be ZERO, UNMEASURED or NORMAL, got {show(smt)}")
        args["sec_mem_page_type"] = PageType[smt]
        if args.get("cpuid_placement", "table") not in ("table", "last"):
            raise ProfileError(
                f"{where}.cpuid_placement", f"must be 'table' or 'last', got {args.get('cpuid_placement')!r}"
            )
        gf = args.get("default_guest_features", 0x1)
        if isinstance(gf, bool) or not isinstance(gf, int) or not 0 <= gf < (1 << 64):
            raise ProfileError(f"{where}.default_guest_features", f"must be a 64-bit int, got {show(gf)}")
        require_snp_active(f"{where}.default_guest_features", gf, ProfileError)  # SEV-ES takes 0, not this
        if not isinstance(args.get("fixed_guest_features", False), bool):
            raise ProfileError(f"{where}.fixed_guest_features", "must be true or false")
        args.pop("base", None)
        return cls(**args)


_QEMU_SRC = "QEMU >= 9.1 with KVM_SEV_INIT2 (Linux >= 6.11): target/i386/sev.c, arch/x86/kvm/svm/sev.c sev_es_sync_vmsa"

_EC2 = LaunchProfile(
    name="ec2",
    description="AWS EC2 (Nitro); matches sev-snp-measure 0.0.13 --vmm-type ec2 (RDX 0x600, CPUID pages last)",
    source="virtee/sev-snp-measure 0.0.13 vmsa.py/guest.py (PR #60, confirmed on EC2)",
    vmm="ec2",
    vmsa=VmsaTemplate(
        cs_attrib_bsp=0x9A, cs_attrib_ap=0x9B, ss_attrib=0x92, tr_attrib=0x83, rdx=0x600, mxcsr=0, x87_fcw=0
    ),
    cpuid_placement="last",
)
_GCE = LaunchProfile(
    name="gce",
    description="Google Compute Engine; matches sev-snp-measure --vmm-type gce (SNP_SEC_MEM unmeasured, G_PAT 0x70106)",
    source="virtee/sev-snp-measure vmsa.py/guest.py; google/gce-tcb-verifier (confirmed equal)",
    vmm="gce",
    vmsa=VmsaTemplate(g_pat=0x00070106, rdx=0x600, mxcsr=0, x87_fcw=0),
    sec_mem_page_type=PageType.UNMEASURED,
)

BUILTIN_PROFILES: Dict[str, LaunchProfile] = {
    p.name: p
    for p in [
        LaunchProfile(
            name="qemu",
            description="QEMU >= 9.1 + KVM with KVM_SEV_INIT2 (MXCSR 0x1f80, FCW 0x37f); matches sev-snp-measure --vmm-type QEMU",
            source=_QEMU_SRC,
        ),
        LaunchProfile(
            name="qemu-legacy",
            description="QEMU + KVM before KVM_SEV_INIT2 (KVM_SEV_ES_INIT leaves MXCSR and FCW 0)",
            source="arch/x86/kvm/svm/sev.c: FPU state copied only for KVM_SEV_INIT2 VMs (docs/reference/firmware-abi.md §7.3)",
            vmsa=VmsaTemplate(mxcsr=0, x87_fcw=0),
        ),
        _EC2,
        _EC2._replace(
            name="ec2-legacy",
            description="the older EC2 model with RDX 0 (virtee/sev 7.x, sev-snp-measure-go)",
            source="virtee/sev src/measurement/vmsa.rs; vectors.json ec2_legacy_*",
            vmsa=_EC2.vmsa._replace(rdx=0),
        ),
        _GCE,
        _GCE._replace(
            name="gce-genoa",
            description="as gce, with the VMSA GPA that gce-tcb-verifier uses on Genoa (0xfffffffffffff000)",
            source="google/gce-tcb-verifier sev/measurement.go ProductHighAddress (not verified on hardware)",
            vmsa_gpa=0xFFFFFFFFFFFFF000,
        ),
        LaunchProfile(
            name="svsm",
            description="Coconut SVSM (pre-IGVM) under its QEMU; matches sev-snp-measure --mode snp:svsm (FCW 0, features 0x1)",
            source="virtee/sev-snp-measure vmsa.py VMSA_SVSM (its FCW stays 0, docs/reference/peers.md §3 #4); coconut-svsm/qemu sev.c",
            vmsa=VmsaTemplate(kind="svsm", cr0=0x11, mxcsr=0x1F80, x87_fcw=0),
            fixed_guest_features=True,
        ),
    ]
}

#: ``--vmm-type`` values (sev-snp-measure spelling) → base profile.
VMM_TYPE_PROFILES = {"QEMU": "qemu", "ec2": "ec2", "gce": "gce"}


def get_profile(profile: Union[str, LaunchProfile]) -> LaunchProfile:
    """A built-in profile by name (or the profile itself)."""
    if isinstance(profile, LaunchProfile):
        return profile
    if isinstance(profile, str) and profile in IGVM_PROFILE_NAMES and profile not in BUILTIN_PROFILES:
        raise ProfileError("profile", f"{profile} is an IGVM model: it applies to mode 'snp:igvm' (an IGVM file)")
    if not isinstance(profile, str) or profile not in BUILTIN_PROFILES:
        raise ProfileError("profile", f"unknown profile {show(profile)}; built-in: {', '.join(BUILTIN_PROFILES)}")
    return BUILTIN_PROFILES[profile]


def load_profile_file(path: Union[str, os.PathLike[str]]) -> LaunchProfile:
    """Read a user profile from JSON. ``"base": "qemu"`` starts from a built-in profile."""
    from ._files import check_path
    from ._jsonfile import load_json_file

    obj = load_json_file(check_path("profile_file", path), os.fspath(path), ProfileError, read_field="profile_file")
    prof = LaunchProfile.from_json(obj, where=os.fspath(path))
    # Outputs label digests by profile name: a built-in's name is only for that profile, unchanged.
    if prof.name in BUILTIN_PROFILES and prof.to_json() != BUILTIN_PROFILES[prof.name].to_json():
        raise ProfileError(
            f"{os.fspath(path)}.name",
            f"{prof.name!r} is a built-in profile's name, and this profile differs from it; name yours differently",
        )
    return prof


def list_profiles() -> List[LaunchProfile]:
    """The built-in profiles, in a stable order."""
    return list(BUILTIN_PROFILES.values())


__all__ = ["LaunchProfile", "VmsaTemplate", "BUILTIN_PROFILES", "get_profile", "load_profile_file", "list_profiles"]
