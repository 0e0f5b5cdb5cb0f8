"""The guest flags of sev-snp-measure 0.0.13 and its rules, in one place: which flags each mode
ignores, the vCPU precedence, empty paths as "not given". ``measure``, ``id-block``, ``launch`` and
``report verify`` share them, so each prints what sev-snp-measure prints for the same flags."""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._checks import ascii_int
from ..errors import show
from ._args import auto_int, dec_int, warn


def add_measure_arguments(
    p: argparse.ArgumentParser,
    *,
    modes: Optional[Sequence[str]] = None,
    mode_help: str = "guest mode (required unless --libvirt-domain or a QEMU command line gives it)",
    counts: bool = True,
    manifest: bool = True,
    seed: bool = True,
) -> None:
    """The guest-input flags: every flag of sev-snp-measure 0.0.13, plus snpmeasure's own. A
    command that takes only some of it says so: ``modes`` (default all), ``counts`` (--vcpus may
    name a range), ``manifest`` (--firmware-manifest) and ``seed`` (--snp-ovmf-hash); the flags it
    does not take are not offered (their values read as not given), nor the SVSM flags without mode
    snp:svsm."""
    from .._cpus import CPU_SIGS
    from .._plan import MODES
    from ..profiles import BUILTIN_PROFILES, IGVM_PROFILE_NAMES

    dests: List[str] = []

    def add(group: Any, *flags: str, **kw: Any) -> None:
        dests.append(group.add_argument(*flags, **kw).dest)

    g = p.add_argument_group("guest (the flags of sev-snp-measure 0.0.13, same defaults)")
    add(g, "--mode", choices=list(modes or MODES), help=mode_help)
    add(
        g,
        "--vcpus",
        metavar="N",
        help="number of guest vCPUs"
        + ("; a range or list (1-64, 1,2,4) measures each count in one pass" if counts else ""),
    )
    add(g, "--vcpu-type", metavar="CPUTYPE", help=f"QEMU CPU model ({', '.join(CPU_SIGS)})")
    add(g, "--vcpu-sig", metavar="VALUE", type=auto_int, help="vCPU CPUID(1).EAX signature")
    add(g, "--vcpu-family", metavar="FAMILY", type=dec_int, help="vCPU family (with --vcpu-model, --vcpu-stepping)")
    add(g, "--vcpu-model", metavar="MODEL", type=dec_int, help="vCPU model")
    add(g, "--vcpu-stepping", metavar="STEPPING", type=dec_int, help="vCPU stepping")
    add(g, "--vmm-type", metavar="VMMTYPE", help="VMM type (QEMU, ec2, gce): selects the base profile")
    add(
        g,
        "--ovmf",
        metavar="PATH",
        help="OVMF firmware image" + (" (required unless --firmware-manifest)" if manifest else ""),
    )
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
    if seed:
        add(g, "--snp-ovmf-hash", metavar="HASH", help="precomputed firmware digest (hex) to start from")
    with_svsm = modes is None or "snp:svsm" in modes  # a command without the mode is offered no SVSM flags
    if with_svsm:
        svsm = p.add_argument_group("snp:svsm mode")
        add(svsm, "--svsm", metavar="PATH", help="Coconut SVSM image")
        vars_group = svsm.add_mutually_exclusive_group()
        add(vars_group, "--vars-size", metavar="SIZE", type=dec_int, help="size of the OVMF_VARS file in bytes")
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
    if manifest:
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
    dests += add_config_arguments(
        p,
        n,
        domain_reads="its <vcpu>, <cpu> model, <os> loader, kernel, initrd, cmdline and <launchSecurity>; flags fill "
        "what it leaves open, and one that contradicts it is refused",
        cmdline_reads="-smp, -cpu, -bios, -kernel/-initrd/-append, the sev-snp-guest object or igvm-cfg; "
        "options that could change the digest and are not modelled are refused",
    )
    n.add_argument("--threads", metavar="N", type=dec_int, help="hashing threads (default: all CPUs)")
    # Every flag above but --threads describes the guest to measure (and defaults to None): see measure_flags_given.
    p.set_defaults(measure_dests=tuple(dests), measure_modes=tuple(modes or MODES), measure_manifest=manifest)
    off = (("firmware_manifest", manifest), ("snp_ovmf_hash", seed), ("svsm", with_svsm), ("vars_size", with_svsm))
    p.set_defaults(**{d: None for d, on in (*off, ("vars_file", with_svsm)) if not on})


def add_config_arguments(p: argparse.ArgumentParser, group: Any, *, domain_reads: str, cmdline_reads: str) -> List[str]:
    """The launch-configuration flags (--libvirt-domain, --qemu-cmdline, --qemu-argv-file) in
    ``group``, saying what the command reads from each, and --path-map; their dests but
    --path-map's (a flag that only modifies the others)."""
    flags = [
        group.add_argument(
            "--libvirt-domain", metavar="FILE.xml", help=f"a whole libvirt domain (virsh dumpxml): {domain_reads}"
        ),
        group.add_argument(
            "--qemu-cmdline",
            metavar="'qemu-system-x86_64 ...'",
            help=f"QEMU's command line (as libvirt logs it): {cmdline_reads}",
        ),
        group.add_argument(
            "--qemu-argv-file", metavar="FILE", help="QEMU's command line read from a file (as --qemu-cmdline)"
        ),
    ]
    p.add_argument(
        "--path-map",
        action="append",
        metavar="HOSTPATH=LOCALPATH",
        help="with --libvirt-domain or --qemu-cmdline: read their files under HOSTPATH from LOCALPATH (repeatable)",
    )
    return [f.dest for f in flags]


def refuse_lone_path_map(args: argparse.Namespace) -> None:
    """--path-map without a launch configuration to apply it to is refused (it would do nothing)."""
    if args.path_map:
        from ..errors import InvalidInputError

        raise InvalidInputError("--path-map", "maps the paths of a --libvirt-domain or QEMU command line: give it too")


def measure_flags_given(args: argparse.Namespace) -> List[str]:
    """The guest-measurement flags (add_measure_arguments) given on the command line."""
    return ["--" + d.replace("_", "-") for d in getattr(args, "measure_dests", ()) if getattr(args, d) is not None]


#: The measure flags that apply to an IGVM launch (the file holds the firmware, kernel and VMSAs).
IGVM_FLAGS = frozenset({"--mode", "--vcpus", "--profile", "--libvirt-domain", "--qemu-cmdline", "--qemu-argv-file"})


def refuse_non_igvm_flags(args: argparse.Namespace, rule: str) -> None:
    """A measure flag an IGVM launch does not use is refused, naming it."""
    from ..errors import InvalidInputError

    other = [f for f in measure_flags_given(args) if f not in IGVM_FLAGS]
    if other:
        raise InvalidInputError(other[0], rule)


def profile_of(args: argparse.Namespace) -> Any:
    """``--profile-file``'s LaunchProfile (read once per run, kept on ``args``), else ``--profile``."""
    if not getattr(args, "profile_file", None):
        return args.profile
    if getattr(args, "profile_loaded", None) is None:
        from ..profiles import load_profile_file

        args.profile_loaded = load_profile_file(args.profile_file)
    return args.profile_loaded


def with_cli_warnings(args: argparse.Namespace, record: Dict[str, Any]) -> Dict[str, Any]:
    """A measure record (``Measurement.to_json()``) with the command's own warnings (flags it
    ignored, :func:`say_ignored`) before the measurement's, as they were said on stderr."""
    record["warnings"] = [*getattr(args, "cli_warnings", []), *record.get("warnings", [])]
    return record


def say_ignored(args: argparse.Namespace, command: str, message: str) -> None:
    """A flag the command ignores, said on stderr and kept for --json (``args.cli_warnings``)."""
    warn(command, message)
    args.__dict__.setdefault("cli_warnings", []).append(message)


def measure_kwargs(args: argparse.Namespace, command: str = "measure") -> Dict[str, Any]:
    """The library arguments of ``measure()`` from parsed CLI flags.

    Flags that sev-snp-measure 0.0.13 accepts and ignores are ignored here too (with a warning),
    and its precedence rules are kept, so both print the same measurement for the same arguments.
    """
    from ..errors import InvalidInputError

    def ignored(message: str) -> None:
        say_ignored(args, command, message)

    if config_given(args):
        apply_launch_config(args)
    else:
        refuse_lone_path_map(args)
    if args.mode is None:
        raise InvalidInputError("--mode", f"is required ({', '.join(args.measure_modes)})")
    if args.ovmf is None and args.firmware_manifest is None:
        raise InvalidInputError(
            "--ovmf", "is required" + (" (or --firmware-manifest)" if args.measure_manifest else "")
        )
    if args.profile and args.profile_file:
        raise InvalidInputError("--profile-file", "give --profile or --profile-file, not both")
    from .._plan import CPU_INPUTS, KERNEL_INPUTS

    vcpu_flags = ("vcpus", *CPU_INPUTS, "guest_features")
    unused = {
        "sev": (vcpu_flags, "SEV measures the firmware and kernel hashes, no VMSA"),
        "snp:ovmf-hash": (
            (*vcpu_flags, *KERNEL_INPUTS, "profile", "profile_file", "vmm_type"),
            "it hashes the firmware pages only",
        ),
    }.get(args.mode)
    if unused is not None:
        given = ["--" + f.replace("_", "-") for f in unused[0] if getattr(args, f) not in (None, "")]
        if given:
            ignored(
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} ignored in {args.mode} mode ({unused[1]})"
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
        for dest in ("kernel_hash", "initrd_hash", "append_hash"):  # snpmeasure's own flags: no drop-in to keep
            if getattr(args, dest) is not None:
                raise InvalidInputError("--" + dest.replace("_", "-"), "snp:svsm mode measures no kernel hashes")
        from ..measurement import resolve_profile

        svsm_profile = resolve_profile(profile_of(args), args.vmm_type, "snp:svsm")
        if svsm_profile.fixed_guest_features:  # the built-in svsm profile (sev-snp-measure ignores the flag)
            fixed = svsm_profile.default_guest_features
            if guest_features not in (None, fixed):
                ignored(
                    f"--guest-features {guest_features:#x} is ignored in snp:svsm mode "
                    f"(profile {svsm_profile.name}'s VMSAs use {fixed:#x})"
                )
            guest_features = None
        if has_kernel:
            ignored("--kernel/--initrd/--append are ignored in snp:svsm mode")
            kernel = initrd = append = None
        elif initrd is not None or append not in (None, ""):  # sev-snp-measure: "--kernel required when using ..."
            flag = "--initrd" if initrd is not None else "--append"
            raise InvalidInputError(flag, "needs a kernel, and snp:svsm mode boots none (it ignores --kernel)")
    elif svsm is not None or vars_size is not None or vars_file is not None:
        ignored("--svsm/--vars-size/--vars-file only apply to --mode snp:svsm; ignored")
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
        profile=profile_of(args),
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=args.kernel_hash,
        initrd_hash=args.initrd_hash,
        append_hash=args.append_hash,
        guest_features=guest_features,
        snp_ovmf_hash=args.snp_ovmf_hash or None,  # sev-snp-measure: an empty hash is not given
        svsm=svsm,
        vars_size=vars_size,
        vars_file=vars_file,
        threads=args.threads,
        allow_no_sev_metadata=bool(args.allow_no_sev_metadata),
    )


#: The flags that give a whole launch configuration.
CONFIG_FLAGS = ("libvirt_domain", "qemu_cmdline", "qemu_argv_file")


def config_given(args: argparse.Namespace) -> bool:
    """Whether a whole launch configuration (domain XML or QEMU command line) was given."""
    return any(getattr(args, f, None) is not None for f in CONFIG_FLAGS)


def apply_launch_config(args: argparse.Namespace) -> Any:
    """``--libvirt-domain`` or ``--qemu-cmdline``/``--qemu-argv-file``: the flags the configuration
    fixes are set from it, and a flag given that contradicts it is refused, naming both; the
    configuration is kept as ``args.launch_config`` (a LibvirtDomain or QemuCommandLine), so a
    second call (``measure_kwargs`` after a command applied it early to learn the mode) returns it."""
    from ..errors import InvalidInputError

    if getattr(args, "launch_config", None) is not None:
        return args.launch_config
    config, flag = load_launch_config(args)
    args.launch_config = config
    fixed = config.measure_kwargs()
    mode = fixed.pop("mode")
    guest = getattr(config, "guest", None)
    if guest is not None and args.command != "launch":
        # no launch to measure: KVM refuses such a policy at SNP_LAUNCH_START (-EINVAL). launch
        # replays that command itself (exit 1, or passed with --no-kvm-checks).
        from ..policy import GuestPolicy, reserved_bit_problems

        for field, rule in reserved_bit_problems(guest.policy)[:1]:
            raise InvalidInputError(flag, f"{config.describe}'s sev-snp-guest policy: {field}: {rule}")
        if GuestPolicy.from_int(guest.policy).migrate_ma:
            raise InvalidInputError(
                flag,
                f"{config.describe}'s sev-snp-guest policy {guest.policy:#x} sets MIGRATE_MA (bit 18), which KVM "
                "refuses (KVM_SNP_POLICY_MASK_VALID)",
            )
    unmeasured = getattr(args, "config_kernel_unmeasured", False)
    if unmeasured and guest is not None and not guest.kernel_hashes and config.kernel:
        # explain: QEMU boots this kernel unmeasured (kernel-hashes=off); that it was meant to be
        # measured is the pitfall explain searches, so it needs the kernel, stated as off
        for key, value in (("kernel", config.kernel), ("initrd", config.initrd), ("append", config.cmdline)):
            if value is not None:
                fixed[key] = value
        if args.kernel_hashes == "on":
            raise InvalidInputError(
                "--kernel-hashes", f"is on, but {config.describe}'s sev-snp-guest object has kernel-hashes off"
            )
        args.kernel_hashes = "off"
    if "igvm" in fixed and not hasattr(args, "igvm"):
        raise InvalidInputError(flag, f"{config.describe} launches an IGVM file: measure or launch it")
    takes = getattr(args, "measure_modes", None)
    if takes is not None and mode not in takes:
        raise InvalidInputError(flag, f"{config.describe} launches mode {mode}; this command takes {', '.join(takes)}")
    if args.mode is None:
        args.mode = mode
    elif args.mode != mode:
        raise InvalidInputError("--mode", f"is {args.mode}, but {config.describe} launches mode {mode}: give one")
    if args.firmware_manifest is not None:
        fixed.pop("ovmf", None)  # a verifier's manifest stands in for the firmware image
    for key, hash_flag in (("kernel", "kernel_hash"), ("initrd", "initrd_hash"), ("append", "append_hash")):
        if key in fixed and getattr(args, hash_flag) is not None:
            fixed.pop(key)  # the verifier gives the file's hash instead of the file
    cpu_given = any(getattr(args, a) is not None for a in ("vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping"))
    if mode == "snp" and config.cpu_mode not in (None, "custom") and args.vcpu_type is None and not cpu_given:
        raise InvalidInputError(
            flag,
            f"{config.describe}'s CPU is {config.cpu_mode}: QEMU gives the guest the host's CPUID signature, "
            "which it does not say; give --vcpu-type or --vcpu-sig for the host",
        )
    import os

    for key in ("ovmf", "kernel", "initrd", "igvm"):  # a host's path, which may not be where we run
        path = fixed.get(key)
        if isinstance(path, str) and getattr(args, key, None) is None and not os.path.exists(path):
            fix = "check --path-map" if args.path_map else "map it to your copy with --path-map HOSTPATH=LOCALPATH"
            raise InvalidInputError(
                flag, f"{config.describe}'s {config.source(key)} is {path}, which is not here: {fix}"
            )
    for key, value in fixed.items():
        option = "--" + key.replace("_", "-")
        current = getattr(args, key)
        if current is None:
            setattr(args, key, str(value) if key == "vcpus" else value)
            continue
        same = str(current) == str(value) if key == "vcpus" else current == value
        if not same:
            hexed = key in ("guest_features", "vcpu_sig")
            said = f"{current:#x}" if hexed else current if key == "vcpus" else show(current)
            fixed_value = f"{value:#x}" if hexed else value if key == "vcpus" else show(value)
            raise InvalidInputError(
                option, f"is {said}, but {config.describe}'s {config.source(key)} says {fixed_value}: give one"
            )
    return config


def load_launch_config(args: argparse.Namespace) -> Tuple[Any, str]:
    """The configuration of ``--libvirt-domain``, ``--qemu-cmdline`` or ``--qemu-argv-file`` (one of
    them; ``--path-map`` applied), and the flag it came from."""
    from ..errors import InvalidInputError
    from ..libvirt import load_domain, parse_path_map

    given = [f for f in CONFIG_FLAGS if getattr(args, f, None) is not None]
    if len(given) > 1:
        raise InvalidInputError("--" + given[1].replace("_", "-"), f"and --{given[0].replace('_', '-')}: give one")
    paths = parse_path_map(args.path_map or (), "--path-map")
    if args.libvirt_domain is not None:
        config: Any = load_domain(args.libvirt_domain, path_map=paths, field="--libvirt-domain")
        flag = "--libvirt-domain"
    else:
        from ..qemu_cmdline import parse_qemu_cmdline

        if args.qemu_cmdline is not None:
            text, flag = args.qemu_cmdline, "--qemu-cmdline"
        else:
            from .._files import read_input

            flag = "--qemu-argv-file"
            raw = read_input(flag, args.qemu_argv_file, (1 << 20) + 1)
            if len(raw) > 1 << 20:  # refused, not cut: the cut might fall inside "-smp 24"
                raise InvalidInputError(
                    flag,
                    "is larger than 1 MiB: not a QEMU command line (Linux passes at most 2 MiB of arguments and environment)",
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInputError(flag, "is not UTF-8 text") from None
        config = parse_qemu_cmdline(text, path_map=paths, where=flag)
    return config, flag


def single_vcpus(spec: Optional[str]) -> Optional[int]:
    """``--vcpus`` as one count (Python's int syntax, as sev-snp-measure's ``type=dec_int``)."""
    from ..errors import InvalidInputError

    if spec is None:
        return None
    try:
        return ascii_int(spec)  # Python's int syntax, as sev-snp-measure's type=int, in ASCII digits
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
