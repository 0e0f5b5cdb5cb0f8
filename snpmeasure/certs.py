"""AMD certificate chains for attestation reports: loading, the built-in roots, chain checks.

The chain is ARK (self-signed, RSA-4096, RSA-PSS/SHA-384) → ASK (VCEK) or ASVK (VLEK) → VCEK/VLEK
(ECDSA P-384). The ARK must equal the one AMD publishes for the product (shipped in
``snpmeasure/data``, see its README). AMD revokes intermediates through a CRL per product that the
ARK signs (KDS: ``https://kdsintf.amd.com/vcek/v1/{product}/crl``); VCEKs are not listed there (a
chip's key changes with its TCB instead).
"""

from __future__ import annotations

import os
import re
import warnings
from importlib import resources
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

from .errors import InvalidInputError, ReportError, SignatureError, show

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from cryptography import x509

CertSource = Union[bytes, str, "os.PathLike[str]", "x509.Certificate"]
CrlSource = Union[bytes, str, "os.PathLike[str]", "x509.CertificateRevocationList"]
T = TypeVar("T")
#: A CRL larger than this is refused unread (AMD's are about 1-2 KiB).
MAX_CRL_BYTES = 1 << 20
#: A VCEK, VLEK or ASK/ARK chain is a few KiB; more is never read (a misdirected stream).
MAX_CERT_BYTES = 1 << 20

#: The CPU generations whose AMD roots snpmeasure ships and whose certificates AMD's KDS serves
#: (report.TCB_LAYOUTS also knows Venice's TCB layout, for reading reports).
PRODUCTS = ("milan", "genoa", "turin")


def _read_source(source: Any, field: str, what: str, limit: int) -> bytes:
    """The bytes of a path or bytes-like source (at most ``limit`` + 1 read from a file)."""
    if isinstance(source, (str, os.PathLike)):
        from ._files import read_input

        return read_input(field, source, limit + 1)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    raise ReportError(field, f"must be {what}: a path, bytes, or a loaded object, got {type(source).__name__}")


def _parsed(field: str, what: str, parse: Callable[[], T]) -> T:
    """Run ``parse`` (load an X.509 object and read every field the checks use): whatever it raises
    means the input is no usable ``what``. cryptography decodes fields lazily and raises ValueError,
    KeyError, TypeError or InvalidVersion for different malformations, so all are caught here, at
    the parsing boundary, rather than escaping from a check later."""
    try:
        with warnings.catch_warnings():
            # AMD's certificates carry serial numbers that newer cryptography warns about.
            warnings.simplefilter("ignore")
            return parse()
    except Exception:  # noqa: BLE001 - see the docstring
        raise ReportError(field, f"is not a PEM or DER {what}") from None


def _touch_cert(cert: x509.Certificate) -> x509.Certificate:
    _ = (
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        cert.serial_number,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        cert.public_key(),
        cert.signature,
        cert.tbs_certificate_bytes,
        cert.signature_algorithm_oid,
    )
    for ext in cert.extensions:
        _ = ext.oid, ext.critical, ext.value
    return cert


def load_certs(source: CertSource, field: str) -> List[x509.Certificate]:
    """Certificates from a PEM (one or more) or DER file or bytes, or a Certificate."""
    from cryptography import x509

    if isinstance(source, x509.Certificate):
        return [_parsed(field, "X.509 certificate", lambda: _touch_cert(source))]
    data = _read_source(source, field, "a certificate", MAX_CERT_BYTES)
    if len(data) > MAX_CERT_BYTES:
        raise ReportError(field, f"is larger than {MAX_CERT_BYTES} bytes: not a certificate or chain AMD's KDS serves")

    def parse() -> List[x509.Certificate]:
        certs = (
            x509.load_pem_x509_certificates(data)
            if b"-----BEGIN CERTIFICATE-----" in data
            else [x509.load_der_x509_certificate(data)]
        )
        return [_touch_cert(c) for c in certs]

    return _parsed(field, "X.509 certificate", parse)


def _touch_crl(crl: x509.CertificateRevocationList) -> x509.CertificateRevocationList:
    _ = (
        crl.issuer.rfc4514_string(),
        crl.last_update_utc,
        crl.next_update_utc,
        crl.tbs_certlist_bytes,
        crl.signature,
        crl.signature_algorithm_oid,
    )
    for ext in crl.extensions:
        _ = ext.oid, ext.critical, ext.value
    for entry in crl:
        _ = entry.serial_number, entry.revocation_date_utc
        for ext in entry.extensions:
            _ = ext.oid, ext.critical, ext.value
    return crl


def load_crl(source: CrlSource, field: str = "crl") -> x509.CertificateRevocationList:
    """A certificate revocation list from a PEM or DER file or bytes (AMD's KDS serves DER), or a
    loaded one; every field the checks read is decoded here."""
    from cryptography import x509

    if isinstance(source, x509.CertificateRevocationList):
        return _parsed(field, "X.509 CRL", lambda: _touch_crl(source))
    data = _read_source(source, field, "a CRL", MAX_CRL_BYTES)
    if len(data) > MAX_CRL_BYTES:
        raise ReportError(field, f"is larger than {MAX_CRL_BYTES} bytes: not a CRL from AMD's KDS")
    return _parsed(
        field,
        "X.509 CRL",
        lambda: _touch_crl(
            x509.load_pem_x509_crl(data) if b"-----BEGIN X509 CRL-----" in data else x509.load_der_x509_crl(data)
        ),
    )


#: rsassaPss: AMD's ARK signs everything with RSA-PSS (SHA-384).
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"


def _need(name: str, obj: object, kind: str = "Certificate") -> None:
    """The checks below take loaded cryptography objects (load_certs / load_crl make them)."""
    from cryptography import x509

    if not isinstance(obj, getattr(x509, "CertificateRevocationList" if kind == "CRL" else "Certificate")):
        raise ReportError(name, f"must be a loaded x509 {kind} (see load_certs / load_crl), got {type(obj).__name__}")


def check_crl(
    crl: x509.CertificateRevocationList,
    ark: x509.Certificate,
    revocable: Sequence[Tuple[x509.Certificate, str]],
    now: Optional[datetime.datetime] = None,
) -> None:
    """``crl`` is a complete CRL of the ARK (issuer name, RSA-PSS signature by the ARK's key), current
    at ``now`` (issued before it, with a next update that has not passed: a stale CRL cannot say
    what was revoked since), usable under RFC 5280 §5 (no critical extension this check does not
    understand, not a delta CRL, its scope includes CA certificates and, when it names its
    distribution point, is the one each of ``revocable`` names), and lists none of ``revocable``
    (certificates the ARK issued, given with their names for the message)."""
    _need("crl", crl, "CRL")
    _need("ark", ark)
    for cert, _ in revocable:
        _need("revocable", cert)

    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

    if crl.issuer != ark.subject:
        raise SignatureError(
            f"CRL: issued by {crl.issuer.rfc4514_string()}, not by the ARK ({ark.subject.rfc4514_string()})"
        )
    _check_ca(ark, "ARK", "cRLSign", "sign CRLs")
    if crl.signature_algorithm_oid.dotted_string != OID_RSASSA_PSS:
        raise SignatureError(
            f"CRL: signed with {crl.signature_algorithm_oid.dotted_string}, not RSA-PSS as AMD's ARK signs"
        )
    try:
        valid = crl.is_signature_valid(ark.public_key())  # type: ignore[arg-type]
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise SignatureError(f"CRL: its signature cannot be checked with the ARK's key ({exc})") from None
    if not valid:
        raise SignatureError("CRL: its signature does not verify with the ARK's key")
    understood = {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    }
    scope: List[x509.GeneralName] = []  # the distribution point the CRL says it is, if it names one
    for ext in crl.extensions:
        if isinstance(ext.value, x509.DeltaCRLIndicator):
            raise SignatureError("CRL: is a delta CRL; give the complete CRL")
        if isinstance(ext.value, x509.IssuingDistributionPoint):
            idp = ext.value
            if (
                idp.only_contains_user_certs
                or idp.only_contains_attribute_certs
                or idp.only_some_reasons
                or idp.indirect_crl
            ):
                raise SignatureError("CRL: its issuing distribution point limits it to part of the ARK's certificates")
            if idp.relative_name is not None:
                raise SignatureError(
                    "CRL: its issuing distribution point is a name relative to the issuer, which this "
                    "check cannot match with a certificate's distribution point"
                )
            scope = list(idp.full_name or ())
        elif ext.critical and ext.oid not in understood:
            raise SignatureError(
                f"CRL: has a critical extension this check does not understand ({ext.oid.dotted_string})"
            )
    at = check_time(now)
    if crl.last_update_utc > at:
        raise SignatureError(f"CRL: issued {utc_text(crl.last_update_utc)}, after {utc_text(at)}")
    if crl.next_update_utc is None:
        raise SignatureError("CRL: has no next update, so it cannot be shown current")
    if crl.next_update_utc < at:
        raise SignatureError(
            f"CRL: out of date since {utc_text(crl.next_update_utc)} (its next update); fetch the current one"
        )
    entry_understood = {CRLEntryExtensionOID.CRL_REASON, CRLEntryExtensionOID.INVALIDITY_DATE}
    for revoked in crl:
        for ext in revoked.extensions:
            if ext.critical and ext.oid not in entry_understood:
                raise SignatureError(
                    f"CRL: entry {revoked.serial_number:#x} has a critical extension this check does not "
                    f"understand ({ext.oid.dotted_string})"
                )
    for cert, name in revocable:
        # RFC 5280 §6.3.3 (b)(2)(i): a CRL that names its distribution point covers the certificates
        # that name it. AMD has one per product and key type under the same ARK (.../vcek/v1/Milan/crl
        # for the ASK, .../vlek/v1/Milan/crl for the ASVK), so this catches the wrong one of the two.
        if scope and not set(scope) & set(_distribution_points(cert)):
            named = (
                ", ".join(_general_name(n) for n in _distribution_points(cert)) or "no distribution point it can use"
            )
            raise SignatureError(
                f"CRL: is the list of {', '.join(_general_name(n) for n in scope)}, but the {name} names "
                f"{named}; fetch that CRL"
            )
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            raise SignatureError(
                f"{name}: revoked by AMD's CRL on {utc_text(entry.revocation_date_utc)} "
                f"(serial {cert.serial_number:#x})"
            )


def _general_name(name: x509.GeneralName) -> str:
    """A name for messages: a URI as is, a directory name in RFC 4514 form."""
    value = getattr(name, "value", name)
    return value.rfc4514_string() if hasattr(value, "rfc4514_string") else str(value)


def _distribution_points(cert: x509.Certificate) -> List[x509.GeneralName]:
    """The full names of a certificate's CRL distribution points that an ARK-issued complete CRL can
    serve (AMD's: one KDS URL). A point limited to some revocation reasons, or whose CRL another
    issuer signs (cRLIssuer), does not count: RFC 5280 §6.3.3 (b)(1) and (d)."""
    from cryptography import x509

    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [n for point in points if point.reasons is None and point.crl_issuer is None for n in point.full_name or ()]


def certificate_dir(
    path: Union[str, os.PathLike[str]], kind: str, field: str = "certs"
) -> Tuple[str, Optional[List[x509.Certificate]]]:
    """The report's signing certificate and its chain from a directory in the layout snpguest
    writes (``snpguest fetch ca`` / ``fetch vcek``): ``vcek.pem`` or ``vlek.pem`` (``.der`` too) for
    ``kind`` "vcek" or "vlek", and ``ask.pem`` (``asvk.pem`` for a VLEK) with ``ark.pem``, PEM or DER.
    Returns the leaf's path and [ASK or ASVK, ARK], or None for the chain when the directory has no
    ARK (the built-in chain then serves)."""
    name = os.fspath(path)
    if not os.path.isdir(name):
        raise InvalidInputError(field, f"{name} is not a directory")

    def find(stem: str) -> Optional[str]:
        for ext in ("pem", "der", "crt", "cer"):
            candidate = os.path.join(name, f"{stem}.{ext}")
            if os.path.isfile(candidate):
                return candidate
        return None

    leaf = find(kind)
    if leaf is None:
        other = find("vlek" if kind == "vcek" else "vcek")
        why = f" (it has {os.path.basename(other)}: the report is signed by a {kind.upper()})" if other else ""
        raise InvalidInputError(field, f"{name} has no {kind}.pem, .der, .crt or .cer{why}")
    ark = find("ark")
    intermediate = find("asvk" if kind == "vlek" else "ask")
    if ark is None and intermediate is None:
        return leaf, None
    if ark is None or intermediate is None:
        missing = "ark" if ark is None else ("asvk" if kind == "vlek" else "ask")
        raise InvalidInputError(field, f"{name} has one certificate of the chain but no {missing}.pem")
    return leaf, [load_certs(intermediate, field)[0], load_certs(ark, field)[0]]


def product_chain(product: str, kind: str = "vcek") -> List[x509.Certificate]:
    """AMD's [ASK or ASVK, ARK] for a product ("milan", "genoa", "turin"), shipped with snpmeasure."""
    if (
        not isinstance(product, str)
        or not isinstance(kind, str)
        or kind not in ("vcek", "vlek")
        or not product.isalpha()
    ):
        raise ReportError(
            "product",
            f"must be a product name ({', '.join(PRODUCTS)}) and kind vcek or vlek, got {show(product)}, {show(kind)}",
        )
    name = f"{product.lower()}_{kind}.pem"
    try:
        data = resources.files("snpmeasure").joinpath("data").joinpath(name).read_bytes()
    except OSError:
        raise ReportError(
            "product",
            f"no built-in {kind.upper()} chain for {show(product)} (known: {', '.join(PRODUCTS)}; VLEK: milan)",
        ) from None
    return load_certs(data, name)


def verify_issued_by(child: x509.Certificate, issuer: x509.Certificate, child_name: str, issuer_name: str) -> None:
    """Check ``child``'s signature with ``issuer``'s key (RSA-PSS or ECDSA); SignatureError naming both."""
    _need(child_name, child)
    _need(issuer_name, issuer)
    from cryptography.exceptions import InvalidSignature

    if child.issuer != issuer.subject:
        # The usual cause: a certificate of another product (a Milan VCEK checked against Genoa's
        # chain), or a chain file given where a leaf belongs.
        issued_by, given = _cn(child.issuer), _cn(issuer.subject)
        hint = ""
        product = product_named(issued_by)
        if product is not None and product != product_named(given):
            hint = f": it is a {product.capitalize()} certificate; check it against the {product} chain (--product {product})"
        raise SignatureError(f"{child_name}: was issued by {issued_by}, not by the {issuer_name} {given}{hint}")
    _check_ca(issuer, issuer_name, "keyCertSign", "issue certificates")
    _check_amd_pss(child, issuer, child_name)
    try:
        child.verify_directly_issued_by(issuer)
    except InvalidSignature:
        raise SignatureError(f"{child_name}: its signature does not verify with the {issuer_name}'s key") from None
    except (ValueError, TypeError):
        raise SignatureError(
            f"{child_name}: its signature cannot be checked with the {issuer_name}'s key "
            f"(a {type(issuer.public_key()).__name__.lstrip('_')} key, and the certificate is signed with "
            f"{child.signature_algorithm_oid.dotted_string})"
        ) from None


def _check_ca(issuer: x509.Certificate, issuer_name: str, usage: str, what: str) -> None:
    """An issuer must be a CA whose key may sign what it signed, as Go's CheckSignatureFrom (which
    go-sev-guest's verify uses) requires: a v3 certificate with BasicConstraints CA:TRUE, and a
    KeyUsage, when it has one, with ``usage`` (keyCertSign for certificates, cRLSign for CRLs).
    AMD's ARKs and ASKs/ASVKs have both; a leaf given as an issuer is refused by name."""
    from cryptography import x509

    if issuer.version == x509.Version.v3 and not is_ca(issuer):
        raise SignatureError(f"{issuer_name}: {_cn(issuer.subject)} is no CA certificate (BasicConstraints CA:TRUE)")
    try:
        key_usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    allowed = key_usage.key_cert_sign if usage == "keyCertSign" else key_usage.crl_sign
    if not allowed:
        raise SignatureError(f"{issuer_name}: its KeyUsage lacks {usage}: its key may not {what}")


def _check_amd_pss(child: x509.Certificate, issuer: x509.Certificate, child_name: str) -> None:
    """AMD's RSA keys sign with RSASSA-PSS, SHA-384, MGF1 with SHA-384 and a 48-byte salt (the
    VCEK specification; go-sev-guest requires x509.SHA384WithRSAPSS, which Go reads only with these
    parameters). A certificate an RSA key signed otherwise is not AMD's form, even if it verifies."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import SignatureAlgorithmOID

    if not isinstance(issuer.public_key(), rsa.RSAPublicKey):
        return
    params = (
        child.signature_algorithm_parameters
        if child.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
        else None
    )
    mgf = getattr(params, "_mgf", None)
    if not (
        isinstance(params, padding.PSS)
        and isinstance(child.signature_hash_algorithm, hashes.SHA384)
        and isinstance(mgf, padding.MGF1)
        and isinstance(getattr(mgf, "_algorithm", None), hashes.SHA384)
        and getattr(params, "_salt_length", None) == 48
    ):
        raise SignatureError(
            f"{child_name}: is not signed with RSASSA-PSS, SHA-384, MGF1-SHA-384 and a 48-byte salt, as AMD's "
            f"keys sign (its algorithm is {child.signature_algorithm_oid.dotted_string})"
        )


def _cn(name: x509.Name) -> str:
    """A certificate name as AMD's certificates are known: its CN (else the whole name)."""
    from cryptography.x509.oid import NameOID

    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={cns[0].value!s}" if cns else name.rfc4514_string()


def product_named(name: str) -> Optional[str]:
    """The AMD product an AMD certificate name mentions (``SEV-Milan``, ``ARK-Genoa``), or None."""
    lower = name.lower()
    return next((p for p in PRODUCTS if p in lower), None)


def is_ca(cert: x509.Certificate) -> bool:
    """Whether the certificate is a CA (an ARK, ASK or ASVK; a VCEK or VLEK is not)."""
    from cryptography import x509 as _x509

    try:
        return bool(cert.extensions.get_extension_for_class(_x509.BasicConstraints).value.ca)
    except _x509.ExtensionNotFound:
        return False
    except ValueError:  # a malformed extension: not a usable CA either
        return False


def check_time(now: Optional[datetime.datetime], field: str = "now") -> datetime.datetime:
    """The time a check holds at: ``now`` (a naive time is UTC), default the current time."""
    import datetime

    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if not isinstance(now, datetime.datetime):
        raise InvalidInputError(field, f"must be a datetime.datetime, got {show(now)}")
    return now if now.tzinfo is not None else now.replace(tzinfo=datetime.timezone.utc)


def utc_text(at: datetime.datetime) -> str:
    """An aware time as ISO 8601 UTC text: ``2026-06-01T12:00:00Z`` (with microseconds if it has
    any). Used in messages and by ``report verify --json``: the time printed is the time checked."""
    import datetime

    return at.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


#: :func:`parse_utc`: a date, or a date and a time (seconds and a fraction optional) with an optional "Z" or
#: +HH:MM/-HH:MM offset; the same forms on every Python (``fromisoformat`` reads more from 3.11 on,
#: and before that takes any character between date and time, so "2026-06-01+05:00" read as 05:00).
_UTC_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)


def parse_utc(text: Optional[str], field: str = "at") -> datetime.datetime:
    """A time given as text (``report verify --at``) as an aware UTC datetime; a time without an
    offset is UTC; None: now, to the second (the time printed is the time checked). Errors name ``field``."""
    import datetime

    utc = datetime.timezone.utc
    if text is None:
        return datetime.datetime.now(utc).replace(microsecond=0)
    m = _UTC_TIME.fullmatch(text)
    try:
        if m is None:
            raise ValueError
        year, month, day, hour, minute, second, fraction, zone = m.groups()
        tz = utc
        if zone and zone not in "Zz":
            if int(zone[4:6]) > 59:
                raise ValueError
            sign = -1 if zone[0] == "-" else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        at = datetime.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tz,
        )
        return at.astimezone(utc)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves the time outside years 1-9999
        raise InvalidInputError(
            field,
            "must be a date or time as YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|+HH:MM|-HH:MM]] "
            f"(UTC unless it names an offset) from 0001-01-01 to 9999-12-31 UTC, got {show(text)}",
        ) from None


def check_validity(cert: x509.Certificate, name: str, now: Optional[datetime.datetime] = None) -> None:
    """The certificate's validity period must contain ``now`` (default: the current UTC time)."""
    _need(name, cert)
    at = check_time(now)
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureError(
            f"{name}: valid from {utc_text(cert.not_valid_before_utc)} to {utc_text(cert.not_valid_after_utc)}, "
            f"not at {utc_text(at)}"
        )


def check_chain(
    ark: x509.Certificate,
    ask: x509.Certificate,
    product: str,
    trusted_arks: Optional[Sequence[x509.Certificate]] = None,
    now: Optional[datetime.datetime] = None,
) -> None:
    """ARK self-signed and trusted (AMD's root for ``product``, or one of ``trusted_arks``), ASK
    signed by it, both valid at ``now``."""
    _need("ark", ark)
    _need("ask", ask)
    from cryptography.hazmat.primitives import hashes

    verify_issued_by(ark, ark, "ARK", "ARK itself (self-signature)")
    roots = list(trusted_arks) if trusted_arks is not None else [product_chain(product)[1]]
    fp = ark.fingerprint(hashes.SHA384())
    if not any(fp == r.fingerprint(hashes.SHA384()) for r in roots):
        hint = ""
        if trusted_arks is None:  # another product's genuine root: name it, so the fix is plain
            for other in PRODUCTS:
                if other != product and fp == product_chain(other)[1].fingerprint(hashes.SHA384()):
                    hint = f": it is {other.capitalize()}'s; give the {product.capitalize()} ASK/ARK chain, or the product the report is from"
        raise SignatureError(f"ARK: {ark.subject.rfc4514_string()} is not AMD's root for {show(product)}{hint}")
    verify_issued_by(ask, ark, "ASK/ASVK certificate", "ARK")
    check_validity(ark, "ARK", now)
    check_validity(ask, "ASK/ASVK certificate", now)


def extension_value(cert: x509.Certificate, oid: str) -> Optional[bytes]:
    """The raw value of a certificate extension, or None."""
    _need("cert", cert)
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(oid))
    except x509.ExtensionNotFound:
        return None
    value: Any = ext.value
    return bytes(value.value) if hasattr(value, "value") else None


def der_integer(value: bytes) -> int:
    """A small DER INTEGER (AMD's SPL extensions: ``02 01 nn``)."""
    if len(value) < 3 or value[0] != 0x02 or value[1] != len(value) - 2:
        raise SignatureError(f"VCEK certificate: an SPL extension is not a DER INTEGER ({value.hex()})")
    return int.from_bytes(value[2:], "big", signed=True)


def der_octets(value: bytes) -> bytes:
    """The hwID extension: raw bytes (8 or 64), or a DER OCTET STRING holding them."""
    if len(value) in (8, 64):
        return value
    if len(value) >= 2 and value[0] == 0x04 and value[1] == len(value) - 2:
        return value[2:]
    raise SignatureError(f"VCEK certificate: hwID extension has an unexpected form ({len(value)} bytes)")


__all__ = [
    "PRODUCTS",
    "parse_utc",
    "load_certs",
    "load_crl",
    "product_chain",
    "check_chain",
    "check_crl",
    "check_validity",
    "verify_issued_by",
    "is_ca",
    "certificate_dir",
    "extension_value",
]
