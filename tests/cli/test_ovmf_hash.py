"""`snpmeasure ovmf-hash`: the firmware-pages digest and the manifest it writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..builders.manifests import A
from ..support import FIXTURES, run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


def test_manifest_cli(tmp_path: Path) -> None:
    rc, out, _ = run_ours(["ovmf-hash", "--ovmf", A])
    assert (
        rc == 0
        and out.strip()
        == "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"
    )
    rc, out, _ = run_ours(["ovmf-hash", "--ovmf", A, "--json"])
    path = tmp_path / "m.json"
    path.write_text(out)
    argv = ["--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-v4", "--kernel", str(FIXTURES / "empty")]
    assert (
        run_ours(["measure", *argv, "--firmware-manifest", str(path)])[1]
        == run_ours(["measure", *argv, "--ovmf", A])[1]
    )
