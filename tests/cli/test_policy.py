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
    # any 64-bit value is decoded, and the rules it breaks are reported (exit 1), not refused
    rc, out, err = run_ours(["policy", "decode", "0x10000"])
    assert rc == 1 and out.startswith("policy 0x10000\n") and "RESERVED_MBO       0" in out
    assert (
        err
        == "snpmeasure policy decode: error: RESERVED_MBO: bit 17 is reserved and must be 1 (0x10000; did you mean 0x30000?)\n"
    )
    rc, out, err = run_ours(["policy", "decode", "0xffffffffffffffff", "--json"])
    doc = json.loads(out)
    assert rc == 1 and doc["policy"] == "0xffffffffffffffff" and doc["valid"] is False
    assert [p["field"] for p in doc["problems"]] == ["RESERVED"] and "bits 63, 62, 61, 60 and more" in err
    assert {r["field"]: r["value"] for r in doc["fields"]}["RESERVED"] == "0x3fffffffff"
    rc, out, err = run_ours(["policy", "decode", "0x4000030000"])
    assert rc == 1 and err.endswith("bit 38 is set in 0x4000030000\n")
    # a value that is no 64-bit number is bad input
    rc, _, err = run_ours(["policy", "decode", str(1 << 64)])
    assert rc == 2 and "must be a 64-bit unsigned int" in err
    # a failed check is an error (exit 1), never a warning
    rc, out, err = run_ours(["policy", "encode", "--smt", "--page-swap-disable", "--firmware-abi", "1.55"])
    assert rc == 1 and err.startswith("snpmeasure policy encode: error: PAGE_SWAP_DISABLE") and "warning" not in err


def test_decode_json_has_one_shape_for_valid_and_invalid_values() -> None:
    """A consumer reads the same keys whatever the value: an invalid one's named fields come from its bits."""
    _, valid, _ = run_ours(["policy", "decode", "0xb0133", "--json"])
    rc, invalid, _ = run_ours(["policy", "decode", "0xfc0000000b0133", "--json"])
    good, bad = json.loads(valid), json.loads(invalid)
    assert rc == 1 and bad.keys() == good.keys() and bad["valid"] is False
    assert bad["policy"] == "0xfc0000000b0133"
    assert {k: v for k, v in bad.items() if k not in ("policy", "valid", "fields", "problems")} == {
        k: v for k, v in good.items() if k not in ("policy", "valid", "fields", "problems")
    }
    _, clear, _ = run_ours(["policy", "decode", "0x90133", "--json"])  # bit 17 clear
    assert json.loads(clear)["debug"] is True and json.loads(clear)["abi_minor"] == 0x33


def test_the_bit_17_hint_is_a_valid_policy_or_none() -> None:
    rc, _, err = run_ours(["policy", "decode", "0x1000000000000"])
    assert rc == 1 and "must be 1 (0x1000000000000)\n" in err and "did you mean" not in err
