"""`snpmeasure info`: the backend, kernels and CPUs, as text and JSON."""

from __future__ import annotations

import json

from snpmeasure import _core

from ..support import run_ours


def test_info_text_and_json_agree() -> None:
    rc, out, err = run_ours(["info", "--json"])
    assert rc == 0 and err == ""
    doc = json.loads(out)
    assert (
        doc["backend"] == _core.backend
        and doc["active"] in doc["supported"]
        and set(doc["supported"]) <= set(doc["built"])
    )
    rc, text, _ = run_ours(["info"])
    assert rc == 0
    for key, value in doc.items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        assert f"{key}: {shown}" in text.splitlines()
