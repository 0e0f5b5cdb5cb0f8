"""snpmeasure.profiles: launch profiles round-trip through JSON and differ where documented."""

from __future__ import annotations

import json

import pytest

from snpmeasure import measure
from snpmeasure.profiles import BUILTIN_PROFILES, LaunchProfile

from .builders.measure_cases import A

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


def test_profile_json_round_trip() -> None:
    for p in BUILTIN_PROFILES.values():
        assert LaunchProfile.from_json(json.loads(json.dumps(p.to_json()))) == p


def test_profiles_differ_where_documented() -> None:
    kw = dict(mode="snp", ovmf=A, vcpus=2, vcpu_type="EPYC-v4")
    digests = {name: measure(**kw, profile=name).hex() for name in BUILTIN_PROFILES if name != "svsm"}
    assert len(set(digests.values())) == len(digests)
