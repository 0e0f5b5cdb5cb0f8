"""The ``snpmeasure`` command: argparse, one function per subcommand, nothing else.

Exit codes: 0 ok, 1 a check failed, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import __version__, _core
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


Command = Callable[[argparse.Namespace], int]
_REGISTRY: List[Callable[[Any], None]] = []


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
