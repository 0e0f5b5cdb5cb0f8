"""Differential tests against sev-snp-measure 0.0.13, the independent implementation: library and CLI, fixed and random cases, Debian's OVMF builds."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import ConfigError, FirmwareImage, measure

from .builders.measure_cases import (
    EMPTY,
    HAVE_SSM,
    PEER,
    SVSM_FILES,
    A,
    SevMode,
    VMMType,
    X,
    needs_ssm,
    run_ssm,
    ssm_cli,
    ssm_guest,
)
from .support import debian_ovmf_images, run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


CLI_CASES = [
    ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A],
    [
        "--mode",
        "snp",
        "--vcpus",
        "4",
        "--vcpu-type",
        "EPYC-Milan",
        "--ovmf",
        A,
        "--kernel",
        EMPTY,
        "--append",
        "console=ttyS0",
        "-v",
    ],
    ["--mode", "snp", "--vcpus", "2", "--vcpu-sig", "0xa00f11", "--ovmf", A, "--output-format", "base64"],
    ["--mode", "snp", "--vcpus", "3", "--vcpu-family", "25", "--vcpu-model", "17", "--vcpu-stepping", "0", "--ovmf", X],
    ["--mode", "snp", "--vcpus", "2", "--vmm-type", "ec2", "--ovmf", A, "--kernel", EMPTY, "--initrd", EMPTY],
    ["--mode", "snp", "--vcpus", "2", "--vmm-type", "gce", "--ovmf", X, "--guest-features", "0x21"],
    ["--mode", "snp:ovmf-hash", "--ovmf", A],
    [
        "--mode",
        "snp",
        "--vcpus",
        "1",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        A,
        "--snp-ovmf-hash",
        "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74",
    ],
    ["--mode", "seves", "--vcpus", "2", "--vcpu-type", "EPYC-Rome", "--ovmf", A, "--kernel", EMPTY, "-v"],
    ["--mode", "sev", "--ovmf", A, "--kernel", EMPTY, "--append", "x y", "--output-format", "base64"],
    [
        "--mode",
        "snp:svsm",
        "--vcpus",
        "2",
        "--vcpu-type",
        "EPYC-v4",
        *SVSM_FILES,
        "-v",
    ],
    # what sev-snp-measure ignores (a zero --vcpu-sig or family/model/stepping means none given)
    ["--mode", "snp", "--vcpus", "2", "--vcpu-sig", "0", "--vcpu-type", "EPYC-Milan", "--ovmf", A],
    [
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-family",
        "0",
        "--vcpu-model",
        "0",
        "--vcpu-stepping",
        "0",
        "--vcpu-type",
        "EPYC-Milan",
        "--ovmf",
        A,
    ],
    ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel", "", "--initrd", ""],
    ["--mode", "snp:ovmf-hash", "--ovmf", A, "--dump-vmsa", "--vmm-type", "foo", "--output-format", "base64", "-v"],
    [
        "--mode",
        "snp:svsm",
        "--vcpus",
        "1",
        "--vcpu-type",
        "EPYC-v4",
        *SVSM_FILES,
        "--guest-features",
        "0x21",
        "--kernel",
        EMPTY,
    ],
    ["--mode", "snp", "--vcpus", "1_0", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--svsm", str(PEER / "svsm.bin")],
    ["--mode", "seves", "--vcpus", "3", "--vmm-type", "gce", "--ovmf", A, "--output-format", "base64"],
    ["--mode", "seves", "--vcpus", "3", "--vmm-type", "ec2", "--ovmf", A, "--kernel", EMPTY, "--append", "a"],
]


@st.composite
def cli_argvs(draw: st.DrawFn) -> List[str]:
    """sev-snp-measure command lines over its flags (valid for both tools)."""
    mode = draw(st.sampled_from(["snp", "snp", "seves", "sev", "snp:ovmf-hash"]))
    firmware = draw(st.sampled_from([A, X]))
    argv = ["--mode", mode, "--ovmf", firmware]
    if mode == "snp:ovmf-hash":
        return argv + draw(st.sampled_from([[], ["-v"], ["--output-format", "base64"]]))
    if mode != "sev":
        argv += ["--vcpus", str(draw(st.integers(1, 64)))]
        vmm = draw(st.sampled_from(["QEMU", "ec2", "gce"]))
        argv += ["--vmm-type", vmm]
        cpu = draw(st.sampled_from(["type", "sig", "fms"]))
        if cpu == "type":
            argv += ["--vcpu-type", draw(st.sampled_from(CPU_TYPES))]
        elif cpu == "sig":
            argv += ["--vcpu-sig", hex(draw(st.integers(1, 0xFFFFFFF)))]
        else:
            argv += [
                "--vcpu-family",
                str(draw(st.integers(1, 0x10E))),
                "--vcpu-model",
                str(draw(st.integers(0, 255))),
                "--vcpu-stepping",
                str(draw(st.integers(0, 15))),
            ]
        if mode == "snp" and draw(st.booleans()):
            argv += ["--guest-features", hex(draw(st.sampled_from([1, 0x21, 0x201])))]
    if firmware == A and draw(st.booleans()):
        argv += ["--kernel", EMPTY]
        if draw(st.booleans()):
            argv += ["--initrd", EMPTY]
        if draw(st.booleans()):
            argv += [
                "--append",
                draw(st.text(alphabet="abc =_-,.0123456789", max_size=30).filter(lambda t: not t.startswith("-"))),
            ]
    argv += draw(st.sampled_from([[], ["-v"], ["--output-format", "base64"], ["--output-format", "base64", "-v"]]))
    return argv


if HAVE_SSM:
    SSM_VMM = {"qemu": VMMType.QEMU, "ec2": VMMType.ec2, "gce": VMMType.gce}
    SSM_MODE = {"snp": SevMode.SEV_SNP, "seves": SevMode.SEV_ES, "sev": SevMode.SEV}
    CPU_TYPES = list(ssm_cli.vcpu_types.CPU_SIGS)
else:
    CPU_TYPES = ["EPYC"]  # the strategies below still need a value; their tests skip


@st.composite
def configs(draw: st.DrawFn) -> Dict[str, Any]:
    mode = draw(st.sampled_from(["snp", "snp", "snp", "seves", "sev"]))
    firmware = draw(st.sampled_from(["ovmf_AmdSev_suffix.bin", "ovmf_OvmfX64_suffix.bin"]))
    kernel = firmware == "ovmf_AmdSev_suffix.bin" and draw(st.booleans())
    cfg: Dict[str, Any] = dict(
        mode=mode,
        firmware=firmware,
        vmm=draw(st.sampled_from(["qemu", "ec2", "gce"])) if mode != "sev" else "qemu",
        vcpus=draw(st.integers(1, 64)),
        features=draw(st.sampled_from([0x1, 0x21, 0x201, 0x1 | (1 << 14)])),
        kernel=kernel,
        initrd=kernel and draw(st.booleans()),
        append=draw(st.one_of(st.none(), st.text(max_size=40))) if kernel else None,
    )
    if draw(st.booleans()):
        cfg["vcpu_type"] = draw(st.sampled_from(CPU_TYPES))
    else:
        cfg["fms"] = (draw(st.integers(1, 0xFF)), draw(st.integers(0, 255)), draw(st.integers(0, 15)))
    return cfg


REAL = debian_ovmf_images()


@needs_ssm
def test_svsm_mode_matches_sev_snp_measure() -> None:
    for vcpus in (1, 2, 5):
        ours = measure(
            mode="snp:svsm",
            ovmf=PEER / "svsm_ovmf.fd",
            svsm=PEER / "svsm.bin",
            vars_size=540672,
            vcpus=vcpus,
            vcpu_type="EPYC-v4",
        )
        theirs = ssm_guest.calc_launch_digest(
            SevMode.SEV_SNP_SVSM,
            vcpus,
            0x800F12,
            str(PEER / "svsm_ovmf.fd"),
            None,
            None,
            None,
            1,
            "",
            VMMType.QEMU,
            False,
            str(PEER / "svsm.bin"),
            540672,
        )
        assert ours.digest == theirs


@needs_ssm
@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda a: " ".join(a[:6]))
def test_cli_stdout_equals_sev_snp_measure(argv: List[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = run_ours(["measure"] + argv)
    ssm_rc, ssm_out = run_ssm(argv, monkeypatch)
    assert (rc, out) == (ssm_rc, ssm_out), err


@needs_ssm
@given(argv=cli_argvs())
def test_cli_differential_random_argvs(argv: List[str]) -> None:
    """Random sev-snp-measure command lines: identical stdout, and --json carries the same digest."""
    import pytest as _pytest

    mp = _pytest.MonkeyPatch()
    try:
        rc, out, err = run_ours(["measure"] + argv)
        ssm_rc, ssm_out = run_ssm(argv, mp)
    finally:
        mp.undo()
    assert (rc, out) == (ssm_rc, ssm_out), err
    plain = [a for a in argv if a not in ("-v",)]
    if "--output-format" in plain:
        i = plain.index("--output-format")
        del plain[i : i + 2]
    rc, js, _ = run_ours(["measure"] + plain + ["--json"])
    doc = json.loads(js)
    key = "measurement_base64" if "base64" in argv and argv[1] != "snp:ovmf-hash" else "measurement"
    assert rc == 0 and doc[key] == out.split()[-1]


def test_the_oracle_is_present_where_it_installs() -> None:
    if sys.version_info >= (3, 10):
        assert HAVE_SSM, "sev-snp-measure 0.0.13 is missing: pip install -e '.[test]'"


@needs_ssm
@given(cfg=configs(), blobs=st.tuples(st.binary(max_size=3000), st.binary(max_size=3000)))
def test_differential_against_sev_snp_measure(
    cfg: Dict[str, Any], blobs: tuple, tmp_path_factory: pytest.TempPathFactory
) -> None:
    d = tmp_path_factory.mktemp("k")
    kernel = initrd = None
    if cfg["kernel"]:
        kernel = d / "vmlinuz"
        kernel.write_bytes(blobs[0])
    if cfg["initrd"]:
        initrd = d / "initrd"
        initrd.write_bytes(blobs[1])
    sig = (
        ssm_cli.vcpu_types.CPU_SIGS[cfg["vcpu_type"]] if "vcpu_type" in cfg else ssm_cli.vcpu_types.cpu_sig(*cfg["fms"])
    )
    ours = measure(
        mode=cfg["mode"],
        ovmf=PEER / cfg["firmware"],
        vcpus=cfg["vcpus"],
        vcpu_type=cfg.get("vcpu_type"),
        vcpu_family=cfg["fms"][0] if "fms" in cfg else None,
        vcpu_model=cfg["fms"][1] if "fms" in cfg else None,
        vcpu_stepping=cfg["fms"][2] if "fms" in cfg else None,
        profile=cfg["vmm"],
        kernel=kernel,
        initrd=initrd,
        append=cfg["append"],
        guest_features=cfg["features"] if cfg["mode"] == "snp" else None,
    )
    theirs = ssm_guest.calc_launch_digest(
        SSM_MODE[cfg["mode"]],
        cfg["vcpus"],
        sig,
        str(PEER / cfg["firmware"]),
        kernel and str(kernel),
        initrd and str(initrd),
        cfg["append"],
        cfg["features"],
        "",
        SSM_VMM[cfg["vmm"]],
    )
    assert ours.digest == theirs
    again = measure(
        mode=cfg["mode"],
        ovmf=PEER / cfg["firmware"],
        vcpus=cfg["vcpus"],
        vcpu_sig=sig,
        profile=cfg["vmm"],
        kernel=kernel,
        initrd=initrd,
        append=cfg["append"],
        guest_features=cfg["features"] if cfg["mode"] == "snp" else None,
        trace=True,
        describe_inputs=True,
    )
    assert again.digest == theirs and (again.trace is None or again.trace[-1].digest == theirs)


@needs_ssm
@pytest.mark.skipif(
    not REAL, reason="Debian's OVMF images are absent (.ci/run downloads them with 'apt-get download ovmf')"
)
@pytest.mark.parametrize("vcpus", [1, 4])
@pytest.mark.parametrize("vmm", ["qemu", "ec2", "gce"])
def test_debian_ovmf_against_sev_snp_measure(vcpus: int, vmm: str) -> None:
    for path in REAL:
        # Debian's generic builds carry no SEV metadata: upstream QEMU refuses to launch them under
        # SNP, so snpmeasure does too unless told to measure them as another loader would.
        no_metadata = not FirmwareImage.open(path).sections
        for mode in ("snp", "snp:ovmf-hash", "seves", "sev"):
            kwargs = dict(mode=mode, ovmf=path, vcpus=vcpus, vcpu_type="EPYC-Milan", profile=vmm)
            if mode == "snp" and no_metadata:
                with pytest.raises(ConfigError, match="has no SEV metadata: upstream QEMU refuses"):
                    measure(**kwargs)
                kwargs["allow_no_sev_metadata"] = True
            ours = measure(**kwargs)
            if mode == "snp:ovmf-hash":
                theirs = ssm_guest.calc_snp_ovmf_hash(str(path))
            else:
                theirs = ssm_guest.calc_launch_digest(
                    SSM_MODE[mode], vcpus, 0xA00F11, str(path), None, None, None, 1, "", SSM_VMM[vmm]
                )
            assert ours.digest == theirs, (path, mode)


def test_debian_ovmf_found_in_ci() -> None:
    if os.environ.get("CI") and not REAL:
        pytest.fail("CI must provide Debian's OVMF images (.ci/run downloads them)")


# sev-snp-measure takes family/model/stepping, else --vcpu-sig, else --vcpu-type, silently; two that
# name different signatures are a mistake snpmeasure refuses, naming both (#17 item 8).
CONTRADICTING_CPU_FLAGS = [
    [
        "--mode",
        "snp",
        "--vcpus",
        "2",
        "--vcpu-family",
        "25",
        "--vcpu-model",
        "1",
        "--vcpu-stepping",
        "1",
        "--vcpu-sig",
        "7",
        "--ovmf",
        A,
    ],
]


@needs_ssm
@pytest.mark.parametrize("argv", CONTRADICTING_CPU_FLAGS, ids=lambda a: " ".join(a[4:7]))
def test_contradicting_cpu_flags_are_refused_where_sev_snp_measure_picks_one(
    argv: List[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, err = run_ours(["measure"] + argv)
    assert rc == 2 and out == "" and "the VMSAs carry one signature, give one of them" in err
    assert err.count("--vcpu") >= 2  # both flags named
    ssm_rc, ssm_out = run_ssm(argv, monkeypatch)
    assert ssm_rc == 0 and len(ssm_out.strip()) == 96
