"""A user's script that uses every public name the README and docs show; tests/test_init.py runs
``mypy --strict`` on it, so the package's typing view (``__all__``, re-exports, ``py.typed``) keeps
serving the documented API."""

from __future__ import annotations

import snpmeasure
from snpmeasure import (
    PAGE_SIZE,
    VMSA_GPA,
    AttestationReport,
    Error,
    Expectations,
    ExplainMatch,
    Explanation,
    Firmware,
    FirmwareImage,
    FirmwareManifest,
    GuestPolicy,
    HostModel,
    IdAuth,
    IdBlock,
    IgvmFile,
    InputFileError,
    InvalidInputError,
    LaunchDigest,
    LaunchProfile,
    LaunchResult,
    Measurement,
    Mismatch,
    PageType,
    ReferenceSet,
    ReferenceTable,
    SevSnpGuest,
    Status,
    VerifyConfig,
    explain,
    load_references,
    measure,
    sign_id_block,
    sweep,
    table,
)


def digest_of(firmware: bytes) -> str:
    d = LaunchDigest()
    d.update_normal(0xFFC00000, firmware)
    d.update(PageType.ZERO, 0x800000, length=0x9000)
    d.update_vmsa(bytes(PAGE_SIZE), VMSA_GPA)
    fork: LaunchDigest = d.copy()
    return fork.hexdigest()


def launch(ovmf: str) -> str:
    m: Measurement = measure(mode="snp", ovmf=ovmf, vcpus=4, vcpu_type="EPYC-Genoa", profile="qemu")
    man = FirmwareManifest.from_image(ovmf)
    counts = sweep(manifest=man, vcpus="1-4", vcpu_type="EPYC-Genoa")
    rows: ReferenceTable = table(manifest=man, vcpus="1-2", vcpu_types=["EPYC-Milan"], profiles=["qemu"])
    profile = LaunchProfile.from_json(snpmeasure.LaunchProfile.from_json({"name": "x"}).to_json()) if rows else None
    del profile, counts
    return m.hex() + m.base64()


def checks(report_file: str, vcek: str) -> list[Mismatch]:
    policy = GuestPolicy.parse("0x30000")
    fw = Firmware(host=HostModel())
    fw.launch_start(policy.to_int())
    block: IdBlock
    auth: IdAuth
    block, auth = sign_id_block(bytes(48), "id_key.pem")
    guest = SevSnpGuest.from_cli("sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1")
    finish_auth: bytes | None = guest.finish_id_auth()
    del finish_auth
    report = AttestationReport.from_bytes(report_file)
    report = report.for_product(report.verify(vcek))
    result: LaunchResult | None = None
    del fw, block, auth, guest, result
    status: Status = Status.SUCCESS
    del status
    image: FirmwareImage | None = None
    del image
    rules: list[Mismatch] = report.validate(permit_provisional_firmware=False)
    warned: list[str] = report.reserved_problems(refused=False)
    del warned
    return rules + report.check(Expectations(policy=policy.to_int()))


def errors() -> None:
    try:
        measure(mode="snp", ovmf="missing.fd", vcpus=1)
    except InputFileError as exc:
        print(exc.field, exc.rule, exc.filename)
    except InvalidInputError as exc:
        print(exc.field, exc.rule)
    except Error as exc:
        print(exc)


def igvm(path: str) -> str:
    f: IgvmFile = IgvmFile.load(path)
    names: list[str] = [h.type_name for h in f.headers]
    first_directive: int = next(i for i, _ in f.directives())
    del first_directive
    m: Measurement = measure(mode="snp:igvm", igvm=f, profile="qemu", vcpus=2)
    check = m.id_block_check
    failed: list[str] = [] if check is None else check.failures()
    del names, failed
    return m.hexdigest() + str(len(f.to_bytes()))


def why(ovmf: str, reported: bytes) -> list[str]:
    found: Explanation = explain(reported, ovmf=ovmf, vcpus=4, vcpu_type="EPYC-Milan", search_vcpus="1-64")
    best: list[ExplainMatch] = found.matches[:1]
    return [f"{m.describe()}: {'; '.join(m.notes)}" for m in best] + found.suggestions


def against_references(report: AttestationReport, refs_path: str, config_path: str) -> list[str]:
    refs: ReferenceSet = load_references(refs_path)
    rows, failures = refs.check(report)
    config: VerifyConfig = VerifyConfig.load(config_path)
    return [r.hexdigest() for r in rows] + [m.line() for m in failures + config.check(report)]
