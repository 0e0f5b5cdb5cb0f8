"""The public API (snpmeasure/__init__.py): one table of names drives lazy loading, ``__all__``,
``dir()`` and the imports type checkers read; a user's ``mypy --strict`` accepts the documented API."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import snpmeasure
from snpmeasure import errors

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "snpmeasure" / "__init__.py"


def _type_checking_imports() -> dict:
    """name → module of the ``from .module import name as name`` lines under ``if TYPE_CHECKING``."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.level == 1, ast.unparse(imp)
                for alias in imp.names:
                    assert alias.asname == alias.name, (
                        f"{alias.name}: re-export it as 'import {alias.name} as {alias.name}'"
                    )
                    found[alias.name] = imp.module
    return found


def test_all_is_the_export_table() -> None:
    assert snpmeasure.__all__ == sorted(snpmeasure.__all__)
    assert sorted(snpmeasure.__all__) == sorted(snpmeasure._EXPORTS)
    assert len(set(snpmeasure.__all__)) == len(snpmeasure.__all__)


def test_every_name_loads_from_the_module_the_table_names() -> None:
    for name, module in snpmeasure._EXPORTS.items():
        value = getattr(snpmeasure, name)
        assert value is getattr(importlib.import_module(f"snpmeasure.{module}"), name), name


def test_the_typing_view_covers_every_lazy_name() -> None:
    """Names not imported eagerly at the top of __init__ are imported for type checkers, from the
    module the table names (so mypy sees the same object the lazy loader returns)."""
    eager = {n for n, m in snpmeasure._EXPORTS.items() if m in ("_version", "errors", "pages")}
    typing_view = _type_checking_imports()
    assert set(typing_view) == set(snpmeasure._EXPORTS) - eager
    for name, module in typing_view.items():
        assert snpmeasure._EXPORTS[name] == module, name


def test_dir_lists_public_names_only() -> None:
    names = dir(snpmeasure)
    assert names == sorted(snpmeasure._EXPORTS)
    for private in ("Any", "Dict", "TYPE_CHECKING", "import_module", "_typing", "annotations"):
        assert private not in names


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        snpmeasure.nope  # noqa: B018


def test_every_exception_is_in_errors_and_exported() -> None:
    """Each exception class any snpmeasure module defines comes from snpmeasure.errors and is a
    public name of the package."""
    defined = {obj for name, obj in vars(errors).items() if inspect.isclass(obj) and issubclass(obj, Exception)}
    for cls in defined:
        assert cls.__module__ == "snpmeasure.errors"
        assert getattr(snpmeasure, cls.__name__) is cls, cls.__name__
        assert cls.__name__ in errors.__all__
    for path in sorted((ROOT / "snpmeasure").rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not any(b.endswith(("Error", "Exception")) for b in bases), (
                    f"{path.name}: {node.name} belongs in errors.py"
                )


def test_mypy_strict_accepts_a_consumer_of_the_documented_api() -> None:
    """tests/typing/consumer.py uses every name the README and docs show, as a user's script would."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
            str(ROOT / "tests" / "typing" / "consumer.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_consumer_uses_every_name_the_docs_show() -> None:
    """Every ``snpmeasure.NAME`` a README or docs example uses is one the consumer script imports."""
    consumer = (ROOT / "tests" / "typing" / "consumer.py").read_text(encoding="utf-8")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    shown = set()
    for page in pages:
        for block in re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M):
            shown |= set(re.findall(r"\bsnpmeasure\.([A-Za-z_]\w*)", block))
            for m in re.finditer(r"from snpmeasure import ([\w, ]+)", block):
                shown |= {n.strip() for n in m.group(1).split(",")}
    assert shown, "no Python examples found"
    missing = sorted(n for n in shown if not re.search(rf"\b{n}\b", consumer))
    assert not missing, f"tests/typing/consumer.py does not use {missing}"
    assert shown <= set(snpmeasure.__all__), sorted(shown - set(snpmeasure.__all__))


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


def test_a_bad_simd_setting_is_one_line_and_import_still_works() -> None:
    """SNPMEASURE_SIMD applies when the core loads: ``import snpmeasure`` works, the core's first
    use raises ImportError naming the variable, and every command says it in one line (exit 2)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SNPMEASURE_SIMD": "bogus"}
    code = "import snpmeasure\ntry:\n    snpmeasure.LaunchDigest\nexcept ImportError as e:\n    print(e.name)\n"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout == "SNPMEASURE_SIMD\n"
    backend = subprocess.run(
        [sys.executable, "-m", "snpmeasure", "info"],
        env={**os.environ, "SNPMEASURE_BACKEND": "bogus"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert backend.returncode == 2 and backend.stderr == (
        "snpmeasure info: error: SNPMEASURE_BACKEND: must be 'native' or 'python', got 'bogus'\n"
    )
    for argv in (["info"], ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", "x"]):
        run = subprocess.run(
            [sys.executable, "-m", "snpmeasure", *argv], env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode == 2 and run.stdout == "", run
        assert run.stderr == (
            f"snpmeasure {argv[0]}: error: SNPMEASURE_SIMD: must be 'auto', 'on', 'off', 'avx512', 'avx2' or "
            "'portable', got 'bogus'\n"
        )
