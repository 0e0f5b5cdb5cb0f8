"""The ``snpmeasure`` command.

Each command lives in a module of this package (``measure``, ``launch``, ...) that adds its
arguments (``register``) and runs it (``run``); :data:`COMMANDS` maps the command names to those
modules, and :func:`main` imports only the module of the command being run, so start-up stays fast.
The logic belongs to the library: a command parses flags, calls it and prints.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from typing import Any, Dict, Optional, Sequence, Tuple

from .._version import __version__
from ..errors import Error

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

#: Command name → (the module of this package that implements it, one-line help).
COMMANDS: Dict[str, Tuple[str, str]] = {
    "measure": ("measure", "compute a launch measurement (sev-snp-measure compatible)"),
    "ovmf-hash": ("ovmf_hash", "digest of the firmware pages; --json writes a firmware manifest"),
    "table": ("table", "reference values: every vCPU count x CPU model x profile x guest features"),
    "policy": ("policy", "decode or encode an SNP guest policy"),
    "id-block": ("id_block", "build and sign an ID block and ID auth for QEMU's sev-snp-guest"),
    "qemu-object": ("qemu_object", "write QEMU's sev-snp-guest object (-object, QMP or libvirt XML)"),
    "launch": ("launch", "dry-run an SNP launch: would the firmware accept it, and what will reports carry?"),
    "explain": ("explain", "why a measurement does not match: search the launch configurations that produce it"),
    "report": ("report", "show or verify an SEV-SNP attestation report"),
    "igvm": ("igvm", "show, sign or lint an IGVM file (measure it with measure --mode snp:igvm)"),
    "igvmmeasure": ("igvmmeasure", "coconut-svsm's igvmmeasure, drop-in: measure or sign an IGVM file"),
    "info": ("info", "show the backend, SIMD kernels and CPUs in use"),
}


class _StoreOnce(argparse._StoreAction):
    """argparse's ``store``, refusing a flag given twice: argparse would keep the last value, so
    ``report verify --expect-measurement A --expect-measurement B`` would never check A."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        seen = namespace.__dict__.setdefault("_flags_given", set())
        if option_string is not None and self.dest in seen:
            parser.error(f"{max(self.option_strings, key=len)}: is given twice; give it once")
        seen.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with snpmeasure's one-line errors and exit code 2; a value flag given twice is an error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def error(self, message: str) -> Any:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


#: ``build_parser(only=NAMES_ONLY)``: every command by name and help, none with its arguments.
NAMES_ONLY = ""


def build_parser(only: Optional[str] = None) -> ArgumentParser:
    """The argument parser: every command with its arguments (``only=None``); or, with a command's
    name, just that one, so a run builds and imports only what its command needs (argparse looks up
    translations for every parser it creates); or, with :data:`NAMES_ONLY`, every command listed
    for the top-level help and errors, none with arguments."""
    parser = ArgumentParser(prog="snpmeasure", description="AMD SEV-SNP launch measurements, computed before launch")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, (module, text) in COMMANDS.items():
        if only in COMMANDS and only != name:
            continue
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        if only is None or only == name:
            import_module(f".{module}", __name__).register(p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``snpmeasure`` console script: parse ``argv`` (default ``sys.argv[1:]``),
    run the command and return its exit code."""
    import warnings

    from ._args import warn

    for stream, errors in ((sys.stderr, "backslashreplace"), (sys.stdout, "surrogateescape")):
        if hasattr(stream, "reconfigure"):  # paths and arguments may carry undecodable bytes
            stream.reconfigure(errors=errors)
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    try:
        parser = build_parser(command if command in COMMANDS else NAMES_ONLY)
    except ImportError as exc:  # a command module that loads the core (info)
        return _simd_setting_error(exc, f"snpmeasure {command}")
    args, extra = parser.parse_known_args(words)
    if extra:  # argparse would say this as `snpmeasure: error:`, without the command it belongs to
        where = prog(args) if args.command is not None else "snpmeasure"
        sys.stderr.write(f"{where}: error: unrecognized arguments: {' '.join(extra)}\n")
        return EXIT_BAD_INPUT
    if args.command is None:  # bare `snpmeasure`: a usage error, in one line that names the commands
        sys.stderr.write(f"snpmeasure: error: give a command ({', '.join(COMMANDS)}); --help describes them\n")
        return EXIT_BAD_INPUT
    try:
        with warnings.catch_warnings():  # restores the caller's warning display (main() runs in tests too)
            # Library warnings (e.g. a pre-merge QEMU property name) as one line, not Python's source dump.
            warnings.showwarning = lambda message, *rest, **kw: warn(args.command, str(message))
            rc: int = args.func(args)
        return rc
    except Error as exc:
        sys.stderr.write(f"{prog(args)}: error: {_in_flag_names(exc, parser, args)}\n")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly but fail closed (a verdict that could
        # not be printed is not a success), with the shell's SIGPIPE status.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        where = f" {exc.filename}:" if exc.filename else " '':" if exc.filename == "" else ""
        sys.stderr.write(f"{prog(args)}: error:{where} {exc.strerror or exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except ImportError as exc:
        return _simd_setting_error(exc, prog(args))


def _simd_setting_error(exc: ImportError, where: str) -> int:
    """A bad SNPMEASURE_SIMD or SNPMEASURE_BACKEND, which the core refuses as it loads, in one line;
    any other ImportError (a broken installation) keeps Python's own report."""
    if exc.name not in ("SNPMEASURE_SIMD", "SNPMEASURE_BACKEND"):
        raise exc
    sys.stderr.write(f"{where}: error: {exc.msg}\n")
    return EXIT_BAD_INPUT


def prog(args: argparse.Namespace) -> str:
    """The prefix of the command's messages, as argparse writes it: ``snpmeasure report verify``."""
    action = getattr(args, "action", None)
    return f"snpmeasure {args.command}" + (f" {action}" if isinstance(action, str) else "")


#: Library argument names whose flag has another name (``measure(manifest=...)`` is
#: ``--firmware-manifest``).
_ARGUMENT_DESTS = {"manifest": "firmware_manifest", "vcpu_types": "vcpu_type"}


def _flags_by_dest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Dict[str, str]:
    """Every option's destination → its long flag, through the parsers of the command and action
    that ran (``policy decode`` has no --abi-major: ``policy encode`` has)."""
    out: Dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = getattr(args, action.dest, None)
            for name, sub in action.choices.items():
                if chosen is None or name == chosen:
                    for dest, flag in _flags_by_dest(sub, args).items():
                        out.setdefault(dest, flag)
        elif action.option_strings:
            out.setdefault(action.dest, max(action.option_strings, key=len))
    return out


def _in_flag_names(exc: Error, parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The error as the CLI says it: a library argument name (``kernel_hash``, ``vcpu_type``) that
    came from a flag the user gave is said as that flag (``--kernel-hash``), in the field and in
    the rule's ``name=True`` hints. Other fields (QEMU properties, file structures) stay as they are."""
    import re

    from ..errors import InvalidInputError, QemuObjectError
    from ..qemu import QOM_TYPE

    text = str(exc)
    if not isinstance(exc, InvalidInputError):
        return text
    flags = _flags_by_dest(parser, args)

    def flag_of(name: str) -> Optional[str]:
        dest = _ARGUMENT_DESTS.get(name, name)
        return flags.get(dest) if dest in flags else None

    field, rule = exc.field, exc.rule
    if isinstance(exc, QemuObjectError) and rule.startswith(f"Property '{QOM_TYPE}.{field}' not found"):
        return text  # a property no sev-snp-guest has (svsm=, ovmf=) is no flag's, even one of its name
    if field not in flags and not field.startswith("-"):
        # a file's own errors name the file (an image, a manifest): said after the flag that gave it
        given_by = [f for d, f in flags.items() if getattr(args, d, None) == field]
        if given_by:
            return f"{given_by[0]}: {field}: {rule}"
    rule = re.sub(r"\b([a-z][a-z0-9_]*)=True\b", lambda m: flag_of(m.group(1)) or m.group(0), rule)
    # "needs a kernel (kernel or kernel_hash)": the alternatives, as flags
    rule = re.sub(
        r"\(([a-z_]+) or ([a-z_]+)\)",
        lambda m: f"({flag_of(m.group(1)) or m.group(1)} or {flag_of(m.group(2)) or m.group(2)})",
        rule,
    )
    if "-" in field and not field.startswith("-") and getattr(args, field.replace("-", "_"), None) is not None:
        field = field.replace("-", "_")  # a QEMU property given as the flag of the same name
    if field == "profile" and getattr(args, "profile", None) is None and getattr(args, "profile_file", None):
        field = "profile_file"  # a profile a file defines is the --profile-file flag's
    flag = flag_of(field)
    # A name with an underscore is always Python's; a plain word (ovmf, vcpus) is the flag's when
    # the user gave that flag (``policy`` may come from --object as well as from --policy), or
    # when the rule asks for a value nothing gave ("vcpus: is required"): the flag is the fix.
    given = getattr(args, _ARGUMENT_DESTS.get(field, field), None) is not None
    wanted = not given and re.match(r"(is required|give )", rule) is not None
    if flag is not None and ("_" in field or given or wanted):
        field = flag
        # The rule then speaks of the library's other arguments (``vars_size or vars_file``): as
        # flags too. (A rule about a file's content keeps its keys: its field is no argument; and
        # QEMU's messages keep QEMU's words.)
        if not isinstance(exc, QemuObjectError):
            rule = re.sub(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", lambda m: flag_of(m.group(0)) or m.group(0), rule)
    return f"{field}: {rule}"


__all__ = ["main", "build_parser", "COMMANDS", "EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_BAD_INPUT"]
