"""``measure()``: guest inputs → plan → firmware model → :class:`Measurement`.

SNP digests go through :class:`firmware.Firmware` (the same path the launch dry run uses); SEV and
SEV-ES digests through :class:`firmware.SevFirmware` (SHA-256), plus the LAUNCH_MEASURE HMAC when
the guest owner's TIK and the platform's nonce are given (docs/reference/firmware-abi.md §8.4).
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._checks import ascii_int, require_type
from ._cpus import MAX_VCPUS, resolve_vcpu_sig
from ._files import file_size
from ._plan import LAUNCH_INPUTS, MODES, FirmwareLayout, Plan, run_snp, sev_plan, snp_plan
from ._version import __version__
from .errors import ConfigError, ImageError, InvalidInputError, show
from .firmware import Firmware, GuestState, HostModel, SevFirmware, TraceEntry
from .images import FirmwareImage, FirmwareManifest, SvsmImage, map_file
from .kernel_hashes import KernelHashes, bzimage_warning, sha256_file
from .pages import Buffer, parse_seed
from .profiles import VMM_TYPE_PROFILES, LaunchProfile, get_profile, require_snp_active

if TYPE_CHECKING:
    from .igvm_launch import IdBlockCheck, IgvmSource

#: A firmware given as a path, an opened image, or its bytes (any buffer: bytes, bytearray,
#: memoryview, mmap), which are measured without a copy.
PathOrImage = Union[str, "os.PathLike[str]", FirmwareImage, bytes, bytearray, memoryview, mmap.mmap]
_BUFFERS = (bytes, bytearray, memoryview, mmap.mmap)

#: ``Measurement.mode`` names as sev-snp-measure prints them with ``-v``.
MODE_NAMES = {
    "snp": "SEV_SNP",
    "snp:ovmf-hash": "SEV_SNP",
    "snp:svsm": "SEV_SNP_SVSM",
    "snp:igvm": "SEV_SNP",
    "sev": "SEV",
    "seves": "SEV_ES",
}


class Measurement:
    """A computed launch measurement and what it was computed from."""

    def __init__(
        self,
        digest: bytes,
        mode: str,
        profile: str,
        vcpus: Optional[int] = None,
        vcpu_sig: Optional[int] = None,
        guest_features: Optional[int] = None,
        inputs: Optional[Dict[str, Dict[str, Any]]] = None,
        trace: Optional[List[TraceEntry]] = None,
        warnings: Optional[List[str]] = None,
        vmsas: Optional[List[bytes]] = None,
        kernel_hashes: bool = False,
        launch_profile: Optional[LaunchProfile] = None,
    ) -> None:
        self.digest = digest
        self.mode = mode
        self.profile = profile
        self.vcpus = vcpus
        self.vcpu_sig = vcpu_sig
        self.guest_features = guest_features
        self.inputs: Dict[str, Dict[str, Any]] = inputs or {}
        self.trace = trace
        self.warnings: List[str] = warnings or []
        self.vmsas: List[bytes] = vmsas or []
        #: Whether the launch measured the SEV hashes table of a kernel, initrd and command line
        #: (QEMU's ``kernel-hashes=on``).
        self.kernel_hashes = kernel_hashes
        #: The full definition of the profile named by ``profile`` (None if not recorded).
        self.launch_profile = launch_profile
        #: snp:igvm: what LAUNCH_FINISH would say of the file's ID block (None without one).
        self.id_block_check: Optional[IdBlockCheck] = None
        #: snp:igvm: the model (its definition), the file's policy and platform (None otherwise).
        self.igvm: Optional[Dict[str, Any]] = None

    #: hashlib's attributes, as :class:`LaunchDigest` has them.
    digest_size = 48
    name = "snp-launch-digest"

    def __repr__(self) -> str:
        return f"Measurement(mode={show(self.mode)}, profile={show(self.profile)}, digest={self.hex()})"

    def __eq__(self, other: object) -> bool:
        """Measurements compare by value: digest, how it was computed, inputs, trace and VMSAs."""
        if not isinstance(other, Measurement):
            return NotImplemented
        return self.to_json() == other.to_json() and self.vmsas == other.vmsas

    __hash__ = None  # type: ignore[assignment]  # compared by value, and its fields can be set

    def hex(self) -> str:
        """The digest as lower-case hex."""
        return self.digest.hex()

    def hexdigest(self) -> str:
        """The digest as lower-case hex, by hashlib's name (the same as :meth:`hex`)."""
        return self.digest.hex()

    def base64(self) -> str:
        """The digest as standard base64 (the form QEMU's id-block tooling uses)."""
        import base64

        return base64.b64encode(self.digest).decode()

    def to_json(self) -> Dict[str, Any]:
        """A JSON-ready dict: measurement, mode, profile, inputs with their SHA-256, and more."""
        out: Dict[str, Any] = {
            "measurement": self.hex(),
            "measurement_base64": self.base64(),
            "mode": self.mode,
            "profile": self.profile,
            "vcpus": self.vcpus,
            "vcpu_sig": None if self.vcpu_sig is None else f"{self.vcpu_sig:#x}",
            "guest_features": None if self.guest_features is None else f"{self.guest_features:#x}",
            "kernel_hashes": self.kernel_hashes,
            "inputs": self.inputs,
            "warnings": self.warnings,
            "snpmeasure_version": __version__,
        }
        if self.launch_profile is not None:
            out["profile_definition"] = self.launch_profile.to_json()
        if self.igvm is not None:
            out["igvm"] = {
                **self.igvm,
                "id_block": None if self.id_block_check is None else self.id_block_check.to_json(),
            }
        if self.trace is not None:
            out["trace"] = [t.to_json() for t in self.trace]
        return out


def _file_info(field: str, path: Union[str, os.PathLike[str]], sha256: Optional[str] = None) -> Dict[str, Any]:
    if sha256 is None:
        sha256 = sha256_file(path, field).hex()
    return {"path": os.fspath(path), "sha256": sha256, "size": file_size(field, path)}


def describe_kernel_inputs(
    hashes: KernelHashes,
    kernel: Optional[Union[str, os.PathLike[str]]],
    initrd: Optional[Union[str, os.PathLike[str]]],
    append: Optional[str],
) -> Dict[str, Dict[str, Any]]:
    """The ``inputs`` records of a kernel, initrd and command line (path, SHA-256, size), as
    ``measure --json`` and ``table --json`` write them."""
    out: Dict[str, Dict[str, Any]] = {}
    for name, path in (("kernel", kernel), ("initrd", initrd)):
        digest = getattr(hashes, name).hex()
        out[name] = _file_info(name, path, digest) if path is not None else {"sha256": digest}
    out["append"] = {"value": append, "sha256": hashes.cmdline.hex()}
    return out


def resolve_profile(profile: Union[str, LaunchProfile, None], vmm_type: Optional[str], mode: str) -> LaunchProfile:
    """The profile from ``profile`` and the sev-snp-measure style ``vmm_type`` (they must agree)."""
    if vmm_type is not None and (not isinstance(vmm_type, str) or vmm_type not in VMM_TYPE_PROFILES):
        raise InvalidInputError("vmm_type", f"unknown VMM type {show(vmm_type)}; known: {', '.join(VMM_TYPE_PROFILES)}")
    if profile is None:
        if mode == "snp:svsm":
            if vmm_type not in (None, "QEMU"):
                raise ConfigError("vmm_type", "snp:svsm mode is only defined for QEMU")
            return get_profile("svsm")
        return get_profile(VMM_TYPE_PROFILES[vmm_type or "QEMU"])
    prof = get_profile(profile)
    if vmm_type is not None and VMM_TYPE_PROFILES[vmm_type] != prof.vmm:
        raise ConfigError("vmm_type", f"{vmm_type} contradicts profile {show(prof.name)} (a {prof.vmm} profile)")
    if mode == "snp:svsm" and prof.vmsa.kind != "svsm":
        raise ConfigError("profile", f"snp:svsm mode needs an SVSM profile, got {show(prof.name)}")
    if mode != "snp:svsm" and prof.vmsa.kind == "svsm":
        raise ConfigError("profile", f"profile {show(prof.name)} is for mode snp:svsm")
    return prof


def _firmware_source(
    mode: str,
    ovmf: Optional[PathOrImage],
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest],
    inputs: Optional[Dict[str, Dict[str, Any]]],
) -> Tuple[FirmwareLayout, Optional[Buffer], Optional[bytes]]:
    """The firmware a launch measures: (its layout, its bytes or None, the digest to start from or
    None) from the image (a path, bytes or a FirmwareImage) or a verifier's manifest; described in
    ``inputs`` when given."""
    if manifest is not None:
        man = manifest if isinstance(manifest, FirmwareManifest) else FirmwareManifest.load(manifest)
        if mode not in ("snp", "snp:ovmf-hash"):
            raise ConfigError(
                "manifest",
                f"mode {show(mode)} needs the firmware binary (SEV/SEV-ES hash all of it; SVSM needs its image)",
            )
        if inputs is not None:
            inputs["firmware_manifest"] = {
                "path": None if isinstance(manifest, FirmwareManifest) else os.fspath(manifest),
                "firmware_sha256": man.sha256,
                "size": man.size,
            }
        return man, None, man.ovmf_digest
    assert ovmf is not None
    if isinstance(ovmf, FirmwareImage):
        image = ovmf
    elif isinstance(ovmf, _BUFFERS):
        image = FirmwareImage(ovmf, name="ovmf")
    else:
        image = FirmwareImage.open(ovmf, field="ovmf")
    if inputs is not None:
        inputs["ovmf"] = {"path": image.name, "sha256": image.sha256(), "size": image.size}
    return image, image.data, None


def _snp_features(prof: LaunchProfile, guest_features: Optional[int]) -> int:
    """The VMSAs' SEV_FEATURES in an SNP launch: the profile's (fixed, or its default), else the given."""
    if prof.fixed_guest_features:
        if guest_features is not None and guest_features != prof.default_guest_features:
            raise ConfigError(
                "guest_features", f"profile {show(prof.name)} always uses {prof.default_guest_features:#x}"
            )
        return prof.default_guest_features
    features = prof.default_guest_features if guest_features is None else _check_features(guest_features)
    require_snp_active("guest_features", features)
    return features


class _Prepared(NamedTuple):
    """Everything decided before the first launch command: the plan and how to run it."""

    mode: str
    profile: LaunchProfile
    plan: Plan
    seed: Optional[bytes]
    inputs: Dict[str, Dict[str, Any]]
    vcpus: Optional[int]
    vcpu_sig: Optional[int]
    features: Optional[int]
    kernel_hashes: bool = False


def _prepare(
    *,
    mode: str,
    ovmf: Optional[PathOrImage],
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest],
    vcpus: Optional[int],
    vcpu_type: Optional[str],
    vcpu_sig: Optional[int],
    vcpu_family: Optional[int],
    vcpu_model: Optional[int],
    vcpu_stepping: Optional[int],
    vmm_type: Optional[str],
    profile: Union[str, LaunchProfile, None],
    kernel: Optional[Union[str, os.PathLike[str]]],
    initrd: Optional[Union[str, os.PathLike[str]]],
    append: Optional[str],
    kernel_hash: Optional[str],
    initrd_hash: Optional[str],
    append_hash: Optional[str],
    guest_features: Optional[int],
    snp_ovmf_hash: Optional[Union[str, bytes]],
    svsm: Optional[PathOrImage],
    vars_size: Optional[int],
    vars_file: Optional[Union[str, os.PathLike[str]]],
    describe_inputs: bool,
    allow_no_sev_metadata: bool = False,
) -> _Prepared:
    if not isinstance(mode, str) or mode not in MODES:
        raise InvalidInputError("mode", f"must be one of {', '.join(MODES)}, got {show(mode)}")
    # The text arguments are looked up in tables or hashed: another type would fail deep inside.
    for name, value in (
        ("vcpu_type", vcpu_type),
        ("vmm_type", vmm_type),
        ("kernel_hash", kernel_hash),
        ("initrd_hash", initrd_hash),
        ("append_hash", append_hash),
    ):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(name, f"must be a str, got {type(value).__name__}")
    if append is not None and not isinstance(append, (str, bytes)):
        raise InvalidInputError("append", f"must be the command line as str (or bytes), got {type(append).__name__}")
    if profile is not None and not isinstance(profile, (str, LaunchProfile)):
        raise InvalidInputError("profile", f"must be a profile name or a LaunchProfile, got {type(profile).__name__}")
    if ovmf is not None and manifest is not None:
        raise InvalidInputError("manifest", "give the firmware image or its manifest, not both")
    if ovmf is None and manifest is None:
        raise InvalidInputError("ovmf", "a firmware image (or a firmware manifest) is required")
    prof = resolve_profile(profile, vmm_type, mode)
    inputs: Dict[str, Dict[str, Any]] = {}
    layout, firmware_data, seed = _firmware_source(mode, ovmf, manifest, inputs if describe_inputs else None)

    if mode == "snp:ovmf-hash":
        plan = snp_plan(mode=mode, profile=prof, firmware=layout, firmware_data=firmware_data)
        return _Prepared(mode, prof, plan, seed, inputs, None, None, None)
    if not isinstance(allow_no_sev_metadata, bool):
        raise InvalidInputError("allow_no_sev_metadata", f"must be a bool, got {show(allow_no_sev_metadata)}")

    if vcpus is None and mode != "sev":
        raise InvalidInputError("vcpus", f"is required in mode {show(mode)}")
    if vcpus is not None and (isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS):
        raise InvalidInputError("vcpus", f"must be an int from 1 to {MAX_VCPUS}, got {show(vcpus)}")
    sig = None if mode == "sev" else resolve_vcpu_sig(vcpu_type, vcpu_sig, vcpu_family, vcpu_model, vcpu_stepping)
    if mode != "sev" and sig is None and prof.vmsa.rdx == "vcpu_sig":
        raise InvalidInputError(
            "vcpu_type",
            f"a vCPU type, signature or family/model/stepping is required in mode {show(mode)} with profile {show(prof.name)}",
        )
    if mode == "snp:svsm" and (kernel is not None or kernel_hash is not None):
        raise ConfigError("kernel", "snp:svsm mode measures no kernel hashes")
    hashes = KernelHashes.from_inputs(
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=kernel_hash,
        initrd_hash=initrd_hash,
        append_hash=append_hash,
    )
    if describe_inputs and hashes is not None:
        inputs.update(describe_kernel_inputs(hashes, kernel, initrd, append))
    notes = [] if kernel is None else [w for w in (bzimage_warning(kernel),) if w is not None]

    if mode in ("sev", "seves"):
        if snp_ovmf_hash is not None:
            raise ConfigError("snp_ovmf_hash", "only works with mode 'snp'")
        assert firmware_data is not None
        features = 0 if guest_features is None else _check_features(guest_features)
        if mode == "seves" and features & 1:
            # KVM sets SEV_FEATURES.SNPActive only for SNP guests (sev_es_init_vmcb; §7.2-7.3)
            raise InvalidInputError(
                "guest_features",
                f"{features:#x} has bit 0, SNPActive, which no SEV-ES VMSA has (KVM sets it for SEV-SNP guests only; "
                "sev-snp-measure ignores the value in seves mode)",
            )
        plan = sev_plan(
            mode=mode,
            profile=prof,
            firmware=layout,
            firmware_data=firmware_data,
            hashes=hashes,
            vcpus=vcpus or 0,
            vcpu_sig=sig,
            guest_features=features,
        )
        plan.warnings[:0] = notes
        if mode == "seves" and profile is None and prof.name == "qemu" and not features:
            # QEMU 9.1+'s sev-guest defaults to legacy-vm-type=auto, which keeps the legacy
            # KVM_SEV_ES_INIT unless SEV features ask for KVM_SEV_INIT2 (sev_init2_required), and
            # KVM's legacy VMSAs carry no FPU state (sev_es_sync_vmsa)
            plan.warnings.append(
                "the default profile (qemu, as sev-snp-measure computes SEV-ES) assumes KVM_SEV_INIT2, which QEMU "
                "uses for SEV-ES only with legacy-vm-type=off or SEV features set; a default QEMU 9.1+ SEV-ES launch "
                "uses the legacy KVM_SEV_ES_INIT, whose VMSAs have no FPU state: --profile qemu-legacy measures that"
            )
        return _Prepared(
            mode,
            prof,
            plan,
            None,
            inputs,
            vcpus,
            sig if mode == "seves" and prof.vmsa.rdx == "vcpu_sig" else None,
            features if mode == "seves" else None,
            hashes is not None,
        )

    assert vcpus is not None
    features = _snp_features(prof, guest_features)
    if snp_ovmf_hash is not None:
        if mode != "snp":
            raise ConfigError("snp_ovmf_hash", "only works with mode 'snp'")
        try:
            given = parse_seed(snp_ovmf_hash.decode("latin-1") if isinstance(snp_ovmf_hash, bytes) else snp_ovmf_hash)
        except InvalidInputError as exc:
            raise InvalidInputError("snp_ovmf_hash", exc.rule) from None
        if seed is not None and given != seed:
            raise ConfigError("snp_ovmf_hash", "differs from the firmware manifest's ovmf_digest")
        seed, firmware_data = given, None
    svsm_image = None
    if mode == "snp:svsm":
        assert isinstance(layout, FirmwareImage)
        svsm_image = _open_svsm(svsm, layout, vars_size, vars_file)
        if describe_inputs:
            inputs["svsm"] = {"path": svsm_image.name, "sha256": svsm_image.sha256(), "size": svsm_image.size}
            # the variable store's size moves the SVSM (its content is not measured)
            inputs["ovmf_vars"] = {"size": layout.gpa - (svsm_image.gpa + svsm_image.size)}
            if vars_file is not None:
                inputs["ovmf_vars"]["path"] = os.fspath(vars_file)
    elif svsm is not None or vars_size is not None or vars_file is not None:
        raise ConfigError("svsm", "svsm, vars_size and vars_file only apply to mode 'snp:svsm'")
    plan = snp_plan(
        mode=mode,
        profile=prof,
        firmware=layout,
        firmware_data=firmware_data,
        svsm=svsm_image,
        svsm_data=svsm_image.data if svsm_image else None,
        hashes=hashes,
        vcpus=vcpus,
        vcpu_sig=sig,
        guest_features=features,
        allow_no_sev_metadata=allow_no_sev_metadata,
    )
    # The signature is recorded only where the VMSAs carry it (EC2's and GCE's RDX is fixed).
    used_sig = sig if prof.vmsa.rdx == "vcpu_sig" else None
    plan.warnings[:0] = notes
    return _Prepared(mode, prof, plan, seed, inputs, vcpus, used_sig, features, hashes is not None)


def _measure_igvm_mode(
    igvm: Optional[IgvmSource],
    *,
    profile: Union[str, LaunchProfile, None],
    allow_no_sev_metadata: bool,
    **kwargs: Any,
) -> Measurement:
    """``measure(mode="snp:igvm")`` once the file-held inputs are refused: the arguments that mode
    reads, checked, then :func:`~snpmeasure.igvm_launch.measure_igvm`."""
    from .igvm_launch import measure_igvm

    if allow_no_sev_metadata:
        raise InvalidInputError(
            "allow_no_sev_metadata",
            "does not apply to mode 'snp:igvm': the IGVM file holds the firmware, kernel and VMSAs",
        )
    if igvm is None:
        raise InvalidInputError("igvm", "mode 'snp:igvm' needs the IGVM file")
    if profile is not None and not isinstance(profile, str):
        raise InvalidInputError("profile", "in mode 'snp:igvm' is an IGVM model's name (igvmmeasure, igvm-crate, qemu)")
    return measure_igvm(igvm, profile=profile, **kwargs)


def measure(
    *,
    mode: str = "snp",
    ovmf: Optional[PathOrImage] = None,
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest] = None,
    vcpus: Optional[int] = None,
    vcpu_type: Optional[str] = None,
    vcpu_sig: Optional[int] = None,
    vcpu_family: Optional[int] = None,
    vcpu_model: Optional[int] = None,
    vcpu_stepping: Optional[int] = None,
    vmm_type: Optional[str] = None,
    profile: Union[str, LaunchProfile, None] = None,
    kernel: Optional[Union[str, os.PathLike[str]]] = None,
    initrd: Optional[Union[str, os.PathLike[str]]] = None,
    append: Optional[str] = None,
    kernel_hash: Optional[str] = None,
    initrd_hash: Optional[str] = None,
    append_hash: Optional[str] = None,
    guest_features: Optional[int] = None,
    snp_ovmf_hash: Optional[Union[str, bytes]] = None,
    svsm: Optional[PathOrImage] = None,
    vars_size: Optional[int] = None,
    vars_file: Optional[Union[str, os.PathLike[str]]] = None,
    trace: bool = False,
    threads: Optional[int] = None,
    describe_inputs: bool = False,
    firmware: Optional[Firmware] = None,
    allow_no_sev_metadata: bool = False,
    igvm: Optional[IgvmSource] = None,
    native_zero: bool = False,
) -> Measurement:
    """Compute a launch measurement.

    ``mode``: "snp" (default), "snp:ovmf-hash" (digest of the firmware pages only; seeds
    ``snp_ovmf_hash``), "snp:svsm" (Coconut SVSM with ``svsm`` and ``vars_size``/``vars_file``),
    "sev" or "seves" (SHA-256 digests). ``ovmf`` is the firmware image (a path, a
    :class:`FirmwareImage` or the image's bytes in any buffer, measured without a copy); or ``manifest`` (a
    :class:`FirmwareManifest` or its JSON file) measures with no binary at all. ``profile`` (default
    "qemu", or from ``vmm_type`` "QEMU"/"ec2"/"gce") fixes every VMM choice. The vCPU signature comes
    from ``vcpu_family``/``vcpu_model``/``vcpu_stepping``, else ``vcpu_sig``, else ``vcpu_type`` (a
    QEMU CPU model). ``kernel_hash``/``initrd_hash``/``append_hash`` (SHA-256 hex) stand in for the
    files. ``guest_features`` is the VMSA SEV_FEATURES (default: the profile's, 0x1; SEV-ES: 0).
    ``trace=True`` records every launch command with the digest after it. ``firmware``: run the SNP
    pages through this guest context (after its LAUNCH_START) instead of a fresh one.
    An SNP firmware without SEV metadata is refused, as upstream QEMU refuses it, unless
    ``allow_no_sev_metadata=True`` (the digest another loader would produce, with a warning).

    ``mode="snp:igvm"`` measures an IGVM file (``igvm``: a path, an :class:`~snpmeasure.IgvmFile` or its
    bytes) under an IGVM model (``profile``: "igvmmeasure", the default, "igvm-crate" or "qemu";
    ``native_zero`` measures pages without data as ZERO pages); ``vcpus`` applies to the qemu
    model. The file holds everything else, so the firmware, kernel and vCPU arguments are refused.
    """
    for flag, value in (("trace", trace), ("describe_inputs", describe_inputs)):
        if not isinstance(value, bool):
            raise InvalidInputError(flag, f"must be a bool, got {show(value)}")
    if mode == "snp:igvm" or igvm is not None or native_zero:
        from .igvm_launch import refuse_file_held_inputs

        if mode != "snp:igvm":
            raise InvalidInputError(
                "igvm" if igvm is not None else "native_zero", f"applies to mode 'snp:igvm', not {show(mode)}"
            )
        refuse_file_held_inputs(locals())  # tests/test_igvm_launch.py: its names are this function's
        return _measure_igvm_mode(
            igvm,
            profile=profile,
            native_zero=native_zero,
            vcpus=vcpus,
            trace=trace,
            threads=threads,
            describe_inputs=describe_inputs,
            firmware=firmware,
            allow_no_sev_metadata=allow_no_sev_metadata,
        )
    p = _prepare(
        mode=mode,
        ovmf=ovmf,
        manifest=manifest,
        vcpus=vcpus,
        vcpu_type=vcpu_type,
        vcpu_sig=vcpu_sig,
        vcpu_family=vcpu_family,
        vcpu_model=vcpu_model,
        vcpu_stepping=vcpu_stepping,
        vmm_type=vmm_type,
        profile=profile,
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=kernel_hash,
        initrd_hash=initrd_hash,
        append_hash=append_hash,
        guest_features=guest_features,
        snp_ovmf_hash=snp_ovmf_hash,
        svsm=svsm,
        vars_size=vars_size,
        vars_file=vars_file,
        describe_inputs=describe_inputs,
        allow_no_sev_metadata=allow_no_sev_metadata,
    )
    if firmware is not None:
        require_type("firmware", firmware, Firmware, "a guest context")
    if p.mode in ("sev", "seves"):
        sfw = SevFirmware(trace=trace)
        for cmd in p.plan.commands:
            assert cmd.data is not None
            if cmd.op == "sev-data":
                sfw.launch_update_data(cmd.data, label=cmd.label)
            else:
                sfw.launch_update_vmsa(bytes(cmd.data), label=cmd.label)
        return _result(p, sfw.launch_measure(), sfw.trace)
    if firmware is not None and p.seed is not None:
        raise ConfigError(
            "firmware", "a seeded measurement (snp_ovmf_hash or manifest) cannot run in a given guest context"
        )
    fw = firmware or Firmware(seed=p.seed, trace=trace, threads=threads, host=HostModel(kvm_checks=False))
    if fw.state is GuestState.NONE:
        fw.launch_start()
    run_snp(fw, p.plan.commands)
    return _result(p, fw.ld, fw.trace)


def _result(p: _Prepared, digest: bytes, trace: Optional[List[TraceEntry]]) -> Measurement:
    """The Measurement of a prepared launch, with the digest and trace the firmware model gave."""
    return Measurement(
        digest,
        p.mode,
        p.profile.name,
        p.vcpus,
        p.vcpu_sig,
        p.features,
        p.inputs,
        trace,
        p.plan.warnings,
        p.plan.vmsas,
        p.kernel_hashes,
        p.profile,
    )


def _merged(spans: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """Inclusive ranges merged where they overlap or touch."""
    out: List[Tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def parse_vcpu_counts(spec: Union[str, int, Sequence[int]]) -> List[int]:
    """vCPU counts from ``"1-64"``, ``"1,2,4,8"``, ``"1-4,8,16"``, an int or a list; sorted, unique."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        counts = [spec]
    elif isinstance(spec, str):
        spans: List[Tuple[int, int]] = []
        for part in (x.strip() for x in spec.split(",")):
            lo, sep, hi = part.partition("-")
            try:
                a, b = ascii_int(lo), ascii_int(hi) if sep else ascii_int(lo)
            except ValueError:
                raise InvalidInputError("vcpus", f"must be N, N-M or a comma list of them, got {show(spec)}") from None
            if a > b:
                raise InvalidInputError("vcpus", f"range {show(part)} is backwards")
            # Checked before the range is expanded: "1-99999999999" names no launch and must not
            # cost memory first.
            for n in (a, b):
                if not 1 <= n <= MAX_VCPUS:
                    raise InvalidInputError("vcpus", f"each count must be from 1 to {MAX_VCPUS}, got {n}")
            spans.append((a, b))
        # the merged spans, expanded once: sorted and unique (18000 copies of "1-4096" are 4096 counts)
        return [n for a, b in _merged(spans) for n in range(a, b + 1)]
    elif isinstance(spec, (bool, bytes)) or not isinstance(spec, (list, tuple, range)):
        raise InvalidInputError(
            "vcpus", f"must be counts: an int, a str such as 1-64 or a list of ints, got {show(spec)}"
        )
    else:
        if len(spec) > MAX_VCPUS:  # more counts than there are: refused before a huge range is listed
            raise InvalidInputError("vcpus", f"names {show(len(spec))} counts; each must be from 1 to {MAX_VCPUS}")
        counts = list(spec)
    if not counts:
        raise InvalidInputError("vcpus", "names no vCPU count")
    for n in counts:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_VCPUS:
            raise InvalidInputError("vcpus", f"each count must be from 1 to {MAX_VCPUS}, got {show(n)}")
    return sorted(set(counts))


def sweep(*, vcpus: Union[str, Sequence[int]], threads: Optional[int] = None, **kwargs: Any) -> Dict[int, bytes]:
    """SNP launch digests for many vCPU counts in one pass: ``{count: digest}``.

    The digest after N VMSAs extends the one after N-1 (BSP first, then identical AP pages), so the
    firmware and sections are measured once and each extra vCPU costs one PAGE_INFO. Takes the other
    arguments of :func:`measure` (mode "snp" or "snp:svsm"; or "snp:igvm" with ``igvm`` and the
    qemu model, whose KVM measures one VMSA per vCPU after the file's pages).
    """
    counts = parse_vcpu_counts(vcpus)
    if kwargs.get("mode", "snp") == "snp:igvm":
        return {m.vcpus or 0: m.digest for m in _sweep_igvm(counts, threads, kwargs)}
    if kwargs.get("mode", "snp") not in ("snp", "snp:svsm"):
        raise InvalidInputError("mode", f"vCPU sweeps apply to SNP modes, got {show(kwargs['mode'])}")
    return sweep_launch(kwargs, counts, threads=threads)[1]


def _sweep_igvm(counts: List[int], threads: Optional[int], kwargs: Dict[str, Any]) -> List[Measurement]:
    """:func:`sweep` and :func:`sweep_measurements` of mode "snp:igvm", their arguments checked."""
    from .igvm_launch import sweep_igvm_measurements

    unknown = sorted(set(kwargs) - {"mode", "igvm", "profile", "native_zero", "describe_inputs"})
    if unknown:
        raise InvalidInputError(
            unknown[0], "is not an argument of an IGVM sweep (igvm, profile, native_zero, describe_inputs)"
        )
    if kwargs.get("igvm") is None:
        raise InvalidInputError("igvm", "mode 'snp:igvm' needs the IGVM file")
    return sweep_igvm_measurements(
        kwargs["igvm"],
        counts,
        profile=kwargs.get("profile") or "qemu",
        native_zero=kwargs.get("native_zero", False),  # plan_igvm checks it is a bool
        threads=threads,
        describe_inputs=bool(kwargs.get("describe_inputs", False)),
    )


def sweep_measurements(
    *, vcpus: Union[str, Sequence[int]], threads: Optional[int] = None, **kwargs: Any
) -> List[Measurement]:
    """What :func:`sweep` computes, as one :class:`Measurement` per vCPU count (in count order),
    each with the fields :func:`measure` fills (inputs, warnings, profile; mode "snp:igvm" each
    count's own ID block check; ``vmsas`` empty), so a range and a single count are described
    alike. Takes :func:`sweep`'s arguments."""
    counts = parse_vcpu_counts(vcpus)
    mode = kwargs.get("mode", "snp")
    if mode == "snp:igvm":
        return _sweep_igvm(counts, threads, kwargs)
    if mode not in ("snp", "snp:svsm"):
        raise InvalidInputError("mode", f"vCPU sweeps apply to SNP modes, got {show(mode)}")
    p, digests = sweep_launch(kwargs, counts, threads=threads)
    return [
        Measurement(
            digest,
            p.mode,
            p.profile.name,
            n,
            p.vcpu_sig,
            p.features,
            p.inputs,
            None,
            p.plan.warnings,
            None,
            p.kernel_hashes,
            p.profile,
        )
        for n, digest in digests.items()
    ]


def sweep_launch(
    kwargs: Dict[str, Any],
    counts: List[int],
    *,
    threads: Optional[int] = None,
    shared: Optional[Dict[Any, Firmware]] = None,
    key: Any = None,
) -> Tuple[_Prepared, Dict[int, bytes]]:
    """Plan the SNP launch of :func:`measure`'s ``kwargs`` for the largest of ``counts``, run it
    once and read off the digest at each count: (the plan, ``{count: digest}``). ``shared``
    holds launches run up to their VMSAs, by ``key`` (what decides those pages: the profile and
    the kernel inputs); one found there is forked instead of run again (table, explain)."""
    p = _prepare(**_prepare_defaults(kwargs), vcpus=counts[-1])
    start = None if shared is None else shared.get(key)
    if start is None:
        start = Firmware(seed=p.seed, threads=threads, host=HostModel(kvm_checks=False))
        start.launch_start()
        run_snp(start, [c for c in p.plan.commands if c.op != "vmsa"])
        if shared is not None:
            shared[key] = start
    fw = start.copy()
    steps: List[bytes] = []
    for cmd in p.plan.commands:
        if cmd.op == "vmsa":
            assert cmd.data is not None
            steps.extend(fw.launch_update_vmsa_each(cmd.data, gpa=cmd.gpa, count=cmd.repeat))
    return p, {n: steps[n - 1] for n in counts}


def _prepare_defaults(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    names = ["mode", "profile", *LAUNCH_INPUTS, "describe_inputs", "allow_no_sev_metadata"]
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        raise InvalidInputError(unknown[0], "is not an argument of measure()")
    out: Dict[str, Any] = {n: None for n in names}
    out.update(mode="snp", describe_inputs=False, allow_no_sev_metadata=False)
    out.update(kwargs)
    return out


def _check_features(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << 64):
        raise InvalidInputError("guest_features", f"must be a 64-bit unsigned int, got {show(value)}")
    return value


def _open_svsm(
    svsm: Optional[PathOrImage],
    ovmf: FirmwareImage,
    vars_size: Optional[int],
    vars_file: Optional[Union[str, os.PathLike[str]]],
) -> SvsmImage:
    if svsm is None:
        raise InvalidInputError("svsm", "is required in snp:svsm mode (the SVSM image)")
    if vars_file is not None and vars_size is not None:
        raise InvalidInputError("vars_size", "give vars_size or vars_file, not both")
    if vars_file is not None:
        from ._files import check_loadable

        check_loadable("vars_file", vars_file, why=": its size is the OVMF_VARS flash QEMU maps")
        size = file_size("vars_file", vars_file)
    elif vars_size is not None:
        size = vars_size
    else:
        raise InvalidInputError("vars_size", "snp:svsm mode needs vars_size or vars_file")
    size_field = "vars_file" if vars_file is not None else "vars_size"  # what a wrong size is said as
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or size % 4096 or size > ovmf.gpa:
        # 0 is an OVMF that carries its own variable store (docs/migrating.md)
        rule = "must be a multiple of 4096 that fits below the OVMF"
        if vars_file is not None:
            raise InvalidInputError(size_field, f"holds {size} bytes: the OVMF_VARS flash {rule}")
        raise InvalidInputError(size_field, f"{rule}, got {show(size)}")
    end = ovmf.gpa - size
    if isinstance(svsm, SvsmImage):
        image = svsm
        if image.gpa + image.size != end:  # its end_gpa placed it: the store's size must agree
            raise InvalidInputError(
                size_field,
                f"puts the SVSM's end at {end:#x}, but the SvsmImage given ends at {image.gpa + image.size:#x} "
                f"(a variable store of {ovmf.gpa - image.gpa - image.size} bytes)",
            )
    else:
        if isinstance(svsm, FirmwareImage):
            data, name = svsm.data, svsm.name
        elif isinstance(svsm, _BUFFERS):
            data, name = svsm, "svsm"
        else:
            data, name = map_file(svsm, "svsm"), os.fspath(svsm)
        if len(data) > end:  # SvsmImage would refuse it as the image's fault: the store's size is
            raise InvalidInputError(
                size_field, f"leaves {end:#x} bytes below the variable store, too few for the {len(data):#x}-byte SVSM"
            )
        image = SvsmImage(data, name=name, end_gpa=end)
    try:  # no SVSM without its entry point: said before its missing metadata, which can be waived
        _ = image.svsm_entry_gpa
    except ImageError as exc:  # as the svsm argument's (the image's name is a path, maybe the OVMF's too)
        raise ImageError("svsm", exc.rule if exc.field == "svsm" else f"{exc.field}: {exc.rule}") from None
    return image


def sev_launch_measurement(
    launch_digest: bytes,
    *,
    tik: bytes,
    mnonce: bytes,
    api_major: int,
    api_minor: int,
    build: int,
    policy: int,
    mode: Optional[str] = None,
) -> bytes:
    """The SEV/SEV-ES LAUNCH_MEASURE value: HMAC-SHA256 keyed with the TIK over
    ``0x04 ‖ API_MAJOR ‖ API_MINOR ‖ BUILD ‖ POLICY (le32) ‖ GCTX.LD ‖ MNONCE`` (SEV API §6.5).

    ``mode`` ("sev" or "seves"), the mode ``launch_digest`` was measured in, is checked against
    POLICY.ES (bit 2): QEMU launches SEV-ES exactly when it is set (``sev_es_enabled``), so the
    other mode's digest is no launch of this policy."""
    for name, value, top in (
        ("api_major", api_major, 0xFF),
        ("api_minor", api_minor, 0xFF),
        ("build", build, 0xFF),
        ("policy", policy, 0xFFFFFFFF),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise InvalidInputError(name, f"must be an int from 0 to {top:#x}, got {show(value)}")
    if mode is not None:
        if mode not in ("sev", "seves"):
            raise InvalidInputError(
                "mode", f"must be sev or seves (the LAUNCH_MEASURE of SEV and SEV-ES), got {show(mode)}"
            )
        es = bool(policy & 0x4)
        if es != (mode == "seves"):
            raise InvalidInputError(
                "policy",
                f"{policy:#x} {'sets' if es else 'clears'} ES (bit 2), so QEMU launches the guest as "
                f"{'SEV-ES' if es else 'SEV'} (sev_es_enabled): measure it in mode {'seves' if es else 'sev'}",
            )
    if (api_major, api_minor) < (0, 17):  # AMD's sev-tool (calculate_measurement) adds the header from 0.17
        raise InvalidInputError(
            "api_minor",
            f"SEV API {api_major}.{api_minor}: before 0.17 the HMAC had no version header; this computes 0.17+",
        )
    from ._checks import as_bytes

    tik, mnonce = as_bytes("tik", tik, 16), as_bytes("mnonce", mnonce, 16)
    launch_digest = as_bytes("launch_digest", launch_digest, 32)
    import hashlib
    import hmac

    msg = struct.pack("<BBBBI", 0x04, api_major, api_minor, build, policy) + launch_digest + mnonce
    return hmac.new(tik, msg, hashlib.sha256).digest()


def split_launch_measure_blob(blob: bytes) -> Tuple[bytes, bytes]:
    """The 48 bytes of SEV's LAUNCH_MEASURE output (QEMU's query-sev-launch-measure, base64
    decoded) as (HMAC, MNONCE): 32 bytes, then 16 (SEV API §6.5)."""
    from ._checks import as_bytes

    blob = as_bytes("launch_measure_blob", blob)
    if len(blob) != 48:
        raise InvalidInputError("launch_measure_blob", f"must be 48 bytes (HMAC and MNONCE), got {len(blob)}")
    return blob[:32], blob[32:]


__all__ = [
    "measure",
    "split_launch_measure_blob",
    "sweep",
    "sweep_measurements",
    "parse_vcpu_counts",
    "Measurement",
    "sev_launch_measurement",
    "resolve_profile",
]
