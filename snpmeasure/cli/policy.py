"""``snpmeasure policy decode|encode``: the SNP guest policy."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Optional

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, prog
from ._args import dec_int, emit_json, parse_abi


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    from ..policy import FLAG_BITS

    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=ArgumentParser)
    actions.required = True
    d = actions.add_parser("decode", help="show every field of a policy (0x30000, 196608, or smt,debug,abi=1.51)")
    d.add_argument("value", help="the policy")
    e = actions.add_parser("encode", help="build a policy from flags")
    for attr, bit, flag, meaning, _ in FLAG_BITS:
        e.add_argument(f"--{flag}", dest=attr, action="store_true", help=f"bit {bit}: {meaning}")
    e.add_argument("--abi-major", type=dec_int, default=0, help="minimum firmware ABI major (bits 15:8)")
    e.add_argument("--abi-minor", type=dec_int, default=0, help="minimum firmware ABI minor (bits 7:0)")
    for q in (d, e):
        q.add_argument(
            "--firmware-abi",
            metavar="MAJOR.MINOR",
            help="check against a firmware of this ABI version on a host with "
            "SMT on (exit 1 if it would refuse); without it only the policy's own rules (bit 17 set, reserved "
            "bits clear) are checked",
        )
        q.add_argument(
            "--host-smt-off",
            action="store_true",
            help="with --firmware-abi: the host has SMT disabled (then SMT=0 is accepted)",
        )
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure policy decode|encode``."""
    from ..errors import InvalidInputError
    from ..policy import (
        FLAG_BITS,
        RESERVED_MBO_BIT,
        RESERVED_MBZ_MASK,
        GuestPolicy,
        describe_value,
        policy_value,
        reserved_bit_problems,
    )

    if args.host_smt_off and args.firmware_abi is None:
        raise InvalidInputError("--host-smt-off", "describes the host of a firmware: give --firmware-abi too")
    abi = parse_abi(args.firmware_abi) if args.firmware_abi is not None else None
    pol: Optional[GuestPolicy]
    if args.action == "decode":
        # Any 64-bit value is decoded; the reserved-bit rules it breaks are reported (exit 1).
        value = policy_value(args.value)
        invalid = reserved_bit_problems(value)
        pol = None if invalid else GuestPolicy.from_int(value)
    else:
        kwargs: Dict[str, Any] = {attr: bool(getattr(args, attr)) for attr, *_ in FLAG_BITS}
        kwargs.update(abi_major=args.abi_major, abi_minor=args.abi_minor)
        pol = GuestPolicy(**kwargs)
        value, invalid = pol.to_int(), []
    # The firmware's rules are checked only against a firmware the user names (its host assumed
    # to run SMT unless --host-smt-off), so plain encoding and decoding of a valid policy exit 0.
    problems = invalid + (
        [] if abi is None or pol is None else pol.firmware_problems(abi, smt_enabled=not args.host_smt_off)
    )
    fields = describe_value(value)
    if args.json:
        # An invalid value keeps the valid one's shape: its named fields, read from their bits
        # (the reserved bits are in "fields" and "problems").
        named = (value | 1 << RESERVED_MBO_BIT) & ~RESERVED_MBZ_MASK
        doc: Dict[str, Any] = {**GuestPolicy.from_int(named).to_json(), "policy": f"{value:#x}"}
        emit_json(
            {
                **doc,
                "valid": not invalid,
                "fields": fields,
                "problems": [{"field": f, "rule": r} for f, r in invalid],
                "firmware_problems": [{"field": f, "rule": r} for f, r in problems[len(invalid) :]],
            }
        )
    elif args.action == "encode":
        print(f"{value:#x}")
    else:
        print(f"policy {value:#x}")
        for row in fields:
            print(f"  {row['bits']:>5}  {row['field']:<18} {row['value']!s:<4} {row['meaning']}")
    # A broken rule fails the check (exit 1): said as an error, never as a warning.
    for f, r in problems:
        sys.stderr.write(f"{prog(args)}: error: {f}: {r}\n")
    return EXIT_CHECK_FAILED if problems else EXIT_OK
