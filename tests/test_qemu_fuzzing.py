"""snpmeasure.qemu against hostile objects, QMP JSON and libvirt XML (entity tricks included)."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.errors import Error
from snpmeasure.qemu import SevSnpGuest

from .builders.hostile import AUTH, BLOCK, json_values, mutate, only_errors, seeds

pytestmark = [pytest.mark.sanitize]


GOOD_OBJECT = SevSnpGuest(
    id="sev0",
    id_block=BLOCK.base64(),
    id_auth=AUTH.base64(),
    author_key_enabled=True,
    host_data=base64.b64encode(bytes(32)).decode(),
    reduced_phys_bits=1,
    cbitpos=51,
)


@given(rnd=seeds, n=st.integers(1, 8))
def test_qemu_object_strings(rnd: random.Random, n: int) -> None:
    text = GOOD_OBJECT.to_cli().encode()
    only_errors(lambda: SevSnpGuest.from_cli(mutate(text, rnd, n).decode("latin-1")))


@given(st.text(max_size=120))
def test_qemu_object_random_text(text: str) -> None:
    only_errors(lambda: SevSnpGuest.from_cli("sev-snp-guest," + text))


@given(doc=json_values)
def test_qmp_json(doc: Any) -> None:
    only_errors(lambda: SevSnpGuest.from_qmp(doc))
    only_errors(
        lambda: SevSnpGuest.from_qmp(
            {"execute": "object-add", "arguments": {"qom-type": "sev-snp-guest", "id": "a", "x": doc}}
        )
    )


@given(rnd=seeds, n=st.integers(1, 8))
def test_libvirt_xml(rnd: random.Random, n: int) -> None:
    text = GOOD_OBJECT.to_libvirt().encode()
    only_errors(lambda: SevSnpGuest.from_libvirt(mutate(text, rnd, n).decode("latin-1")))


def test_libvirt_entity_tricks_are_refused() -> None:
    for doc in [
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><launchSecurity type="sev-snp"><policy>&e;</policy></launchSecurity>',
        '<launchSecurity type="sev-snp"><policy>&lt;</policy></launchSecurity>',
        '<launchSecurity type="sev-snp"><policy>&undefined;</policy></launchSecurity>',
    ]:
        with pytest.raises(Error):
            SevSnpGuest.from_libvirt(doc)


@given(json_values)
def test_id_block_fields_of_any_json_raise_only_named_errors(doc: Any) -> None:
    from snpmeasure.qemu import id_block_fields

    try:
        id_block_fields(
            {"id_block": "AA==", "id_auth": "AA==", "id_block_fields": doc} if isinstance(doc, dict) else doc, "F"
        )
    except Error as exc:
        assert str(exc).startswith("F") or "policy" in str(exc)


@given(st.text(alphabet=st.sampled_from(list("ab \t\n'\"\\$=-é")), max_size=24))
def test_command_lines_split_as_shlex_splits_them(text: str) -> None:
    """The linear splitter (shlex's is quadratic in a word's length) reads what shlex.split reads,
    errors included."""
    import shlex

    from snpmeasure.qemu_cmdline import _shell_split

    try:
        expected: Any = shlex.split(text, comments=False, posix=True)
    except ValueError as exc:
        expected = str(exc)
    try:
        got: Any = _shell_split(text)
    except ValueError as exc:
        got = str(exc)
    assert got == expected
