"""snpmeasure.pages: the argument rules both LaunchDigest backends share."""

from __future__ import annotations

import pytest

from snpmeasure import InvalidInputError, LaunchDigest
from snpmeasure.firmware import Status


def test_page_type_checks_huge_ints_itself() -> None:
    """Enum lookup would fail to repr a 100000-bit int in its own ValueError message."""
    with pytest.raises(InvalidInputError) as exc:
        LaunchDigest().update(1 << 100000, 0, bytes(4096))
    assert exc.value.field == "page_type" and len(str(exc.value)) < 200
    with pytest.raises(InvalidInputError) as exc:
        Status(1 << 10000)
    assert exc.value.field == "status" and len(str(exc.value)) < 200
