"""snpmeasure.tables: every row equals its own measurement, in JSON and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snpmeasure import measure
from snpmeasure.tables import rows_from_csv, table

from .builders.manifests import A
from .support import run_ours

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


def test_table_rows_equal_measurements_and_formats(tmp_path: Path) -> None:
    rows = table(
        ovmf=A,
        vcpus="1-3",
        vcpu_types=["EPYC-Milan", "0xa10f10"],
        profiles=["qemu", "gce"],
        guest_features=[None, 0x21],
        kernel=__file__,
    )
    assert len(rows) == 2 * 2 * 2 * 3
    for r in rows:
        cpu = {"vcpu_type": r.vcpu_type} if not r.vcpu_type.startswith("0x") else {"vcpu_sig": int(r.vcpu_type, 16)}
        want = measure(
            mode="snp",
            ovmf=A,
            vcpus=r.vcpus,
            profile=r.profile,
            guest_features=r.guest_features,
            kernel=__file__,
            **cpu,
        )
        assert r.measurement == want.digest and r.hexdigest() == want.hex()
    rc, out, _ = run_ours(
        ["table", "--ovmf", A, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--profile", "qemu,ec2", "--csv"]
    )
    assert rc == 0 and len(rows_from_csv(out)) == 4
    rc, out, _ = run_ours(["table", "--ovmf", A, "--vcpus", "1-2", "--vcpu-type", "EPYC-Milan", "--profile", "qemu"])
    doc = json.loads(out)
    assert doc["schema"] == "snpmeasure/reference-values" and len(doc["rows"]) == 2
    rc, _, err = run_ours(["table", "--ovmf", A, "--vcpu-type", "Pentium"])
    assert rc == 2 and "unknown CPU model" in err


def test_two_profiles_of_one_name_are_two_launches() -> None:
    """table() shares the launch up to the VMSAs between rows of one profile: by the whole profile,
    not its name (a user's "custom" based on gce is not another "custom" based on qemu)."""
    from snpmeasure.profiles import LaunchProfile

    one = LaunchProfile.from_json({"base": "qemu", "name": "custom"})
    other = LaunchProfile.from_json({"base": "gce", "name": "custom"})
    rows = table(ovmf=A, vcpu_types=["EPYC-Milan"], profiles=[one, other])
    assert len(rows) == 2  # one row each, so the loop below checks both
    for row, prof in zip(rows, (one, other)):
        assert row.measurement == measure(ovmf=A, vcpus=1, vcpu_type="EPYC-Milan", profile=prof).digest
