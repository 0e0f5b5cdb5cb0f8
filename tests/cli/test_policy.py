"""`snpmeasure policy decode|encode`."""

from __future__ import annotations

import json

from ..support import run_ours


def test_policy_without_a_firmware_checks_nothing() -> None:
    """Plain encoding and decoding exit 0; the SMT rule applies once --firmware-abi names a firmware."""
    assert run_ours(["policy", "encode", "--debug"])[:2] == (0, "0xa0000\n")
    assert run_ours(["policy", "decode", "0x20000"])[0] == 0
    rc, _, err = run_ours(["policy", "decode", "0x20000", "--firmware-abi", "1.55"])
    assert rc == 1 and "SMT" in err
    assert run_ours(["policy", "decode", "0x20000", "--firmware-abi", "1.55", "--host-smt-off"])[0] == 0


def test_cli_decode_encode() -> None:
    rc, out, _ = run_ours(["policy", "decode", "0x30000", "--json"])
    doc = json.loads(out)
    assert rc == 0 and doc["policy"] == "0x30000" and doc["smt"] is True
    rc, out, _ = run_ours(["policy", "encode", "--smt", "--debug", "--abi-major", "1", "--abi-minor", "51"])
    assert (rc, out.strip()) == (0, "0xb0133")
    rc, out, err = run_ours(["policy", "decode", "0x10000"])
    assert rc == 2 and "bit 17" in err and len(err.strip().splitlines()) == 1
    rc, out, err = run_ours(["policy", "encode", "--smt", "--page-swap-disable", "--firmware-abi", "1.55"])
    assert rc == 1 and "PAGE_SWAP_DISABLE" in err
