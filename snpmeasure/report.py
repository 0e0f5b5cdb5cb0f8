"""SEV-SNP attestation reports: parse (versions 2-5), verify AMD's signature chain, check expectations.

Layout: SEV-SNP ABI spec "ATTESTATION_REPORT structure" (docs/reference/firmware-abi.md §6.1), 0x4A0 bytes::

    0x000 VERSION u32            0x050 REPORT_DATA 64        0x180 REPORTED_TCB 8
    0x004 GUEST_SVN u32          0x090 MEASUREMENT 48        0x188 CPUID_FAM/MOD/STEP (v3+)
    0x008 POLICY u64             0x0C0 HOST_DATA 32          0x1A0 CHIP_ID 64
    0x010 FAMILY_ID 16           0x0E0 ID_KEY_DIGEST 48      0x1E0 COMMITTED_TCB 8
    0x020 IMAGE_ID 16            0x110 AUTHOR_KEY_DIGEST 48  0x1E8 CURRENT_BUILD/MINOR/MAJOR
    0x030 VMPL u32               0x140 REPORT_ID 32          0x1EC COMMITTED_BUILD/MINOR/MAJOR
    0x034 SIGNATURE_ALGO u32     0x160 REPORT_ID_MA 32       0x1F0 LAUNCH_TCB 8
    0x038 CURRENT_TCB 8                                      0x1F8 LAUNCH_MIT_VECTOR (v5)
    0x040 PLATFORM_INFO 8                                    0x200 CURRENT_MIT_VECTOR (v5)
    0x048 KEY_INFO u32 (AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY)
    0x2A0 SIGNATURE: R (72 B, little-endian), S at 0x2E8; ECDSA P-384 / SHA-384 over 0x000..0x29F

The signature is verified over the raw bytes received (re-serializing can reorder TCB bytes).
``cryptography`` is imported only when a signature or certificate is checked.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ._checks import require_type
from .errors import InvalidInputError, ReportError, SignatureError, show
from .policy import FLAG_BITS, GuestPolicy

if TYPE_CHECKING:  # pragma: no cover
    import datetime

    from cryptography import x509

    from .firmware import LaunchResult

REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0


#: TCB_VERSION byte layouts per CPU generation (docs/reference/firmware-abi.md §6.3): component → byte index.
TCB_LAYOUTS: Dict[str, Dict[str, int]] = {
    "milan": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "genoa": {"bootloader": 0, "tee": 1, "snp": 6, "microcode": 7},
    "turin": {"fmc": 0, "bootloader": 1, "tee": 2, "snp": 3, "microcode": 7},
    "venice": {"fmc": 0, "tee": 1, "snp": 2},
}
#: VCEK certificate extensions (AMD KDS spec; go-sev-guest kds.go): component → OID.
TCB_OIDS = {
    "bootloader": "1.3.6.1.4.1.3704.1.3.1",
    "tee": "1.3.6.1.4.1.3704.1.3.2",
    "snp": "1.3.6.1.4.1.3704.1.3.3",
    "microcode": "1.3.6.1.4.1.3704.1.3.8",
    "fmc": "1.3.6.1.4.1.3704.1.3.9",
}
OID_HWID = "1.3.6.1.4.1.3704.1.4"
#: AMD's Key Distribution Service (AMD KDS interface specification, pub. 57230).
KDS_BASE = "https://kdsintf.amd.com"
OID_PRODUCT = "1.3.6.1.4.1.3704.1.2"
PLATFORM_INFO_BITS = {
    0: "SMT_EN",
    1: "TSME_EN",
    2: "ECC_EN",
    3: "RAPL_DIS",
    4: "CIPHERTEXT_HIDING_DRAM_EN",
    5: "ALIAS_CHECK_COMPLETE",
    7: "TIO_EN",
}
SIGNING_KEYS = {0: "VCEK", 1: "VLEK", 7: "NONE"}


@dataclass(frozen=True)
class TcbVersion:
    """A decoded TCB_VERSION: the SPL of each firmware component, for one CPU generation."""

    raw: int
    generation: str
    components: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def decode(cls, raw: int, generation: str) -> TcbVersion:
        """Split the 8 bytes by the generation's layout."""
        if not isinstance(generation, str) or generation not in TCB_LAYOUTS:
            raise ReportError("generation", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(generation)}")
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < 1 << 64:
            raise ReportError("tcb", f"must be a 64-bit TCB_VERSION, got {show(raw)}")
        layout = TCB_LAYOUTS[generation]
        data = raw.to_bytes(8, "little")
        return cls(raw, generation, {name: data[i] for name, i in layout.items()})

    @classmethod
    def encode(cls, components: Dict[str, int], generation: str) -> TcbVersion:
        """The TCB_VERSION of these SPLs in the generation's layout (components it lacks refused,
        the ones not given 0)."""
        if not isinstance(generation, str) or generation not in TCB_LAYOUTS:
            raise ReportError("generation", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(generation)}")
        layout = TCB_LAYOUTS[generation]
        data = bytearray(8)
        for name, value in components.items():
            if name not in layout:
                raise ReportError("tcb", f"{name} is no TCB component of {generation} ({', '.join(layout)})")
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise ReportError("tcb", f"{name} must be an SPL from 0 to 255, got {show(value)}")
            data[layout[name]] = value
        return cls.decode(int.from_bytes(data, "little"), generation)

    def reserved_problems(self) -> List[str]:
        """Bytes outside the generation's layout that are not zero."""
        used = set(TCB_LAYOUTS[self.generation].values())
        data = self.raw.to_bytes(8, "little")
        return [f"byte {i} is {data[i]:#x}" for i in range(8) if i not in used and data[i]]

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready form."""
        return {"raw": f"{self.raw:#018x}", **self.components}


def _product_extension(cert: x509.Certificate) -> Optional[str]:
    """A VCEK's or VLEK's product extension as text ("Milan-B0"; "" when it is no DER string),
    None without one."""
    from .certs import extension_value

    ext = extension_value(cert, OID_PRODUCT)
    if ext is None:
        return None
    return ext[2:].decode("ascii", "replace") if len(ext) >= 2 and ext[0] in (0x0C, 0x13, 0x16) else ""


def _certificate_product(cert: x509.Certificate) -> Optional[str]:
    """The product a VCEK or VLEK names: its product extension ("Milan-B0"), else its issuer
    ("SEV-Milan", "SEV-VLEK-Genoa"); None when it names none of the products with AMD chains."""
    from .certs import product_named

    return product_named(_product_extension(cert) or "") or product_named(cert.issuer.rfc4514_string())


def generation_of(family: int, model: int) -> Optional[str]:
    """The CPU generation of a CPUID family/model (virtee/sev identify_cpu; V395 for Venice)."""
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (family, model)):
        raise ReportError("cpuid", f"family and model must be ints, got {show(family)}, {show(model)}")
    if family == 0x19:
        if model <= 0x0F:
            return "milan"
        if 0x10 <= model <= 0x1F or 0xA0 <= model <= 0xAF:
            return "genoa"
    if family == 0x1A:
        if model <= 0x11:
            return "turin"
        if 0x50 <= model <= 0x57 or 0x90 <= model <= 0xAF or 0xC0 <= model <= 0xC7:
            return "venice"
    return None


#: A report file or stdin is read up to this many bytes: its longest form, hex text with line
#: breaks, is a few KiB.
REPORT_INPUT_LIMIT = 16 * REPORT_SIZE


def read_report_input(data: Union[bytes, str, os.PathLike[str]]) -> bytes:
    """Report bytes from raw bytes, base64 or hex text, or a file holding any of them."""
    if isinstance(data, os.PathLike) or (isinstance(data, str) and os.path.exists(data)):
        from ._files import read_input

        raw = read_input("report", data, REPORT_INPUT_LIMIT)
    elif isinstance(data, str):
        raw = data.encode("utf-8", "surrogateescape")  # a command-line argument may carry undecodable bytes
    else:
        from ._checks import as_bytes

        raw = as_bytes("report", data)
    if len(raw) == REPORT_SIZE:
        return raw
    text = raw.strip()
    if re.fullmatch(rb"[0-9a-fA-F\s]+", text) and len(re.sub(rb"\s", b"", text)) == 2 * REPORT_SIZE:
        return bytes.fromhex(re.sub(rb"\s", b"", text).decode())
    if re.fullmatch(rb"[A-Za-z0-9+/=\s]+", text):
        try:
            decoded = base64.b64decode(re.sub(rb"\s", b"", text), validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == REPORT_SIZE:
            return decoded
    if isinstance(data, str) and not os.path.exists(data):
        raise ReportError("report", f"{data[:60]!r} is no file, and not a report as hex or base64 text")
    raise ReportError("report", f"must be {REPORT_SIZE} bytes (raw, hex or base64), got {len(raw)} bytes")


def _is_cert(obj: object) -> bool:
    from cryptography import x509

    return isinstance(obj, x509.Certificate)


@dataclass(frozen=True)
class AttestationReport:
    """A parsed attestation report. ``raw`` keeps the exact bytes (the signature covers them)."""

    raw: bytes
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb: TcbVersion
    platform_info: int
    key_info: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb: TcbVersion
    cpuid: Optional[Tuple[int, int, int]]
    chip_id: bytes
    committed_tcb: TcbVersion
    current_version: Tuple[int, int, int]  # (major, minor, build)
    committed_version: Tuple[int, int, int]
    launch_tcb: TcbVersion
    launch_mit_vector: Optional[int]
    current_mit_vector: Optional[int]
    signature_r: int
    signature_s: int
    generation: str

    @classmethod
    def from_bytes(
        cls, data: Union[bytes, str, os.PathLike[str]], *, generation: Optional[str] = None
    ) -> AttestationReport:
        """Parse a report (versions 2-5). ``generation`` ("milan", "genoa", "turin", "venice")
        decodes the TCBs; v3+ reports name it themselves, v2 reports are guessed from CHIP_ID."""
        raw = read_report_input(data)

        def u32(off: int) -> int:
            return int(struct.unpack_from("<I", raw, off)[0])

        def u64(off: int) -> int:
            return int(struct.unpack_from("<Q", raw, off)[0])

        version = u32(0x000)
        if not 2 <= version <= 5:
            raise ReportError("report.VERSION", f"is {version}; snpmeasure reads versions 2 to 5")
        cpuid = (raw[0x188], raw[0x189], raw[0x18A]) if version >= 3 else None
        chip_id = raw[0x1A0:0x1E0]
        if generation is not None and cpuid is not None:
            named = generation_of(cpuid[0], cpuid[1])
            if named is not None and named != generation:  # the signed fields decide the TCB layout
                raise ReportError(
                    "generation", f"is {show(generation)}, but the report's CPUID fields name a {named} CPU"
                )
        if generation is None:
            if cpuid is not None:
                generation = generation_of(cpuid[0], cpuid[1])
                if generation is None:
                    raise ReportError(
                        "report.CPUID_FAM_ID",
                        f"family {cpuid[0]:#x} model {cpuid[1]:#x} is no known generation; give the product",
                    )
            else:
                # v2 carries no CPUID: Turin-style hwIDs fill only the first 8 bytes of CHIP_ID.
                generation = "turin" if any(chip_id[:8]) and not any(chip_id[8:]) else "milan"
        if not isinstance(generation, str) or generation not in TCB_LAYOUTS:
            raise ReportError("generation", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(generation)}")
        gen: str = generation

        def tcb(off: int) -> TcbVersion:
            return TcbVersion.decode(u64(off), gen)

        return cls(
            raw=raw,
            version=version,
            guest_svn=u32(0x004),
            policy=u64(0x008),
            family_id=raw[0x010:0x020],
            image_id=raw[0x020:0x030],
            vmpl=u32(0x030),
            signature_algo=u32(0x034),
            current_tcb=tcb(0x038),
            platform_info=u64(0x040),
            key_info=u32(0x048),
            report_data=raw[0x050:0x090],
            measurement=raw[0x090:0x0C0],
            host_data=raw[0x0C0:0x0E0],
            id_key_digest=raw[0x0E0:0x110],
            author_key_digest=raw[0x110:0x140],
            report_id=raw[0x140:0x160],
            report_id_ma=raw[0x160:0x180],
            reported_tcb=tcb(0x180),
            cpuid=cpuid,
            chip_id=chip_id,
            committed_tcb=tcb(0x1E0),
            current_version=(raw[0x1EA], raw[0x1E9], raw[0x1E8]),
            committed_version=(raw[0x1EE], raw[0x1ED], raw[0x1EC]),
            launch_tcb=tcb(0x1F0),
            launch_mit_vector=u64(0x1F8) if version >= 5 else None,
            current_mit_vector=u64(0x200) if version >= 5 else None,
            signature_r=int.from_bytes(raw[0x2A0:0x2E8], "little"),
            signature_s=int.from_bytes(raw[0x2E8:0x330], "little"),
            generation=gen,
        )

    # ---- named bits --------------------------------------------------------------------------
    @property
    def author_key_en(self) -> bool:
        """KEY_INFO bit 0: the launch had an author key."""
        return bool(self.key_info & 1)

    @property
    def mask_chip_key(self) -> bool:
        """KEY_INFO bit 1: the firmware wrote zeros instead of a signature."""
        return bool(self.key_info >> 1 & 1)

    @property
    def signing_key(self) -> str:
        """KEY_INFO bits 4:2: VCEK, VLEK, NONE or RESERVED(n)."""
        code = self.key_info >> 2 & 7
        return SIGNING_KEYS.get(code, f"RESERVED({code})")

    def platform_flags(self) -> List[str]:
        """Names of the PLATFORM_INFO bits set."""
        return [name for bit, name in PLATFORM_INFO_BITS.items() if self.platform_info >> bit & 1]

    def guest_policy(self) -> GuestPolicy:
        """POLICY as a GuestPolicy (raises PolicyError for reserved bits)."""
        return GuestPolicy.from_int(self.policy)

    def reserved_problems(self, refused: Optional[bool] = None) -> List[str]:
        """Every must-be-zero violation: reserved fields and bits (reported, never silently
        ignored). ``refused=True``: only those :meth:`validate` fails; ``False``: only the others."""
        return [text for field, text in self._must_be_zero() if refused is None or (field is not None) == refused]

    def _must_be_zero(self) -> List[Tuple[Optional[str], str]]:
        """(field, text) per must-be-zero violation, the field :meth:`validate` fails it under, or
        None for one only reported. Refused: those go-sev-guest's parser
        refuses (abi.ReportToProto: the reserved ranges, the unsigned bytes after the signature,
        KEY_INFO bits 31:5, a POLICY no firmware launches with). Only reported: the bytes
        0x1F8..0x207 of a report older than v5, PLATFORM_INFO's and the TCBs' reserved bits,
        which firmware updates have been defining (docs/reference/firmware-abi.md §6)."""
        raw = self.raw
        problems: List[Tuple[Optional[str], str]] = []

        def zero(lo: int, hi: int, name: str, refused: bool = True) -> None:
            if any(raw[lo:hi]):
                problems.append(("RESERVED" if refused else None, f"{name} (0x{lo:03x}..0x{hi - 1:03x}) is not zero"))

        zero(0x04C, 0x050, "reserved")
        zero(0x18B if self.version >= 3 else 0x188, 0x1A0, "reserved")
        zero(0x1EB, 0x1EC, "reserved")
        zero(0x1EF, 0x1F0, "reserved")
        if self.version < 5:
            zero(0x1F8, 0x208, "reserved", refused=False)
        zero(0x208, 0x2A0, "reserved")
        zero(0x330, 0x4A0, "signature reserved")
        if self.key_info >> 5:
            problems.append(("KEY_INFO", f"KEY_INFO bits 31:5 are not zero ({self.key_info:#x})"))
        if self.platform_info >> 8 or self.platform_info >> 6 & 1:
            problems.append((None, f"PLATFORM_INFO reserved bits are set ({self.platform_info:#x})"))
        try:
            self.guest_policy()
        except InvalidInputError as exc:
            problems.append(("POLICY", f"POLICY: {exc.rule}"))
        for name, t in (
            ("CURRENT_TCB", self.current_tcb),
            ("REPORTED_TCB", self.reported_tcb),
            ("COMMITTED_TCB", self.committed_tcb),
            ("LAUNCH_TCB", self.launch_tcb),
        ):
            problems.extend((None, f"{name} {p}") for p in t.reserved_problems())
        return problems

    def validate(self, *, permit_provisional_firmware: bool = False) -> List[Mismatch]:
        """The rules a verifier holds every report to, whatever it expects (go-sev-guest's parser
        and its validate step, which ``check`` and trustee's verifier run): no must-be-zero field
        go-sev-guest refuses is set; the guest requested the report (VMPL 0-3: the host's
        SNP_HV_REPORT_REQ writes 0xFFFFFFFF, and its REPORT_DATA binds no guest nonce); the
        firmware is committed (COMMITTED_TCB and the committed version equal the current ones;
        ``permit_provisional_firmware``: at most the current ones); REPORTED_TCB, which the VCEK
        certifies, is at most CURRENT_TCB in every component. [] when all hold."""
        if not isinstance(permit_provisional_firmware, bool):
            raise ReportError("permit_provisional_firmware", f"must be a bool, got {show(permit_provisional_firmware)}")
        out = [
            Mismatch(field, "a policy the firmware launches with" if field == "POLICY" else "zero", text)
            for field, text in self._must_be_zero()
            if field is not None
        ]
        if self.vmpl > 3:
            why = " (the host requested it: SNP_HV_REPORT_REQ)" if self.vmpl == 0xFFFFFFFF else ""
            out.append(Mismatch("VMPL", "0 to 3 (a report the guest requested)", f"{self.vmpl:#x}{why}"))
        # go-sev-guest's validateTcb and validateVersion: the TCBs by component, and the build and
        # the API version (major.minor) each on its own
        cur, com = self.current_tcb.components, self.committed_tcb.components
        (major, minor, build), (c_major, c_minor, c_build) = self.current_version, self.committed_version
        current = f"{major}.{minor} build {build}"
        committed = f"{c_major}.{c_minor} build {c_build}"
        above = [c for c, spl in com.items() if spl > cur[c]]
        for comp in above:  # never, provisional or not: the committed firmware is not the newer one
            out.append(Mismatch(f"COMMITTED_TCB.{comp}", f"<= CURRENT_TCB's {cur[comp]}", str(com[comp])))
        version_above = c_build > build or (c_major, c_minor) > (major, minor)
        if version_above:
            out.append(Mismatch("COMMITTED_VERSION", f"<= the current {current}", committed))
        if not permit_provisional_firmware and not above and not version_above:
            hint = " (provisional firmware, not yet committed: permit provisional firmware to accept it)"
            if com != cur:
                out.append(
                    Mismatch(
                        "COMMITTED_TCB",
                        f"CURRENT_TCB {self.current_tcb.raw:#018x}",
                        f"{self.committed_tcb.raw:#018x}{hint}",
                    )
                )
            if (c_major, c_minor, c_build) != (major, minor, build):
                out.append(Mismatch("COMMITTED_VERSION", f"the current {current}", f"{committed}{hint}"))
        for comp, spl in self.reported_tcb.components.items():
            if spl > cur[comp]:
                out.append(Mismatch(f"REPORTED_TCB.{comp}", f"<= CURRENT_TCB's {cur[comp]}", str(spl)))
        return out

    def to_json(self) -> Dict[str, Any]:
        """Every field, JSON-ready (bytes as hex)."""
        pol: Any
        try:
            pol = self.guest_policy().to_json()
        except InvalidInputError:
            pol = {"policy": f"{self.policy:#x}"}
        return {
            "version": self.version,
            "guest_svn": self.guest_svn,
            "policy": pol,
            "family_id": self.family_id.hex(),
            "image_id": self.image_id.hex(),
            "vmpl": self.vmpl,
            "signature_algo": self.signature_algo,
            "current_tcb": self.current_tcb.to_json(),
            "platform_info": {"raw": f"{self.platform_info:#x}", "flags": self.platform_flags()},
            "key_info": {
                "raw": f"{self.key_info:#x}",
                "author_key_en": self.author_key_en,
                "mask_chip_key": self.mask_chip_key,
                "signing_key": self.signing_key,
            },
            "report_data": self.report_data.hex(),
            "measurement": self.measurement.hex(),
            "host_data": self.host_data.hex(),
            "id_key_digest": self.id_key_digest.hex(),
            "author_key_digest": self.author_key_digest.hex(),
            "report_id": self.report_id.hex(),
            "report_id_ma": self.report_id_ma.hex(),
            "reported_tcb": self.reported_tcb.to_json(),
            "cpuid": None
            if self.cpuid is None
            else {"family": f"{self.cpuid[0]:#x}", "model": f"{self.cpuid[1]:#x}", "stepping": f"{self.cpuid[2]:#x}"},
            "chip_id": self.chip_id.hex(),
            "committed_tcb": self.committed_tcb.to_json(),
            "current_version": ".".join(map(str, self.current_version)),
            "committed_version": ".".join(map(str, self.committed_version)),
            "launch_tcb": self.launch_tcb.to_json(),
            "launch_mit_vector": None if self.launch_mit_vector is None else f"{self.launch_mit_vector:#x}",
            "current_mit_vector": None if self.current_mit_vector is None else f"{self.current_mit_vector:#x}",
            "signature": {"r": f"{self.signature_r:#x}", "s": f"{self.signature_s:#x}"},
            "generation": self.generation,
            "reserved_problems": self.reserved_problems(),
        }

    # ---- signature and certificate chain -----------------------------------------------------------
    def verify_signature(self, public_key: Any) -> None:
        """Check the ECDSA P-384/SHA-384 signature over bytes 0x000..0x29F with ``public_key``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        if self.signature_algo != 1:
            raise SignatureError(
                f"report.SIGNATURE_ALGO is {self.signature_algo}; only 1 (ECDSA P-384 with SHA-384) is defined"
            )
        if self.signing_key == "NONE" or self.mask_chip_key:
            raise SignatureError("report: the firmware did not sign it (SIGNING_KEY none or MASK_CHIP_KEY set)")
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp384r1":
            raise SignatureError("report: the signing certificate's key is not ECDSA P-384")
        try:
            public_key.verify(
                encode_dss_signature(self.signature_r, self.signature_s),
                self.raw[:SIGNED_SIZE],
                ec.ECDSA(hashes.SHA384()),
            )
        except (InvalidSignature, ValueError):
            raise SignatureError(f"report signature: does not verify with the {self.signing_key} key") from None

    def verify(
        self,
        vcek: Union[bytes, str, os.PathLike[str], x509.Certificate],
        *,
        ask_ark: Union[None, bytes, str, os.PathLike[str], Sequence[x509.Certificate]] = None,
        product: Optional[str] = None,
        trusted_arks: Optional[Sequence[x509.Certificate]] = None,
        now: Optional[datetime.datetime] = None,
        crl: Union[None, bytes, str, os.PathLike[str], x509.CertificateRevocationList] = None,
    ) -> str:
        """Verify the report: signature with the VCEK/VLEK, the certificate chain VCEK ← ASK (ASVK
        for a VLEK) ← ARK, the ARK self-signed and equal to AMD's root for the product, and the
        VCEK's TCB and hwID extensions against REPORTED_TCB and CHIP_ID. Returns the product name.

        Each failure raises :class:`SignatureError` naming the step; certificates must be valid at
        ``now`` (default: the current time). No network access: fetch the VCEK from AMD's KDS
        (``https://kdsintf.amd.com/vcek/v1/{product}/{hwid}?blSPL=..``). With ``crl`` (AMD's CRL
        for the product: ``https://kdsintf.amd.com/vcek/v1/{product}/crl`` for a VCEK-signed report,
        ``.../vlek/v1/{product}/crl`` for a VLEK; PEM or DER), the CRL must be a complete CRL of
        the ARK, RSA-PSS-signed by it and current at ``now``, and must not list the ASK/ASVK.

        ``product`` ("milan", "genoa", "turin"): the CPU generation whose AMD root must sign. By
        default a v3+ report's (its signed CPUID fields), else the certificate's (its product
        extension, else its issuer, ``SEV-Milan``); a v2 report with neither is refused. A v2
        report decodes its TCBs in a guessed layout: check expectations on
        ``report.for_product(report.verify(...))``, which reads them in the verified product's.
        """
        import datetime

        from .certs import (
            check_chain,
            check_crl,
            check_validity,
            is_ca,
            load_certs,
            load_crl,
            product_chain,
            verify_issued_by,
        )

        if product is not None and not isinstance(product, str):
            raise ReportError("product", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(product)}")
        if now is not None and not isinstance(now, datetime.datetime):
            raise ReportError("now", f"must be a datetime.datetime, got {type(now).__name__}")
        if trusted_arks is not None and (
            not isinstance(trusted_arks, (list, tuple)) or not all(_is_cert(c) for c in trusted_arks)
        ):
            raise ReportError("trusted_arks", "must be a list of x509.Certificate")
        if isinstance(ask_ark, (list, tuple)) and not all(_is_cert(c) for c in ask_ark):
            raise ReportError("ask_ark", "a list must hold x509.Certificate objects (or give a PEM path or bytes)")
        if self.signing_key not in ("VCEK", "VLEK"):
            raise SignatureError(
                f"report KEY_INFO.SIGNING_KEY is {self.signing_key}: only a VCEK (0) or a VLEK (1) signs a report"
            )
        leaf = load_certs(vcek, "vcek")[0]
        if is_ca(leaf):  # an ASK/ARK bundle (cert_chain.pem) given where the VCEK belongs
            raise ReportError(
                "vcek",
                f"holds an AMD CA certificate ({leaf.subject.rfc4514_string()}), not a VCEK or VLEK: give the "
                "report's signing certificate (vcek.pem from AMD's KDS) here, and the ASK/ARK chain as ask_ark",
            )
        # A v2 report names no CPU; its signing certificate does, and the chain checks it.
        prod = (product or self._named_product() or _certificate_product(leaf) or self._unnamed_product()).lower()
        report = self.for_product(prod)
        revocations = load_crl(crl) if crl is not None else None  # unusable input fails before any check
        kind = "vlek" if self.signing_key == "VLEK" else "vcek"
        # AMD names its signing certificates SEV-VCEK and SEV-VLEK: the wrong kind is named before
        # any chain check would fail on it in other words.
        leaf_cn = leaf.subject.rfc4514_string()
        other = "VCEK" if kind == "vlek" else "VLEK"
        if f"SEV-{other}" in leaf_cn:
            where = (
                "the cloud provider supplies VLEKs (AMD's KDS serves them to providers only)"
                if kind == "vlek"
                else "AMD's KDS serves the chip's VCEK (snpmeasure report kds-url prints where)"
            )
            raise SignatureError(
                f"the report is signed by a {kind.upper()} (KEY_INFO.SIGNING_KEY), but the certificate given is "
                f"a {other} ({leaf_cn}): {where}"
            )
        if ask_ark is None:
            chain = product_chain(prod, kind)
        else:
            chain = list(ask_ark) if isinstance(ask_ark, (list, tuple)) else load_certs(ask_ark, "ask_ark")  # type: ignore[arg-type]
        if len(chain) != 2:
            raise SignatureError(
                f"the ASK/ARK chain: expected the ASK (or ASVK) and the ARK, got {len(chain)} "
                f"certificate{'' if len(chain) == 1 else 's'}"
            )
        ask, ark = chain
        check_chain(ark, ask, prod, trusted_arks, now)
        # A VLEK is issued by the ASVK ("SEV-VLEK-<product>"), a VCEK by the ASK ("SEV-<product>").
        ask_cn = ask.subject.rfc4514_string()
        if ("VLEK" in ask_cn) != (kind == "vlek"):
            raise SignatureError(
                f"the ASK/ARK chain: the report is signed by a {kind.upper()}, but the intermediate is {ask_cn}"
            )
        if revocations is not None:
            check_crl(revocations, ark, [(ask, "ASVK certificate" if kind == "vlek" else "ASK certificate")], now)
        verify_issued_by(leaf, ask, f"{kind.upper()} certificate", "ASK/ASVK")
        check_validity(leaf, f"{kind.upper()} certificate", now)
        report._check_extensions(leaf, prod)
        report.verify_signature(leaf.public_key())
        return prod

    def for_product(self, product: str) -> AttestationReport:
        """This report decoded for ``product`` (what :meth:`verify` returns): a v3+ report must name
        the same generation in its signed CPUID fields (SignatureError); a v2 report is decoded
        again in the product's TCB layout (a masked Turin CHIP_ID looks like Milan's). The name in
        any case, as :meth:`verify` takes it ("Milan")."""
        if not isinstance(product, str) or product.lower() not in TCB_LAYOUTS:
            raise ReportError("product", f"must be one of {', '.join(TCB_LAYOUTS)}, got {show(product)}")
        product = product.lower()
        if product == self.generation:
            return self
        if self.cpuid is not None:
            raise SignatureError(f"report: its CPUID fields name a {self.generation} CPU, not {product}")
        return AttestationReport.from_bytes(self.raw, generation=product)

    def kds_urls(self, product: Optional[str] = None) -> Dict[str, Optional[str]]:
        """Where AMD's Key Distribution Service serves this report's certificates (no network
        access: the URLs, to fetch elsewhere). ``vcek``: the VCEK for this chip and REPORTED_TCB
        (``https://kdsintf.amd.com/vcek/v1/{Product}/{hwID}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..``;
        Turin's hwID is CHIP_ID's first 8 bytes and its TCB adds ``fmcSPL``), None for a
        VLEK-signed report, whose VLEK the cloud provider supplies; ``cert_chain`` (ASK or ASVK,
        and ARK) and ``crl`` for the report's signing key. ``product`` as in :meth:`verify`, but
        with no certificate to name it: a v2 report other than Turin's shape needs it."""
        if self.signing_key not in ("VCEK", "VLEK"):
            raise ReportError("report", f"KEY_INFO.SIGNING_KEY is {self.signing_key}: no AMD key signs it")
        if product is not None and (not isinstance(product, str) or not product):
            raise ReportError("product", f"must be a product name such as milan, got {show(product)}")
        prod = (product or self._named_product() or self._unnamed_product()).lower()
        report = self.for_product(prod)
        from .certs import PRODUCTS

        if prod not in PRODUCTS:
            raise ReportError("product", f"AMD's KDS serves Milan, Genoa and Turin certificates, not {show(prod)}")
        name = prod.capitalize()
        kind = "vlek" if self.signing_key == "VLEK" else "vcek"
        out: Dict[str, Optional[str]] = {
            "vcek": None,
            "cert_chain": f"{KDS_BASE}/{kind}/v1/{name}/cert_chain",
            "crl": f"{KDS_BASE}/{kind}/v1/{name}/crl",
        }
        if kind == "vcek":
            if not any(report.chip_id):
                raise ReportError(
                    "report.CHIP_ID",
                    "is zero (the host masks it, MASK_CHIP_ID): the VCEK's URL needs the chip's ID; "
                    "get the VCEK from the host (the extended report's certificates)",
                )
            tcb = report.reported_tcb.components
            if prod == "turin":
                if any(report.chip_id[8:]):
                    raise ReportError("report", "CHIP_ID bytes 8-63 are not zero: not a Turin report's hwID")
                hwid = report.chip_id[:8].hex()
                query = f"fmcSPL={tcb['fmc']}&"
            else:
                hwid, query = report.chip_id.hex(), ""
            query += f"blSPL={tcb['bootloader']}&teeSPL={tcb['tee']}&snpSPL={tcb['snp']}&ucodeSPL={tcb['microcode']}"
            out["vcek"] = f"{KDS_BASE}/vcek/v1/{name}/{hwid}?{query}"
        return out

    def _named_product(self) -> Optional[str]:
        """The product the report itself names: v3+ by its signed CPUID fields; a v2 report only
        when its CHIP_ID has Turin's shape (an 8-byte hwID). Milan's and Genoa's v2 reports look
        alike (64-byte chip IDs, one TCB layout), so neither is named: snpguest refuses to guess
        there too (get_processor_model)."""
        if self.cpuid is not None or self.generation == "turin":
            return self.generation
        return None

    def _unnamed_product(self) -> str:
        raise ReportError(
            "product",
            "give the product (milan or genoa): a version 2 report does not name its CPU, and Milan's and "
            "Genoa's look alike (firmware since SNP ABI 1.55 writes v3+ reports, which carry CPUID)",
        )

    def _check_extensions(self, cert: x509.Certificate, product: str) -> None:
        from .certs import der_integer, der_octets, extension_value

        hwid = extension_value(cert, OID_HWID)
        if self.signing_key == "VCEK" and hwid is None:
            raise SignatureError("VCEK certificate: has no hwID extension (1.3.6.1.4.1.3704.1.4)")
        text = _product_extension(cert)
        if text is not None:
            if not text.lower().startswith(product):
                raise SignatureError(f"certificate: its product extension says {show(text)}, not {product}")
        # Whenever the certificate binds a chip, the report must be that chip's, unless the host
        # masks CHIP_ID (SNP_CONFIG.MASK_CHIP_ID: the firmware writes zeros); the VCEK's signature
        # still binds the report to the chip then.
        if hwid is not None and any(self.chip_id):
            want = der_octets(hwid)
            got = self.chip_id[: len(want)] if len(want) == 8 else self.chip_id
            if want != got or (len(want) == 8 and any(self.chip_id[8:])):
                raise SignatureError(
                    f"VCEK certificate: hwID {want.hex()} is not the report's CHIP_ID {self.chip_id.hex()}"
                )
        for name, spl in self.reported_tcb.components.items():
            value = extension_value(cert, TCB_OIDS[name])
            if value is None:
                raise SignatureError(f"VCEK certificate: has no {name} SPL extension ({TCB_OIDS[name]})")
            if der_integer(value) != spl:
                raise SignatureError(f"VCEK certificate: {name} SPL {der_integer(value)} is not REPORTED_TCB's {spl}")

    # ---- expectations -------------------------------------------------------------------------------
    def check(self, expected: Union[LaunchResult, Expectations]) -> List[Mismatch]:
        """Compare with what the launch should have produced; [] when everything holds."""
        from .firmware import LaunchResult

        if not isinstance(expected, (Expectations, LaunchResult)):
            raise ReportError("expected", f"must be Expectations or a LaunchResult, got {type(expected).__name__}")
        exp = expected if isinstance(expected, Expectations) else Expectations.from_launch(expected)
        return exp.compare(self)


@dataclass(frozen=True)
class Mismatch:
    """One expectation the report does not meet."""

    field: str
    expected: str
    actual: str

    def line(self) -> str:
        """One line for the CLI."""
        if self.field == "SIGNATURE":
            return f"SIGNATURE: {self.actual}"
        return f"{self.field}: expected {self.expected}, report has {self.actual}"

    def to_json(self) -> Dict[str, str]:
        """``{field, expected, actual}``, as ``report verify --json`` lists failures."""
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


def _said(value: object) -> str:
    """A value in a Mismatch as JSON and the other commands say it: true/false, not Python's."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# Policy bits where 1 is more permissive (the report may only have them if expected) vs. stricter.
_PERMISSIVE = {"smt", "migrate_ma", "debug", "cxl_allow"}


@dataclass(frozen=True)
class Expectations:
    """What a verifier expects of a report; None fields are not checked.

    ``policy_at_most``: instead of an exact match, the report's policy may be *stricter* than
    ``policy``: permissive bits (SMT, MIGRATE_MA, DEBUG, CXL_ALLOW) only where expected, restrictive
    bits (SINGLE_SOCKET, MEM_AES_256_XTS, RAPL_DIS, CIPHERTEXT_HIDING, PAGE_SWAP_DISABLE) at least
    where expected, and an ABI minimum at least the expected one.
    """

    measurement: Optional[bytes] = None
    policy: Optional[int] = None
    policy_at_most: bool = False
    host_data: Optional[bytes] = None
    report_data: Optional[bytes] = None
    family_id: Optional[bytes] = None
    image_id: Optional[bytes] = None
    guest_svn: Optional[int] = None
    id_key_digest: Optional[bytes] = None
    author_key_digest: Optional[bytes] = None
    vmpl: Optional[int] = None
    min_tcb: Optional[Dict[str, int]] = None
    #: KEY_INFO: whether the ID auth carried an author key, and which key signs (VCEK or VLEK).
    author_key_en: Optional[bool] = None
    signing_key: Optional[str] = None

    def __post_init__(self) -> None:
        """Expectations that no report can meet are bad input (ReportError), not a mismatch."""
        if self.author_key_en is not None and not isinstance(self.author_key_en, bool):
            raise ReportError("author_key_en", f"must be a bool, got {show(self.author_key_en)}")
        if self.signing_key is not None and self.signing_key not in ("VCEK", "VLEK"):
            raise ReportError("signing_key", f"must be 'VCEK' or 'VLEK', got {show(self.signing_key)}")
        if not isinstance(self.policy_at_most, bool):
            raise ReportError("policy_at_most", f"must be a bool, got {show(self.policy_at_most)}")
        if self.policy_at_most and self.policy is None:
            raise ReportError("policy_at_most", "compares with an expected policy: give the policy too")
        sizes = {
            "measurement": 48,
            "host_data": 32,
            "report_data": 64,
            "family_id": 16,
            "image_id": 16,
            "id_key_digest": 48,
            "author_key_digest": 48,
        }
        for name, size in sizes.items():
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, (bytes, bytearray, memoryview)) or len(bytes(value)) != size
            ):
                raise ReportError(name, f"must be {size} bytes, got {show(value)}")
        for name, top in (("guest_svn", 2**32 - 1), ("vmpl", 3), ("policy", 2**64 - 1)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
                raise ReportError(name, f"must be an int from 0 to {top}, got {show(value)}")
        if self.policy is not None:
            try:
                GuestPolicy.from_int(self.policy)  # reserved bits: no firmware launches with them
            except InvalidInputError as exc:
                raise ReportError("policy", exc.rule) from None
        if self.min_tcb is not None:
            known = sorted({c for layout in TCB_LAYOUTS.values() for c in layout})
            if not isinstance(self.min_tcb, dict):
                raise ReportError("min_tcb", f"must map TCB components ({', '.join(known)}) to minimum SVNs")
            for comp, minimum in self.min_tcb.items():
                if comp not in known:
                    raise ReportError("min_tcb", f"unknown TCB component {show(comp)}; known: {', '.join(known)}")
                if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= 255:
                    raise ReportError("min_tcb", f"{comp} must be an SVN from 0 to 255, got {show(minimum)}")

    @classmethod
    def from_launch(cls, result: LaunchResult, **overrides: Any) -> Expectations:
        """Everything a launch dry run fixed."""
        from .firmware import LaunchResult

        require_type("result", result, LaunchResult, error=ReportError)
        args: Dict[str, Any] = dict(
            measurement=result.measurement,
            policy=result.policy,
            host_data=result.host_data,
            family_id=result.family_id,
            image_id=result.image_id,
            guest_svn=result.guest_svn,
            id_key_digest=result.id_key_digest,
            author_key_digest=result.author_key_digest,
            author_key_en=result.author_key_en,
            signing_key=result.signing_key,
        )
        args.update(overrides)
        return cls(**args)

    @classmethod
    def from_launch_json(cls, doc: Any, **overrides: Any) -> Expectations:
        """Everything a launch dry run fixed, from ``snpmeasure launch --json`` output (a dict)."""
        args = launch_expectations(doc)
        args.update(overrides)
        return cls(**args)

    def compare(self, r: AttestationReport) -> List[Mismatch]:
        """The mismatches, in field order."""
        out: List[Mismatch] = []
        for name in (
            "measurement",
            "host_data",
            "report_data",
            "family_id",
            "image_id",
            "id_key_digest",
            "author_key_digest",
        ):
            want = getattr(self, name)
            if want is not None and bytes(want) != getattr(r, name):
                out.append(Mismatch(name.upper(), bytes(want).hex(), getattr(r, name).hex()))
        for name in ("guest_svn", "vmpl", "author_key_en", "signing_key"):
            want = getattr(self, name)
            if want is not None and want != getattr(r, name):
                out.append(Mismatch(name.upper(), _said(want), _said(getattr(r, name))))
        if self.policy is not None:
            out.extend(self._policy(r))
        if self.min_tcb:
            for comp, minimum in self.min_tcb.items():
                got = r.reported_tcb.components.get(comp)
                if got is None:  # no report of this generation can meet it: the expectation is wrong
                    raise ReportError(
                        "min_tcb",
                        f"{comp} is no TCB component of {r.generation} ({', '.join(TCB_LAYOUTS[r.generation])})",
                    )
                if got < minimum:
                    out.append(Mismatch(f"REPORTED_TCB.{comp}", f">= {minimum}", str(got)))
        return out

    def _policy(self, r: AttestationReport) -> List[Mismatch]:
        assert self.policy is not None
        if not self.policy_at_most:
            return [] if r.policy == self.policy else [Mismatch("POLICY", f"{self.policy:#x}", f"{r.policy:#x}")]
        want = GuestPolicy.from_int(self.policy)
        try:
            got = r.guest_policy()
        except InvalidInputError as exc:  # the report's POLICY, not the expectation, breaks a rule
            return [Mismatch("POLICY", f"at most {self.policy:#x}", f"{r.policy:#x} ({exc.rule})")]
        out: List[Mismatch] = []
        for attr, *_ in FLAG_BITS:
            w, g = getattr(want, attr), getattr(got, attr)
            if (attr in _PERMISSIVE and g and not w) or (attr not in _PERMISSIVE and w and not g):
                out.append(
                    Mismatch(
                        f"POLICY.{attr.upper()}",
                        f"{'at most' if attr in _PERMISSIVE else 'at least'} {int(w)}",
                        str(int(g)),
                    )
                )
        if (got.abi_major, got.abi_minor) < (want.abi_major, want.abi_minor):
            out.append(
                Mismatch("POLICY.ABI", f">= {want.abi_major}.{want.abi_minor}", f"{got.abi_major}.{got.abi_minor}")
            )
        return out


def parse_hex(field: str, text: Optional[str], size: int) -> Optional[bytes]:
    """``size`` bytes given as hex text (an ``0x`` prefix allowed) or as standard base64 (the form
    QEMU's ``host-data`` and ``sev-snp-measure --output-format base64`` use; the two cannot be
    confused: ``size`` bytes are ``2 * size`` hex digits but fewer base64 characters). None stays
    None. Errors name ``field``."""
    import base64
    import binascii

    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInputError(field, f"must be hex or base64 text, got {type(text).__name__}")
    t = text.strip()
    b64_len = 4 * ((size + 2) // 3)
    if t.lower().startswith("0x") and len(t) != b64_len:  # base64 text may itself begin with "0x"
        t = t[2:]
    if len(t) == b64_len and len(t) != 2 * size:
        try:
            raw = base64.b64decode(t, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(field, f"is neither hex nor valid base64 ({b64_len} characters)") from None
    else:
        try:
            raw = bytes.fromhex(t)
        except ValueError:
            raise InvalidInputError(
                field, f"must be {size} bytes as {2 * size} hex digits or {b64_len} base64 characters"
            ) from None
    if len(raw) != size:
        raise InvalidInputError(
            field, f"must be {size} bytes ({2 * size} hex digits or {b64_len} base64 characters), got {len(raw)}"
        )
    return raw


def parse_min_tcb(text: str, field: str = "min_tcb") -> Dict[str, int]:
    """A minimum REPORTED_TCB as ``component=N[,component=N]`` (``bootloader=2,snp=5``); the
    component names are checked by :class:`Expectations`."""
    mins: Dict[str, int] = {}
    for item in text.split(","):
        comp, _, value = item.partition("=")
        if not re.fullmatch(r"[0-9]+", value.strip()):  # str.isdigit also takes superscripts
            raise InvalidInputError(field, f"must be component=N[,component=N], got {show(item)}")
        if comp.strip() in mins:  # the last would win silently: "snp=9,snp=0" checks nothing
            raise InvalidInputError(field, f"names {comp.strip()} twice; give each component once")
        mins[comp.strip()] = int(value)
    return mins


#: The fields of ``snpmeasure launch --json``'s ``report`` object.
LAUNCH_FIELDS = (
    "measurement",
    "policy",
    "host_data",
    "family_id",
    "image_id",
    "guest_svn",
    "id_key_digest",
    "author_key_digest",
    "author_key_en",
    "id_block_en",
    "signing_key",
)


def launch_expectations(doc: Any, field: str = "from_launch") -> Dict[str, Any]:
    """The :class:`Expectations` arguments that a launch dry run fixed, from the JSON document
    ``snpmeasure launch --json`` prints (or its ``report`` object). A failed launch, a field of the
    wrong type or an unknown field is an :class:`InvalidInputError` naming ``field`` (``field.key``
    for one of its keys)."""
    if isinstance(doc, dict) and doc.get("ok") is False:
        raise InvalidInputError(field, "records a launch that failed: no report comes from it")
    fields = doc.get("report", doc) if isinstance(doc, dict) else None
    if not isinstance(fields, dict) or "measurement" not in fields:
        raise InvalidInputError(field, "must be the JSON of 'snpmeasure launch --json'")
    for key in ("measurement", "host_data", "family_id", "image_id", "id_key_digest", "author_key_digest"):
        if key in fields and not isinstance(fields[key], str):
            raise InvalidInputError(f"{field}.{key}", f"must be a hex string, got {show(fields[key])}")
    unknown = sorted(set(fields) - set(LAUNCH_FIELDS))
    if unknown:
        raise InvalidInputError(f"{field}.{unknown[0]}", "is no field of 'snpmeasure launch --json' output")
    if not isinstance(fields.get("author_key_en", False), bool) or fields.get("signing_key", "VCEK") not in (
        "VCEK",
        "VLEK",
    ):
        raise InvalidInputError(field, "author_key_en must be true or false, signing_key VCEK or VLEK")
    svn = fields.get("guest_svn", 0)
    if isinstance(svn, bool) or not isinstance(svn, int) or not 0 <= svn <= 0xFFFFFFFF:
        raise InvalidInputError(
            f"{field}.guest_svn", f"must be an int from 0 to 2**32-1, got {show(fields.get('guest_svn'))}"
        )
    if "policy" not in fields or isinstance(fields["policy"], bool) or not isinstance(fields["policy"], (str, int)):
        raise InvalidInputError(f"{field}.policy", "must be the policy as a string or number")
    try:
        policy = GuestPolicy.parse(fields["policy"]).to_int()
    except InvalidInputError as exc:
        raise InvalidInputError(f"{field}.policy", exc.rule) from None

    def hex_field(key: str, size: int) -> Optional[bytes]:
        return parse_hex(f"{field}.{key}", fields.get(key, "00" * size), size)

    return dict(
        measurement=parse_hex(f"{field}.measurement", fields["measurement"], 48),
        policy=policy,
        host_data=hex_field("host_data", 32),
        family_id=hex_field("family_id", 16),
        image_id=hex_field("image_id", 16),
        guest_svn=svn,
        id_key_digest=hex_field("id_key_digest", 48),
        author_key_digest=hex_field("author_key_digest", 48),
        author_key_en=fields.get("author_key_en", False),
        signing_key=fields.get("signing_key", "VCEK"),
    )


__all__ = [
    "AttestationReport",
    "TcbVersion",
    "Expectations",
    "Mismatch",
    "ReportError",
    "generation_of",
    "read_report_input",
    "parse_hex",
    "parse_min_tcb",
    "launch_expectations",
    "LAUNCH_FIELDS",
]
