"""snpmeasure.images against hostile images and manifests: bit flips, truncation, garbage, huge section counts."""

from __future__ import annotations

import json
import random
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.errors import Error
from snpmeasure.images import FirmwareImage, FirmwareManifest

from .builders.hostile import A, json_values, only_errors
from .builders.images import SEEDS, _exercise
from .builders.ovmf import build_image

MANIFEST = FirmwareManifest.from_image(A).to_json()


@pytest.mark.sanitize
@given(
    path=st.lists(
        st.sampled_from(
            [
                "schema",
                "schema_version",
                "firmware",
                "size",
                "sha256",
                "ovmf_digest",
                "sections",
                0,
                1,
                "gpa",
                "type",
                "sev_hash_table",
                "sev_es_reset_eip",
            ]
        ),
        min_size=1,
        max_size=3,
    ),
    value=json_values,
)
def test_manifests(path: list, value: Any) -> None:
    doc = json.loads(json.dumps(MANIFEST))
    target: Any = doc
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return
    try:
        target[path[-1]] = value
    except (IndexError, TypeError):
        return
    only_errors(lambda: FirmwareManifest.from_json(doc))


@pytest.mark.sanitize
def test_section_count_and_walk_are_bounded() -> None:
    with pytest.raises(Error, match="limit"):
        FirmwareImage(build_image(sections=[(0x800000 + 0x1000 * i, 0x1000, 2) for i in range(1100)], size=0x8000))
    # A table of 100 bare 18-byte entries: the walk consumes at least 18 bytes per step and ends.
    im = FirmwareImage(build_image(extra=[(bytes([1, i % 256]) + bytes(14), b"") for i in range(100)], size=0x4000))
    assert len(im.table) == 102


@given(
    seed=st.sampled_from(range(len(SEEDS))),
    cut=st.integers(0, 8192),
    value=st.integers(0, 0xFFFF),
    where=st.integers(0, 400),
)
def test_truncation_and_size_fields(seed: int, cut: int, value: int, where: int) -> None:
    data = bytearray(SEEDS[seed])
    pos = len(data) - 32 - 18 - where
    data[pos : pos + 2] = struct.pack("<H", value)
    _exercise(bytes(data[: max(0, len(data) - cut)]))
    _exercise(bytes(data[cut:]))


def test_random_garbage_images() -> None:
    rnd = random.Random(1)
    for _ in range(200):
        _exercise(rnd.randbytes(4096 * rnd.randint(1, 3)))
