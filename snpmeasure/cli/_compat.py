"""The guest flags of sev-snp-measure 0.0.13 and its rules, in one place: which flags each mode
ignores, the vCPU precedence, empty paths as "not given". ``measure``, ``id-block``, ``launch`` and
``report verify`` share them, so each prints what sev-snp-measure prints for the same flags."""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional

from ..errors import show
from ._args import auto_int, warn


def add_measure_arguments(p: argparse.ArgumentParser, *, for_measure: bool = True) -> None:
    """The guest-input flags: every flag of sev-snp-measure 0.0.13, plus snpmeasure's own."""
    from .._cpus import CPU_SIGS
    from .._plan import MODES
    from ..profiles import BUILTIN_PROFILES, IGVM_PROFILE_NAMES

    dests: List[str] = []

    def add(group: Any, *flags: str, **kw: Any) -> None:
        dests.append(group.add_argument(*flags, **kw).dest)

    g = p.add_argument_group("guest (the flags of sev-snp-measure 0.0.13, same defaults)")
    add(g, "--mode", choices=MODES, help="guest mode (required)")
    add(
        g,
        "--vcpus",
        metavar="N",
        help="number of guest vCPUs; a range or list (1-64, 1,2,4) measures each count in one pass",
    )
    add(g, "--vcpu-type", metavar="CPUTYPE", help=f"QEMU CPU model ({', '.join(CPU_SIGS)})")
    add(g, "--vcpu-sig", metavar="VALUE", type=auto_int, help="vCPU CPUID(1).EAX signature")
    add(g, "--vcpu-family", metavar="FAMILY", type=int, help="vCPU family (with --vcpu-model, --vcpu-stepping)")
    add(g, "--vcpu-model", metavar="MODEL", type=int, help="vCPU model")
    add(g, "--vcpu-stepping", metavar="STEPPING", type=int, help="vCPU stepping")
    add(g, "--vmm-type", metavar="VMMTYPE", help="VMM type (QEMU, ec2, gce): selects the base profile")
    add(g, "--ovmf", metavar="PATH", help="OVMF firmware image (required unless --firmware-manifest)")
    add(g, "--kernel", metavar="PATH", help="kernel (bzImage) measured through the SEV hashes table")
    add(g, "--initrd", metavar="PATH", help="initrd (use with --kernel)")
    add(g, "--append", metavar="CMDLINE", help="kernel command line (use with --kernel)")
    add(
        g,
        "--guest-features",
        metavar="VALUE",
        type=auto_int,
        help="VMSA SEV_FEATURES (default: the profile's, 0x1; SEV-ES 0)",
    )
    add(g, "--snp-ovmf-hash", metavar="HASH", help="precomputed firmware digest (hex) to start from")
    svsm = p.add_argument_group("snp:svsm mode")
    add(svsm, "--svsm", metavar="PATH", help="Coconut SVSM image")
    vars_group = svsm.add_mutually_exclusive_group()
    add(vars_group, "--vars-size", metavar="SIZE", type=int, help="size of the OVMF_VARS file in bytes")
    add(vars_group, "--vars-file", metavar="PATH", help="OVMF_VARS file")
    n = p.add_argument_group("snpmeasure")
    add(
        n,
        "--profile",
        choices=sorted(set(BUILTIN_PROFILES) | set(IGVM_PROFILE_NAMES)),
        help="launch profile (default qemu, or from --vmm-type); with --mode snp:igvm the IGVM model: "
        "igvmmeasure (default), igvm-crate or qemu",
    )
    add(n, "--profile-file", metavar="FILE.json", help="a user-defined launch profile (JSON)")
    add(
        n,
        "--firmware-manifest",
        metavar="FILE.json",
        help="measure from a firmware manifest (snpmeasure ovmf-hash --json) instead of the binary",
    )
    add(n, "--kernel-hash", metavar="SHA256", help="SHA-256 of the kernel instead of --kernel")
    add(n, "--initrd-hash", metavar="SHA256", help="SHA-256 of the initrd instead of --initrd")
    add(n, "--append-hash", metavar="SHA256", help="SHA-256 of the command line with its NUL instead of --append")
    add(
        n,
        "--allow-no-sev-metadata",
        action="store_true",
        default=None,
        help="measure an SNP firmware without SEV metadata, which upstream QEMU refuses "
        "(the digest another loader would produce)",
    )
    add(
        n,
        "--libvirt-domain",
        metavar="FILE.xml",
        help="a whole libvirt domain (virsh dumpxml): its <vcpu>, <cpu> model, <os> loader, kernel, "
        "initrd, cmdline and <launchSecurity>; flags fill what it leaves open, and one that contradicts it is refused",
    )
    p.add_argument(
        "--path-map",
        action="append",
        metavar="HOSTPATH=LOCALPATH",
        help="with --libvirt-domain: read the domain's files under HOSTPATH from LOCALPATH (repeatable)",
    )
    n.add_argument("--threads", metavar="N", type=int, help="hashing threads (default: all CPUs)")
    # Every flag above but --threads describes the guest to measure (and defaults to None): see measure_flags_given.
    p.set_defaults(measure_dests=tuple(dests))


def measure_flags_given(args: argparse.Namespace) -> List[str]:
    """The guest-measurement flags (add_measure_arguments) given on the command line."""
    return ["--" + d.replace("_", "-") for d in getattr(args, "measure_dests", ()) if getattr(args, d) is not None]


def measure_kwargs(args: argparse.Namespace, command: str = "measure") -> Dict[str, Any]:
    """The library arguments of ``measure()`` from parsed CLI flags.

    Flags that sev-snp-measure 0.0.13 accepts and ignores are ignored here too (with a warning),
    and its precedence rules are kept, so both print the same measurement for the same arguments.
    """
    from ..errors import InvalidInputError
    from ..profiles import load_profile_file

    if args.libvirt_domain is not None:
        apply_domain(args, command)
    elif args.path_map:
        raise InvalidInputError("--path-map", "maps the paths of a --libvirt-domain: give the domain too")
    if args.mode is None:
        raise InvalidInputError("--mode", "is required (snp, snp:ovmf-hash, snp:svsm, snp:igvm, sev, seves)")
    if args.ovmf is None and args.firmware_manifest is None:
        raise InvalidInputError("--ovmf", "is required (or --firmware-manifest)")
    if args.profile and args.profile_file:
        raise InvalidInputError("--profile-file", "give --profile or --profile-file, not both")
    vcpu_flags = ("vcpus", "vcpu_type", "vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping", "guest_features")
    unused = {
        "sev": (vcpu_flags, "SEV measures the firmware and kernel hashes, no VMSA"),
        "snp:ovmf-hash": (
            vcpu_flags
            + (
                "kernel",
                "initrd",
                "append",
                "kernel_hash",
                "initrd_hash",
                "append_hash",
                "profile",
                "profile_file",
                "vmm_type",
            ),
            "it hashes the firmware pages only",
        ),
    }.get(args.mode)
    if unused is not None:
        given = ["--" + f.replace("_", "-") for f in unused[0] if getattr(args, f) not in (None, "")]
        if given:
            warn(
                command,
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} ignored in {args.mode} mode ({unused[1]})",
            )
        # Ignored means not measured, so not checked against the launch rules (the library would
        # refuse --vcpus 0) and not reported (JSON "vcpus": null); its syntax is still checked, as
        # sev-snp-measure's argparse does.
        single_vcpus(args.vcpus)
        args = argparse.Namespace(**{**vars(args), **dict.fromkeys(vcpu_flags)})
    # sev-snp-measure tests these with truthiness: an empty path is "not given".
    kernel, initrd = args.kernel or None, args.initrd or None
    has_kernel = kernel is not None or args.kernel_hash is not None
    append = args.append
    if append == "" and not has_kernel:
        append = None  # sev-snp-measure ignores an empty --append without --kernel
    # sev-snp-measure's vCPU precedence: --vcpu-family, then --vcpu-sig, then --vcpu-type, each only
    # if non-zero; a zero family or signature alone is honoured (zero is a valid value).
    fms = (args.vcpu_family, args.vcpu_model, args.vcpu_stepping)
    sig = args.vcpu_sig
    if args.vcpu_family == 0 and (sig or args.vcpu_type):
        fms = (None, None, None)
    if sig == 0 and args.vcpu_type and not fms[0]:
        sig = None
    vmm_type, guest_features, svsm, vars_size, vars_file = (
        args.vmm_type,
        args.guest_features,
        args.svsm,
        args.vars_size,
        args.vars_file,
    )
    if args.mode == "snp:ovmf-hash":
        vmm_type = None  # checked by sev-snp-measure only after it printed the hash
    if args.mode == "snp:svsm":
        if guest_features not in (None, 1):
            warn(
                command, f"--guest-features {guest_features:#x} is ignored in snp:svsm mode (the SVSM's VMSAs use 0x1)"
            )
        guest_features = None
        if has_kernel or initrd or append:
            warn(command, "--kernel/--initrd/--append are ignored in snp:svsm mode")
            kernel = initrd = append = None
    elif svsm is not None or vars_size is not None or vars_file is not None:
        warn(command, "--svsm/--vars-size/--vars-file only apply to --mode snp:svsm; ignored")
        svsm = vars_size = vars_file = None
    return dict(
        mode=args.mode,
        ovmf=args.ovmf,
        manifest=args.firmware_manifest,
        vcpus=single_vcpus(args.vcpus),
        vcpu_type=args.vcpu_type,
        vcpu_sig=sig,
        vcpu_family=fms[0],
        vcpu_model=fms[1],
        vcpu_stepping=fms[2],
        vmm_type=vmm_type,
        profile=load_profile_file(args.profile_file) if args.profile_file else args.profile,
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=args.kernel_hash,
        initrd_hash=args.initrd_hash,
        append_hash=args.append_hash,
        guest_features=guest_features,
        snp_ovmf_hash=args.snp_ovmf_hash,
        svsm=svsm,
        vars_size=vars_size,
        vars_file=vars_file,
        threads=args.threads,
        allow_no_sev_metadata=bool(args.allow_no_sev_metadata),
    )


def apply_domain(args: argparse.Namespace, command: str) -> Any:
    """``--libvirt-domain``: the flags the domain fixes are set from it; a flag given that
    contradicts it is refused, naming both; the domain (a LibvirtDomain) is kept as ``args.domain``."""
    from ..errors import InvalidInputError
    from ..libvirt import load_domain, parse_path_map

    if getattr(args, "domain", None) is not None:
        return args.domain
    dom = load_domain(
        args.libvirt_domain, path_map=parse_path_map(args.path_map or (), "--path-map"), field="--libvirt-domain"
    )
    args.domain = dom
    if args.mode is None:
        args.mode = "snp"
    elif args.mode != "snp":
        raise InvalidInputError(
            "--mode", f"is {args.mode}; a libvirt domain with <launchSecurity type='sev-snp'> launches mode snp"
        )
    fixed = dom.measure_kwargs()
    if args.firmware_manifest is not None:
        fixed.pop("ovmf", None)  # a verifier's manifest stands in for the domain's firmware image
    for key, hash_flag in (("kernel", "kernel_hash"), ("initrd", "initrd_hash"), ("append", "append_hash")):
        if key in fixed and getattr(args, hash_flag) is not None:
            fixed.pop(key)  # the verifier gives the file's hash instead of the file
    cpu_given = any(getattr(args, a) is not None for a in ("vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping"))
    if dom.cpu_mode not in (None, "custom") and args.vcpu_type is None and not cpu_given:
        raise InvalidInputError(
            "--libvirt-domain",
            f"the domain's CPU is {dom.cpu_mode}: QEMU gives the guest the host's CPUID signature, which the XML "
            "does not say; give --vcpu-type or --vcpu-sig for the host",
        )
    if dom.cpu_mode is None and args.vcpu_type is None and not cpu_given:
        raise InvalidInputError(
            "--libvirt-domain",
            "the domain has no <cpu>: QEMU's default CPU model is not one snpmeasure models; give --vcpu-type",
        )
    names = {
        "vcpus": ("--vcpus", "<vcpu>"),
        "vcpu_type": ("--vcpu-type", "<cpu><model>"),
        "ovmf": ("--ovmf", "<os><loader>"),
        "kernel": ("--kernel", "<os><kernel>"),
        "initrd": ("--initrd", "<os><initrd>"),
        "append": ("--append", "<os><cmdline>"),
        "guest_features": ("--guest-features", "<launchSecurity> SEV features"),
    }
    for key, value in fixed.items():
        if key == "mode":
            continue
        flag, element = names[key]
        given = getattr(args, key)
        if given is None:
            setattr(args, key, str(value) if key == "vcpus" else value)
            continue
        same = str(given) == str(value) if key == "vcpus" else given == value
        if not same:
            said = f"{given:#x}" if key == "guest_features" else given if key == "vcpus" else show(given)
            fixed_value = f"{value:#x}" if key == "guest_features" else value if key == "vcpus" else show(value)
            raise InvalidInputError(flag, f"is {said}, but the domain's {element} says {fixed_value}: give one")
    return dom


def single_vcpus(spec: Optional[str]) -> Optional[int]:
    """``--vcpus`` as one count (Python's int syntax, as sev-snp-measure's ``type=int``)."""
    from ..errors import InvalidInputError

    if spec is None:
        return None
    try:
        return int(spec)  # Python's int syntax, as sev-snp-measure's type=int
    except ValueError:
        raise InvalidInputError("--vcpus", f"must be a whole number here, got {show(spec)}") from None


def is_sweep(spec: Optional[str]) -> bool:
    """Whether ``--vcpus`` names several counts (``1-64``, ``1,2,4``)."""
    if spec is None:
        return False
    try:
        int(spec)
        return False
    except ValueError:
        return any(c in spec for c in ",-")
