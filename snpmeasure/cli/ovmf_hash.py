"""``snpmeasure ovmf-hash``: the firmware-pages digest, or the firmware manifest."""

from __future__ import annotations

import argparse

from . import EXIT_OK, ArgumentParser
from ._args import dec_int, emit_json


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.add_argument("--ovmf", metavar="PATH", required=True, help="OVMF firmware image")
    p.add_argument("--threads", type=dec_int, help="hashing threads (default: all CPUs)")
    p.add_argument("--json", action="store_true", help="print the versioned firmware manifest")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure ovmf-hash``: the firmware-pages digest, or (--json) the firmware manifest."""
    from ..images import FirmwareImage, FirmwareManifest

    man = FirmwareManifest.from_image(FirmwareImage.open(args.ovmf, field="--ovmf"), threads=args.threads)
    if args.json:
        emit_json(man.to_json())
    else:
        print(man.ovmf_digest.hex())
    return EXIT_OK
