"""measure(): known-answer vectors, sev-snp-measure as a differential oracle, real firmware."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given
from hypothesis import strategies as st

import snpmeasure
from snpmeasure import measure
from snpmeasure.errors import Error
from snpmeasure.measurement import sev_launch_measurement
from snpmeasure.profiles import BUILTIN_PROFILES, LaunchProfile

from .support import FIXTURES, debian_ovmf_images, load_vectors, run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]

try:  # the differential oracle; sev-snp-measure 0.0.13 needs Python >= 3.10 (the [test] extra skips it below)
    from sevsnpmeasure import cli as ssm_cli
    from sevsnpmeasure import guest as ssm_guest
    from sevsnpmeasure.sev_mode import SevMode
    from sevsnpmeasure.vmm_types import VMMType

    HAVE_SSM = True
except ImportError:
    HAVE_SSM = False
#: Only the tests that call sev-snp-measure skip without it; where it installs, its absence fails
#: test_the_oracle_is_present_where_it_installs instead of skipping quietly.
needs_ssm = pytest.mark.skipif(not HAVE_SSM, reason="sev-snp-measure 0.0.13 (the oracle) needs Python >= 3.10")

PEER = FIXTURES / "peer"
VECTORS = load_vectors()
EMPTY = os.devnull


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
    got = sev_launch_measurement(
        bytes.fromhex(vector["launch_digest"]),
        tik=bytes.fromhex(vector["tik"]),
        mnonce=bytes.fromhex(vector["mnonce"]),
        api_major=int(vector["api_major"], 16),
        api_minor=int(vector["api_minor"], 16),
        build=int(vector["build"], 16),
        policy=int(vector["policy"], 16),
    )
    assert got.hex() == vector["expected"]


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


# ---- the CLI prints what sev-snp-measure prints ---------------------------------------------


def run_ssm(argv: List[str], monkeypatch: pytest.MonkeyPatch) -> tuple:
    out = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["sev-snp-measure"] + argv)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = ssm_cli.main()
    return rc, out.getvalue()


A = str(PEER / "ovmf_AmdSev_suffix.bin")
X = str(PEER / "ovmf_OvmfX64_suffix.bin")
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
        "--ovmf",
        str(PEER / "svsm_ovmf.fd"),
        "--svsm",
        str(PEER / "svsm.bin"),
        "--vars-size",
        "540672",
        "-v",
    ],
    # sev-snp-measure's precedence and what it ignores
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
    ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel", "", "--initrd", ""],
    ["--mode", "snp:ovmf-hash", "--ovmf", A, "--dump-vmsa", "--vmm-type", "foo", "--output-format", "base64", "-v"],
    [
        "--mode",
        "snp:svsm",
        "--vcpus",
        "1",
        "--vcpu-type",
        "EPYC-v4",
        "--ovmf",
        str(PEER / "svsm_ovmf.fd"),
        "--svsm",
        str(PEER / "svsm.bin"),
        "--vars-size",
        "540672",
        "--guest-features",
        "0x21",
        "--kernel",
        EMPTY,
    ],
    ["--mode", "snp", "--vcpus", "1_0", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--svsm", str(PEER / "svsm.bin")],
    ["--mode", "seves", "--vcpus", "3", "--vmm-type", "gce", "--ovmf", A, "--output-format", "base64"],
    ["--mode", "seves", "--vcpus", "3", "--vmm-type", "ec2", "--ovmf", A, "--kernel", EMPTY, "--append", "a"],
]


@needs_ssm
@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda a: " ".join(a[:6]))
def test_cli_stdout_equals_sev_snp_measure(argv: List[str], monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = run_ours(["measure"] + argv)
    ssm_rc, ssm_out = run_ssm(argv, monkeypatch)
    assert (rc, out) == (ssm_rc, ssm_out), err


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


def test_seves_explicit_guest_features_are_honoured() -> None:
    """A documented difference: sev-snp-measure ignores --guest-features in seves mode (uses 0)."""
    base = dict(mode="seves", ovmf=A, vcpus=2, vcpu_type="EPYC-v4")
    assert measure(**base).digest == measure(**base, guest_features=0).digest
    assert measure(**base, guest_features=0x20).digest != measure(**base).digest
    assert measure(**base, guest_features=0x20).vmsas[0][0x3B0] == 0x20


def test_cli_json_and_trace() -> None:
    argv = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel", EMPTY]
    rc, out, _ = run_ours(argv + ["--json", "--trace"])
    assert rc == 0
    doc = json.loads(out)
    plain = run_ours(argv)[1].strip()
    assert doc["measurement"] == plain
    assert doc["trace"][-1]["digest"] == plain
    assert doc["profile"] == "qemu" and doc["vcpu_sig"] == "0x800f12" and doc["guest_features"] == "0x1"
    assert doc["inputs"]["ovmf"]["sha256"] and doc["inputs"]["kernel"]["sha256"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert doc["snpmeasure_version"] == snpmeasure.__version__
    rc, out, _ = run_ours(argv + ["--trace"])
    lines = out.strip().splitlines()
    assert lines[-1] == plain and lines[0].startswith("SNP_LAUNCH_UPDATE") and len(lines) == 1 + 1 + 7 + 2


def test_cli_list_profiles() -> None:
    rc, out, _ = run_ours(["measure", "--list-profiles"])
    assert rc == 0 and all(name in out for name in BUILTIN_PROFILES)
    rc, out, _ = run_ours(["measure", "--list-profiles", "--json"])
    assert {p["name"] for p in json.loads(out)} == set(BUILTIN_PROFILES)


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", X, "--kernel", EMPTY],
            "SNP_KERNEL_HASHES",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--initrd", EMPTY],
            "initrd: needs a kernel",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--append", "x"],
            "append: needs a kernel",
        ),
        (["--mode", "snp", "--vcpus", "1", "--ovmf", A], "vcpu_type"),
        (["--mode", "snp", "--vcpu-type", "EPYC-v4", "--ovmf", A], "vcpus: is required"),
        (["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", "/nonexistent.fd"], "/nonexistent.fd"),
        (["--mode", "snp", "--vcpus", "1", "--vcpu-type", "Pentium", "--ovmf", A], "unknown CPU model"),
        (["--mode", "snp", "--vcpus", "1", "--vcpu-family", "25", "--ovmf", A], "vcpu_model"),
        (
            [
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC-v4",
                "--ovmf",
                A,
                "--profile",
                "ec2",
                "--vmm-type",
                "gce",
            ],
            "contradicts",
        ),
        (["--mode", "sev", "--ovmf", X, "--kernel", EMPTY], "hash table"),
        (
            [
                "--mode",
                "snp:svsm",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC-v4",
                "--ovmf",
                A,
                "--svsm",
                str(PEER / "svsm.bin"),
            ],
            "vars_size",
        ),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--snp-ovmf-hash", "abc"],
            "snp_ovmf_hash: must be 96",
        ),
        (["--mode", "sev", "--ovmf", A, "--dump-vmsa"], "--dump-vmsa"),
        (["--vcpus", "1", "--ovmf", A], "--mode"),
        (
            ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--kernel-hash", "12"],
            "kernel_hash",
        ),
        (["--mode", "snp", "--vcpus", "zero", "--ovmf", A], "whole number"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv: List[str], fragment: str) -> None:
    rc, out, err = run_ours(["measure"] + argv)
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err


@needs_ssm
def test_dump_vmsa_refuses_to_overwrite(in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--dump-vmsa"]
    assert run_ours(["measure"] + argv)[0] == 0
    ours = [(in_tmp_cwd / f"vmsa{i}.bin").read_bytes() for i in range(2)]
    assert run_ours(["measure"] + argv)[0] == 2
    assert run_ours(["measure"] + argv + ["--force"])[0] == 0
    for p in in_tmp_cwd.glob("vmsa*.bin"):
        p.unlink()
    run_ssm(argv, monkeypatch)
    assert ours == [(in_tmp_cwd / f"vmsa{i}.bin").read_bytes() for i in range(2)]


def test_sev_hmac_cli(tmp_path: Path) -> None:
    v = VECTORS["sev_launch_measure_hmac"][0]
    tik = tmp_path / "tik.bin"
    tik.write_bytes(bytes.fromhex(v["tik"]))
    import base64

    m = measure(mode="sev", ovmf=A)
    expected = sev_launch_measurement(
        m.digest,
        tik=tik.read_bytes(),
        mnonce=bytes.fromhex(v["mnonce"]),
        api_major=0,
        api_minor=0x12,
        build=0xF,
        policy=0,
    )
    blob = base64.b64encode(expected + bytes.fromhex(v["mnonce"])).decode()
    base = [
        "measure",
        "--mode",
        "sev",
        "--ovmf",
        A,
        "--tik",
        str(tik),
        "--api-major",
        "0",
        "--api-minor",
        "0x12",
        "--build",
        "15",
        "--policy",
        "0",
    ]
    rc, out, _ = run_ours(base + ["--launch-measure-blob", blob])
    assert rc == 0 and out.splitlines()[-1] == f"launch-measure: {expected.hex()}"
    bad = base64.b64encode(bytes(32) + bytes.fromhex(v["mnonce"])).decode()
    assert run_ours(base + ["--launch-measure-blob", bad])[0] == 1
    rc, out, _ = run_ours(base + ["--mnonce", base64.b64encode(bytes.fromhex(v["mnonce"])).decode(), "--json"])
    assert json.loads(out)["launch_measure"]["hmac"] == expected.hex()


# ---- profiles --------------------------------------------------------------------------------


def test_profile_file(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps({"base": "qemu", "name": "old-host", "vmsa": {"mxcsr": 0, "x87_fcw": 0}}))
    argv = ["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--ovmf", A]
    rc, out, _ = run_ours(argv + ["--profile-file", str(p)])
    assert rc == 0 and out == run_ours(argv + ["--profile", "qemu-legacy"])[1]
    full = tmp_path / "full.json"
    full.write_text(json.dumps(BUILTIN_PROFILES["ec2"].to_json()))
    assert run_ours(argv + ["--profile-file", str(full)])[1] == run_ours(argv + ["--profile", "ec2"])[1]


@pytest.mark.parametrize(
    "doc,field",
    [
        ({"vmm": "xen"}, "vmm"),
        ({"colour": 1}, "colour"),
        ({"vmsa": {"mxcsr": -1}}, "vmsa.mxcsr"),
        ({"vmsa": {"kind": "weird"}}, "vmsa.kind"),
        ({"vmsa_gpa": 123}, "vmsa_gpa"),
        ({"sec_mem_page_type": "VMSA"}, "sec_mem_page_type"),
        ({"cpuid_placement": "first"}, "cpuid_placement"),
        ({"base": "nope"}, "base"),
        ([], "p.json"),
    ],
)
def test_bad_profile_files(tmp_path: Path, doc: Any, field: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(json.dumps(doc))
    rc, out, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--ovmf", A, "--profile-file", str(p)]
    )
    assert rc == 2 and field in err


def test_profile_json_round_trip() -> None:
    for p in BUILTIN_PROFILES.values():
        assert LaunchProfile.from_json(json.loads(json.dumps(p.to_json()))) == p


def test_profiles_differ_where_documented() -> None:
    kw = dict(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-v4")
    digests = {name: measure(**kw, profile=name).hex() for name in BUILTIN_PROFILES if name != "svsm"}
    assert len(set(digests.values())) == len(digests)


# ---- differential: sev-snp-measure as the oracle --------------------------------------------


def test_the_oracle_is_present_where_it_installs() -> None:
    if sys.version_info >= (3, 10):
        assert HAVE_SSM, "sev-snp-measure 0.0.13 is missing: pip install -e '.[test]'"


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


# ---- real firmware: Debian's OVMF builds ----------------------------------------------------

REAL = debian_ovmf_images()


@needs_ssm
@pytest.mark.skipif(
    not REAL, reason="Debian's OVMF images are absent (.ci/run downloads them with 'apt-get download ovmf')"
)
@pytest.mark.parametrize("vcpus", [1, 4])
@pytest.mark.parametrize("vmm", ["qemu", "ec2", "gce"])
def test_debian_ovmf_against_sev_snp_measure(vcpus: int, vmm: str) -> None:
    for path in REAL:
        for mode in ("snp", "snp:ovmf-hash", "seves", "sev"):
            ours = measure(mode=mode, ovmf=path, vcpus=vcpus, vcpu_type="EPYC-Milan", profile=vmm)
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


def test_measure_cli_start_up_stays_light() -> None:
    """Start-up guard (no timing): `import snpmeasure` and an OVMF-only `measure` run load neither
    cryptography nor OpenSSL's hashlib backend, and build no other subcommand's parser."""
    import subprocess

    code = (
        "import sys, io, contextlib\n"
        "import snpmeasure\n"
        "assert 'cryptography' not in sys.modules\n"
        "from snpmeasure import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = cli.main(['measure', '--mode', 'snp', '--vcpus', '2', '--vcpu-type', 'EPYC-v4', '--ovmf', {str(PEER / 'svsm_ovmf.fd')!r}])\n"
        "assert rc == 0, rc\n"
        "print(sorted(m for m in ('cryptography', '_hashlib', 'snpmeasure.blobs', 'snpmeasure.report') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_public_names_are_not_shadowed_by_submodules() -> None:
    """Importing a submodule sets it as an attribute of the package: a submodule named like a public
    function (once snpmeasure/measure.py) would replace snpmeasure.measure after any sweep()."""
    import pkgutil
    import subprocess
    import sys

    import snpmeasure

    modules = {m.name for m in pkgutil.iter_modules(snpmeasure.__path__)}
    assert not modules & set(snpmeasure._EXPORTS), modules & set(snpmeasure._EXPORTS)
    code = (
        "import snpmeasure, importlib, pkgutil\n"
        "snpmeasure.sweep\n"
        "for m in pkgutil.iter_modules(snpmeasure.__path__):\n    if m.name != '__main__': importlib.import_module('snpmeasure.' + m.name)\n"
        "assert callable(snpmeasure.measure) and not isinstance(snpmeasure.measure, type(snpmeasure))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
