"""``snpmeasure igvm show|sign|lint``: an IGVM file's contents, a signed copy, its lint findings."""

from __future__ import annotations

import argparse
import sys

from ..profiles import IGVM_PROFILE_NAMES
from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser, prog
from ._args import dec_int, emit_json, key_files_named, key_passwords, write_output


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=ArgumentParser)
    actions.required = True
    show = actions.add_parser("show", help="platforms, policy, directives per type, VP contexts, ID block")
    sign = actions.add_parser("sign", help="write a copy with an SNP_ID_BLOCK for the file's launch digest")
    lint = actions.add_parser("lint", help="igvmmeasure's --check-kvm rules and where loaders disagree (exit 1)")
    for q in (show, sign, lint):
        q.add_argument("file", help="the IGVM file")
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=run)
    lint.add_argument(
        "--check-kvm-only", action="store_true", help="only igvmmeasure's --check-kvm rules (one-vmsa, vmsa-gpa, ...)"
    )
    sign.add_argument("--output", "-o", required=True, metavar="FILE", help="the signed IGVM file to write")
    sign.add_argument("--id-key", required=True, metavar="PEM", help="ID private key (P-384, PEM or DER)")
    sign.add_argument("--author-key", metavar="PEM", help="author private key (P-384)")
    sign.add_argument(
        "--key-password-env", metavar="VAR", help="read the passphrase of encrypted keys from this environment variable"
    )
    sign.add_argument("--family-id", metavar="UUID|HEX", help="FAMILY_ID (16 bytes; default zeros)")
    sign.add_argument("--image-id", metavar="UUID|HEX", help="IMAGE_ID (16 bytes; default zeros)")
    sign.add_argument("--guest-svn", type=dec_int, default=0, help="GUEST_SVN (default 0)")
    sign.add_argument(
        "--profile",
        choices=IGVM_PROFILE_NAMES,
        help="the model whose digest the ID block binds (default igvmmeasure)",
    )
    sign.add_argument("--native-zero", action="store_true", help="measure pages without data as ZERO pages")
    sign.add_argument("--vcpus", type=dec_int, help="qemu model: the vCPU count the digest is for")
    sign.add_argument("--force", action="store_true", help="overwrite --output if it exists")


def run(args: argparse.Namespace) -> int:
    """``snpmeasure igvm show|sign|lint``."""
    from ..igvm_launch import lint_igvm, open_igvm, summarize_igvm

    args.file = open_igvm(args.file, "file")  # errors name the argument as the usage does
    if args.action == "show":
        doc = summarize_igvm(args.file)
        if args.json:
            emit_json(doc)
        else:
            _print_summary(doc)
        return EXIT_OK
    if args.action == "lint":
        findings = lint_igvm(args.file, check_kvm_only=args.check_kvm_only)
        if args.json:
            emit_json({"ok": not findings, "findings": [f.to_json() for f in findings]})
        else:
            for f in findings:
                sys.stderr.write(f"{prog(args)}: error: {f.line()}\n")
            if not findings:
                print(f"{args.file.name}: no findings")
        return EXIT_CHECK_FAILED if findings else EXIT_OK
    return _sign(args)


def _sign(args: argparse.Namespace) -> int:
    import os

    from ..errors import InvalidInputError
    from ..igvm_launch import measure_igvm, sign_igvm

    if os.path.exists(args.output) and not args.force:
        raise InvalidInputError("--output", f"{args.output} exists; add --force to overwrite")
    id_pw, author_pw = key_passwords(args)
    with key_files_named():
        data = sign_igvm(
            args.file,
            args.id_key,
            args.author_key,
            profile=args.profile,
            native_zero=args.native_zero,
            vcpus=args.vcpus,
            family_id=args.family_id,
            image_id=args.image_id,
            guest_svn=args.guest_svn,
            id_key_password=id_pw,
            author_key_password=author_pw,
        )
    write_output("--output", args.output, data, args)
    m = measure_igvm(data, profile=args.profile, native_zero=args.native_zero, vcpus=args.vcpus)
    check = m.id_block_check
    assert check is not None and not check.failures()  # what was just signed verifies
    if args.json:
        emit_json({"output": args.output, "measurement": m.hex(), "id_block": check.to_json()})
    else:
        assert check.id_auth is not None
        print(f"signed {args.output}: launch digest {m.hex()}, ID key digest {check.id_auth.id_key_digest.hex()}")
    return EXIT_OK


def _print_summary(doc: dict) -> None:  # type: ignore[type-arg]
    print(f"{doc['file']}: IGVM version {doc['format_version']}, {doc['size']} bytes, {doc['headers']} headers")
    for p in doc["platforms"]:
        print(f"  platform {p['platform']}: mask {p['compatibility_mask']:#x}, highest VTL {p['highest_vtl']}")
    for p in doc["policies"]:
        print(f"  guest policy {p['policy']} (mask {p['compatibility_mask']:#x})")
    for name, row in doc["directives"].items():
        where = f", gpa {row['gpa_first']}-{row['gpa_end']}" if row["gpa_first"] is not None else ""
        print(f"  {name:<20} {row['count']:>7}{where}")
    for vp in doc["vp_contexts"]:
        print(
            f"  VP context {vp['vp_index']}: header {vp['header']}, gpa {vp['gpa']}, mask {vp['compatibility_mask']:#x}"
        )
    block = doc["id_block"]
    if block is None:
        print("  no ID block")
    else:
        print(f"  ID block (header {block['header']}): LD {block['ld']}")
        print(f"    family {block['family_id']}, image {block['image_id']}, SVN {block['guest_svn']}")
        if "id_key_digest" in block:
            print(f"    ID key digest {block['id_key_digest']}")
            print(f"    author key digest {block['author_key_digest'] or '- (no author key)'}")
