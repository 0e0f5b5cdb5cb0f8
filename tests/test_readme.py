"""The README's shell examples that use only this repository's fixtures run as written, and exit
with the status their comments promise (`# exit 1` where a check is meant to fail, 0 elsewhere).

Examples that name files a user brings (OVMF.fd, vmlinuz, ...) or install things are left out;
`[--json]`-style optional flags are dropped. The commands run in one bash process, in order, so the
walk-through's variables (M, OBJ, A) and files (idblock.json) carry over as they would for a user.
Each example line must be one command (no pipes, lists or `;`), so its exit status is its own."""

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
USER_FILES = ("OVMF.fd", "vmlinuz", "OVMF.manifest.json", "tik.bin", "launch.json", " ... ")
NOT_RUN = ("pip ", "pytest", "python -m build")


def sh_blocks() -> List[str]:
    return re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def commands(block: str) -> List[Tuple[str, int]]:
    """(command, expected exit status) per logical line of a block: continuation lines joined,
    comment-only lines dropped, optional `[...]` flags removed; a comment starts at a `#` after
    white space (the README quotes no such `#`)."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        code, *comment = re.split(r"\s#", line, maxsplit=1)
        code = re.sub(r"\s\[[^\]]*\]", "", code).strip()
        if code.startswith(NOT_RUN):
            continue
        out.append((code, 1 if comment and re.search(r"\bexit 1\b", comment[0]) else 0))
    return out


def runnable_blocks() -> List[str]:
    return [b for b in sh_blocks()
            if "tests/fixtures" in b and not any(f in code for code, _ in commands(b) for f in USER_FILES)]


def test_the_readme_has_the_walk_throughs() -> None:
    blocks = runnable_blocks()
    text = "\n".join(blocks)
    # the quick start, the launch walk-through and the attestation example: if one stops matching
    # the filter (a renamed fixture, a user file added), this test must be looked at again
    for needle in ("snpmeasure measure --mode snp", "snpmeasure id-block", "snpmeasure launch --object",
                   "snpmeasure report verify", "snpmeasure policy encode"):
        assert needle in text, needle


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
    script = ["set -o pipefail"]
    for i, (code, _) in enumerate(cmds):
        script += [code, f'echo "@rc {i} $?" >&2']
    env = dict(os.environ, PATH=f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    res = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True,
                         stdin=subprocess.DEVNULL, text=True, timeout=300)
    got = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^@rc (\d+) (\d+)$", res.stderr, flags=re.M)}
    for i, (code, want) in enumerate(cmds):
        assert got.get(i) == want, f"{code!r} exited {got.get(i)} (want {want}):\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.stderr
