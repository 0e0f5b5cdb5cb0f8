"""snpmeasure.measurement against hostile input: mutated images measure or raise snpmeasure.Error, in bounded memory."""

from __future__ import annotations

import os
import random
import resource
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpmeasure import measure
from snpmeasure.images import FirmwareImage

from .builders.hostile import A, only_errors, seeds
from .builders.ovmf import build_image

pytestmark = [pytest.mark.sanitize]


@settings(max_examples=20)
@given(rnd=seeds, n=st.integers(1, 4))
def test_measuring_mutated_images_only_raises_errors(
    rnd: random.Random, n: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("img") / "ovmf.fd"
    data = bytearray(A.read_bytes())
    for _ in range(n):
        data[len(data) - 1 - rnd.randrange(512)] ^= 1 << rnd.randrange(8)
    path.write_bytes(bytes(data))
    only_errors(lambda: measure(mode="snp", ovmf=path, vcpus=2, vcpu_type="EPYC-v4", kernel=os.devnull))


def test_huge_sections_are_measured_in_bounded_memory(tmp_path: Path) -> None:
    """A firmware whose SNP_SEC_MEM claims almost all of the 4 GiB below it: one C call over ~1M
    ZERO pages, with no buffer proportional to the section."""
    img = build_image(size=0x4000, sections=[(0x1000, 0xFFBFB000, 1)], reset_eip=0x80B004)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(mode="snp", ovmf=FirmwareImage(img, name="huge"), vcpus=1, vcpu_type="EPYC-v4")
    assert len(m.digest) == 48
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024
