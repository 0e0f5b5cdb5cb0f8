"""The README's shell examples run, and exit with the status their comments promise (`# exit 1`
where a check is meant to fail, 0 elsewhere).

The files a user brings are replaced by the repository's (OVMF.fd by an AmdSev OVMF fixture, vmlinuz and
initrd.img by /dev/null, a SHA256 placeholder by a digest); lines with placeholders that have no
stand-in (`...`, B64, tik.bin, launch.json) and install commands are left out, and `[--json]`-style
optional flags are dropped. Each block runs in one bash process, in order, so the walk-through's
variables (M, OBJ, A) and files (idblock.json, OVMF.manifest.json) carry over as they would for a
user. Each example line must be one command (no pipes, lists or `;`), so its exit status is its own,
and a variable it uses must be set (set -u)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from .conftest import FIXTURES

README = Path(__file__).resolve().parent.parent / "README.md"
STAND_INS = ((r"\bOVMF\.fd\b", "tests/fixtures/peer/ovmf_AmdSev_suffix.bin"), (r"\bvmlinuz\b", "/dev/null"),
             (r"\binitrd\.img\b", "/dev/null"), (r"\bSHA256\b", "ab" * 32))
#: Whole arguments with no stand-in; a line holding one is left out, and test_only_known_lines_are_left_out
#: lists every such line, so a real command cannot be dropped unnoticed.
PLACEHOLDER = re.compile(r"(?<!\S)(?:\.\.\.|B64|tik\.bin|launch\.json)(?!\S)")
LEFT_OUT = ["snpmeasure measure ... --json", "snpmeasure measure ... --trace",
            "snpmeasure measure --mode sev --ovmf OVMF.fd --tik tik.bin --launch-measure-blob B64"]
NOT_RUN = ("pip ", "pytest", "python -m build")


def sh_blocks() -> List[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def lines(block: str) -> List[Tuple[str, str]]:
    """(code, comment) per logical line of a block: continuation lines joined, comment-only lines
    dropped, optional `[...]` flags removed; a comment starts at a `#` after white space (the README
    quotes no such `#`)."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        code, *comment = re.split(r"\s#", line, maxsplit=1)
        out.append((re.sub(r"\s\[[^\]]*\]", "", code).strip(), comment[0] if comment else ""))
    return out


def commands(block: str) -> List[Tuple[str, int]]:
    """(command, expected exit status) per line to run, stand-ins in place: 1 where its comment
    says `exit 1`, else 0."""
    out = []
    for code, comment in lines(block):
        if code.startswith(NOT_RUN) or PLACEHOLDER.search(code):
            continue
        for pattern, stand_in in STAND_INS:
            code = re.sub(pattern, stand_in, code)
        out.append((code, 1 if re.search(r"\bexit 1\b", comment) else 0))
    return out


def runnable_blocks() -> List[str]:
    return [b for b in sh_blocks() if commands(b)]


def test_the_readme_has_the_walk_throughs() -> None:
    blocks = runnable_blocks()
    text = "\n".join(blocks)
    # every walk-through: if one stops being run (a new placeholder, a renamed fixture), look again
    for needle in ("snpmeasure measure --mode snp", "snpmeasure id-block", "snpmeasure launch --object",
                   "snpmeasure report verify", "snpmeasure policy encode", "snpmeasure ovmf-hash", "snpmeasure table",
                   "snpmeasure measure --list-profiles", "--firmware-manifest OVMF.manifest.json"):
        assert needle in text, needle
    ran = [code for b in blocks for code, _ in commands(b)]
    assert all(code.startswith(("snpmeasure ", "M=", "OBJ=", "A=")) for code in ran), ran


def test_only_known_lines_are_left_out() -> None:
    left_out = [code for b in sh_blocks() for code, _ in lines(b) if PLACEHOLDER.search(code)]
    assert len(left_out) == len(LEFT_OUT) and all(code.startswith(known) for code, known in zip(left_out, LEFT_OUT)), left_out


def test_example_lines_are_single_commands() -> None:
    for block in runnable_blocks():
        for code, _ in commands(block):
            assert not re.search(r"\||&&|;", code), f"one command per README example line, so its exit status is its own: {code!r}"


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda b: b.split("snpmeasure ", 2)[1].split()[0])
def test_readme_block_runs(block: str, tmp_path: Path) -> None:
    (tmp_path / "tests").symlink_to(FIXTURES.parent, target_is_directory=True)
    shim = tmp_path / "bin" / "snpmeasure"  # this interpreter's snpmeasure, whatever else is on PATH
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m snpmeasure "$@"\n')
    shim.chmod(0o755)
    cmds = commands(block)
    assert cmds
    script = ["set -uo pipefail"]
    for i, (code, _) in enumerate(cmds):
        script += [code, f'echo "@rc {i} $?" >&2']
    env = dict(os.environ, PATH=f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True,
                         stdin=subprocess.DEVNULL, text=True, timeout=300)
    got = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^@rc (\d+) (\d+)$", res.stderr, flags=re.M)}
    for i, (code, want) in enumerate(cmds):
        assert got.get(i) == want, f"{code!r} exited {got.get(i)} (want {want}):\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.stderr
