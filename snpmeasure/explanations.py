"""Why a launch measurement does not match: every assumption that decides an SNP launch digest
(VMM profile, vCPU count, vCPU signature, SEV features, whether QEMU measured the kernel, the
command line's known pitfalls) searched for the configurations that produce a given digest.

The search shares its passes as :func:`snpmeasure.table` does: the firmware pages are hashed once
(a manifest seed), the metadata sections once per profile and kernel variant, and each (signature,
features) pair is one sweep over the vCPU counts, where each count costs one PAGE_INFO step. The
default search without a kernel is 6 profiles, 6 signatures, 4 feature values and 512 counts
(32,768 configurations); with a kernel, four kernel variants (131,072).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._cpus import CPU_SIGS, MAX_VCPUS, cpu_sig, resolve_vcpu_sig
from .errors import ConfigError, IgvmError, InvalidInputError, show
from .firmware import Firmware
from .images import FirmwareImage, FirmwareManifest
from .kernel_hashes import KernelHashes, cmdline_bytes
from .measurement import parse_vcpu_counts, sweep_launch
from .profiles import BUILTIN_PROFILES, VMM_TYPE_PROFILES, LaunchProfile, get_profile, require_snp_active
from .tables import ReferenceTable, TableRow

if TYPE_CHECKING:  # the report module loads cryptography: only when a report is given
    from .measurement import Measurement
    from .report import AttestationReport, Mismatch

#: The dimensions searched, in the order ranks and messages name them.
DIMENSIONS = ("profile", "vcpus", "vcpu_type", "guest_features", "kernel_hashes", "cmdline")
#: vCPU counts searched by default (KVM allows up to 4096: ``search_vcpus="1-4096"``).
DEFAULT_VCPUS = "1-512"
#: SEV features searched by default (docs/reference/firmware-abi.md §7.3): 0x1 (SNP alone: KVM
#: before 6.6 and from 6.10 with QEMU <= 10.1), 0x21 (DebugSwap: the 6.6-6.9 kernels' default and
#: QEMU 10.2's debug-swap=on), 0x201 (QEMU 10.2's secure-tsc=on), 0x221 (both).
DEFAULT_GUEST_FEATURES = (0x1, 0x21, 0x201, 0x221)
#: The built-in profiles searched by default in mode snp (svsm is mode snp:svsm's).
DEFAULT_PROFILES = ("qemu", "qemu-legacy", "ec2", "ec2-legacy", "gce", "gce-genoa")
#: Command-line variants: as given; its trailing newline toggled (a file read with and without
#: it); no ``-append`` at all (QEMU then hashes a lone NUL).
CMDLINE_VARIANTS = ("given", "newline", "none")
Progress = Callable[[int, int], None]


class ExplainMatch(NamedTuple):
    """One configuration whose launch digest is the one searched for."""

    profile: str
    #: None where the model measures the VMSAs the file holds (IGVM igvmmeasure, igvm-crate)
    vcpus: Optional[int]
    #: the CPUID signature in the VMSAs; None where the profile puts none there (EC2, GCE, IGVM)
    vcpu_sig: Optional[int]
    #: the QEMU CPU models with that signature (the stated one first when it is among them)
    vcpu_types: Tuple[str, ...]
    #: the VMSAs' SEV_FEATURES; None for IGVM (the file's VP contexts hold them)
    guest_features: Optional[int]
    #: whether QEMU measured the kernel, initrd and command line (kernel-hashes=on)
    kernel_hashes: bool
    #: the command-line variant (CMDLINE_VARIANTS) with kernel hashes, else None
    cmdline: Optional[str]
    #: the dimensions in which this configuration differs from what was stated
    differs: Tuple[str, ...]
    #: the text of each difference ("vcpus 8, not 4")
    notes: Tuple[str, ...]
    #: the ``snpmeasure measure`` flags that reproduce it (beside the firmware and kernel flags)
    measure_args: Tuple[str, ...]
    #: with kernel hashes, the SHA-256 of the command line this variant measured (hex), else None
    cmdline_sha256: Optional[str] = None

    @property
    def vcpu_type(self) -> Optional[str]:
        """The first CPU model name of the signature (None for a signature no model has)."""
        return self.vcpu_types[0] if self.vcpu_types else None

    def to_json(self) -> Dict[str, Any]:
        """The match as JSON: numbers as ``0x`` hex strings."""
        return {
            "profile": self.profile,
            "vcpus": self.vcpus,
            "vcpu_sig": None if self.vcpu_sig is None else f"{self.vcpu_sig:#x}",
            "vcpu_type": self.vcpu_type,
            "vcpu_types": list(self.vcpu_types),
            "guest_features": None if self.guest_features is None else f"{self.guest_features:#x}",
            "kernel_hashes": self.kernel_hashes,
            "cmdline": self.cmdline,
            "differs": list(self.differs),
            "notes": list(self.notes),
            "measure_args": list(self.measure_args),
        }

    def describe(self) -> str:
        """One line: the configuration."""
        parts = [f"profile {self.profile}"]
        if self.vcpus is not None:
            parts.append(f"{self.vcpus} vCPU{'s' if self.vcpus != 1 else ''}")
        if self.vcpu_sig is not None:
            parts.append(f"{self.vcpu_type or 'CPU'} ({self.vcpu_sig:#x})")
        if self.guest_features is None:  # an IGVM file's match: the file holds features and kernel
            return ", ".join(parts)
        parts.append(f"guest features {self.guest_features:#x}")
        if self.kernel_hashes:
            parts.append(f"kernel hashes on (command line {_CMDLINE_TEXT[self.cmdline or 'given']})")
        else:
            parts.append("kernel hashes off")
        return ", ".join(parts)


_CMDLINE_TEXT = {"given": "as given", "newline": "with its trailing newline toggled", "none": "absent"}


@dataclass
class Explanation:
    """What :func:`explain` found: the matches, best first, and what was searched."""

    measurement: bytes
    matches: List[ExplainMatch]
    #: the number of configurations whose digest was computed
    searched: int
    #: the values searched per dimension, as text (vCPU counts as spans: 1-512)
    dimensions: Dict[str, List[str]]
    #: how many values each dimension had
    counts: Dict[str, int]
    #: what the caller stated (the ranking's reference), as text; absent ones left out
    assumptions: Dict[str, Any]
    #: inputs that could not be checked, and why
    unchecked: List[str]
    #: what to try next when nothing matches
    suggestions: List[str]
    #: expectations of the report (policy, keys, host data) that it does not meet
    failures: List[Mismatch] = field(default_factory=list)
    #: the firmware (or IGVM file) searched with: name, SHA-256, size (and pages digest)
    firmware: Dict[str, Any] = field(default_factory=dict)
    #: the definitions of the profiles searched
    profiles: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    #: the kernel, initrd and command line SHA-256s searched with (empty without a kernel)
    inputs: Dict[str, Any] = field(default_factory=dict)
    #: an IGVM file's matches as measure --mode snp:igvm describes them (in match order), for
    #: reference_table; the file itself is not kept
    _igvm_measured: List[Measurement] = field(default_factory=list, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Something matched and the report met every other expectation."""
        return bool(self.matches) and not self.failures

    def reference_table(self) -> ReferenceTable:
        """The matches as reference values (for ``snpmeasure.exports``), with the firmware, the
        profiles, the kernel inputs and each match (its kernel-hashes and command-line variant)
        as their provenance. An IGVM file's matches are the rows ``measure --mode snp:igvm``
        exports for that model and count (CPU "igvm": the file's VMSAs hold it)."""
        explained = {"assumptions": self.assumptions, "matches": [m.to_json() for m in self.matches]}
        if "igvm" in self.firmware and self._igvm_measured:
            from .exports import reference_table

            table = reference_table(self._igvm_measured)
            return ReferenceTable(
                table.rows,
                firmware=table.firmware,
                inputs={**table.inputs, "explain": explained},
                profiles=table.profiles,
                warnings=table.warnings,
            )
        rows = [
            TableRow(
                m.profile,
                # as measure labels them: a signature no model has by its hex value
                m.vcpu_type or ("any" if m.vcpu_sig is None else f"{m.vcpu_sig:#x}"),
                m.vcpu_sig,
                m.guest_features or 0,
                m.vcpus or 1,
                self.measurement,
            )
            for m in self.matches
        ]
        used = {m.profile: self.profiles[m.profile] for m in self.matches if m.profile in self.profiles}
        return ReferenceTable(
            rows, firmware=self.firmware, inputs={**self._measured_inputs(), "explain": explained}, profiles=used
        )

    def _measured_inputs(self) -> Dict[str, Any]:
        """The kernel inputs as the matches measured them: none when no match hashed the kernel,
        and the command line of the variant they hashed (a trailing newline is another hash)."""
        hashed = [m for m in self.matches if m.kernel_hashes]
        if not hashed:
            return {
                k: v for k, v in self.inputs.items() if k not in ("kernel_sha256", "initrd_sha256", "cmdline_sha256")
            }
        cmdlines = {m.cmdline_sha256 for m in hashed}
        if len(cmdlines) != 1:  # the matches measured different command lines: the one given stands
            return dict(self.inputs)
        return {**self.inputs, "cmdline_sha256": cmdlines.pop()}

    def __repr__(self) -> str:
        return f"Explanation({len(self.matches)} matches of {self.searched} configurations)"

    def to_json(self) -> Dict[str, Any]:
        """The explanation as JSON (``snpmeasure explain --json``)."""
        return {
            "ok": self.ok,
            "measurement": self.measurement.hex(),
            "matches": [m.to_json() for m in self.matches],
            "searched": self.searched,
            "dimensions": {k: {"count": self.counts[k], "values": v} for k, v in self.dimensions.items()},
            "assumptions": self.assumptions,
            "unchecked": self.unchecked,
            "suggestions": self.suggestions,
            "failures": [f.to_json() for f in self.failures],
            "firmware": self.firmware,
        }


class _Stated(NamedTuple):
    profile: Optional[str]
    vcpus: Optional[int]
    vcpu_sig: Optional[int]
    vcpu_type: Optional[str]
    guest_features: Optional[int]  # None: each profile's default
    kernel_hashes: bool
    cmdline: str
    #: the profile measure() would use when none is stated: qemu, or svsm for an SVSM launch
    default_profile: str = "qemu"


def explain(
    measurement: Union[bytes, str, None] = None,
    *,
    report: Optional[AttestationReport] = None,
    expectations: Any = None,
    ovmf: Union[None, str, os.PathLike[str], FirmwareImage] = None,
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest] = None,
    svsm: Union[None, str, os.PathLike[str]] = None,
    vars_size: Optional[int] = None,
    vars_file: Union[None, str, os.PathLike[str]] = None,
    igvm: Union[None, str, os.PathLike[str]] = None,
    kernel: Union[None, str, os.PathLike[str]] = None,
    initrd: Union[None, str, os.PathLike[str]] = None,
    append: Optional[str] = None,
    kernel_hash: Optional[str] = None,
    initrd_hash: Optional[str] = None,
    append_hash: Optional[str] = None,
    vcpus: Optional[int] = None,
    vcpu_type: Optional[str] = None,
    vcpu_sig: Optional[int] = None,
    vcpu_family: Optional[int] = None,
    vcpu_model: Optional[int] = None,
    vcpu_stepping: Optional[int] = None,
    profile: Union[None, str, LaunchProfile] = None,
    vmm_type: Optional[str] = None,
    guest_features: Optional[int] = None,
    kernel_hashes: Optional[bool] = None,
    search_vcpus: Union[None, str, Sequence[int]] = None,
    search_vcpu_types: Optional[Sequence[str]] = None,
    search_profiles: Optional[Sequence[Union[str, LaunchProfile]]] = None,
    search_guest_features: Optional[Sequence[int]] = None,
    search_kernel_hashes: Optional[Sequence[bool]] = None,
    search_cmdline: Optional[Sequence[str]] = None,
    fix: Sequence[str] = (),
    threads: Optional[int] = None,
    progress: Optional[Progress] = None,
    allow_no_sev_metadata: bool = False,
) -> Explanation:
    """Search the launch configurations whose SNP digest is ``measurement`` (48 bytes, or hex),
    or the MEASUREMENT of ``report`` (then ``expectations``, an :class:`~snpmeasure.Expectations`
    without a measurement, are checked against the report too; verify its signature first).

    The artefacts are :func:`measure`'s: ``ovmf`` or ``manifest``; ``svsm`` with ``vars_size`` or
    ``vars_file`` (mode snp:svsm); ``igvm`` (the three IGVM models); the kernel, initrd and command
    line or their hashes. The launch arguments (``vcpus``, ``vcpu_type``..., ``profile``,
    ``guest_features``, ``kernel_hashes``) are assumptions: matches that keep more of them rank
    first, and each match names where it differs. ``fix`` (names of ``DIMENSIONS``: profile, vcpus,
    vcpu_type, guest_features, kernel_hashes, cmdline) turns an
    assumption into a constraint. ``search_*`` replace a dimension's default values (the stated
    value is always searched too); ``progress(done, total)`` is called after each sweep.
    """
    target = _target(measurement, report)
    if not isinstance(fix, (list, tuple)):
        raise InvalidInputError("fix", f"must be a list of dimensions ({', '.join(DIMENSIONS)}), got {show(fix)}")
    for name in fix:
        if name not in DIMENSIONS:
            raise InvalidInputError("fix", f"{show(name)} is no dimension; dimensions: {', '.join(DIMENSIONS)}")
    if progress is not None and not callable(progress):
        raise InvalidInputError("progress", f"must be a function of (done, total), got {type(progress).__name__}")
    failures: List[Mismatch] = []
    if expectations is not None:
        from .report import Expectations

        if report is None:
            raise InvalidInputError("expectations", "are checked against a report: give the report")
        if not isinstance(expectations, Expectations):
            raise InvalidInputError("expectations", f"must be Expectations, got {type(expectations).__name__}")
        if expectations.measurement is not None:
            raise InvalidInputError("expectations", "must not hold a measurement: explain searches for it")
        failures = report.check(expectations)
    if igvm is not None:
        return _explain_igvm(
            target, igvm, vcpus, profile, search_vcpus, search_profiles, fix, threads, progress, failures, locals()
        )
    stated, sigs, sig_names = _stated_and_sigs(
        vcpus, vcpu_type, vcpu_sig, vcpu_family, vcpu_model, vcpu_stepping, profile, vmm_type, guest_features, report
    )
    svsm_mode = svsm is not None
    if svsm_mode:
        stated = stated._replace(default_profile="svsm")
    if not svsm_mode and (vars_size is not None or vars_file is not None):
        raise InvalidInputError("vars_size", "vars_size and vars_file apply with svsm")
    # The dimensions' values: each default (or search_*), with the stated value added.
    profiles = _profiles(search_profiles, profile, stated, svsm_mode, "profile" in fix)
    counts = _counts(search_vcpus, stated.vcpus, "vcpus" in fix)
    sigs = _cpu_signatures(search_vcpu_types, stated, sigs, sig_names, "vcpu_type" in fix)
    features = _search_features(search_guest_features, stated, "guest_features" in fix)
    has_kernel = kernel is not None or kernel_hash is not None
    if svsm is not None and has_kernel:
        raise ConfigError("kernel", "snp:svsm mode measures no kernel hashes")
    if kernel_hashes is not None and not isinstance(kernel_hashes, bool):
        raise InvalidInputError("kernel_hashes", f"must be a bool, got {show(kernel_hashes)}")
    if kernel_hashes and not has_kernel:
        raise InvalidInputError("kernel_hashes", "on needs the kernel (kernel or kernel_hash)")
    fw_args, base_args, firmware_info = _firmware(ovmf, manifest, svsm, vars_size, vars_file, threads)
    # QEMU measures a kernel only into a firmware's SNP_KERNEL_HASHES section: without one, a
    # kernel is booted unmeasured (kernel-hashes=off, QEMU's default), and "on" is no launch
    can_hash = firmware_info.get("kernel_hashes_supported", False)
    if kernel_hashes is None and not can_hash:
        kernel_hashes = False
    if kernel_hashes and not can_hash:
        raise ConfigError(
            "kernel_hashes",
            f"on needs a firmware with an SNP_KERNEL_HASHES section, and {firmware_info['name']} has none",
        )
    stated = stated._replace(kernel_hashes=has_kernel if kernel_hashes is None else kernel_hashes)
    default_kh: Tuple[bool, ...] = (True, False) if has_kernel and can_hash else (False,)
    kh_values = _values(search_kernel_hashes, default_kh, stated.kernel_hashes, "kernel_hashes", "kernel_hashes" in fix)
    if any(not isinstance(v, bool) for v in kh_values):
        raise InvalidInputError("search_kernel_hashes", "must be True (on) or False (off)")
    if True in kh_values and not has_kernel:
        raise InvalidInputError("search_kernel_hashes", "on needs the kernel (kernel or kernel_hash)")
    if True in kh_values and not can_hash:
        raise ConfigError(
            "search_kernel_hashes",
            f"on needs a firmware with an SNP_KERNEL_HASHES section; {firmware_info['name']} has none",
        )
    cmd_default = _cmdline_variants(append, append_hash)
    cmd_values = _values(search_cmdline, cmd_default, "given", "cmdline", "cmdline" in fix)
    for value in cmd_values:
        if value not in cmd_default:
            raise InvalidInputError(
                "search_cmdline", f"{show(value)} does not apply here; these do: {', '.join(cmd_default)}"
            )
    base_hashes = KernelHashes.from_inputs(
        kernel=kernel,
        initrd=initrd,
        append=append,
        kernel_hash=kernel_hash,
        initrd_hash=initrd_hash,
        append_hash=append_hash,
    )
    variants = _kernel_variants(
        base_hashes, kh_values, cmd_values, kernel, initrd, append, kernel_hash, initrd_hash, append_hash
    )
    if allow_no_sev_metadata:
        base_args.append("--allow-no-sev-metadata")

    space = _Space(profiles, variants, sigs, features, counts)
    matches = _search(space, target, stated, fw_args, base_args, allow_no_sev_metadata, threads, progress)
    searched = space.size()
    dimensions = {
        "profile": [p.name for p in profiles],
        "vcpus": [_span(counts)],
        "vcpu_type": [f"{s:#x}" + (f" ({'/'.join(n[:1])})" if n else "") for s, n in sigs.items()],
        # an SVSM profile's features are fixed: the values searched are those, not the list asked for
        "guest_features": [f"{f:#x}" for f in dict.fromkeys(v for p in profiles for v in space.features_of(p))]
        if all(p.fixed_guest_features for p in profiles)
        else ["each profile's default" if f is None else f"{f:#x}" for f in features],
        "kernel_hashes": ["on" if v else "off" for v in kh_values],
        "cmdline": list(cmd_values) if True in kh_values else [],
    }
    counts_of = {k: len(v) for k, v in dimensions.items()}
    counts_of["vcpus"] = len(counts)
    unchecked, suggestions = _advice(
        matches,
        stated,
        counts,
        has_kernel,
        kernel_hash is not None,
        append_hash is not None,
        firmware_info,
        report,
        fix,
        features_fixed=all(p.fixed_guest_features for p in profiles),
    )
    return Explanation(
        target,
        matches,
        searched,
        dimensions,
        counts_of,
        _assumptions(stated),
        unchecked,
        suggestions,
        failures,
        firmware_info,
        {p.name: p.to_json() for p in profiles},
        {}
        if base_hashes is None
        else {
            "kernel_sha256": base_hashes.kernel.hex(),
            "initrd_sha256": base_hashes.initrd.hex(),
            "cmdline_sha256": base_hashes.cmdline.hex(),
        },
    )


#: A kernel variant: (kernel hashes on, command-line variant, the hashes measure() takes, the
#: measure flags that give them).
_Variant = Tuple[bool, Optional[str], Dict[str, Any], List[str]]


def _cpu_signatures(
    search_vcpu_types: Optional[Sequence[Union[str, int]]],
    stated: _Stated,
    sigs: Dict[int, List[str]],
    sig_names: Dict[int, List[str]],
    fixed: bool,
) -> Dict[int, List[str]]:
    """The CPU signatures to search, each with its QEMU model names: ``search_vcpu_types`` (or the
    defaults ``sigs``), the stated one added; only the stated one when the dimension is ``fixed``."""
    if search_vcpu_types is not None:
        if not isinstance(search_vcpu_types, (list, tuple)) or not search_vcpu_types:
            raise InvalidInputError("search_vcpu_types", f"must be a non-empty list, got {show(search_vcpu_types)}")
        sigs = {}
        for item in search_vcpu_types:
            sig = _sig_of(item, "search_vcpu_types")
            sigs.setdefault(sig, [])
            if isinstance(item, str) and item in CPU_SIGS:
                sigs[sig].append(item)
        for sig in sigs:
            if not sigs[sig]:
                sigs[sig] = sig_names.get(sig, [])
        if stated.vcpu_sig is not None:
            sigs.setdefault(stated.vcpu_sig, sig_names.get(stated.vcpu_sig, []))
    if fixed:
        if stated.vcpu_sig is None:
            raise InvalidInputError("fix", "vcpu_type is fixed to the stated CPU: give vcpu_type or vcpu_sig")
        sigs = {stated.vcpu_sig: sigs.get(stated.vcpu_sig, sig_names.get(stated.vcpu_sig, []))}
    return sigs


def _search_features(search: Optional[Sequence[int]], stated: _Stated, fixed: bool) -> List[Optional[int]]:
    """The SEV_FEATURES values to search (None: each profile's default), the stated one added."""
    features = _values(search, DEFAULT_GUEST_FEATURES, stated.guest_features, "guest_features", fixed)
    for value in features:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64):
            raise InvalidInputError("search_guest_features", f"must be 64-bit unsigned ints, got {show(value)}")
        if value is not None and value in (search or ()):
            require_snp_active("search_guest_features", value)
    return features


class _Space(NamedTuple):
    """What explain searches: every profile x kernel variant x CPU x features value, at each count."""

    profiles: List[LaunchProfile]
    variants: List[_Variant]
    sigs: Dict[int, List[str]]
    features: List[Optional[int]]
    counts: List[int]

    def features_of(self, prof: LaunchProfile) -> List[int]:
        """None ("the profile's default") and an SVSM profile's fixed features resolve here."""
        if prof.fixed_guest_features:
            return [prof.default_guest_features]
        return list(dict.fromkeys(prof.default_guest_features if f is None else f for f in self.features))

    def cpus_of(self, prof: LaunchProfile) -> List[Optional[int]]:
        return list(self.sigs) if prof.vmsa.rdx == "vcpu_sig" else [None]  # EC2's and GCE's RDX is fixed

    def size(self) -> int:
        per_variant = sum(len(self.cpus_of(p)) * len(self.features_of(p)) for p in self.profiles)
        return per_variant * len(self.variants) * len(self.counts)


def _search(
    space: _Space,
    target: bytes,
    stated: _Stated,
    fw_args: Dict[str, Any],
    base_args: List[str],
    allow_no_sev_metadata: bool,
    threads: Optional[int],
    progress: Optional[Progress],
) -> List[ExplainMatch]:
    """Measure every launch of ``space`` (a launch shared up to its VMSAs per profile and kernel
    variant, each vCPU count read off one sweep): the matches, ranked (``space.size()`` were measured)."""
    total = space.size()
    matches: List[ExplainMatch] = []
    searched = 0
    starts: Dict[Any, Firmware] = {}
    for pi, prof in enumerate(space.profiles):
        for vi, variant in enumerate(space.variants):
            for cpu_signature in space.cpus_of(prof):
                for features_value in space.features_of(prof):
                    launch = dict(
                        **fw_args,
                        profile=prof,
                        vcpu_sig=cpu_signature,
                        guest_features=features_value,
                        allow_no_sev_metadata=allow_no_sev_metadata,
                        **variant[2],
                    )
                    _, digests = sweep_launch(launch, space.counts, threads=threads, shared=starts, key=(pi, vi))
                    for n, digest in digests.items():
                        if digest == target:
                            names = tuple(space.sigs.get(cpu_signature, ())) if cpu_signature is not None else ()
                            matches.append(
                                _match(stated, prof, n, cpu_signature, names, features_value, variant, base_args)
                            )
                    searched += len(space.counts)
                    if progress is not None:
                        progress(searched, total)
    matches.sort(key=lambda m: _rank(m, stated, [p.name for p in space.profiles]))
    return matches


def _kernel_variants(
    base: Optional[KernelHashes],
    kh_values: Sequence[bool],
    cmd_values: Sequence[str],
    kernel: Union[None, str, os.PathLike[str]],
    initrd: Union[None, str, os.PathLike[str]],
    append: Optional[str],
    kernel_hash: Optional[str],
    initrd_hash: Optional[str],
    append_hash: Optional[str],
) -> List[_Variant]:
    """Kernel hashes off, and on with each command-line variant (the files hashed once, in ``base``)."""
    variants: List[_Variant] = []
    if False in kh_values:
        variants.append((False, None, {}, []))
    if True in kh_values:
        assert base is not None
        for variant in cmd_values:
            text = _cmdline_text(append, variant)
            cmd_hash = base.cmdline.hex() if variant == "given" else hashlib.sha256(cmdline_bytes(text)).hexdigest()
            flags = ["--kernel", os.fspath(kernel)] if kernel is not None else ["--kernel-hash", str(kernel_hash)]
            if initrd is not None or initrd_hash is not None:
                flags += ["--initrd", os.fspath(initrd)] if initrd is not None else ["--initrd-hash", str(initrd_hash)]
            if append_hash is not None:
                flags += ["--append-hash", append_hash]
            elif text is not None:
                flags += ["--append", text]
            hashes = dict(kernel_hash=base.kernel.hex(), initrd_hash=base.initrd.hex(), append_hash=cmd_hash)
            variants.append((True, variant, hashes, flags))
    return variants


def _firmware(
    ovmf: Union[None, str, os.PathLike[str], FirmwareImage],
    manifest: Union[None, str, os.PathLike[str], FirmwareManifest],
    svsm: Union[None, str, os.PathLike[str]],
    vars_size: Optional[int],
    vars_file: Union[None, str, os.PathLike[str]],
    threads: Optional[int],
) -> Tuple[Dict[str, Any], List[str], Dict[str, Any]]:
    """The firmware, read once: (measure()'s firmware arguments, the measure flags naming it, its
    description). Mode snp hashes the pages once into a manifest seed; snp:svsm keeps the image,
    as it measures the SVSM too."""
    if svsm is not None:
        if ovmf is None:
            raise InvalidInputError("ovmf", "snp:svsm needs the OVMF image (not a manifest)")
        image = ovmf if isinstance(ovmf, FirmwareImage) else FirmwareImage.open(ovmf, field="ovmf")
        path = os.fspath(ovmf) if isinstance(ovmf, (str, os.PathLike)) else image.name
        flags = ["--mode", "snp:svsm", "--ovmf", path, "--svsm", str(os.fspath(svsm))]
        flags += ["--vars-file", os.fspath(vars_file)] if vars_file is not None else ["--vars-size", str(vars_size)]
        info = {"name": image.name, "sha256": image.sha256(), "size": image.size, "svsm": os.fspath(svsm)}
        return dict(mode="snp:svsm", ovmf=image, svsm=svsm, vars_size=vars_size, vars_file=vars_file), flags, info
    if (ovmf is None) == (manifest is None):
        raise InvalidInputError("ovmf", "give the firmware image or its manifest (one of them)")
    if manifest is None:
        assert ovmf is not None
        image = ovmf if isinstance(ovmf, FirmwareImage) else FirmwareImage.open(ovmf, field="ovmf")
        man = FirmwareManifest.from_image(image, threads=threads)
    else:
        man = manifest if isinstance(manifest, FirmwareManifest) else FirmwareManifest.load(manifest)
    if manifest is None or isinstance(manifest, FirmwareManifest):
        flags = ["--mode", "snp", "--ovmf", os.fspath(ovmf) if isinstance(ovmf, (str, os.PathLike)) else man.name]
    else:
        flags = ["--mode", "snp", "--firmware-manifest", os.fspath(manifest)]
    info = {
        "name": man.name,
        "sha256": man.sha256,
        "size": man.size,
        "ovmf_digest": man.ovmf_digest.hex(),
        "kernel_hashes_supported": man.kernel_hashes_supported,
    }
    return dict(mode="snp", manifest=man), flags, info


def _describe_firmware(info: Dict[str, Any]) -> str:
    pages = f", pages digest {info['ovmf_digest']}" if "ovmf_digest" in info else ""
    return f"{info['name']} (SHA-256 {info['sha256']}{pages})"


def _target(measurement: Union[bytes, str, None], report: Optional[AttestationReport]) -> bytes:
    if report is not None:
        from ._checks import require_type
        from .report import AttestationReport

        require_type("report", report, AttestationReport)
        if measurement is not None:
            raise InvalidInputError("measurement", "give the measurement or the report, not both")
        return report.measurement
    if isinstance(measurement, str):
        from .report import parse_hex

        value = parse_hex("measurement", measurement, 48)
        assert value is not None
        return value
    if isinstance(measurement, (bytes, bytearray)) and len(measurement) == 48:
        return bytes(measurement)
    raise InvalidInputError("measurement", f"must be the 48-byte launch digest (or its hex), got {show(measurement)}")


def _stated_and_sigs(
    vcpus: Optional[int],
    vcpu_type: Optional[str],
    vcpu_sig: Optional[int],
    family: Optional[int],
    model: Optional[int],
    stepping: Optional[int],
    profile: Union[None, str, LaunchProfile],
    vmm_type: Optional[str],
    guest_features: Optional[int],
    report: Optional[AttestationReport],
) -> Tuple[_Stated, Dict[int, List[str]], Dict[int, List[str]]]:
    if vcpus is not None and (isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS):
        raise InvalidInputError("vcpus", f"must be an int from 1 to {MAX_VCPUS}, got {show(vcpus)}")
    sig = resolve_vcpu_sig(vcpu_type, vcpu_sig, family, model, stepping)
    if guest_features is not None and (
        isinstance(guest_features, bool) or not isinstance(guest_features, int) or not 0 <= guest_features < 1 << 64
    ):
        raise InvalidInputError("guest_features", f"must be a 64-bit unsigned int, got {show(guest_features)}")
    if profile is not None and vmm_type is not None:
        raise InvalidInputError("vmm_type", "give the profile or the VMM type, not both")
    if vmm_type is not None:
        if vmm_type not in VMM_TYPE_PROFILES:
            raise InvalidInputError("vmm_type", f"must be one of {', '.join(VMM_TYPE_PROFILES)}, got {show(vmm_type)}")
        profile = VMM_TYPE_PROFILES[vmm_type]
    name = None if profile is None else get_profile(profile).name
    # Every model snpmeasure knows, by signature (models that share one give one digest).
    names: Dict[int, List[str]] = {}
    for model_name, value in CPU_SIGS.items():
        names.setdefault(value, []).append(model_name)
    if vcpu_type is not None and sig is not None:
        names[sig] = [vcpu_type] + [n for n in names[sig] if n != vcpu_type]
    sigs = {s: list(n) for s, n in names.items()}
    if sig is not None:
        sigs.setdefault(sig, [])
    if report is not None and report.cpuid is not None:
        sigs.setdefault(cpu_sig(*report.cpuid), [])  # -cpu host: the chip's own signature
    stated = _Stated(name, vcpus, sig, vcpu_type, guest_features, False, "given")
    return stated, sigs, names


def _sig_of(item: Any, where: str) -> int:
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 0xFFFFFFFF:
        return item
    if isinstance(item, str):
        if item in CPU_SIGS:
            return CPU_SIGS[item]
        if item.lower().startswith("0x"):
            try:
                value = int(item, 16)
            except ValueError:
                value = -1
            if 0 <= value <= 0xFFFFFFFF:
                return value
    raise InvalidInputError(where, f"{show(item)} is no CPU model or 0x signature; models: {', '.join(CPU_SIGS)}")


def _profiles(
    search: Optional[Sequence[Union[str, LaunchProfile]]],
    profile: Union[None, str, LaunchProfile],
    stated: _Stated,
    svsm_mode: bool,
    fixed: bool,
) -> List[LaunchProfile]:
    default: Sequence[Union[str, LaunchProfile]] = ("svsm",) if svsm_mode else DEFAULT_PROFILES
    if search is not None and (not isinstance(search, (list, tuple)) or not search):
        raise InvalidInputError("search_profiles", f"must be a non-empty list, got {show(search)}")
    try:
        chosen = [get_profile(p) for p in (search if search is not None else default)]
    except InvalidInputError as exc:
        raise InvalidInputError("search_profiles", exc.rule) from None
    if profile is not None:
        own = get_profile(profile)
        if fixed:
            chosen = [own]
        elif own.name not in [p.name for p in chosen]:
            chosen.insert(0, own)
    elif fixed:
        chosen = [BUILTIN_PROFILES["svsm" if svsm_mode else "qemu"]]
    for p in chosen:
        if (p.vmsa.kind == "svsm") != svsm_mode:
            raise ConfigError(
                "profile" if profile is not None and p.name == get_profile(profile).name else "search_profiles",
                f"profile {p.name} is for {'an SVSM launch (give svsm)' if p.vmsa.kind == 'svsm' else 'mode snp, not snp:svsm'}",
            )
    seen: Dict[str, LaunchProfile] = {}
    for p in chosen:
        seen.setdefault(p.name, p)
    return list(seen.values())


def _counts(search: Union[None, str, Sequence[int]], stated: Optional[int], fixed: bool) -> List[int]:
    if fixed:
        if stated is None:
            raise InvalidInputError("fix", "vcpus is fixed to the stated count: give vcpus")
        return [stated]
    try:
        counts = parse_vcpu_counts(DEFAULT_VCPUS if search is None else search)
    except InvalidInputError as exc:
        raise InvalidInputError("search_vcpus", exc.rule) from None
    return sorted(set(counts) | ({stated} if stated is not None else set()))


def _values(search: Optional[Sequence[Any]], default: Sequence[Any], stated: Any, name: str, fixed: bool) -> List[Any]:
    if fixed:
        return [stated]  # None: the profile's default (guest features)
    if search is not None and (not isinstance(search, (list, tuple)) or not search):
        raise InvalidInputError(f"search_{name}", f"must be a non-empty list, got {show(search)}")
    values = list(default if search is None else search)
    if stated is not None and stated not in values:
        values.insert(0, stated)
    out: List[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _cmdline_variants(append: Optional[str], append_hash: Optional[str]) -> Tuple[str, ...]:
    if append_hash is not None or append is None:
        return ("given",)  # a hash cannot be edited; no command line has no variant but itself
    if append == "":
        return ("given", "newline")
    return CMDLINE_VARIANTS


def _cmdline_text(append: Optional[str], variant: str) -> Optional[str]:
    if variant == "none":
        return None
    text = append or ""
    if variant == "newline":
        return text[:-1] if text.endswith("\n") else text + "\n"
    return text


def _match(
    stated: _Stated,
    prof: LaunchProfile,
    vcpus: int,
    sig: Optional[int],
    names: Tuple[str, ...],
    feat: int,
    variant: Tuple[bool, Optional[str], Dict[str, Any], List[str]],
    base_args: List[str],
) -> ExplainMatch:
    kernel_hashes, cmdline = variant[0], variant[1]
    differs: List[str] = []
    notes: List[str] = []
    stated_profile = stated.profile or stated.default_profile
    if prof.name != stated_profile:
        differs.append("profile")
        notes.append(f"profile {prof.name}, not {stated_profile}" + ("" if stated.profile else " (the default)"))
    if stated.vcpus is not None and vcpus != stated.vcpus:
        differs.append("vcpus")
        notes.append(f"vcpus {vcpus}, not {stated.vcpus}")
    if sig is not None and stated.vcpu_sig is not None and sig != stated.vcpu_sig:
        differs.append("vcpu_type")
        said = stated.vcpu_type or f"{stated.vcpu_sig:#x}"
        notes.append(f"vcpu type {names[0] if names else f'{sig:#x}'} ({sig:#x}), not {said}")
    expected_feat = prof.default_guest_features if stated.guest_features is None else stated.guest_features
    if feat != expected_feat:
        differs.append("guest_features")
        notes.append(
            f"guest features {feat:#x}, not {expected_feat:#x}"
            + ("" if stated.guest_features is not None else " (the default)")
        )
    if kernel_hashes != stated.kernel_hashes:
        differs.append("kernel_hashes")
        notes.append(f"kernel hashes {'on' if kernel_hashes else 'off'}, not {'on' if stated.kernel_hashes else 'off'}")
    if kernel_hashes and cmdline != "given":
        differs.append("cmdline")
        notes.append(f"command line {_CMDLINE_TEXT[cmdline or 'given']}, not as given")
    args = base_args + ["--profile", prof.name, "--vcpus", str(vcpus)]
    if sig is not None:
        args += ["--vcpu-type", names[0]] if names else ["--vcpu-sig", f"{sig:#x}"]
    args += ["--guest-features", f"{feat:#x}"] + variant[3]
    return ExplainMatch(
        prof.name,
        vcpus,
        sig,
        names,
        feat,
        kernel_hashes,
        cmdline if kernel_hashes else None,
        tuple(differs),
        tuple(notes),
        tuple(args),
        variant[2]["append_hash"] if kernel_hashes else None,
    )


def _rank(m: ExplainMatch, stated: _Stated, order: List[str]) -> Tuple[Any, ...]:
    """Fewest differences first; among equals, the later dimensions' differences first (a wrong
    feature value is likelier than a wrong VMM), then the search order and the nearest count."""
    distance = abs((m.vcpus or 0) - stated.vcpus) if stated.vcpus is not None and m.vcpus is not None else 0
    return (
        len(m.differs),
        sorted(-DIMENSIONS.index(d) for d in m.differs),
        order.index(m.profile) if m.profile in order else 0,
        distance,
        m.vcpus or 0,
        m.vcpu_sig or 0,
        m.guest_features or 0,
    )


def _span(counts: List[int]) -> str:
    parts: List[str] = []
    start = prev = counts[0]
    for n in counts[1:] + [-1]:
        if n != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    return ",".join(parts)


def _assumptions(stated: _Stated) -> Dict[str, Any]:
    out: Dict[str, Any] = {"profile": stated.profile or f"{stated.default_profile} (the default)"}
    if stated.vcpus is not None:
        out["vcpus"] = stated.vcpus
    if stated.vcpu_sig is not None:
        out["vcpu_sig"] = f"{stated.vcpu_sig:#x}"
        out["vcpu_type"] = stated.vcpu_type
    out["guest_features"] = "the profile's default" if stated.guest_features is None else f"{stated.guest_features:#x}"
    out["kernel_hashes"] = stated.kernel_hashes
    return out


def _advice(
    matches: List[ExplainMatch],
    stated: _Stated,
    counts: List[int],
    has_kernel: bool,
    kernel_by_hash: bool,
    append_by_hash: bool,
    firmware: Dict[str, Any],
    report: Optional[AttestationReport],
    fix: Sequence[str] = (),
    features_fixed: bool = False,
) -> Tuple[List[str], List[str]]:
    unchecked: List[str] = []
    # direct boot is a dimension only where the firmware can measure a kernel (an SNP_KERNEL_HASHES
    # section; QEMU measures no kernel into any other)
    direct_boot = bool(firmware.get("kernel_hashes_supported"))
    if not has_kernel and direct_boot:
        unchecked.append(
            "direct boot: no kernel was given, so launches with kernel-hashes=on were not searched "
            "(give --kernel, --initrd and --append, or their hashes)"
        )
    if kernel_by_hash:
        unchecked.append("the kernel is given by its hash only: that it is the bzImage QEMU loads could not be checked")
    if append_by_hash:
        unchecked.append(
            "the command line is given by its hash only: its trailing-newline and no-command-line variants were not searched"
        )
    if report is not None and report.cpuid is None:
        unchecked.append(
            f"the report (version {report.version}) carries no CPUID: a -cpu host launch's signature was not searched"
        )
    suggestions: List[str] = []
    if not matches:
        unchecked.append(
            f"the firmware: the digest covers {_describe_firmware(firmware)}, and no configuration reproduced it; "
            "a different firmware build looks exactly like this (check the host loads this exact file)"
        )
        if fix:
            kept = ", ".join(f.replace("_", "-") for f in fix)
            suggestions.append(f"fewer fixed dimensions: --fix keeps {kept} as stated")
        if counts[-1] < MAX_VCPUS and "vcpus" not in fix:
            suggestions.append(f"more vCPU counts: --search-vcpus 1-{MAX_VCPUS} (searched {_span(counts)})")
        if "vcpu_type" not in fix:
            if report is not None and report.cpuid is not None:
                own = f"{cpu_sig(*report.cpuid):#x}"
                suggestions.append(f"the report's own CPU (-cpu host): --search-vcpu-types {own}, its CPUID signature")
            else:
                suggestions.append(
                    "the host's own CPU (-cpu host): --search-vcpu-types 0xSIGNATURE with the host's CPUID(1).EAX"
                )
        if "guest_features" not in fix and not features_fixed:
            suggestions.append("other SEV features: --search-guest-features 0x1,0x5,0x9,0x21,...")
        suggestions.append("a VMM that no built-in profile describes: write one and give it with --profile-file")
        if not has_kernel and direct_boot:
            suggestions.append("a direct kernel boot: give --kernel, --initrd and --append")
        elif has_kernel:
            suggestions.append(
                "the initrd and command line exactly as the VMM passed them (an initrd left out changes the digest)"
            )
    return unchecked, suggestions


def _explain_igvm(
    target: bytes,
    igvm: Union[str, os.PathLike[str]],
    vcpus: Optional[int],
    profile: Union[None, str, LaunchProfile],
    search_vcpus: Union[None, str, Sequence[int]],
    search_profiles: Optional[Sequence[Union[str, LaunchProfile]]],
    fix: Sequence[str],
    threads: Optional[int],
    progress: Optional[Progress],
    failures: List[Mismatch],
    given: Dict[str, Any],
) -> Explanation:
    """The IGVM models (igvmmeasure, igvm-crate: the file's VMSAs; qemu: one per vCPU)."""
    from .igvm_launch import (
        IGVM_PROFILES,
        describe_igvm_input,
        measure_igvm,
        open_igvm,
        plan_igvm,
        refuse_file_held_inputs,
        sweep_igvm_measurements,
    )

    refuse_file_held_inputs(given)
    other_fixed = [d for d in fix if d not in ("profile", "vcpus")]
    if other_fixed:
        raise InvalidInputError("fix", f"{other_fixed[0]} is no dimension of an IGVM launch (the file fixes it)")
    if "profile" in fix and profile is None:
        raise InvalidInputError("fix", "profile keeps the stated model: give the profile")
    if profile is not None and (not isinstance(profile, str) or profile not in IGVM_PROFILES):
        raise InvalidInputError("profile", f"must be an IGVM model ({', '.join(IGVM_PROFILES)}), got {show(profile)}")
    names: List[str] = []
    for n in IGVM_PROFILES if search_profiles is None else search_profiles:
        if not isinstance(n, str) or n not in IGVM_PROFILES:
            raise InvalidInputError(
                "search_profiles", f"must be IGVM models ({', '.join(IGVM_PROFILES)}), got {show(n)}"
            )
        names.append(n)
    if profile is not None:
        names = [profile] if "profile" in fix else [profile] + [n for n in names if n != profile]
    counts = _counts(search_vcpus, vcpus, "vcpus" in fix)
    f = open_igvm(igvm, "igvm")
    # the measure flags name the file: a path as given, an IgvmFile by its name, bytes by a placeholder
    path = os.fspath(igvm) if isinstance(igvm, (str, os.PathLike)) else f.name if igvm is f else "FILE"
    inputs = {"igvm": {**describe_igvm_input(f)["igvm"], "path": path}}
    measured: Dict[Tuple[str, int], Measurement] = {}
    stated = _Stated(profile, vcpus, None, None, None, False, "given")
    matches: List[ExplainMatch] = []
    unchecked: List[str] = []
    searched = 0
    for n in names:
        try:
            if IGVM_PROFILES[n].vmsas == "kvm":
                # KVM measures one VMSA per vCPU from the VP context of its index: QEMU launches the
                # file with one vCPU per context (fewer leave a context out of bounds, which QEMU
                # refuses; more need an AP's reset VMSA, which is not established).
                contexts = plan_igvm(f, n).vp_contexts
                top = next(i for i in range(len(contexts) + 1) if i not in contexts)
                usable = [c for c in counts if c == top]
                if len(usable) < len(counts):
                    unchecked.append(
                        f"the {n} model: {len(counts) - len(usable)} vCPU counts other than {top}, one per VP "
                        "context (fewer: QEMU refuses a context out of bounds; more: KVM's VMSA for an AP "
                        "without one is not established)"
                    )
                swept = sweep_igvm_measurements(f, usable, profile=n, threads=threads) if usable else []
                found = {m.vcpus or 0: m for m in swept}
                searched += len(usable)
            else:
                found = {0: measure_igvm(f, profile=n, threads=threads)}
                found[0].vmsas = []  # the file's own pages: not kept
                searched += 1
        except (ConfigError, IgvmError) as exc:  # this model refuses the file: say so, search the others
            unchecked.append(f"the {n} model: {exc}")
            continue
        for count, rec in found.items():
            if rec.digest == target:
                rec.inputs = {"igvm": dict(inputs["igvm"])}
                measured[n, count] = rec
                differs, notes = [], []
                if profile is not None and n != profile:
                    differs.append("profile")
                    notes.append(f"profile {n}, not {profile}")
                if count and vcpus is not None and count != vcpus:
                    differs.append("vcpus")
                    notes.append(f"vcpus {count}, not {vcpus}")
                args = ["--mode", "snp:igvm", "--igvm", path, "--profile", n] + (
                    ["--vcpus", str(count)] if count else []
                )
                matches.append(
                    ExplainMatch(
                        n, count or None, None, (), None, False, None, tuple(differs), tuple(notes), tuple(args)
                    )
                )
        if progress is not None:
            progress(searched, len(names) * len(counts))
    matches.sort(key=lambda m: _rank(m, stated, names))
    suggestions = (
        [] if matches else ["a model none of the three describes: compare the file's VMSAs (snpmeasure igvm show)"]
    )
    return Explanation(
        target,
        matches,
        searched,
        {"profile": names, "vcpus": [_span(counts)]},
        {"profile": len(names), "vcpus": len(counts)},
        {k: v for k, v in (("profile", profile), ("vcpus", vcpus)) if v is not None},
        unchecked,
        suggestions,
        failures,
        inputs,
        _igvm_measured=[measured[m.profile, m.vcpus or 0] for m in matches],
    )


__all__ = ["explain", "Explanation", "ExplainMatch", "DIMENSIONS", "DEFAULT_GUEST_FEATURES", "DEFAULT_PROFILES"]
