"""AMD certificate chains for attestation reports: loading, the built-in roots, chain checks.

The chain is ARK (self-signed, RSA-4096, RSA-PSS/SHA-384) → ASK (VCEK) or ASVK (VLEK) → VCEK/VLEK
(ECDSA P-384). The ARK must equal the one AMD publishes for the product (shipped in
``snpmeasure/data``, see its README). AMD revokes intermediates through a CRL per product that the
ARK signs (KDS: ``https://kdsintf.amd.com/vcek/v1/{product}/crl``); VCEKs are not listed there (a
chip's key changes with its TCB instead).
"""

from __future__ import annotations

import os
import warnings
from importlib import resources
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

from .errors import SignatureError

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from cryptography import x509

CertSource = Union[bytes, str, "os.PathLike[str]", "x509.Certificate"]
CrlSource = Union[bytes, str, "os.PathLike[str]", "x509.CertificateRevocationList"]
#: A CRL larger than this is refused unread (AMD's are about 1-2 KiB).
MAX_CRL_BYTES = 1 << 20


def load_certs(source: CertSource, field: str) -> List["x509.Certificate"]:
    """Certificates from a PEM (one or more) or DER file or bytes, or a Certificate."""
    from cryptography import x509

    from .report import ReportError

    if isinstance(source, x509.Certificate):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read()
    else:
        data = bytes(source)
    with warnings.catch_warnings():
        # AMD's certificates carry serial numbers that newer cryptography warns about.
        warnings.simplefilter("ignore")
        try:
            if b"-----BEGIN CERTIFICATE-----" in data:
                return x509.load_pem_x509_certificates(data)
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise ReportError(field, "is not a PEM or DER X.509 certificate") from None


def load_crl(source: CrlSource, field: str = "crl") -> "x509.CertificateRevocationList":
    """A certificate revocation list from a PEM or DER file or bytes (AMD's KDS serves DER)."""
    from cryptography import x509

    from .report import ReportError

    if isinstance(source, x509.CertificateRevocationList):
        return source
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read(MAX_CRL_BYTES + 1)
    else:
        data = bytes(source)
    if len(data) > MAX_CRL_BYTES:
        raise ReportError(field, f"is larger than {MAX_CRL_BYTES} bytes: not a CRL from AMD's KDS")
    from cryptography.exceptions import UnsupportedAlgorithm

    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN X509 CRL-----" in data else x509.load_der_x509_crl(data)
        # cryptography parses fields on first use: read every one check_crl uses now, so a
        # malformed CRL is bad input here rather than an exception halfway through the checks.
        crl.issuer.rfc4514_string()
        _ = crl.last_update_utc, crl.next_update_utc, crl.tbs_certlist_bytes, crl.signature
        for entry in crl:
            _ = entry.serial_number, entry.revocation_date_utc
    except (ValueError, UnsupportedAlgorithm):
        raise ReportError(field, "is not a PEM or DER X.509 CRL") from None
    return crl


def check_crl(crl: "x509.CertificateRevocationList", ark: "x509.Certificate",
              revocable: Sequence[Tuple["x509.Certificate", str]], now: Optional["datetime.datetime"] = None) -> None:
    """``crl`` is the ARK's (issuer name, RSA-PSS signature), current at ``now`` (issued before it,
    next update not passed: a stale CRL cannot say what was revoked since), and lists none of
    ``revocable`` (certificates the ARK issued, given with their names for the message)."""
    import datetime

    from cryptography.exceptions import UnsupportedAlgorithm

    if crl.issuer != ark.subject:
        raise SignatureError(f"CRL: issued by {crl.issuer.rfc4514_string()}, not by the ARK ({ark.subject.rfc4514_string()})")
    try:
        valid = crl.is_signature_valid(ark.public_key())  # type: ignore[arg-type]
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise SignatureError(f"CRL: its signature cannot be checked with the ARK's key ({exc})") from None
    if not valid:
        raise SignatureError("CRL: its signature does not verify with the ARK's key")
    at = now or datetime.datetime.now(datetime.timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    if crl.last_update_utc > at:
        raise SignatureError(f"CRL: issued {crl.last_update_utc:%Y-%m-%d}, after {at:%Y-%m-%d}")
    if crl.next_update_utc is not None and crl.next_update_utc < at:
        raise SignatureError(f"CRL: out of date since {crl.next_update_utc:%Y-%m-%d} (its next update); fetch the current one")
    for cert, name in revocable:
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None:
            raise SignatureError(f"{name}: revoked by AMD's CRL on {entry.revocation_date_utc:%Y-%m-%d} "
                                 f"(serial {cert.serial_number:#x})")


def product_chain(product: str, kind: str = "vcek") -> List["x509.Certificate"]:
    """AMD's [ASK or ASVK, ARK] for a product ("milan", "genoa", "turin"), shipped with snpmeasure."""
    from .report import ReportError

    name = f"{product.lower()}_{kind}.pem"
    try:
        data = resources.files("snpmeasure").joinpath("data").joinpath(name).read_bytes()
    except FileNotFoundError:
        raise ReportError("product", f"no built-in {kind.upper()} chain for {product!r} (known: milan, genoa, turin; VLEK: milan)") from None
    return load_certs(data, name)


def verify_issued_by(child: "x509.Certificate", issuer: "x509.Certificate", child_name: str, issuer_name: str) -> None:
    """Check ``child``'s signature with ``issuer``'s key (RSA-PSS or ECDSA); SignatureError naming both."""
    from cryptography.exceptions import InvalidSignature

    try:
        child.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise SignatureError(f"{child_name}: is not signed by the {issuer_name} ({type(exc).__name__}: {exc or 'bad signature'})") from None


def check_validity(cert: "x509.Certificate", name: str, now: Optional["datetime.datetime"] = None) -> None:
    """The certificate's validity period must contain ``now`` (default: the current UTC time)."""
    import datetime

    at = now or datetime.datetime.now(datetime.timezone.utc)
    if at.tzinfo is None:
        at = at.replace(tzinfo=datetime.timezone.utc)
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureError(f"{name}: valid from {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}, "
                             f"not at {at:%Y-%m-%d}")


def check_chain(ark: "x509.Certificate", ask: "x509.Certificate", product: str,
                trusted_arks: Optional[Sequence["x509.Certificate"]] = None, now: Optional["datetime.datetime"] = None) -> None:
    """ARK self-signed and trusted (AMD's root for ``product``, or one of ``trusted_arks``), ASK
    signed by it, both valid at ``now``."""
    from cryptography.hazmat.primitives import hashes

    verify_issued_by(ark, ark, "ARK", "ARK itself (self-signature)")
    roots = list(trusted_arks) if trusted_arks is not None else [product_chain(product)[1]]
    fp = ark.fingerprint(hashes.SHA384())
    if not any(fp == r.fingerprint(hashes.SHA384()) for r in roots):
        raise SignatureError(f"ARK: {ark.subject.rfc4514_string()} is not AMD's root for {product!r}")
    verify_issued_by(ask, ark, "ASK/ASVK certificate", "ARK")
    check_validity(ark, "ARK", now)
    check_validity(ask, "ASK/ASVK certificate", now)


def extension_value(cert: "x509.Certificate", oid: str) -> Optional[bytes]:
    """The raw value of a certificate extension, or None."""
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


__all__ = ["load_certs", "load_crl", "product_chain", "check_chain", "check_crl", "check_validity", "verify_issued_by",
           "extension_value"]
