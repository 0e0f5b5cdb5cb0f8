"""``snpmeasure igvmmeasure``: coconut-svsm's igvmmeasure, drop-in.

The same arguments (``[-v] [-c] [-p PLATFORM] [-n] FILE measure [-i] [-b]`` and ``FILE sign
--output OUT --id-key K [--author-key A]``), the same output (upper-case hex; its banner without
``--bare``; "Successfully created signed file: OUT") and exit behaviour: 1 when the ID block does not
match or a --check-kvm rule fails. The digest is snpmeasure's ``igvmmeasure`` model."""

from __future__ import annotations

import argparse
import sys
from typing import Any, List

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, prog
from ._args import emit_json, kvm_check_failed, write_output

RULE = "=" * 111  # igvmmeasure's banner rule


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.add_argument("input", metavar="FILE", help="the IGVM file to measure")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print igvmmeasure's progress lines (runs of one page type) before the digest",
    )
    p.add_argument(
        "-c", "--check-kvm", action="store_true", help="check the file against QEMU/KVM's restrictions (exit 1)"
    )
    p.add_argument(
        "-p",
        "--platform",
        choices=["sev", "sev-es", "sev-snp"],
        default="sev-snp",
        help="platform (sev-snp; sev and sev-es are refused: see docs/igvm.md)",
    )
    p.add_argument("-n", "--native-zero", action="store_true", help="measure pages without data as ZERO pages")
    actions = p.add_subparsers(dest="action", metavar="COMMAND", parser_class=ArgumentParser)
    actions.required = True
    m = actions.add_parser("measure", help="print the launch digest")
    m.add_argument(
        "-i", "--ignore-idblock", action="store_true", help="do not fail when the file's ID block binds another digest"
    )
    m.add_argument("-b", "--bare", action="store_true", help="print the digest alone")
    s = actions.add_parser("sign", help="write a copy with an SNP_ID_BLOCK for the file's digest")
    s.add_argument("--output", required=True, metavar="OUT", help="the signed IGVM file to write")
    s.add_argument("--id-key", required=True, metavar="PEM", help="ID private key (P-384)")
    s.add_argument("--author-key", metavar="PEM", help="author private key (P-384)")
    for q in (m, s):
        q.add_argument("--json", action="store_true", help="print JSON (snpmeasure's addition)")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure igvmmeasure``."""
    from ..errors import InvalidInputError
    from ..igvm_launch import lint_igvm, measure_igvm, open_igvm, sign_igvm

    if args.platform != "sev-snp":
        raise InvalidInputError(
            "--platform",
            f"{args.platform}: igvmmeasure's SEV and SEV-ES 'measurement' is a SHA-256 over the pages and VMSAs "
            "that no firmware computes; snpmeasure measures SEV-SNP IGVM launches (and SEV/SEV-ES OVMF launches "
            "with measure --mode sev/seves)",
        )
    f = open_igvm(args.input, "FILE")
    if args.check_kvm and kvm_check_failed(prog(args), lint_igvm(f, check_kvm_only=True), args.json):
        return EXIT_CHECK_FAILED
    if args.action == "sign":
        if args.verbose and not args.json:  # igvmmeasure measures before it signs, and shows it
            _print_progress(measure_igvm(f, native_zero=args.native_zero, trace=True).trace or [])
        data = sign_igvm(f, args.id_key, args.author_key, native_zero=args.native_zero)
        write_output("--output", args.output, data, args)
        if args.json:
            emit_json({"output": args.output})
        else:
            print(f"Successfully created signed file: {args.output}")
        return EXIT_OK
    m = measure_igvm(f, native_zero=args.native_zero, trace=args.verbose, describe_inputs=args.json)
    # igvmmeasure compares the ID block's digest only (snpmeasure measure also checks its signatures)
    check = m.id_block_check
    mismatch = check if check is not None and not args.ignore_idblock and not check.ld_matches else None
    if args.json:
        emit_json({**m.to_json(), "ok": mismatch is None})
    else:
        _print_progress(m.trace or [])
        if not args.bare:
            print(f"\n{RULE}")
            print(f"igvmmeasure '{args.input}'\nLaunch Digest: ", end="")
        print(m.digest.hex().upper())
        if not args.bare:
            print(f"{RULE}\n")
    if mismatch is not None:
        # igvmmeasure's words (IgvmMeasureError::IDBlockMismatch), on one line: a script that
        # reads "Expected: " and the upper-case digest after it reads this the same
        sys.stderr.write(
            f"{prog(args)}: error: An ID block has been provided in the IGVM file but the calculated measurement "
            f"does not match the expected measurement in the ID block. Expected: {mismatch.ld.hex().upper()}\n"
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


#: igvmmeasure's names of the page types in its -v lines (SnpPageType's Display).
_PAGE_NAMES = {
    "NORMAL": "Normal",
    "UNMEASURED": "Unmeasured",
    "ZERO": "Zero",
    "SECRETS": "Secrets",
    "CPUID": "Cpuid",
    "VMSA": "VMSA",
}


def _print_progress(trace: List[Any]) -> None:
    """igvmmeasure's -v lines: runs of pages of one type at consecutive GPAs, each as
    ``gpa 0xa0000 len 0x160000 (Normal page)`` (its log_page)."""
    runs: List[List[Any]] = []  # [page type, first gpa, length]
    for entry in trace:
        if entry.gpa is None:
            continue
        if runs and runs[-1][0] == entry.page_type and runs[-1][1] + runs[-1][2] == entry.gpa:
            runs[-1][2] += entry.length
        else:
            runs.append([entry.page_type, entry.gpa, entry.length])
    for kind, gpa, length in runs:
        print(f"gpa {gpa:#x} len {length:#x} ({_PAGE_NAMES.get(kind, kind)} page)")
