"""``snpmeasure explain``: which launch configurations produce a measurement, and how each differs
from what the user said."""

from __future__ import annotations

import argparse
import shlex
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import ProgressBar, comma_list, comma_numbers, emit_json, warn
from ._compat import (
    add_measure_arguments,
    apply_launch_config,
    config_given,
    profile_of,
    refuse_lone_path_map,
    refuse_non_igvm_flags,
    single_vcpus,
)
from ._exports import add_export_arguments, export_requested, write_export
from .report import add_expect_arguments, add_signature_arguments, expected_from_flags, read_report, verify_signature

#: ``--fix`` and ``--search-*`` spell the dimensions with hyphens.
_DIMENSION_FLAGS = {
    "profile": "profile",
    "vcpus": "vcpus",
    "vcpu-type": "vcpu_type",
    "guest-features": "guest_features",
    "kernel-hashes": "kernel_hashes",
    "cmdline": "cmdline",
}
#: Each dimension's count as text: (one, several).
_LABELS = {
    "profile": ("profile", "profiles"),
    "vcpus": ("vCPU count", "vCPU counts"),
    "vcpu_type": ("CPU signature", "CPU signatures"),
    "guest_features": ("guest-features value", "guest-features values"),
    "kernel_hashes": ("kernel-hashes setting", "kernel-hashes settings"),
    "cmdline": ("command-line variant", "command-line variants"),
}
#: The flags that check a report, refused with --measurement.
_REPORT_FLAGS = (
    "vcek",
    "certs",
    "ask_ark",
    "crl",
    "at",
    "product",
    "expect_policy",
    "policy_at_most",
    "expect_host_data",
    "expect_id_key_digest",
    "expect_author_key_digest",
)
#: The report fields explain checks beside the measurement (report verify's --expect-* flags).
_EXPECTED = ("host_data", "id_key_digest", "author_key_digest", "policy")
#: Text output lists this many matches; --json lists all.
_SHOWN = 10


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    what = p.add_argument_group("what the guest reported (one of them)")
    what.add_argument("--measurement", metavar="HEX|B64", help="the report's MEASUREMENT (48 bytes, hex or base64)")
    what.add_argument(
        "--report",
        metavar="FILE",
        help="the attestation report (raw, hex or base64; '-' for stdin): its MEASUREMENT, and its "
        "policy, key digests and host data for the --expect-* checks",
    )
    what.add_argument(
        "--product", choices=["milan", "genoa", "turin", "venice"], help="CPU generation (v2 reports do not say)"
    )
    sig = p.add_argument_group("the report's signature, checked before any search (optional)")
    add_signature_arguments(sig)
    exp = p.add_argument_group("the report's other fields (with --report)")
    add_expect_arguments(exp, _EXPECTED)
    add_measure_arguments(
        p,
        modes=("snp", "snp:svsm", "snp:igvm"),
        mode_help="the guest mode you think ran (default snp; snp:igvm with --igvm)",
        counts=False,
        seed=False,
    )
    i = p.add_argument_group("snp:igvm mode")
    i.add_argument("--igvm", metavar="FILE", help="an IGVM file: search the igvmmeasure, igvm-crate and qemu models")
    s = p.add_argument_group("the search (what you said above is an assumption, not a constraint)")
    s.add_argument(
        "--kernel-hashes",
        choices=["on", "off"],
        help="whether you think QEMU measured the kernel (default: on when a kernel is given)",
    )
    s.add_argument("--search-vcpus", metavar="COUNTS", help="vCPU counts to search (default 1-512; KVM allows 4096)")
    s.add_argument(
        "--search-vcpu-types",
        metavar="LIST",
        help="CPU models or 0x signatures to search (default: every model snpmeasure knows, one per signature)",
    )
    s.add_argument(
        "--search-profiles",
        metavar="LIST",
        help="launch profiles to search (default: every built-in one of the mode; --profile-file adds one)",
    )
    s.add_argument(
        "--search-guest-features",
        metavar="LIST",
        help="SEV_FEATURES values to search (default 0x1,0x21,0x201,0x221)",
    )
    s.add_argument(
        "--search-kernel-hashes", metavar="LIST", help="on, off or on,off (default: both when a kernel is given)"
    )
    s.add_argument(
        "--search-cmdline",
        metavar="LIST",
        help="command-line variants: given, newline (its trailing newline toggled), none (no -append); "
        "default all that apply",
    )
    s.add_argument(
        "--fix",
        action="append",
        metavar="DIM",
        help=f"search only the stated value of a dimension ({', '.join(_DIMENSION_FLAGS)}); repeat or comma list",
    )
    p.add_argument("--json", action="store_true", help="print JSON: matches, searched, dimensions, advice")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_export_arguments(p)
    # apply_launch_config then keeps a configuration's kernel booted with kernel-hashes off (to search)
    p.set_defaults(func=run, config_kernel_unmeasured=True)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure explain``: search, then print the matches or what to try."""
    from ..certs import parse_utc
    from ..errors import InvalidInputError
    from ..explanations import explain

    if (args.measurement is None) == (args.report is None):
        raise InvalidInputError("--measurement", "give what the guest reported: --measurement or --report (one)")
    report = None
    failures: List[Any] = []
    verified: Optional[str] = None
    if args.report is not None:
        report = read_report(args.report, args.product)
        if args.vcek is not None or args.certs is not None:
            verified, failures = verify_signature(args, report, parse_utc(args.at, "--at"))
            if failures:  # an unsigned report says nothing: no search
                return _refused(args, failures)
        else:
            for flag in ("ask_ark", "crl", "at"):
                if getattr(args, flag) is not None:
                    raise InvalidInputError(
                        "--" + flag.replace("_", "-"), "checks the report's signature: give --vcek or --certs"
                    )
    else:
        for flag in _REPORT_FLAGS:
            if getattr(args, flag) not in (None, False):
                raise InvalidInputError("--" + flag.replace("_", "-"), "checks a report: give --report")
    config = apply_launch_config(args) if config_given(args) else None
    if config is None:
        refuse_lone_path_map(args)
    exporting = export_requested(args)
    if exporting and args.json:
        raise InvalidInputError("--format", "writes --output; --json prints the explanation: give one")
    expectations = _expectations(args, config) if report is not None else None
    kwargs = _explain_kwargs(args)
    bar = ProgressBar(not args.quiet and not args.json)
    try:
        result = explain(
            None if report is not None else args.measurement,
            report=report,
            expectations=expectations,
            progress=bar,
            **kwargs,
        )
    finally:
        bar.close()
    if args.profile_file:  # the reproduce line names the file, which `measure` reads the profile from
        from ..profiles import BUILTIN_PROFILES

        def by_file(flags: Sequence[str]) -> Tuple[str, ...]:
            out = list(flags)
            at = out.index("--profile")
            if out[at + 1] not in BUILTIN_PROFILES:
                out[at : at + 2] = ["--profile-file", args.profile_file]
            return tuple(out)

        result.matches = [m._replace(measure_args=by_file(m.measure_args)) for m in result.matches]
    if report is not None and verified is None:
        warn("explain", "the report's signature was not checked (give --vcek or --certs)")
    elif report is not None and verified is not None:
        # the rules report verify holds every report to (provisional firmware aside: whether to
        # accept it is a verifier's choice, which does not change what the measurement is)
        result.failures[:0] = report.for_product(verified).validate(permit_provisional_firmware=True)
    # Reference values come only from a report that met every check; otherwise nothing is
    # written, and the text below says why.
    if exporting and result.ok:
        for path in write_export(args, result.reference_table()):
            print(path)
        return EXIT_OK
    if args.json:
        doc = result.to_json()
        doc["signature"] = "not checked" if report is None or verified is None else f"signed by AMD ({verified})"
        emit_json(doc)
        return EXIT_OK if result.ok else EXIT_CHECK_FAILED
    for m in result.matches[:_SHOWN]:
        print(f"MATCH: {m.describe()}")
        print(f"  differs: {'; '.join(m.notes) if m.notes else 'nothing: as stated'}")
        print(f"  measure: snpmeasure measure {shlex.join(m.measure_args)}")
    if len(result.matches) > _SHOWN:
        print(f"... and {len(result.matches) - _SHOWN} more matches (--json lists all)")
    for f in result.failures:
        print(f.line())
    counts = ", ".join(f"{n} {_LABELS[k][n != 1]}" for k, n in result.counts.items() if n)
    verdict = f"{len(result.matches)} match{'es' if len(result.matches) != 1 else ''}" if result.matches else "NO MATCH"
    print(f"{verdict} among {result.searched} configurations ({counts})")
    for note in result.unchecked:
        print(f"not checked: {note}")
    for hint in result.suggestions:
        print(f"try: {hint}")
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


def _refused(args: argparse.Namespace, failures: List[Any]) -> int:
    if args.json:
        emit_json({"ok": False, "failures": [f.to_json() for f in failures], "matches": [], "searched": 0})
    else:
        for f in failures:
            print(f.line())
        print("refused: the report's signature does not hold, so its measurement was not searched")
    return EXIT_CHECK_FAILED


def _expectations(args: argparse.Namespace, config: Any) -> Any:
    """The report's other expected fields, from the --expect-* flags and the configuration's
    sev-snp-guest object (its policy, host data and ID auth keys); both for one field is refused."""
    from ..errors import InvalidInputError
    from ..report import Expectations

    exp: Dict[str, Any] = {}
    source: Dict[str, str] = {}
    guest = getattr(config, "guest", None)
    if guest is not None:
        where = f"{config.describe}'s sev-snp-guest object"
        exp["policy"], exp["host_data"] = guest.policy, guest.host_data_bytes()
        from ..blobs import IdAuth

        raw = guest.finish_id_auth()
        auth = None if raw is None else IdAuth.from_bytes(raw)
        if auth is not None:
            exp["id_key_digest"] = auth.id_key_digest
            if guest.author_key_enabled and auth.author_key_digest is not None:
                exp["author_key_digest"] = auth.author_key_digest
        source = dict.fromkeys(exp, where)
    expected_from_flags(args, _EXPECTED, exp, source)
    if args.policy_at_most and "policy" not in exp:
        raise InvalidInputError("--policy-at-most", "compares with an expected policy: give --expect-policy")
    return Expectations(policy_at_most=args.policy_at_most, **exp)


def _explain_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """The library arguments from the guest and search flags."""
    from ..errors import InvalidInputError, show

    if args.mode not in (None, "snp", "snp:svsm", "snp:igvm"):
        raise InvalidInputError("--mode", f"explain searches SNP launches (snp, snp:svsm, snp:igvm), got {args.mode}")
    if args.mode == "snp:svsm" and args.svsm is None:
        raise InvalidInputError("--svsm", "is required in snp:svsm mode (the SVSM image)")
    if args.mode == "snp" and (args.svsm is not None or args.vars_size is not None or args.vars_file is not None):
        # as measure (and sev-snp-measure) read the same flags: mode snp measures no SVSM
        warn("explain", "--svsm/--vars-size/--vars-file only apply to --mode snp:svsm; ignored")
        args.svsm = args.vars_size = args.vars_file = None
    if args.profile is not None and args.profile_file is not None:
        raise InvalidInputError("--profile-file", "give --profile or --profile-file, not both")
    igvm_mode = args.mode == "snp:igvm" or args.igvm is not None
    if igvm_mode and args.igvm is None:
        raise InvalidInputError("--igvm", "--mode snp:igvm searches an IGVM file: give it with --igvm FILE")
    profile: Any = profile_of(args)
    fix: List[str] = []
    for item in args.fix or ():
        for word in comma_list("--fix", item):
            if word not in _DIMENSION_FLAGS:
                raise InvalidInputError(
                    "--fix", f"{show(word)} is no dimension; dimensions: {', '.join(_DIMENSION_FLAGS)}"
                )
            fix.append(_DIMENSION_FLAGS[word])
    needs = {"vcpus": args.vcpus, "vcpu_type": args.vcpu_type or args.vcpu_sig or args.vcpu_family}
    for name, value in needs.items():
        if name in fix and value is None:
            flag = "--vcpus" if name == "vcpus" else "--vcpu-type (or --vcpu-sig)"
            raise InvalidInputError("--fix", f"{name.replace('_', '-')} keeps the stated value: give {flag}")

    def switches(flag: str, text: Optional[str]) -> Optional[List[bool]]:
        if text is None:
            return None
        words = comma_list(flag, text)
        if any(w not in ("on", "off") for w in words):
            raise InvalidInputError(flag, f"must be on, off or on,off, got {show(text)}")
        return [w == "on" for w in words]

    search_profiles: Optional[List[Any]] = None
    if args.search_profiles is not None:
        search_profiles = comma_list("--search-profiles", args.search_profiles)
    if args.profile_file and search_profiles is not None:
        search_profiles.append(profile)
    common: Dict[str, Any] = dict(
        vcpus=single_vcpus(args.vcpus),
        profile=profile,
        search_vcpus=args.search_vcpus,
        search_profiles=search_profiles,
        fix=fix,
        threads=args.threads,
    )
    if igvm_mode:
        refuse_non_igvm_flags(args, "does not apply to --igvm: the file holds the firmware and VMSAs")
        unused = [
            f
            for f in (
                "kernel_hashes", "search_vcpu_types", "search_guest_features", "search_kernel_hashes",
                "search_cmdline", "allow_no_sev_metadata",
            )
            if getattr(args, f)
        ]  # fmt: skip
        if unused:
            raise InvalidInputError(
                "--" + unused[0].replace("_", "-"), "does not apply to --igvm: the file holds the firmware and VMSAs"
            )
        return dict(igvm=args.igvm, **common)
    return dict(
        ovmf=args.ovmf or None,
        manifest=args.firmware_manifest,
        svsm=args.svsm,
        vars_size=args.vars_size,
        vars_file=args.vars_file,
        kernel=args.kernel or None,
        initrd=args.initrd or None,
        append=args.append,
        kernel_hash=args.kernel_hash,
        initrd_hash=args.initrd_hash,
        append_hash=args.append_hash,
        vcpu_type=args.vcpu_type,
        vcpu_sig=args.vcpu_sig,
        vcpu_family=args.vcpu_family,
        vcpu_model=args.vcpu_model,
        vcpu_stepping=args.vcpu_stepping,
        vmm_type=args.vmm_type,
        guest_features=args.guest_features,
        kernel_hashes=None if args.kernel_hashes is None else args.kernel_hashes == "on",
        search_vcpu_types=None
        if args.search_vcpu_types is None
        else comma_list("--search-vcpu-types", args.search_vcpu_types),
        search_guest_features=None
        if args.search_guest_features is None
        else comma_numbers("--search-guest-features", args.search_guest_features),
        search_kernel_hashes=switches("--search-kernel-hashes", args.search_kernel_hashes),
        search_cmdline=None if args.search_cmdline is None else comma_list("--search-cmdline", args.search_cmdline),
        allow_no_sev_metadata=bool(args.allow_no_sev_metadata),
        **common,
    )
