"""snpmeasure.igvm_launch: what each model measures, page by page.

Every case spells out the page sequence a model must produce (type, GPA, contents) and checks the
model's digest against the pure-Python LaunchDigest fed exactly that sequence, one page at a time:
the model's own region merging and C core are not on the expected side. The cases cover each of
docs/reference/igvm.md §2.3's fourteen disagreements.
"""

from __future__ import annotations

import struct
from typing import Any, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import snpmeasure
from snpmeasure import ConfigError, IgvmError, IgvmFile, InvalidInputError
from snpmeasure._reference import LaunchDigest as PyLaunchDigest
from snpmeasure.blobs import ExternalSigner, load_private_key
from snpmeasure.igvm import (
    DATA_CPUID_DATA,
    DATA_SECRETS,
    FLAG_IS_2MB_PAGE,
    FLAG_SHARED,
    FLAG_UNMEASURED,
    VHT_COMMAND_LINE,
    ErrorRange,
    GuestPolicy,
    PageData,
    Parameter,
    SupportedPlatform,
)
from snpmeasure.igvm_launch import (
    IGVM_PROFILES,
    lint_igvm,
    measure_igvm,
    plan_igvm,
    sign_igvm,
    summarize_igvm,
    sweep_igvm,
    sweep_igvm_measurements,
)
from snpmeasure.measurement import sweep_measurements
from snpmeasure.pages import VMSA_GPA

from .builders.igvm_files import (
    SNP,
    TINY,
    Expected,
    area,
    build,
    insert,
    known_digest,
    kvm_vmsa,
    page,
    pd,
    vp,
)
from .support import FIXTURES

KEYS = FIXTURES / "keys"
MODELS = list(IGVM_PROFILES)


def feed(expected: Expected) -> bytes:
    """The digest of a page sequence, one page at a time, in pure Python."""
    d = PyLaunchDigest()
    for ptype, gpa, data in expected:
        if ptype in ("NORMAL", "VMSA"):
            assert data is not None and len(data) == 4096
            d.update(snpmeasure.PageType[ptype], gpa, data)
        else:
            d.update(snpmeasure.PageType[ptype], gpa, length=4096)
    return d.digest()


def digest(data: bytes, model: str, **kw: Any) -> bytes:
    return measure_igvm(data, profile=model, **kw).digest


Z = page(0)
A, B, C = page(0xA), page(0xB), page(0xC)


# ---- known answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("model", ["igvmmeasure", "igvm-crate"])
def test_igvm_tooling_files_give_its_digests(name: str, model: str) -> None:
    m = snpmeasure.measure(mode="snp:igvm", igvm=str(TINY[name]), profile=model)
    assert m.hex() == known_digest(name)
    check = m.id_block_check
    assert check is not None and check.failures() == [] and check.ld_matches and check.id_block_signature_valid
    assert check.id_block.version == 1 and check.id_block.policy == 0x3001F and check.id_block.guest_svn == 2
    assert m.igvm is not None and m.igvm["policy"] == "0x3001f" and m.vcpus == 1


def test_the_fixtures_are_refused_by_the_qemu_model_with_qemus_reason() -> None:
    for path in TINY.values():
        with pytest.raises(IgvmError, match="QEMU refuses the file: a VMSA at gpa 0x803000"):
            measure_igvm(str(path), profile="qemu")


# ---- each disagreement (docs/reference/igvm.md §2.3), spelled out -----------------------------------


def test_1_zero_pages_normal_or_native_zero() -> None:
    f = build([pd(0x1000), vp()])
    normal: Expected = [("NORMAL", 0x1000, Z), ("VMSA", VMSA_GPA, kvm_vmsa())]
    native: Expected = [("ZERO", 0x1000, None), ("VMSA", VMSA_GPA, kvm_vmsa())]
    for model in MODELS:
        assert digest(f, model) == feed(normal)
        assert digest(f, model, native_zero=True) == feed(native)


def test_2_shared_pages_measured_or_skipped() -> None:
    f = build([pd(0x1000, A, flags=FLAG_SHARED), pd(0x2000, B), vp()])
    measured: Expected = [("NORMAL", 0x1000, A), ("NORMAL", 0x2000, B), ("VMSA", VMSA_GPA, kvm_vmsa())]
    assert digest(f, "igvmmeasure") == digest(f, "qemu") == feed(measured)
    assert digest(f, "igvm-crate") == feed(measured[1:])


def test_3_parameter_areas_over_4k() -> None:
    f = build([area(0, 0x2000), insert(0x10000, 0), vp()])
    one: Expected = [("UNMEASURED", 0x10000, None), ("VMSA", VMSA_GPA, kvm_vmsa())]
    whole: Expected = [("UNMEASURED", 0x10000, None), ("UNMEASURED", 0x11000, None), ("VMSA", VMSA_GPA, kvm_vmsa())]
    assert digest(f, "igvmmeasure") == feed(one)
    assert digest(f, "igvm-crate") == digest(f, "qemu") == feed(whole)


def test_4_qemu_measures_an_insert_before_the_page_run_it_follows() -> None:
    f = build([area(0, 0x1000), pd(0x1000, A), pd(0x2000, B), insert(0x10000, 0), pd(0x3000, C), vp()])
    file_order: Expected = [
        ("NORMAL", 0x1000, A),
        ("NORMAL", 0x2000, B),
        ("UNMEASURED", 0x10000, None),
        ("NORMAL", 0x3000, C),
        ("VMSA", VMSA_GPA, kvm_vmsa()),
    ]
    qemu: Expected = [file_order[2], file_order[0], file_order[1], file_order[3], file_order[4]]
    assert digest(f, "igvmmeasure") == digest(f, "igvm-crate") == feed(file_order)
    assert digest(f, "qemu") == feed(qemu)
    # a run is broken by a GPA gap or a change of flags, and queued at that point
    f = build([area(0, 0x1000), pd(0x1000, A), pd(0x5000, B), insert(0x10000, 0), vp()])
    assert digest(f, "qemu") == feed(
        [("NORMAL", 0x1000, A), ("UNMEASURED", 0x10000, None), ("NORMAL", 0x5000, B), ("VMSA", VMSA_GPA, kvm_vmsa())]
    )


def test_5_a_vmsa_before_pages() -> None:
    f = build([vp(), pd(0x1000, A)])
    assert (
        digest(f, "igvmmeasure")
        == digest(f, "igvm-crate")
        == feed([("VMSA", VMSA_GPA, kvm_vmsa()), ("NORMAL", 0x1000, A)])
    )
    assert digest(f, "qemu") == feed([("NORMAL", 0x1000, A), ("VMSA", VMSA_GPA, kvm_vmsa())])
    assert [x.rule for x in lint_igvm(f)] == ["page-after-vmsa"]  # igvmmeasure --check-kvm misses it
    assert lint_igvm(f, check_kvm_only=True) == []


def test_6_two_mib_pages() -> None:
    huge = 0x200000
    f = build([pd(huge, flags=FLAG_IS_2MB_PAGE), vp()])
    expanded: Expected = [("NORMAL", huge + i * 4096, Z) for i in range(512)] + [("VMSA", VMSA_GPA, kvm_vmsa())]
    assert digest(f, "igvmmeasure") == digest(f, "qemu") == feed(expanded)
    assert digest(f, "igvm-crate") == feed([("NORMAL", huge, Z), ("VMSA", VMSA_GPA, kvm_vmsa())])
    assert digest(f, "igvmmeasure", native_zero=True) == feed(
        [("ZERO", huge + i * 4096, None) for i in range(512)] + [("VMSA", VMSA_GPA, kvm_vmsa())]
    )
    with_data = build([pd(huge, A, flags=FLAG_IS_2MB_PAGE), vp()])
    with pytest.raises(IgvmError, match="igvmmeasure model refuses a 2 MiB page with data"):
        digest(with_data, "igvmmeasure")
    assert digest(with_data, "igvm-crate") == feed([("NORMAL", huge, A), ("VMSA", VMSA_GPA, kvm_vmsa())])
    assert digest(with_data, "qemu") == feed(
        [("NORMAL", huge, A)]
        + [("NORMAL", huge + i * 4096, Z) for i in range(1, 512)]
        + [("VMSA", VMSA_GPA, kvm_vmsa())]
    )


def test_7_vcpus() -> None:
    v0, v1 = kvm_vmsa(0xFFF0), kvm_vmsa(0x1000)
    f = build([vp(0, vmsa=v0), pd(0x1000, A), vp(1, vmsa=v1)])
    # igvmmeasure and the crate: the file's VMSAs, where and when the file says
    assert digest(f, "igvmmeasure") == feed([("VMSA", VMSA_GPA, v0), ("NORMAL", 0x1000, A), ("VMSA", VMSA_GPA, v1)])
    # KVM: one per vCPU, last
    assert digest(f, "qemu") == feed([("NORMAL", 0x1000, A), ("VMSA", VMSA_GPA, v0), ("VMSA", VMSA_GPA, v1)])
    # QEMU loads every VP context into its vCPU: with fewer vCPUs it refuses the file
    with pytest.raises(ConfigError, match="1 vCPU, but .* vp_index 1: QEMU refuses .*out of bounds CPU index 1"):
        digest(f, "qemu", vcpus=1)
    with pytest.raises(ConfigError, match="3 vCPUs, but .* has VP contexts for vp_index 0, 1 only: .* not established"):
        digest(f, "qemu", vcpus=3)
    with pytest.raises(ConfigError, match="a vCPU count applies to the qemu model"):
        digest(f, "igvmmeasure", vcpus=3)
    assert sweep_igvm(f, [2]) == {2: digest(f, "qemu", vcpus=2)}
    with pytest.raises(ConfigError, match="out of bounds CPU index 1"):
        sweep_igvm(f, [1, 2])


def test_kvm_measures_the_save_area_with_the_bsps_features() -> None:
    """KVM builds each VMSA from what QEMU loads, the 0x670-byte save area (zero beyond), and writes
    the VM's SEV features, which QEMU took from vCPU 0's context, into every vCPU's."""
    ap = bytearray(kvm_vmsa(0x1000, features=0x21))
    ap[0x800] = 0xAA  # past the save area: QEMU does not load it
    f = build([vp(0), vp(1, vmsa=bytes(ap))])
    seen = bytearray(kvm_vmsa(0x1000))  # features 0x1, the BSP's; nothing past 0x670
    m = measure_igvm(f, profile="qemu")
    assert m.digest == feed([("VMSA", VMSA_GPA, kvm_vmsa()), ("VMSA", VMSA_GPA, bytes(seen))])
    assert any("SEV_FEATURES 0x21 is not measured" in w for w in m.warnings)
    assert any("bytes past 0x670 are set" in w for w in m.warnings)
    assert digest(f, "igvmmeasure") == feed([("VMSA", VMSA_GPA, kvm_vmsa()), ("VMSA", VMSA_GPA, bytes(ap))])


def test_8_vmsas_qemu_cannot_load_or_kvm_rewrites() -> None:
    moved = build([vp(gpa=0x803000)])
    assert digest(moved, "igvmmeasure") == feed([("VMSA", 0x803000, kvm_vmsa())])
    with pytest.raises(IgvmError, match="QEMU refuses the file: a VMSA at gpa 0x803000"):
        digest(moved, "qemu")
    for field, value, fragment in (
        (0x158, 0x10, "CR0 is 0x10, which KVM overrides"),
        (0x0D0, 0, "lack SVME"),
        (0x3B0, 0x3, "SEV_FEATURES 0x3 must hold SNP_ACTIVE"),
        (0x200, 1, "VMSA byte 0x200 is set, outside the fields KVM synchronises"),
    ):
        vmsa = bytearray(kvm_vmsa())
        vmsa[field : field + 8] = value.to_bytes(8, "little")
        f = build([vp(vmsa=bytes(vmsa))])
        assert digest(f, "igvmmeasure") == feed([("VMSA", VMSA_GPA, bytes(vmsa))])
        with pytest.raises(IgvmError, match=fragment):
            digest(f, "qemu")
    debug_swap = build([vp(vmsa=kvm_vmsa(features=0x21))])
    assert digest(debug_swap, "qemu") == feed([("VMSA", VMSA_GPA, kvm_vmsa(features=0x21))])


def test_9_headers_qemu_has_no_handler_for() -> None:
    for extra in ((Parameter(VHT_COMMAND_LINE, 0, 0), None), (ErrorRange(0x9000, SNP, 0x1000), None)):
        f = build([area(0, 0x1000), extra, vp()])
        assert digest(f, "igvmmeasure") == digest(f, "igvm-crate") == feed([("VMSA", VMSA_GPA, kvm_vmsa())])
        with pytest.raises(IgvmError, match="QEMU refuses the file: 'IGVM: Unknown header type"):
            digest(f, "qemu")
        assert "qemu-refuses-header" in [x.rule for x in lint_igvm(f)]


def test_10_several_guest_policies() -> None:
    f = build([vp()], extra_init=[GuestPolicy(0x30001, SNP)])  # after build's own 0x30000
    assert plan_igvm(IgvmFile.from_bytes(f), "igvmmeasure").policy == 0x30000
    assert plan_igvm(IgvmFile.from_bytes(f), "qemu").policy == 0x30001


# ---- page types, masks, platforms ----------------------------------------------------------------


def test_page_types_and_masks() -> None:
    f = build(
        [
            pd(0x1000, A, flags=FLAG_UNMEASURED),
            pd(0x2000, B, data_type=DATA_SECRETS),
            pd(0x3000, C, data_type=DATA_CPUID_DATA),
            pd(0x4000, A, mask=2),  # another platform's page
            pd(0x5000, B, mask=3),  # both platforms'
            vp(),
        ],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 5, 1, 0)],
    )
    want: Expected = [
        ("UNMEASURED", 0x1000, None),
        ("SECRETS", 0x2000, None),
        ("CPUID", 0x3000, None),
        ("NORMAL", 0x5000, B),
        ("VMSA", VMSA_GPA, kvm_vmsa()),
    ]
    for model in MODELS:
        assert digest(f, model) == feed(want)


def test_no_snp_platform_is_an_error() -> None:
    f = build([], platforms=[SupportedPlatform(1, 0, 3, 1, 0)], policy=None)
    with pytest.raises(IgvmError, match="has no SEV-SNP platform .* its platforms: TDX"):
        measure_igvm(f)


def test_merged_regions_equal_per_directive_commands() -> None:
    data = IgvmFile.load(TINY["tiny_x64_noopt"])
    merged = plan_igvm(data)
    single = plan_igvm(data, per_directive=True)
    assert len(merged.commands) < 20 < len(single.commands)
    m = measure_igvm(data, trace=True)
    assert m.trace is not None and m.trace[-1].digest == m.digest and m.hex() == known_digest("tiny_x64_noopt")


# ---- differential: random files, every model, against a page-by-page oracle -----------------------


def oracle(items: Sequence[Tuple[str, int, Optional[bytes], int]], model: str) -> Expected:
    """What a model measures for a list of (kind, gpa, data, flags) directives: "area", "page" or
    "insert" (of the 4 KiB area), written independently of igvm_launch."""
    out: Expected = []
    queued: Expected = []
    last = None
    for i, (kind, gpa, data, flags) in enumerate(items):
        if kind == "area":  # a directive that measures nothing (it still breaks QEMU's adjacency)
            continue
        if kind == "insert":
            out.append(("UNMEASURED", gpa, None))
            last = None
            continue
        if flags & FLAG_SHARED and model == "igvm-crate":
            continue
        ptype = "UNMEASURED" if flags & FLAG_UNMEASURED else "NORMAL"
        contents = None if ptype != "NORMAL" else data or Z
        if model != "qemu":
            out.append((ptype, gpa, contents))
            continue
        key = (flags, data is not None)
        if not (last is not None and last[0] == i - 1 and last[1] == key and last[2] + 4096 == gpa):
            out.extend(queued)
            queued = []
        queued.append((ptype, gpa, contents))
        last = (i, key, gpa)
    out.extend(queued)
    return out + [("VMSA", VMSA_GPA, kvm_vmsa())]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["page", "page", "page", "insert"]),
            st.sampled_from([None, A, B]),
            st.sampled_from([0, FLAG_SHARED, FLAG_UNMEASURED]),
            st.booleans(),  # next GPA follows on
        ),
        max_size=24,
    ),
    st.sampled_from(MODELS),
)
def test_random_files_against_the_oracle(spec: List[Tuple[str, Optional[bytes], int, bool]], model: str) -> None:
    directives: List[Any] = []
    items: List[Tuple[str, int, Optional[bytes], int]] = []
    gpa = 0x100000
    for kind, data, flags, follow in spec:
        gpa += 0x1000 if follow else 0x10000
        if kind == "insert":  # each area is inserted once: a fresh one each time
            directives += [area(len(items), 0x1000), insert(gpa, len(items))]
            items += [("area", 0, None, 0), ("insert", gpa, None, 0)]
        else:
            directives.append(pd(gpa, data, flags=flags))
            items.append(("page", gpa, data, flags))
    f = build(directives + [vp()])
    assert digest(f, model) == feed(oracle(items, model))


# ---- ID block and signing ------------------------------------------------------------------------


def test_sign_then_measure_round_trips_with_every_key_form(tmp_path: Any) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    src = TINY["tiny_x86"]
    author = load_private_key(KEYS / "author_key_test.pem")
    calls: List[bytes] = []

    def sign(message: bytes) -> bytes:
        calls.append(message)
        der: bytes = author.sign(message, ec.ECDSA(hashes.SHA384()))
        return der

    external = ExternalSigner(author.public_key(), sign)
    out = sign_igvm(str(src), KEYS / "id_key_test.pem", external, family_id="0x" + "11" * 16, guest_svn=7)
    assert len(calls) == 1  # the author key signs the ID key, once
    m = measure_igvm(out)
    assert m.hex() == known_digest("tiny_x86")
    check = m.id_block_check
    assert check is not None and check.failures() == [] and check.author_key_enabled
    assert check.id_key_signature_valid is True and check.id_block.guest_svn == 7
    assert check.id_block.family_id == bytes([0x11]) * 16
    # the signed file: the old ID block replaced, the new one last; the writer's CRC accepted
    f = IgvmFile.from_bytes(out)
    assert f.headers[-1].type_name == "SNP_ID_BLOCK" and sum(h.type_name == "SNP_ID_BLOCK" for h in f.headers) == 1
    assert summarize_igvm(out)["id_block"]["author_key_digest"] == check.id_auth.author_key_digest.hex()  # type: ignore[union-attr]


def test_a_tampered_signature_or_digest_is_named() -> None:
    data = bytearray(sign_igvm(str(TINY["tiny_x86"]), KEYS / "id_key_test.pem"))
    f = IgvmFile.from_bytes(bytes(data))
    index = len(f.headers) - 1
    body = f.offsets[index] + 8
    flipped = bytearray(data)
    flipped[body + 104] ^= 1  # a bit of the ID block signature's r
    resigned = _recrc(flipped)
    check = measure_igvm(resigned).id_block_check
    assert check is not None and check.failures() == [
        "the ID block's signature does not verify with the ID key (BAD_SIGNATURE)"
    ]
    wrong_ld = bytearray(data)
    wrong_ld[body + 8] ^= 1
    check = measure_igvm(_recrc(wrong_ld)).id_block_check
    assert check is not None and check.failures()[0].endswith("is not the launch digest (BAD_MEASUREMENT)")


def _recrc(data: bytearray) -> bytes:
    import struct
    import zlib

    _, _, off, size, _, _ = struct.unpack_from("<6I", data, 0)
    struct.pack_into("<I", data, 20, 0)
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[:24]) + bytes(data[off : off + size])))
    return bytes(data)


def test_page_data_type_flags_survive_the_writer() -> None:
    f = build([pd(0x1000, A, flags=FLAG_SHARED | FLAG_UNMEASURED, data_type=DATA_SECRETS), vp()])
    back = IgvmFile.from_bytes(IgvmFile.from_bytes(f).to_bytes())
    pages = [h for h in back.headers if isinstance(h, PageData)]
    assert pages[0].flags == FLAG_SHARED | FLAG_UNMEASURED and pages[0].data_type == DATA_SECRETS


# ---- review cases: where the loaders' details decide -----------------------------------------------


def test_2mib_pages_with_data_of_any_type_are_refused_by_igvmmeasure() -> None:
    for kw, as_4k in (
        ({"flags": FLAG_IS_2MB_PAGE | FLAG_UNMEASURED}, {"flags": FLAG_UNMEASURED}),
        ({"flags": FLAG_IS_2MB_PAGE, "data_type": DATA_SECRETS}, {"data_type": DATA_SECRETS}),
    ):
        f = build([pd(0x200000, A, **kw), vp()])
        with pytest.raises(IgvmError, match="refuses a 2 MiB page with data"):
            digest(f, "igvmmeasure")
        assert digest(f, "igvm-crate")  # one page
        # ... and that page is what the same 4 KiB page with data gives
        assert digest(f, "igvm-crate") == digest(build([pd(0x200000, A, **as_4k), vp()]), "igvm-crate")


def test_vp_contexts_of_another_platform() -> None:
    es_vmsa = kvm_vmsa(0x1234)
    from snpmeasure.igvm import VpContext

    f = build(
        [vp(), (VpContext(0x5000, 2, 0, 0), es_vmsa)],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 5, 1, 0)],
    )
    # igvmmeasure does not check a VP context's mask: it measures the SEV-ES VMSA too
    assert digest(f, "igvmmeasure") == feed([("VMSA", VMSA_GPA, kvm_vmsa()), ("VMSA", 0x5000, es_vmsa)])
    assert digest(f, "igvm-crate") == digest(f, "qemu") == feed([("VMSA", VMSA_GPA, kvm_vmsa())])
    # igvmmeasure -c checks every VMSA it measures: the SEV-ES one is a second, and not at the KVM GPA
    assert [x.rule for x in lint_igvm(f, check_kvm_only=True)] == ["one-vmsa", "vmsa-gpa"]
    es_first = build(
        [(VpContext(0x5000, 2, 0, 0), es_vmsa), area(0, 0x1000), insert(0x9000, 0), vp()],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 5, 1, 0)],
    )
    rules = [x.rule for x in lint_igvm(es_first, check_kvm_only=True)]
    assert rules[:2] == ["vmsa-gpa", "insert-after-vmsa"] and "one-vmsa" in rules
    both = build(
        [(VpContext(VMSA_GPA, 3, 0, 0), kvm_vmsa())],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 5, 1, 0)],
    )
    with pytest.raises(IgvmError, match="compatibility_mask 0x3 is not exactly one platform's"):
        IgvmFile.from_bytes(both)


def _rip(vtl: int) -> bytes:
    """A VbsVpContextRegister: vtl u8, name u32 (HvX64RegisterName Rip, 0x20010), mbz[11], value[16]."""
    return bytes([vtl]) + struct.pack("<I", 0x20010) + bytes(27)


def _context_file(platform_type: int, context: bytes, vp_index: int = 0) -> bytes:
    """An SNP file (one page, one VMSA) with a second platform (mask 2) and its VP context."""
    from snpmeasure.igvm import VpContext

    return build(
        [pd(0x1000, A), vp(), (VpContext(0, 2, 0, vp_index), context)],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, platform_type, 1, 0)],
    )


def test_other_platforms_contexts_are_no_vmsas() -> None:
    """The igvm crate reads a VP context by its platform: only SEV-SNP and SEV-ES ones are VMSAs
    (SnpVpContext), which igvmmeasure measures; a native, SEV, CCA or VSM context is measured by no
    model (coconut-svsm's QEMU target carries a native start context beside the SNP one)."""
    native = bytearray(4096)
    struct.pack_into("<Q", native, 0x80, 0x1234)  # rip; the rest of the 232-byte context and page zero
    cca = bytearray(4096)
    struct.pack_into("<Q", cca, 0x40, 0x1234)  # pc
    vbs = struct.pack("<I", 2) + _rip(2) * 2  # two VTL-2 registers: 68 bytes, no padding
    only_snp = feed([("NORMAL", 0x1000, A), ("VMSA", VMSA_GPA, kvm_vmsa())])
    for platform_type, context in ((0, native), (4, native), (6, cca), (1, vbs)):
        f = _context_file(platform_type, bytes(context))
        for model in MODELS:
            assert digest(f, model) == only_snp, (platform_type, model)
        assert [x.rule for x in lint_igvm(f, check_kvm_only=True)] == []
        parsed = IgvmFile.from_bytes(f)
        assert IgvmFile.from_bytes(parsed.to_bytes()).to_bytes() == parsed.to_bytes()
    vsm = IgvmFile.from_bytes(_context_file(1, vbs))
    assert bytes(vsm.data_of(vsm.headers[-1]) or b"") == vbs


@pytest.mark.parametrize(
    "platform_type, context, vp_index, rule",
    [
        (3, kvm_vmsa(), 0, "is the TDX platform's: .*InvalidVpContextPlatformType"),
        (0, bytes(232) + b"\x01" + bytes(4096 - 233), 0, "non-zero bytes after its 232-byte structure"),
        (6, bytes(80) + b"\x01" + bytes(4096 - 81), 0, "non-zero bytes after its 80-byte structure"),
        (1, struct.pack("<I", 0) + bytes(4092), 0, "has no registers"),
        (1, struct.pack("<I", 2) + _rip(0) + _rip(2), 0, "one VTL"),
        (1, struct.pack("<I", 1) + _rip(2), 1, "vp_index 0 only"),
        (1, struct.pack("<I", 2) + _rip(2) + bytes([2]) + struct.pack("<I", 0x20000) + bytes(27), 0, "0x20000"),
    ],
    ids=["tdx", "native-tail", "cca-tail", "vsm-empty", "vsm-two-vtls", "vsm-ap", "vsm-rax"],
)
def test_contexts_the_igvm_crate_refuses(platform_type: int, context: bytes, vp_index: int, rule: str) -> None:
    with pytest.raises(IgvmError, match=rule):
        IgvmFile.from_bytes(_context_file(platform_type, context, vp_index))


def test_a_vp_context_header_is_20_bytes() -> None:
    """The crate reads IGVM_VHS_VP_CONTEXT only with a TLV length of 20."""
    data = bytearray(build([vp()]))
    f = IgvmFile.from_bytes(bytes(data))
    off = f.offsets[-1]
    assert struct.unpack_from("<II", data, off) == (0x304, 20)
    struct.pack_into("<I", data, off + 4, 24)  # the 4 padding bytes are zero and within the header slot
    import zlib

    _, _, vh_off, vh_size, _, _ = struct.unpack_from("<6I", data, 0)
    struct.pack_into("<I", data, 20, 0)
    struct.pack_into("<I", data, 20, zlib.crc32(bytes(data[: vh_off + vh_size])))
    with pytest.raises(IgvmError, match="body is 24 bytes; a VP_CONTEXT has 20"):
        IgvmFile.from_bytes(bytes(data))


def _with_id_block(policy: Any, **fields: Any) -> bytes:
    from snpmeasure.igvm import SnpIdBlock

    values = dict(
        compatibility_mask=SNP,
        author_key_enabled=0,
        reserved=bytes(3),
        ld=bytes(48),
        family_id=bytes(16),
        image_id=bytes(16),
        version=1,
        guest_svn=0,
        id_key_algorithm=0,
        author_key_algorithm=0,
        id_key_signature=bytes(144),
        id_public_key=bytes(152),
        author_key_signature=bytes(144),
        author_public_key=bytes(152),
    )
    values.update(fields)
    return build([vp(), (SnpIdBlock(**values), None)], policy=policy)


def test_placeholder_id_blocks_and_id_blocks_without_a_policy() -> None:
    m = measure_igvm(_with_id_block(None))
    check = m.id_block_check
    assert check is not None and check.unchecked == "the file has no GUEST_POLICY for the ID block's policy field"
    assert check.failures(signatures=False) == [f"ID block LD {'00' * 48} is not the launch digest (BAD_MEASUREMENT)"]
    right = measure_igvm(_with_id_block(0x30000)).digest
    check = measure_igvm(_with_id_block(0x30000, ld=right)).id_block_check
    assert check is not None and check.ld_matches and check.failures(signatures=False) == []
    assert check.unchecked is not None and "id_key_algorithm: is 0" in check.unchecked
    assert check.failures() == [f"the ID block's signatures cannot be checked: {check.unchecked}"]


def test_qemu_enables_the_author_key_by_the_key_not_the_flag() -> None:
    """QEMU copies the author key whatever author_key_enabled says and sets AUTHOR_KEY_EN from the
    key's first byte: a signed author key behind flag 0 is still checked, a flag without a key is
    not; igvmmeasure's sign writes author_key_algorithm 1 with or without an author key."""
    from dataclasses import replace

    from snpmeasure.igvm import IgvmBuilder, SnpIdBlock

    def with_block(f: IgvmFile, **change: Any) -> bytes:
        b = IgvmBuilder()
        for h in f.headers:
            b.add(replace(h, **change) if isinstance(h, SnpIdBlock) else h, f.data_of(h))
        return b.to_bytes()

    plain = build([pd(0x1000, A), vp()])
    signed = IgvmFile.from_bytes(sign_igvm(plain, KEYS / "id_key_test.pem", KEYS / "author_key_test.pem"))
    block = next(h for h in signed.headers if isinstance(h, SnpIdBlock))
    assert block.author_key_enabled == 1 and block.author_key_algorithm == 1
    hidden = measure_igvm(with_block(signed, author_key_enabled=0)).id_block_check
    assert hidden is not None and hidden.author_key_enabled and hidden.id_key_signature_valid is True
    bad_sig = bytes([block.author_key_signature[0] ^ 1]) + block.author_key_signature[1:]
    tampered = measure_igvm(with_block(signed, author_key_enabled=0, author_key_signature=bad_sig)).id_block_check
    assert tampered is not None and tampered.failures() == [
        "the ID key's signature does not verify with the author key (BAD_SIGNATURE)"
    ]
    keyless = measure_igvm(with_block(signed, author_public_key=bytes(152))).id_block_check
    assert keyless is not None and not keyless.author_key_enabled and keyless.failures() == []
    alone = IgvmFile.from_bytes(sign_igvm(plain, KEYS / "id_key_test.pem"))
    block = next(h for h in alone.headers if isinstance(h, SnpIdBlock))
    assert (block.author_key_enabled, block.author_key_algorithm, block.author_public_key) == (0, 1, bytes(152))


def test_the_last_id_block_counts_in_igvmmeasure_and_qemu_refuses_two() -> None:
    from snpmeasure.igvm import IgvmBuilder, SnpIdBlock

    f = IgvmFile.from_bytes(_with_id_block(0x30000, ld=bytes([1]) * 48))
    b = IgvmBuilder()
    for h in f.headers:
        b.add(h, f.data_of(h))
    b.add(SnpIdBlock(**{**f.headers[-1].__dict__, "ld": bytes([2]) * 48}))
    two = b.to_bytes()
    assert plan_igvm(IgvmFile.from_bytes(two), "igvmmeasure").id_block.ld == bytes([2]) * 48  # type: ignore[union-attr]
    assert plan_igvm(IgvmFile.from_bytes(two), "igvm-crate").id_block.ld == bytes([1]) * 48  # type: ignore[union-attr]
    with pytest.raises(IgvmError, match="QEMU refuses a second SNP_ID_BLOCK"):
        plan_igvm(IgvmFile.from_bytes(two), "qemu")


def test_qemu_checks_every_vp_context_and_one_per_vcpu() -> None:
    bad = bytearray(kvm_vmsa())
    bad[0x320] = 1  # the reserved word between RBX and RBP: not a register KVM synchronises
    f = build([vp(0), vp(1, vmsa=bytes(bad))])
    with pytest.raises(IgvmError, match="VMSA byte 0x320 is set"):
        digest(f, "qemu", vcpus=1)  # QEMU loads every VP context, whatever -smp says
    twice = build([vp(0), vp(0, vmsa=kvm_vmsa(0x1000))])
    assert digest(twice, "igvmmeasure") == feed([("VMSA", VMSA_GPA, kvm_vmsa()), ("VMSA", VMSA_GPA, kvm_vmsa(0x1000))])
    # QEMU's sev_set_cpu_context replaces an earlier context of the same vCPU
    m = measure_igvm(twice, profile="qemu")
    assert m.digest == feed([("VMSA", VMSA_GPA, kvm_vmsa(0x1000))])
    assert any("a second VP context for vp_index 0; QEMU replaces header 2's" in w for w in m.warnings)
    replaced_bad = build([vp(0, vmsa=bytes(bad)), vp(0)])
    with pytest.raises(IgvmError, match="VMSA byte 0x320 is set"):
        digest(replaced_bad, "qemu")  # checked when QEMU loaded it, before the replacement
    with pytest.raises(IgvmError, match="has no VP context for its SEV-SNP platform"):
        digest(build([pd(0x1000, A)]), "qemu")


def test_lint_sees_the_insert_qemu_reorders_across_other_headers() -> None:
    from snpmeasure.igvm import RequiredMemory

    f = build([area(0, 0x1000), pd(0x1000, A), (RequiredMemory(0x100000, SNP, 0x1000), None), insert(0x9000, 0), vp()])
    assert "insert-reordered" in [x.rule for x in lint_igvm(f)]
    assert digest(f, "qemu") == feed(
        [("UNMEASURED", 0x9000, None), ("NORMAL", 0x1000, A), ("VMSA", VMSA_GPA, kvm_vmsa())]
    )


def test_sweep_and_list_profiles_know_the_igvm_models() -> None:
    from .support import run_ours

    f = build([pd(0x1000, A), vp(0), vp(1)])
    assert snpmeasure.sweep(mode="snp:igvm", igvm=f, vcpus="2") == {
        2: snpmeasure.measure(mode="snp:igvm", igvm=f, profile="qemu", vcpus=2).digest
    }
    with pytest.raises(ConfigError, match="out of bounds CPU index 1"):  # QEMU launches it with 2 vCPUs only
        snpmeasure.sweep(mode="snp:igvm", igvm=f, vcpus="1-2")
    with pytest.raises(ConfigError, match="sweep the qemu model"):
        snpmeasure.sweep(mode="snp:igvm", igvm=f, vcpus="1-2", profile="igvmmeasure")
    rc, out, _ = run_ours(["measure", "--mode", "snp:igvm", "--list-profiles", "--json"])
    import json

    assert rc == 0 and [p["name"] for p in json.loads(out)] == ["igvmmeasure", "igvm-crate", "qemu"]
    rc, out, _ = run_ours(["measure", "--list-profiles"])
    assert rc == 0 and "--mode snp:igvm --list-profiles lists the IGVM models" in out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["page", "page", "page", "insert", "other-platform", "odd"]),
            st.sampled_from([None, A, B]),
            st.sampled_from([0, 0, FLAG_SHARED, FLAG_UNMEASURED, FLAG_IS_2MB_PAGE]),
            st.sampled_from([0x1000, 0x1000, 0x2000, 0x200000, -0x1000]),
            st.sampled_from([SNP, 3]),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_the_native_page_runs_agree_with_the_python_path(
    spec: List[Tuple[str, Optional[bytes], int, int, int]], native_zero: bool
) -> None:
    """The native core reads runs of plain pages (csrc/igvm_scan.c); without it (the pure-Python
    backend) every header takes the Python path: same headers, same digest (or the same refusal)
    in every model, also when the core's region buffer fills and a run takes several calls."""
    import snpmeasure._core as core

    directives: List[Any] = []
    gpa = 0x10000000
    for n, (kind, data, flags, step, mask) in enumerate(spec):
        gpa += step
        if flags & FLAG_IS_2MB_PAGE:
            gpa = (gpa + 0x1FFFFF) & ~0x1FFFFF
        if kind == "insert":
            directives += [area(n, 0x1000), insert(gpa, n)]
        elif kind == "odd":  # secrets or CPUID data
            directives.append(pd(gpa, data, data_type=DATA_SECRETS if data is None else DATA_CPUID_DATA, mask=mask))
        else:
            directives.append(pd(gpa, data, flags=flags, mask=2 if kind == "other-platform" else mask))
    f = build(
        directives + [vp()],
        platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 5, 1, 0)],
    )

    def outcome(parsed: IgvmFile, model: str) -> Any:
        try:
            return measure_igvm(parsed, profile=model, native_zero=native_zero).digest
        except snpmeasure.Error as exc:
            return str(exc)

    native_file = IgvmFile.from_bytes(f)
    saved, room = core._native, core._IGVM_REGIONS
    core._IGVM_REGIONS = 2  # runs of more than two regions take several native calls
    try:
        small_calls = IgvmFile.from_bytes(f)
    finally:
        core._IGVM_REGIONS = room
    core._native = None
    try:
        python_file = IgvmFile.from_bytes(f)  # parsed without the native core: no page runs
    finally:
        core._native = saved
    assert python_file._page_runs == {}
    assert list(python_file.headers) == list(native_file.headers) == list(small_calls.headers)
    assert python_file.offsets == native_file.offsets
    for m in MODELS:
        assert outcome(native_file, m) == outcome(python_file, m) == outcome(small_calls, m)
    if core.native_available():  # the comparison above is native against Python only if runs were read
        assert IgvmFile.from_bytes(build([pd(0x1000, A), pd(0x2000, B), vp()]))._page_runs != {}


def test_a_mutable_buffer_is_read_as_a_snapshot() -> None:
    data = bytearray(build([pd(0x1000, A), pd(0x2000, B), vp()]))
    f = IgvmFile.from_bytes(data)
    before = list(f.headers)
    data[f.offsets[2] + 8] ^= 0x77  # the file changes after parsing: the parsed file does not
    assert list(f.headers) == before and not hasattr(f.headers, "append")


def test_the_cli_knows_the_igvm_models_without_loading_them() -> None:
    """profiles.IGVM_PROFILE_NAMES (read at start-up for --profile) names exactly the models."""
    from snpmeasure.profiles import IGVM_PROFILE_NAMES

    assert tuple(IGVM_PROFILES) == IGVM_PROFILE_NAMES


def test_lint_names_a_vmsa_without_efer_svme_or_cr4_mce() -> None:
    """The re-read: lint kept only check_vmsa_for_qemu's messages saying "QEMU refuses", and so
    dropped the EFER/CR4 rule, which the qemu model refuses all the same."""
    import struct

    from snpmeasure._vmsa import OFF_EFER

    vmsa = bytearray(kvm_vmsa())
    struct.pack_into("<Q", vmsa, OFF_EFER, 0)  # no EFER.SVME
    f = IgvmFile(build([pd(0x1000), vp(vmsa=bytes(vmsa))]))
    assert [x.rule for x in lint_igvm(f)] == ["vmsa-efer-cr4"]
    assert lint_igvm(f, check_kvm_only=True) == []
    with pytest.raises(IgvmError, match="lack SVME"):
        measure_igvm(f, profile="qemu")


def test_a_sweep_describes_each_count_as_measuring_it_alone() -> None:
    """A count's record is the single measurement's, ID block check included. QEMU launches a
    file with N VP contexts with N vCPUs only (fewer: a context out of bounds; more: a vCPU whose
    VMSA is not established), so a sweep has one count to give."""
    f = sign_igvm(
        build([pd(0x1000, A), vp(0), vp(1, vmsa=kvm_vmsa(rip=0x1000))]),
        KEYS / "id_key_test.pem",
        profile="qemu",
        vcpus=2,
    )
    records = sweep_measurements(mode="snp:igvm", igvm=f, vcpus="2", describe_inputs=True)
    alone = snpmeasure.measure(mode="snp:igvm", igvm=f, profile="qemu", vcpus=2, describe_inputs=True)
    assert [r.to_json() for r in records] == [alone.to_json()]
    assert records[0].vmsas == []  # as sweep_measurements leaves them: memory stays linear
    check = records[0].id_block_check
    assert check is not None and check.ld_matches and check.failures() == [] and check.id_block_signature_valid
    assert sweep_igvm(f, [2, 2]) == sweep_igvm(f, "2") == {2: records[0].digest}
    for counts, rule in (("1-2", "out of bounds CPU index 1"), ("2-3", "3 vCPUs, .* not established")):
        with pytest.raises(ConfigError, match=rule):
            sweep_measurements(mode="snp:igvm", igvm=f, vcpus=counts)


@pytest.mark.parametrize("counts", [[], [0, 1], [3, -1], [1, True], "0-2", "x"])
def test_a_sweep_refuses_counts_that_name_no_launch(counts: Any) -> None:
    f = build([pd(0x1000, A), vp(0), vp(1)])
    with pytest.raises(InvalidInputError, match="^vcpus: "):
        sweep_igvm_measurements(f, counts)
    with pytest.raises(InvalidInputError, match="^vcpus: "):
        sweep_igvm(f, counts)


def test_qemu_refuses_a_page_imported_twice() -> None:
    """KVM populates a guest page once: QEMU cannot launch a file that imports one twice, while
    igvmmeasure measures both imports."""
    f = build([pd(0x1000, A), pd(0x2000, C), area(0, 0x1000), insert(0x3000, 0), pd(0x1000, B), vp()])
    with pytest.raises(IgvmError, match=r"header 6 .*imports gpa 0x1000 again \(header 2 did\): KVM populates"):
        digest(f, "qemu")
    assert digest(f, "igvmmeasure") == feed(
        [
            ("NORMAL", 0x1000, A),
            ("NORMAL", 0x2000, C),
            ("UNMEASURED", 0x3000, None),
            ("NORMAL", 0x1000, B),
            ("VMSA", VMSA_GPA, kvm_vmsa()),
        ]
    )
    assert "overlapping-gpa" in [x.rule for x in lint_igvm(f)]
    # the page that repeats is named, not the first header of the run it was merged into
    runs = build([pd(0x2000, A), pd(0x1000, B), pd(0x2000, C), vp()])
    with pytest.raises(IgvmError, match=r"header 4 .*imports gpa 0x2000 again \(header 2 did\)"):
        digest(runs, "qemu")


def test_a_vsm_context_sharing_a_vmsas_offset_leaves_the_vmsa_whole() -> None:
    """Two contexts may point at one blob; the VSM one reads a register list from it, the SNP one
    still reads its whole page."""
    import zlib

    from snpmeasure.igvm import VpContext

    vmsa = bytearray(kvm_vmsa())
    vmsa[0] = 1  # the ES selector, which a VSM context at the same offset reads as register_count 1
    vmsa[5:9] = struct.pack("<I", 0x20010)  # and ES's limit bytes as its register's name (Rip)
    raw = bytearray(
        build(
            [vp(vmsa=bytes(vmsa)), (VpContext(0, 2, 0, 0), struct.pack("<I", 1) + _rip(0))],
            platforms=[SupportedPlatform(SNP, 0, 2, 1, 0), SupportedPlatform(2, 0, 1, 1, 0)],
        )
    )
    f = IgvmFile.from_bytes(bytes(raw))
    snp_ctx, vsm_index = f.headers[-2], len(f.headers) - 1
    assert isinstance(snp_ctx, VpContext)
    struct.pack_into("<I", raw, f.offsets[vsm_index] + 8 + 12, snp_ctx.file_offset)  # the VSM context's file_offset
    _, _, vh_off, vh_size, _, _ = struct.unpack_from("<6I", raw, 0)
    struct.pack_into("<I", raw, 20, 0)
    struct.pack_into("<I", raw, 20, zlib.crc32(bytes(raw[: vh_off + vh_size])))
    shared = IgvmFile.from_bytes(bytes(raw))
    assert bytes(shared.data_of(shared.headers[-2]) or b"") == bytes(vmsa)
    for model in MODELS:
        assert digest(bytes(raw), model) == feed([("VMSA", VMSA_GPA, bytes(vmsa))])


def test_madt_is_handled_by_qemu_after_10() -> None:
    """QEMU's loader handles MADT since early 2026 (10.x refuses it): the qemu model measures the
    file with a warning; a header no QEMU handles (COMMAND_LINE) is still refused."""
    from snpmeasure.igvm import VHT_COMMAND_LINE, VHT_MADT, Parameter

    madt = build([area(0, 0x1000), (Parameter(VHT_MADT, 0, 0), None), insert(0x9000, 0), vp()])
    m = measure_igvm(madt, profile="qemu")
    assert m.digest == feed([("UNMEASURED", 0x9000, None), ("VMSA", VMSA_GPA, kvm_vmsa())])
    assert any("QEMU 10.x refuses MADT" in w for w in m.warnings)
    assert [x.rule for x in lint_igvm(madt)] == ["older-qemu-refuses-header"]
    cmdline = build([area(0, 0x1000), (Parameter(VHT_COMMAND_LINE, 0, 0), None), insert(0x9000, 0), vp()])
    with pytest.raises(IgvmError, match="QEMU refuses the file: 'IGVM: Unknown header type"):
        digest(cmdline, "qemu")


def test_parameter_areas_the_crate_takes_and_qemu_would_misuse() -> None:
    """The igvm crate takes a 0-byte parameter area and a parameter past its area (it checks
    neither); igvmmeasure measures one page per insert, the crate none for 0 bytes; the qemu
    model refuses both (QEMU's handling of the first is not established, the second it would
    write past its buffer)."""
    from snpmeasure.igvm import VHT_VP_COUNT_PARAMETER, Parameter

    empty = build([area(0, 0), insert(0x9000, 0), vp()])
    assert digest(empty, "igvmmeasure") == feed([("UNMEASURED", 0x9000, None), ("VMSA", VMSA_GPA, kvm_vmsa())])
    assert digest(empty, "igvm-crate") == feed([("VMSA", VMSA_GPA, kvm_vmsa())])
    with pytest.raises(IgvmError, match="0-byte parameter area: .* not established"):
        digest(empty, "qemu")
    past = build([area(0, 0x1000), (Parameter(VHT_VP_COUNT_PARAMETER, 0, 0xFFE), None), insert(0x9000, 0), vp()])
    assert digest(past, "igvm-crate") == feed([("UNMEASURED", 0x9000, None), ("VMSA", VMSA_GPA, kvm_vmsa())])
    with pytest.raises(IgvmError, match=r"byte_offset 0xffe \+ 4 is outside parameter area 0 .* QEMU would write past"):
        digest(past, "qemu")
    from snpmeasure.igvm import VHT_MEMORY_MAP

    empty_map = build([area(0, 0), (Parameter(VHT_MEMORY_MAP, 0, 0), None), vp()])  # QEMU writes one entry at least
    with pytest.raises(IgvmError, match="MEMORY_MAP in a 0-byte parameter area: QEMU writes at least one entry"):
        digest(empty_map, "qemu")
    inside = build([area(0, 0x1000), (Parameter(VHT_VP_COUNT_PARAMETER, 0, 0xFFC), None), insert(0x9000, 0), vp()])
    assert digest(inside, "qemu") == feed([("UNMEASURED", 0x9000, None), ("VMSA", VMSA_GPA, kvm_vmsa())])


def test_an_author_key_with_algorithm_0_is_named_by_the_directives_field() -> None:
    """QEMU enables the author key by the key: a key behind author_key_algorithm 0 is named by
    the directive's own field, not by the ID authentication structure's."""
    import dataclasses

    from snpmeasure.errors import IgvmError
    from snpmeasure.igvm import IgvmFile, SnpIdBlock
    from snpmeasure.igvm_launch import id_block_structs

    from .builders.igvm_files import TINY

    f = IgvmFile.load(TINY["tiny_x86"])
    (h,) = [x for x in f.headers if isinstance(x, SnpIdBlock)]
    odd = dataclasses.replace(
        h, author_public_key=h.id_public_key, author_key_signature=h.id_key_signature, author_key_algorithm=0
    )
    with pytest.raises(IgvmError, match="author_key_algorithm is 0, expected 1 with an author key"):
        id_block_structs(f, odd, 0x30000, f.headers.index(h))


def test_the_inputs_an_igvm_file_holds_are_refused_alike_by_measure_and_explain() -> None:
    """One list (_plan.LAUNCH_INPUTS), read from each function's arguments by name: every
    name must be an argument of both, and each is refused by both."""
    import inspect

    from snpmeasure._plan import LAUNCH_INPUTS as FILE_HELD_INPUTS

    assert set(FILE_HELD_INPUTS) <= set(inspect.signature(snpmeasure.measure).parameters)
    assert set(FILE_HELD_INPUTS) - set(inspect.signature(snpmeasure.explain).parameters) == {"snp_ovmf_hash"}
    path = str(TINY["tiny_x86"])
    for name in ("append", "initrd", "vcpu_model", "ovmf"):
        with pytest.raises(InvalidInputError) as exc:
            snpmeasure.measure(mode="snp:igvm", igvm=path, **{name: "x" if name != "vcpu_model" else 1})
        assert exc.value.field == name
        with pytest.raises(InvalidInputError) as exc:
            snpmeasure.explain(measurement=bytes(48), igvm=path, **{name: "x" if name != "vcpu_model" else 1})
        assert exc.value.field == name and "the IGVM file holds" in exc.value.rule


def test_every_lint_rule_is_listed_and_documented() -> None:
    """LINT_RULES names every rule lint_igvm emits (read from its source), and docs/igvm.md each."""
    import inspect
    import re

    from snpmeasure import igvm_launch
    from snpmeasure.igvm_launch import LINT_RULES

    from .support import FIXTURES

    source = inspect.getsource(igvm_launch.lint_igvm)
    named = set(re.findall(r'Finding\(\s*"([a-z0-9-]+)"', source))
    for group in re.findall(r"if rule in \(([^)]*)\)", source):  # the qemu model's VMSA rules it passes on
        named |= set(re.findall(r'"([a-z0-9-]+)"', group))
    assert {"one-vmsa", "vmsa-efer-cr4", "overlapping-gpa"} <= named
    assert sorted(named - set(LINT_RULES)) == []
    doc = (FIXTURES.parent.parent / "docs/igvm.md").read_text(encoding="utf-8")
    assert [r for r in LINT_RULES if f"`{r}`" not in doc] == []


def test_qemu_refuses_a_page_past_2_52() -> None:
    """KVM has no guest memory past x86's widest guest-physical space: QEMU cannot launch such a file."""
    f = build([pd(1 << 52, A), vp()])
    with pytest.raises(IgvmError, match=r"header 2 .*imports gpa 0x10000000000000 \(1 pages\), past 2\*\*52"):
        digest(f, "qemu")
    digest(f, "igvmmeasure")  # the tool measures what the file says
