"""Build-system integration: firmware manifests, hashes instead of files, sweeps, tables."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import measure
from snpmeasure.errors import InvalidInputError, ManifestError
from snpmeasure.images import FirmwareManifest
from snpmeasure.measurement import parse_vcpu_counts, sweep
from snpmeasure.tables import rows_from_csv, table

from .support import FIXTURES, debian_ovmf_images, run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]

PEER = FIXTURES / "peer"
A = str(PEER / "ovmf_AmdSev_suffix.bin")
X = str(PEER / "ovmf_OvmfX64_suffix.bin")
IMAGES = [A, X] + [str(p) for p in debian_ovmf_images()]


@pytest.mark.parametrize("image", IMAGES, ids=lambda p: Path(p).name)
def test_manifest_round_trip_and_measure_without_binary(image: str) -> None:
    man = FirmwareManifest.from_image(image)
    doc = json.loads(json.dumps(man.to_json()))
    back = FirmwareManifest.from_json(doc)
    assert back.to_json() == man.to_json()
    assert man.ovmf_digest == measure(mode="snp:ovmf-hash", ovmf=image).digest
    assert man.sha256 == hashlib.sha256(Path(image).read_bytes()).hexdigest()
    for profile in ("qemu", "ec2", "gce"):
        kw: Dict[str, Any] = dict(mode="snp", vcpus=3, vcpu_type="EPYC-Genoa", profile=profile)
        if man.kernel_hashes_supported:
            kw.update(kernel=__file__, append="console=ttyS0")
        assert measure(manifest=back, **kw).digest == measure(ovmf=image, **kw).digest


def test_manifest_cli(tmp_path: Path) -> None:
    rc, out, _ = run_ours(["ovmf-hash", "--ovmf", A])
    assert (
        rc == 0
        and out.strip()
        == "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"
    )
    rc, out, _ = run_ours(["ovmf-hash", "--ovmf", A, "--json"])
    path = tmp_path / "m.json"
    path.write_text(out)
    argv = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--kernel", "/dev/null"]
    assert (
        run_ours(["measure", *argv, "--firmware-manifest", str(path)])[1]
        == run_ours(["measure", *argv, "--ovmf", A])[1]
    )


GOOD = FirmwareManifest.from_image(A).to_json()


def mutated(path: str, value: Any) -> Dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return doc


@pytest.mark.parametrize(
    "path,value,fragment",
    [
        ("schema", "other", "schema"),
        ("schema_version", 2, "newer"),
        ("schema_version", "1", "positive integer"),
        ("schema_version", True, "positive integer"),
        ("kernel_hashes_supported", "yes", "as its sections and sev_hash_table say"),
        ("kernel_hashes_supported", False, "must be true"),
        ("ovmf_digest", "00", "96 hex"),
        ("firmware.sha256", "zz" * 32, "64 hex"),
        ("firmware.size", 100, "multiple of 4096"),
        ("firmware.gpa", "0x1000", "4 GiB - size"),
        ("sections.0.gpa", "0x800800", "4 KiB aligned"),
        ("sections.1.gpa", "0x800000", "overlaps section 0"),
        ("sections.2.gpa", "0xfffff000", "overlaps the firmware image"),
        ("sections.0.size", "0xffffffff", "aligned"),
        ("sections.0.type", "x", "number"),
        ("sev_hash_table.gpa", "0x900000", "outside the SNP_KERNEL_HASHES section"),
        ("sections", KeyError, "missing"),
    ],
)
def test_bad_manifests(path: str, value: Any, fragment: str, tmp_path: Path) -> None:
    doc = mutated(path, value)
    with pytest.raises(ManifestError) as exc:
        FirmwareManifest.from_json(doc)
    assert fragment in str(exc.value)
    p = tmp_path / "m.json"
    p.write_text(json.dumps(doc))
    rc, out, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--firmware-manifest", str(p)]
    )
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_manifest_not_json(tmp_path: Path) -> None:
    p = tmp_path / "m.json"
    p.write_text("{")
    with pytest.raises(ManifestError, match="not valid JSON"):
        FirmwareManifest.load(p)
    with pytest.raises(Exception, match="needs the firmware binary"):
        measure(mode="sev", manifest=FirmwareManifest.from_json(GOOD))


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


def test_sweep_cli_and_svsm() -> None:
    rc, out, _ = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1,3", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--json"]
    )
    doc = json.loads(out)
    assert rc == 0 and set(doc["measurements"]) == {"1", "3"}
    assert doc["measurements"]["3"] == measure(mode="snp", ovmf=A, vcpus=3, vcpu_type="EPYC-v4").hex()
    svsm = dict(
        mode="snp:svsm",
        ovmf=str(PEER / "svsm_ovmf.fd"),
        svsm=str(PEER / "svsm.bin"),
        vars_size=540672,
        vcpu_type="EPYC-v4",
    )
    assert sweep(vcpus="2-3", **svsm)[3] == measure(vcpus=3, **svsm).digest


def test_table_rows_equal_measurements_and_formats(tmp_path: Path) -> None:
    rows = table(
        ovmf=A,
        vcpus="1-3",
        vcpu_types=["EPYC-Milan", "0xa10f10"],
        profiles=["qemu", "gce"],
        guest_features=[None, 0x21],
        kernel=__file__,
    )
    assert len(rows) == 2 * 2 * 2 * 3
    for r in rows:
        cpu = {"vcpu_type": r.vcpu_type} if not r.vcpu_type.startswith("0x") else {"vcpu_sig": int(r.vcpu_type, 16)}
        want = measure(
            mode="snp",
            ovmf=A,
            vcpus=r.vcpus,
            profile=r.profile,
            guest_features=int(r.guest_features, 16),
            kernel=__file__,
            **cpu,
        )
        assert r.measurement == want.hex()
    rc, out, _ = run_ours(
        ["table", "--ovmf", A, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--profile", "qemu,ec2", "--csv"]
    )
    assert rc == 0 and len(rows_from_csv(out)) == 4
    rc, out, _ = run_ours(["table", "--ovmf", A, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--profile", "qemu"])
    doc = json.loads(out)
    assert doc["schema"] == "snpmeasure/reference-values" and len(doc["rows"]) == 2
    rc, _, err = run_ours(["table", "--ovmf", A, "--vcpu-type", "Pentium"])
    assert rc == 2 and "unknown CPU model" in err


MANIFESTS = {p: FirmwareManifest.from_image(p) for p in [A, X]}


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


def test_progress_bar_only_on_a_terminal_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from snpmeasure.cli._args import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    bar = ProgressBar(True)
    bar(1, 4)
    assert err.getvalue() == ""  # within the first second: silent
    bar.t0 -= 2
    bar(2, 4)
    bar.close()
    assert "2/4" in err.getvalue() and err.getvalue().endswith("\n")
    quiet = ProgressBar(False)
    quiet.t0 -= 2
    quiet(3, 4)
    assert "3/4" not in err.getvalue()
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    off = ProgressBar(True)
    off.t0 -= 2
    off(1, 2)
    assert plain.getvalue() == ""
