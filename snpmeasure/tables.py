"""Reference-value tables: launch digests for every combination of vCPU count, CPU model, profile
and guest features, with each shared prefix of the launch measured once, and their provenance.

The firmware pages are hashed once (a :class:`FirmwareManifest` seed); the metadata sections once
per profile; the VMSAs once per (CPU model, guest features) as one sweep over the vCPU counts.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Union, overload

from ._checks import ascii_int
from ._cpus import MAX_VCPUS
from ._jsonfile import check_schema
from ._version import __version__
from .errors import InvalidInputError, show
from .firmware import Firmware
from .images import FirmwareImage, FirmwareManifest
from .kernel_hashes import KernelHashes, bzimage_warning
from .measurement import (
    describe_kernel_inputs,
    parse_vcpu_counts,
    sweep_launch,
)
from .profiles import LaunchProfile, get_profile

TABLE_SCHEMA = "snpmeasure/reference-values"
#: 2: rows carry ``vcpu_sig`` null where the profile's VMSAs carry no signature (EC2, GCE); the
#: document records each input's SHA-256, the firmware-pages digest, profile definitions, warnings.
TABLE_VERSION = 2
Progress = Callable[[int, int], None]


class TableRow(NamedTuple):
    """One reference value. Python values are typed (digest bytes, as ``LaunchDigest.digest()``
    and :func:`sweep` give them); :meth:`to_json` and the CSV hold their text forms."""

    profile: str
    vcpu_type: str
    #: The CPUID signature the VMSAs carry; None where the profile puts none there (EC2, GCE).
    vcpu_sig: Optional[int]
    guest_features: int
    vcpus: int
    measurement: bytes

    def hexdigest(self) -> str:
        """The launch digest as lower-case hex."""
        return self.measurement.hex()

    def to_json(self) -> Dict[str, Any]:
        """The row as JSON: numbers as ``0x`` hex strings, the digest as hex."""
        return {
            "profile": self.profile,
            "vcpu_type": self.vcpu_type,
            "vcpu_sig": None if self.vcpu_sig is None else f"{self.vcpu_sig:#x}",
            "guest_features": f"{self.guest_features:#x}",
            "vcpus": self.vcpus,
            "measurement": self.measurement.hex(),
        }

    @classmethod
    def from_json(cls, obj: Any, where: str = "row") -> TableRow:
        """A row from :meth:`to_json` output (or a CSV line's fields), checked."""
        if not isinstance(obj, dict) or set(obj) != set(CSV_FIELDS):
            raise InvalidInputError(where, f"must be an object with exactly the fields {', '.join(CSV_FIELDS)}")
        for key in ("profile", "vcpu_type"):
            if not isinstance(obj[key], str) or not obj[key]:
                raise InvalidInputError(f"{where}.{key}", f"must be a non-empty string, got {show(obj[key])}")
        vcpus = obj["vcpus"]
        if isinstance(vcpus, str) and vcpus.isdigit():
            vcpus = int(vcpus)
        if isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS:
            raise InvalidInputError(f"{where}.vcpus", f"must be a count from 1 to {MAX_VCPUS}, got {show(vcpus)}")
        sig = None if obj["vcpu_sig"] in (None, "") else _hex_number(obj["vcpu_sig"], f"{where}.vcpu_sig", 32)
        digest = obj["measurement"]
        if not isinstance(digest, str) or len(digest) != 96:
            raise InvalidInputError(f"{where}.measurement", f"must be 96 hex digits, got {show(digest)}")
        try:
            raw = bytes.fromhex(digest)
        except ValueError:
            raise InvalidInputError(f"{where}.measurement", f"must be 96 hex digits, got {show(digest)}") from None
        return cls(
            obj["profile"],
            obj["vcpu_type"],
            sig,
            _hex_number(obj["guest_features"], f"{where}.guest_features", 64),
            vcpus,
            raw,
        )


def _hex_number(text: Any, where: str, bits: int) -> int:
    if isinstance(text, str) and text[:2].lower() == "0x" and 2 < len(text) <= 2 + bits // 4:
        try:
            return ascii_int(text, 16)
        except ValueError:
            pass
    raise InvalidInputError(where, f"must be a 0x hex number of at most {bits} bits, got {show(text)}")


class ReferenceTable(Sequence[TableRow]):
    """What :func:`table` returns: the rows (a sequence of :class:`TableRow`) and their provenance:
    the firmware (name, SHA-256, size, the digest of its pages), the other inputs with their
    SHA-256, every profile's full definition, the warnings of the launches and the snpmeasure
    version. :meth:`to_json` and :meth:`from_json` round-trip all of it; CSV holds the rows."""

    def __init__(
        self,
        rows: Sequence[TableRow],
        *,
        firmware: Dict[str, Any],
        inputs: Dict[str, Any],
        profiles: Dict[str, Dict[str, Any]],
        warnings: Sequence[str] = (),
        snpmeasure_version: str = __version__,
    ) -> None:
        if not isinstance(rows, (list, tuple)) or not all(isinstance(r, TableRow) for r in rows):
            raise InvalidInputError("rows", "must be a list of TableRow")
        for name, value in (("firmware", firmware), ("inputs", inputs), ("profiles", profiles)):
            if not isinstance(value, dict):
                raise InvalidInputError(name, f"must be a dict, got {type(value).__name__}")
        if not isinstance(warnings, (list, tuple)) or not all(isinstance(w, str) for w in warnings):
            raise InvalidInputError("warnings", "must be a list of str")
        self.rows: List[TableRow] = list(rows)
        self.firmware = firmware
        self.inputs = inputs
        self.profiles = profiles
        self.warnings: List[str] = list(warnings)
        self.snpmeasure_version = snpmeasure_version

    @overload
    def __getitem__(self, index: int) -> TableRow: ...

    @overload
    def __getitem__(self, index: slice) -> List[TableRow]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[TableRow, List[TableRow]]:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReferenceTable):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"ReferenceTable({len(self.rows)} rows, firmware={show(self.firmware.get('name'))})"

    def to_json(self) -> Dict[str, Any]:
        """The table as a versioned JSON document (``schema`` snpmeasure/reference-values)."""
        return {
            "schema": TABLE_SCHEMA,
            "schema_version": TABLE_VERSION,
            "snpmeasure_version": self.snpmeasure_version,
            "firmware": self.firmware,
            "inputs": self.inputs,
            "profiles": self.profiles,
            "warnings": self.warnings,
            "rows": [r.to_json() for r in self.rows],
        }

    @classmethod
    def from_json(cls, doc: Any, where: str = "table") -> ReferenceTable:
        """Read :meth:`to_json` output back (schema and version checked, every row checked)."""
        check_schema(doc, where, TABLE_SCHEMA, TABLE_VERSION, "snpmeasure table --json")
        rows = doc.get("rows")
        if not isinstance(rows, list):
            raise InvalidInputError(f"{where}.rows", "must be a list")
        version = doc.get("snpmeasure_version")
        if not isinstance(version, str):
            raise InvalidInputError(f"{where}.snpmeasure_version", f"must be a string, got {show(version)}")
        return cls(
            [TableRow.from_json(r, f"{where}.rows[{i}]") for i, r in enumerate(rows)],
            firmware=doc.get("firmware"),  # each checked by __init__
            inputs=doc.get("inputs"),
            profiles=doc.get("profiles"),
            warnings=doc.get("warnings"),
            snpmeasure_version=version,
        )

    def to_csv(self) -> str:
        """The rows as CSV with a header line (provenance is in the JSON form only)."""
        return table_csv(self.rows)

    def to_corim(self, **kwargs: Any) -> bytes:
        """The rows as a CoRIM (:func:`snpmeasure.exports.to_corim`, which takes ``kwargs``)."""
        from .exports import to_corim

        return to_corim(self, **kwargs)

    def to_trustee(self, **kwargs: Any) -> Dict[str, Any]:
        """The rows as trustee's RVPS message (:func:`snpmeasure.exports.to_trustee`)."""
        from .exports import to_trustee

        return to_trustee(self, **kwargs)


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
    allow_no_sev_metadata: bool = False,
) -> ReferenceTable:
    """SNP launch digests for the cartesian product of the inputs, as a :class:`ReferenceTable`.

    ``vcpu_types`` are QEMU CPU model names (or ``0x...`` signatures; required, because QEMU puts
    the signature into every VMSA); ``guest_features`` None means each profile's default;
    ``profiles`` are names or :class:`LaunchProfile` objects (``load_profile_file``). The rules
    are :func:`measure`'s: a firmware without SEV metadata is refused unless
    ``allow_no_sev_metadata``.
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
    firmware: Dict[str, Any]
    if manifest is None:
        if ovmf is None:
            raise InvalidInputError("ovmf", "a firmware image (or a firmware manifest) is required")
        image = ovmf if isinstance(ovmf, FirmwareImage) else FirmwareImage.open(ovmf, field="ovmf")
        man = FirmwareManifest.from_image(image, threads=threads)
        firmware = {"ovmf": {"path": image.name}}
    else:
        man = manifest if isinstance(manifest, FirmwareManifest) else FirmwareManifest.load(manifest)
        path = None if isinstance(manifest, FirmwareManifest) else os.fspath(manifest)
        firmware = {"firmware_manifest": {"path": path, "snpmeasure_version": man.snpmeasure_version}}
    firmware.update(name=man.name, sha256=man.sha256, size=man.size, ovmf_digest=man.ovmf_digest.hex())
    hashes = KernelHashes.from_inputs(
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=kernel_hash,
        initrd_hash=initrd_hash,
        append_hash=append_hash,
    )
    hash_args: Dict[str, Any] = {}
    inputs: Dict[str, Any] = {}
    if hashes is not None:
        hash_args = dict(
            kernel_hash=hashes.kernel.hex(), initrd_hash=hashes.initrd.hex(), append_hash=hashes.cmdline.hex()
        )
        inputs = describe_kernel_inputs(hashes, kernel, initrd, append)
    warnings: List[str] = []
    if kernel is not None:
        note = bzimage_warning(kernel)
        if note is not None:
            warnings.append(note)
    resolved = [get_profile(p) for p in profiles]
    combos = [(prof, t, f) for prof in resolved for t in vcpu_types for f in guest_features]
    rows: List[TableRow] = []
    total = len(combos) * len(counts)
    starts: Dict[Any, Firmware] = {}
    for prof, vtype, feat in combos:  # launches are shared by the whole profile: two may share a name
        cpu = _cpu_args(vtype)
        launch = dict(
            manifest=man,
            profile=prof,
            guest_features=feat,
            allow_no_sev_metadata=allow_no_sev_metadata,
            **cpu,
            **hash_args,
        )
        p, digests = sweep_launch(launch, counts, threads=threads, shared=starts, key=prof)
        warnings.extend(w for w in p.plan.warnings if w not in warnings)
        assert p.features is not None
        for n, digest in digests.items():
            rows.append(TableRow(prof.name, vtype, p.vcpu_sig, p.features, n, digest))
        if progress is not None:
            progress(len(rows), total)
    return ReferenceTable(
        rows,
        firmware=firmware,
        inputs=inputs,
        profiles={prof.name: prof.to_json() for prof in resolved},
        warnings=warnings,
    )


def _cpu_args(vtype: str) -> Dict[str, Any]:
    if vtype.lower().startswith("0x"):
        try:
            sig = ascii_int(vtype, 16)
        except ValueError:
            sig = -1
        if not 0 <= sig <= 0xFFFFFFFF:
            raise InvalidInputError("vcpu_types", f"{show(vtype)} is no 32-bit CPUID(1).EAX signature")
        return {"vcpu_sig": sig}
    return {"vcpu_type": vtype}  # the model name is checked by cpus.resolve_vcpu_sig


CSV_FIELDS = ["profile", "vcpu_type", "vcpu_sig", "guest_features", "vcpus", "measurement"]


def table_csv(rows: Sequence[TableRow]) -> str:
    """The rows as CSV with a header line (``vcpu_sig`` empty where a profile uses none)."""
    if not isinstance(rows, (list, tuple, ReferenceTable)) or not all(isinstance(r, TableRow) for r in rows):
        raise InvalidInputError("rows", "must be a list of TableRow (what table() returns)")
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r.to_json(), "vcpu_sig": "" if r.vcpu_sig is None else f"{r.vcpu_sig:#x}"})
    return out.getvalue()


def rows_from_csv(text: str) -> List[TableRow]:
    """Parse :func:`table_csv` output back into rows (each checked as :meth:`TableRow.from_json`)."""
    if not isinstance(text, str):
        raise InvalidInputError("csv", f"must be CSV text, got {type(text).__name__}")
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or list(reader.fieldnames) != CSV_FIELDS:
        raise InvalidInputError("csv", f"must start with the header line {','.join(CSV_FIELDS)}")
    rows = []
    try:
        for n, d in enumerate(reader, 2):
            if None in d or any(v is None for v in d.values()):
                raise InvalidInputError(f"csv line {n}", "must have the six fields")
            rows.append(TableRow.from_json(dict(d), f"csv line {n}"))
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte
        raise InvalidInputError("csv", f"is not CSV a table holds ({exc})") from None
    return rows


__all__ = ["table", "TableRow", "ReferenceTable", "table_csv", "rows_from_csv"]
