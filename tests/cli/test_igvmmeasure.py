"""`snpmeasure igvmmeasure`: coconut-svsm igvmmeasure's arguments, output and exit behaviour."""

from __future__ import annotations

import json
from pathlib import Path

from ..builders.igvm_files import TINY, known_digest
from ..support import FIXTURES, run_ours

X86 = str(TINY["tiny_x86"])
RULE = "=" * 111


def test_measure_prints_what_igvmmeasure_prints() -> None:
    rc, out, err = run_ours(["igvmmeasure", X86, "measure"])
    assert rc == 0 and err == ""
    assert out == f"\n{RULE}\nigvmmeasure '{X86}'\nLaunch Digest: {known_digest('tiny_x86').upper()}\n{RULE}\n\n"
    assert run_ours(["igvmmeasure", X86, "measure", "--bare"]) == (0, known_digest("tiny_x86").upper() + "\n", "")


def test_native_zero_fails_on_the_id_block_unless_ignored() -> None:
    rc, out, err = run_ours(["igvmmeasure", "-n", X86, "measure", "-b"])
    # igvmmeasure's words (IDBlockMismatch), on one line, the ID block's digest in upper case
    assert rc == 1 and len(out.strip()) == 96 and err.count("\n") == 1
    assert "calculated measurement does not match the expected measurement in the ID block. Expected: " in err
    assert err.rstrip().endswith(known_digest("tiny_x86").upper())
    assert run_ours(["igvmmeasure", "--native-zero", X86, "measure", "-b", "-i"])[0] == 0


def test_check_kvm_and_platforms() -> None:
    rc, out, err = run_ours(["igvmmeasure", "-c", X86, "measure"])
    assert rc == 1 and out == "" and "vmsa-gpa" in err
    rc, out, err = run_ours(["igvmmeasure", "-c", X86, "measure", "--json"])
    assert rc == 1 and json.loads(out)["ok"] is False and "vmsa-gpa" in err
    rc, _, err = run_ours(["igvmmeasure", "-p", "sev-es", X86, "measure"])
    assert rc == 2 and "--platform: sev-es: igvmmeasure's SEV and SEV-ES 'measurement'" in err


def test_sign(tmp_path: Path) -> None:
    out_file = tmp_path / "s.igvm"
    key = str(FIXTURES / "keys" / "id_key_test.pem")
    rc, out, _ = run_ours(["igvmmeasure", X86, "sign", "--output", str(out_file), "--id-key", key])
    assert rc == 0 and out == f"Successfully created signed file: {out_file}\n"
    assert run_ours(["igvmmeasure", str(out_file), "measure", "-b"]) == (0, known_digest("tiny_x86").upper() + "\n", "")


def test_verbose_prints_igvmmeasures_page_runs(tmp_path: Path) -> None:
    """-v: igvmmeasure's log_page lines, runs of one page type at consecutive GPAs, before the
    banner (and before the success line of sign)."""
    runs = [
        "gpa 0xa0000 len 0x160000 (Normal page)",
        "gpa 0x800000 len 0x1000 (Cpuid page)",
        "gpa 0x801000 len 0x1000 (Secrets page)",
        "gpa 0x802000 len 0x1000 (Unmeasured page)",
        "gpa 0x803000 len 0x1000 (VMSA page)",
        "gpa 0x1a10000 len 0x4000 (Normal page)",
        "gpa 0x3467000 len 0xb000 (Normal page)",
    ]
    rc, out, _ = run_ours(["igvmmeasure", "-v", X86, "measure", "-b"])
    assert rc == 0 and out.splitlines() == [*runs, known_digest("tiny_x86").upper()]
    rc, out, _ = run_ours(["igvmmeasure", "-v", "-n", X86, "measure", "-b", "-i"])  # the block binds the default
    assert rc == 0 and "(Zero page)" in out and len(out.splitlines()) == 16
    signed = tmp_path / "s.igvm"
    sign = ["sign", "--output", str(signed), "--id-key", str(FIXTURES / "keys" / "id_key_test.pem")]
    rc, out, _ = run_ours(["igvmmeasure", "-v", X86, *sign])
    assert rc == 0 and out.splitlines() == [*runs, f"Successfully created signed file: {signed}"]


def test_a_header_type_the_igvm_crate_does_not_define_is_refused(tmp_path: Path) -> None:
    """igvmmeasure reads files with the igvm crate, which refuses a type it does not define
    (InvalidVariableHeaderType): no digest under its model (QEMU's refuses it too)."""
    from snpmeasure.igvm import RawHeader

    from ..builders.igvm_files import build, page, pd, vp

    odd = tmp_path / "odd.igvm"
    odd.write_bytes(build([pd(0x1000, page(1)), (RawHeader(0x3FE, bytes(8)), None), vp()]))
    rc, _, err = run_ours(["igvmmeasure", str(odd), "measure"])
    assert rc == 2 and "type 0x3fe is no header type the igvm crate defines" in err
    rc, _, err = run_ours(["measure", "--mode", "snp:igvm", "--igvm", str(odd), "--profile", "igvm-crate"])
    assert rc == 2 and "the igvm-crate model's reader refuses the file" in err


def test_sign_never_writes_over_its_input(tmp_path: Path) -> None:
    """igvmmeasure overwrites an existing --output, as the tool does, but not the file it reads."""
    import shutil

    f = tmp_path / "in.igvm"
    shutil.copy(X86, f)
    key = str(FIXTURES / "keys" / "id_key_test.pem")
    rc, _, err = run_ours(["igvmmeasure", str(f), "sign", "--output", str(f), "--id-key", key])
    assert rc == 2 and err.endswith(f"--output: {f}: is the input file\n")
    assert f.read_bytes() == Path(X86).read_bytes()
