"""The blobs of QEMU's ``sev-snp-guest`` object: ID block, ID auth, host data, GOSVW.

Layouts (SEV-SNP ABI spec; docs/reference/firmware-abi.md §4.2, §4.3):

ID block, 96 bytes::

    0x00 48 LD          expected launch digest       0x50 4 VERSION    (1)
    0x30 16 FAMILY_ID                                 0x54 4 GUEST_SVN
    0x40 16 IMAGE_ID                                  0x58 8 POLICY

ID authentication information, 4096 bytes::

    0x000   4 ID_KEY_ALGO (1 = ECDSA P-384 with SHA-384)   0x240 0x404 ID_KEY
    0x004   4 AUTH_KEY_ALGO (1, or 0 without author key)   0x644  0x3C reserved
    0x008 0x38 reserved                                    0x680 0x200 ID_KEY_SIG (author key over ID_KEY)
    0x040 0x200 ID_BLOCK_SIG (ID key over the ID block)    0x880 0x404 AUTHOR_KEY
                                                           0xC84 0x37C reserved

Public key (0x404 bytes): ``u32 CURVE`` (2 = P-384), QX and QY little-endian zero-extended to 72
bytes at 0x004 and 0x04C, reserved to the end. Signature (0x200 bytes): R and S little-endian
zero-extended to 72 bytes at 0x000 and 0x048, reserved to the end. The report's ID_KEY_DIGEST and
AUTHOR_KEY_DIGEST are SHA-384 of the 0x404-byte key structures.

``cryptography`` is imported on first use of a key or signature, so ``import snpmeasure`` stays light.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, Union

from ._checks import as_bytes, require_type
from .errors import BlobError, InvalidInputError, SignatureError, show
from .policy import DEFAULT_POLICY, GuestPolicy

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric import ec

ID_BLOCK_SIZE = 96
ID_AUTH_SIZE = 4096
KEY_SIZE = 0x404
SIG_SIZE = 0x200
COORD = 72  # R, S, QX, QY are zero-extended to 576 bits
CURVE_P384 = 2
ALGO_ECDSA_P384_SHA384 = 1
HOST_DATA_SIZE = 32
GOSVW_SIZE = 16

_ID_BLOCK = struct.Struct("<48s16s16sIIQ")
#: ID_AUTH_INFO field → its bytes (start, end), as the module docstring draws them (SEV-SNP ABI,
#: ID Authentication Information Structure; docs/reference/firmware-abi.md §4.3).
ID_AUTH_LAYOUT = {
    "ID_KEY_ALGO": (0x000, 0x004),
    "AUTH_KEY_ALGO": (0x004, 0x008),
    "ID_BLOCK_SIG": (0x040, 0x240),
    "ID_KEY": (0x240, 0x644),
    "ID_KEY_SIG": (0x680, 0x880),
    "AUTHOR_KEY": (0x880, 0xC84),
}
_AUTH_RESERVED = [(0x008, 0x040), (0x644, 0x680), (0xC84, 0x1000)]


def _auth(field: str) -> slice:
    return slice(*ID_AUTH_LAYOUT[field])


Bytes = Union[bytes, bytearray, memoryview]


def _ec() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec


def _blob_bytes(field_name: str, value: object, size: Optional[int] = None) -> bytes:
    """as_bytes, as a BlobError."""
    try:
        return as_bytes(field_name, value, size)
    except InvalidInputError as exc:
        raise BlobError(exc.field, exc.rule) from None


def _check_coordinate(field_name: str, name: str, value: object) -> None:
    """A P-384 coordinate or signature half: a non-negative int of at most 72 bytes (AMD's field)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << (8 * COORD):
        raise BlobError(field_name, f"{name} must be an int from 0 to 2**{8 * COORD}-1, got {show(value)}")


def parse_id(field_name: str, value: Union[str, bytes, uuid.UUID, None]) -> bytes:
    """A 16-byte FAMILY_ID / IMAGE_ID from a UUID (stored as its 16 bytes in order), 32 hex digits or bytes."""
    if value is None:
        return bytes(16)
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif not isinstance(value, str):
        raise BlobError(field_name, f"must be a UUID, 32 hex digits or 16 bytes, got {type(value).__name__}")
    else:
        text = value.strip()
        try:
            if "-" in text:
                return uuid.UUID(text).bytes
            raw = bytes.fromhex(text[2:] if text.lower().startswith("0x") else text)
        except ValueError:
            raise BlobError(field_name, f"must be a UUID or 32 hex digits, got {show(value)}") from None
    if len(raw) != 16:
        raise BlobError(field_name, f"must be 16 bytes, got {len(raw)}")
    return raw


# ---- public keys and signatures ---------------------------------------------------------------


@dataclass(frozen=True)
class AmdPublicKey:
    """An ECDSA P-384 public key in AMD's 0x404-byte format."""

    qx: int
    qy: int

    def __post_init__(self) -> None:
        for name in ("qx", "qy"):
            _check_coordinate("key", name, getattr(self, name))

    def to_bytes(self) -> bytes:
        """The 0x404-byte structure."""
        out = bytearray(KEY_SIZE)
        struct.pack_into("<I", out, 0, CURVE_P384)
        out[0x004 : 0x004 + COORD] = self.qx.to_bytes(COORD, "little")
        out[0x04C : 0x04C + COORD] = self.qy.to_bytes(COORD, "little")
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: Bytes, *, field_name: str = "key") -> AmdPublicKey:
        """Parse and check the structure: size, curve 2, reserved bytes zero, point on P-384."""
        raw = _blob_bytes(field_name, data)
        if len(raw) != KEY_SIZE:
            raise BlobError(field_name, f"must be {KEY_SIZE:#x} bytes, got {len(raw):#x}")
        (curve,) = struct.unpack_from("<I", raw, 0)
        if curve != CURVE_P384:
            raise BlobError(field_name, f"curve is {curve}, expected 2 (P-384)")
        if any(raw[0x094:]):
            raise BlobError(field_name, "reserved bytes 0x094..0x403 must be zero")
        key = cls(int.from_bytes(raw[0x004:0x04C], "little"), int.from_bytes(raw[0x04C:0x094], "little"))
        key.to_cryptography(field_name=field_name)  # checks the point is on the curve
        return key

    @classmethod
    def from_cryptography(cls, key: ec.EllipticCurvePublicKey, *, field_name: str = "key") -> AmdPublicKey:
        """From a ``cryptography`` P-384 public key."""
        ec = _ec()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise BlobError(field_name, f"must be an ECDSA P-384 key, got {_describe_key(key)}")
        nums = key.public_numbers()
        return cls(nums.x, nums.y)

    def to_cryptography(self, *, field_name: str = "key") -> ec.EllipticCurvePublicKey:
        """As a ``cryptography`` public key."""
        from cryptography.hazmat.primitives.asymmetric import ec as ec_mod

        try:
            return ec_mod.EllipticCurvePublicNumbers(self.qx, self.qy, ec_mod.SECP384R1()).public_key()
        except ValueError:
            raise BlobError(field_name, "is not a point on P-384") from None

    def digest(self) -> bytes:
        """SHA-384 of the 0x404-byte structure (the report's ID_KEY_DIGEST / AUTHOR_KEY_DIGEST)."""
        return hashlib.sha384(self.to_bytes()).digest()


def _describe_key(key: Any) -> str:
    curve = getattr(getattr(key, "curve", None), "name", None)
    return f"{type(key).__name__}{f' on {curve}' if curve else ''}"


@dataclass(frozen=True)
class AmdSignature:
    """An ECDSA signature in AMD's 0x200-byte format (R, S little-endian)."""

    r: int
    s: int

    def __post_init__(self) -> None:
        for name in ("r", "s"):
            _check_coordinate("signature", name, getattr(self, name))

    def to_bytes(self) -> bytes:
        """The 0x200-byte structure."""
        out = bytearray(SIG_SIZE)
        out[0x00:COORD] = self.r.to_bytes(COORD, "little")
        out[COORD : 2 * COORD] = self.s.to_bytes(COORD, "little")
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: Bytes, *, field_name: str = "signature") -> AmdSignature:
        """Parse and check the structure (size, reserved bytes zero)."""
        raw = _blob_bytes(field_name, data)
        if len(raw) != SIG_SIZE:
            raise BlobError(field_name, f"must be {SIG_SIZE:#x} bytes, got {len(raw):#x}")
        if any(raw[2 * COORD :]):
            raise BlobError(field_name, "reserved bytes 0x090..0x1ff must be zero")
        return cls(int.from_bytes(raw[:COORD], "little"), int.from_bytes(raw[COORD : 2 * COORD], "little"))

    @classmethod
    def from_der(cls, der: bytes) -> AmdSignature:
        """From a DER ``ECDSA-Sig-Value``."""
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        try:
            r, s = decode_dss_signature(_blob_bytes("signature", der))
        except ValueError:
            raise BlobError("signature", "is not a DER ECDSA-Sig-Value") from None
        return cls(r, s)

    @classmethod
    def from_any(cls, sig: bytes, *, field_name: str = "signature") -> AmdSignature:
        """From DER, raw P1363 ``R ‖ S`` (96 bytes, big-endian) or AMD's 0x200-byte format."""
        sig = _blob_bytes(field_name, sig)
        if len(sig) == SIG_SIZE:
            return cls.from_bytes(sig, field_name=field_name)
        if len(sig) == 96:
            return cls(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
        try:
            return cls.from_der(sig)
        except ValueError:
            raise BlobError(
                field_name, f"is neither DER, 96-byte R||S nor 512-byte AMD format ({len(sig)} bytes)"
            ) from None

    def to_der(self) -> bytes:
        """As a DER ``ECDSA-Sig-Value``."""
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        return encode_dss_signature(self.r, self.s)

    def verify(self, key: AmdPublicKey, message: bytes) -> bool:
        """True if this is a valid ECDSA P-384/SHA-384 signature of ``message`` by ``key``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes

        ec = _ec()
        try:
            key.to_cryptography().verify(self.to_der(), message, ec.ECDSA(hashes.SHA384()))
            return True
        except (InvalidSignature, ValueError, BlobError):
            return False


# ---- signers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalSigner:
    """A key kept elsewhere (HSM, signing service): its public key and a function that signs.

    ``public_key`` is an :class:`AmdPublicKey`, a ``cryptography`` P-384 public key, or the
    0x404-byte AMD public key structure. ``sign(message)`` receives the exact bytes to sign (ECDSA
    P-384 with SHA-384) and returns a DER or raw 96-byte ``R ‖ S`` signature.
    """

    public_key: AmdPublicKey
    sign: Callable[[bytes], bytes]

    def __post_init__(self) -> None:
        key: Any = self.public_key
        if isinstance(key, (bytes, bytearray, memoryview)):
            key = AmdPublicKey.from_bytes(key, field_name="public_key")
        elif not isinstance(key, AmdPublicKey):
            if not isinstance(key, _ec().EllipticCurvePublicKey):
                raise BlobError(
                    "public_key",
                    f"must be an AmdPublicKey, a P-384 public key or its 0x404-byte AMD form, got {type(key).__name__}",
                )
            key = AmdPublicKey.from_cryptography(key, field_name="public_key")
        if not callable(self.sign):
            raise BlobError(
                "sign", f"must be a function of the message that returns its signature, got {type(self.sign).__name__}"
            )
        object.__setattr__(self, "public_key", key)


KeySource = Union[str, "os.PathLike[str]", bytes, "ec.EllipticCurvePrivateKey", ExternalSigner]


def load_private_key(source: KeySource, *, password: Optional[bytes] = None, field_name: str = "key") -> Any:
    """A P-384 private key from a PEM/DER file or bytes (encrypted PEM with ``password``), or as given.

    The key's bytes never enter an error message.
    """
    if isinstance(source, ExternalSigner):
        return source
    from cryptography.hazmat.primitives import serialization

    ec = _ec()
    if isinstance(source, ec.EllipticCurvePrivateKey) or hasattr(source, "private_bytes"):
        key = source  # a cryptography private key object (its type is checked below)
    elif not isinstance(source, (str, bytes, bytearray, os.PathLike)):
        raise BlobError(
            field_name,
            f"must be a key file path, PEM/DER bytes, a P-384 private key or an ExternalSigner, got {type(source).__name__}",
        )
    else:
        if isinstance(source, (bytes, bytearray)):
            data, where = bytes(source), "key bytes"
        else:
            from ._files import read_input

            data, where = read_input(field_name, source, 1 << 20), os.fspath(source)  # a PEM or DER key is a few KiB
        try:
            if b"-----BEGIN" in data:
                key = serialization.load_pem_private_key(data, password=password)
            else:
                key = serialization.load_der_private_key(data, password=password)
        except TypeError as exc:
            rule = (
                "is encrypted; give its passphrase"
                if "encrypted" in str(exc) and password is None
                else "passphrase given for an unencrypted key"
                if password
                else "could not be loaded"
            )
            raise BlobError(field_name, f"{where} {rule}") from None
        except (ValueError, Exception) as exc:  # cryptography raises several types for bad keys
            if isinstance(exc, BlobError):
                raise
            raise BlobError(
                field_name, f"{where} is not a PEM or DER private key (or the passphrase is wrong)"
            ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise BlobError(field_name, f"must be an ECDSA P-384 private key, got {_describe_key(key)}")
    return key


def _public_of(key: Any, field_name: str) -> AmdPublicKey:
    if isinstance(key, ExternalSigner):
        return key.public_key
    return AmdPublicKey.from_cryptography(key.public_key(), field_name=field_name)


def sign_message(key: Any, message: bytes, field_name: str) -> AmdSignature:
    """AMD's signature of ``message`` by ``key`` (a private key or an :class:`ExternalSigner`, whose
    signature is verified before it is used); errors name ``field_name``."""
    if isinstance(key, ExternalSigner):
        sig = AmdSignature.from_any(key.sign(message), field_name=field_name)
        if not sig.verify(key.public_key, message):
            raise SignatureError(
                f"{field_name}: the external signer returned a signature that does not verify with its public key"
            )
        return sig
    from cryptography.hazmat.primitives import hashes

    try:  # RFC 6979 (as igvmmeasure signs): the same key and message give the same signature
        algorithm = _ec().ECDSA(hashes.SHA384(), deterministic_signing=True)
    except TypeError:  # cryptography < 44
        algorithm = _ec().ECDSA(hashes.SHA384())
    return AmdSignature.from_der(key.sign(message, algorithm))


# ---- ID block and ID auth -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdBlock:
    """The 96-byte ID block given to SNP_LAUNCH_FINISH."""

    ld: bytes
    family_id: bytes = bytes(16)
    image_id: bytes = bytes(16)
    version: int = 1
    guest_svn: int = 0
    policy: int = DEFAULT_POLICY

    def __post_init__(self) -> None:
        for name, size in (("ld", 48), ("family_id", 16), ("image_id", 16)):
            object.__setattr__(self, name, _blob_bytes(name, getattr(self, name), size))
        for name, top in (("version", 0xFFFFFFFF), ("guest_svn", 0xFFFFFFFF), ("policy", (1 << 64) - 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
                raise BlobError(name, f"must be an int from 0 to {top:#x}, got {show(v)}")

    def to_bytes(self) -> bytes:
        """The 96 bytes."""
        return _ID_BLOCK.pack(self.ld, self.family_id, self.image_id, self.version, self.guest_svn, self.policy)

    @classmethod
    def from_bytes(cls, data: Bytes) -> IdBlock:
        """Parse 96 bytes (exactly)."""
        raw = _blob_bytes("id-block", data)
        if len(raw) != ID_BLOCK_SIZE:
            raise BlobError("id-block", f"must be {ID_BLOCK_SIZE} bytes, got {len(raw)}")
        return cls(*_ID_BLOCK.unpack(raw))

    def base64(self) -> str:
        """Base64, as QEMU's ``id-block=`` takes it."""
        return base64.b64encode(self.to_bytes()).decode()

    @classmethod
    def from_base64(cls, text: str) -> IdBlock:
        """From QEMU's base64 form."""
        return cls.from_bytes(decode_b64("id-block", text))

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready fields."""
        return {
            "ld": self.ld.hex(),
            "family_id": self.family_id.hex(),
            "image_id": self.image_id.hex(),
            "version": self.version,
            "guest_svn": self.guest_svn,
            "policy": f"{self.policy:#x}",
        }


@dataclass(frozen=True)
class IdAuth:
    """The 4096-byte ID authentication information structure."""

    id_block_sig: AmdSignature
    id_key: AmdPublicKey
    id_key_sig: Optional[AmdSignature] = None
    author_key: Optional[AmdPublicKey] = None
    id_key_algo: int = ALGO_ECDSA_P384_SHA384
    auth_key_algo: int = field(default=-1)

    def __post_init__(self) -> None:
        for name, kind in (
            ("id_block_sig", AmdSignature),
            ("id_key", AmdPublicKey),
            ("id_key_sig", AmdSignature),
            ("author_key", AmdPublicKey),
        ):
            value = getattr(self, name)
            if not isinstance(value, kind) and (value is not None or name in ("id_block_sig", "id_key")):
                raise BlobError(name, f"must be an {kind.__name__}, got {type(value).__name__}")
        for name in ("id_key_algo", "auth_key_algo"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 0xFFFFFFFF:
                raise BlobError(name, f"must be a 32-bit algorithm code, got {show(value)}")
        if (self.id_key_sig is None) != (self.author_key is None):
            raise BlobError("id-auth", "id_key_sig and author_key go together")
        if self.auth_key_algo == -1:
            object.__setattr__(self, "auth_key_algo", ALGO_ECDSA_P384_SHA384 if self.author_key else 0)

    def to_bytes(self) -> bytes:
        """The 4096 bytes (author fields zero without an author key)."""
        out = bytearray(ID_AUTH_SIZE)
        struct.pack_into("<II", out, 0, self.id_key_algo, self.auth_key_algo)
        out[_auth("ID_BLOCK_SIG")] = self.id_block_sig.to_bytes()
        out[_auth("ID_KEY")] = self.id_key.to_bytes()
        if self.author_key is not None and self.id_key_sig is not None:
            out[_auth("ID_KEY_SIG")] = self.id_key_sig.to_bytes()
            out[_auth("AUTHOR_KEY")] = self.author_key.to_bytes()
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: Bytes) -> IdAuth:
        """Parse strictly: 4096 bytes, algorithm 1, curve 2, reserved bytes zero."""
        raw = _blob_bytes("id-auth", data)
        if len(raw) != ID_AUTH_SIZE:
            raise BlobError("id-auth", f"must be {ID_AUTH_SIZE} bytes (KVM always reads 4096), got {len(raw)}")
        id_algo, auth_algo = struct.unpack_from("<II", raw, 0)
        if id_algo != ALGO_ECDSA_P384_SHA384:
            raise BlobError("id-auth.ID_KEY_ALGO", f"is {id_algo}, expected 1 (ECDSA P-384 with SHA-384)")
        if auth_algo not in (0, ALGO_ECDSA_P384_SHA384):
            raise BlobError("id-auth.AUTH_KEY_ALGO", f"is {auth_algo}, expected 1, or 0 without an author key")
        for lo, hi in _AUTH_RESERVED:
            if any(raw[lo:hi]):
                raise BlobError(f"id-auth reserved {lo:#05x}..{hi - 1:#05x}", "must be zero")
        id_block_sig = AmdSignature.from_bytes(raw[_auth("ID_BLOCK_SIG")], field_name="id-auth.ID_BLOCK_SIG")
        id_key = AmdPublicKey.from_bytes(raw[_auth("ID_KEY")], field_name="id-auth.ID_KEY")
        author_fields = slice(ID_AUTH_LAYOUT["ID_KEY_SIG"][0], ID_AUTH_LAYOUT["AUTHOR_KEY"][1])
        if auth_algo == 0:
            if any(raw[author_fields]):
                raise BlobError("id-auth.AUTHOR_KEY", "must be zero when AUTH_KEY_ALGO is 0")
            return cls(id_block_sig, id_key, id_key_algo=id_algo, auth_key_algo=0)
        return cls(
            id_block_sig,
            id_key,
            AmdSignature.from_bytes(raw[_auth("ID_KEY_SIG")], field_name="id-auth.ID_KEY_SIG"),
            AmdPublicKey.from_bytes(raw[_auth("AUTHOR_KEY")], field_name="id-auth.AUTHOR_KEY"),
            id_algo,
            auth_algo,
        )

    @classmethod
    def as_firmware_reads(cls, data: Bytes, *, author_key_enabled: bool) -> IdAuth:
        """The 4096 bytes KVM hands over, parsed as SNP_LAUNCH_FINISH reads them: without
        AUTHOR_KEY_EN the firmware reads neither AUTH_KEY_ALGO, the ID key's signature nor the
        author key (docs/reference/firmware-abi.md §4.3), so whatever they hold is no error."""
        raw = _blob_bytes("id-auth", data)
        if not author_key_enabled and len(raw) == ID_AUTH_SIZE:
            unread = bytearray(raw)
            for field in ("AUTH_KEY_ALGO", "ID_KEY_SIG", "AUTHOR_KEY"):
                start, end = ID_AUTH_LAYOUT[field]
                unread[start:end] = bytes(end - start)
            raw = bytes(unread)
        return cls.from_bytes(raw)

    def base64(self) -> str:
        """Base64, as QEMU's ``id-auth=`` takes it."""
        return base64.b64encode(self.to_bytes()).decode()

    @classmethod
    def from_base64(cls, text: str) -> IdAuth:
        """From QEMU's base64 form."""
        return cls.from_bytes(decode_b64("id-auth", text))

    @property
    def id_key_digest(self) -> bytes:
        """SHA-384 of ID_KEY (the report's ID_KEY_DIGEST)."""
        return self.id_key.digest()

    @property
    def author_key_digest(self) -> Optional[bytes]:
        """SHA-384 of AUTHOR_KEY, or None without an author key."""
        return self.author_key.digest() if self.author_key else None

    def verify(self, id_block: IdBlock, *, author_key_enabled: bool = True) -> None:
        """Check the signatures as LAUNCH_FINISH does; raise :class:`SignatureError` naming the failure."""
        require_type("id_block", id_block, IdBlock, error=BlobError)
        if not self.id_block_sig.verify(self.id_key, id_block.to_bytes()):
            raise SignatureError("ID_BLOCK_SIG: the ID block signature does not verify with ID_KEY")
        if author_key_enabled:
            if self.author_key is None or self.id_key_sig is None:
                raise SignatureError("ID_KEY_SIG: author-key-enabled is on but the ID auth carries no author key")
            if not self.id_key_sig.verify(self.author_key, self.id_key.to_bytes()):
                raise SignatureError("ID_KEY_SIG: the ID key signature does not verify with AUTHOR_KEY")


def sign_id_block(
    ld: bytes,
    id_key: KeySource,
    author_key: Optional[KeySource] = None,
    *,
    family_id: Union[str, bytes, uuid.UUID, None] = None,
    image_id: Union[str, bytes, uuid.UUID, None] = None,
    guest_svn: int = 0,
    policy: Union[int, str, GuestPolicy] = DEFAULT_POLICY,
    version: int = 1,
    id_key_password: Optional[bytes] = None,
    author_key_password: Optional[bytes] = None,
) -> Tuple[IdBlock, IdAuth]:
    """Build and sign an ID block for launch digest ``ld``.

    Keys: PEM/DER path or bytes (encrypted PEM with a password), a ``cryptography`` P-384 private key,
    or an :class:`~snpmeasure.blobs.ExternalSigner`. Without ``author_key`` the author fields stay zero and QEMU's
    ``author-key-enabled`` must be off.
    """
    pol = GuestPolicy.parse(policy).to_int()
    block = IdBlock(
        _blob_bytes("ld", ld, 48),
        parse_id("family_id", family_id),
        parse_id("image_id", image_id),
        version,
        guest_svn,
        pol,
    )
    idk = load_private_key(id_key, password=id_key_password, field_name="id_key")
    id_pub = _public_of(idk, "id_key")
    block_sig = sign_message(idk, block.to_bytes(), "id_key")
    if author_key is None:
        return block, IdAuth(block_sig, id_pub)
    ak = load_private_key(author_key, password=author_key_password, field_name="author_key")
    author_pub = _public_of(ak, "author_key")
    key_sig = sign_message(ak, id_pub.to_bytes(), "author_key")
    return block, IdAuth(block_sig, id_pub, key_sig, author_pub)


# ---- host data and guest-visible workarounds (QEMU's exact-length rules) -------------------------


#: glib's mime_base64_rank: the standard alphabet; "=" is a zero digit that suppresses output.
_B64_RANK = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
_B64_RANK["="] = 0


def decode_b64(prop: str, text: str) -> bytes:
    """Decode base64 as QEMU's qbase64_decode does: only ``A-Za-z0-9+/=`` and newlines are allowed
    ("Base64 data contains invalid characters"), then glib's g_base64_decode: newlines are
    skipped, each group of four characters gives its first byte, its second unless the third
    character is ``=`` and its third unless the fourth is ``=`` (``=`` counts as a zero digit),
    and an incomplete group at the end gives nothing. So 32 bytes written without their padding
    are 30 bytes to QEMU, which its length rule then refuses."""
    if not isinstance(text, str):
        raise BlobError(prop, f"must be base64 text, got {type(text).__name__}")
    if "\0" in text:
        raise BlobError(prop, "Base64 data contains embedded NUL characters")
    if not re.fullmatch(r"[A-Za-z0-9+/=\n]*", text):
        raise BlobError(prop, "Base64 data contains invalid characters")
    out = bytearray()
    value = count = 0
    third = fourth = ""
    for c in text:
        if c == "\n":
            continue
        third, fourth = fourth, c
        value = ((value << 6) | _B64_RANK[c]) & 0xFFFFFF
        count += 1
        if count == 4:
            out.append(value >> 16)
            if third != "=":
                out.append((value >> 8) & 0xFF)
            if fourth != "=":
                out.append(value & 0xFF)
            count = 0
    return bytes(out)


def _exact(prop: str, raw: bytes, size: int, qemu_message: str) -> bytes:
    if len(raw) != size:
        # QEMU's words first (what a user searching for them finds), then the rule in full: QEMU
        # says "exceeds max" for a short guest-visible-workarounds too.
        raise BlobError(prop, f"{qemu_message.format(len=len(raw), size=size)} (it must be exactly {size} bytes)")
    return raw


# QEMU target/i386/sev.c setter messages, verbatim.
QEMU_LENGTH_RULES = {
    "guest-visible-workarounds": (GOSVW_SIZE, "parameter length of {len} exceeds max of {size}"),
    "id-block": (ID_BLOCK_SIZE, "parameter length of {len} not equal to {size}"),
    "host-data": (HOST_DATA_SIZE, "parameter length of {len} not equal to {size}"),
}


def _check_blob_prop(prop: object) -> None:
    if not isinstance(prop, str) or (prop not in QEMU_LENGTH_RULES and prop != "id-auth"):
        raise BlobError(
            str(prop), f"is not a blob property of sev-snp-guest ({', '.join([*QEMU_LENGTH_RULES, 'id-auth'])})"
        )


def check_qemu_length(prop: str, raw: bytes) -> bytes:
    """Apply QEMU's length rule for a base64 property (id-auth: at most 4096 bytes)."""
    _check_blob_prop(prop)
    raw = _blob_bytes(prop, raw)
    if prop == "id-auth":
        if len(raw) > ID_AUTH_SIZE:
            raise BlobError(
                prop,
                f"parameter length:ID_AUTH {len(raw)} exceeds max of {ID_AUTH_SIZE} (it must be at most 4096 bytes)",
            )
        return raw
    size, message = QEMU_LENGTH_RULES[prop]
    return _exact(prop, raw, size, message)


def parse_blob(prop: str, value: Union[str, bytes]) -> bytes:
    """A host-data / guest-visible-workarounds / id-block / id-auth value from base64, ``hex:…``
    (or 0x…) or ``@FILE``, with QEMU's length rule applied."""
    _check_blob_prop(prop)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    elif not isinstance(value, str):
        raise BlobError(prop, f"must be base64, hex:..., @FILE text or bytes, got {type(value).__name__}")
    elif value.startswith("@"):
        from ._files import read_input

        raw = read_input(prop, value[1:], ID_AUTH_SIZE + 1)  # nothing longer is valid: never read a huge file
        if len(raw) > ID_AUTH_SIZE:
            limit = QEMU_LENGTH_RULES[prop][0] if prop in QEMU_LENGTH_RULES else ID_AUTH_SIZE
            exact = "exactly" if prop in QEMU_LENGTH_RULES else "at most"
            raise BlobError(
                prop, f"{value[1:]} is larger than {ID_AUTH_SIZE} bytes; the value must be {exact} {limit} bytes"
            )
    elif re.fullmatch(r"0[xX][0-9a-fA-F]*", value) and len(value) % 2:
        raise BlobError(prop, f"hex value has an odd number of digits ({len(value) - 2})")
    elif value.lower().startswith("hex:") or re.fullmatch(r"0[xX](?:[0-9a-fA-F]{2})*", value):
        # "0x" and an even run of hex digits; other text that starts with "0x" is base64 (which may)
        text = value.split(":", 1)[1] if value.lower().startswith("hex:") else value[2:]
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise BlobError(prop, "hex value contains a non-hex character") from None
    else:
        raw = decode_b64(prop, value)
    return check_qemu_length(prop, raw)


__all__ = [
    "AmdPublicKey",
    "AmdSignature",
    "ExternalSigner",
    "IdBlock",
    "IdAuth",
    "sign_id_block",
    "load_private_key",
    "parse_blob",
    "decode_b64",
    "check_qemu_length",
    "parse_id",
]
