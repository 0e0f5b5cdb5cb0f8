"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

import random
import warnings
from typing import Any, Callable

from hypothesis import strategies as st

from snpmeasure.blobs import sign_id_block
from snpmeasure.errors import Error, InvalidInputError

from ..support import FIXTURES

A = FIXTURES / "peer" / "ovmf_AmdSev_suffix.bin"


KEYS = FIXTURES / "keys"


REPORT = (FIXTURES / "attestation" / "attestation.bin").read_bytes()


LD = bytes(range(48))


BLOCK, AUTH = sign_id_block(LD, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def only_errors(fn: Callable[[], Any]) -> None:
    """Run fn; it may succeed or raise a snpmeasure.Error whose message names a field."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except InvalidInputError as exc:
        assert exc.field and str(exc).startswith(exc.field)
    except Error:
        pass


def mutate(data: bytes, rnd: random.Random, n: int) -> bytes:
    out = bytearray(data)
    for _ in range(n):
        op = rnd.randrange(3)
        pos = rnd.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rnd.randrange(8)
        elif op == 1:
            out[pos:pos] = bytes([rnd.randrange(256)])
        elif out:
            del out[min(pos, len(out) - 1)]
    return bytes(out)


seeds = st.integers(0, 2**32).map(random.Random)
