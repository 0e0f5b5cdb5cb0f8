"""``snpmeasure qemu-object``: QEMU's ``sev-snp-guest`` object as ``-object``, QMP or libvirt XML."""

from __future__ import annotations

import argparse

from . import EXIT_OK, ArgumentParser
from ._args import add_object_source, dec_int, emit_json, guest_object_from_args, load_json_file
from ._compat import add_config_arguments, config_given, load_launch_config, refuse_lone_path_map


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    add_object_source(p)
    add_config_arguments(
        p,
        p,
        domain_reads="the object its <launchSecurity type='sev-snp'> gives",
        cmdline_reads="its sev-snp-guest object (keyval or JSON -object)",
    )
    p.add_argument("--id", help="object id (default sev0)")
    p.add_argument("--policy", help="guest policy (0x30000, or flags such as smt,debug)")
    p.add_argument("--id-block", metavar="B64", help="ID block (base64, hex:..., or @FILE)")
    p.add_argument("--id-auth", metavar="B64", help="ID auth (base64, hex:..., or @FILE)")
    p.add_argument("--from-id-block", metavar="JSON", help="the output of 'snpmeasure id-block --json'")
    p.add_argument("--host-data", metavar="B64", help="HOST_DATA, 32 bytes (base64, hex:..., or @FILE)")
    p.add_argument("--guest-visible-workarounds", metavar="B64", help="GOSVW, 16 bytes (base64, hex:..., or @FILE)")
    p.add_argument("--author-key-enabled", action="store_true", help="the ID auth carries an author key")
    p.add_argument("--vcek-disabled", action="store_true", help="sign reports with the VLEK only")
    p.add_argument("--kernel-hashes", action="store_true", help="measure -kernel/-initrd/-append")
    p.add_argument(
        "--cbitpos",
        type=dec_int,
        help="C-bit position, host CPUID 0x8000001F EBX[5:0] (default 51: EPYC Milan/Genoa/Turin); "
        "also completes an object given whole without one (libvirt XML)",
    )
    p.add_argument(
        "--reduced-phys-bits",
        type=dec_int,
        help="physical address bits lost to encryption, 1..63 (default 1: EPYC Milan/Genoa/Turin); "
        "also completes an object given whole",
    )
    p.add_argument("--debug-swap", action="store_true", help="QEMU >= 10.2: SEV_FEATURES DebugSwap (bit 5)")
    p.add_argument("--secure-tsc", action="store_true", help="QEMU >= 10.2: SEV_FEATURES SecureTSC (bit 9)")
    p.add_argument("--tsc-frequency", type=dec_int, help="QEMU >= 10.2: guest TSC frequency in kHz (with --secure-tsc)")
    p.add_argument("--format", choices=["cli", "qmp", "libvirt"], help="output form (default cli)")
    p.add_argument("--json", action="store_true", help="same as --format qmp")
    p.set_defaults(func=run)


#: qemu-object's flags that build an object field by field (their defaults are None or False).
BUILDER_FLAGS = (
    "id",
    "policy",
    "id_block",
    "id_auth",
    "from_id_block",
    "host_data",
    "guest_visible_workarounds",
    "author_key_enabled",
    "vcek_disabled",
    "kernel_hashes",
    "cbitpos",
    "reduced_phys_bits",
    "debug_swap",
    "secure_tsc",
    "tsc_frequency",
)


#: The host-dependent values, which may also complete an object given whole.
HOST_FLAGS = ("cbitpos", "reduced_phys_bits")


def run(args: argparse.Namespace) -> int:
    """``snpmeasure qemu-object``: emit the sev-snp-guest object as -object, QMP or libvirt XML."""

    from ..errors import InvalidInputError
    from ..policy import GuestPolicy
    from ..qemu import HOST_VALUES, HOST_VALUES_TEXT, SevSnpGuest, id_block_fields

    if args.json and args.format not in (None, "qmp"):
        raise InvalidInputError("--json", f"prints QMP JSON; it does not combine with --format {args.format}")
    fmt = args.format or ("qmp" if args.json else "cli")
    if fmt == "libvirt" and args.id is not None:
        # <launchSecurity> has no id: libvirt names the object itself (lsec0), so the flag would be dropped
        raise InvalidInputError("--id", "has no place in libvirt's <launchSecurity>, which names the object itself")
    if config_given(args):
        whole = [f for f in ("object", "qmp", "libvirt") if getattr(args, f) is not None]
        if whole:
            raise InvalidInputError(f"--{whole[0]}", "and a launch configuration both give the object: give one")
        config, flag = load_launch_config(args)
        obj = config.guest
        if obj is None:
            raise InvalidInputError(flag, f"{config.describe} launches no SEV-SNP guest (no sev-snp-guest object)")
    else:
        refuse_lone_path_map(args)
        obj = guest_object_from_args(args)
    if obj is not None:
        given = [
            f
            for f in BUILDER_FLAGS
            if getattr(args, f) is not None and getattr(args, f) is not False and f not in HOST_FLAGS
        ]
        if given:
            raise InvalidInputError(
                "--" + given[0].replace("_", "-"),
                "builds an object field by field; it does not combine "
                "with an object given whole (--object, --qmp, --libvirt, or a launch configuration)",
            )
        # The host values libvirt reads from the host: given here, they complete the object.
        for attr in HOST_FLAGS:
            value = getattr(args, attr)
            if value is None:
                continue
            if getattr(obj, attr) not in (None, value):
                raise InvalidInputError(
                    "--" + attr.replace("_", "-"), f"is {value}, but the object says {getattr(obj, attr)}"
                )
            setattr(obj, attr, value)
        obj.validate()
    else:
        obj = SevSnpGuest(id="sev0" if args.id is None else args.id)
        if args.from_id_block is not None:
            for flag in ("policy", "id_block", "id_auth", "author_key_enabled"):
                if getattr(args, flag) is not None and getattr(args, flag) is not False:
                    raise InvalidInputError(
                        "--" + flag.replace("_", "-"),
                        "is set by --from-id-block (the ID block binds the "
                        "policy, and the ID auth signs the ID block); give one",
                    )
            fixed = id_block_fields(load_json_file(args.from_id_block, "--from-id-block"), "--from-id-block")
            for attr, value in fixed.items():
                flag = "--" + attr.replace("_", "-")
                if attr in ("kernel_hashes", "debug_swap", "secure_tsc") and getattr(args, attr) and not value:
                    raise InvalidInputError(
                        flag,
                        "contradicts --from-id-block: its ID block binds a digest measured without it, "
                        "so the launch would fail with BAD_MEASUREMENT",
                    )
                setattr(obj, attr, value)
        for attr in ("id_block", "id_auth", "host_data", "guest_visible_workarounds"):
            value = getattr(args, attr)
            if value is not None:
                import base64

                from ..blobs import parse_blob

                setattr(obj, attr, base64.b64encode(parse_blob(attr.replace("_", "-"), value)).decode())
        if args.policy is not None:
            obj.policy = GuestPolicy.parse(args.policy).to_int()
        for flag in ("author_key_enabled", "vcek_disabled", "kernel_hashes", "debug_swap", "secure_tsc"):
            if getattr(args, flag):
                setattr(obj, flag, True)
        obj.cbitpos = HOST_VALUES["cbitpos"] if args.cbitpos is None else args.cbitpos
        obj.reduced_phys_bits = (
            HOST_VALUES["reduced-phys-bits"] if args.reduced_phys_bits is None else args.reduced_phys_bits
        )
        obj.tsc_frequency = args.tsc_frequency
        obj.validate(require_mandatory=True)
    if fmt != "libvirt":
        for attr in HOST_FLAGS:
            if getattr(obj, attr) is None:
                prop = attr.replace("_", "-")
                raise InvalidInputError(
                    "--" + prop,
                    f"the object has no {prop}, which QEMU needs (libvirt reads it from the host): "
                    f"give --{prop} ({HOST_VALUES_TEXT[prop]})",
                )
    if fmt == "cli":
        print(obj.to_cli())
    elif fmt == "qmp":
        emit_json(obj.to_qmp())
    else:
        print(obj.to_libvirt())
    return EXIT_OK
