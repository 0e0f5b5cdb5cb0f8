"""snpmeasure.explanations: hidden launch configurations, measured first, are found from the digest
alone, ranked first when the assumptions are right, and every wrong assumption is named."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import Expectations, InvalidInputError, measure
from snpmeasure._cpus import CPU_SIGS, cpu_sig
from snpmeasure.explanations import DEFAULT_GUEST_FEATURES, DEFAULT_PROFILES, explain
from snpmeasure.igvm_launch import measure_igvm
from snpmeasure.profiles import get_profile
from snpmeasure.report import AttestationReport

from .builders.igvm_files import TINY, build, kvm_vmsa, pd, vp
from .builders.manifests import A
from .builders.reports import make_report
from .support import FIXTURES, run_ours

pytestmark = [pytest.mark.differential]

KERNEL = __file__
INITRD = str(FIXTURES / "README.md")
CPU_NAMES = sorted(CPU_SIGS)


def _hidden(profile: str, vcpus: int, cpu: str, features: int, kernel: Optional[str]) -> Dict[str, Any]:
    """A launch's measure() arguments; ``kernel`` is None (kernel hashes off) or the command line."""
    args: Dict[str, Any] = dict(
        mode="snp", ovmf=A, profile=profile, vcpus=vcpus, vcpu_type=cpu, guest_features=features
    )
    if kernel is not None:
        args.update(kernel=KERNEL, initrd=INITRD, append=kernel)
    return args


hidden = st.fixed_dictionaries(
    {
        "profile": st.sampled_from(DEFAULT_PROFILES),
        "vcpus": st.integers(1, 40),
        "cpu": st.sampled_from(CPU_NAMES),
        "features": st.sampled_from(DEFAULT_GUEST_FEATURES),
        "kernel": st.sampled_from([None, "console=ttyS0", "console=ttyS0\n", ""]),
    }
)


@settings(max_examples=12, deadline=None)
@given(
    h=hidden,
    wrong=st.sets(st.sampled_from(["profile", "vcpus", "vcpu_type", "guest_features"])),
    kernel_given=st.booleans(),
)
def test_a_hidden_configuration_is_found_and_each_wrong_flag_named(
    h: Dict[str, Any], wrong: set, kernel_given: bool
) -> None:
    digest = measure(**_hidden(h["profile"], h["vcpus"], h["cpu"], h["features"], h["kernel"])).digest
    prof = get_profile(h["profile"])
    uses_sig = prof.vmsa.rdx == "vcpu_sig"
    stated = dict(profile=h["profile"], vcpus=h["vcpus"], vcpu_type=h["cpu"], guest_features=h["features"])
    if "profile" in wrong:
        stated["profile"] = "qemu" if h["profile"] != "qemu" else "gce"
    if "vcpus" in wrong:
        stated["vcpus"] = h["vcpus"] + 1
    if "vcpu_type" in wrong:
        stated["vcpu_type"] = next(n for n in CPU_NAMES if CPU_SIGS[n] != CPU_SIGS[h["cpu"]])
    if "guest_features" in wrong:
        stated["guest_features"] = next(f for f in DEFAULT_GUEST_FEATURES if f != h["features"])
    # the verifier may have the kernel (then both kernel-hashes settings are searched) or not
    with_kernel = kernel_given or h["kernel"] is not None
    kernel_args: Dict[str, Any] = dict(kernel=KERNEL, initrd=INITRD, append="console=ttyS0") if with_kernel else {}
    result = explain(digest, ovmf=A, search_vcpus="1-48", **kernel_args, **stated)
    assert result.matches, h
    want_sig = CPU_SIGS[h["cpu"]] if uses_sig else None
    cmdline = None if h["kernel"] is None else {"console=ttyS0": "given", "console=ttyS0\n": "newline", "": "none"}
    found = [
        m
        for m in result.matches
        if (m.profile, m.vcpus, m.vcpu_sig, m.guest_features, m.kernel_hashes)
        == (h["profile"], h["vcpus"], want_sig, h["features"], h["kernel"] is not None)
        and (cmdline is None or m.cmdline == cmdline[h["kernel"]])
    ]
    assert len(found) == 1, (h, result.matches)
    expect = {w for w in wrong if w != "vcpu_type" or uses_sig}
    if h["kernel"] is None:
        if with_kernel:
            expect.add("kernel_hashes")
    elif h["kernel"] != "console=ttyS0":
        expect.add("cmdline")
    assert set(found[0].differs) == expect
    assert len(found[0].notes) == len(expect)
    if not expect:
        assert result.matches[0] == found[0]  # right flags: ranked first
    # every match reproduces the digest with the flags it names
    for m in result.matches:
        assert _measure_from_args(m.measure_args) == digest


def _measure_from_args(argv: Any) -> bytes:
    from snpmeasure.cli import _compat, build_parser

    args = build_parser("measure").parse_args(["measure", *argv])
    kwargs = _compat.measure_kwargs(args)
    return measure(**kwargs).digest


def test_the_default_search_finds_a_large_count_and_counts_what_it_searched() -> None:
    digest = measure(**_hidden("qemu", 300, "EPYC-Turin", 0x221, "quiet")).digest
    result = explain(digest, ovmf=A, kernel=KERNEL, initrd=INITRD, append="quiet")
    assert result.searched == 2 * 6 * 4 * 512 * 4 + 4 * 4 * 512 * 4 >= 100_000
    assert result.counts == dict(profile=6, vcpus=512, vcpu_type=6, guest_features=4, kernel_hashes=2, cmdline=3)
    assert result.ok and result.matches[0].vcpus == 300 and result.matches[0].vcpu_type == "EPYC-Turin"
    assert result.matches[0].notes == ("guest features 0x221, not 0x1 (the default)",)
    doc = result.to_json()
    assert doc["matches"][0]["guest_features"] == "0x221" and doc["matches"][0]["vcpu_sig"] == "0xb00f00"
    assert doc["dimensions"]["vcpus"] == {"count": 512, "values": ["1-512"]}


def test_no_match_says_what_was_searched_and_what_to_try() -> None:
    result = explain(bytes(48), ovmf=A, vcpus=4, vcpu_type="EPYC-Milan", search_vcpus="1-8")
    assert not result.ok and result.matches == []
    assert result.searched == (2 * 6 + 4) * 4 * 8
    assert any("no kernel was given" in u for u in result.unchecked)
    assert any(u.startswith("the firmware:") for u in result.unchecked)
    assert any("--search-vcpus 1-4096" in s for s in result.suggestions)
    # advice that can work: not more vCPU counts when --fix keeps them, no direct boot for a
    # firmware that measures no kernel (an OvmfX64 build has no SNP_KERNEL_HASHES section)
    fixed = explain(bytes(48), ovmf=A, vcpus=4, vcpu_type="EPYC-Milan", search_vcpus="1-8", fix=["vcpus"])
    assert "fewer fixed dimensions: --fix keeps vcpus as stated" in fixed.suggestions
    assert not any("--search-vcpus" in s for s in fixed.suggestions)
    plain = explain(bytes(48), ovmf=FIXTURES / "peer" / "ovmf_OvmfX64_suffix.bin", vcpus=4, vcpu_type="EPYC-Milan")
    assert plain.firmware["kernel_hashes_supported"] is False
    assert not any("kernel" in text for text in plain.unchecked + plain.suggestions)


def test_fix_makes_an_assumption_a_constraint() -> None:
    digest = measure(**_hidden("qemu", 6, "EPYC-Milan", 0x1, None)).digest
    assert explain(digest, ovmf=A, vcpus=5, search_vcpus="1-8").matches[0].vcpus == 6
    assert explain(digest, ovmf=A, vcpus=5, search_vcpus="1-8", fix=["vcpus"]).matches == []
    fixed = explain(digest, ovmf=A, vcpus=6, vcpu_type="EPYC-Milan", fix=["vcpus", "vcpu_type", "profile"])
    assert fixed.searched == 4 and [m.differs for m in fixed.matches] == [()]


def test_a_stated_value_outside_the_defaults_is_searched() -> None:
    digest = measure(mode="snp", ovmf=A, vcpus=600, vcpu_sig=0xA00F12, guest_features=0x5).digest
    result = explain(digest, ovmf=A, vcpus=600, vcpu_sig=0xA00F12, guest_features=0x5, search_profiles=["qemu"])
    assert [m.differs for m in result.matches] == [()]
    assert result.matches[0].vcpu_types == () and result.matches[0].vcpu_type is None
    assert "--vcpu-sig" in result.matches[0].measure_args


def test_a_report_gives_the_digest_its_cpu_and_the_other_checks() -> None:
    """A v3 report carries the chip's CPUID: a -cpu host launch's signature is searched too."""
    host = (0x19, 0x11, 0x2)
    digest = measure(mode="snp", ovmf=A, vcpus=2, vcpu_sig=cpu_sig(*host)).digest
    report = AttestationReport.from_bytes(make_report(3, measurement=digest, cpuid=host, policy=0x30000))
    result = explain(report=report, ovmf=A, vcpus=2, expectations=Expectations(policy=0x70000))
    assert result.matches and result.matches[0].vcpu_sig == cpu_sig(*host)
    assert [f.field for f in result.failures] == ["POLICY"] and not result.ok
    v2 = AttestationReport.from_bytes(make_report(2, measurement=digest))
    assert any("carries no CPUID" in u for u in explain(report=v2, ovmf=A, search_vcpus="2").unchecked)
    with pytest.raises(InvalidInputError, match="must not hold a measurement"):
        explain(report=report, ovmf=A, expectations=Expectations(measurement=digest))


def test_igvm_models_are_searched(tmp_path: Path) -> None:
    digest = measure_igvm(str(TINY["tiny_x86"]), profile="igvmmeasure").digest
    result = explain(digest, igvm=str(TINY["tiny_x86"]), search_vcpus="1-4")
    assert [(m.profile, m.vcpus) for m in result.matches][:1] == [("igvmmeasure", None)]
    assert result.matches[0].measure_args == (
        "--mode",
        "snp:igvm",
        "--igvm",
        str(TINY["tiny_x86"]),
        "--profile",
        "igvmmeasure",
    )
    assert result.matches[0].describe() == "profile igvmmeasure"  # no kernel-hashes text: the file holds the kernel
    kvm = build([pd(0x1000), vp(0, vmsa=kvm_vmsa()), vp(1, vmsa=kvm_vmsa()), vp(2, vmsa=kvm_vmsa())])
    path = tmp_path / "kvm.igvm"
    path.write_bytes(kvm)
    digest = measure_igvm(str(path), profile="qemu", vcpus=3).digest
    result = explain(digest, igvm=str(path), vcpus=2, profile="qemu", search_vcpus="1-8")
    # the file's three VMSAs are what KVM would measure too: all three models agree
    assert [(m.profile, m.vcpus, m.differs) for m in result.matches] == [
        ("qemu", 3, ("vcpus",)),
        ("igvmmeasure", None, ("profile",)),
        ("igvm-crate", None, ("profile",)),
    ]
    # QEMU launches it with 3 vCPUs only: 1 and 2 leave a VP context out of bounds, 4-8 lack one
    assert result.searched == 1 + 2 and any("7 vCPU counts other than 3" in u for u in result.unchecked)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(measurement=b"x"), "48-byte launch digest"),
        (dict(measurement="00" * 48, fix=["cpu"]), "is no dimension"),
        (dict(measurement="00" * 48, search_profiles=["svsm"]), "is for an SVSM launch"),
        (dict(measurement="00" * 48, kernel_hashes=True), "needs the kernel"),
        (dict(measurement="00" * 48, search_cmdline=["newline"]), "does not apply here"),
        (dict(measurement="00" * 48, search_vcpus="0-3"), "from 1 to 4096"),
        (dict(measurement="00" * 48, search_vcpu_types=["Pentium"]), "no CPU model"),
        (dict(measurement="00" * 48, fix=["vcpus"]), "give vcpus"),
        (dict(measurement="00" * 48, igvm=str(TINY["tiny_x86"])), "does not apply to mode 'snp:igvm'"),
    ],
)
def test_bad_input_is_named(kwargs: Dict[str, Any], fragment: str) -> None:
    kwargs.setdefault("ovmf", A)
    with pytest.raises(InvalidInputError, match=fragment):
        explain(**kwargs)


def test_fixed_features_without_a_stated_value_and_an_svsm_launch() -> None:
    digest = measure(**_hidden("qemu", 2, "EPYC-Milan", 0x1, None)).digest
    fixed = explain(digest, ovmf=A, vcpus=2, vcpu_type="EPYC-Milan", fix=["guest_features"], search_vcpus="1-2")
    assert [m.differs for m in fixed.matches] == [()]  # fixed to each profile's default
    svsm = str(FIXTURES / "peer" / "svsm.bin")
    ovmf = str(FIXTURES / "peer" / "svsm_ovmf.fd")
    m = measure(mode="snp:svsm", ovmf=ovmf, svsm=svsm, vars_size=540672, vcpus=2, vcpu_type="EPYC-Milan")
    result = explain(m.digest, ovmf=ovmf, svsm=svsm, vars_size=540672, vcpus=2, vcpu_type="EPYC-Milan")
    assert [(x.profile, x.differs) for x in result.matches] == [("svsm", ())]
    assert result.assumptions["profile"] == "svsm (the default)"
    # the SVSM's features are fixed: one value searched, and the dimensions say so
    assert result.dimensions["guest_features"] == ["0x1"] and result.searched == 512 * 6  # x 6 CPU signatures
    with pytest.raises(InvalidInputError, match="no dimension of an IGVM launch"):
        explain(digest, igvm=str(TINY["tiny_x86"]), fix=["guest_features"])


@pytest.mark.parametrize("given", ["path", "bytes", "IgvmFile"])
def test_an_igvm_file_explains_and_exports_as_measure_does(given: str, tmp_path: Path) -> None:
    """The file as a path, its bytes or an IgvmFile: the explanation is JSON, each match's flags
    reproduce the digest through measure, and its reference table is measure's for that match."""
    import json
    import pickle

    from snpmeasure import IgvmFile
    from snpmeasure.exports import reference_table

    path = tmp_path / "kvm.igvm"
    path.write_bytes(build([vp(0), pd(0x1000), vp(1, vmsa=kvm_vmsa(rip=0x1000))]))  # KVM's order differs
    source: Any = {"path": str(path), "bytes": path.read_bytes(), "IgvmFile": IgvmFile.load(path)}[given]
    digest = measure_igvm(str(path), profile="qemu", vcpus=2).digest
    result = explain(digest, igvm=source, search_vcpus="1-2")
    assert [(m.profile, m.vcpus) for m in result.matches] == [("qemu", 2)]
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["firmware"]["igvm"]["sha256"] == __import__("hashlib").sha256(path.read_bytes()).hexdigest()
    args = result.matches[0].measure_args
    assert args[:3] == ("--mode", "snp:igvm", "--igvm")
    if given == "path":
        rc, out, _ = run_ours(["measure", *args])
        assert rc == 0 and out.strip() == digest.hex()
    else:
        assert args[3] == ("FILE" if given == "bytes" else str(path))  # an IgvmFile.load keeps its path
    table = result.reference_table()
    alone = reference_table([measure_igvm(str(path), profile="qemu", vcpus=2, describe_inputs=True)])
    assert table.rows == alone.rows and table.profiles == alone.profiles
    assert table.firmware["igvm"]["sha256"] == alone.firmware["igvm"]["sha256"]
    assert table.inputs["explain"]["matches"][0]["vcpus"] == 2
    nothing = explain(b"\x01" * 48, igvm=source, search_vcpus="1-2")
    assert nothing.matches == [] and nothing.reference_table().rows == []
    if given == "path":  # the file is not kept: the explanation outlives it, pickles, and still exports
        path.write_bytes(b"")
        again = pickle.loads(pickle.dumps(result))
        assert again.reference_table().rows == table.rows


def test_a_signature_no_model_has_is_exported_as_measure_labels_it() -> None:
    from snpmeasure import explain, measure

    digest = measure(mode="snp", ovmf=A, vcpus=2, vcpu_sig=0xA10F11).digest
    found = explain(digest, ovmf=A, vcpus=2, vcpu_sig=0xA10F11, fix=["vcpus", "vcpu_type", "profile"])
    assert [r.vcpu_type for r in found.reference_table().rows] == ["0xa10f11"]


def test_advice_is_only_what_could_change_the_result() -> None:
    """No advice to search SEV features that --fix keeps (or an SVSM profile fixes); a report's own
    CPUID signature is named where it carries one."""
    from snpmeasure import explain

    found = explain(bytes(48), ovmf=A, vcpus=1, vcpu_type="EPYC-Milan", search_vcpus="1", fix=["guest_features"])
    assert not found.matches and not any("--search-guest-features" in s for s in found.suggestions)
    assert any("--search-guest-features" in s for s in explain(bytes(48), ovmf=A, search_vcpus="1").suggestions)
    from .builders.reports import make_report

    v3 = AttestationReport.from_bytes(make_report(3, cpuid=(0x19, 0x11, 0x01)))
    found = explain(report=v3, ovmf=A, search_vcpus="1", search_vcpu_types=["EPYC-Milan"])
    assert any("--search-vcpu-types 0xa10f11, its CPUID signature" in s for s in found.suggestions)
