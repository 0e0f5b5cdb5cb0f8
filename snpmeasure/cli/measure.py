"""``snpmeasure measure``: a launch measurement, with every flag of sev-snp-measure 0.0.13."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .._version import __version__
from ..errors import show
from . import EXIT_CHECK_FAILED, EXIT_OK, ArgumentParser
from ._args import auto_int, b64_arg, emit_json, kvm_check_failed, warn, write_files
from ._compat import (
    add_measure_arguments,
    apply_launch_config,
    config_given,
    is_sweep,
    measure_flags_given,
    measure_kwargs,
    refuse_lone_path_map,
    refuse_non_igvm_flags,
    say_ignored,
    with_cli_warnings,
)
from ._exports import add_export_arguments, export_requested, write_export

if TYPE_CHECKING:
    from ..measurement import Measurement


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.description = "Compute a guest launch measurement. Accepts every flag of sev-snp-measure 0.0.13."
    add_measure_arguments(p)
    p.add_argument("--version", action="version", version=f"snpmeasure {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="print 'Calculated ... guest measurement: ...'")
    p.add_argument(
        "--output-format",
        choices=["hex", "base64"],
        help="measurement output format (default hex; --json has both forms)",
    )
    p.add_argument(
        "--dump-vmsa", action="store_true", help="write the measured VMSAs to vmsa<N>.bin (seves, snp, snp:svsm)"
    )
    p.add_argument("--force", action="store_true", help="let --dump-vmsa overwrite existing files")
    p.add_argument("--list-profiles", action="store_true", help="list the built-in launch profiles and exit")
    i = p.add_argument_group("snp:igvm mode")
    i.add_argument("--igvm", metavar="FILE", help="the IGVM file to measure (--mode snp:igvm)")
    i.add_argument("--native-zero", action="store_true", help="measure pages without data as ZERO pages (GCE)")
    i.add_argument(
        "--ignore-id-block", action="store_true", help="do not fail when the file's ID block does not verify"
    )
    i.add_argument(
        "--check-kvm",
        action="store_true",
        help="fail (exit 1) on igvmmeasure's --check-kvm rules (snpmeasure igvm lint)",
    )
    p.add_argument(
        "--json", action="store_true", help="print JSON (measurement, mode, profile, inputs with SHA-256, ...)"
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="print every launch command with its GPA range, page type and the digest after it",
    )
    add_export_arguments(p)
    s = p.add_argument_group("SEV/SEV-ES LAUNCH_MEASURE")
    s.add_argument("--tik", metavar="FILE", help="the guest owner's TIK (16-byte file)")
    s.add_argument("--mnonce", metavar="B64", help="the platform's MNONCE (base64)")
    s.add_argument(
        "--launch-measure-blob",
        metavar="B64",
        help="query-sev-launch-measure output (HMAC and MNONCE, base64); exit 1 if the HMAC differs",
    )
    s.add_argument("--api-major", type=auto_int, help="platform API major version")
    s.add_argument("--api-minor", type=auto_int, help="platform API minor version")
    s.add_argument("--build", type=auto_int, help="platform firmware build")
    s.add_argument("--policy", type=auto_int, help="SEV guest policy (32-bit)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure measure``: print the launch measurement (sev-snp-measure compatible)."""

    from ..errors import InvalidInputError
    from ..measurement import MODE_NAMES, measure
    from ..profiles import list_profiles

    if args.list_profiles:
        given = [f for f in measure_flags_given(args) if f != "--mode"]
        if given:
            raise InvalidInputError(
                "--list-profiles", f"lists the profiles and measures nothing; {given[0]} does not combine with it"
            )
        if args.mode == "snp:igvm":  # the IGVM models
            from ..igvm_launch import IGVM_PROFILES

            if args.json:
                emit_json([p.to_json() for p in IGVM_PROFILES.values()])
            else:
                for igvm_model in IGVM_PROFILES.values():
                    print(f"{igvm_model.name:<12} {igvm_model.description}")
            return EXIT_OK
        profiles = list_profiles()
        if args.json:
            emit_json([p.to_json() for p in profiles])
        else:
            for p in profiles:
                print(f"{p.name:<12} {p.description}")
            print("(--mode snp:igvm --list-profiles lists the IGVM models: igvmmeasure, igvm-crate, qemu)")
        return EXIT_OK
    if args.json and (args.output_format is not None or args.verbose):
        raise InvalidInputError(
            "--json", "prints every form of the measurement; --output-format and -v shape the plain output"
        )
    sev_flags = [
        f
        for f in ("mnonce", "launch_measure_blob", "api_major", "api_minor", "build", "policy")
        if getattr(args, f) is not None
    ]
    if args.tik is None and sev_flags:
        snp = args.mode is not None and args.mode.startswith("snp")
        raise InvalidInputError(
            "--" + sev_flags[0].replace("_", "-"),
            "is an input of the SEV/SEV-ES LAUNCH_MEASURE HMAC (modes sev and seves, with --tik); an SNP launch's "
            "policy is the sev-snp-guest object's (launch --object)"
            if snp
            else "computes the LAUNCH_MEASURE HMAC, which needs --tik",
        )
    if args.mnonce is not None and args.launch_measure_blob is not None:
        raise InvalidInputError("--mnonce", "the --launch-measure-blob carries the MNONCE; give one of them")
    if args.force and not args.dump_vmsa:
        raise InvalidInputError("--force", "only lets --dump-vmsa overwrite files; it does nothing without it")
    if config_given(args):  # a whole launch configuration may make this an IGVM launch
        with _warnings_said(args):
            apply_launch_config(args)
    else:
        refuse_lone_path_map(args)
    if args.tik is not None and args.mode not in (None, "sev", "seves"):  # said before any measuring
        raise InvalidInputError("--tik", "the LAUNCH_MEASURE HMAC exists in modes sev and seves only")
    if export_requested(args):
        if args.mode is None:
            raise InvalidInputError("--mode", "is required (snp, snp:svsm or snp:igvm for an export)")
        if args.json or args.mode not in ("snp", "snp:svsm", "snp:igvm") or args.tik is not None:
            raise InvalidInputError(
                "--format",
                "exports SNP launch digests (modes snp, snp:svsm, snp:igvm) to --output; not with --json or --tik",
            )
        args.exporting = True
    igvm_flags = [f for f in ("igvm", "native_zero", "ignore_id_block", "check_kvm") if getattr(args, f)]
    if args.mode == "snp:igvm":
        return _measure_igvm(args)
    if igvm_flags:
        raise InvalidInputError("--" + igvm_flags[0].replace("_", "-"), "applies to --mode snp:igvm")
    if is_sweep(args.vcpus):
        return _measure_sweep(args)
    with _warnings_said(args):
        kwargs = measure_kwargs(args)
        if args.dump_vmsa and args.mode not in ("seves", "snp", "snp:svsm", "snp:ovmf-hash"):
            raise InvalidInputError("--dump-vmsa", "is available in modes seves, snp and snp:svsm only")
        if args.dump_vmsa and args.mode == "snp:ovmf-hash":
            say_ignored(args, "measure", "--dump-vmsa is ignored in snp:ovmf-hash mode (no VMSA is measured)")
        m = measure(**kwargs, trace=args.trace, describe_inputs=args.json or _exporting(args))
    for message in m.warnings:
        warn("measure", message)

    hmac_result = None if args.tik is None else _launch_measure(args, m.digest)

    if args.dump_vmsa:
        _dump_vmsas(args, m.vmsas)

    if _exporting(args):
        return _export(args, [m])
    if args.json:
        out = with_cli_warnings(args, m.to_json())
        if hmac_result is not None:
            out["launch_measure"] = hmac_result
        emit_json(out)
    else:
        if m.trace is not None:
            for entry in m.trace:
                print(entry.line())
        if args.mode == "snp:ovmf-hash":
            print(m.hex())
        else:
            text = m.base64() if args.output_format == "base64" else m.hex()
            print(f"Calculated {MODE_NAMES[args.mode]} guest measurement: {text}" if args.verbose else text)
        if hmac_result is not None:
            text = hmac_result["hmac_base64"] if args.output_format == "base64" else hmac_result["hmac"]
            print(f"launch-measure: {text}")
    if hmac_result is not None and hmac_result.get("matches_blob") is False:
        sys.stderr.write(
            "snpmeasure measure: error: the LAUNCH_MEASURE HMAC in the blob does not match the computed one\n"
        )
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _measure_igvm(args: argparse.Namespace) -> int:
    """``measure --mode snp:igvm --igvm FILE``: the IGVM file under a model, its ID block checked."""
    from ..errors import InvalidInputError
    from ..igvm_launch import lint_igvm, measure_igvm, open_igvm, sweep_igvm_measurements
    from ._compat import single_vcpus

    if args.igvm is None:
        raise InvalidInputError("--igvm", "--mode snp:igvm measures an IGVM file: give it with --igvm FILE")
    refuse_non_igvm_flags(args, "does not apply to --mode snp:igvm: the IGVM file holds the firmware, kernel and VMSAs")
    if args.tik is not None or args.dump_vmsa and is_sweep(args.vcpus):
        raise InvalidInputError("--tik" if args.tik else "--dump-vmsa", "does not apply here")
    f = open_igvm(args.igvm, "--igvm")
    if args.check_kvm and kvm_check_failed("snpmeasure measure", lint_igvm(f, check_kvm_only=True), args.json):
        return EXIT_CHECK_FAILED
    if is_sweep(args.vcpus):
        from ..measurement import parse_vcpu_counts

        if args.trace:
            raise InvalidInputError("--vcpus", "a range or list of counts does not combine with --trace")
        measured = sweep_igvm_measurements(
            f,
            parse_vcpu_counts(args.vcpus),
            profile=args.profile or "igvmmeasure",
            native_zero=args.native_zero,
            threads=args.threads,
            describe_inputs=True,
        )
        for message in measured[0].warnings:
            warn("measure", message)
        failures, launchable = _sweep_id_block(measured, args.ignore_id_block)
        if _exporting(args):
            # reference values only for launches LAUNCH_FINISH accepts: nothing when a check fails
            return _id_block_failed(failures) if failures else _export(args, launchable)
        if args.json:
            emit_json([with_cli_warnings(args, m.to_json()) for m in measured])
        else:
            for m in measured:
                text = m.base64() if args.output_format == "base64" else m.hex()
                print(f"{m.vcpus}\t{'Calculated SEV_SNP guest measurement: ' if args.verbose else ''}{text}")
        return _id_block_failed(failures)
    m = measure_igvm(
        f,
        profile=args.profile,
        native_zero=args.native_zero,
        vcpus=single_vcpus(args.vcpus),
        trace=args.trace,
        threads=args.threads,
        describe_inputs=args.json or _exporting(args),
    )
    for message in m.warnings:
        warn("measure", message)
    failures = [] if m.id_block_check is None or args.ignore_id_block else m.id_block_check.failures()
    if _exporting(args):
        return _id_block_failed(failures) if failures else _export(args, [m])
    if args.dump_vmsa:
        _dump_vmsas(args, m.vmsas)
    if args.json:
        emit_json(with_cli_warnings(args, m.to_json()))
    else:
        if m.trace is not None:
            for entry in m.trace:
                print(entry.line())
        text = m.base64() if args.output_format == "base64" else m.hex()
        print(f"Calculated SEV_SNP guest measurement: {text}" if args.verbose else text)
        check = m.id_block_check
        if args.verbose and check is not None and check.id_auth is not None:
            author = check.id_auth.author_key_digest
            print(f"ID key digest: {check.id_auth.id_key_digest.hex()}")
            print(f"author key digest: {author.hex() if author is not None else '- (no author key)'}")
    return _id_block_failed(failures)


def _id_block_failed(failures: List[str]) -> int:
    """Each ID block failure on stderr; exit 1 if any."""
    for failure in failures:
        sys.stderr.write(f"snpmeasure measure: error: {failure} (--ignore-id-block measures regardless)\n")
    return EXIT_CHECK_FAILED if failures else EXIT_OK


def _sweep_id_block(measured: List[Measurement], ignore: bool) -> Tuple[List[str], List[Measurement]]:
    """A swept IGVM file's ID block: (failures, the counts LAUNCH_FINISH would accept). Its
    signatures are checked as for one count; it binds one digest, so it fails only when that is
    none of the counts'. Without an ID block, or with ``ignore``, every count is accepted."""
    check = measured[0].id_block_check
    if check is None or ignore:
        return [], measured
    failures = check._replace(ld_matches=True).failures()
    launchable = [m for m in measured if m.id_block_check is not None and m.id_block_check.ld_matches]
    if not launchable:
        failures.insert(
            0, f"ID block LD {check.ld.hex()} is the launch digest of none of these counts (BAD_MEASUREMENT)"
        )
    return failures, launchable


def _measure_sweep(args: argparse.Namespace) -> int:
    """``measure --vcpus 1-64``: one line per count, or JSON."""
    from ..errors import InvalidInputError
    from ..measurement import MODE_NAMES, sweep_measurements

    spec = args.vcpus
    if args.mode is not None and args.mode not in ("snp", "snp:svsm"):
        # before measure_kwargs, which would first warn that sev and ovmf-hash modes ignore --vcpus
        raise InvalidInputError(
            "--vcpus", f"a range or list of counts applies to modes snp and snp:svsm, got mode {show(args.mode)}"
        )
    args.vcpus = "1"
    with _warnings_said(args):
        kwargs = measure_kwargs(args)
        kwargs.pop("vcpus")
        threads = kwargs.pop("threads")
        if args.trace or args.dump_vmsa or args.tik:
            raise InvalidInputError(
                "--vcpus", "a range or list of counts does not combine with --trace, --dump-vmsa or --tik"
            )
        records = sweep_measurements(
            vcpus=spec, threads=threads, describe_inputs=args.json or _exporting(args), **kwargs
        )
    for message in records[0].warnings:
        warn("measure", message)
    if _exporting(args):
        return _export(args, records)
    if args.json:  # the records measure --json prints for one count, one per count
        emit_json([with_cli_warnings(args, m.to_json()) for m in records])
        return EXIT_OK
    for m in records:
        text = m.base64() if args.output_format == "base64" else m.hex()
        line = f"Calculated {MODE_NAMES[args.mode]} guest measurement: {text}" if args.verbose else text
        print(f"{m.vcpus}\t{line}")
    return EXIT_OK


def _exporting(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "exporting", False))


def _export(args: argparse.Namespace, measured: List[Any]) -> int:
    """``--format ... --output FILE``: the measurements as reference values (paths printed)."""
    from ..exports import reference_table

    for path in write_export(args, reference_table(measured, args.vcpu_type)):
        print(path)
    return EXIT_OK


def _dump_vmsas(args: argparse.Namespace, vmsas: Sequence[bytes]) -> None:
    """--dump-vmsa: vmsa<N>.bin in the current directory, every file or none; an existing one only
    with --force."""
    import os

    from ..errors import InvalidInputError

    names = [f"vmsa{i}.bin" for i in range(len(vmsas))]
    existing = [n for n in names if os.path.exists(n)]
    if existing and not args.force:
        raise InvalidInputError("--dump-vmsa", f"{existing[0]} exists; add --force to overwrite")
    write_files("--dump-vmsa", list(zip(names, vmsas)), args)


def _launch_measure(args: argparse.Namespace, digest: bytes) -> Dict[str, Any]:
    """--tik: the SEV/SEV-ES LAUNCH_MEASURE HMAC of ``digest`` with what went into it, and whether
    it is --launch-measure-blob's."""
    import base64

    from .._files import read_input
    from ..errors import InvalidInputError
    from ..measurement import sev_launch_measurement, split_launch_measure_blob

    tik = read_input("--tik", args.tik, 4097)  # a TIK is 16 bytes: never a large file, but say a small one's size
    if len(tik) != 16:
        size = f"{len(tik)} bytes" if len(tik) <= 4096 else "more than 4096 bytes"
        hint = " (sev-tool's 32-byte tmp_tk.bin is TEK then TIK: give its last 16 bytes)" if len(tik) == 32 else ""
        raise InvalidInputError("--tik", f"must be a file of the 16-byte TIK, got {size}{hint}")
    expected_hmac: Optional[bytes] = None
    if args.launch_measure_blob is not None:
        blob = b64_arg("--launch-measure-blob", args.launch_measure_blob)
        expected_hmac, mnonce = split_launch_measure_blob(blob)
    elif args.mnonce is not None:
        mnonce = b64_arg("--mnonce", args.mnonce)
    else:
        raise InvalidInputError("--mnonce", "--tik needs --mnonce or --launch-measure-blob")
    for flag in ("api_major", "api_minor", "build", "policy"):
        if getattr(args, flag) is None:
            raise InvalidInputError("--" + flag.replace("_", "-"), "is required with --tik")
    value = sev_launch_measurement(
        digest,
        tik=tik,
        mnonce=mnonce,
        api_major=args.api_major,
        api_minor=args.api_minor,
        build=args.build,
        policy=args.policy,
        mode=args.mode,
    )
    hmac_result: Dict[str, Any] = {
        "hmac": value.hex(),
        "hmac_base64": base64.b64encode(value).decode(),
        "mnonce": mnonce.hex(),
        # what went into it, so a mismatch can be recomputed from the JSON
        "api_major": args.api_major,
        "api_minor": args.api_minor,
        "build": args.build,
        "policy": f"{args.policy:#x}",
    }
    if expected_hmac is not None:
        hmac_result["blob_hmac"] = expected_hmac.hex()
        hmac_result["matches_blob"] = value == expected_hmac
    return hmac_result


@contextlib.contextmanager
def _warnings_said(args: argparse.Namespace) -> Iterator[None]:
    """Python warnings (the library's, and the command's own) said on stderr as they were before,
    and kept for --json (``args.cli_warnings``), also when the block fails."""
    import warnings as pywarnings

    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                say_ignored(args, "measure", str(w.message))
