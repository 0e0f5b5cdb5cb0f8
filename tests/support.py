"""Helpers the test modules share: fixture paths, both LaunchDigest backends, the CLI run in
this process, kernel selection."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Type

from snpmeasure import _core, _reference, cli
from snpmeasure.pages import LaunchDigestBase

FIXTURES = Path(__file__).parent / "fixtures"

BACKENDS: Dict[str, Type[LaunchDigestBase]] = {"python": _reference.LaunchDigest}
if _core.native_available():
    BACKENDS["native"] = _core.NativeLaunchDigest


def run_ours(argv: List[str]) -> tuple:
    """``snpmeasure ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def using_simd(kernel: str) -> Iterator[None]:
    """Run a block with one content-hashing kernel, then restore the previous one."""
    before = str(_core.simd_info()["active"])
    _core.set_simd(kernel)
    try:
        yield
    finally:
        _core.set_simd(before)


def load_vectors() -> Dict[str, Any]:
    with open(FIXTURES / "vectors.json", encoding="utf-8") as f:
        data: Dict[str, Any] = json.load(f)
    return data


def debian_ovmf_images() -> List[Path]:
    """Debian's full-size OVMF builds, fetched by .ci/run (or SNPMEASURE_OVMF_DIR)."""
    root = Path(os.environ.get("SNPMEASURE_OVMF_DIR", Path(__file__).parent.parent / ".ci" / "ovmf"))
    names = ["OVMF.fd", "OVMF_CODE.fd", "OVMF_CODE_4M.fd"]
    found = []
    for name in names:
        hits = sorted(root.rglob(name)) if root.is_dir() else []
        found.extend(hits[:1])
    return found
