"""snpmeasure.blobs against hostile input: random strings and bytes raise only snpmeasure.Error; files are read bounded."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure import blobs
from snpmeasure.blobs import IdAuth, IdBlock
from snpmeasure.errors import Error

from .builders.hostile import AUTH, BLOCK, mutate, only_errors, seeds

pytestmark = [pytest.mark.sanitize]


@given(
    prop=st.sampled_from(["host-data", "guest-visible-workarounds", "id-block", "id-auth"]), text=st.text(max_size=200)
)
def test_blob_strings(prop: str, text: str) -> None:
    only_errors(lambda: blobs.parse_blob(prop, text))


@given(rnd=seeds, n=st.integers(1, 6))
def test_id_block_and_auth_bytes(rnd: random.Random, n: int) -> None:
    only_errors(lambda: IdBlock.from_bytes(mutate(BLOCK.to_bytes(), rnd, n)))
    only_errors(lambda: IdAuth.from_bytes(mutate(AUTH.to_bytes(), rnd, n)).verify(BLOCK))
    only_errors(lambda: IdAuth.from_bytes(rnd.randbytes(4096)))


def test_blob_files_are_read_bounded(tmp_path: Path) -> None:
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(Error, match="is larger than 4096 bytes; the value must be at most 4096 bytes"):
        blobs.parse_blob("id-auth", "@" + str(big))
