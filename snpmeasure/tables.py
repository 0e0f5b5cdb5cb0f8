"""Reference-value tables: launch digests for every combination of vCPU count, CPU model, profile
and guest features, with each shared prefix of the launch measured once.

The firmware pages are hashed once (a :class:`FirmwareManifest` seed); the metadata sections once
per profile; the VMSAs once per (CPU model, guest features) as one sweep over the vCPU counts.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Union

from ._version import __version__
from .errors import InvalidInputError, show
from .firmware import Firmware, HostModel
from .images import FirmwareImage, FirmwareManifest
from .kernel_hashes import KernelHashes
from .measurement import _prepare, _prepare_defaults, _run_snp, parse_vcpu_counts, sweep_prepared
from .profiles import LaunchProfile, get_profile

TABLE_SCHEMA = "snpmeasure/reference-values"
TABLE_VERSION = 1
Progress = Callable[[int, int], None]


class TableRow(NamedTuple):
    """One reference value."""

    profile: str
    vcpu_type: str
    vcpu_sig: str
    guest_features: str
    vcpus: int
    measurement: str


def table(
    *,
    ovmf: Union[None, str, os.PathLike[str], FirmwareImage] = None,
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest] = None,
    vcpu_types: Sequence[str],
    vcpus: Union[str, Sequence[int]] = "1",
    profiles: Sequence[Union[str, LaunchProfile]] = ("qemu",),
    guest_features: Sequence[Optional[int]] = (None,),
    kernel: Optional[Union[str, os.PathLike[str]]] = None,
    initrd: Optional[Union[str, os.PathLike[str]]] = None,
    append: Optional[str] = None,
    kernel_hash: Optional[str] = None,
    initrd_hash: Optional[str] = None,
    append_hash: Optional[str] = None,
    threads: Optional[int] = None,
    progress: Optional[Progress] = None,
) -> List[TableRow]:
    """SNP launch digests for the cartesian product of the inputs, as rows.

    ``vcpu_types`` are QEMU CPU model names (or ``0x...`` signatures; required, because QEMU puts
    the signature into every VMSA); ``guest_features`` None means each profile's default.
    """
    counts = parse_vcpu_counts(vcpus)
    if progress is not None and not callable(progress):
        raise InvalidInputError("progress", f"must be a function of (done, total), got {type(progress).__name__}")
    # A str is a Sequence[str] too: "EPYC" would be read letter by letter.
    for name, values, kinds in (
        ("vcpu_types", vcpu_types, (str,)),
        ("profiles", profiles, (str, LaunchProfile)),
        ("guest_features", guest_features, (int, type(None))),
    ):
        if not isinstance(values, (list, tuple)) or any(
            isinstance(v, bool) or not isinstance(v, kinds) for v in values
        ):
            raise InvalidInputError(
                name, f"must be a list of {' or '.join(k.__name__ for k in kinds)}, got {show(values)}"
            )
    if not vcpu_types or not profiles or not guest_features:
        raise InvalidInputError("table", "needs at least one vCPU type, profile and guest-features value")
    if manifest is None:
        if ovmf is None:
            raise InvalidInputError("ovmf", "a firmware image (or a firmware manifest) is required")
        man = FirmwareManifest.from_image(ovmf, threads=threads)
    else:
        man = manifest if isinstance(manifest, FirmwareManifest) else FirmwareManifest.load(manifest)
    hashes = KernelHashes.from_inputs(
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=kernel_hash,
        initrd_hash=initrd_hash,
        append_hash=append_hash,
    )
    hash_args: Dict[str, Any] = {}
    if hashes is not None:
        hash_args = dict(
            kernel_hash=hashes.kernel.hex(), initrd_hash=hashes.initrd.hex(), append_hash=hashes.cmdline.hex()
        )
    combos = [(get_profile(p), t, f) for p in profiles for t in vcpu_types for f in guest_features]
    rows: List[TableRow] = []
    total = len(combos) * len(counts)
    starts: Dict[str, Firmware] = {}
    for prof, vtype, feat in combos:
        cpu = _cpu_args(vtype)
        p = _prepare(
            **_prepare_defaults(dict(manifest=man, profile=prof, guest_features=feat, **cpu, **hash_args)),
            vcpus=counts[-1],
        )
        start = starts.get(prof.name)
        if start is None:
            start = Firmware(seed=p.seed, threads=threads, host=HostModel(kvm_checks=False))
            start.launch_start()
            _run_snp(start, [c for c in p.plan.commands if c.op != "vmsa"])
            starts[prof.name] = start
        for n, digest in sweep_prepared(p, counts, start=start).items():
            rows.append(
                TableRow(
                    prof.name,
                    vtype,
                    f"{p.vcpu_sig:#x}" if p.vcpu_sig is not None else "",
                    f"{p.features:#x}",
                    n,
                    digest.hex(),
                )
            )
        if progress is not None:
            progress(len(rows), total)
    return rows


def _cpu_args(vtype: str) -> Dict[str, Any]:
    if vtype.lower().startswith("0x"):
        try:
            return {"vcpu_sig": int(vtype, 16)}
        except ValueError:
            raise InvalidInputError("vcpu_type", f"bad signature {show(vtype)}") from None
    return {"vcpu_type": vtype}  # the model name is checked by cpus.resolve_vcpu_sig


def table_json(rows: List[TableRow], *, firmware: Dict[str, Any], inputs: Dict[str, Any]) -> Dict[str, Any]:
    """The reference-value table as a versioned JSON document."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, TableRow) for r in rows):
        raise InvalidInputError("rows", "must be a list of TableRow (what table() returns)")
    return {
        "schema": TABLE_SCHEMA,
        "schema_version": TABLE_VERSION,
        "snpmeasure_version": __version__,
        "firmware": firmware,
        "inputs": inputs,
        "rows": [r._asdict() for r in rows],
    }


CSV_FIELDS = ["profile", "vcpu_type", "vcpu_sig", "guest_features", "vcpus", "measurement"]


def table_csv(rows: List[TableRow]) -> str:
    """The rows as CSV with a header line."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, TableRow) for r in rows):
        raise InvalidInputError("rows", "must be a list of TableRow (what table() returns)")
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r._asdict())
    return out.getvalue()


def rows_from_csv(text: str) -> List[TableRow]:
    """Parse :func:`table_csv` output back into rows."""
    if not isinstance(text, str):
        raise InvalidInputError("csv", f"must be CSV text, got {type(text).__name__}")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or list(reader.fieldnames) != CSV_FIELDS:
        raise InvalidInputError("csv", f"must start with the header line {','.join(CSV_FIELDS)}")
    rows = []
    for n, d in enumerate(reader, 2):
        if None in d or any(v is None for v in d.values()) or not d["vcpus"].isdigit():
            raise InvalidInputError(f"csv line {n}", "must have the six fields, vcpus a whole number")
        rows.append(
            TableRow(
                d["profile"], d["vcpu_type"], d["vcpu_sig"], d["guest_features"], int(d["vcpus"]), d["measurement"]
            )
        )
    return rows


__all__ = ["table", "TableRow", "table_json", "table_csv", "rows_from_csv"]
