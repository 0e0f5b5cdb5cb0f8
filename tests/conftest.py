"""pytest setup: hypothesis profiles and the fixtures several test modules use. Helpers that
are not fixtures live in tests/support.py and tests/builders/ (test modules import those, never
each other or this file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Type

import pytest
from hypothesis import HealthCheck, settings

from snpmeasure.pages import LaunchDigestBase

from .support import BACKENDS

# "dev" is quick for local runs; "ci" (selected by .ci/run via HYPOTHESIS_PROFILE) runs more examples.
settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=sorted(BACKENDS))
def digest_cls(request: pytest.FixtureRequest) -> Type[LaunchDigestBase]:
    """Each LaunchDigest backend in turn."""
    return BACKENDS[request.param]


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path
