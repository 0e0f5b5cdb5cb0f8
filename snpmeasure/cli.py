"""The ``snpmeasure`` command: argparse, one function per subcommand, nothing else.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import _core
from ._version import __version__
from .errors import Error

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with snpmeasure's one-line errors and exit code 2."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def emit_json(obj: Any) -> None:
    """Print a JSON document (sorted keys, two-space indent) to stdout."""
    print(json.dumps(obj, indent=2, sort_keys=True))


def cmd_info(args: argparse.Namespace) -> int:
    """Print the backend, kernels and CPUs the core will use."""
    info: Dict[str, Any] = {"version": __version__, **_core.simd_info()}
    if args.json:
        emit_json(info)
    else:
        for key in sorted(info):
            value = info[key]
            print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return EXIT_OK


def auto_int(text: str) -> int:
    """An int in any base Python accepts with a prefix (0x.., 0o.., 0b..) or decimal."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None


def warn(command: str, message: str) -> None:
    """One warning line on stderr."""
    sys.stderr.write(f"snpmeasure {command}: warning: {message}\n")


# ---- measure -------------------------------------------------------------------------------

def add_measure_arguments(p: argparse.ArgumentParser, *, for_measure: bool = True) -> None:
    """The guest-input flags: every flag of sev-snp-measure 0.0.13, plus snpmeasure's own."""
    from .cpus import CPU_SIGS
    from .plan import MODES
    from .profiles import BUILTIN_PROFILES

    g = p.add_argument_group("guest (the flags of sev-snp-measure 0.0.13, same defaults)")
    g.add_argument("--mode", choices=MODES, help="guest mode (required)")
    g.add_argument("--vcpus", metavar="N", type=int, help="number of guest vCPUs")
    g.add_argument("--vcpu-type", metavar="CPUTYPE", help=f"QEMU CPU model ({', '.join(CPU_SIGS)})")
    g.add_argument("--vcpu-sig", metavar="VALUE", type=auto_int, help="vCPU CPUID(1).EAX signature")
    g.add_argument("--vcpu-family", metavar="FAMILY", type=int, help="vCPU family (with --vcpu-model, --vcpu-stepping)")
    g.add_argument("--vcpu-model", metavar="MODEL", type=int, help="vCPU model")
    g.add_argument("--vcpu-stepping", metavar="STEPPING", type=int, help="vCPU stepping")
    g.add_argument("--vmm-type", metavar="VMMTYPE", choices=["QEMU", "ec2", "gce"], help="VMM type (QEMU, ec2, gce): selects the base profile")
    g.add_argument("--ovmf", metavar="PATH", help="OVMF firmware image (required)")
    g.add_argument("--kernel", metavar="PATH", help="kernel (bzImage) measured through the SEV hashes table")
    g.add_argument("--initrd", metavar="PATH", help="initrd (use with --kernel)")
    g.add_argument("--append", metavar="CMDLINE", help="kernel command line (use with --kernel)")
    g.add_argument("--guest-features", metavar="VALUE", type=auto_int, help="VMSA SEV_FEATURES (default: the profile's, 0x1; SEV-ES 0)")
    g.add_argument("--snp-ovmf-hash", metavar="HASH", help="precomputed firmware digest (hex) to start from")
    svsm = p.add_argument_group("snp:svsm mode")
    svsm.add_argument("--svsm", metavar="PATH", help="Coconut SVSM image")
    vars_group = svsm.add_mutually_exclusive_group()
    vars_group.add_argument("--vars-size", metavar="SIZE", type=int, help="size of the OVMF_VARS file in bytes")
    vars_group.add_argument("--vars-file", metavar="PATH", help="OVMF_VARS file")
    n = p.add_argument_group("snpmeasure")
    n.add_argument("--profile", choices=sorted(BUILTIN_PROFILES), help="launch profile (default qemu, or from --vmm-type)")
    n.add_argument("--profile-file", metavar="FILE.json", help="a user-defined launch profile (JSON)")
    n.add_argument("--kernel-hash", metavar="SHA256", help="SHA-256 of the kernel instead of --kernel")
    n.add_argument("--initrd-hash", metavar="SHA256", help="SHA-256 of the initrd instead of --initrd")
    n.add_argument("--append-hash", metavar="SHA256", help="SHA-256 of the command line with its NUL instead of --append")
    n.add_argument("--threads", metavar="N", type=int, help="hashing threads (default: all CPUs)")


def measure_kwargs(args: argparse.Namespace) -> Dict[str, Any]:
    """The library arguments of ``measure()`` from parsed CLI flags."""
    from .errors import InvalidInputError
    from .profiles import load_profile_file

    if args.mode is None:
        raise InvalidInputError("--mode", "is required (snp, snp:ovmf-hash, snp:svsm, sev, seves)")
    if args.ovmf is None:
        raise InvalidInputError("--ovmf", "is required")
    if args.profile and args.profile_file:
        raise InvalidInputError("--profile-file", "give --profile or --profile-file, not both")
    has_kernel = args.kernel is not None or args.kernel_hash is not None
    append = args.append
    if append == "" and not has_kernel:
        append = None  # sev-snp-measure ignores an empty --append without --kernel
    return dict(
        mode=args.mode, ovmf=args.ovmf, vcpus=args.vcpus, vcpu_type=args.vcpu_type, vcpu_sig=args.vcpu_sig,
        vcpu_family=args.vcpu_family, vcpu_model=args.vcpu_model, vcpu_stepping=args.vcpu_stepping,
        vmm_type=args.vmm_type, profile=load_profile_file(args.profile_file) if args.profile_file else args.profile,
        kernel=args.kernel, initrd=args.initrd, append=append, kernel_hash=args.kernel_hash,
        initrd_hash=args.initrd_hash, append_hash=args.append_hash, guest_features=args.guest_features,
        snp_ovmf_hash=args.snp_ovmf_hash, svsm=args.svsm, vars_size=args.vars_size, vars_file=args.vars_file,
        threads=args.threads,
    )


def _b64_arg(field: str, text: str) -> bytes:
    import base64
    import binascii

    from .errors import InvalidInputError

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(field, "is not valid base64") from None


def cmd_measure(args: argparse.Namespace) -> int:
    """``snpmeasure measure``: print the launch measurement (sev-snp-measure compatible)."""
    import base64
    import os
    import warnings as pywarnings

    from .errors import InvalidInputError
    from .measure import MODE_NAMES, measure, sev_launch_measurement
    from .profiles import list_profiles

    if args.list_profiles:
        profiles = list_profiles()
        if args.json:
            emit_json([p.to_json() for p in profiles])
        else:
            for p in profiles:
                print(f"{p.name:<12} {p.description}")
        return EXIT_OK
    kwargs = measure_kwargs(args)
    if args.dump_vmsa and args.mode not in ("seves", "snp", "snp:svsm"):
        raise InvalidInputError("--dump-vmsa", "is available in modes seves, snp and snp:svsm only")
    with pywarnings.catch_warnings(record=True) as caught:
        pywarnings.simplefilter("always")
        m = measure(**kwargs, trace=args.trace, describe_inputs=args.json)
    for w in caught:
        warn("measure", str(w.message))
    for message in m.warnings:
        warn("measure", message)

    hmac_result: Optional[Dict[str, Any]] = None
    if args.tik is not None:
        if args.mode not in ("sev", "seves"):
            raise InvalidInputError("--tik", "the LAUNCH_MEASURE HMAC exists in modes sev and seves only")
        with open(args.tik, "rb") as f:
            tik = f.read()
        expected_hmac: Optional[bytes] = None
        if args.launch_measure_blob is not None:
            blob = _b64_arg("--launch-measure-blob", args.launch_measure_blob)
            if len(blob) != 48:
                raise InvalidInputError("--launch-measure-blob", f"must decode to 48 bytes (HMAC and MNONCE), got {len(blob)}")
            expected_hmac, mnonce = blob[:32], blob[32:]
        elif args.mnonce is not None:
            mnonce = _b64_arg("--mnonce", args.mnonce)
        else:
            raise InvalidInputError("--mnonce", "--tik needs --mnonce or --launch-measure-blob")
        for flag in ("api_major", "api_minor", "build", "policy"):
            if getattr(args, flag) is None:
                raise InvalidInputError("--" + flag.replace("_", "-"), "is required with --tik")
        value = sev_launch_measurement(m.digest, tik=tik, mnonce=mnonce, api_major=args.api_major,
                                       api_minor=args.api_minor, build=args.build, policy=args.policy)
        hmac_result = {"hmac": value.hex(), "hmac_base64": base64.b64encode(value).decode(), "mnonce": mnonce.hex()}
        if expected_hmac is not None:
            hmac_result["matches_blob"] = value == expected_hmac

    if args.dump_vmsa:
        names = [f"vmsa{i}.bin" for i in range(len(m.vmsas))]
        if not args.force:
            existing = [n for n in names if os.path.exists(n)]
            if existing:
                raise InvalidInputError("--dump-vmsa", f"{existing[0]} exists; add --force to overwrite")
        for name, page in zip(names, m.vmsas):
            with open(name, "wb") as f:
                f.write(page)

    if args.json:
        out = m.to_json()
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
            text = m.hex() if args.output_format == "hex" else m.base64()
            print(f"Calculated {MODE_NAMES[args.mode]} guest measurement: {text}" if args.verbose else text)
        if hmac_result is not None:
            text = hmac_result["hmac"] if args.output_format == "hex" else hmac_result["hmac_base64"]
            print(f"launch-measure: {text}")
    if hmac_result is not None and hmac_result.get("matches_blob") is False:
        sys.stderr.write("snpmeasure measure: the LAUNCH_MEASURE HMAC in the blob does not match the computed one\n")
        return EXIT_CHECK_FAILED
    return EXIT_OK


def register_measure(sub: Any) -> None:
    p = sub.add_parser("measure", help="compute a launch measurement (sev-snp-measure compatible)",
                       description="Compute a guest launch measurement. Accepts every flag of sev-snp-measure 0.0.13.")
    add_measure_arguments(p)
    p.add_argument("-v", "--verbose", action="store_true", help="print 'Calculated ... guest measurement: ...'")
    p.add_argument("--output-format", choices=["hex", "base64"], default="hex", help="measurement output format")
    p.add_argument("--dump-vmsa", action="store_true", help="write the measured VMSAs to vmsa<N>.bin (seves, snp, snp:svsm)")
    p.add_argument("--force", action="store_true", help="let --dump-vmsa overwrite existing files")
    p.add_argument("--list-profiles", action="store_true", help="list the built-in launch profiles and exit")
    p.add_argument("--json", action="store_true", help="print JSON (measurement, mode, profile, inputs with SHA-256, ...)")
    p.add_argument("--trace", action="store_true", help="print every launch command with its GPA range, page type and the digest after it")
    s = p.add_argument_group("SEV/SEV-ES LAUNCH_MEASURE")
    s.add_argument("--tik", metavar="FILE", help="the guest owner's TIK (16-byte file)")
    s.add_argument("--mnonce", metavar="B64", help="the platform's MNONCE (base64)")
    s.add_argument("--launch-measure-blob", metavar="B64", help="query-sev-launch-measure output (HMAC and MNONCE, base64); exit 1 if the HMAC differs")
    s.add_argument("--api-major", type=auto_int, help="platform API major version")
    s.add_argument("--api-minor", type=auto_int, help="platform API minor version")
    s.add_argument("--build", type=auto_int, help="platform firmware build")
    s.add_argument("--policy", type=auto_int, help="SEV guest policy (32-bit)")
    p.set_defaults(func=cmd_measure)


Command = Callable[[argparse.Namespace], int]
_REGISTRY: List[Callable[[Any], None]] = [register_measure]


def build_parser() -> ArgumentParser:
    """The full argument parser (one subparser per subcommand)."""
    parser = ArgumentParser(prog="snpmeasure", description="AMD SEV-SNP launch measurements, computed before launch")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    p = sub.add_parser("info", help="show the backend, SIMD kernels and CPUs in use")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    for register in _REGISTRY:
        register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``snpmeasure`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc: int = args.func(args)
        return rc
    except Error as exc:
        sys.stderr.write(f"snpmeasure {args.command}: error: {exc}\n")
        return EXIT_BAD_INPUT
    except OSError as exc:
        name = f" {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"snpmeasure {args.command}: error:{name}: {exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
