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
    assert rc == 1 and len(out.strip()) == 96 and "is not the launch digest (BAD_MEASUREMENT)" in err
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
