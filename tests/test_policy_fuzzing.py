"""snpmeasure.policy against hostile policy strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.policy import GuestPolicy

from .builders.hostile import only_errors

pytestmark = [pytest.mark.sanitize]


@given(st.text(max_size=60))
def test_policy_strings(text: str) -> None:
    only_errors(lambda: GuestPolicy.parse(text))
