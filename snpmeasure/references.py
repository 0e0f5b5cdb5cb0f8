"""The verifier's side: reference-value sets read back (snpmeasure's table as JSON or CSV, the CoRIM
it writes) and matched against a report, and a verify configuration (several allowed
measurements, policy, minimum TCB, product, key digests, host data, VMPL) checked against one.

The exports in the forms other verifiers read are in :mod:`snpmeasure.exports`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ._files import read_input
from ._jsonfile import check_schema, parse_json
from .errors import InvalidInputError, show
from .tables import TABLE_SCHEMA, ReferenceTable, TableRow, rows_from_csv

if TYPE_CHECKING:
    import datetime

    from .report import AttestationReport, Mismatch

#: A reference file is a few MiB at most (a 4096-count table of every profile is about 30 MiB of JSON).
MAX_REFERENCE_BYTES = 64 << 20
VERIFY_CONFIG_SCHEMA = "snpmeasure/verify-config"
VERIFY_CONFIG_VERSION = 1
#: The keys of a verify configuration (docs/verify-config.schema.json describes each).
VERIFY_CONFIG_KEYS = (
    "schema",
    "schema_version",
    "measurements",
    "policy",
    "policy_at_most",
    "min_tcb",
    "product",
    "signing_key",
    "id_key_digests",
    "author_key_digests",
    "host_data",
    "family_id",
    "image_id",
    "guest_svn",
    "vmpl",
    "permit_provisional_firmware",
)


def _check_report(report: object) -> None:
    from ._checks import require_type
    from .report import AttestationReport

    require_type("report", report, AttestationReport)


class ReferenceSet:
    """Reference values as a verifier holds them: the rows (what each digest was computed from)
    and where they came from."""

    def __init__(
        self,
        rows: Sequence[TableRow],
        *,
        source: str,
        form: str,
        table: Optional[ReferenceTable] = None,
        claims: Optional[Sequence[Dict[str, Any]]] = None,
    ):
        self.rows: List[TableRow] = list(rows)
        #: per row, what else the report must carry (a CoRIM's claims beside the measurement:
        #: signing_key, policy, id_key_digest, author_key_digest, min_tcb_raw); {} for tables
        self.claims: List[Dict[str, Any]] = [dict(c) for c in claims] if claims is not None else [{} for _ in self.rows]
        if len(self.claims) != len(self.rows):
            raise InvalidInputError("claims", "must be one per row")
        #: the file (or "<bytes>") the set was read from
        self.source = source
        #: "table-json", "table-csv" or "corim"
        self.form = form
        #: the whole table with its provenance, where the form carries it
        self.table = table

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"ReferenceSet({len(self.rows)} rows from {self.source}, {self.form})"

    def matching(self, measurement: bytes) -> List[TableRow]:
        """The rows whose digest is ``measurement`` (several when launches differing only in what
        the digest does not cover share it)."""
        from ._checks import as_bytes

        wanted = as_bytes("measurement", measurement, 48)
        return [r for r in self.rows if r.measurement == wanted]

    def check(self, report: AttestationReport) -> Tuple[List[TableRow], List[Mismatch]]:
        """The rows the report is (its MEASUREMENT, and every other claim of the row), and the
        mismatches when it is none of them: the MEASUREMENT's, or the first such row's other claims."""
        from .report import Mismatch

        _check_report(report)
        candidates = [(r, c) for r, c in zip(self.rows, self.claims) if r.measurement == report.measurement]
        if not candidates:
            want = f"one of the {len(self.rows)} reference values of {self.source}"
            return [], [Mismatch("MEASUREMENT", want, report.measurement.hex())]
        results = [(row, _claim_mismatches(claims, report)) for row, claims in candidates]
        rows = [row for row, failed in results if not failed]
        return (rows, []) if rows else ([], results[0][1])


def _claim_mismatches(claims: Dict[str, Any], report: AttestationReport) -> List[Mismatch]:
    from .report import Expectations, TcbVersion

    exp: Dict[str, Any] = {
        k: v for k, v in claims.items() if k in ("signing_key", "policy", "id_key_digest", "author_key_digest")
    }
    minimum = claims.get("min_tcb_raw")
    if minimum is not None:
        # Per component in the report's layout, as Veraison and go-sev-guest compare: as one
        # number, a newer microcode (the top byte on Milan and Genoa) would hide an older bootloader.
        floor = TcbVersion.decode(minimum, report.generation)
        if floor.reserved_problems():  # bytes no component of this layout reads: refused, not dropped
            raise InvalidInputError(
                "reference",
                f"its minimum TCB {minimum:#018x} sets bytes no {report.generation} TCB component has "
                f"({', '.join(floor.reserved_problems())}): refused, not dropped",
            )
        exp["min_tcb"] = floor.components
    return report.check(Expectations(**exp))


def load_references(
    source: Union[str, os.PathLike[str], bytes],
    field: str = "reference",
    *,
    public_key: Any = None,
    now: Optional[datetime.datetime] = None,
) -> ReferenceSet:
    """A reference set from a file (or its bytes): snpmeasure's table JSON (``table --json``), its
    CSV (``table --csv``) or the CoRIM ``--format corim`` writes (CBOR, tagged 501, or signed
    COSE_Sign1, whose signature is checked with ``public_key``, a P-384 public key); a CoRIM's
    validity periods must hold at ``now`` (default: the current time; a naive time is UTC)."""
    from .certs import check_time

    check_time(now)  # a bad time is said whatever the form of the set
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<bytes>"
    else:
        data, name = read_input(field, source, MAX_REFERENCE_BYTES + 1), os.fspath(source)
        if len(data) > MAX_REFERENCE_BYTES:
            raise InvalidInputError(field, f"{name} is over {MAX_REFERENCE_BYTES >> 20} MiB: no reference set is")
    if not data:
        raise InvalidInputError(field, f"{name} is empty")
    if data[:1] in (b"\xd9", b"\xd2"):  # CBOR tag 501 (unsigned CoRIM) or 18 (COSE_Sign1)
        from .exports import read_corim

        read = read_corim(data, field, public_key=public_key, now=now)
        return ReferenceSet([r for r, _ in read], source=name, form="corim", claims=[c for _, c in read])
    if public_key is not None:  # a key says the set must be signed: an unsigned one is refused
        raise InvalidInputError(field, f"{name} is not a signed CoRIM, but a signer's key was given to check it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(field, f"{name} is neither a table (JSON, CSV) nor a CoRIM (CBOR)") from None
    if text.lstrip().startswith("{"):
        doc = parse_json(text, field, what=f"{name} ")
        if not isinstance(doc, dict) or doc.get("schema") != TABLE_SCHEMA:
            raise InvalidInputError(field, f"{name} is JSON but not a {TABLE_SCHEMA} table (snpmeasure table --json)")
        table = ReferenceTable.from_json(doc, field)
        return ReferenceSet(table.rows, source=name, form="table-json", table=table)
    try:
        rows = rows_from_csv(text)
    except InvalidInputError as exc:
        raise InvalidInputError(field, f"{name}: {exc}") from None
    return ReferenceSet(rows, source=name, form="table-csv")


def load_public_key(source: Union[str, os.PathLike[str]], field: str = "public_key") -> Any:
    """A P-384 public key from a PEM or DER file holding the key or a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    data = read_input(field, source, 1 << 20)
    key: Any = None
    for loader in (
        serialization.load_pem_public_key,
        serialization.load_der_public_key,
        lambda d: x509.load_pem_x509_certificate(d).public_key(),
        lambda d: x509.load_der_x509_certificate(d).public_key(),
    ):
        try:
            key = loader(data)
            break
        except (ValueError, TypeError):
            continue
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise InvalidInputError(field, f"{os.fspath(source)} holds no P-384 public key (PEM or DER key or certificate)")
    return key


class VerifyConfig:
    """What a verifier expects of reports, read from a JSON document (schema
    ``snpmeasure/verify-config``, docs/verify-config.schema.json): several allowed measurements
    or key digests, and the single-valued expectations of :class:`~snpmeasure.Expectations`."""

    def __init__(
        self,
        *,
        measurements: Sequence[bytes] = (),
        id_key_digests: Sequence[bytes] = (),
        author_key_digests: Sequence[bytes] = (),
        product: Optional[str] = None,
        expectations: Any = None,
        permit_provisional_firmware: bool = False,
    ) -> None:
        from ._checks import as_bytes
        from .report import TCB_LAYOUTS, Expectations

        lists = {
            "measurements": measurements,
            "id_key_digests": id_key_digests,
            "author_key_digests": author_key_digests,
        }
        for name, values in lists.items():
            if not isinstance(values, (list, tuple)):
                raise InvalidInputError(name, f"must be a list of 48-byte digests, got {type(values).__name__}")
        if not isinstance(permit_provisional_firmware, bool):
            raise InvalidInputError(
                "permit_provisional_firmware",
                f"must be a bool (true or false), got {show(permit_provisional_firmware)}",
            )
        if product is not None and (not isinstance(product, str) or product not in TCB_LAYOUTS):
            raise InvalidInputError("product", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(product)}")
        if expectations is not None and not isinstance(expectations, Expectations):
            raise InvalidInputError("expectations", f"must be Expectations, got {type(expectations).__name__}")
        #: accept a COMMITTED_TCB and version below the current ones (AttestationReport.validate)
        self.permit_provisional_firmware = permit_provisional_firmware
        self.measurements = [as_bytes("measurements", m, 48) for m in measurements]
        self.id_key_digests = [as_bytes("id_key_digests", d, 48) for d in id_key_digests]
        self.author_key_digests = [as_bytes("author_key_digests", d, 48) for d in author_key_digests]
        self.product = product
        self.expectations: Expectations = expectations if expectations is not None else Expectations()

    @classmethod
    def from_json(cls, doc: Any, where: str = "config") -> VerifyConfig:
        """A configuration from its parsed JSON; every key checked, unknown keys refused."""
        from .policy import GuestPolicy
        from .report import Expectations, parse_hex, parse_min_tcb

        check_schema(doc, where, VERIFY_CONFIG_SCHEMA, VERIFY_CONFIG_VERSION, "docs/verify-config.schema.json")
        unknown = sorted(set(doc) - set(VERIFY_CONFIG_KEYS))
        if unknown:
            raise InvalidInputError(
                f"{where}.{unknown[0]}", f"is no key of a verify config; keys: {', '.join(VERIFY_CONFIG_KEYS)}"
            )

        def hex_list(key: str, size: int) -> List[bytes]:
            value = doc.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInputError(f"{where}.{key}", f"must be a list of hex or base64 strings, got {show(value)}")
            if key in doc and not value:  # an empty pipeline output must not turn the check off
                raise InvalidInputError(
                    f"{where}.{key}", "is empty: no value could match; leave the key out to check none"
                )
            out = []
            for i, v in enumerate(value):
                parsed = parse_hex(f"{where}.{key}[{i}]", v, size)
                assert parsed is not None
                out.append(parsed)
            return out

        exp: Dict[str, Any] = {}
        for key, size in (("host_data", 32), ("family_id", 16), ("image_id", 16)):
            if key in doc:
                exp[key] = parse_hex(f"{where}.{key}", doc[key], size)
        if "policy" in doc:
            if isinstance(doc["policy"], bool) or not isinstance(doc["policy"], (str, int)):
                raise InvalidInputError(
                    f"{where}.policy", f"must be a policy string or number, got {show(doc['policy'])}"
                )
            try:
                exp["policy"] = GuestPolicy.parse(doc["policy"]).to_int()
            except InvalidInputError as exc:
                raise InvalidInputError(f"{where}.policy", exc.rule) from None
        if "policy_at_most" in doc:
            if not isinstance(doc["policy_at_most"], bool):
                raise InvalidInputError(
                    f"{where}.policy_at_most", f"must be true or false, got {show(doc['policy_at_most'])}"
                )
            exp["policy_at_most"] = doc["policy_at_most"]
        if "min_tcb" in doc:
            tcb = doc["min_tcb"]
            if isinstance(tcb, dict):
                tcb = ",".join(f"{k}={v}" for k, v in tcb.items()) if tcb else None
            if not isinstance(tcb, str):
                raise InvalidInputError(f"{where}.min_tcb", "must be an object such as {\"snp\": 8} or 'snp=8,...'")
            exp["min_tcb"] = parse_min_tcb(tcb, f"{where}.min_tcb")
        for key, top in (("guest_svn", 0xFFFFFFFF), ("vmpl", 3)):
            if key in doc:
                value = doc[key]
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                    raise InvalidInputError(f"{where}.{key}", f"must be an int from 0 to {top}, got {show(value)}")
                exp[key] = value
        if "signing_key" in doc:
            if doc["signing_key"] not in ("VCEK", "VLEK"):
                raise InvalidInputError(f"{where}.signing_key", f"must be VCEK or VLEK, got {show(doc['signing_key'])}")
            exp["signing_key"] = doc["signing_key"]
        if exp.get("policy_at_most") and "policy" not in exp:
            raise InvalidInputError(f"{where}.policy_at_most", "compares with an expected policy: give policy too")
        try:
            expectations = Expectations(**exp)
        except InvalidInputError as exc:  # a TCB component the generations lack: the config's key
            raise InvalidInputError(f"{where}.{exc.field}", exc.rule) from None
        lists = {key: hex_list(key, 48) for key in ("measurements", "id_key_digests", "author_key_digests")}
        try:  # product and permit_provisional_firmware are checked once, by the constructor
            return cls(
                **lists,
                product=doc.get("product"),
                expectations=expectations,
                permit_provisional_firmware=doc.get("permit_provisional_firmware", False),
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}.{exc.field}", exc.rule) from None

    @classmethod
    def load(cls, source: Union[str, os.PathLike[str]], field: str = "config") -> VerifyConfig:
        """Read a configuration file (JSON, at most 16 MiB)."""
        from ._jsonfile import load_json_file

        return cls.from_json(load_json_file(source, field), field)

    def check(self, report: AttestationReport) -> List[Mismatch]:
        """The expectations the report does not meet, in field order ([] when all hold); the
        product is compared where the report names its CPU (version 3 on)."""
        from .report import Mismatch

        _check_report(report)
        out: List[Mismatch] = []
        if self.product is not None and report.cpuid is not None and report.generation != self.product:
            out.append(Mismatch("PRODUCT", self.product, report.generation))  # v2 reports do not say
        for name, allowed in (
            ("MEASUREMENT", self.measurements),
            ("ID_KEY_DIGEST", self.id_key_digests),
            ("AUTHOR_KEY_DIGEST", self.author_key_digests),
        ):
            got = getattr(report, name.lower())
            if allowed and got not in allowed:
                want = allowed[0].hex() if len(allowed) == 1 else f"one of {len(allowed)} allowed values"
                out.append(Mismatch(name, want, got.hex()))
        return out + report.check(self.expectations)


__all__ = ["ReferenceSet", "load_references", "load_public_key", "VerifyConfig"]
