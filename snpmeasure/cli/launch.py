"""``snpmeasure launch``: dry-run an SNP launch (LAUNCH_START, the measured pages, LAUNCH_FINISH)."""

from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import add_object_source, auto_int, dec_int, emit_json, guest_object_from_args, parse_abi, warn
from ._compat import (
    add_measure_arguments,
    apply_launch_config,
    config_given,
    measure_kwargs,
    profile_of,
    refuse_lone_path_map,
    refuse_non_igvm_flags,
    single_vcpus,
)


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    add_object_source(p)
    p.add_argument(
        "--firmware-abi", metavar="MAJOR.MINOR", help="the host firmware's SEV-SNP ABI version (checks ABI rules)"
    )
    p.add_argument("--host-smt-off", action="store_true", help="the host has SMT disabled")
    p.add_argument(
        "--host-platform-info",
        type=auto_int,
        metavar="HEX",
        help="the host's PLATFORM_INFO, as its attestation reports carry it (snpmeasure report show): checks the "
        "policy's SMT, RAPL_DIS and CIPHERTEXT_HIDING against it",
    )
    p.add_argument(
        "--host-sockets",
        type=dec_int,
        metavar="N",
        help="the host's CPU sockets: with more than one, KVM's SNP_ACTIVATE fails a SINGLE_SOCKET policy",
    )
    p.add_argument(
        "--host-vlek",
        action="store_true",
        help="the host has a VLEK installed (a cloud provider's): the reports the guest requests with key_sel 0 "
        "are VLEK-signed",
    )
    p.add_argument(
        "--host-cbitpos",
        type=dec_int,
        metavar="N",
        help="the host's C-bit position, CPUID 0x8000001F EBX[5:0], which QEMU compares with the object's "
        "cbitpos (default 51: EPYC Milan, Genoa and Turin)",
    )
    p.add_argument(
        "--no-kvm-checks", action="store_true", help="skip KVM's own policy checks (model the firmware alone)"
    )
    p.add_argument(
        "--kvm-policy-bits",
        type=auto_int,
        metavar="MASK",
        help="the host's KVM_X86_SNP_POLICY_BITS (Linux 6.19+): bits outside it are refused (default: "
        "bits 0-20 but MIGRATE_MA, and bits 21-25 as --firmware-abi defines them); 6.11-6.16 are "
        "0xbffff with --kvm-required-bits 0x10000, 6.17-6.18 0x1bffff",
    )
    p.add_argument(
        "--kvm-required-bits",
        type=auto_int,
        metavar="MASK",
        help="policy bits the host's KVM requires set (Linux 6.11-6.16 require SMT: 0x10000)",
    )
    p.add_argument(
        "--accept-rfc-spellings",
        action="store_true",
        help="replay a QEMU built from the 2021 RFC series, which took init-flags=0 and auth-key-enabled "
        "(upstream QEMU 9.1+ refuses both: without this flag such an object fails, exit 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--igvm", metavar="FILE", help="dry-run an IGVM launch (its policy, pages, VMSAs and ID block)")
    p.add_argument("--native-zero", action="store_true", help="with --igvm: measure pages without data as ZERO pages")
    add_measure_arguments(
        p,
        modes=("snp", "snp:svsm", "snp:igvm"),
        mode_help="snp (the default), snp:svsm (a Coconut SVSM before IGVM: --svsm, and --vars-size or "
        "--vars-file), or snp:igvm with --igvm",
        counts=False,
        manifest=False,
        seed=False,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure launch``: replay LAUNCH_START, the measured pages and LAUNCH_FINISH."""
    import dataclasses
    import warnings

    from ..errors import FirmwareError, InvalidInputError, KvmError
    from ..measurement import measure

    with warnings.catch_warnings(record=True) as parse_warnings:  # said below unless the object fails
        warnings.simplefilter("always")
        if args.libvirt is not None and args.libvirt_domain is None and _is_domain(args.libvirt):
            # a whole domain: its vCPUs, CPU model and firmware count too, not only <launchSecurity>
            args.libvirt_domain = args.libvirt
        obj = guest_object_from_args(args)
    if config_given(args):
        config = apply_launch_config(args)
        if obj is None:
            obj = config.guest  # an IGVM launch's too: QEMU's LAUNCH_START takes the object's policy
            if obj is None and args.igvm is None:
                raise InvalidInputError("--object", f"{config.describe} has no sev-snp-guest object: give --object")
        elif (
            obj is not None
            and config.guest is not None
            and args.libvirt is None
            and not _same_object(obj, config.guest)
        ):
            raise InvalidInputError("--object", f"differs from {config.describe}'s sev-snp-guest object: give one")
    else:
        refuse_lone_path_map(args)
    if obj is None and args.igvm is None:
        raise InvalidInputError("--object", "give the sev-snp-guest object with --object, --qmp or --libvirt")
    kwargs: Dict[str, Any] = {}
    notes: List[str] = []
    if args.igvm is None:  # bad input is said before any replayed check fails (an IGVM launch: in _launch_igvm)
        if args.native_zero:
            raise InvalidInputError("--native-zero", "applies to an IGVM launch: give --igvm FILE")
        if args.mode == "snp:igvm":
            raise InvalidInputError("--igvm", "--mode snp:igvm launches an IGVM file: give it with --igvm FILE")
        args.mode = args.mode or "snp"
        _refuse_svsm_mismatch(args)
        kwargs, notes = _launch_kwargs(args, obj)
    vmm = _replayed_vmm(args)
    _refuse_qemu_kvm_flags(args, vmm)
    if args.host_cbitpos is None:
        from ..qemu import HOST_VALUES

        args.host_cbitpos = HOST_VALUES["cbitpos"]
    if not 0 <= args.host_cbitpos <= 63:
        raise InvalidInputError(
            "--host-cbitpos", f"must be a bit position from 0 to 63 (CPUID EBX[5:0]), got {args.host_cbitpos}"
        )
    if obj is not None and obj.cbitpos is None and (args.libvirt is not None or args.libvirt_domain is not None):
        # libvirt fills a missing <cbitpos> from the host's capabilities (qemuProcessUpdateSEVInfo)
        obj = dataclasses.replace(obj, cbitpos=args.host_cbitpos)
    refused = None if obj is None or vmm != "qemu" else _qemu_refusal(obj, args)
    if refused is not None:
        # QEMU refuses before any launch command: nothing reaches the firmware. Bad input is said
        # first (exit 2), as everywhere: the inputs are read (measured once, without a guest
        # context, or the IGVM file planned) and the host flags checked, only on this path.
        if args.igvm is None:
            measure(**kwargs)
        else:
            _igvm_plan(args)
        _firmware(args, vmm)
        where, status, reason = refused
        if args.json:
            emit_json(
                {
                    "ok": False,
                    "command": where,
                    "layer": "qemu",
                    "status": status,
                    "status_code": None,
                    "reason": reason,
                    "steps": [],
                    "warnings": [],  # the object's parse warnings speak of properties QEMU refused
                }
            )
        else:
            print(f"launch fails: QEMU: {reason}")
        return EXIT_CHECK_FAILED
    for record in parse_warnings:
        warn("launch", str(record.message))
    if args.igvm is not None:
        return _launch_igvm(args, obj)
    assert obj is not None
    fw = _firmware(args, vmm)
    if vmm != "qemu":
        notes.append(
            f"this replay follows the {vmm} VMM, which is not QEMU + KVM: QEMU's and KVM's checks are not applied"
        )
    steps: List[str] = []
    try:
        fw.launch_start(obj.policy, gosvw=obj.gosvw_bytes())
        steps.append(f"SNP_LAUNCH_START policy={obj.policy:#x}: SUCCESS")
        m = measure(**kwargs, firmware=fw)
        pages = "SVSM, firmware" if args.mode == "snp:svsm" else "firmware"
        steps.append(
            f"SNP_LAUNCH_UPDATE ({pages}, metadata sections, {m.vcpus} VMSA{'' if m.vcpus == 1 else 's'}): SUCCESS, launch digest {m.hex()}"
        )
        result = fw.launch_finish(
            obj.id_block_obj(),
            obj.finish_id_auth(),
            author_key_enabled=obj.author_key_enabled,
            host_data=obj.host_data_bytes(),
            vcek_disabled=obj.vcek_disabled,
        )
        steps.append("SNP_LAUNCH_FINISH: SUCCESS")
    except (FirmwareError, KvmError) as exc:
        return _failed(args, exc, steps, notes)
    return _succeeded(args, result, steps, notes + m.warnings)


def _replayed_vmm(args: argparse.Namespace) -> str:
    """The VMM the replay follows: an IGVM launch's model (``qemu`` is QEMU + KVM), else the launch
    profile's VMM (qemu, ec2, gce). QEMU's and KVM's own checks apply to ``qemu`` only."""
    if args.igvm is not None:
        from ..igvm_launch import get_igvm_profile

        return get_igvm_profile(args.profile).name
    from ..measurement import resolve_profile

    return resolve_profile(profile_of(args), args.vmm_type, args.mode).vmm  # snp or snp:svsm, set by run()


#: The flags that describe KVM's own checks (refused with --no-kvm-checks, and for another VMM).
_KVM_FLAGS = ("kvm_policy_bits", "kvm_required_bits", "host_sockets")


def _refuse_qemu_kvm_flags(args: argparse.Namespace, vmm: str) -> None:
    """The flags that describe QEMU or KVM are refused when the replay is of another VMM (an IGVM
    model's, or a launch profile's), whose software runs neither check."""
    from ..errors import InvalidInputError

    if vmm == "qemu":
        return
    for flag in ("host_cbitpos", "accept_rfc_spellings", *_KVM_FLAGS):
        if getattr(args, flag) in (None, False):
            continue
        if flag not in _KVM_FLAGS:
            rule = f"describes QEMU, and the {vmm} VMM replayed here is not QEMU"
        elif args.igvm is not None:
            rule = f"is one of KVM's checks; the {vmm} model's VMM is not QEMU + KVM: give --profile qemu"
        else:
            rule = f"is one of KVM's checks; the {vmm} VMM (the launch profile's) is not QEMU + KVM"
        raise InvalidInputError("--" + flag.replace("_", "-"), rule)


def _qemu_refusal(obj: Any, args: argparse.Namespace) -> Optional[Tuple[str, str, str]]:
    """What QEMU refuses before any launch command, as (where, status, reason): an RFC-series
    property upstream QEMU does not know, then a cbitpos other than the host's, which
    sev_common_kvm_init compares before LAUNCH_START (QEMU has no default: a missing one is 0)."""
    refusal = obj.upstream_refusal()
    if refusal is not None and not args.accept_rfc_spellings:
        return "-object", "PROPERTY_NOT_FOUND", f"{refusal} (--accept-rfc-spellings replays the RFC series' QEMU)"
    if (obj.cbitpos or 0) != args.host_cbitpos:
        reason = f"cbitpos check failed, host '{args.host_cbitpos}' requested '{obj.cbitpos or 0}'"
        return "sev_common_kvm_init", "CBITPOS_CHECK_FAILED", reason
    return None


def _launch_kwargs(args: argparse.Namespace, obj: Any) -> Tuple[Dict[str, Any], List[str]]:
    """measure()'s arguments for the replay of ``obj``'s launch, and what to say about them (on
    stderr and in --json's warnings, which the next step reads): a kernel the object does not
    measure (kernel-hashes=off) is left out; the object's SEV features are the VMSAs' (a profile that fixes them refuses others, the object's
    or --guest-features': measure ignores that flag in snp:svsm mode, as sev-snp-measure does)."""
    from ..errors import InvalidInputError
    from ..measurement import resolve_profile

    profile = resolve_profile(profile_of(args), args.vmm_type, args.mode)
    wanted_features = obj.sev_features()
    if profile.fixed_guest_features:  # checked before measure_kwargs, which would say a flag is ignored
        fixed = profile.default_guest_features
        if args.mode == "snp:svsm":
            carry = f"the snp:svsm launch's VMSAs carry {fixed:#x} (profile {profile.name})"
        else:
            carry = f"profile {profile.name} fixes the VMSAs' at {fixed:#x}"
        if wanted_features != fixed:
            raise InvalidInputError("--object", f"asks for SEV_FEATURES {wanted_features:#x}: {carry}")
        if args.guest_features not in (None, fixed):
            raise InvalidInputError("--guest-features", f"asks for SEV_FEATURES {args.guest_features:#x}: {carry}")
    kwargs = measure_kwargs(args, "launch")
    kwargs.pop("threads")  # the guest context's (_firmware): measure() takes it from there
    notes: List[str] = []
    if (kwargs["kernel"] is not None or kwargs["kernel_hash"] is not None) and not obj.kernel_hashes:
        from .._plan import KERNEL_INPUTS
        from ..kernel_hashes import check_boot_files

        check_boot_files(kwargs["kernel"], kwargs["initrd"])  # unmeasured, but QEMU still loads them
        notes.append(
            "a kernel is given but the object has kernel-hashes=off: QEMU then measures no kernel hashes, and neither "
            "does this replay"
        )
        for k in KERNEL_INPUTS:
            kwargs[k] = None
    if kwargs["guest_features"] is None:
        kwargs["guest_features"] = wanted_features
    elif kwargs["guest_features"] != wanted_features:
        notes.append(
            f"--guest-features {kwargs['guest_features']:#x} differs from the object's SEV_FEATURES {wanted_features:#x} "
            "(debug-swap/secure-tsc), which QEMU launches with; measuring with --guest-features"
        )
    return kwargs, notes


def _refuse_svsm_mismatch(args: argparse.Namespace) -> None:
    """What ``measure`` ignores with a warning for sev-snp-measure's sake, a dry run refuses: it
    would replay another launch than the one asked for. snp:svsm (sev-snp-measure's model of a
    Coconut SVSM before IGVM) boots the SVSM and its OVMF, no kernel (the SEV features its profile
    fixes are _launch_kwargs' to check, as in every mode); the SVSM flags name nothing in another
    mode."""
    from .._plan import KERNEL_INPUTS
    from ..errors import InvalidInputError

    if args.mode != "snp:svsm":
        for dest in ("svsm", "vars_size", "vars_file"):
            if getattr(args, dest) is not None:
                raise InvalidInputError(
                    "--" + dest.replace("_", "-"), f"applies to --mode snp:svsm only, not {args.mode}"
                )
        return
    for dest in KERNEL_INPUTS:
        if getattr(args, dest) not in (None, ""):
            raise InvalidInputError(
                "--" + dest.replace("_", "-"), "the snp:svsm launch boots the SVSM and its OVMF: it loads no kernel"
            )


def _firmware(args: argparse.Namespace, vmm: str) -> Any:
    """A guest context on the host the flags describe; a replay of a VMM other than QEMU + KVM
    (``vmm``: an IGVM model's or a launch profile's) applies the firmware's rules only."""
    from ..errors import InvalidInputError
    from ..firmware import Firmware, HostModel

    for flag in _KVM_FLAGS:
        if args.no_kvm_checks and getattr(args, flag) is not None:
            raise InvalidInputError(
                "--" + flag.replace("_", "-"), "is one of KVM's checks, which --no-kvm-checks turns off; give one"
            )
    info = args.host_platform_info
    if info is not None and args.host_smt_off and info & 1:
        raise InvalidInputError(
            "--host-smt-off", f"contradicts --host-platform-info {info:#x}, whose SMT_EN (bit 0) is set"
        )
    host = HostModel(
        abi=parse_abi(args.firmware_abi) if args.firmware_abi else None,
        smt_enabled=bool(info & 1) if info is not None else not args.host_smt_off,
        platform_info=info,
        sockets=args.host_sockets,
        kvm_checks=not args.no_kvm_checks and vmm == "qemu",
        kvm_policy_bits=args.kvm_policy_bits,
        kvm_required_bits=args.kvm_required_bits,
        vlek=args.host_vlek,
    )
    try:
        return Firmware(host=host, threads=args.threads)
    except InvalidInputError as exc:
        flags = {
            "kvm_policy_bits": "--kvm-policy-bits",
            "kvm_required_bits": "--kvm-required-bits",
            "abi": "--firmware-abi",
            "platform_info": "--host-platform-info",
            "sockets": "--host-sockets",
        }
        if exc.field not in flags:
            raise
        raise InvalidInputError(flags[exc.field], exc.rule) from None


def _igvm_plan(args: argparse.Namespace) -> Tuple[Any, Any]:
    """The IGVM file ``--igvm`` names and its launch plan under the model, the flags checked."""
    from ..errors import InvalidInputError
    from ..igvm_launch import open_igvm, plan_igvm

    refuse_non_igvm_flags(args, "does not apply with --igvm: the IGVM file holds the firmware and VMSAs")
    if args.mode not in (None, "snp:igvm"):
        raise InvalidInputError("--mode", "an IGVM launch is mode snp:igvm")
    f = open_igvm(args.igvm, "--igvm")
    return f, plan_igvm(f, args.profile, native_zero=args.native_zero, vcpus=single_vcpus(args.vcpus))


def _launch_igvm(args: argparse.Namespace, obj: Any) -> int:
    """``launch --igvm FILE [--object ...]``: LAUNCH_START, the file's pages and VMSAs under the
    model, LAUNCH_FINISH with its ID block as QEMU hands it over. QEMU (10.1 and later) sends
    LAUNCH_START during KVM set-up, with the object's policy; it reads the file's GUEST_POLICY
    later, into the ID block only, and drops an ``-object`` id-block there (docs/reference/igvm.md
    §2.2). The other models' VMMs launch with the file's GUEST_POLICY."""
    from ..errors import FirmwareError, InvalidInputError, KvmError
    from ..igvm_launch import measure_plan, qemu_author_key_enabled, qemu_finish_blobs
    from ..policy import DEFAULT_POLICY

    f, plan = _igvm_plan(args)
    model = plan.profile.name
    qemu = model == "qemu"
    notes: List[str] = []
    object_block = obj is not None and obj.id_block is not None
    if qemu:
        if obj is not None:
            policy, why = obj.policy, "the -object policy"
        elif plan.policy is not None:
            policy, why = plan.policy, "no --object: the object's policy taken to be the file's GUEST_POLICY"
        else:
            policy, why = DEFAULT_POLICY, "no --object: QEMU's default; the file has no GUEST_POLICY"
        if plan.policy is not None and plan.policy != policy and plan.id_block is None:
            notes.append(
                f"QEMU launches with the -object policy {policy:#x}: the file's GUEST_POLICY {plan.policy:#x} "
                "reaches only an ID block, and the file has none"
            )
        if object_block and plan.id_block is not None:
            notes.append("QEMU replaces the -object id-block and id-auth with the IGVM file's ID block")
    else:
        if plan.policy is None:
            raise InvalidInputError(
                "--igvm", f"{f.name} has no GUEST_POLICY for its SEV-SNP platform: the {model} model launches with it"
            )
        if obj is not None and "policy" in obj.given and obj.policy != plan.policy:
            raise InvalidInputError(
                "--object",
                f"policy {obj.policy:#x} differs from the IGVM file's GUEST_POLICY {plan.policy:#x}, which the {model} "
                "model's VMM launches with: make them equal (or replay QEMU: --profile qemu)",
            )
        if object_block and plan.id_block is not None:
            raise InvalidInputError("--object", "has an id-block, and so does the IGVM file: give one of them")
        policy, why = plan.policy, "the file's GUEST_POLICY"
    block: Any = None
    auth: Any = None
    enabled = False
    if plan.id_block is not None:
        block, auth = qemu_finish_blobs(plan.id_block, 0 if plan.policy is None else plan.policy)
        enabled = qemu_author_key_enabled(plan.id_block)  # by the key, not the directive's flag
    elif obj is not None and not (qemu and object_block):
        block, auth, enabled = obj.id_block_obj(), obj.finish_id_auth(), obj.author_key_enabled
    fw = _firmware(args, model)  # model: the vmm run() refused the QEMU/KVM flags for
    steps: List[str] = []
    try:
        fw.launch_start(policy, gosvw=bytes(16) if obj is None else obj.gosvw_bytes())
        steps.append(f"SNP_LAUNCH_START policy={policy:#x} ({why}): SUCCESS")
        m = measure_plan(plan, firmware=fw)
        steps.append(
            f"SNP_LAUNCH_UPDATE ({f.name}, model {model}, {m.vcpus} VMSA{'' if m.vcpus == 1 else 's'}): "
            f"SUCCESS, launch digest {m.hex()}"
        )
        if qemu and object_block and plan.id_block is None:
            # cgs_set_guest_policy frees the object's blocks and zeroes their addresses but leaves
            # id_block_en set: KVM's psp_copy_user_blob refuses the NULL id_block_uaddr.
            raise KvmError(
                "SNP_LAUNCH_FINISH",
                "QEMU drops the -object id-block when it loads the IGVM file (cgs_set_guest_policy) but keeps "
                "id_block_en: KVM's psp_copy_user_blob refuses the NULL id_block_uaddr; sign the file instead "
                "(snpmeasure igvm sign)",
            )
        result = fw.launch_finish(
            block,
            auth,
            author_key_enabled=enabled,
            host_data=bytes(32) if obj is None else obj.host_data_bytes(),
            vcek_disabled=False if obj is None else obj.vcek_disabled,
        )
        steps.append("SNP_LAUNCH_FINISH: SUCCESS")
    except (FirmwareError, KvmError) as exc:
        digest = fw.ld if exc.command == "SNP_LAUNCH_FINISH" else None  # the whole digest, as the model had it
        return _failed(args, exc, steps, notes + ([] if digest is None else _qemu_would_differ(plan, f, digest, args)))
    return _succeeded(args, result, steps, notes + m.warnings + _qemu_would_differ(plan, f, m.digest, args))


def _qemu_would_differ(plan: Any, f: Any, digest: bytes, args: argparse.Namespace) -> List[str]:
    """A warning when the replay follows a model other than QEMU's and QEMU + KVM would measure
    the file otherwise (or refuse it): their reports carry the qemu model's digest."""
    from ..errors import ConfigError, IgvmError
    from ..igvm_launch import measure_igvm

    if plan.profile.name == "qemu":
        return []
    out = [
        f"this replay follows the {plan.profile.name} model, whose VMM hands the firmware the VMSAs itself: "
        "QEMU's and KVM's checks are not applied"
    ]
    try:
        qemu = measure_igvm(f, profile="qemu", native_zero=args.native_zero, vcpus=single_vcpus(args.vcpus))
    except (ConfigError, IgvmError) as exc:
        return [*out, f"QEMU + KVM would not launch the file ({exc})"]
    if qemu.digest != digest:
        out.append(f"QEMU + KVM measure the file as --profile qemu does ({qemu.hex()}), and their reports carry that")
    return out


def _failed(args: argparse.Namespace, exc: Any, steps: List[str], warnings: Sequence[str] = ()) -> int:
    """The launch fails at a firmware or KVM check: the steps so far and the status (exit 1)."""
    for w in warnings:
        warn("launch", w)
    if args.json:
        status = getattr(exc, "status", None)
        emit_json(
            {
                "ok": False,
                "command": exc.command,
                "layer": "firmware" if status is not None else "kvm",
                "status": status.name if status is not None else getattr(exc, "errno", "EINVAL"),
                "status_code": int(status) if status is not None else None,
                "reason": exc.reason,
                "steps": steps,
                "warnings": list(warnings),
            }
        )
    else:
        for line in steps:
            print(line)
        print(f"launch fails: {exc}")
    return EXIT_CHECK_FAILED


def _succeeded(args: argparse.Namespace, result: Any, steps: List[str], warnings: List[str]) -> int:
    for w in warnings:
        warn("launch", w)
    if args.json:
        emit_json(
            {
                "ok": True,
                "status": "SUCCESS",
                "status_code": 0,
                "report": result.to_json(),
                "steps": steps,
                "warnings": warnings,
            }
        )
    else:
        for line in steps:
            print(line)
        print("the guest's attestation reports will carry:")
        for key, value in result.to_json().items():
            shown = ("true" if value else "false") if isinstance(value, bool) else value  # JSON's words
            print(f"  {key.upper():<18} {shown}")
    return EXIT_OK


def _is_domain(path: str) -> bool:
    """Whether a --libvirt file is a whole <domain> (rather than a <launchSecurity> element)."""
    import re

    from .._files import read_input

    head = read_input("--libvirt", path, 4096).decode("utf-8", "replace")
    return re.search(r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<domain[\s>]", head, re.S) is not None


def _same_object(a: Any, b: Any) -> bool:
    """Two sev-snp-guest objects that differ at most in their id."""
    from dataclasses import replace

    return bool(replace(a, id=b.id) == b)
