"""snpmeasure.errors: every bad argument raises an Error naming its field; enum lookups; errors pickle with their fields."""

from __future__ import annotations

from typing import Any, Callable

import pytest

import snpmeasure
import snpmeasure.certs
import snpmeasure.exports
import snpmeasure.igvm
import snpmeasure.measurement
import snpmeasure.report
import snpmeasure.tables
from snpmeasure import Error, InvalidInputError, LaunchDigest, blobs
from snpmeasure._files import InputFileError
from snpmeasure.firmware import Firmware, HostModel, Status
from snpmeasure.images import FirmwareImage, FirmwareManifest, SectionType
from snpmeasure.policy import GuestPolicy
from snpmeasure.qemu import SevSnpGuest
from snpmeasure.report import AttestationReport, read_report_input

from .builders.api_inputs import MEASURE, OVMF
from .builders.igvm_files import TINY
from .support import FIXTURES

KEY = str(FIXTURES / "keys" / "id_key_test.pem")


REPORT = FIXTURES / "attestation" / "attestation.bin"


def _table() -> Any:
    return snpmeasure.table(ovmf=OVMF, vcpu_types=["EPYC-Milan"])


def _refs() -> Any:
    from snpmeasure.references import ReferenceSet

    return ReferenceSet(_table().rows, source="test", form="json")


def _igvm(header: Any, data: Any = None) -> bytes:
    from snpmeasure.igvm import IgvmBuilder, SupportedPlatform

    return IgvmBuilder().add(SupportedPlatform(1, 0, 2, 1, 0)).add(header, data).to_bytes()


@pytest.mark.parametrize(
    "call,field",
    [
        # an int is a file descriptor to open(): never taken as a path
        (lambda: snpmeasure.measure(**{**MEASURE, "ovmf": 1}), "ovmf"),
        (lambda: snpmeasure.measure(**MEASURE, kernel=0), "kernel"),
        (lambda: FirmwareImage.open(2), "image"),
        (lambda: FirmwareManifest.load(0), "manifest"),
        (lambda: blobs.load_private_key(1), "key"),
        # an int is not a byte string (bytes(48) would be 48 zeros)
        (lambda: blobs.sign_id_block(48, KEY), "ld"),  # type: ignore[arg-type]
        (lambda: blobs.IdBlock.from_bytes(96), "id-block"),  # type: ignore[arg-type]
        (lambda: blobs.IdAuth.from_bytes(2**64), "id-auth"),  # type: ignore[arg-type]
        (lambda: read_report_input(1184), "report"),  # type: ignore[arg-type]
        # counts and lengths the native core cannot take
        (lambda: LaunchDigest().update_vmsa(bytes(4096), count=2**24 + 1), "count"),
        (lambda: LaunchDigest().update_vmsa(bytes(4096), count=2**64), "count"),
        (lambda: LaunchDigest().update_vmsa_each(bytes(4096), count=2**17), "count"),
        (lambda: LaunchDigest().update_zero(0, 2**64), "length"),
        (lambda: LaunchDigest().update(True, 0, bytes(4096)), "page_type"),  # type: ignore[arg-type]
        (lambda: LaunchDigest().update(1.0, 0, bytes(4096)), "page_type"),  # type: ignore[arg-type]
        # numbers longer than Python parses from text
        (lambda: SevSnpGuest.from_cli("sev-snp-guest,id=a,reduced-phys-bits=1,policy=" + "9" * 5000), "policy"),
        (lambda: SevSnpGuest.from_qmp('{"qom-type":"sev-snp-guest","id":"a","policy":' + "9" * 5000 + "}"), "qmp"),
        (
            lambda: SevSnpGuest.from_libvirt(
                "<launchSecurity type='sev-snp'><cbitpos>" + "9" * 5000 + "</cbitpos></launchSecurity>"
            ),
            "libvirt.launchSecurity.cbitpos",
        ),
        # wrong types
        (lambda: SevSnpGuest(policy=-1, reduced_phys_bits=1).to_cli(), "policy"),
        (lambda: SevSnpGuest(policy="0x30000").to_qmp(), "policy"),  # type: ignore[arg-type]
        (lambda: SevSnpGuest(id=5).validate(), "id"),  # type: ignore[arg-type]
        (lambda: SevSnpGuest(host_data=b"AAAA").validate(), "host-data"),  # type: ignore[arg-type]
        (lambda: SevSnpGuest.from_cli(None), "object"),  # type: ignore[arg-type]
        (lambda: SevSnpGuest.from_libvirt(b"<x/>"), "libvirt"),  # type: ignore[arg-type]
        (lambda: SevSnpGuest.from_properties([("id",)]), "properties"),  # type: ignore[list-item]
        (lambda: GuestPolicy.parse(None), "policy"),  # type: ignore[arg-type]
        (lambda: GuestPolicy.parse(b"0x30000"), "policy"),  # type: ignore[arg-type]
        (lambda: GuestPolicy().firmware_problems(abi="1.55"), "abi"),  # type: ignore[arg-type]
        (lambda: blobs.parse_id("family_id", 123), "family_id"),  # type: ignore[arg-type]
        (lambda: blobs.parse_blob("foo", "AAAA"), "foo"),
        (lambda: blobs.decode_b64("id-block", None), "id-block"),  # type: ignore[arg-type]
        (lambda: blobs.ExternalSigner("key.pub", print), "public_key"),  # type: ignore[arg-type]
        (lambda: Firmware(host={"abi": 1}), "host"),  # type: ignore[arg-type]
        (lambda: Firmware(host=HostModel(abi=(True, 55))), "abi"),
        (lambda: snpmeasure.measure(**{**MEASURE, "vcpu_type": ["EPYC"]}), "vcpu_type"),  # type: ignore[arg-type]
        (lambda: snpmeasure.measure(**MEASURE, profile=["qemu"]), "profile"),  # type: ignore[arg-type]
        (lambda: snpmeasure.measure(**MEASURE, kernel_hash=5), "kernel_hash"),  # type: ignore[arg-type]
        (lambda: snpmeasure.measure(**MEASURE, firmware="x"), "firmware"),  # type: ignore[arg-type]
        (lambda: snpmeasure.table(ovmf=OVMF, vcpu_types="EPYC-Milan"), "vcpu_types"),
        (lambda: snpmeasure.table(ovmf=OVMF, vcpu_types=["EPYC"], guest_features=5), "guest_features"),  # type: ignore[arg-type]
        (lambda: snpmeasure.sweep(**{**MEASURE, "vcpus": None}), "vcpus"),  # type: ignore[arg-type]
        (lambda: AttestationReport.from_bytes(REPORT, generation=[]), "generation"),  # type: ignore[arg-type]
        (lambda: AttestationReport.from_bytes(REPORT).check(None), "expected"),  # type: ignore[arg-type]
        # constructors check their fields too
        (lambda: blobs.IdBlock(ld=None), "ld"),  # type: ignore[arg-type]
        (lambda: blobs.IdBlock(ld="x" * 48), "ld"),  # type: ignore[arg-type]
        (lambda: blobs.IdAuth(None, None), "id_block_sig"),  # type: ignore[arg-type]
        (lambda: blobs.AmdPublicKey(-1, 0), "key"),
        (lambda: blobs.AmdSignature.from_any(2**64), "signature"),  # type: ignore[arg-type]
        (lambda: FirmwareImage(bytes(4096), end_gpa=1.5), "end_gpa"),  # type: ignore[arg-type]
        (lambda: FirmwareImage("x" * 4096), "firmware"),  # type: ignore[arg-type]
        (
            lambda: snpmeasure.measurement.sev_launch_measurement(
                bytes(32), tik=None, mnonce=bytes(16), api_major=0, api_minor=24, build=15, policy=0
            ),
            "tik",
        ),  # type: ignore[arg-type]
        (lambda: snpmeasure.certs.product_chain(4096), "product"),  # type: ignore[arg-type]
        (lambda: snpmeasure.certs.product_chain("milan", "a\0b"), "product"),
        (lambda: snpmeasure.report.generation_of(25, b"abc"), "cpuid"),  # type: ignore[arg-type]
        (lambda: snpmeasure.report.TcbVersion.decode(0, "zen9"), "generation"),
        (lambda: snpmeasure.report.TcbVersion.decode(-1, "milan"), "tcb"),
        (lambda: snpmeasure.tables.rows_from_csv("a,b\n1,2"), "csv"),
        (lambda: snpmeasure.tables.table_csv([1]), "rows"),  # type: ignore[list-item]
        # second audit: messages about huge ints, undecodable text, more constructors and helpers
        (lambda: GuestPolicy.from_int(2**20000), "policy"),
        (lambda: LaunchDigest().update_normal(2**20000, bytes(4096)), "gpa"),
        (lambda: snpmeasure.Expectations(guest_svn=2**20000), "guest_svn"),
        (lambda: snpmeasure.Expectations(policy_at_most=True), "policy_at_most"),
        (lambda: AttestationReport.from_bytes("\udcff"), "report"),
        (lambda: SevSnpGuest.from_libvirt("\udcff"), "libvirt"),
        (lambda: SevSnpGuest().blob("foo"), "foo"),
        (lambda: snpmeasure.Expectations.from_launch(None), "result"),  # type: ignore[arg-type]
        (lambda: snpmeasure.tables.ReferenceTable(None, firmware={}, inputs={}, profiles={}), "rows"),  # type: ignore[arg-type]
        (lambda: snpmeasure.table(ovmf=OVMF, vcpu_types=["EPYC"], progress=5), "progress"),  # type: ignore[arg-type]
        (lambda: FirmwareImage.open(OVMF).entry({}), "guid"),  # type: ignore[arg-type]
        (lambda: snpmeasure.certs.product_chain("x" * 300), "product"),
        (lambda: snpmeasure.certs.check_validity("x", "vcek"), "vcek"),  # type: ignore[arg-type]
        (lambda: Firmware(host=HostModel(smt_enabled="no")), "smt_enabled"),  # type: ignore[arg-type]
        (lambda: snpmeasure.measure(**MEASURE, trace="no"), "trace"),  # type: ignore[arg-type]
        (lambda: snpmeasure.LaunchProfile.from_json({"base": "nope"}), "profile.base"),
        (lambda: blobs.AmdSignature.from_der("junk"), "signature"),  # type: ignore[arg-type]
        (
            lambda: FirmwareManifest(
                name="x",
                size="4096",
                sha256="0" * 64,
                ovmf_digest=bytes(48),
                sections=[],  # type: ignore[arg-type]
                sev_es_reset_eip=None,
                sev_hash_table=None,
            ),
            "x: size",
        ),
        # the second hostile-input sweep's calls: each raised TypeError, AttributeError or struct.error
        (lambda: snpmeasure.table(ovmf=OVMF, vcpu_types=["EPYC-Milan"], kernel_hash=True), "kernel_hash"),
        (lambda: snpmeasure.exports.to_corim(None), "table"),  # type: ignore[arg-type]
        (lambda: snpmeasure.exports.to_trustee(None), "table"),  # type: ignore[arg-type]
        (lambda: snpmeasure.exports.to_corim(_table(), signing_key=bytearray(b"VCEK")), "signing_key"),  # type: ignore[arg-type]
        (lambda: snpmeasure.exports.to_go_sev_guest(bytes(48), comment=None), "comment"),  # type: ignore[arg-type]
        (lambda: snpmeasure.exports.to_go_sev_guest(bytes(48), id_key_digests=None), "id_key_digests"),  # type: ignore[arg-type]
        (lambda: snpmeasure.exports.from_go_sev_guest(None), "config"),  # type: ignore[arg-type]
        (lambda: _refs().matching(48), "measurement"),  # type: ignore[arg-type]
        (lambda: _refs().check(None), "report"),  # type: ignore[arg-type]
        (lambda: snpmeasure.VerifyConfig(measurements=None), "measurements"),  # type: ignore[arg-type]
        (lambda: snpmeasure.VerifyConfig(measurements=[48]), "measurements"),  # type: ignore[list-item]
        (lambda: snpmeasure.VerifyConfig(measurements=[bytes(48)]).check(None), "report"),  # type: ignore[arg-type]
        (lambda: AttestationReport.from_bytes(REPORT.read_bytes()).kds_urls(True), "product"),  # type: ignore[arg-type]
        (lambda: snpmeasure.explain(bytes(48), ovmf=OVMF, vcpu_type="EPYC-Milan", fix=None), "fix"),  # type: ignore[arg-type]
        (lambda: snpmeasure.explain(bytes(48), ovmf=OVMF, vcpu_type=bytearray(b"x")), "vcpu_type"),  # type: ignore[arg-type]
        (lambda: snpmeasure.measure(mode="snp:igvm", igvm=str(TINY["tiny_x86"]), firmware=True), "firmware"),  # type: ignore[arg-type]
        (lambda: _igvm(snpmeasure.igvm.PageData(-1, 1, 0)), "header"),
        (lambda: _igvm(snpmeasure.igvm.PageData(None, 1, 0)), "header"),  # type: ignore[arg-type]
        (lambda: _igvm(snpmeasure.igvm.PageData(0, 1, 0), 4096), "data"),
        (lambda: LaunchDigest(threads=2**100000), "threads"),
        (lambda: snpmeasure.sweep(vcpus=range(1, 10**11), ovmf=OVMF, vcpu_type="EPYC-Milan"), "vcpus"),
        (
            lambda: snpmeasure.sweep(mode="snp:igvm", igvm=str(TINY["tiny_x86"]), vcpus="1", native_zero="no"),
            "native_zero",
        ),
        (lambda: SevSnpGuest(sev_device="x\n", cbitpos=51, reduced_phys_bits=1).validate(), "sev-device"),
    ],
)
def test_bad_arguments_raise_errors_naming_the_field(call: Callable[[], Any], field: str) -> None:
    with pytest.raises(Error) as exc:
        call()
    assert isinstance(exc.value, InvalidInputError) and exc.value.field == field, repr(exc.value)


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: snpmeasure.PageType(9), "page_type"),
        (lambda: snpmeasure.PageType("NORMAL"), "page_type"),
        (lambda: Status(0x99), "status"),
        (lambda: SectionType(7), "section type"),
    ],
)
def test_enum_lookups_raise_snpmeasure_errors(make: Any, field: str) -> None:
    """PageType(9) and friends: an InvalidInputError naming the field (still a ValueError)."""
    with pytest.raises(InvalidInputError) as exc:
        make()
    assert exc.value.field == field and isinstance(exc.value, ValueError) and "must be one of" in str(exc.value)


def test_errors_pickle_with_their_fields() -> None:
    """Errors cross process boundaries (multiprocessing) with their fields intact."""
    import pickle

    from snpmeasure.errors import ImageError, NativeError, SignatureError
    from snpmeasure.firmware import FirmwareError, KvmError

    for err in (
        InvalidInputError("gpa", "must be aligned"),
        ImageError("footer", "bad"),
        InputFileError("ovmf", "missing", 2, "x.fd"),
        FirmwareError("SNP_LAUNCH_FINISH", Status.BAD_MEASUREMENT, "digest differs"),
        KvmError("SNP_LAUNCH_START", "bits", "EINVAL"),
        SignatureError("bad"),
        NativeError("code 9"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err) and vars(back) == vars(err)
