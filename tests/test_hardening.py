"""Hostile input: every parser lets only snpmeasure.Error subclasses escape, naming the field;
the CLI answers with exit 2 and one line; resources stay bounded; secrets stay out of output."""

from __future__ import annotations

import base64
import json
import os
import random
import resource
import warnings
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import blobs, measure
from snpmeasure.blobs import IdAuth, IdBlock, sign_id_block
from snpmeasure.errors import Error, InvalidInputError
from snpmeasure.images import FirmwareImage, FirmwareManifest
from snpmeasure.policy import GuestPolicy
from snpmeasure.profiles import LaunchProfile
from snpmeasure.qemu import SevSnpGuest
from snpmeasure.report import AttestationReport

from .builders import reports as tr
from .builders.ovmf import build_image
from .support import FIXTURES, run_ours

pytestmark = [pytest.mark.sanitize]

A = FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin"
KEYS = FIXTURES / "keys"
REPORT = (FIXTURES / "attestation" / "attestation.bin").read_bytes()
LD = bytes(range(48))
BLOCK, AUTH = sign_id_block(LD, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem")
GOOD_OBJECT = SevSnpGuest(
    id="sev0",
    id_block=BLOCK.base64(),
    id_auth=AUTH.base64(),
    author_key_enabled=True,
    host_data=base64.b64encode(bytes(32)).decode(),
    reduced_phys_bits=1,
    cbitpos=51,
)
MANIFEST = FirmwareManifest.from_image(A).to_json()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def only_errors(fn: Callable[[], Any]) -> None:
    """Run fn; it may succeed or raise a snpmeasure.Error whose message names a field."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except InvalidInputError as exc:
        assert exc.field and str(exc).startswith(exc.field)
    except Error:
        pass


def mutate(data: bytes, rnd: random.Random, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        op = rnd.randrange(3)
        pos = rnd.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            out[pos:pos] = bytes([rnd.randrange(256)])
        elif out:
            del out[min(pos, len(out) - 1)]
    return bytes(out)


seeds = st.integers(0, 2**32).map(random.Random)


@given(st.text(max_size=60))
def test_policy_strings(text: str) -> None:
    only_errors(lambda: GuestPolicy.parse(text))


@given(
    prop=st.sampled_from(["host-data", "guest-visible-workarounds", "id-block", "id-auth"]), text=st.text(max_size=200)
)
def test_blob_strings(prop: str, text: str) -> None:
    only_errors(lambda: blobs.parse_blob(prop, text))


@given(rnd=seeds, n=st.integers(1, 6))
def test_id_block_and_auth_bytes(rnd: random.Random, n: int) -> None:
    only_errors(lambda: IdBlock.from_bytes(mutate(BLOCK.to_bytes(), rnd, n)))
    only_errors(lambda: IdAuth.from_bytes(mutate(AUTH.to_bytes(), rnd, n)).verify(BLOCK))
    only_errors(lambda: IdAuth.from_bytes(rnd.randbytes(4096)))


@given(rnd=seeds, n=st.integers(1, 8))
def test_qemu_object_strings(rnd: random.Random, n: int) -> None:
    text = GOOD_OBJECT.to_cli().encode()
    only_errors(lambda: SevSnpGuest.from_cli(mutate(text, rnd, n).decode("latin-1")))


@given(st.text(max_size=120))
def test_qemu_object_random_text(text: str) -> None:
    only_errors(lambda: SevSnpGuest.from_cli("sev-snp-guest," + text))


@given(doc=json_values)
def test_qmp_json(doc: Any) -> None:
    only_errors(lambda: SevSnpGuest.from_qmp(doc))
    only_errors(
        lambda: SevSnpGuest.from_qmp(
            {"execute": "object-add", "arguments": {"qom-type": "sev-snp-guest", "id": "a", "x": doc}}
        )
    )


@given(rnd=seeds, n=st.integers(1, 8))
def test_libvirt_xml(rnd: random.Random, n: int) -> None:
    text = GOOD_OBJECT.to_libvirt().encode()
    only_errors(lambda: SevSnpGuest.from_libvirt(mutate(text, rnd, n).decode("latin-1")))


def test_libvirt_entity_tricks_are_refused() -> None:
    for doc in [
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><launchSecurity type="sev-snp"><policy>&e;</policy></launchSecurity>',
        '<launchSecurity type="sev-snp"><policy>&lt;</policy></launchSecurity>',
        '<launchSecurity type="sev-snp"><policy>&undefined;</policy></launchSecurity>',
    ]:
        with pytest.raises(Error):
            SevSnpGuest.from_libvirt(doc)


@given(rnd=seeds, n=st.integers(1, 10), cut=st.integers(0, 1200))
def test_attestation_reports(rnd: random.Random, n: int, cut: int) -> None:
    data = mutate(REPORT, rnd, n)
    only_errors(lambda: AttestationReport.from_bytes(data).to_json())
    only_errors(lambda: AttestationReport.from_bytes(REPORT[:cut]))
    only_errors(
        lambda: AttestationReport.from_bytes(data).verify(FIXTURES / "attestation" / "vcek.testcer", now=tr.WHILE_VALID)
    )


def _forged_milan_crl() -> bytes:
    """A DER CRL naming AMD's Milan ARK as issuer, signed by a throwaway key, revoking serial 2."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    from snpmeasure.certs import load_certs

    ark = load_certs(FIXTURES / "attestation" / "ask_ark_milan.pem", "ask_ark")[1]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    day = datetime.datetime(2025, 1, 1)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ark.subject)
        .last_update(day)
        .next_update(day + datetime.timedelta(days=3650))
        .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(2).revocation_date(day).build())
        .sign(key, hashes.SHA384(), rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48))
    )
    return crl.public_bytes(Encoding.DER)


CRL = _forged_milan_crl()


@given(rnd=seeds, n=st.integers(1, 10), cut=st.integers(0, 600))
def test_crls(rnd: random.Random, n: int, cut: int) -> None:
    vcek = FIXTURES / "attestation" / "vcek.testcer"
    for data in (mutate(CRL, rnd, n), CRL[:cut]):
        only_errors(lambda: AttestationReport.from_bytes(REPORT).verify(vcek, crl=data, now=tr.WHILE_VALID))  # noqa: B023


def _der_len(n: int) -> bytes:
    return (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )


def _der_children(der: bytes) -> list:
    """The encoded elements inside a DER SEQUENCE (enough DER for a CRL's three parts)."""

    def length(pos: int) -> tuple:
        first = der[pos]
        if first < 0x80:
            return first, pos + 1
        k = first & 0x7F
        return int.from_bytes(der[pos + 1 : pos + 1 + k], "big"), pos + 1 + k

    _, pos = length(1)
    out = []
    while pos < len(der):
        n, body = length(pos + 1)
        out.append(der[pos : body + n])
        pos = body + n
    return out


@settings(max_examples=60)
@given(rnd=seeds, n=st.integers(1, 6))
def test_crls_signed_by_the_trusted_ark(rnd: random.Random, n: int) -> None:
    """Mutations of a CRL's signed part, re-signed by a trusted ARK: they pass the signature check
    and reach every later rule; still only snpmeasure.Error may escape."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import Encoding

    tbs, alg, _ = _der_children(tr.make_crl(revoked=(7, 9)).public_bytes(Encoding.DER))
    body = mutate(tbs, rnd, n)
    sig = tr.ARK_KEY.sign(body, padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48), hashes.SHA384())
    inner = body + alg + b"\x03" + _der_len(len(sig) + 1) + b"\x00" + sig
    only_errors(lambda: tr.verify_with_crl(b"\x30" + _der_len(len(inner)) + inner))


@given(
    path=st.lists(
        st.sampled_from(
            [
                "schema",
                "schema_version",
                "firmware",
                "size",
                "sha256",
                "ovmf_digest",
                "sections",
                0,
                1,
                "gpa",
                "type",
                "sev_hash_table",
                "sev_es_reset_eip",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=json_values,
)
def test_manifests(path: list, value: Any) -> None:
    doc = json.loads(json.dumps(MANIFEST))
    target: Any = doc
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return
    try:
        target[path[-1]] = value
    except (IndexError, TypeError):
        return
    only_errors(lambda: FirmwareManifest.from_json(doc))


@given(doc=json_values)
def test_profile_documents(doc: Any) -> None:
    only_errors(lambda: LaunchProfile.from_json(doc))
    only_errors(lambda: LaunchProfile.from_json({"base": "qemu", "vmsa": doc}))


@settings(max_examples=20)
@given(rnd=seeds, n=st.integers(1, 4))
def test_measuring_mutated_images_only_raises_errors(
    rnd: random.Random, n: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("img") / "ovmf.fd"
    data = bytearray(A.read_bytes())
    for _ in range(n):
        data[len(data) - 1 - rnd.randrange(512)] ^= 1 << rnd.randrange(8)
    path.write_bytes(bytes(data))
    only_errors(lambda: measure(mode="snp", ovmf=path, vcpus=2, vcpu_type="EPYC-v4", kernel=os.devnull))


@pytest.mark.parametrize(
    "argv",
    [
        ["qemu-object", "--object", "sev-snp-guest,id=a,host-data=@@@"],
        [
            "launch",
            "--qmp",
            str(FIXTURES / "vectors.json"),
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            str(A),
        ],
        ["report", "show", str(A)],
        ["policy", "decode", "smt,,nonsense"],
        [
            "measure",
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--firmware-manifest",
            str(FIXTURES / "vectors.json"),
        ],
        ["id-block", "--measurement-hex", "00" * 48, "--id-key", str(FIXTURES / "vectors.json")],
        ["qemu-object", "--host-data", "@/nonexistent/file"],
    ],
)
def test_cli_hostile_input_exits_2_with_one_line(argv: list) -> None:
    rc, out, err = run_ours(argv)
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- bounded resources --------------------------------------------------------------------------


def test_huge_sections_are_measured_in_bounded_memory(tmp_path: Path) -> None:
    """A firmware whose SNP_SEC_MEM claims almost all of the 4 GiB below it: one C call over ~1M
    ZERO pages, with no buffer proportional to the section."""
    img = build_image(size=0x4000, sections=[(0x1000, 0xFFBFB000, 1)], reset_eip=0x80B004)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(mode="snp", ovmf=FirmwareImage(img, name="huge"), vcpus=1, vcpu_type="EPYC-v4")
    assert len(m.digest) == 48
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def test_section_count_and_walk_are_bounded() -> None:
    with pytest.raises(Error, match="limit"):
        FirmwareImage(build_image(sections=[(0x800000 + 0x1000 * i, 0x1000, 2) for i in range(1100)], size=0x8000))
    # A table of 100 bare 18-byte entries: the walk consumes at least 18 bytes per step and ends.
    im = FirmwareImage(build_image(extra=[(bytes([1, i % 256]) + bytes(14), b"") for i in range(100)], size=0x4000))
    assert len(im.table) == 102


def test_two_gib_sparse_initrd_streams(tmp_path: Path) -> None:
    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.truncate(2 << 30)  # sparse: reads as zeros, no disk used
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(
        mode="snp", ovmf=A, vcpus=1, vcpu_type="EPYC-v4", kernel=os.devnull, initrd=initrd, describe_inputs=True
    )
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024, grown_kib
    assert m.inputs["initrd"]["size"] == 2 << 30


def test_blob_files_are_read_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(Error, match="exceeds max of 4096"):
        blobs.parse_blob("id-auth", "@" + str(big))


# ---- secrets ----------------------------------------------------------------------------------


def test_private_keys_never_reach_output(tmp_path: Path) -> None:
    key_text = (KEYS / "id_key_test.pem").read_text()
    secret_line = key_text.splitlines()[1]
    rc, out, err = run_ours(
        ["id-block", "--measurement-hex", "00" * 48, "--id-key", str(KEYS / "id_key_test.pem"), "--json"]
    )
    assert rc == 0 and secret_line not in out and "PRIVATE" not in out
    broken = tmp_path / "k.pem"
    broken.write_text(key_text.replace(secret_line, secret_line[:-4] + "AAAA"))
    rc, out, err = run_ours(["id-block", "--measurement-hex", "00" * 48, "--id-key", str(broken)])
    assert rc == 2 and secret_line[:20] not in err


def test_non_p384_keys_rejected_by_name(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    for key in (ec.generate_private_key(ec.SECP521R1()), ed25519.Ed25519PrivateKey.generate()):
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path = tmp_path / "k.pem"
        path.write_bytes(pem)
        rc, _, err = run_ours(["id-block", "--measurement-hex", "00" * 48, "--id-key", str(path)])
        assert rc == 2 and "P-384" in err


def test_huge_kernel_hashes_section_is_bounded() -> None:
    """The kernel-hashes section is measured as its table page(s) plus zero pages filled in C."""
    img = build_image(size=0x4000, sections=[(0x1000, 0xF0000000, 0x10)], hash_table=(0x1C00, 0x400))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(mode="snp", ovmf=FirmwareImage(img, name="huge"), vcpus=1, vcpu_type="EPYC-v4", kernel=os.devnull)
    assert len(m.digest) == 48
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


@pytest.mark.parametrize("offset", [0x000, 0xC00, 0xF60])  # 0xF60: the table crosses into the next page
def test_kernel_hashes_section_equals_a_full_buffer(offset: int) -> None:
    from snpmeasure import LaunchDigest
    from snpmeasure.kernel_hashes import KernelHashes

    size = 0x4000
    img = build_image(size=0x4000, sections=[(0x10000, size, 0x10)], hash_table=(0x10000 + offset, 0x400))
    image = FirmwareImage(img, name="k")
    got = measure(mode="snp", ovmf=image, vcpus=1, vcpu_type="EPYC-v4", kernel=os.devnull, append="x")
    hashes = KernelHashes.from_inputs(kernel=os.devnull, append="x")
    assert hashes is not None
    d = LaunchDigest()
    d.update_normal(image.gpa, image.data)
    d.update_normal(0x10000, hashes.section(offset, size))  # QEMU's whole zeroed section with the table
    assert (
        got.trace is None
        and measure(mode="snp", ovmf=image, vcpus=1, vcpu_type="EPYC-v4", kernel=os.devnull, append="x", trace=True)
        .trace[-2]
        .digest
        == d.digest()
    )  # type: ignore[index]


@pytest.mark.parametrize("content", [b"\xff\xfe{", b"[" * 100000, b'{"a": ' * 50000])
def test_hostile_json_files_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    base = ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4"]
    for argv in (
        ["measure", *base, "--ovmf", str(A), "--profile-file", str(bad)],
        ["measure", *base, "--firmware-manifest", str(bad)],
        ["launch", "--qmp", str(bad), *base, "--ovmf", str(A)],
        ["launch", "--libvirt", str(bad), *base, "--ovmf", str(A)],
        ["qemu-object", "--from-id-block", str(bad)],
        ["table", "--firmware-manifest", str(bad), "--vcpu-type", "EPYC-v4"],
    ):
        rc, out, err = run_ours(argv)
        assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_non_utf8_append_hashes_the_argument_bytes() -> None:
    import hashlib

    raw = b"console=\xff\xfe"
    text = os.fsdecode(raw)  # how Python hands such an argv entry to us
    m = measure(mode="snp", ovmf=A, vcpus=1, vcpu_type="EPYC-v4", kernel=os.devnull, append=text)
    want = measure(
        mode="snp",
        ovmf=A,
        vcpus=1,
        vcpu_type="EPYC-v4",
        kernel=os.devnull,
        append_hash=hashlib.sha256(raw + b"\0").hexdigest(),
    )
    assert m.digest == want.digest


def test_kernel_and_initrd_hashes_and_which_error_comes_first(tmp_path: Path) -> None:
    """Both files are hashed at once (the kernel on a thread that moves to another CPU): the
    digests are the files' SHA-256, and a missing kernel is reported before a missing initrd."""
    import hashlib

    from snpmeasure.errors import InvalidInputError
    from snpmeasure.kernel_hashes import KernelHashes

    kernel, initrd = tmp_path / "bzImage", tmp_path / "initrd"
    kernel.write_bytes(os.urandom(3 << 20))
    initrd.write_bytes(os.urandom((5 << 20) + 7))
    before = os.sched_getaffinity(0)
    h = KernelHashes.from_inputs(kernel=kernel, initrd=initrd, append="console=ttyS0")
    assert h is not None and os.sched_getaffinity(0) == before
    assert h.kernel == hashlib.sha256(kernel.read_bytes()).digest()
    assert h.initrd == hashlib.sha256(initrd.read_bytes()).digest()
    for k, i, field in (
        (tmp_path / "no-k", tmp_path / "no-i", "kernel"),
        (kernel, tmp_path / "no-i", "initrd"),
        (tmp_path / "no-k", initrd, "kernel"),
    ):
        with pytest.raises(InvalidInputError) as exc:
            KernelHashes.from_inputs(kernel=k, initrd=i)
        assert exc.value.field == field
