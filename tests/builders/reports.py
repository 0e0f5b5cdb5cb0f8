"""Certificates, CRLs and attestation reports signed by test keys (an ARK/ASK/VCEK chain made at
import), for the report, certificate and hostile-input tests."""

from __future__ import annotations

import datetime
import struct
from typing import Any, Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from snpmeasure.report import AttestationReport

# The real VCEK is valid from 2022-09-24 to 2029-09-24: tests of the real report verify as of a time
# inside that window, so they keep passing after it (a test below checks the window itself).
WHILE_VALID = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)


def rsa_pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def cert(
    subject: str,
    key: Any,
    issuer: str,
    signer: Any,
    exts: Optional[Dict[str, bytes]] = None,
    crl_url: Optional[str] = None,
    crl_points: Optional[List[x509.DistributionPoint]] = None,
    ca: bool = False,
    key_cert_sign: bool = True,
) -> x509.Certificate:
    # Valid from 2025 with no expiry (RFC 5280 4.1.2.5's 99991231235959Z): the tests that verify at
    # the current time keep passing in any year.
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2025, 1, 1))
        .not_valid_after(datetime.datetime(9999, 12, 31, 23, 59, 59))
    )
    for oid, value in (exts or {}).items():
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False)
    if ca:  # as AMD's ARK and ASK/ASVK are (key_cert_sign=False: a CA key that may sign only CRLs)
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        usage = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement"),
            False,
        )
        b = b.add_extension(
            x509.KeyUsage(
                **usage, key_cert_sign=key_cert_sign, crl_sign=True, encipher_only=False, decipher_only=False
            ),
            critical=True,
        )
    if crl_url is not None:  # as AMD's ASK and ASVK carry their KDS CRL address
        crl_points = [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
    if crl_points is not None:
        b = b.add_extension(x509.CRLDistributionPoints(crl_points), critical=False)
    return b.sign(signer, hashes.SHA384(), rsa_padding=rsa_pss())


VCEK_CRL_URL, VLEK_CRL_URL = "https://kdsintf.amd.com/vcek/v1/Milan/crl", "https://kdsintf.amd.com/vlek/v1/Milan/crl"


ARK_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


ASK_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


VCEK_KEY = ec.generate_private_key(ec.SECP384R1())


ARK = cert("ARK-Test", ARK_KEY, "ARK-Test", ARK_KEY, ca=True)


ASK = cert("SEV-Test", ASK_KEY, "ARK-Test", ARK_KEY, crl_url=VCEK_CRL_URL, ca=True)


def make_report(
    version: int = 2,
    *,
    policy: int = 0x30000,
    measurement: bytes = bytes(48),
    tcb: Tuple[int, ...] = (3, 0, 0, 0, 0, 0, 8, 115),
    chip_id: bytes = b"\x11" * 64,
    cpuid: Tuple[int, int, int] = (0x19, 0x01, 0x01),
    host_data: bytes = bytes(32),
    report_data: bytes = bytes(64),
    key: ec.EllipticCurvePrivateKey = VCEK_KEY,
    key_info: int = 0,
    vmpl: int = 0,
    current_tcb: Optional[Tuple[int, ...]] = None,
) -> bytes:
    raw = bytearray(0x4A0)
    struct.pack_into("<IIQ", raw, 0, version, 0, policy)
    struct.pack_into("<II", raw, 0x30, vmpl, 1)
    tcb_bytes = bytes(tcb)
    for off in (0x38, 0x180, 0x1E0, 0x1F0):
        raw[off : off + 8] = tcb_bytes
    if current_tcb is not None:  # above COMMITTED_TCB: provisional firmware
        raw[0x38:0x40] = bytes(current_tcb)
    struct.pack_into("<I", raw, 0x48, key_info)
    raw[0x50:0x90] = report_data
    raw[0x90:0xC0] = measurement
    raw[0xC0:0xE0] = host_data
    if version >= 3:
        raw[0x188:0x18B] = bytes(cpuid)
    raw[0x1A0:0x1E0] = chip_id
    if version >= 5:
        struct.pack_into("<QQ", raw, 0x1F8, 1, 3)
    r, s = decode_dss_signature(key.sign(bytes(raw[:0x2A0]), ec.ECDSA(hashes.SHA384())))
    raw[0x2A0:0x2E8] = r.to_bytes(72, "little")
    raw[0x2E8:0x330] = s.to_bytes(72, "little")
    return bytes(raw)


def vcek_for(tcb: Dict[str, int], chip_id: bytes) -> x509.Certificate:
    oids = {
        "bootloader": "1.3.6.1.4.1.3704.1.3.1",
        "tee": "1.3.6.1.4.1.3704.1.3.2",
        "snp": "1.3.6.1.4.1.3704.1.3.3",
        "microcode": "1.3.6.1.4.1.3704.1.3.8",
        "fmc": "1.3.6.1.4.1.3704.1.3.9",
    }
    exts = {oids[k]: bytes([2, 1, v]) for k, v in tcb.items()}
    exts["1.3.6.1.4.1.3704.1.4"] = chip_id
    return cert("SEV-VCEK", VCEK_KEY, "SEV-Test", ASK_KEY, exts)


def make_crl(
    *,
    revoked: Tuple[int, ...] = (),
    signer: Any = ARK_KEY,
    issuer: str = "ARK-Test",
    issued: datetime.datetime = datetime.datetime(2025, 1, 1),
    days: int = 3650,
    pss: bool = True,
    extensions: Tuple[Tuple[Any, bool], ...] = (),
    entry_extensions: Tuple[Tuple[Any, bool], ...] = (),
) -> x509.CertificateRevocationList:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .last_update(issued)
        .next_update(issued + datetime.timedelta(days=days))
    )
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    for serial in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(issued)
        for ext, critical in entry_extensions:
            rb = rb.add_extension(ext, critical=critical)
        b = b.add_revoked_certificate(rb.build())
    padding_ = (rsa_pss() if pss else padding.PKCS1v15()) if isinstance(signer, rsa.RSAPrivateKey) else None
    return b.sign(signer, hashes.SHA384(), rsa_padding=padding_)


def verify_with_crl(crl: Any) -> str:
    raw = make_report()
    r = AttestationReport.from_bytes(raw)
    return r.verify(
        vcek_for(r.reported_tcb.components, b"\x11" * 64),
        ask_ark=[ASK, ARK],
        product="milan",
        trusted_arks=[ARK],
        crl=crl,
        now=datetime.datetime(2026, 1, 1),
    )


def idp_naming(url: str) -> Tuple[Tuple[Any, bool], ...]:
    return (
        (
            x509.IssuingDistributionPoint(
                [x509.UniformResourceIdentifier(url)], None, False, False, None, False, False
            ),
            True,
        ),
    )


def point(*names: x509.GeneralName, reasons: Any = None, crl_issuer: Any = None) -> x509.DistributionPoint:
    return x509.DistributionPoint(list(names), None, reasons, crl_issuer)


URI = x509.UniformResourceIdentifier
