"""snpmeasure.profiles against hostile profile documents."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from snpmeasure.profiles import LaunchProfile

from .builders.hostile import json_values, only_errors

pytestmark = [pytest.mark.sanitize]


@given(doc=json_values)
def test_profile_documents(doc: Any) -> None:
    only_errors(lambda: LaunchProfile.from_json(doc))
    only_errors(lambda: LaunchProfile.from_json({"base": "qemu", "vmsa": doc}))
