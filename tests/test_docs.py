"""The documentation is true: every shell and Python example in the README and docs/ runs (shell
lines exit with the status their comments promise: `# exit 1` where a check is meant to fail, 0
elsewhere); every file a comment or page cites exists, with the section it names; the CLI
reference's flag tables are the parser's; the design's room table lists each module's imports.

The files a user brings are replaced by the repository's (OVMF.fd by an AmdSev OVMF fixture, vmlinuz and
initrd.img by tests/fixtures/empty, a SHA256 placeholder by a digest); lines with placeholders that have no
stand-in (`...`, B64, tik.bin, launch.json) and install commands are left out, and `[--json]`-style
optional flags are dropped. Each block runs in one bash process, in order, so the walk-through's
variables (M, OBJ, A) and files (idblock.json, OVMF.manifest.json) carry over as they would for a
user. Each example line must be one command (no pipes, lists or `;`), so its exit status is its own,
and a variable it uses must be set (set -u)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from .support import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: The pages whose examples run: the README, then docs/ in name order.
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
STAND_INS = (
    (r"\bOVMF\.fd\b", "tests/fixtures/peer/ovmf_AmdSev_suffix.bin"),
    (r"\bvmlinuz\b", "tests/fixtures/empty"),
    (r"\binitrd\.img\b", "tests/fixtures/empty"),
    (r"\bSHA256\b", "ab" * 32),
)
#: Whole arguments with no stand-in; a line holding one is left out, and test_only_known_lines_are_left_out
#: lists every such line, so a real command cannot be dropped unnoticed.
PLACEHOLDER = re.compile(r"(?<!\S)(?:\.\.\.|B64|tik\.bin|launch\.json)(?!\S)")
LEFT_OUT = [
    "snpmeasure measure ... --json",
    "snpmeasure measure ... --trace",
    "snpmeasure measure --mode sev --ovmf OVMF.fd --tik tik.bin --launch-measure-blob B64",
]
NOT_RUN = ("pip ", "pytest", "python -m build")


def blocks_of(language: str) -> List[str]:
    """The fenced ``language`` blocks of every page, in page order."""
    return [
        b
        for page in PAGES
        for b in re.findall(rf"^```{language}\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    ]


def sh_blocks() -> List[str]:
    return blocks_of("sh")


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
    for needle in (
        "snpmeasure measure --mode snp",
        "snpmeasure id-block",
        "snpmeasure launch --object",
        "snpmeasure report verify",
        "snpmeasure policy encode",
        "snpmeasure ovmf-hash",
        "snpmeasure table",
        "snpmeasure measure --list-profiles",
        "--firmware-manifest OVMF.manifest.json",
        "snpmeasure measure --mode snp:igvm",
        "snpmeasure igvm sign",
        "snpmeasure igvmmeasure",
        "snpmeasure launch --igvm",
        "snpmeasure explain --measurement",
    ):
        assert needle in text, needle
    ran = [code for b in blocks for code, _ in commands(b)]
    assert all(code.startswith(("snpmeasure ", "M=", "OBJ=", "A=", "I=")) for code in ran), ran


def test_only_known_lines_are_left_out() -> None:
    left_out = [code for b in sh_blocks() for code, _ in lines(b) if PLACEHOLDER.search(code)]
    assert len(left_out) == len(LEFT_OUT) and all(code.startswith(known) for code, known in zip(left_out, LEFT_OUT)), (
        left_out
    )


def test_example_lines_are_single_commands() -> None:
    for block in runnable_blocks():
        for code, _ in commands(block):
            assert not re.search(r"\||&&|;", code), (
                f"one command per README example line, so its exit status is its own: {code!r}"
            )


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
    res = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=300,
    )
    got = {int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^@rc (\d+) (\d+)$", res.stderr, flags=re.M)}
    for i, (code, want) in enumerate(cmds):
        assert got.get(i) == want, f"{code!r} exited {got.get(i)} (want {want}):\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.stderr


# ---- Python examples ----------------------------------------------------------------------------

#: Files a Python example names, and the repository's stand-ins for them.
PY_STAND_INS = {
    "OVMF.fd": "tests/fixtures/peer/ovmf_AmdSev_suffix.bin",
    "vmlinuz": "tests/fixtures/empty",
    "initrd.img": "tests/fixtures/empty",
}


@pytest.mark.parametrize("block", blocks_of("python"), ids=lambda b: b.split("\n", 1)[0][:40])
def test_python_example_runs(block: str, tmp_path: Path) -> None:
    (tmp_path / "tests").symlink_to(FIXTURES.parent, target_is_directory=True)
    for name, stand_in in PY_STAND_INS.items():
        (tmp_path / name).symlink_to(stand_in if stand_in.startswith("/") else ROOT / stand_in)
    res = subprocess.run(
        [sys.executable, "-c", block],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert res.returncode == 0, f"{block}\n{res.stdout}\n{res.stderr}"


def test_the_docs_have_python_examples() -> None:
    assert len(blocks_of("python")) >= 3


# ---- citations ----------------------------------------------------------------------------------

#: A cited Markdown file (a path ending in .md), optionally with a section: §3.7, §3 #4.
CITATION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b(?: ?§ ?(\d+(?:\.\d+)*)(?: #(\d+))?)?")


def _tracked_text_files() -> List[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    keep = (".py", ".c", ".h", ".md", ".rst", ".cfg", ".toml", ".in", ".txt", "Makefile", "run")
    return [ROOT / f for f in out if f.endswith(keep) and not f.startswith("tests/fixtures/") and (ROOT / f).is_file()]


def _resolve(citing: Path, name: str) -> Path | None:
    for base in (citing.parent, ROOT, ROOT / "snpmeasure"):  # setup.cfg names package data by its path in the package
        if (base / name).is_file():
            return base / name
    return None


def test_every_cited_file_and_section_exists() -> None:
    """A comment or page that cites `docs/reference/firmware-abi.md §3.7` (or any .md file) names a
    file of this repository and a section that file has (a heading numbered 3.7, or row 4 of §3's
    table for `§3 #4`)."""
    problems = []
    for path in _tracked_text_files():
        if path == Path(__file__):
            continue
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in CITATION.finditer(line):
                name, section, row = m.groups()
                target = _resolve(path, name)
                where = f"{path.relative_to(ROOT)}:{lineno}"
                if target is None:
                    problems.append(f"{where}: cites {name}, which the repository lacks")
                    continue
                if section is None:
                    continue
                text = target.read_text(encoding="utf-8")
                if not re.search(rf"^#+ {re.escape(section)}(?:\.| )", text, flags=re.M):
                    problems.append(f"{where}: cites {name} §{section}, which has no such section")
                elif row is not None and not re.search(rf"^\| {row} \|", text, flags=re.M):
                    problems.append(f"{where}: cites {name} §{section} #{row}, which has no such row")
    assert not problems, "\n".join(problems)


def test_the_citation_check_finds_a_missing_file(tmp_path: Path) -> None:
    assert CITATION.search("see snp-abi.md §3.7").groups() == ("snp-abi.md", "3.7", None)
    assert CITATION.search("(docs/reference/peers.md §3 #4)").groups() == ("docs/reference/peers.md", "3", "4")
    assert _resolve(tmp_path / "x.py", "no-such-notes.md") is None


# ---- the CLI reference and the design -----------------------------------------------------------


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_tables_are_the_parsers() -> None:
    gen = _load(ROOT / "docs" / "_cli_reference.py")
    assert gen.current() == gen.generated(), "docs/cli.md is stale: run python docs/_cli_reference.py"


def _imports_of(path: Path) -> set:
    """The snpmeasure modules ``path`` imports anywhere (relative imports), as dotted names."""
    package = path.parent.relative_to(ROOT / "snpmeasure").parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - (node.level - 1)])
            if node.module:
                found.add(".".join(base + node.module.split(".")))
            else:  # from . import name: a submodule, or a name of the package itself
                for alias in node.names:
                    sub = ROOT / "snpmeasure" / Path(*base, alias.name)
                    found.add(
                        ".".join(base + [alias.name])
                        if any(sub.parent.glob(sub.name + ".*")) or sub.is_dir()
                        else ".".join(base)
                    )
    return found


def test_the_design_room_table_lists_every_import() -> None:
    """docs/design.md's "imports" column names every snpmeasure module each module imports, and
    (but in the command modules' shared row and the entry point's) no module it does not."""
    rows = re.findall(
        r"^\| `snpmeasure/([\w/<>]+)\.py`[^|]*\| [^|]* \| ([^|]*) \|$",
        (ROOT / "docs" / "design.md").read_text(encoding="utf-8"),
        flags=re.M,
    )
    table = {name.replace("/", ".").removesuffix(".__init__"): set(re.findall(r"[\w.]+", cell)) for name, cell in rows}
    assert table, "no rooms found in docs/design.md"
    problems = []
    modules = {
        ".".join(p.relative_to(ROOT / "snpmeasure").with_suffix("").parts) for p in (ROOT / "snpmeasure").rglob("*.py")
    }
    for path in sorted((ROOT / "snpmeasure").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT / "snpmeasure").with_suffix("").parts).removesuffix(".__init__")
        if name.startswith("cli.") and name not in table:
            name = "cli.<command>"  # the command modules share one row
        if name not in table:
            if name != "__main__":
                problems.append(f"snpmeasure/{path.relative_to(ROOT / 'snpmeasure')} has no row")
            continue
        missing = {m for m in _imports_of(path) if m not in table[name] and m.split(".")[-1] not in table[name]}
        if missing:
            problems.append(f"{name} imports {sorted(missing)}, which its row does not list")
        if name not in ("__init__", "cli", "cli.<command>"):  # lazy imports by name; a union of rooms
            imported = {m.split(".")[-1] for m in _imports_of(path)} | set(_imports_of(path))
            stale = sorted(m for m in table[name] if m in modules and m not in imported)
            if stale:
                problems.append(f"{name}'s row lists {stale}, which it does not import")
    assert not problems, "\n".join(problems)


def test_no_library_module_imports_the_cli() -> None:
    for path in sorted((ROOT / "snpmeasure").rglob("*.py")):
        parts = path.relative_to(ROOT / "snpmeasure").parts
        if parts[0] in ("cli", "__main__.py"):
            continue
        assert not any(m == "cli" or m.startswith("cli.") for m in _imports_of(path)), path


#: Paths of repository files that comments and pages name (a test, a C source, a bench script).
REPO_PATH = re.compile(
    r"(?<![\w/.<-])((?:tests|snpmeasure|csrc|bench|fuzz|docs)/[\w./-]*\w\.(?:py|c|h|json|txt|rst|pem|bin|fd))\b"
)


#: Paths that look like this repository's but name another project's file, or one that must not exist.
NOT_OURS = {
    "docs/system/i386/amd-memory-encryption.rst",  # QEMU's documentation (a source in firmware-abi.md)
    "snpmeasure/measure.py",  # the module name test_init.py guards against
}


def test_every_cited_repository_path_exists() -> None:
    """A comment or page that names tests/..., snpmeasure/..., csrc/..., bench/... names a file this
    repository has (so a moved test or module cannot leave stale references)."""
    problems = []
    for path in _tracked_text_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for m in REPO_PATH.finditer(line):
                if m.group(1) not in NOT_OURS and not (ROOT / m.group(1)).exists():
                    problems.append(
                        f"{path.relative_to(ROOT)}:{lineno}: names {m.group(1)}, which the repository lacks"
                    )
    assert not problems, "\n".join(problems)
