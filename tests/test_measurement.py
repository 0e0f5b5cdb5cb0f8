"""snpmeasure.measurement: known-answer vectors, must-fail vectors, SEV/SEV-ES digests and HMACs, manifests instead of binaries, hashes instead of files, vCPU sweeps."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import measure
from snpmeasure.errors import Error, InvalidInputError
from snpmeasure.images import FirmwareManifest
from snpmeasure.measurement import parse_vcpu_counts, sev_launch_measurement, sweep

from .builders.manifests import PEER, A, X
from .builders.measure_cases import EMPTY, VECTORS
from .support import FIXTURES, run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


MANIFESTS = {p: FirmwareManifest.from_image(p) for p in [A, X]}


def vector_kwargs(v: Dict[str, Any]) -> Dict[str, Any]:
    kw: Dict[str, Any] = dict(mode=v["mode"], ovmf=PEER / v["firmware"])
    if v["mode"] not in ("sev", "snp:ovmf-hash"):
        kw.update(vcpus=v.get("vcpus"), vcpu_type=v.get("vcpu_type"))
    vmm = v.get("vmm", "QEMU")
    if vmm.startswith("ec2"):
        kw["profile"] = "ec2-legacy"  # the vectors' note: "older model: VMSA rdx = 0"
    for name in ("kernel", "initrd"):
        if v.get(name) == "empty":
            kw[name] = EMPTY
    if v.get("append") is not None:
        kw["append"] = v["append"]
    if "guest_features" in v:
        kw["guest_features"] = int(v["guest_features"], 16)
    if v.get("snp_ovmf_hash"):
        kw["snp_ovmf_hash"] = v["snp_ovmf_hash"]
    return kw


def test_hashes_instead_of_files(tmp_path: Path) -> None:
    k, i = tmp_path / "k", tmp_path / "i"
    k.write_bytes(b"kernel" * 1000)
    i.write_bytes(b"initrd" * 999)
    base = dict(mode="snp", ovmf=A, vcpus=1, vcpu_type="EPYC-v4")
    files = measure(**base, kernel=k, initrd=i, append="ro quiet")
    hashed = measure(
        **base,
        kernel_hash=hashlib.sha256(k.read_bytes()).hexdigest(),
        initrd_hash=hashlib.sha256(i.read_bytes()).hexdigest(),
        append_hash=hashlib.sha256(b"ro quiet\0").hexdigest(),
    )
    assert files.digest == hashed.digest
    for bad, frag in (("12", "64 hex digits"), ("zz" * 32, "non-hex")):
        rc, _, err = run_ours(
            ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel-hash", bad]
        )
        assert rc == 2 and frag in err
    with pytest.raises(InvalidInputError, match="not both"):
        measure(**base, kernel=k, kernel_hash="00" * 32)


@pytest.mark.parametrize(
    "spec,want", [("1-4", [1, 2, 3, 4]), ("8,1,2", [1, 2, 8]), ("1-3,2,16", [1, 2, 3, 16]), ("5", [5])]
)
def test_vcpu_specs(spec: str, want: List[int]) -> None:
    assert parse_vcpu_counts(spec) == want


@pytest.mark.parametrize("spec", ["", "4-1", "a", "0", "1-5000"])
def test_bad_vcpu_specs(spec: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_vcpu_counts(spec)


@settings(max_examples=15)
@given(counts=st.lists(st.integers(1, 40), min_size=1, max_size=6), profile=st.sampled_from(["qemu", "ec2", "gce"]))
def test_sweep_equals_separate_measurements(counts: List[int], profile: str) -> None:
    kw: Dict[str, Any] = dict(mode="snp", ovmf=A, vcpu_type="EPYC-Rome", profile=profile, kernel=__file__)
    got = sweep(vcpus=counts, **kw)
    assert list(got) == sorted(set(counts))
    for n, digest in got.items():
        assert measure(vcpus=n, **kw).digest == digest


@settings(max_examples=25)
@given(
    image=st.sampled_from([A, X]),
    profile=st.sampled_from(["qemu", "qemu-legacy", "ec2", "ec2-legacy", "gce", "gce-genoa"]),
    vcpus=st.integers(1, 64),
    cpu=st.sampled_from(["EPYC-v4", "EPYC-Milan", "EPYC-Genoa", "EPYC-Turin"]),
    features=st.sampled_from([None, 0x1, 0x21, 0x221]),
    kernel=st.booleans(),
)
def test_manifest_equals_binary_hypothesis(
    image: str, profile: str, vcpus: int, cpu: str, features: Any, kernel: bool
) -> None:
    kw: Dict[str, Any] = dict(mode="snp", vcpus=vcpus, vcpu_type=cpu, profile=profile, guest_features=features)
    if kernel and image == A:
        kw.update(kernel_hash="11" * 32, append="quiet")
    assert measure(manifest=MANIFESTS[image], **kw).digest == measure(ovmf=image, **kw).digest


@pytest.mark.parametrize("vector", VECTORS["launch_digests"], ids=lambda v: v["name"])
def test_known_answer_vectors(vector: Dict[str, Any]) -> None:
    assert measure(**vector_kwargs(vector)).hex() == vector["expected"]


@pytest.mark.parametrize("vector", VECTORS["must_fail"], ids=lambda v: v["name"])
def test_must_fail_vectors(vector: Dict[str, Any]) -> None:
    with pytest.raises(Error) as exc:
        measure(**vector_kwargs(vector))
    assert "hash" in str(exc.value).lower()


@pytest.mark.parametrize("vector", VECTORS["sev_launch_measure_hmac"], ids=lambda v: v["name"])
def test_sev_launch_measure_hmac(vector: Dict[str, Any]) -> None:
    kwargs = dict(
        tik=bytes.fromhex(vector["tik"]),
        mnonce=bytes.fromhex(vector["mnonce"]),
        api_major=int(vector["api_major"], 16),
        api_minor=int(vector["api_minor"], 16),
        build=int(vector["build"], 16),
        policy=int(vector["policy"], 16),
    )
    digest = bytes.fromhex(vector["launch_digest"])
    got = sev_launch_measurement(digest, **kwargs)
    assert got.hex() == vector["expected"]
    es = int(vector["policy"], 16) & 0x4
    assert sev_launch_measurement(digest, **kwargs, mode="seves" if es else "sev") == got
    with pytest.raises(InvalidInputError) as exc:  # the other mode's digest is no launch of this policy
        sev_launch_measurement(digest, **kwargs, mode="sev" if es else "seves")
    assert exc.value.field == "policy" and "ES (bit 2)" in exc.value.rule


def test_the_launch_measure_blob_is_hmac_then_mnonce() -> None:
    from snpmeasure.measurement import split_launch_measure_blob

    assert split_launch_measure_blob(bytes(range(48))) == (bytes(range(32)), bytes(range(32, 48)))
    with pytest.raises(InvalidInputError, match="must be 48 bytes"):
        split_launch_measure_blob(bytes(47))


def test_seves_explicit_guest_features_are_honoured() -> None:
    """A documented difference: sev-snp-measure ignores --guest-features in seves mode (uses 0)."""
    base = dict(mode="seves", ovmf=A, vcpus=2, vcpu_type="EPYC-v4")
    assert measure(**base).digest == measure(**base, guest_features=0).digest
    assert measure(**base, guest_features=0x20).digest != measure(**base).digest
    assert measure(**base, guest_features=0x20).vmsas[0][0x3B0] == 0x20


def test_measurement_has_hashlibs_hexdigest() -> None:
    m = measure(mode="snp", ovmf=str(FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin"), vcpus=1, vcpu_type="EPYC-v4")
    assert m.hexdigest() == m.hex() == m.digest.hex()


def test_cpu_inputs_that_contradict_are_refused_naming_both() -> None:
    kw: Dict[str, Any] = dict(mode="snp", ovmf=A, vcpus=1)
    with pytest.raises(InvalidInputError, match=r"^vcpu_type: is EPYC \(signature 0x800f12\), but vcpu_sig gives"):
        measure(**kw, vcpu_type="EPYC", vcpu_sig=0xA00F11)
    with pytest.raises(InvalidInputError, match=r"^vcpu_sig: is 0x7, but vcpu_family/vcpu_model/vcpu_stepping gives"):
        measure(**kw, vcpu_sig=7, vcpu_family=25, vcpu_model=1, vcpu_stepping=1)
    same = measure(**kw, vcpu_type="EPYC-Milan", vcpu_sig=0xA00F11, vcpu_family=25, vcpu_model=1, vcpu_stepping=1)
    assert same == measure(**kw, vcpu_type="EPYC-Milan")


def test_measurements_compare_by_value_and_take_buffers() -> None:
    """#17 item 7: Measurement compares by value; the firmware may be bytes or any buffer."""
    import mmap

    data = Path(A).read_bytes()
    by_path = measure(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC")
    for buf in (data, bytearray(data), memoryview(data)):
        m = measure(mode="snp", ovmf=buf, vcpus=2, vcpu_type="EPYC")
        assert m.digest == by_path.digest and m == measure(mode="snp", ovmf=buf, vcpus=2, vcpu_type="EPYC")
    with open(A, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert measure(mode="snp", ovmf=mm, vcpus=2, vcpu_type="EPYC").digest == by_path.digest
    assert by_path != measure(mode="snp", ovmf=A, vcpus=3, vcpu_type="EPYC") and by_path != by_path.digest
    assert by_path.digest_size == 48 and by_path.hexdigest() == by_path.hex() == by_path.digest.hex()
