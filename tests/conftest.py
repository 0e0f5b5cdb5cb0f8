"""Shared test setup: hypothesis profiles, both LaunchDigest backends, fixture paths."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Type

import pytest
from hypothesis import HealthCheck, settings

from snpmeasure import _core, _reference, cli
from snpmeasure.pages import LaunchDigestBase

# "dev" is quick for local runs; "ci" (selected by .ci/run via HYPOTHESIS_PROFILE) runs more examples.
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large])
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

FIXTURES = Path(__file__).parent / "fixtures"

BACKENDS: Dict[str, Type[LaunchDigestBase]] = {"python": _reference.LaunchDigest}
if _core.native_available():
    BACKENDS["native"] = _core.NativeLaunchDigest


@pytest.fixture(params=sorted(BACKENDS))
def digest_cls(request: pytest.FixtureRequest) -> Type[LaunchDigestBase]:
    """Each LaunchDigest backend in turn."""
    return BACKENDS[request.param]


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


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path
