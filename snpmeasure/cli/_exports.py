"""``--format corim|trustee|go-sev-guest --output FILE``: reference values for verifiers, from
``table``, ``measure`` and ``explain``, with the provenance beside them (``FILE.provenance.json``)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, List

from ._args import read_password

#: The flags that only mean something with --format.
_EXPORT_FLAGS = (
    "output",
    "export_policy",
    "export_id_key_digest",
    "export_author_key_digest",
    "export_min_tcb",
    "export_product",
    "export_signing_key",
    "sign_key",
    "sign_key_password_env",
)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    """The export flags."""
    from ..exports import FORMATS

    g = p.add_argument_group("reference values for verifiers (docs/references.md)")
    g.add_argument(
        "--format",
        choices=FORMATS,
        help="write the reference values as a CoRIM (AMD SEV-SNP profile), trustee's RVPS message, or "
        "go-sev-guest check configs (textproto) to --output; the provenance goes beside, to FILE.provenance.json",
    )
    g.add_argument(
        "--output",
        metavar="FILE",
        help="where --format writes (go-sev-guest with several measurements: a directory of configs)",
    )
    g.add_argument(
        "--export-policy",
        metavar="POLICY",
        help="the guest policy to put beside the measurements (CoRIM POLICY, trustee's policy values, "
        "go-sev-guest's maximum policy; default for go-sev-guest QEMU's 0x30000)",
    )
    g.add_argument(
        "--export-id-key-digest",
        metavar="HEX|B64",
        help="the ID key digest (SHA-384 of the ID public key) reports must carry: CoRIM mkey 643, "
        "go-sev-guest trusted_id_key_hashes with require_id_block",
    )
    g.add_argument(
        "--export-author-key-digest", metavar="HEX|B64", help="the author key digest: CoRIM mkey 644 (CoRIM only)"
    )
    g.add_argument(
        "--export-min-tcb",
        metavar="SPEC",
        help="the minimum REPORTED_TCB, e.g. bootloader=3,tee=0,snp=8,microcode=115 (with --export-product): "
        "CoRIM mkey 647 as a min-svn, go-sev-guest minimum_tcb, trustee's snp_bootloader/... values",
    )
    g.add_argument(
        "--export-product",
        choices=["milan", "genoa", "turin"],
        help="the CPU generation whose TCB layout --export-min-tcb is encoded in",
    )
    g.add_argument(
        "--export-signing-key",
        choices=["VCEK", "VLEK"],
        help="--format corim: the environment class of the reports the values are for: signed by a chip's "
        "VCEK (default) or a cloud provider's VLEK",
    )
    g.add_argument("--sign-key", metavar="PEM", help="--format corim: sign it (COSE_Sign1, ES384) with this P-384 key")
    g.add_argument(
        "--sign-key-password-env",
        metavar="VAR",
        help="read the passphrase of an encrypted --sign-key from this variable",
    )


def export_requested(args: argparse.Namespace) -> bool:
    """Whether --format was given (then --output is required); export flags without it are refused."""
    from ..errors import InvalidInputError

    if args.format is None:
        stray = [f for f in _EXPORT_FLAGS if getattr(args, f)]
        if stray:
            raise InvalidInputError("--" + stray[0].replace("_", "-"), "applies to an export: give --format too")
        return False
    if args.output is None:
        raise InvalidInputError("--format", f"{args.format} writes a file: give --output FILE")
    if args.format != "corim" and (args.sign_key or args.sign_key_password_env):
        raise InvalidInputError("--sign-key", "signs a CoRIM: give it with --format corim")
    if args.format != "corim" and args.export_signing_key:
        raise InvalidInputError("--export-signing-key", "sets a CoRIM's environment: give --format corim")
    if args.format != "corim" and args.export_author_key_digest:
        raise InvalidInputError("--export-author-key-digest", "has a place in a CoRIM only: give --format corim")
    if args.format == "trustee" and args.export_id_key_digest:
        raise InvalidInputError(
            "--export-id-key-digest",
            "trustee's default policy checks no key digest: give --format corim or go-sev-guest",
        )
    return True


def write_export(args: argparse.Namespace, table: Any) -> List[str]:
    """Write ``table`` in --format to --output (and its provenance beside it): the paths written."""
    from ..errors import InvalidInputError
    from ..exports import reference_policy_value, row_name, to_corim, to_go_sev_guest, to_trustee, unique_measurements
    from ..report import parse_hex

    policy = reference_policy_value(args.export_policy, "--export-policy")
    min_tcb = None
    if (args.export_min_tcb is None) != (args.export_product is None):
        raise InvalidInputError(
            "--export-min-tcb" if args.export_min_tcb is None else "--export-product",
            "--export-min-tcb and --export-product go together (the TCB layout is the product's)",
        )
    if args.export_min_tcb is not None:
        from ..report import TcbVersion, parse_min_tcb

        try:
            min_tcb = TcbVersion.encode(parse_min_tcb(args.export_min_tcb, "--export-min-tcb"), args.export_product)
        except InvalidInputError as exc:
            raise InvalidInputError("--export-min-tcb", exc.rule) from None
    id_key = parse_hex("--export-id-key-digest", args.export_id_key_digest, 48)
    author_key = parse_hex("--export-author-key-digest", args.export_author_key_digest, 48)
    out: str = args.output
    written: List[str] = []
    if args.format == "corim":
        password = read_password(args.sign_key_password_env)
        try:
            data = to_corim(
                table,
                signing_key=args.export_signing_key or "VCEK",
                policy=policy,
                id_key_digest=id_key,
                author_key_digest=author_key,
                min_tcb=min_tcb,
                signer=args.sign_key,
                password=password,
            )
        except InvalidInputError as exc:
            if exc.field != "signer":
                raise
            raise InvalidInputError("--sign-key", exc.rule) from None
        _write(out, data)
        written.append(out)
    elif args.format == "trustee":
        _write(
            out,
            (json.dumps(to_trustee(table, policy=policy, min_tcb=min_tcb), indent=2, sort_keys=True) + "\n").encode(),
        )
        written.append(out)
    else:
        digests = unique_measurements(table.rows)
        keys = [id_key] if id_key is not None else []
        note = f"snpmeasure {table.snpmeasure_version}: provenance in the reference table beside this file"

        def config(row: Any) -> bytes:
            text = to_go_sev_guest(
                row.measurement, policy=policy, id_key_digests=keys, min_tcb=min_tcb, comment=f"{note}\n{row_name(row)}"
            )
            return text.encode()

        if (len(digests) == 1) != out.endswith(".textproto"):
            raise InvalidInputError(
                "--output",
                "one measurement is one config, named FILE.textproto (go-sev-guest's check reads text format only "
                "from such a name, binary protobuf otherwise)"
                if len(digests) == 1
                else f"{len(digests)} measurements are {len(digests)} configs: name a directory, not a .textproto file",
            )
        if len(digests) == 1:
            _write(out, config(table.rows[0]))
            written.append(out)
        else:
            if os.path.exists(out) and not os.path.isdir(out):
                raise InvalidInputError("--output", f"{out} is a file; {len(digests)} measurements need a directory")
            os.makedirs(out, exist_ok=True)
            seen = set()
            for row in table.rows:
                if row.measurement in seen:
                    continue
                seen.add(row.measurement)
                path = os.path.join(out, row_name(row) + ".textproto")
                _write(path, config(row))
                written.append(path)
            out = os.path.join(out, "reference-values")
    provenance = out + ".provenance.json"
    _write(provenance, (json.dumps(table.to_json(), indent=2, sort_keys=True) + "\n").encode())
    written.append(provenance)
    return written


def _write(path: str, data: bytes) -> None:
    from .._files import read_error

    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise read_error("--output", path, exc) from None
