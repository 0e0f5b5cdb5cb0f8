"""Shared test inputs (moved here from the test module they grew in, so no test imports another)."""

from __future__ import annotations

from typing import Any, Dict

from ..support import FIXTURES, load_vectors

KEYS = FIXTURES / "keys"


VECTOR: Dict[str, Any] = load_vectors()["id_blocks"][0]
