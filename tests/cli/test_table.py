"""`snpmeasure table`: its progress bar, and its exports for verifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..builders.manifests import A
from ..support import run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


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


def _fixture(name: str) -> str:
    from ..support import FIXTURES

    return str(FIXTURES / "peer" / name)


def test_table_json_has_provenance_and_reads_back(tmp_path: Path) -> None:
    """#17 item 5: every input with its SHA-256 and size, the firmware-pages digest, the version
    and each profile's full definition; EC2 rows carry no vcpu_sig (its VMSAs carry none)."""
    import hashlib
    import json

    from snpmeasure import FirmwareManifest, __version__
    from snpmeasure.tables import ReferenceTable, rows_from_csv

    from ..support import run_ours

    ovmf = _fixture("ovmf_AmdSev_suffix.bin")
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(bytes(0x202) + b"HdrS" + bytes(100))
    argv = ["table", "--ovmf", ovmf, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--kernel", str(kernel)]
    rc, out, err = run_ours([*argv, "--profile", "qemu,ec2", "--json"])
    assert rc == 0 and err == "", err
    doc = json.loads(out)
    assert doc["snpmeasure_version"] == __version__ and doc["schema_version"] == 2
    fw = doc["firmware"]
    data = open(ovmf, "rb").read()
    assert fw["sha256"] == hashlib.sha256(data).hexdigest() and fw["size"] == len(data)
    assert fw["ovmf_digest"] == FirmwareManifest.from_image(ovmf).ovmf_digest.hex()
    assert doc["inputs"]["kernel"] == {
        "path": str(kernel),
        "sha256": hashlib.sha256(kernel.read_bytes()).hexdigest(),
        "size": kernel.stat().st_size,
    }
    assert set(doc["profiles"]) == {"qemu", "ec2"} and doc["profiles"]["ec2"]["vmm"] == "ec2"
    assert doc["warnings"] == []
    sigs = {(r["profile"], r["vcpu_sig"]) for r in doc["rows"]}
    assert sigs == {("qemu", "0xa00f11"), ("ec2", None)}
    table = ReferenceTable.from_json(doc)
    assert table.to_json() == doc and len(table) == 4 and table == ReferenceTable.from_json(json.loads(out))
    rc, csv_text, _ = run_ours([*argv, "--profile", "qemu,ec2", "--csv"])
    assert rc == 0 and rows_from_csv(csv_text) == table.rows
    # --profile-file beside --profile, its definition recorded
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"base": "qemu", "name": "old-host", "vmsa": {"mxcsr": 0}}))
    rc, out, _ = run_ours([*argv, "--profile", "qemu", "--profile-file", str(prof), "--json"])
    doc = json.loads(out)
    assert rc == 0 and {r["profile"] for r in doc["rows"]} == {"qemu", "old-host"}
    assert doc["profiles"]["old-host"]["vmsa"]["mxcsr"] == 0


def test_table_refuses_and_warns_as_measure_does(tmp_path: Path) -> None:
    """#17 item 3: a firmware without SEV metadata is refused (exit 2) unless allowed, and the
    warnings go to stderr and into the JSON."""
    import json

    from ..support import run_ours

    fd = tmp_path / "r.fd"
    fd.write_bytes(bytes(range(256)) * 32)
    argv = ["table", "--ovmf", str(fd), "--vcpus", "1", "--vcpu-type", "EPYC-Milan"]
    rc, _, err = run_ours(argv)
    assert rc == 2 and "--ovmf:" in err and "has no SEV metadata: upstream QEMU refuses" in err
    assert "--allow-no-sev-metadata" in err and "not an OVMF build" in err
    rc, out, err = run_ours([*argv, "--allow-no-sev-metadata", "--json"])
    assert rc == 0 and err.startswith("snpmeasure table: warning: ") and "has no SEV metadata" in err
    assert json.loads(out)["warnings"] == [err.split("warning: ", 1)[1].strip()]
    # a kernel that is no bzImage: warned, measured
    rc, out, err = run_ours(
        ["table", "--ovmf", _fixture("ovmf_AmdSev_suffix.bin"), "--vcpu-type", "EPYC", "--kernel", str(fd), "--json"]
    )
    assert rc == 0 and "no 'HdrS' boot header" in err and "no 'HdrS'" in json.loads(out)["warnings"][0]


@pytest.mark.parametrize("fmt", ["corim", "corim-veraison", "trustee", "go-sev-guest"])
def test_exports_read_back_row_for_row(tmp_path: Path, fmt: str) -> None:
    """#20: table → export → read back: the provenance beside each export is the table, and the
    export itself gives the same measurements (CoRIM: the same rows)."""
    from snpmeasure.exports import from_go_sev_guest, from_trustee, rows_from_corim
    from snpmeasure.references import load_references
    from snpmeasure.tables import ReferenceTable

    argv = ["table", "--ovmf", A, "--vcpus", "1-3", "--vcpu-type", "EPYC-Milan,EPYC-Genoa", "--profile", "qemu,ec2"]
    rc, out, _ = run_ours(argv)
    want = ReferenceTable.from_json(json.loads(out))
    target = tmp_path / "refs"
    rc, out, err = run_ours([*argv, "--format", fmt, "--output", str(target), "--export-policy", "0x30000"])
    assert rc == 0 and err == "", err
    written = out.split()
    provenance = Path(written[-1])
    assert provenance.name.endswith(".provenance.json") and all(Path(p).exists() for p in written)
    assert load_references(provenance).table == want  # the provenance is the table, whole
    digests = list(dict.fromkeys(r.measurement for r in want.rows))
    if fmt.startswith("corim"):
        assert rows_from_corim(target.read_bytes()) == want.rows
        assert load_references(target).rows == want.rows
    elif fmt == "trustee":
        got = from_trustee(json.loads(target.read_text()))["snp_launch_measurement"]
        assert got == [d.hex() for d in digests]
    else:
        configs = sorted(target.glob("*.textproto"))
        assert sorted(from_go_sev_guest(p.read_text())[0] for p in configs) == sorted(digests)


def test_export_flags_need_each_other(tmp_path: Path) -> None:
    base = ["table", "--ovmf", A, "--vcpu-type", "EPYC-Milan"]
    for extra, fragment in (
        (["--format", "corim"], "--format: corim writes a file: give --output FILE"),
        (["--output", str(tmp_path / "x")], "--output: applies to an export: give --format too"),
        (["--format", "trustee", "--output", "x", "--sign-key", "k"], "--sign-key: signs a CoRIM"),
        (["--format", "trustee", "--output", "x", "--csv"], "--format: writes --output"),
        (["--format", "trustee", "--output", "x", "--export-policy", "0x1"], "--export-policy"),
        (["--format", "trustee", "--output", "x", "--export-id-key-digest", "ab" * 48], "checks no key digest"),
        (["--export-author-key-digest", "ab" * 48], "--export-author-key-digest: applies to an export"),
    ):
        rc, _, err = run_ours(base + extra)
        assert rc == 2 and fragment in err and err.count("\n") == 1, err


def test_export_min_tcb_needs_the_product(tmp_path: Path) -> None:
    base = ["table", "--ovmf", A, "--vcpu-type", "EPYC-Milan", "--format", "go-sev-guest"]
    out = tmp_path / "c.textproto"
    rc, _, err = run_ours([*base, "--output", str(out), "--export-min-tcb", "snp=8"])
    assert rc == 2 and "--export-product: --export-min-tcb needs it" in err
    rc, _, err = run_ours([*base, "--output", str(out), "--export-min-tcb", "fmc=1", "--export-product", "genoa"])
    assert rc == 2 and "--export-min-tcb: fmc is no TCB component of genoa" in err
    rc, _, _ = run_ours([*base, "--output", str(out), "--export-min-tcb", "snp=8", "--export-product", "genoa"])
    assert rc == 0 and f"minimum_tcb: {8 << 48}\n" in out.read_text()
    trustee = [
        "table",
        "--ovmf",
        A,
        "--vcpu-type",
        "EPYC-Milan",
        "--format",
        "trustee",
        "--output",
        str(tmp_path / "t"),
    ]
    rc, _, err = run_ours([*trustee, "--export-min-tcb", "snp=8"])
    assert rc == 2 and "--export-min-tcb: trustee checks bootloader, tee, snp, microcode by exact value" in err
    rc, _, err = run_ours([*trustee, "--export-min-tcb", "bootloader=3,tee=0,snp=8,microcode=115"])
    assert rc == 0 and err == ""
    rc, _, err = run_ours([*trustee[:-2], "--output", "x", "--sign-key-password-env", "PW"])
    assert rc == 2 and "--sign-key-password-env: unlocks --sign-key" in err
    corim = [*trustee[:6], "corim", "--output", str(tmp_path / "c.corim")]
    rc, _, err = run_ours([*corim, "--sign-key", "k.pem", "--sign-key-password-env", "SNPMEASURE_NO_SUCH_VAR"])
    assert rc == 2 and "--sign-key-password-env: environment variable SNPMEASURE_NO_SUCH_VAR is not set" in err


def test_a_config_directory_with_another_exports_configs_is_refused(tmp_path: Path) -> None:
    """go-sev-guest reads one config per file: configs left from an earlier export (another
    firmware's digests) would still be tried beside the new ones, which the provenance does not list."""
    base = ["table", "--ovmf", A, "--vcpu-type", "EPYC-Milan", "--format", "go-sev-guest", "--output", str(tmp_path)]
    assert run_ours([*base, "--vcpus", "1-3"])[0] == 0
    first = sorted(p.name for p in tmp_path.glob("*.textproto"))
    rc, _, err = run_ours([*base, "--vcpus", "1-2"])
    assert rc == 2 and "which a verifier trying each would still accept" in err and first[2] in err
    assert sorted(p.name for p in tmp_path.glob("*.textproto")) == first  # nothing written
    assert run_ours([*base, "--vcpus", "1-3"])[0] == 0  # the same configs again: replaced


def test_a_veraison_corim_is_unsigned(tmp_path: Path) -> None:
    argv = ["table", "--ovmf", A, "--vcpu-type", "EPYC-Milan", "--format", "corim-veraison"]
    rc, _, err = run_ours([*argv, "--output", str(tmp_path / "v.corim"), "--sign-key", "k.pem"])
    assert rc == 2 and "--sign-key: Veraison's SEV-SNP scheme takes unsigned CoRIMs only" in err


def test_a_config_directory_is_made_in_an_existing_folder_only(tmp_path: Path) -> None:
    """--output names the directory to make, not a path of folders: a mistyped parent is an error."""
    base = ["table", "--ovmf", A, "--vcpu-type", "EPYC-Milan", "--vcpus", "1-2", "--format", "go-sev-guest"]
    rc, _, err = run_ours([*base, "--output", str(tmp_path / "no" / "configs")])
    assert rc == 2 and "--output: " in err and "No such file or directory" in err
    assert list(tmp_path.iterdir()) == []
    assert run_ours([*base, "--output", str(tmp_path / "configs")])[0] == 0


def test_a_list_that_names_a_value_twice_is_refused(tmp_path: Path) -> None:
    base = ["table", "--ovmf", A, "--vcpus", "1", "--quiet"]
    for extra, said in (
        (["--vcpu-type", "EPYC,EPYC"], "--vcpu-type: names EPYC twice"),
        (["--vcpu-type", "EPYC", "--guest-features", "0x1,0x1"], "--guest-features: names 0x1 twice"),
        (["--vcpu-type", "EPYC", "--profile", "qemu,qemu"], "--profile: names qemu twice"),
    ):
        rc, _, err = run_ours(base + extra)
        assert rc == 2 and err.endswith(said + "\n"), err
    prof = tmp_path / "q.json"
    prof.write_text('{"base": "qemu", "name": "qemu"}')
    rc, _, err = run_ours(base + ["--vcpu-type", "EPYC", "--profile", "qemu", "--profile-file", str(prof)])
    assert rc == 2 and "--profile-file: defines profile qemu, which is given already" in err
    for name in ("", " ", "a\x00b"):
        prof.write_text(json.dumps({"base": "qemu", "name": name}))
        rc, _, err = run_ours(base + ["--vcpu-type", "EPYC", "--profile-file", str(prof)])
        assert rc == 2 and ".name: must be a printable, non-blank name" in err, name


def test_dash_is_no_output_file(tmp_path: Path) -> None:
    rc, _, err = run_ours(
        ["table", "--ovmf", A, "--vcpus", "1", "--vcpu-type", "EPYC", "--format", "corim", "--output", "-"]
    )
    assert rc == 2 and err.endswith("--output: writes files; give a path (- is no file here)\n")
