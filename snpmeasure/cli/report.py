"""``snpmeasure report show|verify|kds-url``: an attestation report, its signature chain, the expected
launch, and where AMD serves its certificates."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ..errors import Error
from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import dec_int, emit_json, load_json_file, warn
from ._compat import (
    add_measure_arguments,
    apply_launch_config,
    config_given,
    measure_flags_given,
    measure_kwargs,
    refuse_lone_path_map,
    refuse_non_igvm_flags,
    single_vcpus,
)

if TYPE_CHECKING:
    from ..references import VerifyConfig


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=ArgumentParser)
    actions.required = True
    show = actions.add_parser("show", help="print every field of a report")
    verify = actions.add_parser(
        "verify", help="verify AMD's signature chain and the expected launch (exit 1 on mismatch)"
    )
    kds = actions.add_parser(
        "kds-url", help="print where AMD's KDS serves this report's VCEK, certificate chain and CRL"
    )
    for q in (show, verify, kds):
        q.add_argument(
            "file",
            help="the report: a file of the raw 1184 bytes (snpguest, go-sev-guest) or of their hex or "
            "base64, '-' for stdin, or the hex or base64 text itself",
        )
        q.add_argument(
            "--product", choices=["milan", "genoa", "turin", "venice"], help="CPU generation (v2 reports do not say)"
        )
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=run)
    add_signature_arguments(verify)
    verify.add_argument("--from-launch", metavar="JSON", help="expect what 'snpmeasure launch --json' printed")
    verify.add_argument(
        "--reference",
        metavar="FILE",
        help="reference values: the MEASUREMENT must be one of them (snpmeasure table JSON or CSV, or the CoRIM "
        "'--format corim' writes); the verdict names the row",
    )
    verify.add_argument(
        "--reference-key",
        metavar="PEM",
        help="the P-384 public key (or certificate) whose COSE_Sign1 signature a signed --reference CoRIM must carry",
    )
    verify.add_argument(
        "--config",
        metavar="FILE.json",
        help="expected values as JSON (docs/verify-config.schema.json): allowed measurements, policy, minimum TCB, "
        "product, ID and author key digests, host data, VMPL",
    )
    add_expect_arguments(verify, list(EXPECT_FLAGS))
    verify.add_argument("--min-tcb", metavar="SPEC", help="minimum REPORTED_TCB, e.g. bootloader=2,snp=5,microcode=68")
    verify.add_argument(
        "--permit-provisional-firmware",
        action="store_true",
        help="accept firmware updated but not yet committed (COMMITTED_TCB and version at most the current ones, "
        "not equal; go-sev-guest's option of the same name)",
    )
    add_measure_arguments(
        verify,
        modes=("snp", "snp:svsm", "snp:igvm"),
        mode_help="check the MEASUREMENT against the launch these flags describe (unless a launch configuration "
        "gives the mode)",
        counts=False,
    )
    i = verify.add_argument_group("snp:igvm mode")
    i.add_argument("--igvm", metavar="FILE", help="the IGVM file the guest launched (--mode snp:igvm)")
    i.add_argument("--native-zero", action="store_true", help="with --igvm: pages without data as ZERO pages (GCE)")


#: The ``--expect-*`` flags: the report field, its size in bytes (None: a number), and the help.
EXPECT_FLAGS: Dict[str, Tuple[Optional[int], str]] = {
    "measurement": (48, "MEASUREMENT, the launch digest (48 bytes; hex or base64)"),
    "host_data": (32, "HOST_DATA (32 bytes; hex, or base64 as QEMU's host-data)"),
    "report_data": (64, "REPORT_DATA, the guest's nonce (64 bytes)"),
    "family_id": (16, "FAMILY_ID from the ID block (16 bytes)"),
    "image_id": (16, "IMAGE_ID from the ID block (16 bytes)"),
    "id_key_digest": (48, "ID_KEY_DIGEST, SHA-384 of the ID public key (48 bytes)"),
    "author_key_digest": (48, "AUTHOR_KEY_DIGEST, SHA-384 of the author public key (48 bytes)"),
    "policy": (None, "POLICY (0x30000, or flags such as smt,debug): exact unless --policy-at-most"),
    "guest_svn": (None, "GUEST_SVN from the ID block"),
    "vmpl": (None, "VMPL of the requesting guest (0..3)"),
}


def add_expect_arguments(p: Any, names: Sequence[str]) -> None:
    """``--expect-NAME`` for each of ``names`` (keys of :data:`EXPECT_FLAGS`), and with the policy
    ``--policy-at-most`` (report verify, explain)."""
    for name in names:
        size, text = EXPECT_FLAGS[name]
        flag = f"--expect-{name.replace('_', '-')}"
        if size is not None:
            p.add_argument(flag, metavar="HEX|B64", help=text)
        elif name == "policy":
            p.add_argument(flag, metavar="POLICY", help=text)
            p.add_argument(
                "--policy-at-most", action="store_true", help="the report's policy may be stricter than --expect-policy"
            )
        else:
            p.add_argument(flag, type=dec_int, metavar="N", help=text)


def expected_from_flags(
    args: argparse.Namespace, names: Sequence[str], exp: Dict[str, Any], sources: Dict[str, str]
) -> None:
    """The given ``--expect-*`` flags of ``names`` into ``exp`` (each parsed, its flag in
    ``sources``); a value another source (``sources``) already sets is refused, naming both."""
    from ..errors import InvalidInputError
    from ..report import parse_hex

    for name in names:
        flag = f"--expect-{name.replace('_', '-')}"
        text = getattr(args, f"expect_{name}")
        if text is None:
            continue
        size = EXPECT_FLAGS[name][0]
        if size is not None:
            value: Any = parse_hex(flag, text, size)
        elif name == "policy":
            from ..policy import GuestPolicy

            try:
                value = GuestPolicy.parse(text).to_int()
            except InvalidInputError as exc:
                raise InvalidInputError(flag, exc.rule) from None
        else:
            value = text
        if name in sources:
            raise InvalidInputError(flag, f"the {name.replace('_', ' ')} is already set by {sources[name]}; give one")
        exp[name], sources[name] = value, flag


def add_signature_arguments(p: Any) -> None:
    """The flags that verify a report's signature chain (report verify, explain), on a parser or
    an argument group."""
    p.add_argument(
        "--vcek",
        metavar="CERT|DIR",
        help="VCEK or VLEK certificate (PEM or DER) from AMD's KDS, or a directory as snpguest writes it",
    )
    p.add_argument(
        "--certs",
        metavar="DIR",
        help="a directory in snpguest's layout: vcek.pem or vlek.pem, with ask.pem (asvk.pem) and ark.pem; "
        "PEM or DER (without the chain: the built-in one)",
    )
    p.add_argument(
        "--ask-ark", metavar="PEM", help="ASK (or ASVK) and ARK chain; default: the built-in one for the product"
    )
    p.add_argument(
        "--crl",
        metavar="FILE",
        help="AMD's CRL for the product (DER or PEM, from "
        "https://kdsintf.amd.com/vcek/v1/PRODUCT/crl, or .../vlek/v1/PRODUCT/crl for a VLEK-signed report): "
        "fail if it revokes the ASK/ASVK, is not the ARK's, or is out of date",
    )
    p.add_argument(
        "--at",
        metavar="WHEN",
        help="check certificate validity and CRL dates at this time instead of now: "
        "YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM|-HH:MM]] (T may be a space), UTC unless it names an offset (e.g. 2026-06-01, "
        "2026-06-01T12:00:00Z); for an archived report (with a CRL of that time), or a reproducible check",
    )


def run(args: argparse.Namespace) -> int:
    """``snpmeasure report show|verify``."""

    from ..errors import InvalidInputError
    from ..report import Expectations

    config = None
    if getattr(args, "config", None) is not None:  # read first: its product decodes the report
        from ..references import VerifyConfig

        config = VerifyConfig.load(args.config, "--config")
        if config.product is not None:
            if args.product not in (None, config.product):
                raise InvalidInputError("--product", f"is {args.product}, but --config says {config.product}: give one")
            args.product = config.product
    report = read_report(args.file, args.product, "--product" if config is None else "--config")
    if args.action == "kds-url":
        urls = report.kds_urls(args.product)
        if args.json:
            emit_json({"signing_key": report.signing_key, **urls})
        else:
            if urls["vcek"] is None:
                print("vcek: - (a VLEK signs this report: the cloud provider supplies it, not AMD's KDS by chip)")
            for key, url in urls.items():
                if url is not None:
                    print(f"{key}: {url}")
        return EXIT_OK
    if args.action == "show":
        if args.json:
            emit_json(report.to_json())
        else:
            _print_report(report.to_json())
        return EXIT_OK
    from ..certs import parse_utc, utc_text

    at = parse_utc(args.at, "--at")

    if (args.vcek is None) == (args.certs is None):
        raise InvalidInputError("--vcek", "give the signing certificate as --vcek CERT|DIR or --certs DIR (one)")
    product, failures = verify_signature(args, report, at)
    if product is not None:  # a v2 report's TCB layout is its certificate's product's, just checked
        report = report.for_product(product)
    permit = args.permit_provisional_firmware or (config is not None and config.permit_provisional_firmware)
    failures += report.validate(permit_provisional_firmware=permit)
    exp, sources = _expectations(args)
    if args.policy_at_most and "policy" not in exp and config is not None and config.expectations.policy is not None:
        raise InvalidInputError("--policy-at-most", "the --config gives the policy: say policy_at_most: true there")
    try:
        mismatches = report.check(Expectations(policy_at_most=args.policy_at_most, **exp))
    except InvalidInputError as exc:  # name the flag the value came from
        flag = {"min_tcb": "--min-tcb", "policy_at_most": "--policy-at-most"}.get(
            exc.field, f"--expect-{exc.field.replace('_', '-')}"
        )
        raise InvalidInputError(flag, exc.rule) from None
    failures.extend(mismatches)
    rows: List[Any] = []
    if args.reference is not None:
        from ..references import load_public_key, load_references

        if "measurement" in exp:
            raise InvalidInputError(
                "--reference", f"the measurement is also expected by {sources['measurement']}: give one"
            )
        key = None if args.reference_key is None else load_public_key(args.reference_key, "--reference-key")
        rows, missing = load_references(args.reference, "--reference", public_key=key, now=at).check(report)
        failures.extend(missing)
    elif args.reference_key is not None:
        raise InvalidInputError("--reference-key", "checks a signed --reference CoRIM: give --reference")
    checked = sorted(exp) + (["reference"] if args.reference is not None else [])
    if config is not None:
        checked += _config_checks(config, exp, sources, args.reference is not None)
        failures.extend(config.check(report))
    problems = report.reserved_problems(refused=False)  # the others failed validate() above
    if args.json:
        emit_json(
            {
                "ok": not failures,
                "product": product,
                "failures": [m.to_json() for m in failures],
                "reserved_problems": problems,
                "checked": checked,
                "reference_rows": [row.to_json() for row in rows],
                "at": utc_text(at),
            }
        )
    else:
        for m in failures:
            print(m.line())
        for p in problems:
            warn("report verify", f"must-be-zero violation: {p}")
        if not failures:
            as_of = f" as of {utc_text(at)} (--at)" if args.at is not None else ""
            print(f"OK: signed by AMD ({product}, {report.signing_key}){as_of}; {len(checked)} expectation(s) hold")
        if not any(m.field == "SIGNATURE" for m in failures):  # an unsigned MEASUREMENT names nothing
            for row in rows:
                print(f"MEASUREMENT is the reference value of {describe_row(row)}")
    return EXIT_CHECK_FAILED if failures else EXIT_OK


def _expectations(args: argparse.Namespace) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The expected report fields (Expectations' keyword arguments) and the flag each came from:
    --from-launch, the measure flags or --igvm (the MEASUREMENT and, for an IGVM file, its ID
    block's fields), the --expect-* flags and --min-tcb."""
    from ..errors import InvalidInputError
    from ..report import launch_expectations, parse_min_tcb

    exp: Dict[str, Any] = {}
    if args.from_launch is not None:
        exp.update(launch_expectations(load_json_file(args.from_launch, "--from-launch"), "--from-launch"))
    sources = {name: "--from-launch" for name in exp}
    if config_given(args):
        apply_launch_config(args)  # the configuration gives the mode (and an IGVM launch its file)
    else:
        refuse_lone_path_map(args)
    if args.native_zero and args.igvm is None:
        raise InvalidInputError("--native-zero", "applies to an IGVM launch: give --igvm FILE")
    if args.mode is not None or args.igvm is not None:
        if "measurement" in sources:
            raise InvalidInputError(
                "--mode", "the measurement is already set by --from-launch; give the measure flags or it"
            )
        source = "--igvm" if args.igvm is not None else "the measure flags"
        for key, value in _expected_launch(args).items():
            exp[key], sources[key] = value, source
    elif measure_flags_given(args):
        raise InvalidInputError(
            "--mode",
            f"is required to check the measurement ({measure_flags_given(args)[0]} was given): "
            "without it nothing would be measured",
        )
    expected_from_flags(args, list(EXPECT_FLAGS), exp, sources)
    if args.min_tcb is not None:
        exp["min_tcb"] = parse_min_tcb(args.min_tcb, "--min-tcb")
    return exp, sources


def _config_checks(config: VerifyConfig, exp: Dict[str, Any], sources: Dict[str, str], reference: bool) -> List[str]:
    """What a --config checks, as ``checked`` names it; a value it expects that a flag (or
    --reference) expects too is refused, naming both."""
    from ..errors import InvalidInputError

    if ("measurement" in exp or reference) and config.measurements:
        other = "--reference" if reference else sources["measurement"]
        raise InvalidInputError("--config", f"its measurements and {other} both expect the measurement: give one")
    set_by_config = [k for k, v in vars(config.expectations).items() if v is not None and k != "policy_at_most"]
    for listed, single in (("id_key_digests", "id_key_digest"), ("author_key_digests", "author_key_digest")):
        if getattr(config, listed) and single in exp:
            raise InvalidInputError(
                "--config", f"its {listed} and {sources.get(single, 'a flag')} both expect it: give one"
            )
    for name in set_by_config:
        if name in exp:
            raise InvalidInputError(
                "--config", f"its {name.replace('_', ' ')} is also expected by {sources.get(name, 'a flag')}: give one"
            )
    return [f"config.{k}" for k in sorted(set_by_config)] + [
        f"config.{k}" for k in ("measurements", "id_key_digests", "author_key_digests", "product") if getattr(config, k)
    ]


def _expected_launch(args: argparse.Namespace) -> Dict[str, Any]:
    """What the measure flags (or ``--igvm FILE``) fix in a report: the MEASUREMENT; and for an
    IGVM file whose ID block LAUNCH_FINISH would accept, what QEMU hands over from it (FAMILY_ID,
    IMAGE_ID, GUEST_SVN, ID_KEY_DIGEST, AUTHOR_KEY_EN and AUTHOR_KEY_DIGEST)."""
    from ..errors import InvalidInputError

    if args.mode == "snp:igvm" or args.igvm is not None:
        from ..igvm_launch import measure_igvm, open_igvm

        if args.mode not in (None, "snp:igvm"):
            raise InvalidInputError("--igvm", f"is an IGVM launch, mode snp:igvm, not {args.mode}")
        if args.igvm is None:
            raise InvalidInputError("--igvm", "--mode snp:igvm checks an IGVM launch: give the file with --igvm FILE")
        refuse_non_igvm_flags(args, "does not apply to --mode snp:igvm: the IGVM file holds the firmware and VMSAs")
        f = open_igvm(args.igvm, "--igvm")
        m = measure_igvm(
            f, profile=args.profile, native_zero=args.native_zero, vcpus=single_vcpus(args.vcpus), threads=args.threads
        )
        out: Dict[str, Any] = {"measurement": m.digest}
        check = m.id_block_check
        if check is None:
            return out
        if check.failures() or check.id_block is None or check.id_auth is None:
            warn(
                "report verify",
                f"{args.igvm}'s ID block would fail LAUNCH_FINISH under this model: only the MEASUREMENT is expected",
            )
            return out
        block, auth = check.id_block, check.id_auth
        out.update(
            family_id=block.family_id,
            image_id=block.image_id,
            guest_svn=block.guest_svn,
            id_key_digest=auth.id_key_digest,
            author_key_en=check.author_key_enabled,
        )
        if check.author_key_enabled and auth.author_key_digest is not None:
            out["author_key_digest"] = auth.author_key_digest
        return out
    from ..measurement import measure

    return {"measurement": measure(**measure_kwargs(args, "report")).digest}


def describe_row(row: Any) -> str:
    """A reference row in words: profile qemu, 4 vCPUs, EPYC-Milan (0xa00f11), guest features 0x1."""
    cpu = f", {row.vcpu_type} ({row.vcpu_sig:#x})" if row.vcpu_sig is not None else ""
    return f"profile {row.profile}, {row.vcpus} vCPU{'s' if row.vcpus != 1 else ''}{cpu}, guest features {row.guest_features:#x}"


def read_report(source: Any, product: Optional[str], product_flag: str = "--product") -> Any:
    """The report from a path, ``-`` (stdin) or its hex or base64 text (an AttestationReport);
    ``product_flag`` gave ``product``."""
    from ..report import REPORT_INPUT_LIMIT, AttestationReport

    if source == "-":  # stdin; the longest form (hex with line breaks) is a few KiB
        source = sys.stdin.buffer.read(REPORT_INPUT_LIMIT)
    from ..errors import InvalidInputError

    try:
        return AttestationReport.from_bytes(source, generation=product)
    except InvalidInputError as exc:
        if exc.field == "generation":
            raise InvalidInputError(product_flag, exc.rule) from None
        raise


def verify_signature(args: argparse.Namespace, report: Any, at: Any) -> Tuple[Optional[str], List[Any]]:
    """Check the report's signature chain from --vcek/--certs/--ask-ark/--crl: the product and,
    when the chain does not hold, the failure (a Mismatch named SIGNATURE); bad input raises."""
    import os

    from ..errors import InvalidInputError
    from ..report import Mismatch

    failures: List[Mismatch] = []
    product = None
    leaf, chain = args.vcek, args.ask_ark
    folder, flag = (args.certs, "--certs") if args.certs is not None else (args.vcek, "--vcek")
    if os.path.isdir(folder):
        from ..certs import certificate_dir

        leaf, dir_chain = certificate_dir(folder, "vlek" if report.signing_key == "VLEK" else "vcek", flag)
        if dir_chain is not None:
            if args.ask_ark is not None:
                raise InvalidInputError("--ask-ark", f"the chain is also in {folder}: give one")
            chain = dir_chain
    elif args.certs is not None:
        raise InvalidInputError("--certs", f"{args.certs} is not a directory")
    try:
        product = report.verify(leaf, ask_ark=chain, product=args.product, crl=args.crl, now=at)
    except Error as exc:
        if not isinstance(exc, InvalidInputError):
            # The same shape as an expectation that failed: what was expected, what was found.
            failures.append(Mismatch("SIGNATURE", "signed by AMD (report, VCEK/VLEK, ASK/ASVK, ARK)", str(exc)))
        else:
            raise
    return product, failures


def _print_report(doc: Dict[str, Any], indent: str = "") -> None:
    for key, value in doc.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_report(value, indent + "  ")
        elif isinstance(value, list):
            print(f"{indent}{key}: {', '.join(map(str, value)) if value else '-'}")
        elif value is None:  # a field this report's version lacks
            print(f"{indent}{key}: - (not in this report version)")
        elif isinstance(value, bool):  # as JSON writes it, not Python's True/False
            print(f"{indent}{key}: {'true' if value else 'false'}")
        else:
            print(f"{indent}{key}: {value}")
