"""``--format corim|trustee|go-sev-guest --output FILE``: reference values for verifiers, from
``table``, ``measure`` and ``explain``, with the provenance beside them (``FILE.provenance.json``)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, List, Tuple

from ._args import read_password, write_files

#: The CoRIM formats: the AMD profile's, and Veraison's dialect of it.
_CORIMS = ("corim", "corim-veraison")

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
        help="write the reference values as a CoRIM (AMD SEV-SNP profile; corim-veraison: as Veraison's SEV-SNP "
        "scheme reads it, with the MEASUREMENT as environment instance), trustee's RVPS message, or "
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
        "--export-author-key-digest",
        metavar="HEX|B64",
        help="the author key digest: CoRIM mkey 644, go-sev-guest trusted_author_key_hashes with require_author_key",
    )
    g.add_argument(
        "--export-min-tcb",
        metavar="SPEC",
        help="the REPORTED_TCB reports must have, e.g. bootloader=3,tee=0,snp=8,microcode=115: CoRIM mkey 647 "
        "(a min-svn over the 8-byte TCB_VERSION, which Veraison and report verify compare per component), "
        "go-sev-guest minimum_tcb (per component), trustee's four values (exact: all four, the host's); CoRIM and go-sev-guest need "
        "--export-product",
    )
    g.add_argument(
        "--export-product",
        choices=["milan", "genoa", "turin", "venice"],  # report.TCB_LAYOUTS (not imported here: start-up)
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
    """Whether --format was given (then --output is required). Every export flag is checked here,
    before anything is measured, and kept parsed as ``args.export_values``; export flags without
    --format are refused."""
    from ..errors import InvalidInputError

    if args.format is None:
        stray = [f for f in _EXPORT_FLAGS if getattr(args, f)]
        if stray:
            raise InvalidInputError("--" + stray[0].replace("_", "-"), "applies to an export: give --format too")
        return False
    from ..exports import TRUSTEE_TCB, reference_policy_value
    from ..report import TcbVersion, parse_hex, parse_min_tcb  # cryptography: only for an export

    fmt = args.format
    if args.output is None:
        raise InvalidInputError("--format", f"{fmt} writes a file: give --output FILE")
    for flag, formats, why in (
        ("sign_key", _CORIMS, "signs a CoRIM: give it with --format corim"),
        ("sign_key_password_env", _CORIMS, "unlocks --sign-key: give it with --format corim"),
        ("export_signing_key", _CORIMS, "sets a CoRIM's environment: give --format corim"),
        ("export_author_key_digest", (*_CORIMS, "go-sev-guest"), "trustee's default policy checks no key digest"),
        ("export_id_key_digest", (*_CORIMS, "go-sev-guest"), "trustee's default policy checks no key digest"),
        ("export_product", (*_CORIMS, "go-sev-guest"), "trustee's TCB values are named per component: no layout"),
    ):
        if getattr(args, flag) and fmt not in formats:
            raise InvalidInputError("--" + flag.replace("_", "-"), why)
    if args.sign_key and fmt == "corim-veraison":
        # scheme/sevsnp/scheme.go registers application/corim-unsigned+cbor only
        raise InvalidInputError(
            "--sign-key", "Veraison's SEV-SNP scheme takes unsigned CoRIMs only: give --format corim"
        )
    if args.sign_key_password_env and not args.sign_key:
        raise InvalidInputError("--sign-key-password-env", "unlocks --sign-key: give it too")
    values: Dict[str, Any] = dict(
        policy=reference_policy_value(args.export_policy, "--export-policy"),
        id_key=parse_hex("--export-id-key-digest", args.export_id_key_digest, 48),
        author_key=parse_hex("--export-author-key-digest", args.export_author_key_digest, 48),
        password=read_password(args.sign_key_password_env, "--sign-key-password-env"),
        tcb=None,
    )
    if args.export_min_tcb is not None:
        spls = parse_min_tcb(args.export_min_tcb, "--export-min-tcb")
        if fmt == "trustee":
            # trustee's policy checks each component's membership in a list: exact host values,
            # all four, or a host would fail on the one left out
            if sorted(spls) != sorted(TRUSTEE_TCB):
                raise InvalidInputError(
                    "--export-min-tcb",
                    f"trustee checks {', '.join(TRUSTEE_TCB)} by exact value: give all four, "
                    f"the host's (snphost show tcb), got {', '.join(spls) or 'none'}",
                )
            values["tcb"] = spls
        else:
            if args.export_product is None:
                raise InvalidInputError(
                    "--export-product", "--export-min-tcb needs it: the TCB layout is the product's"
                )
            try:
                values["tcb"] = TcbVersion.encode(spls, args.export_product)
            except InvalidInputError as exc:
                raise InvalidInputError("--export-min-tcb", exc.rule) from None
    elif args.export_product is not None:
        raise InvalidInputError("--export-product", "encodes --export-min-tcb: give it too")
    args.export_values = values
    return True


def write_export(args: argparse.Namespace, table: Any) -> List[str]:
    """Write ``table`` in --format to --output (and its provenance beside it): the paths written."""
    from ..errors import InvalidInputError
    from ..exports import row_name, to_corim, to_go_sev_guest, to_trustee, unique_measurements

    v = args.export_values
    out: str = args.output
    files: List[Tuple[str, bytes]] = []  # written together at the end, or none of them
    created_dir = False
    if args.format in _CORIMS:
        try:
            data = to_corim(
                table,
                dialect="veraison" if args.format == "corim-veraison" else "profile",
                signing_key=args.export_signing_key or "VCEK",
                policy=v["policy"],
                id_key_digest=v["id_key"],
                author_key_digest=v["author_key"],
                min_tcb=v["tcb"],
                signer=args.sign_key,
                password=v["password"],
            )
        except InvalidInputError as exc:
            if exc.field != "signer":
                raise
            raise InvalidInputError("--sign-key", exc.rule) from None
        files.append((out, data))
    elif args.format == "trustee":
        message = to_trustee(table, policy=v["policy"], host_tcb=v["tcb"])
        files.append((out, (json.dumps(message, indent=2, sort_keys=True) + "\n").encode()))
    else:
        digests = unique_measurements(table.rows)
        note = f"snpmeasure {table.snpmeasure_version}: provenance in the reference table beside this file"

        def config(row: Any) -> bytes:
            text = to_go_sev_guest(
                row.measurement,
                policy=v["policy"],
                id_key_digests=[v["id_key"]] if v["id_key"] is not None else [],
                author_key_digests=[v["author_key"]] if v["author_key"] is not None else [],
                min_tcb=v["tcb"],
                comment=f"{note}\n{row_name(row)}",
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
            files.append((out, config(table.rows[0])))
        else:
            if os.path.exists(out) and not os.path.isdir(out):
                raise InvalidInputError("--output", f"{out} is a file; {len(digests)} measurements need a directory")
            created_dir = not os.path.exists(out)
            seen = set()
            for row in table.rows:
                if row.measurement in seen:
                    continue
                seen.add(row.measurement)
                files.append((os.path.join(out, row_name(row) + ".textproto"), config(row)))
            # A verifier tries each config in the directory: one left from an earlier export would
            # still be accepted beside this table, which does not describe it.
            written = {os.path.basename(path) for path, _ in files}
            stale = [] if created_dir else sorted(n for n in os.listdir(out) if n.endswith(".textproto"))
            stale = [n for n in stale if n not in written]
            if stale:
                more = f" and {len(stale) - 2} more" if len(stale) > 2 else ""
                raise InvalidInputError(
                    "--output",
                    f"{out} holds configs this export does not write ({', '.join(stale[:2])}{more}), which a "
                    "verifier trying each would still accept: remove them or give an empty directory",
                )
            out = os.path.join(out, "reference-values")
    files.append((out + ".provenance.json", (json.dumps(table.to_json(), indent=2, sort_keys=True) + "\n").encode()))
    write_files("--output", files, args, args.output if created_dir else None)
    return [path for path, _ in files]
