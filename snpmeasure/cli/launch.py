"""``snpmeasure launch``: dry-run an SNP launch (LAUNCH_START, the measured pages, LAUNCH_FINISH)."""

from __future__ import annotations

import argparse
from typing import List

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import add_object_source, auto_int, emit_json, guest_object_from_args, parse_abi, warn
from ._compat import add_measure_arguments, measure_kwargs


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    add_object_source(p)
    p.add_argument(
        "--firmware-abi", metavar="MAJOR.MINOR", help="the host firmware's SEV-SNP ABI version (checks ABI rules)"
    )
    p.add_argument("--host-smt-off", action="store_true", help="the host has SMT disabled")
    p.add_argument(
        "--no-kvm-checks", action="store_true", help="skip KVM's own policy checks (model the firmware alone)"
    )
    p.add_argument(
        "--kvm-policy-bits",
        type=auto_int,
        metavar="MASK",
        help="the host's KVM_X86_SNP_POLICY_BITS (a 6.11-era kernel: 0x1bffff)",
    )
    p.add_argument(
        "--accept-rfc-spellings",
        action="store_true",
        help="replay a QEMU built from the 2021 RFC series, which took init-flags=0 and auth-key-enabled "
        "(upstream QEMU 9.1+ refuses both: without this flag such an object fails, exit 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_measure_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure launch``: replay LAUNCH_START, the measured pages and LAUNCH_FINISH."""
    import warnings

    from ..errors import FirmwareError, InvalidInputError, KvmError
    from ..firmware import Firmware, HostModel
    from ..measurement import measure

    with warnings.catch_warnings(record=True) as parse_warnings:  # said below unless the object fails
        warnings.simplefilter("always")
        obj = guest_object_from_args(args)
    if obj is None:
        raise InvalidInputError("--object", "give the sev-snp-guest object with --object, --qmp or --libvirt")
    refusal = obj.upstream_refusal()
    if refusal is not None and not args.accept_rfc_spellings:
        # QEMU parses the object before any launch command: nothing reaches the firmware.
        reason = f"{refusal} (--accept-rfc-spellings replays the RFC series' QEMU)"
        if args.json:
            emit_json(
                {
                    "ok": False,
                    "command": "-object",
                    "layer": "qemu",
                    "status": "PROPERTY_NOT_FOUND",
                    "status_code": None,
                    "reason": reason,
                    "steps": [],
                }
            )
        else:
            print(f"launch fails: QEMU: {reason}")
        return EXIT_CHECK_FAILED
    for record in parse_warnings:
        warn("launch", str(record.message))
    if args.mode is not None and args.mode != "snp":
        raise InvalidInputError("--mode", "snpmeasure launch replays SNP launches (mode snp)")
    args.mode = "snp"
    kwargs = measure_kwargs(args, "launch")
    if (kwargs["kernel"] is not None or kwargs["kernel_hash"] is not None) and not obj.kernel_hashes:
        warn(
            "launch",
            "a kernel is given but the object has kernel-hashes=off: QEMU then measures no kernel hashes, and neither does this replay",
        )
        for k in ("kernel", "initrd", "append", "kernel_hash", "initrd_hash", "append_hash"):
            kwargs[k] = None
    wanted_features = obj.sev_features()
    if kwargs["guest_features"] is None:
        kwargs["guest_features"] = wanted_features
    elif kwargs["guest_features"] != wanted_features:
        warn(
            "launch",
            f"--guest-features {kwargs['guest_features']:#x} differs from the object's SEV_FEATURES {wanted_features:#x} "
            "(debug-swap/secure-tsc); measuring with --guest-features",
        )
    if args.no_kvm_checks and args.kvm_policy_bits is not None:
        raise InvalidInputError(
            "--kvm-policy-bits", "is one of KVM's checks, which --no-kvm-checks turns off; give one"
        )
    host = HostModel(
        abi=parse_abi(args.firmware_abi) if args.firmware_abi else None,
        smt_enabled=not args.host_smt_off,
        kvm_checks=not args.no_kvm_checks,
        kvm_policy_bits=args.kvm_policy_bits,
    )
    try:
        fw = Firmware(host=host, threads=kwargs.pop("threads"))
    except InvalidInputError as exc:
        if exc.field not in ("kvm_policy_bits", "abi"):
            raise
        raise InvalidInputError(
            "--kvm-policy-bits" if exc.field == "kvm_policy_bits" else "--firmware-abi", exc.rule
        ) from None
    steps: List[str] = []
    try:
        fw.launch_start(obj.policy, gosvw=obj.gosvw_bytes())
        steps.append(f"SNP_LAUNCH_START policy={obj.policy:#x}: SUCCESS")
        m = measure(**kwargs, firmware=fw)
        steps.append(
            f"SNP_LAUNCH_UPDATE (firmware, metadata sections, {m.vcpus} VMSA{'' if m.vcpus == 1 else 's'}): SUCCESS, launch digest {m.hex()}"
        )
        result = fw.launch_finish(
            obj.id_block_obj(),
            obj.id_auth_obj(),
            author_key_enabled=obj.author_key_enabled,
            host_data=obj.host_data_bytes(),
            vcek_disabled=obj.vcek_disabled,
        )
        steps.append("SNP_LAUNCH_FINISH: SUCCESS")
    except (FirmwareError, KvmError) as exc:
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
                }
            )
        else:
            for line in steps:
                print(line)
            print(f"launch fails: {exc}")
        return EXIT_CHECK_FAILED
    for w in m.warnings:
        warn("launch", w)
    if args.json:
        emit_json(
            {
                "ok": True,
                "status": "SUCCESS",
                "status_code": 0,
                "report": result.to_json(),
                "steps": steps,
                "warnings": m.warnings,
            }
        )
    else:
        for line in steps:
            print(line)
        print("the guest's attestation reports will carry:")
        for key, value in result.to_json().items():
            print(f"  {key.upper():<18} {value}")
    return EXIT_OK
