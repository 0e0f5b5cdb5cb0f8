"""`snpmeasure qemu-object`: QMP output and --from-id-block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snpmeasure.qemu import SevSnpGuest

from ..builders.cli_inputs import OBJ
from ..support import run_ours


def test_qemu_object_json_is_qmp() -> None:
    rc, out, _ = run_ours(["qemu-object", "--object", OBJ, "--json"])
    assert rc == 0 and json.loads(out)["arguments"]["qom-type"] == "sev-snp-guest"
    assert run_ours(["qemu-object", "--object", OBJ, "--json", "--format", "qmp"])[1] == out


@pytest.mark.parametrize(
    "doc,fragment",
    [
        ({"id_block": "AA==", "id_auth": "AA==", "id_block_fields": {"policy": "abc"}}, "id-block: parameter length"),
        ({"id_block": "AA==", "id_auth": "AA==", "id_block_fields": []}, "id_block_fields.policy"),
        ({"id_block": 5, "id_auth": "AA=="}, "id_block and id_auth strings"),
        (
            {"id_block": "AA==", "id_auth": "AA==", "author_key_enabled": "false"},
            "author_key_enabled must be true or false",
        ),
    ],
)
def test_from_id_block_checks_its_json(tmp_path: Path, doc: dict, fragment: str) -> None:
    path = tmp_path / "idblock.json"
    path.write_text(json.dumps(doc))
    rc, _, err = run_ours(["qemu-object", "--from-id-block", str(path)])
    assert rc == 2 and fragment in err and "Traceback" not in err, err


def test_from_id_block_sets_what_it_binds(tmp_path: Path) -> None:
    doc = {"id_block": "AA==", "id_auth": "AA==", "id_block_fields": {"policy": "0x30000"}, "author_key_enabled": False}
    path = tmp_path / "idblock.json"
    path.write_text(json.dumps(doc))
    for flag, value in (
        ("--policy", "0xb0000"),
        ("--id-block", "AA=="),
        ("--id-auth", "AA=="),
        ("--author-key-enabled", None),
    ):
        rc, _, err = run_ours(["qemu-object", "--from-id-block", str(path), flag] + ([value] if value else []))
        assert rc == 2 and "is set by --from-id-block" in err, err


def test_libvirt_without_host_values_is_completed_or_refused(tmp_path: Path) -> None:
    """#17 item 2: libvirt fills cbitpos and reducedPhysBits from the host; a conversion to the QEMU
    forms takes them as flags or refuses, and never writes an object QEMU (or snpmeasure) rejects."""
    xml = tmp_path / "s.xml"
    xml.write_text('<launchSecurity type="sev-snp"><policy>0x30000</policy></launchSecurity>')
    for fmt in ("cli", "qmp"):
        rc, _, err = run_ours(["qemu-object", "--libvirt", str(xml), "--format", fmt])
        assert rc == 2 and "--cbitpos: the object has no cbitpos" in err and "51 on EPYC Milan" in err
        rc, _, err = run_ours(["qemu-object", "--libvirt", str(xml), "--format", fmt, "--cbitpos", "51"])
        assert rc == 2 and "--reduced-phys-bits: the object has no reduced-phys-bits" in err
    host = ["--cbitpos", "51", "--reduced-phys-bits", "1"]
    rc, text, _ = run_ours(["qemu-object", "--libvirt", str(xml), *host])
    assert rc == 0 and text.strip() == "sev-snp-guest,id=sev0,policy=0x30000,cbitpos=51,reduced-phys-bits=1"
    assert run_ours(["qemu-object", "--object", text.strip()])[1] == text
    rc, qmp, _ = run_ours(["qemu-object", "--libvirt", str(xml), *host, "--format", "qmp"])
    (tmp_path / "o.json").write_text(qmp)
    back = run_ours(["qemu-object", "--qmp", str(tmp_path / "o.json")])[1]
    assert rc == 0 and SevSnpGuest.from_cli(back) == SevSnpGuest.from_cli(text)
    # libvirt to libvirt keeps leaving them to the host; a flag that contradicts the object is refused.
    rc, out, _ = run_ours(["qemu-object", "--libvirt", str(xml), "--format", "libvirt"])
    assert rc == 0 and "cbitpos" not in out
    rc, _, err = run_ours(["qemu-object", "--object", text.strip(), "--cbitpos", "47"])
    assert rc == 2 and "--cbitpos: is 47, but the object says 51" in err


@pytest.mark.parametrize("src", ["cli", "qmp", "libvirt"])
@pytest.mark.parametrize("dst", ["cli", "qmp", "libvirt"])
def test_every_conversion_is_read_back_by_snpmeasure(tmp_path: Path, src: str, dst: str) -> None:
    full = (
        "sev-snp-guest,id=sev0,policy=0x30000,host-data="
        + "A" * 43
        + "=,kernel-hashes=on,cbitpos=51,reduced-phys-bits=1"
    )
    rc, written, _ = run_ours(["qemu-object", "--object", full, "--format", src])
    assert rc == 0
    (tmp_path / "in").write_text(written)
    reader = {
        "cli": ["--object", written.strip()],
        "qmp": ["--qmp", str(tmp_path / "in")],
        "libvirt": ["--libvirt", str(tmp_path / "in")],
    }
    rc, out, err = run_ours(["qemu-object", *reader[src], "--format", dst])
    assert rc == 0, err
    (tmp_path / "out").write_text(out)
    reader = {
        "cli": ["--object", out.strip()],
        "qmp": ["--qmp", str(tmp_path / "out")],
        "libvirt": ["--libvirt", str(tmp_path / "out")],
    }
    rc, back, err = run_ours(["qemu-object", *reader[dst]])
    assert rc == 0 and SevSnpGuest.from_cli(back) == SevSnpGuest.from_cli(full), err


def test_the_object_of_a_whole_domain_or_command_line(tmp_path: Path) -> None:
    """#18 part 2 for qemu-object: a domain's <launchSecurity> and a command line's -object are
    the object, written in any form; another object source beside them is refused."""
    dom = tmp_path / "d.xml"
    dom.write_text(
        "<domain><vcpu>4</vcpu><launchSecurity type='sev-snp' kernelHashes='yes'><cbitpos>51</cbitpos>"
        "<reducedPhysBits>1</reducedPhysBits><policy>0x30000</policy></launchSecurity></domain>"
    )
    line = (
        "qemu-system-x86_64 -machine q35,confidential-guest-support=sev0 "
        "-object sev-snp-guest,id=sev0,policy=0x30000,cbitpos=51,reduced-phys-bits=1,kernel-hashes=on"
    )
    outs = [
        run_ours(["qemu-object", *argv, "--format", "qmp"])
        for argv in (["--libvirt-domain", str(dom)], ["--qemu-cmdline", line], ["--libvirt", str(dom)])
    ]
    assert [rc for rc, _, _ in outs] == [0, 0, 0] and outs[0][1] == outs[1][1] == outs[2][1]
    rc, _, err = run_ours(["qemu-object", "--libvirt-domain", str(dom), "--object", "sev-snp-guest,id=x"])
    assert rc == 2 and "--object: and a launch configuration both give the object" in err
    rc, _, err = run_ours(["qemu-object", "--qemu-cmdline", "qemu-system-x86_64 -smp 2"])
    assert rc == 2 and "launches no SEV-SNP guest" in err
    rc, _, err = run_ours(["qemu-object", "--path-map", "/a=/b", "--policy", "0x30000"])
    assert rc == 2 and "--path-map: maps the paths" in err


def test_libvirt_form_refuses_an_object_id() -> None:
    """libvirt's <launchSecurity> has no id (libvirt names the object itself): --id would be dropped."""
    rc, _, err = run_ours(["qemu-object", "--id", "sev1", "--format", "libvirt"])
    assert rc == 2 and err.endswith("--id: has no place in libvirt's <launchSecurity>, which names the object itself\n")
    assert run_ours(["qemu-object", "--format", "libvirt"])[0] == 0


def test_the_json_form_of_object_is_read_as_qemu_reads_it() -> None:
    """QEMU takes -object as JSON too (libvirt writes it so), with typed values."""
    doc = '{"qom-type":"sev-snp-guest","id":"lsec0","policy":196608,"cbitpos":51,"reduced-phys-bits":1}'
    rc, out, _ = run_ours(["qemu-object", "--object", doc])
    assert (rc, out) == (0, "sev-snp-guest,id=lsec0,policy=0x30000,cbitpos=51,reduced-phys-bits=1\n")
    rc, _, err = run_ours(["qemu-object", "--object", '{"qom-type":"sev-guest","id":"x"}'])
    assert rc == 2 and err.endswith("qom-type: must be 'sev-snp-guest', got 'sev-guest'\n")


def test_host_values_complete_an_object_given_whole() -> None:
    """--cbitpos and --reduced-phys-bits, the host's values, complete an -object or QMP object that
    lacks them (QEMU requires reduced-phys-bits; libvirt fills both from the host)."""
    rc, out, _ = run_ours(
        ["qemu-object", "--object", "sev-snp-guest,id=s", "--cbitpos", "51", "--reduced-phys-bits", "1"]
    )
    assert (rc, out) == (0, "sev-snp-guest,id=s,policy=0x30000,cbitpos=51,reduced-phys-bits=1\n")
    rc, _, err = run_ours(["qemu-object", "--object", "sev-snp-guest,id=s", "--cbitpos", "51"])
    assert rc == 2 and "reduced-phys-bits" in err and "is missing" in err
