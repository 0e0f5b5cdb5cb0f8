"""``snpmeasure id-block``: build and sign an ID block and ID auth (snp-create-id-block compatible output)."""

from __future__ import annotations

import argparse

from . import EXIT_OK, ArgumentParser
from ._args import dec_int, emit_json, key_files_named, key_passwords, warn
from ._compat import (
    add_measure_arguments,
    apply_launch_config,
    config_given,
    measure_flags_given,
    measure_kwargs,
    with_cli_warnings,
)


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.add_argument(
        "--measurement",
        metavar="B64",
        help="the launch digest, base64 (snp-create-id-block's input), or the 96 hex digits measure prints",
    )
    p.add_argument("--measurement-hex", metavar="HEX", help="the launch digest, hex")
    p.add_argument("--from-measure", action="store_true", help="compute the launch digest from the measure flags below")
    p.add_argument("--id-key", "--idkey", dest="id_key", metavar="PEM", help="ID private key (P-384, PEM or DER)")
    p.add_argument("--author-key", "--authorkey", dest="author_key", metavar="PEM", help="author private key (P-384)")
    p.add_argument(
        "--key-password-env", metavar="VAR", help="read the passphrase of encrypted keys from this environment variable"
    )
    p.add_argument("--family-id", metavar="UUID|HEX", help="FAMILY_ID (16 bytes)")
    p.add_argument("--image-id", metavar="UUID|HEX", help="IMAGE_ID (16 bytes)")
    p.add_argument("--guest-svn", type=dec_int, default=0, help="GUEST_SVN")
    p.add_argument(
        "--policy",
        dest="id_policy",
        metavar="POLICY",
        help="the launch policy the ID block binds: 0x30000 (default; with --from-measure, a launch "
        "configuration's sev-snp-guest policy), or flags such as smt,debug",
    )
    p.add_argument("--json", action="store_true", help="print JSON with every field")
    add_measure_arguments(
        p,
        modes=("snp", "snp:svsm"),
        mode_help="with --from-measure: the guest mode (required unless a launch configuration gives it; an IGVM "
        "file's ID block: snpmeasure igvm sign)",
        counts=False,
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure id-block``: sign an ID block (snp-create-id-block compatible output)."""
    import base64

    from ..blobs import sign_id_block
    from ..errors import InvalidInputError
    from ..measurement import measure

    sources = [x for x in (args.measurement, args.measurement_hex) if x is not None] + (
        [1] if args.from_measure else []
    )
    if len(sources) != 1:
        raise InvalidInputError("--measurement", "give exactly one of --measurement, --measurement-hex, --from-measure")
    if args.id_key is None:
        raise InvalidInputError("--id-key", "is required (the ID key signs the ID block)")
    if not args.from_measure and measure_flags_given(args):
        raise InvalidInputError(
            measure_flags_given(args)[0],
            "describes a guest to measure: it needs --from-measure (not --measurement or --measurement-hex)",
        )
    measured = None
    if args.from_measure:
        measured = measure(**measure_kwargs(args, "id-block"), describe_inputs=args.json)
        for message in measured.warnings:
            warn("id-block", message)
        ld = measured.digest
    elif args.measurement is not None:
        import binascii
        import re

        if re.fullmatch(r"[0-9a-fA-F]{96}", args.measurement.strip()):
            # what `snpmeasure measure` prints: hex, told apart by its length (base64 of 48 bytes is
            # 64 characters; snp-create-id-block would decode these 96 as 72 bytes and sign the first 48)
            ld = bytes.fromhex(args.measurement.strip())
        else:
            try:  # lenient, as snp-create-id-block decodes it
                ld = base64.b64decode(args.measurement)
            except (binascii.Error, ValueError):
                raise InvalidInputError("--measurement", "is not valid base64 (or 96 hex digits)") from None
    else:
        try:
            ld = bytes.fromhex(args.measurement_hex)
        except ValueError:
            raise InvalidInputError("--measurement-hex", "must be 96 hex digits") from None
    if len(ld) != 48:
        flag = "--measurement-hex" if args.measurement_hex is not None else "--measurement"
        raise InvalidInputError(flag, f"must be 48 bytes (a launch digest), got {len(ld)}")
    policy = _policy(args)
    id_pw, author_pw = key_passwords(args)
    with key_files_named():
        block, auth = sign_id_block(
            ld,
            args.id_key,
            args.author_key,
            family_id=args.family_id,
            image_id=args.image_id,
            guest_svn=args.guest_svn,
            policy=policy,
            id_key_password=id_pw,
            author_key_password=author_pw,
        )
    if args.json:
        emit_json(
            {
                "id_block": block.base64(),
                "id_auth": auth.base64(),
                "id_block_fields": block.to_json(),
                "id_key_digest": auth.id_key_digest.hex(),
                "author_key_digest": auth.author_key_digest.hex() if auth.author_key_digest else None,
                "author_key_enabled": auth.author_key is not None,
                "measurement": ld.hex(),
                # How the digest was computed (measure --json's record), so that qemu-object
                # --from-id-block can set what QEMU needs to reproduce it (kernel-hashes, ...).
                "measure": None if measured is None else with_cli_warnings(args, measured.to_json()),
            }
        )
        return EXIT_OK
    print(f"id-block={block.base64()},id-auth={auth.base64()}")
    print(f"id_key_hash: {base64.b64encode(auth.id_key_digest).decode()}")
    if auth.author_key_digest is not None:
        print(f"author_key: {base64.b64encode(auth.author_key_digest).decode()}")
    return EXIT_OK


def _policy(args: argparse.Namespace) -> int:
    """The policy the block binds: --policy, else the launch configuration's object's (the launch
    LAUNCH_FINISH compares it with), else QEMU's default 0x30000; both, differing, is refused."""
    from ..errors import InvalidInputError
    from ..policy import DEFAULT_POLICY, GuestPolicy

    try:
        given = None if args.id_policy is None else GuestPolicy.parse(args.id_policy).to_int()
    except InvalidInputError as exc:
        raise InvalidInputError("--policy", exc.rule) from None
    config = apply_launch_config(args) if args.from_measure and config_given(args) else None
    guest = getattr(config, "guest", None)
    if config is None or guest is None:
        return DEFAULT_POLICY if given is None else given
    if given is not None and given != guest.policy:
        raise InvalidInputError(
            "--policy",
            f"is {given:#x}, but {config.describe}'s sev-snp-guest object has policy {guest.policy:#x}: give one",
        )
    return int(guest.policy)
