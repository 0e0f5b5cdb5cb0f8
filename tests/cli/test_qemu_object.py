"""`snpmeasure qemu-object`: QMP output and --from-id-block."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..builders.cli_inputs import OBJ
from ..support import run_ours


def test_qemu_object_json_is_qmp() -> None:
    rc, out, _ = run_ours(["qemu-object", "--object", OBJ, "--json"])
    assert rc == 0 and json.loads(out)["arguments"]["qom-type"] == "sev-snp-guest"
    assert run_ours(["qemu-object", "--object", OBJ, "--json", "--format", "qmp"])[1] == out


@pytest.mark.parametrize(
    "doc,fragment",
    [
        ({"id_block": "AA==", "id_auth": "AA==", "id_block_fields": {"policy": "abc"}}, "unknown flag"),
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
