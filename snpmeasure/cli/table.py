"""``snpmeasure table``: reference values for every combination of vCPU count, CPU, profile and guest features."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Union

from . import EXIT_OK, ArgumentParser
from ._args import ProgressBar, comma_list, comma_numbers, dec_int, emit_json, warn
from ._exports import add_export_arguments, export_requested, write_export


def register(p: ArgumentParser) -> None:
    """Add the command's arguments."""
    p.add_argument("--ovmf", metavar="PATH", help="OVMF firmware image")
    p.add_argument("--firmware-manifest", metavar="FILE.json", help="a firmware manifest instead of the binary")
    p.add_argument("--vcpus", default="1", help="counts: 1-240, 1,2,4,8 (default 1)")
    p.add_argument("--vcpu-type", required=True, help="comma list of QEMU CPU models or 0x signatures")
    p.add_argument("--profile", help="comma list of built-in launch profiles (default qemu, unless --profile-file)")
    p.add_argument(
        "--profile-file",
        action="append",
        metavar="FILE.json",
        help="a user-defined launch profile (JSON); repeat for several, beside or instead of --profile",
    )
    p.add_argument(
        "--allow-no-sev-metadata",
        action="store_true",
        help="measure a firmware without SEV metadata, which upstream QEMU refuses",
    )
    p.add_argument("--guest-features", help="comma list of SEV_FEATURES values (default: each profile's)")
    p.add_argument(
        "--kernel", metavar="PATH", help="kernel (bzImage) measured through the SEV hashes table in every row"
    )
    p.add_argument("--initrd", metavar="PATH", help="initrd (use with --kernel)")
    p.add_argument("--append", metavar="CMDLINE", help="kernel command line (use with --kernel)")
    p.add_argument("--kernel-hash", metavar="SHA256", help="SHA-256 of the kernel instead of --kernel")
    p.add_argument("--initrd-hash", metavar="SHA256", help="SHA-256 of the initrd instead of --initrd")
    p.add_argument(
        "--append-hash", metavar="SHA256", help="SHA-256 of the command line with its NUL instead of --append"
    )
    p.add_argument("--threads", type=dec_int, help="hashing threads (default: all CPUs)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (the default)")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_export_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``snpmeasure table``: reference values for every combination, as JSON or CSV."""
    from ..errors import InvalidInputError
    from ..profiles import LaunchProfile, load_profile_file
    from ..tables import table

    exporting = export_requested(args)
    if exporting and (args.json or args.csv):
        raise InvalidInputError("--format", "writes --output; --json and --csv print the table: give one")
    if (args.ovmf is None) == (args.firmware_manifest is None):
        raise InvalidInputError("--ovmf", "give the firmware as --ovmf or as --firmware-manifest (one of them)")
    features: List[Optional[int]] = [None]
    if args.guest_features is not None:
        features = list(comma_numbers("--guest-features", args.guest_features))
    profiles: List[Union[str, LaunchProfile]] = []
    if args.profile is not None or not args.profile_file:
        profiles.extend(comma_list("--profile", args.profile or "qemu"))
    profiles.extend(load_profile_file(path) for path in args.profile_file or ())
    names = [p if isinstance(p, str) else p.name for p in profiles]
    if len(set(names)) != len(names):
        # --profile's own list is checked as it is read: a file's profile has a name given already
        twice = next(n for n in names if names.count(n) > 1)
        raise InvalidInputError(
            "--profile-file", f"defines profile {twice}, which is given already ({', '.join(names)})"
        )
    bar = ProgressBar(not args.quiet)
    try:
        rows = table(
            ovmf=args.ovmf,
            manifest=args.firmware_manifest,
            vcpus=args.vcpus,
            vcpu_types=comma_list("--vcpu-type", args.vcpu_type),
            profiles=profiles,
            guest_features=features,
            kernel=args.kernel,
            initrd=args.initrd,
            append=args.append,
            kernel_hash=args.kernel_hash,
            initrd_hash=args.initrd_hash,
            append_hash=args.append_hash,
            threads=args.threads,
            progress=bar,
            allow_no_sev_metadata=args.allow_no_sev_metadata,
        )
    finally:
        bar.close()
    for message in rows.warnings:
        warn("table", message)
    if exporting:
        for path in write_export(args, rows):
            print(path)
    elif args.csv:
        sys.stdout.write(rows.to_csv())
    else:
        emit_json(rows.to_json())
    return EXIT_OK
