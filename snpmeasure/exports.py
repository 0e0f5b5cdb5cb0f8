"""Reference values in the forms verifiers read, each as its tool defines it today
(docs/reference/verifiers.md cites the source files and versions):

- ``corim``: an unsigned CoRIM (CBOR tag 501) with one CoMID whose reference triples carry each
  row's launch digest for the AMD SEV-SNP environment, or the same signed as COSE_Sign1;
- ``trustee``: the message trustee's reference-value provider registers (type ``sample``), whose
  ``snp_launch_measurement`` list its default policy checks the report's MEASUREMENT against;
- ``go-sev-guest``: a ``check.Config`` in the text format ``check -config FILE.textproto`` reads,
  one per measurement (its ``measurement`` field holds one).

Every export carries the table's provenance (snpmeasure version, inputs' SHA-256, firmware-pages
digest, profile definitions) beside it, as the table JSON in ``FILE.provenance.json``, which
``report verify --reference`` also reads.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ._checks import require_type
from .errors import InvalidInputError, show

if TYPE_CHECKING:  # tables loads the measurement modules: the CLI's flags need only FORMATS
    import datetime

    from .tables import ReferenceTable, TableRow

FORMATS = ("corim", "corim-veraison", "trustee", "go-sev-guest")
#: CoRIM dialects: the AMD SEV-SNP profile's, and Veraison's SEV-SNP scheme's (which differs)
CORIM_DIALECTS = ("profile", "veraison")
#: trustee's reference-value message version (rvps/src/lib.rs accepts only this one).
TRUSTEE_MESSAGE_VERSION = "0.1.0"


def unique_measurements(rows: Sequence[TableRow]) -> List[bytes]:
    """The rows' digests, each once, in row order."""
    return list(dict.fromkeys(r.measurement for r in rows))


#: trustee's TCB components, as its default policy names them: each checked by exact value, so a
#: reference gives all four.
TRUSTEE_TCB = {"bootloader": "snp_bootloader", "tee": "snp_tee_svn", "snp": "snp_snp_svn", "microcode": "snp_microcode"}


def _check_table(table: object) -> None:
    from .tables import ReferenceTable

    require_type("table", table, ReferenceTable, "what table() returns")


def to_trustee(
    table: ReferenceTable, *, policy: Optional[int] = None, host_tcb: Optional[Mapping[str, int]] = None
) -> Dict[str, Any]:
    """trustee's RVPS registration message: ``{"version", "type": "sample", "payload"}`` whose
    payload is the base64 of ``{"snp_launch_measurement": [hex, ...]}`` (lower-case hex, as its SNP
    verifier writes the claim since trustee 0.18); with ``policy``, also the policy-derived values
    its default policy compares (ABI major/minor, single socket, SMT allowed); with ``host_tcb``
    (``{"bootloader": N, "tee": N, "snp": N, "microcode": N}``, all four), each as the one allowed
    value of ``snp_bootloader``, ``snp_tee_svn``, ``snp_snp_svn`` and ``snp_microcode`` (the policy
    checks membership, not a minimum: register each host TCB that may serve)."""
    _check_table(table)
    values: Dict[str, Any] = {"snp_launch_measurement": [m.hex() for m in unique_measurements(table.rows)]}
    if policy is not None:
        from .policy import GuestPolicy

        p = GuestPolicy.from_int(_check_policy(policy))
        values.update(
            snp_guest_abi_major=p.abi_major,
            snp_guest_abi_minor=p.abi_minor,
            snp_single_socket=bool(p.single_socket),
            snp_smt_allowed=bool(p.smt),
        )
    if host_tcb is not None:
        names = TRUSTEE_TCB
        if not isinstance(host_tcb, Mapping) or sorted(host_tcb) != sorted(names):
            raise InvalidInputError("host_tcb", f"must give exactly {', '.join(names)}, got {show(host_tcb)}")
        for component, name in names.items():
            spl = host_tcb[component]
            if isinstance(spl, bool) or not isinstance(spl, int) or not 0 <= spl <= 0xFF:
                raise InvalidInputError(f"host_tcb.{component}", f"must be an SPL from 0 to 255, got {show(spl)}")
            values[name] = [spl]
    payload = base64.b64encode(json.dumps(values, sort_keys=True).encode()).decode()
    return {"version": TRUSTEE_MESSAGE_VERSION, "type": "sample", "payload": payload}


def from_trustee(doc: Any, where: str = "trustee") -> Dict[str, Any]:
    """The reference values of a trustee ``sample`` message (its decoded payload), checked."""
    if not isinstance(doc, dict) or doc.get("type") != "sample" or not isinstance(doc.get("payload"), str):
        raise InvalidInputError(where, 'must be a trustee message {"version", "type": "sample", "payload"}')
    if doc.get("version", TRUSTEE_MESSAGE_VERSION) != TRUSTEE_MESSAGE_VERSION:
        raise InvalidInputError(
            f"{where}.version", f"must be {TRUSTEE_MESSAGE_VERSION}, got {show(doc.get('version'))}"
        )
    from ._jsonfile import parse_json

    try:
        text = base64.b64decode(doc["payload"], validate=True).decode("utf-8")
    except ValueError:
        raise InvalidInputError(f"{where}.payload", "must be the base64 of a JSON object") from None
    values = parse_json(text, f"{where}.payload")
    if not isinstance(values, dict):
        raise InvalidInputError(f"{where}.payload", "must be the base64 of a JSON object")
    digests = values.get("snp_launch_measurement")
    if not isinstance(digests, list) or not all(isinstance(d, str) and len(d) == 96 for d in digests):
        raise InvalidInputError(f"{where}.payload.snp_launch_measurement", "must be a list of 96-digit hex digests")
    return values


def to_go_sev_guest(
    measurement: bytes,
    *,
    policy: Optional[int] = None,
    id_key_digests: Sequence[bytes] = (),
    author_key_digests: Sequence[bytes] = (),
    min_tcb: Optional[Any] = None,
    comment: str = "",
) -> str:
    """One go-sev-guest ``check.Config`` (proto/check.proto) in protobuf text format, for ``check
    -config FILE.textproto`` (its tool reads text format for that suffix, binary otherwise, never
    JSON): the measurement and the guest policy it treats as "at most" (default QEMU's 0x30000);
    with ``id_key_digests``, ``require_id_block`` and them as ``trusted_id_key_hashes``; with
    ``author_key_digests``, ``require_author_key`` and ``trusted_author_key_hashes``; with
    ``min_tcb`` (a ``snpmeasure.report.TcbVersion``), ``minimum_tcb`` (its TCB_VERSION as a uint64, which
    check compares component by component)."""
    from .policy import DEFAULT_POLICY

    if not isinstance(measurement, (bytes, bytearray)) or len(measurement) != 48:
        raise InvalidInputError("measurement", f"must be 48 bytes, got {show(measurement)}")
    if not isinstance(comment, str):
        raise InvalidInputError("comment", f"must be a str, got {type(comment).__name__}")
    for name, digests in (("id_key_digests", id_key_digests), ("author_key_digests", author_key_digests)):
        if not isinstance(digests, (list, tuple)):
            raise InvalidInputError(name, f"must be a list of 48-byte digests, got {type(digests).__name__}")
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [
        "policy {",
        f"  policy: {_check_policy(DEFAULT_POLICY if policy is None else policy)}",
        f'  measurement: "{_text_bytes(bytes(measurement))}"',
    ]
    if min_tcb is not None:
        lines.append(f"  minimum_tcb: {_tcb_raw(min_tcb)}")
    if author_key_digests:
        lines.append("  require_author_key: true")
    for name, digests in (("author", author_key_digests), ("id", id_key_digests)):
        for digest in digests:
            if not isinstance(digest, (bytes, bytearray)) or len(digest) != 48:
                raise InvalidInputError(f"{name}_key_digests", f"must be 48-byte SHA-384 digests, got {show(digest)}")
            lines.append(f'  trusted_{name}_key_hashes: "{_text_bytes(bytes(digest))}"')
    if id_key_digests:
        lines.append("  require_id_block: true")
    lines.append("}")
    return "\n".join(lines) + "\n"


def from_go_sev_guest(text: str, where: str = "config") -> Tuple[bytes, int]:
    """(measurement, policy) of a config :func:`to_go_sev_guest` wrote (its subset of text format)."""
    import re

    if not isinstance(text, str):
        raise InvalidInputError(where, f"must be the config's text (str), got {type(text).__name__}")
    m = re.fullmatch(
        r'(?:#[^\n]*\n)*policy \{\n  policy: (\d+)\n  measurement: "((?:\\[0-7]{3})*)"\n'
        r"(?:  minimum_tcb: \d+\n)?(?:  require_author_key: true\n)?"
        r'(?:  trusted_author_key_hashes: "(?:\\[0-7]{3})*"\n)*'
        r'(?:  trusted_id_key_hashes: "(?:\\[0-7]{3})*"\n)*(?:  require_id_block: true\n)?\}\n',
        text,
    )
    if m is None:
        raise InvalidInputError(where, "is not a check.Config text this snpmeasure writes")
    raw = bytes(int(o, 8) for o in re.findall(r"\\([0-7]{3})", m.group(2)))
    if len(raw) != 48:
        raise InvalidInputError(f"{where}.measurement", f"must be 48 bytes, got {len(raw)}")
    return raw, int(m.group(1))


def reference_policy_value(text: Optional[str], field: str = "policy") -> Optional[int]:
    """A policy given as text (``0x30000`` or flags) for an export, checked; None stays None."""
    if text is None:
        return None
    from .policy import GuestPolicy

    try:
        return _check_policy(GuestPolicy.parse(text).to_int())
    except InvalidInputError as exc:
        raise InvalidInputError(field, exc.rule) from None


def _tcb_raw(tcb: Any) -> int:
    from .report import TcbVersion

    require_type("min_tcb", tcb, TcbVersion, "TcbVersion.encode")
    raw: int = tcb.raw
    return raw


def _text_bytes(data: bytes) -> str:
    # Octal escapes: exactly three digits each, so no following character can extend one (a \x
    # escape takes up to two hex digits in protobuf-go's decoder).
    return "".join(f"\\{b:03o}" for b in data)


def _check_policy(policy: int) -> int:
    if isinstance(policy, bool) or not isinstance(policy, int) or not 0 <= policy < 1 << 64:
        raise InvalidInputError("policy", f"must be a 64-bit guest policy, got {show(policy)}")
    if not policy & (1 << 17):
        raise InvalidInputError("policy", f"{policy:#x} lacks bit 17, which every SNP guest policy has set")
    from .policy import GuestPolicy

    GuestPolicy.from_int(policy)  # reserved bits (26-63): no launch has them, and go-sev-guest refuses them
    return policy


# ---- CoRIM (draft-ietf-rats-corim-11; AMD SEV-SNP profile draft-deeglaze-amd-sev-snp-corim-profile-02)

#: CBOR tags: unsigned CoRIM, CoMID, OID, URI, tagged bytes, COSE_Sign1.
CORIM_TAG, COMID_TAG, OID_TAG, URI_TAG, BYTES_TAG, COSE_SIGN1_TAG = 501, 506, 111, 32, 560, 18
#: The profile's identifier as its published revision -02 gives it; the editor's copy since 2025
#: says 2025 (both are read).
CORIM_PROFILE = "tag:amd.com,2024:snp-corim-profile"
CORIM_PROFILES_READ = (CORIM_PROFILE, "tag:amd.com,2025:snp-corim-profile")
#: Environment class-ids (OID content octets, as RFC 9090 and CoRIM encode them): reports signed by
#: a chip's VCEK (1.3.6.1.4.1.3704.3.1) or a cloud provider's VLEK (1.3.6.1.4.1.3704.3.2).
CLASS_OIDS = {"VCEK": bytes.fromhex("2b060104019c780301"), "VLEK": bytes.fromhex("2b060104019c780302")}
#: The profile's mkeys for the report fields exported here (profile -02 §measurement-values).
MKEY_POLICY, MKEY_MEASUREMENT, MKEY_ID_KEY_DIGEST, MKEY_AUTHOR_KEY_DIGEST, MKEY_REPORTED_TCB = 2, 641, 643, 644, 647
#: CoRIM's tag of a minimum SVN, tagged-min-svn (CoRIM -11 cbor-tags.txt; 552, an exact SVN, is not written).
MIN_SVN_TAG = 553
#: IANA Named Information hash algorithm id of SHA-384.
SHA384_ALG = 7
#: COSE: ES384, and the protected header's content type for a signed CoRIM.
COSE_ES384 = -35
RIM_CONTENT_TYPE = "application/rim+cbor"


def to_corim(
    table: ReferenceTable,
    *,
    signing_key: str = "VCEK",
    policy: Optional[int] = None,
    id_key_digest: Optional[bytes] = None,
    author_key_digest: Optional[bytes] = None,
    min_tcb: Optional[Any] = None,
    signer: Any = None,
    signer_name: str = "snpmeasure",
    password: Optional[bytes] = None,
    dialect: str = "profile",
) -> bytes:
    """The table as a CoRIM: ``501({0: id, 1: [506(<<CoMID>>), ...], 3: 32(profile), 5: entities})``
    with one CoMID per row, whose tag-id names the row (``snpmeasure:`` and the row's fields,
    percent-encoded) and whose reference triple gives the SEV-SNP environment (``class-id`` the
    VCEK or VLEK OID) the measurement ``{0: 641, 1: {2: [[7, digest]]}}``, and with ``policy``
    also ``{0: 2, 1: {4: 560(policy, 8 bytes little-endian)}}``, and the ID and author key digests
    (SHA-384 of the public keys, as the report carries them) as mkeys 643 and 644 with
    ``{2: [[7, digest]]}``, and ``min_tcb`` (a ``snpmeasure.report.TcbVersion``) as the
    REPORTED_TCB minimum ``{0: 647, 1: {1: 553(TCB_VERSION as uint)}}``. Encoded deterministically (RFC 8949
    §4.2). ``signer`` (a P-384 key as :func:`~snpmeasure.sign_id_block` takes it) wraps it in
    COSE_Sign1 (ES384, content type application/rim+cbor, ``signer_name`` in corim-meta).

    ``dialect="veraison"`` writes what Veraison's SEV-SNP scheme reads, where it departs from the
    profile: each environment also has the instance ``560(MEASUREMENT)`` (Veraison refuses a
    reference without one and finds references by it), and the key digests are raw values
    ``{4: 560(digest)}`` (Veraison compares them with the report's fields as raw values)."""
    import hashlib
    import uuid

    cbor2 = _cbor2()
    _check_table(table)
    if not isinstance(signing_key, str) or signing_key not in CLASS_OIDS:
        raise InvalidInputError("signing_key", f"must be VCEK or VLEK, got {show(signing_key)}")
    if dialect not in CORIM_DIALECTS:
        raise InvalidInputError("dialect", f"must be one of {', '.join(CORIM_DIALECTS)}, got {show(dialect)}")
    if not table.rows:
        raise InvalidInputError("table", "has no rows: a CoRIM needs at least one reference value")
    environment = {0: {0: cbor2.CBORTag(OID_TAG, CLASS_OIDS[signing_key])}}
    claims_extra = []
    if policy is not None:
        raw = _check_policy(policy).to_bytes(8, "little")
        claims_extra.append({0: MKEY_POLICY, 1: {4: cbor2.CBORTag(BYTES_TAG, raw)}})
    for mkey, name, value in (
        (MKEY_ID_KEY_DIGEST, "id_key_digest", id_key_digest),
        (MKEY_AUTHOR_KEY_DIGEST, "author_key_digest", author_key_digest),
    ):
        if value is not None:
            if not isinstance(value, (bytes, bytearray)) or len(value) != 48:
                raise InvalidInputError(name, f"must be a 48-byte SHA-384 digest, got {show(value)}")
            if dialect == "veraison":
                claims_extra.append({0: mkey, 1: {4: cbor2.CBORTag(BYTES_TAG, bytes(value))}})
            else:
                claims_extra.append({0: mkey, 1: {2: [[SHA384_ALG, bytes(value)]]}})
    if min_tcb is not None:
        claims_extra.append({0: MKEY_REPORTED_TCB, 1: {1: cbor2.CBORTag(MIN_SVN_TAG, _tcb_raw(min_tcb))}})
    tags = []
    for row in table.rows:
        digest_claim = {0: MKEY_MEASUREMENT, 1: {2: [[SHA384_ALG, row.measurement]]}}
        env: Dict[int, Any] = dict(environment)
        if dialect == "veraison":
            env[1] = cbor2.CBORTag(BYTES_TAG, row.measurement)
        comid = {
            1: {0: row_tag_id(row)},
            4: {0: [[env, [digest_claim, *claims_extra]]]},
        }
        tags.append(cbor2.CBORTag(COMID_TAG, cbor2.dumps(comid, canonical=True)))
    # The CoRIM's id: a UUID of its content, so the same table gives the same document.
    content = hashlib.sha256(b"".join(t.value for t in tags)).digest()
    corim = {
        0: str(uuid.UUID(bytes=content[:16], version=5)),
        1: tags,
        3: cbor2.CBORTag(URI_TAG, CORIM_PROFILE),
        5: [{0: f"snpmeasure {table.snpmeasure_version}", 2: [1]}],  # role manifest-creator
    }
    unsigned = cbor2.dumps(cbor2.CBORTag(CORIM_TAG, corim), canonical=True)
    if signer is None:
        return bytes(unsigned)
    return _cose_sign1(unsigned, signer, signer_name, password)


def _cose_sign1(payload: bytes, signer: Any, signer_name: str, password: Optional[bytes]) -> bytes:
    """COSE_Sign1 (RFC 9052 §4.2) over the unsigned CoRIM: protected {1: ES384, 3: content type,
    8: << corim-meta {0: {0: signer name}} >>}, the signature R ‖ S big-endian (RFC 9053 §2.1)."""
    from .blobs import load_private_key, sign_message

    cbor2 = _cbor2()
    key = load_private_key(signer, password=password, field_name="signer")
    meta = cbor2.dumps({0: {0: signer_name}}, canonical=True)
    protected = cbor2.dumps({1: COSE_ES384, 3: RIM_CONTENT_TYPE, 8: meta}, canonical=True)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)
    sig = sign_message(key, to_sign, "signer")
    raw = sig.r.to_bytes(48, "big") + sig.s.to_bytes(48, "big")
    return bytes(cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, raw]), canonical=True))


def row_tag_id(row: TableRow) -> str:
    """A CoMID tag-id naming a row: ``snpmeasure:PROFILE:VCPU_TYPE:SIG:FEATURES:VCPUS:DIGEST``
    (each field percent-encoded; SIG ``-`` where the profile puts none into the VMSAs)."""
    from urllib.parse import quote

    sig = "-" if row.vcpu_sig is None else f"{row.vcpu_sig:#x}"
    fields = (row.profile, row.vcpu_type, sig, f"{row.guest_features:#x}", str(row.vcpus), row.measurement.hex())
    return "snpmeasure:" + ":".join(quote(f, safe="") for f in fields)


def rows_from_corim(data: bytes, field: str = "corim", *, public_key: Any = None) -> List[TableRow]:
    """The rows of a CoRIM :func:`to_corim` wrote (signed: its signature checked with
    ``public_key``, a P-384 public key, and refused without one). Every structure the profile
    fixes is checked; a CoRIM from another tool (no ``snpmeasure:`` tag-ids) is refused by name.
    ``read_corim`` also gives each row's other claims."""
    return [row for row, _ in read_corim(data, field, public_key=public_key)]


def read_corim(
    data: bytes, field: str = "corim", *, public_key: Any = None, now: Optional[datetime.datetime] = None
) -> List[Tuple[TableRow, Dict[str, Any]]]:
    """Each row of a CoRIM :func:`to_corim` wrote with the claims beside its measurement, as
    :class:`~snpmeasure.Expectations` names them: ``signing_key`` (VCEK or VLEK, from the
    environment class), and where present ``policy``, ``id_key_digest``, ``author_key_digest`` and
    ``min_tcb_raw`` (REPORTED_TCB at least this number, the profile's svn comparison). A claim
    snpmeasure does not check is refused, so none is silently dropped: so are dependent RIMs, map
    keys the CoRIM draft does not define, and a COSE header marked critical that is not read here.
    The CoRIM's ``rim-validity`` and a signature's ``signature-validity`` (corim-meta) must hold
    at ``now`` (default: the current time)."""
    from urllib.parse import unquote

    from .tables import TableRow

    cbor2 = _cbor2()
    from .certs import check_time

    at = check_time(now)  # a naive time is UTC, as AttestationReport.verify reads it
    doc = _cbor_loads(data, field)
    if isinstance(doc, cbor2.CBORTag) and doc.tag == COSE_SIGN1_TAG:
        doc = _cbor_loads(_cose_payload(doc, field, public_key, at), f"{field} payload")
    elif public_key is not None:
        raise InvalidInputError(field, "is not signed, but a signer's key was given to check it")
    if not isinstance(doc, cbor2.CBORTag) or doc.tag != CORIM_TAG or not isinstance(doc.value, Mapping):
        raise InvalidInputError(field, "is not a CoRIM: CBOR tag 501 around a map")
    corim = doc.value
    # corim-map (draft-ietf-rats-corim): 0 id, 1 tags, 2 dependent-rims, 3 profile, 4 rim-validity,
    # 5 entities; anything else is an extension that may constrain what this reader cannot check.
    if 2 in corim:
        raise InvalidInputError(
            f"{field}.dependent-rims", "names other RIMs these values depend on, which snpmeasure does not fetch"
        )
    unknown = sorted((k for k in corim if k not in (0, 1, 3, 4, 5)), key=repr)
    if unknown:
        raise InvalidInputError(field, f"has the corim-map key {show(unknown[0])}, which snpmeasure does not check")
    if 4 in corim:
        _check_validity(corim[4], f"{field}.rim-validity", at, "these reference values")
    profile = corim.get(3)
    if not isinstance(profile, cbor2.CBORTag) or profile.tag != URI_TAG or profile.value not in CORIM_PROFILES_READ:
        raise InvalidInputError(f"{field}.profile", f"must be 32({CORIM_PROFILE!r}), the AMD SEV-SNP profile")
    tags = corim.get(1)
    if not isinstance(tags, (list, tuple)) or not tags:
        raise InvalidInputError(f"{field}.tags", "must be a non-empty list of CoMIDs")
    out = []
    for i, tag in enumerate(tags):
        where = f"{field}.tags[{i}]"
        if not isinstance(tag, cbor2.CBORTag) or tag.tag != COMID_TAG or not isinstance(tag.value, bytes):
            raise InvalidInputError(where, "must be a CoMID: tag 506 around its encoded bytes")
        comid = _cbor_loads(tag.value, where)
        identity = comid.get(1) if isinstance(comid, Mapping) else None
        tag_id = identity.get(0) if isinstance(identity, Mapping) else None
        if not isinstance(tag_id, str) or not tag_id.startswith("snpmeasure:"):
            raise InvalidInputError(where, "is not a CoMID snpmeasure wrote (its tag-id does not name a row)")
        parts = [unquote(p) for p in tag_id[len("snpmeasure:") :].split(":")]
        if len(parts) != 6:
            raise InvalidInputError(f"{where}.tag-id", f"must have six fields, got {show(tag_id)}")
        claims = _reference_claims(comid, where)
        if claims.pop("measurement").hex() != parts[5]:
            raise InvalidInputError(f"{where}.tag-id", "names another digest than its reference triple holds")
        row = TableRow.from_json(
            dict(
                profile=parts[0],
                vcpu_type=parts[1],
                vcpu_sig=None if parts[2] == "-" else parts[2],
                guest_features=parts[3],
                vcpus=parts[4],
                measurement=parts[5],
            ),
            f"{where}.tag-id",
        )
        out.append((row, claims))
    return out


def _reference_claims(comid: Any, where: str) -> Dict[str, Any]:
    try:
        return _reference_claims_of(comid, where)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(where, "must hold one reference triple [environment, [measurements]]") from None


def _reference_claims_of(comid: Any, where: str) -> Dict[str, Any]:
    cbor2 = _cbor2()
    try:
        triples = comid[4][0]
        env, claims = triples[0]
        class_id = env[0][0]
    except (KeyError, IndexError, TypeError, ValueError):
        raise InvalidInputError(where, "must hold one reference triple [environment, [measurements]]") from None
    if len(triples) != 1 or not isinstance(class_id, cbor2.CBORTag) or class_id.tag != OID_TAG:
        raise InvalidInputError(where, "must hold one reference triple whose class-id is an OID")
    # What the reader does not check is refused, never dropped: other triples, an environment's
    # group, class fields beside class-id, and keys beside the value a claim is read from.
    if not isinstance(comid[4], Mapping) or set(comid[4]) != {0}:
        raise InvalidInputError(where, "holds triples other than reference values, which snpmeasure does not check")
    if not isinstance(env, Mapping) or not set(env) <= {0, 1} or not isinstance(env[0], Mapping) or set(env[0]) != {0}:
        raise InvalidInputError(
            where, "its environment may hold only a class-id (and an instance): snpmeasure checks nothing else"
        )
    kinds = {oid: kind for kind, oid in CLASS_OIDS.items()}
    if class_id.value not in kinds:
        raise InvalidInputError(
            f"{where}.class-id", "must be the SEV-SNP VCEK or VLEK class OID (1.3.6.1.4.1.3704.3.1/2)"
        )
    out: Dict[str, Any] = {"signing_key": kinds[class_id.value]}
    digest_keys = {
        MKEY_MEASUREMENT: "measurement",
        MKEY_ID_KEY_DIGEST: "id_key_digest",
        MKEY_AUTHOR_KEY_DIGEST: "author_key_digest",
    }
    for claim in claims:
        mkey = claim.get(0) if isinstance(claim, Mapping) else None
        values = claim.get(1) if isinstance(claim, Mapping) else None
        name = digest_keys.get(mkey, f"mkey {mkey}") if isinstance(mkey, int) else None
        if not isinstance(values, Mapping) or name is None or name in out or set(claim) != {0, 1}:
            raise InvalidInputError(where, f"holds a malformed or repeated claim (mkey {show(mkey)})")
        read: int = {MKEY_POLICY: 4, MKEY_REPORTED_TCB: 1}.get(mkey, 2) if isinstance(mkey, int) else 2
        if mkey in (MKEY_ID_KEY_DIGEST, MKEY_AUTHOR_KEY_DIGEST) and set(values) == {4}:
            raw = values[4]  # Veraison's form: the report field as a raw value
            if not isinstance(raw, cbor2.CBORTag) or raw.tag != BYTES_TAG or len(raw.value) != 48:
                raise InvalidInputError(where, f"mkey {mkey} as a raw value must be 560(48 bytes)")
            out[digest_keys[mkey]] = bytes(raw.value)
            continue
        if mkey in (*digest_keys, MKEY_POLICY, MKEY_REPORTED_TCB) and set(values) != {read}:
            raise InvalidInputError(
                where, f"mkey {mkey} holds values beside the one snpmeasure checks: refused, not dropped"
            )
        if mkey in digest_keys:
            digests = values.get(2)
            if not isinstance(digests, (list, tuple)) or len(digests) != 1 or not isinstance(digests[0], (list, tuple)):
                raise InvalidInputError(where, f"must give mkey {mkey} as one digest")
            alg, value = digests[0] if len(digests[0]) == 2 else (None, None)
            if alg != SHA384_ALG or not isinstance(value, bytes) or len(value) != 48:
                raise InvalidInputError(where, f"mkey {mkey} must be [7, 48 bytes]: a SHA-384 digest")
            out[digest_keys[mkey]] = value
        elif mkey == MKEY_POLICY:
            raw = values.get(4)
            if not isinstance(raw, cbor2.CBORTag) or raw.tag != BYTES_TAG or len(raw.value) != 8:
                raise InvalidInputError(where, "the policy (mkey 2) must be 560(8 bytes)")
            out[name] = out["policy"] = int.from_bytes(raw.value, "little")
        elif mkey == MKEY_REPORTED_TCB:
            svn = values.get(1)
            if not isinstance(svn, cbor2.CBORTag) or svn.tag != MIN_SVN_TAG or not isinstance(svn.value, int):
                raise InvalidInputError(where, "REPORTED_TCB (mkey 647) must be 553(min-svn)")
            out[name] = out["min_tcb_raw"] = svn.value
        else:
            raise InvalidInputError(
                where, f"holds mkey {show(mkey)}, which snpmeasure does not check: refused, not dropped"
            )
    if "measurement" not in out:
        raise InvalidInputError(where, "must give the measurement (mkey 641) as one digest")
    if 1 in env:
        # Veraison's SEV-SNP scheme keys reference values by an instance that is the MEASUREMENT;
        # the profile's instance is a CHIP_ID or CSP_ID, a constraint snpmeasure does not check.
        inst = env[1]
        if not (isinstance(inst, cbor2.CBORTag) and inst.tag == BYTES_TAG and inst.value == out["measurement"]):
            raise InvalidInputError(
                where, "its environment instance is not 560(the MEASUREMENT), and snpmeasure checks no other"
            )
    return {k: v for k, v in out.items() if not k.startswith("mkey ")}


def _epoch(value: Any, where: str) -> datetime.datetime:
    """A CoRIM ``time`` (RFC 8949 tag 1: seconds since the epoch, or a tag-0 date string)."""
    import datetime

    cbor2 = _cbor2()
    if isinstance(value, datetime.datetime):  # cbor2 decodes tags 0 and 1 itself
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, cbor2.CBORTag) and value.tag == 1 and isinstance(value.value, (int, float)):
        try:
            return datetime.datetime.fromtimestamp(value.value, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    raise InvalidInputError(where, f"must be a time (CBOR tag 1, seconds since the epoch), got {show(value)}")


def _check_validity(validity: Any, where: str, at: datetime.datetime, what: str) -> None:
    """A validity-map ``{? 0: not-before, 1: not-after}`` must hold at ``at``."""
    if not isinstance(validity, Mapping) or 1 not in validity or not set(validity) <= {0, 1}:
        raise InvalidInputError(where, "must be a validity map {? 0: not-before, 1: not-after}")
    not_after = _epoch(validity[1], f"{where}.not-after")
    if at > not_after:
        raise InvalidInputError(where, f"ended {not_after.isoformat()}: {what} are no longer valid at {at.isoformat()}")
    if 0 in validity:
        not_before = _epoch(validity[0], f"{where}.not-before")
        if at < not_before:
            raise InvalidInputError(
                where, f"begins {not_before.isoformat()}: {what} are not valid yet at {at.isoformat()}"
            )


#: COSE header labels this reader understands (RFC 9052 §3.1: alg 1, crit 2, content type 3, kid 4;
#: the CoRIM draft's corim-meta 8); one marked critical beyond these is refused.
_COSE_LABELS = {1, 2, 3, 4, 8}


def _cose_payload(doc: Any, field: str, public_key: Any, at: datetime.datetime) -> bytes:
    cbor2 = _cbor2()
    parts = doc.value
    if (
        not isinstance(parts, (list, tuple))
        or len(parts) != 4
        or not all(isinstance(parts[i], bytes) for i in (0, 2, 3))
    ):
        raise InvalidInputError(field, "is not a COSE_Sign1: [protected, unprotected, payload, signature]")
    protected, _, payload, signature = parts
    header = _cbor_loads(protected, f"{field} protected header") if protected else {}
    if not isinstance(header, Mapping) or header.get(1) != COSE_ES384 or header.get(3) != RIM_CONTENT_TYPE:
        raise InvalidInputError(field, f"must be signed with ES384 (-35) and have content type {RIM_CONTENT_TYPE}")
    crit = header.get(2, [])
    if 2 in header and (not isinstance(crit, (list, tuple)) or not crit):
        raise InvalidInputError(field, "its COSE crit header must be a non-empty list of labels")
    missed = [
        label
        for label in crit
        if isinstance(label, bool)
        or not isinstance(label, (int, str))
        or label not in _COSE_LABELS
        or label not in header
    ]
    if missed:  # RFC 9052 §3.1: a critical header the reader does not process fails the message
        raise InvalidInputError(
            field, f"marks the COSE header {show(missed[0])} critical, which snpmeasure does not read"
        )
    if 8 in header:
        meta = _cbor_loads(header[8], f"{field} corim-meta") if isinstance(header[8], bytes) else header[8]
        if not isinstance(meta, Mapping) or 0 not in meta or not set(meta) <= {0, 1}:
            raise InvalidInputError(f"{field} corim-meta", "must be {0: signer, ? 1: signature-validity}")
        if 1 in meta:
            _check_validity(meta[1], f"{field} corim-meta.signature-validity", at, "its signature and values")
    if public_key is None:
        raise InvalidInputError(field, "is signed: give the signer's public key to check it")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp384r1":
        raise InvalidInputError("public_key", "must be a P-384 public key")
    if len(signature) != 96:
        raise InvalidInputError(field, "an ES384 signature is 96 bytes (R ‖ S)")
    der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
    to_verify = cbor2.dumps(["Signature1", protected, b"", payload], canonical=True)
    try:
        public_key.verify(der, to_verify, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        from .errors import SignatureError

        raise SignatureError(f"{field}: the COSE_Sign1 signature does not verify with the given key") from None
    return bytes(payload)


def _cbor_loads(data: bytes, field: str) -> Any:
    cbor2 = _cbor2()
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError, OverflowError, MemoryError) as exc:
        raise InvalidInputError(field, f"is not valid CBOR ({str(exc)[:80]})") from None


def _cbor2() -> Any:
    import cbor2

    return cbor2


def reference_table(measurements: Sequence[Any], vcpu_type: Optional[str] = None) -> ReferenceTable:
    """:class:`~snpmeasure.Measurement` results (SNP modes: one, a sweep, or an IGVM file's) as a
    :class:`~snpmeasure.ReferenceTable` to export: one row each, their inputs as provenance. ``vcpu_type``
    names the CPU model the rows were measured for (else the signature's hex); an IGVM row's CPU
    and SEV features are the file's VMSAs' (``vcpu_type`` "igvm", features 0)."""
    from .measurement import Measurement
    from .tables import ReferenceTable, TableRow

    if not measurements or not all(isinstance(m, Measurement) for m in measurements):
        raise InvalidInputError("measurements", "must be a non-empty list of Measurement")
    rows: List[TableRow] = []
    profiles: Dict[str, Dict[str, Any]] = {}
    warnings: List[str] = []
    for m in measurements:
        if m.mode not in ("snp", "snp:svsm", "snp:igvm"):
            raise InvalidInputError("measurements", f"reference values are SNP launch digests, not mode {m.mode}")
        igvm = m.mode == "snp:igvm"
        cpu = "igvm" if igvm else vcpu_type or ("any" if m.vcpu_sig is None else f"{m.vcpu_sig:#x}")
        rows.append(TableRow(m.profile, cpu, m.vcpu_sig, m.guest_features or 0, m.vcpus or 1, m.digest))
        if m.launch_profile is not None:
            profiles[m.profile] = m.launch_profile.to_json()
        elif igvm:
            profiles[m.profile] = {"name": m.profile, "igvm_model": True}
        warnings.extend(w for w in m.warnings if w not in warnings)
    first = measurements[0].inputs
    firmware = {k: v for k, v in first.items() if k in ("ovmf", "firmware_manifest", "igvm", "svsm", "ovmf_vars")}
    inputs = {k: v for k, v in first.items() if k not in firmware}
    return ReferenceTable(rows, firmware=firmware, inputs=inputs, profiles=profiles, warnings=warnings)


def row_name(row: TableRow) -> str:
    """A file name for a row's export: profile, CPU, features, vCPUs (characters other than
    letters, digits, ``.``, ``-`` and ``_`` replaced, so a profile's name cannot leave the folder)."""
    import re

    cpu = row.vcpu_type if row.vcpu_sig is not None else "any-cpu"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{row.profile}_{cpu}_{row.guest_features:#x}_{row.vcpus}vcpu")
    return "_" + name if name.startswith(".") else name


__all__ = [
    "FORMATS",
    "to_corim",
    "rows_from_corim",
    "read_corim",
    "row_tag_id",
    "to_trustee",
    "from_trustee",
    "to_go_sev_guest",
    "from_go_sev_guest",
    "unique_measurements",
    "reference_table",
    "reference_policy_value",
    "row_name",
]
