"""snpmeasure.blobs: ID blocks, ID auth, AMD key and signature encodings, signing (keys and external signers), QEMU's length rules."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import Error, blobs
from snpmeasure.blobs import AmdPublicKey, AmdSignature, ExternalSigner, IdAuth, IdBlock, sign_id_block
from snpmeasure.errors import BlobError, SignatureError

from .builders.keys import KEYS, VECTOR

LD = base64.b64decode(VECTOR["launch_digest_b64"])


def _key_pem(tmp: Path, password: bytes | None = None) -> Path:
    key = ec.generate_private_key(ec.SECP384R1())
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path = tmp / "k.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc))
    return path


_KEY = ec.generate_private_key(ec.SECP384R1())


def test_external_signer_rejects_a_malformed_amd_key() -> None:
    with pytest.raises(Error, match="public_key"):
        blobs.ExternalSigner(bytes(10), print)  # type: ignore[arg-type]


def test_vector_id_block_and_key_digests() -> None:
    block, auth = sign_id_block(LD, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem", policy=VECTOR["policy"])
    assert block.base64() == VECTOR["expected_id_block_b64"]
    assert base64.b64encode(auth.id_key_digest).decode() == VECTOR["expected_id_key_digest_b64"]
    assert base64.b64encode(auth.author_key_digest or b"").decode() == VECTOR["expected_author_key_digest_b64"]
    auth.verify(block)  # the randomized signatures are checked by verification
    assert len(auth.to_bytes()) == 4096 and auth.to_bytes()[:8] == bytes([1, 0, 0, 0, 1, 0, 0, 0])


def test_without_author_key() -> None:
    block, auth = sign_id_block(
        LD, KEYS / "id_key_test.pem", family_id="00112233-4455-6677-8899-aabbccddeeff", guest_svn=7
    )
    raw = auth.to_bytes()
    assert raw[4:8] == bytes(4) and not any(raw[0x680:])
    assert auth.author_key_digest is None
    auth.verify(block, author_key_enabled=False)
    with pytest.raises(SignatureError, match="no author key"):
        auth.verify(block, author_key_enabled=True)
    assert IdAuth.from_bytes(raw) == auth
    assert block.family_id == bytes.fromhex("00112233445566778899aabbccddeeff") and block.guest_svn == 7


def test_encrypted_pem_and_der(tmp_path: Path) -> None:
    path = _key_pem(tmp_path, b"s3cret")
    block, auth = sign_id_block(LD, path, id_key_password=b"s3cret")
    auth.verify(block, author_key_enabled=False)
    with pytest.raises(BlobError) as exc:
        sign_id_block(LD, path)
    assert "encrypted" in str(exc.value) and "s3cret" not in str(exc.value)
    der = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    block, auth = sign_id_block(LD, der)
    auth.verify(block, author_key_enabled=False)


def test_wrong_key_types_rejected_by_name(tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(BlobError, match="P-384"):
        sign_id_block(LD, p256)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(BlobError, match="P-384"):
        sign_id_block(LD, rsa_key)  # type: ignore[arg-type]
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(BlobError, match="not a PEM or DER"):
        sign_id_block(LD, bad)


def test_external_signer() -> None:
    hsm_key = ec.generate_private_key(ec.SECP384R1())
    calls = []

    def sign(message: bytes) -> bytes:
        calls.append(message)
        return hsm_key.sign(message, ec.ECDSA(hashes.SHA384()))

    signer = ExternalSigner(AmdPublicKey.from_cryptography(hsm_key.public_key()), sign)
    block, auth = sign_id_block(LD, signer, signer)
    auth.verify(block)
    assert calls[0] == block.to_bytes() and calls[1] == auth.id_key.to_bytes()

    def raw_sign(message: bytes) -> bytes:  # raw R||S, big-endian
        sig = AmdSignature.from_der(hsm_key.sign(message, ec.ECDSA(hashes.SHA384())))
        return sig.r.to_bytes(48, "big") + sig.s.to_bytes(48, "big")

    block, auth = sign_id_block(LD, ExternalSigner(signer.public_key, raw_sign))
    auth.verify(block, author_key_enabled=False)
    with pytest.raises(SignatureError, match="does not verify"):
        sign_id_block(LD, ExternalSigner(signer.public_key, lambda m: bytes(96)))
    # the public key may also be given as a cryptography key or as AMD's 0x404-byte structure
    for public in (hsm_key.public_key(), signer.public_key.to_bytes()):
        block, auth = sign_id_block(LD, ExternalSigner(public, sign))  # type: ignore[arg-type]
        auth.verify(block, author_key_enabled=False)
    with pytest.raises(BlobError, match="public_key: must be an AmdPublicKey"):
        ExternalSigner("id_key.pub", sign)  # type: ignore[arg-type]
    with pytest.raises(BlobError, match="P-384"):
        ExternalSigner(ec.generate_private_key(ec.SECP256R1()).public_key(), sign)  # type: ignore[arg-type]
    with pytest.raises(BlobError, match="sign: must be a function"):
        ExternalSigner(signer.public_key, b"not callable")  # type: ignore[arg-type]


@given(
    ld=st.binary(min_size=48, max_size=48),
    fam=st.binary(min_size=16, max_size=16),
    img=st.binary(min_size=16, max_size=16),
    ver=st.integers(0, 2**32 - 1),
    svn=st.integers(0, 2**32 - 1),
    pol=st.integers(0, 2**64 - 1),
)
def test_id_block_round_trip(ld: bytes, fam: bytes, img: bytes, ver: int, svn: int, pol: int) -> None:
    b = IdBlock(ld, fam, img, ver, svn, pol)
    assert len(b.to_bytes()) == 96
    assert IdBlock.from_bytes(b.to_bytes()) == b == IdBlock.from_base64(b.base64())


@settings(max_examples=20)
@given(with_author=st.booleans(), r=st.integers(1, 2**384 - 1), s=st.integers(1, 2**384 - 1))
def test_id_auth_round_trip(with_author: bool, r: int, s: int) -> None:
    pub = AmdPublicKey.from_cryptography(_KEY.public_key())
    sig = AmdSignature(r, s)
    auth = IdAuth(sig, pub, sig if with_author else None, pub if with_author else None)
    assert IdAuth.from_bytes(auth.to_bytes()) == auth
    assert AmdSignature.from_der(sig.to_der()) == sig


def test_strict_id_auth_parsing() -> None:
    _, auth = sign_id_block(LD, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem")
    good = bytearray(auth.to_bytes())

    def bad(mutate: Any, fragment: str) -> None:
        raw = bytearray(good)
        mutate(raw)
        with pytest.raises(BlobError) as exc:
            IdAuth.from_bytes(bytes(raw))
        assert fragment in str(exc.value)

    bad(lambda r: r.__setitem__(0, 2), "ID_KEY_ALGO")
    bad(lambda r: r.__setitem__(4, 3), "AUTH_KEY_ALGO")
    bad(lambda r: r.__setitem__(0x10, 1), "reserved 0x008")
    bad(lambda r: r.__setitem__(0x650, 1), "reserved 0x644")
    bad(lambda r: r.__setitem__(0xFFF, 1), "reserved 0xc84")
    bad(lambda r: r.__setitem__(0x240, 3), "curve is 3")
    bad(lambda r: r.__setitem__(0x240 + 0x100, 1), "reserved bytes 0x094")
    bad(lambda r: r.__setitem__(0x040 + 0x100, 1), "reserved bytes 0x090")
    bad(lambda r: r.__setitem__(0x250, r[0x250] ^ 1), "not a point on P-384")
    with pytest.raises(BlobError, match="4096"):
        IdAuth.from_bytes(bytes(good[:4000]))
    with pytest.raises(BlobError, match="96"):
        IdBlock.from_bytes(bytes(95))


def test_key_digest_is_sha384_of_structure() -> None:
    import hashlib

    pub = AmdPublicKey.from_cryptography(_KEY.public_key())
    raw = pub.to_bytes()
    assert len(raw) == 0x404 and raw[:4] == b"\x02\x00\x00\x00"
    assert pub.digest() == hashlib.sha384(raw).digest()
    assert raw[4 : 4 + 72] == pub.qx.to_bytes(72, "little")


@given(n=st.integers(0, 5000), prop=st.sampled_from(["host-data", "guest-visible-workarounds", "id-block", "id-auth"]))
def test_qemu_length_rules_and_messages(n: int, prop: str) -> None:
    text = base64.b64encode(bytes(n)).decode()
    want = {"host-data": 32, "guest-visible-workarounds": 16, "id-block": 96}.get(prop)
    ok = (n == want) if want is not None else n <= 4096
    if ok:
        assert blobs.parse_blob(prop, text) == bytes(n)
        return
    with pytest.raises(BlobError) as exc:
        blobs.parse_blob(prop, text)
    msg = {
        # QEMU's words (target/i386/sev.c), then the rule in full
        "host-data": f"parameter length of {n} not equal to 32 (it must be exactly 32 bytes)",
        "id-block": f"parameter length of {n} not equal to 96 (it must be exactly 96 bytes)",
        "guest-visible-workarounds": f"parameter length of {n} exceeds max of 16 (it must be exactly 16 bytes)",
        "id-auth": f"parameter length:ID_AUTH {n} exceeds max of 4096 (it must be at most 4096 bytes)",
    }[prop]
    assert str(exc.value) == f"{prop}: {msg}"


def test_blob_forms(tmp_path: Path) -> None:
    f = tmp_path / "hd"
    f.write_bytes(b"\x01" * 32)
    assert blobs.parse_blob("host-data", "@" + str(f)) == b"\x01" * 32
    big = tmp_path / "big"
    big.write_bytes(bytes(5000))
    with pytest.raises(BlobError, match=f"host-data: {big} is larger than 4096 bytes; the value must be exactly 32"):
        blobs.parse_blob("host-data", "@" + str(big))
    with pytest.raises(BlobError, match="id-auth: .* is larger than 4096 bytes; the value must be at most 4096"):
        blobs.parse_blob("id-auth", "@" + str(big))
    assert blobs.parse_blob("host-data", "hex:" + "01" * 32) == b"\x01" * 32
    with pytest.raises(BlobError, match="Base64 data contains invalid characters"):
        blobs.parse_blob("host-data", "not base64!")
    # glib skips newlines, but an incomplete group at the end gives nothing: 32 bytes without their
    # padding are 30 to QEMU, which its length rule refuses
    text = base64.b64encode(b"\x02" * 32).decode()
    assert blobs.parse_blob("host-data", text[:20] + "\n" + text[20:]) == b"\x02" * 32
    with pytest.raises(BlobError, match="parameter length of 30 not equal to 32"):
        blobs.parse_blob("host-data", text.rstrip("="))
    with pytest.raises(BlobError, match="non-hex"):
        blobs.parse_blob("host-data", "hex:zz")


def _glib() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("glib-2.0")
    if name is None:
        pytest.skip("libglib-2.0 (QEMU's base64 decoder) is not installed")
    lib = ctypes.CDLL(name)
    lib.g_base64_decode.restype = ctypes.c_void_p
    lib.g_base64_decode.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]
    lib.g_free.argtypes = [ctypes.c_void_p]
    return lib


@given(st.text(alphabet="AB+/=\n9z", max_size=24))
def test_base64_decodes_as_glib_decodes_for_qemu(text: str) -> None:
    """decode_b64 against the g_base64_decode QEMU's qbase64_decode calls (the text here is only
    characters qbase64_decode lets through)."""
    import ctypes

    lib = _glib()
    size = ctypes.c_size_t()
    ptr = lib.g_base64_decode(text.encode(), ctypes.byref(size))
    try:
        want = ctypes.string_at(ptr, size.value)
    finally:
        lib.g_free(ptr)
    assert blobs.decode_b64("host-data", text) == want


def test_base64_that_begins_with_0x_is_base64() -> None:
    raw = bytes([0xD3, 0x10]) + bytes(range(30))
    text = base64.b64encode(raw).decode()
    assert text.startswith("0x") and blobs.parse_blob("host-data", text) == raw
    assert blobs.parse_blob("host-data", "0x" + raw.hex()) == raw
    with pytest.raises(BlobError, match="parameter length of 1 not equal to 32"):
        blobs.parse_blob("host-data", "0x01")
    with pytest.raises(BlobError, match="hex value has an odd number of digits"):
        blobs.parse_blob("host-data", "0x" + "1" * 63)
