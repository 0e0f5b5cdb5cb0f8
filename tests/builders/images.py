"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

import warnings

from snpmeasure.errors import Error
from snpmeasure.images import FirmwareImage

from ..support import FIXTURES

PEER = FIXTURES / "peer"


def _exercise(data: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = FirmwareImage(data, name="mutant")
            im.sev_es_reset_eip, im.sev_hash_table
            for s in im.sections:
                s.type_name
    except Error:
        pass


SEEDS = [
    (PEER / "ovmf_AmdSev_suffix.bin").read_bytes(),
    (PEER / "ovmf_OvmfX64_suffix.bin").read_bytes(),
    (PEER / "svsm.bin").read_bytes()[-8192:],
]
