"""snpmeasure.policy: GuestPolicy round trips, named bits, validation, the firmware's rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.errors import PolicyError
from snpmeasure.policy import FLAG_BITS, GuestPolicy

valid_policies = st.integers(0, (1 << 26) - 1).map(lambda v: v | (1 << 17))


@given(valid_policies)
def test_int_round_trip(value: int) -> None:
    pol = GuestPolicy.from_int(value)
    assert pol.to_int() == value == int(pol)
    assert GuestPolicy.parse(pol.hex()) == pol
    assert GuestPolicy.parse(str(value)) == pol


@given(
    st.builds(
        GuestPolicy,
        abi_major=st.integers(0, 255),
        abi_minor=st.integers(0, 255),
        **{attr: st.booleans() for attr, *_ in FLAG_BITS},
    )
)
def test_fields_round_trip(pol: GuestPolicy) -> None:
    assert GuestPolicy.from_int(pol.to_int()) == pol
    flags = [flag for attr, _, flag, *_ in FLAG_BITS if getattr(pol, attr)] + [f"abi={pol.abi_major}.{pol.abi_minor}"]
    assert GuestPolicy.parse(",".join(flags)) == pol


def test_named_bits() -> None:
    assert GuestPolicy().to_int() == 0x30000
    assert GuestPolicy.parse("smt,debug,abi=1.51").to_int() == 0x30000 | 0x80000 | 0x133
    for attr, bit, *_ in FLAG_BITS:
        assert GuestPolicy.from_int((1 << 17) | (1 << bit)).__getattribute__(attr) is True
    assert GuestPolicy.parse("0x20000") == GuestPolicy(smt=False)  # no flags: only the must-be-one bit


@pytest.mark.parametrize(
    "value,fragment",
    [
        (0x10000, "bit 17"),
        (0x300000, "bit 17"),
        (0x30000 | 1 << 26, "bit 26"),
        (0x30000 | 1 << 63, "bit 63"),
        (-1, "64-bit"),
        (1 << 64, "64-bit"),
    ],
)
def test_bad_ints_name_the_bit(value: int, fragment: str) -> None:
    with pytest.raises(PolicyError) as exc:
        GuestPolicy.from_int(value)
    assert fragment in str(exc.value) and exc.value.field == "policy"


@pytest.mark.parametrize("text", ["smt,bogus", "abi=1", "abi=x.y", "0xZZ", "", "  ", "smt,,debug", "smt,", ",smt"])
def test_bad_strings(text: str) -> None:
    with pytest.raises(PolicyError):
        GuestPolicy.parse(text)


def test_field_validation() -> None:
    with pytest.raises(PolicyError, match="abi_major"):
        GuestPolicy(abi_major=256)
    with pytest.raises(PolicyError, match="debug"):
        GuestPolicy(debug=1)  # type: ignore[arg-type]


def test_firmware_problems() -> None:
    assert GuestPolicy().firmware_problems((1, 55)) == []
    assert [f for f, _ in GuestPolicy(smt=False).firmware_problems()] == ["SMT"]
    assert GuestPolicy(smt=False).firmware_problems(smt_enabled=False) == []
    assert [f for f, _ in GuestPolicy(abi_major=1, abi_minor=58).firmware_problems((1, 55))] == ["ABI_MAJOR.ABI_MINOR"]
    assert [f for f, _ in GuestPolicy(page_swap_disable=True).firmware_problems((1, 55))] == ["PAGE_SWAP_DISABLE"]
    assert [f for f, _ in GuestPolicy(cxl_allow=True).firmware_problems((1, 51))] == ["CXL_ALLOW"]


def test_describe_lists_every_field() -> None:
    rows = GuestPolicy(debug=True).describe()
    names = [r["field"] for r in rows]
    assert names[:3] == ["ABI_MINOR", "ABI_MAJOR", "SMT"] and "RESERVED_MBO" in names and names[-1] == "RESERVED"
    assert next(r for r in rows if r["field"] == "DEBUG")["value"] == 1


@given(st.integers(0, (1 << 64) - 1))
def test_any_64_bit_value_is_described_and_judged(value: int) -> None:
    from snpmeasure.policy import describe_value, policy_value, reserved_bit_problems

    rows = {r["field"]: r for r in describe_value(value)}
    rebuilt = 0
    for row in rows.values():
        low = int(str(row["bits"]).split(":")[-1])
        rebuilt |= int(str(row["value"]), 0) << low
    assert rebuilt == value
    problems = reserved_bit_problems(value)
    try:
        assert GuestPolicy.from_int(value).to_int() == value and problems == []
    except PolicyError as exc:
        assert problems and exc.rule == problems[0][1]
    assert policy_value(hex(value)) == value == policy_value(value)
    assert policy_value("smt") == 0x30000


def test_newer_than_names_the_flags_a_firmware_abi_lacks() -> None:
    pol = GuestPolicy(cxl_allow=True, page_swap_disable=True)
    assert pol.newer_than((1, 51)) == [("cxl_allow", 21, (1, 55)), ("page_swap_disable", 25, (1, 58))]
    assert pol.newer_than((1, 55)) == [("page_swap_disable", 25, (1, 58))] and pol.newer_than((1, 58)) == []
