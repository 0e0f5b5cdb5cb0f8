"""The ``snpmeasure`` command: argparse, one function per subcommand, nothing else.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _core
from ._version import __version__
from .errors import Error, show

if TYPE_CHECKING:
    import datetime

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with snpmeasure's one-line errors and exit code 2."""

    def error(self, message: str) -> Any:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def load_json_file(path: str, flag: str) -> Any:
    """A JSON document from a file; any failure is an InvalidInputError naming the flag."""
    from .jsonfile import load_json_file as load

    return load(path, flag)


def emit_json(obj: Any) -> None:
    """Print a JSON document (sorted keys, two-space indent) to stdout."""
    import json

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
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {show(text)}") from None
    return value


def warn(command: str, message: str) -> None:
    """One warning line on stderr."""
    sys.stderr.write(f"snpmeasure {command}: warning: {message}\n")


# ---- measure -------------------------------------------------------------------------------

def add_measure_arguments(p: argparse.ArgumentParser, *, for_measure: bool = True) -> None:
    """The guest-input flags: every flag of sev-snp-measure 0.0.13, plus snpmeasure's own."""
    from .cpus import CPU_SIGS
    from .plan import MODES
    from .profiles import BUILTIN_PROFILES

    dests: List[str] = []

    def add(group: Any, *flags: str, **kw: Any) -> None:
        dests.append(group.add_argument(*flags, **kw).dest)

    g = p.add_argument_group("guest (the flags of sev-snp-measure 0.0.13, same defaults)")
    add(g, "--mode", choices=MODES, help="guest mode (required)")
    add(g, "--vcpus", metavar="N", help="number of guest vCPUs; a range or list (1-64, 1,2,4) measures each count in one pass")
    add(g, "--vcpu-type", metavar="CPUTYPE", help=f"QEMU CPU model ({', '.join(CPU_SIGS)})")
    add(g, "--vcpu-sig", metavar="VALUE", type=auto_int, help="vCPU CPUID(1).EAX signature")
    add(g, "--vcpu-family", metavar="FAMILY", type=int, help="vCPU family (with --vcpu-model, --vcpu-stepping)")
    add(g, "--vcpu-model", metavar="MODEL", type=int, help="vCPU model")
    add(g, "--vcpu-stepping", metavar="STEPPING", type=int, help="vCPU stepping")
    add(g, "--vmm-type", metavar="VMMTYPE", help="VMM type (QEMU, ec2, gce): selects the base profile")
    add(g, "--ovmf", metavar="PATH", help="OVMF firmware image (required unless --firmware-manifest)")
    add(g, "--kernel", metavar="PATH", help="kernel (bzImage) measured through the SEV hashes table")
    add(g, "--initrd", metavar="PATH", help="initrd (use with --kernel)")
    add(g, "--append", metavar="CMDLINE", help="kernel command line (use with --kernel)")
    add(g, "--guest-features", metavar="VALUE", type=auto_int, help="VMSA SEV_FEATURES (default: the profile's, 0x1; SEV-ES 0)")
    add(g, "--snp-ovmf-hash", metavar="HASH", help="precomputed firmware digest (hex) to start from")
    svsm = p.add_argument_group("snp:svsm mode")
    add(svsm, "--svsm", metavar="PATH", help="Coconut SVSM image")
    vars_group = svsm.add_mutually_exclusive_group()
    add(vars_group, "--vars-size", metavar="SIZE", type=int, help="size of the OVMF_VARS file in bytes")
    add(vars_group, "--vars-file", metavar="PATH", help="OVMF_VARS file")
    n = p.add_argument_group("snpmeasure")
    add(n, "--profile", choices=sorted(BUILTIN_PROFILES), help="launch profile (default qemu, or from --vmm-type)")
    add(n, "--profile-file", metavar="FILE.json", help="a user-defined launch profile (JSON)")
    add(n, "--firmware-manifest", metavar="FILE.json", help="measure from a firmware manifest (snpmeasure ovmf-hash --json) instead of the binary")
    add(n, "--kernel-hash", metavar="SHA256", help="SHA-256 of the kernel instead of --kernel")
    add(n, "--initrd-hash", metavar="SHA256", help="SHA-256 of the initrd instead of --initrd")
    add(n, "--append-hash", metavar="SHA256", help="SHA-256 of the command line with its NUL instead of --append")
    n.add_argument("--threads", metavar="N", type=int, help="hashing threads (default: all CPUs)")
    # Every flag above but --threads describes the guest to measure (and defaults to None): see measure_flags_given.
    p.set_defaults(measure_dests=tuple(dests))


def measure_flags_given(args: argparse.Namespace) -> List[str]:
    """The guest-measurement flags (add_measure_arguments) given on the command line."""
    return ["--" + d.replace("_", "-") for d in getattr(args, "measure_dests", ()) if getattr(args, d) is not None]


def measure_kwargs(args: argparse.Namespace, command: str = "measure") -> Dict[str, Any]:
    """The library arguments of ``measure()`` from parsed CLI flags.

    Flags that sev-snp-measure 0.0.13 accepts and ignores are ignored here too (with a warning),
    and its precedence rules are kept, so both print the same measurement for the same arguments.
    """
    from .errors import InvalidInputError
    from .profiles import load_profile_file

    if args.mode is None:
        raise InvalidInputError("--mode", "is required (snp, snp:ovmf-hash, snp:svsm, sev, seves)")
    if args.ovmf is None and args.firmware_manifest is None:
        raise InvalidInputError("--ovmf", "is required (or --firmware-manifest)")
    if args.profile and args.profile_file:
        raise InvalidInputError("--profile-file", "give --profile or --profile-file, not both")
    vcpu_flags = ("vcpus", "vcpu_type", "vcpu_sig", "vcpu_family", "vcpu_model", "vcpu_stepping", "guest_features")
    unused = {"sev": (vcpu_flags, "SEV measures the firmware and kernel hashes, no VMSA"),
              "snp:ovmf-hash": (vcpu_flags + ("kernel", "initrd", "append", "kernel_hash", "initrd_hash", "append_hash",
                                              "profile", "profile_file", "vmm_type"), "it hashes the firmware pages only")}.get(args.mode)
    if unused is not None:
        given = ["--" + f.replace("_", "-") for f in unused[0] if getattr(args, f) not in (None, "")]
        if given:
            warn(command, f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} ignored in {args.mode} mode ({unused[1]})")
        # Ignored means not measured, so not checked against the launch rules (the library would
        # refuse --vcpus 0) and not reported (JSON "vcpus": null); its syntax is still checked, as
        # sev-snp-measure's argparse does.
        _single_vcpus(args.vcpus)
        args = argparse.Namespace(**{**vars(args), **dict.fromkeys(vcpu_flags)})
    # sev-snp-measure tests these with truthiness: an empty path is "not given".
    kernel, initrd = args.kernel or None, args.initrd or None
    has_kernel = kernel is not None or args.kernel_hash is not None
    append = args.append
    if append == "" and not has_kernel:
        append = None  # sev-snp-measure ignores an empty --append without --kernel
    # sev-snp-measure's vCPU precedence: --vcpu-family, then --vcpu-sig, then --vcpu-type, each only
    # if non-zero; a zero family or signature alone is honoured (zero is a valid value).
    fms = (args.vcpu_family, args.vcpu_model, args.vcpu_stepping)
    sig = args.vcpu_sig
    if args.vcpu_family == 0 and (sig or args.vcpu_type):
        fms = (None, None, None)
    if sig == 0 and args.vcpu_type and not fms[0]:
        sig = None
    vmm_type, guest_features, svsm, vars_size, vars_file = args.vmm_type, args.guest_features, args.svsm, args.vars_size, args.vars_file
    if args.mode == "snp:ovmf-hash":
        vmm_type = None  # checked by sev-snp-measure only after it printed the hash
    if args.mode == "snp:svsm":
        if guest_features not in (None, 1):
            warn(command, f"--guest-features {guest_features:#x} is ignored in snp:svsm mode (the SVSM's VMSAs use 0x1)")
        guest_features = None
        if has_kernel or initrd or append:
            warn(command, "--kernel/--initrd/--append are ignored in snp:svsm mode")
            kernel = initrd = append = None
    elif svsm is not None or vars_size is not None or vars_file is not None:
        warn(command, "--svsm/--vars-size/--vars-file only apply to --mode snp:svsm; ignored")
        svsm = vars_size = vars_file = None
    return dict(
        mode=args.mode, ovmf=args.ovmf, manifest=args.firmware_manifest, vcpus=_single_vcpus(args.vcpus),
        vcpu_type=args.vcpu_type, vcpu_sig=sig, vcpu_family=fms[0], vcpu_model=fms[1], vcpu_stepping=fms[2],
        vmm_type=vmm_type, profile=load_profile_file(args.profile_file) if args.profile_file else args.profile,
        kernel=kernel, initrd=initrd, append=append, kernel_hash=args.kernel_hash,
        initrd_hash=args.initrd_hash, append_hash=args.append_hash, guest_features=guest_features,
        snp_ovmf_hash=args.snp_ovmf_hash, svsm=svsm, vars_size=vars_size, vars_file=vars_file, threads=args.threads,
    )


def _single_vcpus(spec: Optional[str]) -> Optional[int]:
    from .errors import InvalidInputError

    if spec is None:
        return None
    try:
        return int(spec)  # Python's int syntax, as sev-snp-measure's type=int
    except ValueError:
        raise InvalidInputError("--vcpus", f"must be a whole number here, got {show(spec)}") from None


def _is_sweep(spec: Optional[str]) -> bool:
    if spec is None:
        return False
    try:
        int(spec)
        return False
    except ValueError:
        return any(c in spec for c in ",-")


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
    from .measurement import MODE_NAMES, measure, sev_launch_measurement
    from .profiles import list_profiles

    if args.list_profiles:
        if measure_flags_given(args):
            raise InvalidInputError("--list-profiles", f"lists the profiles and measures nothing; {measure_flags_given(args)[0]} "
                                    "does not combine with it")
        profiles = list_profiles()
        if args.json:
            emit_json([p.to_json() for p in profiles])
        else:
            for p in profiles:
                print(f"{p.name:<12} {p.description}")
        return EXIT_OK
    if args.json and (args.output_format is not None or args.verbose):
        raise InvalidInputError("--json", "prints every form of the measurement; --output-format and -v shape the plain output")
    sev_flags = [f for f in ("mnonce", "launch_measure_blob", "api_major", "api_minor", "build", "policy") if getattr(args, f) is not None]
    if args.tik is None and sev_flags:
        raise InvalidInputError("--" + sev_flags[0].replace("_", "-"), "computes the LAUNCH_MEASURE HMAC, which needs --tik")
    if args.mnonce is not None and args.launch_measure_blob is not None:
        raise InvalidInputError("--mnonce", "the --launch-measure-blob carries the MNONCE; give one of them")
    if args.force and not args.dump_vmsa:
        raise InvalidInputError("--force", "only lets --dump-vmsa overwrite files; it does nothing without it")
    if _is_sweep(args.vcpus):
        return _measure_sweep(args)
    kwargs = measure_kwargs(args)
    if args.dump_vmsa and args.mode not in ("seves", "snp", "snp:svsm", "snp:ovmf-hash"):
        raise InvalidInputError("--dump-vmsa", "is available in modes seves, snp and snp:svsm only")
    if args.dump_vmsa and args.mode == "snp:ovmf-hash":
        warn("measure", "--dump-vmsa is ignored in snp:ovmf-hash mode (no VMSA is measured)")
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
        from .files import open_input

        with open_input("--tik", args.tik) as f:
            tik = f.read(17)  # a TIK is 16 bytes: never read a large file
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
            with open(name, "wb") as out_file:
                out_file.write(page)

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
            text = m.base64() if args.output_format == "base64" else m.hex()
            print(f"Calculated {MODE_NAMES[args.mode]} guest measurement: {text}" if args.verbose else text)
        if hmac_result is not None:
            text = hmac_result["hmac_base64"] if args.output_format == "base64" else hmac_result["hmac"]
            print(f"launch-measure: {text}")
    if hmac_result is not None and hmac_result.get("matches_blob") is False:
        sys.stderr.write("snpmeasure measure: the LAUNCH_MEASURE HMAC in the blob does not match the computed one\n")
        return EXIT_CHECK_FAILED
    return EXIT_OK


def _measure_sweep(args: argparse.Namespace) -> int:
    """``measure --vcpus 1-64``: one line per count, or JSON."""
    import base64

    from .errors import InvalidInputError
    from .measurement import MODE_NAMES, sweep

    spec = args.vcpus
    if args.mode is not None and args.mode not in ("snp", "snp:svsm"):
        # before measure_kwargs, which would first warn that sev and ovmf-hash modes ignore --vcpus
        raise InvalidInputError("--vcpus", f"a range or list of counts applies to modes snp and snp:svsm, got mode {show(args.mode)}")
    args.vcpus = "1"
    kwargs = measure_kwargs(args)
    kwargs.pop("vcpus")
    threads = kwargs.pop("threads")
    if args.trace or args.dump_vmsa or args.tik:
        raise InvalidInputError("--vcpus", "a range or list of counts does not combine with --trace, --dump-vmsa or --tik")
    results = sweep(vcpus=spec, threads=threads, **kwargs)
    if args.json:
        from .measurement import resolve_profile

        profile = resolve_profile(kwargs["profile"], kwargs["vmm_type"], args.mode).name
        emit_json({"mode": args.mode, "profile": profile,
                   "measurements": {str(n): d.hex() for n, d in results.items()}})
        return EXIT_OK
    for n, d in results.items():
        text = base64.b64encode(d).decode() if args.output_format == "base64" else d.hex()
        print(f"{n}\tCalculated {MODE_NAMES[args.mode]} guest measurement: {text}" if args.verbose else f"{n}\t{text}")
    return EXIT_OK


# ---- ovmf-hash and table ---------------------------------------------------------------------

def cmd_ovmf_hash(args: argparse.Namespace) -> int:
    """``snpmeasure ovmf-hash``: the firmware-pages digest, or (--json) the firmware manifest."""
    from .images import FirmwareManifest

    man = FirmwareManifest.from_image(args.ovmf, threads=args.threads)
    if args.json:
        emit_json(man.to_json())
    else:
        print(man.ovmf_digest.hex())
    return EXIT_OK


def register_ovmf_hash(p: "ArgumentParser") -> None:
    p.add_argument("--ovmf", metavar="PATH", required=True, help="OVMF firmware image")
    p.add_argument("--threads", type=int, help="hashing threads (default: all CPUs)")
    p.add_argument("--json", action="store_true", help="print the versioned firmware manifest")
    p.set_defaults(func=cmd_ovmf_hash)


class _ProgressBar:
    """A progress bar on stderr, shown only on a terminal and only after the first second."""

    def __init__(self, enabled: bool) -> None:
        import time

        self.enabled = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        import time

        if not self.enabled or (not self.shown and time.monotonic() - self.t0 < 1.0):
            return
        self.shown = True
        width = 40
        fill = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def cmd_table(args: argparse.Namespace) -> int:
    """``snpmeasure table``: reference values for every combination, as JSON or CSV."""
    from .errors import InvalidInputError
    from .tables import table, table_csv, table_json

    if (args.ovmf is None) == (args.firmware_manifest is None):
        raise InvalidInputError("--ovmf", "give the firmware as --ovmf or as --firmware-manifest (one of them)")
    features: List[Optional[int]] = [None]
    if args.guest_features is not None:
        features = []
        for item in _comma_list("--guest-features", args.guest_features):
            try:
                features.append(int(item, 0))
            except ValueError:
                raise InvalidInputError("--guest-features", f"must be numbers such as 0x1,0x21, got {show(item)}") from None
    bar = _ProgressBar(not args.quiet)
    try:
        rows = table(ovmf=args.ovmf, manifest=args.firmware_manifest, vcpus=args.vcpus,
                     vcpu_types=_comma_list("--vcpu-type", args.vcpu_type), profiles=_comma_list("--profile", args.profile),
                     guest_features=features, kernel=args.kernel, initrd=args.initrd,
                     append=args.append, kernel_hash=args.kernel_hash, initrd_hash=args.initrd_hash,
                     append_hash=args.append_hash, threads=args.threads, progress=bar)
    finally:
        bar.close()
    if args.csv:
        sys.stdout.write(table_csv(rows))
    else:
        firmware = {"ovmf": args.ovmf, "firmware_manifest": args.firmware_manifest}
        inputs = {k: getattr(args, k) for k in ("kernel", "initrd", "append", "kernel_hash", "initrd_hash", "append_hash") if getattr(args, k) is not None}
        emit_json(table_json(rows, firmware=firmware, inputs=inputs))
    return EXIT_OK


def _comma_list(flag: str, text: str) -> List[str]:
    """The items of a comma list; an empty item (``a,,b``, a trailing comma) is an error."""
    from .errors import InvalidInputError

    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise InvalidInputError(flag, f"has an empty item in {show(text)}")
    return items


def register_table(p: "ArgumentParser") -> None:
    p.add_argument("--ovmf", metavar="PATH", help="OVMF firmware image")
    p.add_argument("--firmware-manifest", metavar="FILE.json", help="a firmware manifest instead of the binary")
    p.add_argument("--vcpus", default="1", help="counts: 1-240, 1,2,4,8 (default 1)")
    p.add_argument("--vcpu-type", required=True, help="comma list of QEMU CPU models or 0x signatures")
    p.add_argument("--profile", default="qemu", help="comma list of launch profiles")
    p.add_argument("--guest-features", help="comma list of SEV_FEATURES values (default: each profile's)")
    for flag in ("kernel", "initrd", "append", "kernel-hash", "initrd-hash", "append-hash"):
        p.add_argument(f"--{flag}")
    p.add_argument("--threads", type=int, help="hashing threads (default: all CPUs)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (the default)")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_table)


def register_measure(p: "ArgumentParser") -> None:
    p.description = "Compute a guest launch measurement. Accepts every flag of sev-snp-measure 0.0.13."
    add_measure_arguments(p)
    p.add_argument("--version", action="version", version=f"snpmeasure {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="print 'Calculated ... guest measurement: ...'")
    p.add_argument("--output-format", choices=["hex", "base64"], help="measurement output format (default hex; --json has both forms)")
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


# ---- policy ---------------------------------------------------------------------------------

def cmd_policy(args: argparse.Namespace) -> int:
    """``snpmeasure policy decode|encode``."""
    from .errors import InvalidInputError
    from .policy import FLAG_BITS, GuestPolicy

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
    problems = ([] if args.firmware_abi is None else
                pol.firmware_problems(_parse_abi(args.firmware_abi), smt_enabled=not args.host_smt_off))
    if args.json:
        emit_json({**pol.to_json(), "fields": pol.describe(),
                   "firmware_problems": [{"field": f, "rule": r} for f, r in problems]})
    elif args.action == "encode":
        print(pol.hex())
    else:
        print(f"policy {pol.hex()}")
        for row in pol.describe():
            print(f"  {row['bits']:>5}  {row['field']:<18} {row['value']:<4} {row['meaning']}")
    for f, r in problems:
        warn("policy", f"{f}: {r}")
    return EXIT_CHECK_FAILED if problems else EXIT_OK


def _parse_abi(text: str) -> Any:
    import re

    from .errors import InvalidInputError

    m = re.fullmatch(r"(\d{1,3})\.(\d{1,3})", text.strip())
    if not m or int(m.group(1)) > 255 or int(m.group(2)) > 255:
        raise InvalidInputError("--firmware-abi", f"must be MAJOR.MINOR with each part 0..255 (the ABI version's two bytes), e.g. 1.55, got {show(text)}")
    return (int(m.group(1)), int(m.group(2)))


def register_policy(p: "ArgumentParser") -> None:
    from .policy import FLAG_BITS

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
        q.add_argument("--firmware-abi", metavar="MAJOR.MINOR", help="check against a firmware of this ABI version on a host with "
                       "SMT on (exit 1 if it would refuse); without it nothing is checked")
        q.add_argument("--host-smt-off", action="store_true", help="with --firmware-abi: the host has SMT disabled (then SMT=0 is accepted)")
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=cmd_policy)


# ---- id-block -------------------------------------------------------------------------------

def _read_password(env_name: Optional[str]) -> Optional[bytes]:
    import os

    if env_name is None:
        return None
    from .errors import InvalidInputError

    value = os.environb.get(os.fsencode(env_name)) if os.supports_bytes_environ else None
    if value is None:
        text = os.environ.get(env_name)
        if text is None:
            raise InvalidInputError("--key-password-env", f"environment variable {env_name} is not set")
        value = os.fsencode(text)  # the variable's bytes, whatever the locale
    return value


def _password_for(flag: str, key_path: Optional[str], password: Optional[bytes]) -> Optional[bytes]:
    """--key-password-env applies to each key that is encrypted: a PEM key says so in its armour
    (so an encrypted ID key can go with a plain author key); a DER key is given the passphrase."""
    if password is None or key_path is None:
        return None
    from .files import open_input

    with open_input(flag, key_path) as f:
        head = f.read(4096)
    return password if b"ENCRYPTED" in head or b"-----BEGIN" not in head else None


def cmd_id_block(args: argparse.Namespace) -> int:
    """``snpmeasure id-block``: sign an ID block (snp-create-id-block compatible output)."""
    import base64

    from .blobs import sign_id_block
    from .errors import InvalidInputError
    from .measurement import measure

    sources = [x for x in (args.measurement, args.measurement_hex) if x is not None] + ([1] if args.from_measure else [])
    if len(sources) != 1:
        raise InvalidInputError("--measurement", "give exactly one of --measurement, --measurement-hex, --from-measure")
    if args.id_key is None:
        raise InvalidInputError("--id-key", "is required (the ID key signs the ID block)")
    if not args.from_measure and measure_flags_given(args):
        raise InvalidInputError(measure_flags_given(args)[0], "describes a guest to measure: it needs --from-measure "
                                "(not --measurement or --measurement-hex)")
    if args.from_measure and args.mode is not None and args.mode not in ("snp", "snp:svsm"):
        raise InvalidInputError("--mode", f"an ID block binds an SNP launch digest; {args.mode} is not an SNP mode")
    if args.from_measure:
        ld = measure(**measure_kwargs(args, "id-block")).digest
    elif args.measurement is not None:
        import binascii

        try:  # lenient, as snp-create-id-block decodes it
            ld = base64.b64decode(args.measurement)
        except (binascii.Error, ValueError):
            raise InvalidInputError("--measurement", "is not valid base64") from None
    else:
        try:
            ld = bytes.fromhex(args.measurement_hex)
        except ValueError:
            raise InvalidInputError("--measurement-hex", "must be 96 hex digits") from None
    if len(ld) != 48:
        flag = "--measurement-hex" if args.measurement_hex is not None else "--measurement"
        raise InvalidInputError(flag, f"must be 48 bytes (a launch digest), got {len(ld)}")
    password = _read_password(args.key_password_env)
    from .files import InputFileError

    try:
        block, auth = sign_id_block(
            ld, args.id_key, args.author_key, family_id=args.family_id, image_id=args.image_id, guest_svn=args.guest_svn,
            policy=args.id_policy, id_key_password=_password_for("--id-key", args.id_key, password),
            author_key_password=_password_for("--author-key", args.author_key, password),
        )
    except InputFileError as exc:  # a key file that cannot be read is named by its flag
        raise InputFileError("--" + exc.field.replace("_", "-"), exc.rule, exc.errno, exc.filename) from None
    if args.json:
        emit_json({
            "id_block": block.base64(), "id_auth": auth.base64(), "id_block_fields": block.to_json(),
            "id_key_digest": auth.id_key_digest.hex(),
            "author_key_digest": auth.author_key_digest.hex() if auth.author_key_digest else None,
            "author_key_enabled": auth.author_key is not None,
        })
        return EXIT_OK
    print(f"id-block={block.base64()},id-auth={auth.base64()}")
    print(f"id_key_hash: {base64.b64encode(auth.id_key_digest).decode()}")
    if auth.author_key_digest is not None:
        print(f"author_key: {base64.b64encode(auth.author_key_digest).decode()}")
    return EXIT_OK


def register_id_block(p: "ArgumentParser") -> None:
    p.add_argument("--measurement", metavar="B64", help="the launch digest, base64 (snp-create-id-block's input)")
    p.add_argument("--measurement-hex", metavar="HEX", help="the launch digest, hex")
    p.add_argument("--from-measure", action="store_true", help="compute the launch digest from the measure flags below")
    p.add_argument("--id-key", "--idkey", dest="id_key", metavar="PEM", help="ID private key (P-384, PEM or DER)")
    p.add_argument("--author-key", "--authorkey", dest="author_key", metavar="PEM", help="author private key (P-384)")
    p.add_argument("--key-password-env", metavar="VAR", help="read the passphrase of encrypted keys from this environment variable")
    p.add_argument("--family-id", metavar="UUID|HEX", help="FAMILY_ID (16 bytes)")
    p.add_argument("--image-id", metavar="UUID|HEX", help="IMAGE_ID (16 bytes)")
    p.add_argument("--guest-svn", type=int, default=0, help="GUEST_SVN")
    p.add_argument("--policy", dest="id_policy", default="0x30000", metavar="POLICY",
                   help="the launch policy the ID block binds: 0x30000 (default), or flags such as smt,debug")
    p.add_argument("--json", action="store_true", help="print JSON with every field")
    add_measure_arguments(p)
    p.set_defaults(func=cmd_id_block)


# ---- qemu-object --------------------------------------------------------------------------------

def guest_object_from_args(args: argparse.Namespace) -> Any:
    """A SevSnpGuest from --object / --qmp / --libvirt, or None."""
    from .errors import InvalidInputError
    from .qemu import SevSnpGuest

    given = [x for x in (args.object, args.qmp, args.libvirt) if x is not None]
    if len(given) > 1:
        raise InvalidInputError("--object", "give one of --object, --qmp, --libvirt")
    if args.object is not None:
        return SevSnpGuest.from_cli(args.object)
    if args.qmp is not None:
        return SevSnpGuest.from_qmp(load_json_file(args.qmp, "--qmp"))
    if args.libvirt is not None:
        from .files import open_input

        with open_input("--libvirt", args.libvirt) as f:
            raw = f.read(1 << 20)  # a <launchSecurity> element is a few KiB
        try:
            return SevSnpGuest.from_libvirt(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInputError("--libvirt", "is not UTF-8 text") from None
    return None


#: qemu-object's flags that build an object field by field (their defaults are None or False).
BUILDER_FLAGS = ("id", "policy", "id_block", "id_auth", "from_id_block", "host_data", "guest_visible_workarounds",
                 "author_key_enabled", "vcek_disabled", "kernel_hashes", "cbitpos", "reduced_phys_bits", "debug_swap",
                 "secure_tsc", "tsc_frequency")


def _from_id_block(path: str) -> Dict[str, Any]:
    """The fields of 'snpmeasure id-block --json' output that the object takes, checked."""
    from .errors import InvalidInputError
    from .policy import GuestPolicy

    doc = load_json_file(path, "--from-id-block")
    if not isinstance(doc, dict) or not isinstance(doc.get("id_block"), str) or not isinstance(doc.get("id_auth"), str):
        raise InvalidInputError("--from-id-block", "must be the JSON of 'snpmeasure id-block --json' (id_block and id_auth strings)")
    fields = doc.get("id_block_fields", {})
    enabled = doc.get("author_key_enabled", False)
    if not isinstance(fields, dict) or not isinstance(fields.get("policy", "0x30000"), (str, int)) or isinstance(fields.get("policy"), bool):
        raise InvalidInputError("--from-id-block", "id_block_fields.policy must be a policy string or number")
    if not isinstance(enabled, bool):
        raise InvalidInputError("--from-id-block", f"author_key_enabled must be true or false, got {show(enabled)}")
    policy = GuestPolicy.parse(fields.get("policy", "0x30000")).to_int()
    return {"id_block": doc["id_block"], "id_auth": doc["id_auth"], "author_key_enabled": enabled, "policy": policy}


def cmd_qemu_object(args: argparse.Namespace) -> int:
    """``snpmeasure qemu-object``: emit the sev-snp-guest object as -object, QMP or libvirt XML."""

    from .errors import InvalidInputError
    from .policy import GuestPolicy
    from .qemu import SevSnpGuest

    if args.json and args.format not in (None, "qmp"):
        raise InvalidInputError("--json", f"prints QMP JSON; it does not combine with --format {args.format}")
    fmt = args.format or ("qmp" if args.json else "cli")
    obj = guest_object_from_args(args)
    if obj is not None:
        given = [f for f in BUILDER_FLAGS if getattr(args, f) is not None and getattr(args, f) is not False]
        if given:
            raise InvalidInputError("--" + given[0].replace("_", "-"), "builds an object field by field; it does not combine "
                                    "with an object given whole (--object, --qmp, --libvirt)")
    else:
        obj = SevSnpGuest(id="sev0" if args.id is None else args.id)
        if args.from_id_block is not None:
            for flag in ("policy", "id_block", "id_auth", "author_key_enabled"):
                if getattr(args, flag) is not None and getattr(args, flag) is not False:
                    raise InvalidInputError("--" + flag.replace("_", "-"), "is set by --from-id-block (the ID block binds the "
                                            "policy, and the ID auth signs the ID block); give one")
            for attr, value in _from_id_block(args.from_id_block).items():
                setattr(obj, attr, value)
        for attr in ("id_block", "id_auth", "host_data", "guest_visible_workarounds"):
            value = getattr(args, attr)
            if value is not None:
                from .blobs import parse_blob
                import base64

                setattr(obj, attr, base64.b64encode(parse_blob(attr.replace("_", "-"), value)).decode())
        if args.policy is not None:
            obj.policy = GuestPolicy.parse(args.policy).to_int()
        for flag in ("author_key_enabled", "vcek_disabled", "kernel_hashes", "debug_swap", "secure_tsc"):
            if getattr(args, flag):
                setattr(obj, flag, True)
        obj.cbitpos = 51 if args.cbitpos is None else args.cbitpos
        obj.reduced_phys_bits = 1 if args.reduced_phys_bits is None else args.reduced_phys_bits
        obj.tsc_frequency = args.tsc_frequency
        obj.validate(require_mandatory=True)
    if fmt == "cli":
        print(obj.to_cli())
    elif fmt == "qmp":
        emit_json(obj.to_qmp())
    else:
        print(obj.to_libvirt())
    return EXIT_OK


def add_object_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--object", metavar="STR", help="a sev-snp-guest -object string")
    p.add_argument("--qmp", metavar="FILE", help="a QMP object-add command (JSON)")
    p.add_argument("--libvirt", metavar="FILE", help="libvirt XML with <launchSecurity type='sev-snp'>")


def register_qemu_object(p: "ArgumentParser") -> None:
    add_object_source(p)
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
    p.add_argument("--cbitpos", type=int, help="C-bit position, host CPUID 0x8000001F EBX[5:0] (default 51: EPYC Milan/Genoa/Turin)")
    p.add_argument("--reduced-phys-bits", type=int, help="physical address bits lost to encryption, 1..63 (default 1)")
    p.add_argument("--debug-swap", action="store_true", help="QEMU >= 10.2: SEV_FEATURES DebugSwap (bit 5)")
    p.add_argument("--secure-tsc", action="store_true", help="QEMU >= 10.2: SEV_FEATURES SecureTSC (bit 9)")
    p.add_argument("--tsc-frequency", type=int, help="QEMU >= 10.2: guest TSC frequency in kHz (with --secure-tsc)")
    p.add_argument("--format", choices=["cli", "qmp", "libvirt"], help="output form (default cli)")
    p.add_argument("--json", action="store_true", help="same as --format qmp")
    p.set_defaults(func=cmd_qemu_object)


# ---- launch ----------------------------------------------------------------------------------

def cmd_launch(args: argparse.Namespace) -> int:
    """``snpmeasure launch``: replay LAUNCH_START, the measured pages and LAUNCH_FINISH."""
    from .errors import InvalidInputError
    from .firmware import Firmware, FirmwareError, HostModel, KvmError
    from .measurement import measure

    obj = guest_object_from_args(args)
    if obj is None:
        raise InvalidInputError("--object", "give the sev-snp-guest object with --object, --qmp or --libvirt")
    if args.mode is not None and args.mode != "snp":
        raise InvalidInputError("--mode", "snpmeasure launch replays SNP launches (mode snp)")
    args.mode = "snp"
    kwargs = measure_kwargs(args, "launch")
    if (kwargs["kernel"] is not None or kwargs["kernel_hash"] is not None) and not obj.kernel_hashes:
        warn("launch", "a kernel is given but the object has kernel-hashes=off: QEMU then measures no kernel hashes, and neither does this replay")
        for k in ("kernel", "initrd", "append", "kernel_hash", "initrd_hash", "append_hash"):
            kwargs[k] = None
    wanted_features = obj.sev_features()
    if kwargs["guest_features"] is None:
        kwargs["guest_features"] = wanted_features
    elif kwargs["guest_features"] != wanted_features:
        warn("launch", f"--guest-features {kwargs['guest_features']:#x} differs from the object's SEV_FEATURES {wanted_features:#x} "
             "(debug-swap/secure-tsc); measuring with --guest-features")
    if args.no_kvm_checks and args.kvm_policy_bits is not None:
        raise InvalidInputError("--kvm-policy-bits", "is one of KVM's checks, which --no-kvm-checks turns off; give one")
    host = HostModel(abi=_parse_abi(args.firmware_abi) if args.firmware_abi else None, smt_enabled=not args.host_smt_off,
                     kvm_checks=not args.no_kvm_checks, kvm_policy_bits=args.kvm_policy_bits)
    try:
        fw = Firmware(host=host, threads=kwargs.pop("threads"))
    except InvalidInputError as exc:
        if exc.field not in ("kvm_policy_bits", "abi"):
            raise
        raise InvalidInputError("--kvm-policy-bits" if exc.field == "kvm_policy_bits" else "--firmware-abi", exc.rule) from None
    steps: List[str] = []
    try:
        fw.launch_start(obj.policy, gosvw=obj.gosvw_bytes())
        steps.append(f"SNP_LAUNCH_START policy={obj.policy:#x}: SUCCESS")
        m = measure(**kwargs, firmware=fw)
        steps.append(f"SNP_LAUNCH_UPDATE (firmware, metadata sections, {m.vcpus} VMSAs): SUCCESS, launch digest {m.hex()}")
        result = fw.launch_finish(obj.id_block_obj(), obj.id_auth_obj(), author_key_enabled=obj.author_key_enabled,
                                  host_data=obj.host_data_bytes(), vcek_disabled=obj.vcek_disabled)
        steps.append("SNP_LAUNCH_FINISH: SUCCESS")
    except (FirmwareError, KvmError) as exc:
        if args.json:
            status = getattr(exc, "status", None)
            emit_json({"ok": False, "command": exc.command, "layer": "firmware" if status is not None else "kvm",
                       "status": status.name if status is not None else getattr(exc, "errno", "EINVAL"),
                       "status_code": int(status) if status is not None else None, "reason": exc.reason, "steps": steps})
        else:
            for line in steps:
                print(line)
            print(f"launch fails: {exc}")
        return EXIT_CHECK_FAILED
    for w in m.warnings:
        warn("launch", w)
    if args.json:
        emit_json({"ok": True, "report": result.to_json(), "steps": steps})
    else:
        for line in steps:
            print(line)
        print("the guest's attestation reports will carry:")
        for key, value in result.to_json().items():
            print(f"  {key.upper():<18} {value}")
    return EXIT_OK


def register_launch(p: "ArgumentParser") -> None:
    add_object_source(p)
    p.add_argument("--firmware-abi", metavar="MAJOR.MINOR", help="the host firmware's SEV-SNP ABI version (checks ABI rules)")
    p.add_argument("--host-smt-off", action="store_true", help="the host has SMT disabled")
    p.add_argument("--no-kvm-checks", action="store_true", help="skip KVM's own policy checks (model the firmware alone)")
    p.add_argument("--kvm-policy-bits", type=auto_int, metavar="MASK", help="the host's KVM_X86_SNP_POLICY_BITS (a 6.11-era kernel: 0x1bffff)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_measure_arguments(p)
    p.set_defaults(func=cmd_launch)


# ---- report ---------------------------------------------------------------------------------

def _hex_arg(field: str, text: Optional[str], size: int) -> Optional[bytes]:
    from .errors import InvalidInputError

    if text is None:
        return None
    t = text[2:] if text.lower().startswith("0x") else text
    try:
        raw = bytes.fromhex(t)
    except ValueError:
        raise InvalidInputError(field, "must be hexadecimal") from None
    if len(raw) != size:
        raise InvalidInputError(field, f"must be {size} bytes ({2 * size} hex digits), got {len(raw)}")
    return raw


#: ``--at``: a date, or a date and a time (seconds and a fraction optional) with an optional "Z" or
#: +HH:MM/-HH:MM offset; the same forms on every Python (``fromisoformat`` reads more from 3.11 on,
#: and before that takes any character between date and time, so "2026-06-01+05:00" read as 05:00).
_AT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?")


def _parse_at(text: Optional[str]) -> "datetime.datetime":
    """``--at`` as an aware UTC datetime (a time without an offset is UTC); None: now, to the second
    (the time printed is the time checked)."""
    import datetime

    from .errors import InvalidInputError

    utc = datetime.timezone.utc
    if text is None:
        return datetime.datetime.now(utc).replace(microsecond=0)
    m = _AT.fullmatch(text)
    try:
        if m is None:
            raise ValueError
        year, month, day, hour, minute, second, fraction, zone = m.groups()
        tz = utc
        if zone and zone not in "Zz":
            if int(zone[4:6]) > 59:
                raise ValueError
            sign = -1 if zone[0] == "-" else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        at = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                               int((fraction or "0").ljust(6, "0")), tzinfo=tz)
        return at.astimezone(utc)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves the time outside years 1-9999
        raise InvalidInputError("--at", "must be a date or time as YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM|-HH:MM]] "
                                f"(UTC unless it names an offset) from 0001-01-01 to 9999-12-31 UTC, got {show(text)}") from None


def cmd_report(args: argparse.Namespace) -> int:
    """``snpmeasure report show|verify``."""

    from .errors import InvalidInputError
    from .report import AttestationReport, Expectations

    source: Any = args.file
    if source == "-":  # stdin; the longest form (hex with line breaks) is a few KiB
        from .report import REPORT_INPUT_LIMIT

        source = sys.stdin.buffer.read(REPORT_INPUT_LIMIT)
    report = AttestationReport.from_bytes(source, generation=args.product)
    if args.action == "show":
        if args.json:
            emit_json(report.to_json())
        else:
            _print_report(report.to_json())
        return EXIT_OK
    from .certs import utc_text

    at = _parse_at(args.at)
    failures: List[str] = []
    product = None
    try:
        product = report.verify(args.vcek, ask_ark=args.ask_ark, product=args.product, crl=args.crl, now=at)
    except Error as exc:
        if not isinstance(exc, InvalidInputError):
            failures.append(f"SIGNATURE: {exc}")
        else:
            raise
    exp: Dict[str, Any] = {}
    if args.from_launch is not None:
        doc = load_json_file(args.from_launch, "--from-launch")
        if isinstance(doc, dict) and doc.get("ok") is False:
            raise InvalidInputError("--from-launch", "records a launch that failed: no report comes from it")
        fields = doc.get("report", doc) if isinstance(doc, dict) else None
        if not isinstance(fields, dict) or "measurement" not in fields:
            raise InvalidInputError("--from-launch", "must be the JSON of 'snpmeasure launch --json'")
        for key in ("measurement", "host_data", "family_id", "image_id", "id_key_digest", "author_key_digest"):
            if key in fields and not isinstance(fields[key], str):
                raise InvalidInputError(f"--from-launch.{key}", f"must be a hex string, got {show(fields[key])}")
        known = {"measurement", "policy", "host_data", "family_id", "image_id", "guest_svn", "id_key_digest",
                 "author_key_digest", "author_key_en", "id_block_en", "signing_key"}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise InvalidInputError(f"--from-launch.{unknown[0]}", "is no field of 'snpmeasure launch --json' output")
        if not isinstance(fields.get("author_key_en", False), bool) or fields.get("signing_key", "VCEK") not in ("VCEK", "VLEK"):
            raise InvalidInputError("--from-launch", "author_key_en must be true or false, signing_key VCEK or VLEK")
        if isinstance(fields.get("guest_svn", 0), bool) or not isinstance(fields.get("guest_svn", 0), int) \
                or not 0 <= fields.get("guest_svn", 0) <= 0xFFFFFFFF:
            raise InvalidInputError("--from-launch.guest_svn", f"must be an int from 0 to 2**32-1, got {show(fields.get('guest_svn'))}")
        if "policy" not in fields or isinstance(fields["policy"], bool) or not isinstance(fields["policy"], (str, int)):
            raise InvalidInputError("--from-launch.policy", "must be the policy as a string or number")
        from .policy import GuestPolicy

        try:
            launch_policy = GuestPolicy.parse(fields["policy"]).to_int()
        except InvalidInputError as exc:
            raise InvalidInputError("--from-launch.policy", exc.rule) from None
        exp.update(measurement=_hex_arg("--from-launch.measurement", fields["measurement"], 48),
                   policy=launch_policy,
                   host_data=_hex_arg("--from-launch.host_data", fields.get("host_data", "00" * 32), 32),
                   family_id=_hex_arg("--from-launch.family_id", fields.get("family_id", "00" * 16), 16),
                   image_id=_hex_arg("--from-launch.image_id", fields.get("image_id", "00" * 16), 16),
                   guest_svn=int(fields.get("guest_svn", 0)),
                   id_key_digest=_hex_arg("--from-launch.id_key_digest", fields.get("id_key_digest", "00" * 48), 48),
                   author_key_digest=_hex_arg("--from-launch.author_key_digest", fields.get("author_key_digest", "00" * 48), 48),
                   author_key_en=fields.get("author_key_en", False), signing_key=fields.get("signing_key", "VCEK"))
    sources = {name: "--from-launch" for name in exp}

    def expect(name: str, flag: str, value: Any) -> None:
        """One expected value from one source: a second source for it is bad input."""
        if name in sources:
            raise InvalidInputError(flag, f"the {name.replace('_', ' ')} is already set by {sources[name]}; give one")
        exp[name], sources[name] = value, flag

    if args.mode is not None:
        from .measurement import measure

        if "measurement" in sources:
            raise InvalidInputError("--mode", "the measurement is already set by --from-launch; give the measure flags or it")
        expect("measurement", "the measure flags", measure(**measure_kwargs(args, "report")).digest)
    elif measure_flags_given(args):
        raise InvalidInputError("--mode", f"is required to check the measurement ({measure_flags_given(args)[0]} was given): "
                                "without it nothing would be measured")
    for name, size in (("measurement", 48), ("host_data", 32), ("report_data", 64), ("family_id", 16), ("image_id", 16),
                       ("id_key_digest", 48), ("author_key_digest", 48)):
        flag = f"--expect-{name.replace('_', '-')}"
        value = _hex_arg(flag, getattr(args, f"expect_{name}"), size)
        if value is not None:
            expect(name, flag, value)
    if args.expect_policy is not None:
        from .policy import GuestPolicy

        try:
            expect("policy", "--expect-policy", GuestPolicy.parse(args.expect_policy).to_int())
        except InvalidInputError as exc:
            raise InvalidInputError("--expect-policy", exc.rule) from None
    for name in ("guest_svn", "vmpl"):
        if getattr(args, f"expect_{name}") is not None:
            expect(name, f"--expect-{name.replace('_', '-')}", getattr(args, f"expect_{name}"))
    if args.min_tcb is not None:
        mins: Dict[str, int] = {}
        for item in args.min_tcb.split(","):
            comp, _, value = item.partition("=")
            if not re.fullmatch(r"[0-9]+", value.strip()):  # str.isdigit also takes superscripts
                raise InvalidInputError("--min-tcb", f"must be component=N[,component=N], got {show(item)}")
            mins[comp.strip()] = int(value)
        exp["min_tcb"] = mins
    try:
        mismatches = report.check(Expectations(policy_at_most=args.policy_at_most, **exp))
    except InvalidInputError as exc:  # name the flag the value came from
        flag = {"min_tcb": "--min-tcb", "policy_at_most": "--policy-at-most"}.get(exc.field, f"--expect-{exc.field.replace('_', '-')}")
        raise InvalidInputError(flag, exc.rule) from None
    failures.extend(m.line() for m in mismatches)
    problems = report.reserved_problems()
    if args.json:
        emit_json({"ok": not failures, "product": product, "failures": failures, "reserved_problems": problems,
                   "checked": sorted(exp), "at": utc_text(at)})
    else:
        for line in failures:
            print(line)
        for p in problems:
            warn("report", f"must-be-zero violation: {p}")
        if not failures:
            as_of = f" as of {utc_text(at)} (--at)" if args.at is not None else ""
            print(f"OK: signed by AMD ({product}, {report.signing_key}){as_of}; {len(exp)} expectation(s) hold")
    return EXIT_CHECK_FAILED if failures else EXIT_OK


def _print_report(doc: Dict[str, Any], indent: str = "") -> None:
    for key, value in doc.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_report(value, indent + "  ")
        elif isinstance(value, list):
            print(f"{indent}{key}: {', '.join(map(str, value)) if value else '-'}")
        else:
            print(f"{indent}{key}: {value}")


def register_report(p: "ArgumentParser") -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=ArgumentParser)
    actions.required = True
    show = actions.add_parser("show", help="print every field of a report")
    verify = actions.add_parser("verify", help="verify AMD's signature chain and the expected launch (exit 1 on mismatch)")
    for q in (show, verify):
        q.add_argument("file", help="the report: a file of the raw 1184 bytes (snpguest, go-sev-guest) or of their hex or "
                       "base64, '-' for stdin, or the hex or base64 text itself")
        q.add_argument("--product", choices=["milan", "genoa", "turin", "venice"], help="CPU generation (v2 reports do not say)")
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(func=cmd_report)
    verify.add_argument("--vcek", required=True, metavar="CERT", help="VCEK or VLEK certificate (PEM or DER) from AMD's KDS")
    verify.add_argument("--ask-ark", metavar="PEM", help="ASK (or ASVK) and ARK chain; default: the built-in one for the product")
    verify.add_argument("--crl", metavar="FILE", help="AMD's CRL for the product (DER or PEM, from "
                        "https://kdsintf.amd.com/vcek/v1/PRODUCT/crl, or .../vlek/v1/PRODUCT/crl for a VLEK-signed report): "
                        "fail if it revokes the ASK/ASVK, is not the ARK's, or is out of date")
    verify.add_argument("--at", metavar="WHEN", help="check certificate validity and CRL dates at this time instead of now: "
                        "YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM|-HH:MM]] (T may be a space), UTC unless it names an offset (e.g. 2026-06-01, "
                        "2026-06-01T12:00:00Z); for an archived report (with a CRL of that time), or a reproducible check")
    verify.add_argument("--from-launch", metavar="JSON", help="expect what 'snpmeasure launch --json' printed")
    verify.add_argument("--expect-measurement", metavar="HEX")
    verify.add_argument("--expect-host-data", metavar="HEX")
    verify.add_argument("--expect-report-data", metavar="HEX")
    verify.add_argument("--expect-family-id", metavar="HEX")
    verify.add_argument("--expect-image-id", metavar="HEX")
    verify.add_argument("--expect-id-key-digest", metavar="HEX")
    verify.add_argument("--expect-author-key-digest", metavar="HEX")
    verify.add_argument("--expect-policy", metavar="POLICY")
    verify.add_argument("--policy-at-most", action="store_true", help="the report's policy may be stricter than --expect-policy")
    verify.add_argument("--expect-guest-svn", type=int)
    verify.add_argument("--expect-vmpl", type=int)
    verify.add_argument("--min-tcb", metavar="SPEC", help="minimum REPORTED_TCB, e.g. bootloader=2,snp=5,microcode=68")
    add_measure_arguments(verify)


#: Subcommands: name → (one-line help, the function that adds its arguments). Only the command being
#: run gets its arguments built (and its modules imported), which keeps start-up fast.
COMMANDS: Dict[str, Tuple[str, Callable[["ArgumentParser"], None]]] = {
    "ovmf-hash": ("digest of the firmware pages; --json writes a firmware manifest", register_ovmf_hash),
    "table": ("reference values: every vCPU count x CPU model x profile x guest features", register_table),
    "measure": ("compute a launch measurement (sev-snp-measure compatible)", register_measure),
    "policy": ("decode or encode an SNP guest policy", register_policy),
    "id-block": ("build and sign an ID block and ID auth for QEMU's sev-snp-guest", register_id_block),
    "qemu-object": ("write QEMU's sev-snp-guest object (-object, QMP or libvirt XML)", register_qemu_object),
    "launch": ("dry-run an SNP launch: would the firmware accept it, and what will reports carry?", register_launch),
    "report": ("show or verify an SEV-SNP attestation report", register_report),
}


def register_info(p: "ArgumentParser") -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)


COMMANDS["info"] = ("show the backend, SIMD kernels and CPUs in use", register_info)


#: ``build_parser(only=NAMES_ONLY)``: every subcommand by name and help, none with its arguments.
NAMES_ONLY = ""


def build_parser(only: Optional[str] = None) -> ArgumentParser:
    """The argument parser: every subcommand with its arguments (``only=None``); or, with a
    subcommand's name, just that one, so a run builds and imports only what its command needs
    (argparse looks up translations for every parser it creates); or, with ``NAMES_ONLY``, every
    subcommand listed for the top-level help and errors, none with arguments."""
    parser = ArgumentParser(prog="snpmeasure", description="AMD SEV-SNP launch measurements, computed before launch")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for name, (text, register) in COMMANDS.items():
        if only in COMMANDS and only != name:
            continue
        p = sub.add_parser(name, help=text)
        if only is None or only == name:
            register(p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``snpmeasure`` console script."""
    import warnings

    for stream, errors in ((sys.stderr, "backslashreplace"), (sys.stdout, "surrogateescape")):
        if hasattr(stream, "reconfigure"):  # paths and arguments may carry undecodable bytes
            stream.reconfigure(errors=errors)
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else NAMES_ONLY)
    args = parser.parse_args(words)
    try:
        with warnings.catch_warnings():  # restores the caller's warning display (main() runs in tests too)
            # Library warnings (e.g. a pre-merge QEMU property name) as one line, not Python's source dump.
            warnings.showwarning = lambda message, *rest, **kw: warn(args.command, str(message))
            rc: int = args.func(args)
        return rc
    except Error as exc:
        sys.stderr.write(f"snpmeasure {args.command}: error: {exc}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly but fail closed (a verdict that could
        # not be printed is not a success), with the shell's SIGPIPE status.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        where = f" {exc.filename}:" if exc.filename else " '':" if exc.filename == "" else ""
        sys.stderr.write(f"snpmeasure {args.command}: error:{where} {exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
