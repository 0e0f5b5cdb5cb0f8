"""snpmeasure.qemu: the sev-snp-guest object as -object, QMP and libvirt XML, with QEMU's rules and messages."""

from __future__ import annotations

import base64
import json
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snpmeasure.errors import BlobError, QemuObjectError
from snpmeasure.qemu import SevSnpGuest

b64 = lambda n: st.binary(min_size=n, max_size=n).map(lambda b: base64.b64encode(b).decode())  # noqa: E731


objects = st.builds(
    SevSnpGuest,
    id=st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    policy=st.integers(0, 2**64 - 1),
    guest_visible_workarounds=st.none() | b64(16),
    id_block=st.none() | b64(96),
    id_auth=st.none() | st.integers(0, 4096).flatmap(b64),
    author_key_enabled=st.booleans(),
    host_data=st.none() | b64(32),
    vcek_disabled=st.booleans(),
    kernel_hashes=st.booleans(),
    cbitpos=st.none() | st.integers(0, 63),
    reduced_phys_bits=st.none() | st.integers(1, 63),
    debug_swap=st.booleans(),
    secure_tsc=st.booleans(),
)


@given(objects)
def test_every_form_written_is_read_back(obj: SevSnpGuest) -> None:
    """Each writer's output is accepted by the matching reader and gives the same object; an object
    without the host values (cbitpos, reduced-phys-bits) is written only as libvirt XML, which
    leaves them to the host, and the QEMU forms refuse it naming the missing property."""
    complete = obj.cbitpos is not None and obj.reduced_phys_bits is not None
    if complete:
        via_cli = SevSnpGuest.from_cli(obj.to_cli())
        assert via_cli == obj
        assert via_cli.to_cli() == obj.to_cli()
        assert SevSnpGuest.from_qmp(json.dumps(obj.to_qmp())) == obj
    else:
        missing = "reduced-phys-bits" if obj.reduced_phys_bits is None else "cbitpos"
        for write in (obj.to_cli, obj.to_qmp):
            with pytest.raises(QemuObjectError, match="is missing: QEMU") as e:
                write()
            assert e.value.field == missing
    empty = [v for v in (obj.guest_visible_workarounds, obj.id_block, obj.id_auth, obj.host_data) if v == ""]
    if empty and not (obj.debug_swap or obj.secure_tsc):
        with pytest.raises(QemuObjectError, match="is empty, which libvirt cannot write"):
            obj.to_libvirt()
    elif not (obj.debug_swap or obj.secure_tsc):
        back = SevSnpGuest.from_libvirt(obj.to_libvirt(), id=obj.id)
        assert back == obj
        if complete:
            assert SevSnpGuest.from_cli(back.to_cli()) == obj


def test_cli_syntax() -> None:
    o = SevSnpGuest.from_cli(
        "-object sev-snp-guest,id=sev0,policy=0x30000,author-key-enabled=on,kernel-hashes=yes,cbitpos=51,reduced-phys-bits=1"
    )
    assert o.author_key_enabled and o.kernel_hashes and o.cbitpos == 51 and o.policy == 0x30000
    o = SevSnpGuest.from_cli(
        "qom-type=sev-snp-guest,id=x,policy=196608,cbitpos=51,reduced-phys-bits=1,sev-device=/dev/sev,,odd"
    )
    assert o.sev_device == "/dev/sev,odd" and o.to_cli().endswith("sev-device=/dev/sev,,odd")
    R = ",reduced-phys-bits=1"
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=010" + R).policy == 8  # octal, as QEMU parses it
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=-1" + R).policy == 2**64 - 1  # strtoull wraps
    assert SevSnpGuest.from_cli("sev-snp-guest,id=a,policy=0x1,policy=0x30000" + R + ",").policy == 0x30000  # last wins
    o = SevSnpGuest.from_cli("sev-snp-guest,id=a,debug-swap=on,secure-tsc=on,tsc-frequency=2000000" + R)
    assert o.sev_features() == 0x221


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("sev-guest,id=a", "qom-type"),
        ("sev-snp-guest,id=a,colour=red", "Property 'sev-snp-guest.colour' not found"),
        ("sev-snp-guest,id=a,policy=banana", "expects integer"),
        ("sev-snp-guest,id=a,policy=0x3_0000", "expects integer"),
        ("sev-snp-guest,id=a,cbitpos=0x100000000", "expects uint32_t"),
        ("sev-snp-guest,id=a,vcek-disabled=maybe", "expects 'on' or 'off'"),
        ("sev-snp-guest,id=a,vcek-disabled=ON", "expects 'on' or 'off'"),
        ("sev-snp-guest,id=a,author-key-enabled", "Expected '=' after parameter 'author-key-enabled'"),
        ("sev-snp-guest,id=a,reduced-phys-bits=64", "range of 1 to 63"),
        ("sev-snp-guest,id=a,policy=0x30000", "Parameter 'reduced-phys-bits' is missing"),
        ("sev-snp-guest,policy=0x30000,reduced-phys-bits=1", "Parameter 'id' is missing"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,host-data=AAAA", "parameter length of 3 not equal to 32"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,id-block=AAAA", "parameter length of 3 not equal to 96"),
        (
            "sev-snp-guest,id=a,reduced-phys-bits=1,guest-visible-workarounds=AAAA",
            "parameter length of 3 exceeds max of 16",
        ),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,host-data=AA AA", "Base64 data contains invalid characters"),
        ("sev-snp-guest,id=a,reduced-phys-bits=1,tsc-frequency=1", "secure-tsc"),
        ("sev-snp-guest,id=a,init-flags=1", "init-flags"),
        (",sev-snp-guest,id=a", "empty option"),
        ("sev-snp-guest,id=9a,reduced-phys-bits=1", "identifier"),
    ],
)
def test_cli_errors(text: str, fragment: str) -> None:
    with pytest.raises((QemuObjectError, BlobError)) as exc:
        SevSnpGuest.from_cli(text)
    assert fragment in str(exc.value)


def test_rfc_spellings_warn() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        o = SevSnpGuest.from_cli("sev-snp-guest,id=a,auth-key-enabled=on,init-flags=0,reduced-phys-bits=1")
    assert o.author_key_enabled and len(caught) == 2


def test_libvirt_safety_and_errors() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><launchSecurity type="sev-snp"><policy>&lol;</policy></launchSecurity>'
    with pytest.raises(QemuObjectError, match="DOCTYPE"):
        SevSnpGuest.from_libvirt(bomb)
    with pytest.raises(QemuObjectError, match="type"):
        SevSnpGuest.from_libvirt("<launchSecurity type='sev'/>")
    with pytest.raises(QemuObjectError, match="well-formed"):
        SevSnpGuest.from_libvirt("<launchSecurity")
    dom = "<domain><launchSecurity type='sev-snp' vcek='no'><policy>0x00030000</policy></launchSecurity></domain>"
    o = SevSnpGuest.from_libvirt(dom)
    assert o.vcek_disabled and o.policy == 0x30000
    assert (
        SevSnpGuest.from_libvirt("<launchSecurity type='sev-snp'><policy>30000</policy></launchSecurity>").policy
        == 0x30000
    )
    decoy = (
        "<domain><metadata><launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity></metadata>"
        "<launchSecurity type='sev-snp'><policy>0x70000</policy></launchSecurity></domain>"
    )
    assert SevSnpGuest.from_libvirt(decoy).policy == 0x70000
    with pytest.raises(QemuObjectError, match="exactly one"):
        SevSnpGuest.from_libvirt("<domain><metadata><launchSecurity type='sev-snp'/></metadata></domain>")
    with pytest.raises(QemuObjectError, match="policy"):
        SevSnpGuest.from_libvirt("<launchSecurity type='sev-snp'><cbitpos>51</cbitpos></launchSecurity>")
    with pytest.raises(QemuObjectError, match="decimal"):
        SevSnpGuest.from_libvirt(
            "<launchSecurity type='sev-snp'><policy>0x30000</policy><cbitpos>0x33</cbitpos></launchSecurity>"
        )


def test_qmp_errors() -> None:
    with pytest.raises(QemuObjectError, match="object-add"):
        SevSnpGuest.from_qmp({"execute": "quit"})
    with pytest.raises(QemuObjectError, match="expects a number"):
        SevSnpGuest.from_qmp({"qom-type": "sev-snp-guest", "id": "a", "policy": "0x30000", "reduced-phys-bits": 1})


def test_id_block_fields_from_id_block_json() -> None:
    import base64

    from snpmeasure.blobs import sign_id_block
    from snpmeasure.errors import InvalidInputError
    from snpmeasure.qemu import id_block_fields

    from .builders.keys import KEYS

    keys = (KEYS / "id_key_test.pem", KEYS / "author_key_test.pem")
    block, auth = sign_id_block(bytes(48), *keys, policy=0xB0000)
    b, a = (base64.b64encode(x.to_bytes()).decode() for x in (block, auth))
    doc = {"id_block": b, "id_auth": a, "id_block_fields": {"policy": "0xb0000"}, "author_key_enabled": True}
    assert id_block_fields(doc) == {"id_block": b, "id_auth": a, "author_key_enabled": True, "policy": 0xB0000}
    # the signed block decides the policy, and the id-auth whether there is an author key
    assert id_block_fields({"id_block": b, "id_auth": a})["policy"] == 0xB0000
    assert id_block_fields({"id_block": b, "id_auth": a})["author_key_enabled"] is True
    no_author = base64.b64encode(sign_id_block(bytes(48), keys[0])[1].to_bytes()).decode()
    for bad, fragment in (
        ({**doc, "id_block_fields": {"policy": "0x30000"}}, "is not the signed ID block's POLICY 0xb0000"),
        ({**doc, "id_auth": no_author}, "author_key_enabled is true, but the id_auth has no author key"),
        ({**doc, "id_block": "AA=="}, "id-block: parameter length of 1 not equal to 96"),
        ({**doc, "id_block_fields": {"policy": "bogus"}}, "id_block_fields.policy: unknown flag 'bogus'"),
        ([], "must be the JSON of 'snpmeasure id-block --json'"),
        ({"id_block": "AA=="}, "must be the JSON of"),
        ({**doc, "id_block_fields": {"policy": True}}, "policy must be a policy string or number"),
        ({**doc, "author_key_enabled": "yes"}, "author_key_enabled must be true or false"),
    ):
        with pytest.raises(InvalidInputError, match=fragment) as info:
            id_block_fields(bad, "--from-id-block")
        assert info.value.field == "--from-id-block"


def test_finish_id_auth_is_what_kvm_hands_launch_finish() -> None:
    """KVM reads id_auth only with an ID block (sev.c snp_launch_finish): alone it is not handed over."""
    import base64

    auth = base64.b64encode(bytes(4096)).decode()
    block = base64.b64encode(bytes(96)).decode()
    alone = SevSnpGuest(id_auth=auth, cbitpos=51, reduced_phys_bits=1)
    assert alone.finish_id_auth() is None
    both = SevSnpGuest(id_auth=auth, id_block=block, cbitpos=51, reduced_phys_bits=1)
    assert both.finish_id_auth() == bytes(4096)


def test_the_objects_blobs_parse_back() -> None:
    """id_block_obj()/id_auth_obj(): the object's base64 blobs as the structures they encode."""
    from snpmeasure.blobs import sign_id_block

    from .support import FIXTURES

    block, auth = sign_id_block(bytes(48), FIXTURES / "keys" / "id_key_test.pem")
    obj = SevSnpGuest(id="s", id_block=block.base64(), id_auth=auth.base64())
    assert obj.id_block_obj() == block and obj.id_auth_obj() == auth
    assert SevSnpGuest(id="s").id_auth_obj() is None
    with pytest.raises(BlobError, match="4096"):
        SevSnpGuest(id="s", id_auth=base64.b64encode(bytes(100)).decode()).id_auth_obj()
