"""``snpmeasure policy decode|encode``: the SNP guest policy."""

from __future__ import annotations

import argparse
from typing import Any, Dict

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import emit_json, parse_abi, warn


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
    e.add_argument("--abi-major", type=int, default=0, help="minimum firmware ABI major (bits 15:8)")
    e.add_argument("--abi-minor", type=int, default=0, help="minimum firmware ABI minor (bits 7:0)")
    for q in (d, e):
        q.add_argument(
            "--firmware-abi",
            metavar="MAJOR.MINOR",
            help="check against a firmware of this ABI version on a host with "
            "SMT on (exit 1 if it would refuse); without it nothing is checked",
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
    from ..policy import FLAG_BITS, GuestPolicy

    if args.action == "decode":
        pol = GuestPolicy.parse(args.value)
    else:
        kwargs: Dict[str, Any] = {attr: bool(getattr(args, attr)) for attr, *_ in FLAG_BITS}
        kwargs.update(abi_major=args.abi_major, abi_minor=args.abi_minor)
        pol = GuestPolicy(**kwargs)
    # The rules are the firmware's: checked only against a firmware the user names (its host
    # assumed to run SMT unless --host-smt-off), so plain encoding and decoding always exit 0.
    if args.host_smt_off and args.firmware_abi is None:
        raise InvalidInputError("--host-smt-off", "describes the host of a firmware: give --firmware-abi too")
    problems = (
        []
        if args.firmware_abi is None
        else pol.firmware_problems(parse_abi(args.firmware_abi), smt_enabled=not args.host_smt_off)
    )
    if args.json:
        emit_json(
            {
                **pol.to_json(),
                "fields": pol.describe(),
                "firmware_problems": [{"field": f, "rule": r} for f, r in problems],
            }
        )
    elif args.action == "encode":
        print(pol.hex())
    else:
        print(f"policy {pol.hex()}")
        for row in pol.describe():
            print(f"  {row['bits']:>5}  {row['field']:<18} {row['value']:<4} {row['meaning']}")
    for f, r in problems:
        warn("policy", f"{f}: {r}")
    return EXIT_CHECK_FAILED if problems else EXIT_OK
