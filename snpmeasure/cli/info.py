"""``snpmeasure info``: the backend, SIMD kernels and CPUs the core uses."""

from __future__ import annotations

import argparse
from typing import Any, Dict

from .. import _core
from .._version import __version__
from . import EXIT_OK, ArgumentParser
from ._args import emit_json


def run(args: argparse.Namespace) -> int:
    """Print the backend, kernels and CPUs the core will use."""
    info: Dict[str, Any] = {"version": __version__, **_core.simd_info()}
    if args.json:
        emit_json(info)
    else:
        for key in sorted(info):
            value = info[key]
            print(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return EXIT_OK


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
