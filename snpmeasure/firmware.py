"""A model of the AMD secure processor's launch commands for one guest context.

SNP: LAUNCH_START → LAUNCH_UPDATE* (pages, then VMSAs) → LAUNCH_FINISH, extending the SHA-384
launch digest (``_core.LaunchDigest``) exactly as the firmware does. SEV/SEV-ES: LAUNCH_UPDATE_DATA
and LAUNCH_UPDATE_VMSA extend a SHA-256 digest (docs/reference/firmware-abi.md §8.4). Status codes are the
firmware's (``SEV_RET_*``, docs/reference/firmware-abi.md §1.3); a command refused by the firmware raises
:class:`FirmwareError` with that status.
"""

from __future__ import annotations

from enum import Enum, IntEnum
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Tuple, Union

from ._checks import as_bytes, require_type
from ._core import LaunchDigest
from ._cpus import MAX_VCPUS
from .errors import BlobError, FirmwareError, InvalidInputError, KvmError, PolicyError, SignatureError, no_member, show
from .pages import PAGE_SIZE, VMSA_GPA, Buffer, PageType, page_type_of

if TYPE_CHECKING:  # pragma: no cover
    from .blobs import IdAuth, IdBlock
    from .policy import GuestPolicy


#: x86's widest guest-physical address space (52 bits, 5-level paging): KVM has no memory beyond it.
_MAX_GPA = 1 << 52


class Status(IntEnum):
    """Firmware status codes (SEV_RET_*, 16-bit)."""

    SUCCESS = 0x00
    INVALID_PLATFORM_STATE = 0x01
    INVALID_GUEST_STATE = 0x02
    INVALID_CONFIG = 0x03
    INVALID_LEN = 0x04
    ALREADY_OWNED = 0x05
    INVALID_CERTIFICATE = 0x06
    POLICY_FAILURE = 0x07
    INACTIVE = 0x08
    INVALID_ADDRESS = 0x09
    BAD_SIGNATURE = 0x0A
    BAD_MEASUREMENT = 0x0B
    ASID_OWNED = 0x0C
    INVALID_ASID = 0x0D
    WBINVD_REQUIRED = 0x0E
    DFFLUSH_REQUIRED = 0x0F
    INVALID_GUEST = 0x10
    INVALID_COMMAND = 0x11
    ACTIVE = 0x12
    HWSEV_RET_PLATFORM = 0x13
    HWSEV_RET_UNSAFE = 0x14
    UNSUPPORTED = 0x15
    INVALID_PARAM = 0x16
    RESOURCE_LIMIT = 0x17
    SECURE_DATA_INVALID = 0x18
    INVALID_PAGE_SIZE = 0x19
    INVALID_PAGE_STATE = 0x1A
    INVALID_MDATA_ENTRY = 0x1B
    INVALID_PAGE_OWNER = 0x1C
    AEAD_OFLOW = 0x1D
    RB_MODE_EXITED = 0x1F
    RMP_INIT_REQUIRED = 0x20
    BAD_SVN = 0x21
    BAD_VERSION = 0x22
    SHUTDOWN_REQUIRED = 0x23
    UPDATE_FAILED = 0x24
    RESTORE_REQUIRED = 0x25
    RMP_INITIALIZATION_FAILED = 0x26
    INVALID_KEY = 0x27

    @classmethod
    def _missing_(cls, value: object) -> Status:
        raise no_member(cls, "status", value)


class HostModel(NamedTuple):
    """What the launch checks assume about the host.

    ``abi``: the firmware's SEV-SNP ABI version (None: do not check ABI-dependent rules);
    ``smt_enabled``: SMT on in the BIOS (then POLICY.SMT must be 1); ``kvm_checks``: apply upstream
    KVM's own policy checks (MIGRATE_MA, reserved bits, and bits outside ``kvm_policy_bits`` are
    rejected before the firmware), and populate each guest page once. Linux 6.11-6.18's
    SNP_POLICY_MASK_VALID is 0x1bffff (the ABI bytes, SMT, bit 17, DEBUG, SINGLE_SOCKET); 6.11-6.16
    also refused SINGLE_SOCKET and required SMT (-EINVAL): ``kvm_policy_bits=0xbffff,
    kvm_required_bits=0x10000`` models them, ``kvm_policy_bits=0x1bffff`` models 6.17 and 6.18
    (kvm-x86-svm-6.17 left SMT and SINGLE_SOCKET to the firmware).
    """

    abi: Optional[Tuple[int, int]] = None
    smt_enabled: bool = True
    kvm_checks: bool = True
    #: KVM_X86_SNP_POLICY_BITS as the host kernel reports it; None: bits 0-20 (minus MIGRATE_MA)
    #: plus whatever newer bits the firmware ABI defines (Linux >= 6.19, which reports the attribute).
    kvm_policy_bits: Optional[int] = None
    #: policy bits the host's KVM requires set (Linux 6.11-6.16: 0x10000, SMT); 0 or None: none
    kvm_required_bits: Optional[int] = 0
    #: the host has a VLEK installed (a cloud provider's): the firmware signs reports with it, not
    #: the VCEK, whatever VCEK_DISABLED says (KVM's SNP_HV_REPORT_REQ / the guest's key_sel 0)
    vlek: bool = False
    #: the host's PLATFORM_INFO, as its reports carry it (SMT_EN must agree with ``smt_enabled``);
    #: None: unknown, so the policy's RAPL_DIS and CIPHERTEXT_HIDING are not checked against it
    platform_info: Optional[int] = None
    #: the host's CPU sockets (None: unknown, unchecked): with more than one, the SNP_ACTIVATE that
    #: KVM issues inside LAUNCH_START fails a SINGLE_SOCKET policy (SNP_ACTIVATE_EX would be needed)
    sockets: Optional[int] = None


class LaunchResult(NamedTuple):
    """What a successful LAUNCH_FINISH fixes for the guest: the fields its attestation reports carry."""

    measurement: bytes
    policy: int
    host_data: bytes = bytes(32)
    family_id: bytes = bytes(16)
    image_id: bytes = bytes(16)
    guest_svn: int = 0
    id_key_digest: bytes = bytes(48)
    author_key_digest: bytes = bytes(48)
    author_key_en: bool = False
    id_block_en: bool = False
    signing_key: str = "VCEK"

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready report fields (hex)."""
        return {
            "measurement": self.measurement.hex(),
            "policy": f"{self.policy:#x}",
            "host_data": self.host_data.hex(),
            "family_id": self.family_id.hex(),
            "image_id": self.image_id.hex(),
            "guest_svn": self.guest_svn,
            "id_key_digest": self.id_key_digest.hex(),
            "author_key_digest": self.author_key_digest.hex(),
            "author_key_en": self.author_key_en,
            "id_block_en": self.id_block_en,
            "signing_key": self.signing_key,
        }


class GuestState(Enum):
    """Guest context states the launch commands move through."""

    NONE = "none"  # no guest context yet
    LAUNCHING = "launching"  # after LAUNCH_START
    RUNNING = "running"  # after LAUNCH_FINISH


class TraceEntry(NamedTuple):
    """One launch command as the firmware saw it, with the digest after it."""

    command: str
    page_type: str
    gpa: Optional[int]
    length: int
    label: str
    digest: bytes

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready form (GPAs and digests as hex)."""
        return {
            "command": self.command,
            "page_type": self.page_type,
            "gpa": None if self.gpa is None else f"{self.gpa:#x}",
            "gpa_end": None if self.gpa is None else f"{self.gpa + self.length:#x}",
            "length": self.length,
            "label": self.label,
            "digest": self.digest.hex(),
        }

    def line(self) -> str:
        """One human-readable line for ``--trace``."""
        where = "" if self.gpa is None else f"{self.gpa:#014x}-{self.gpa + self.length - 1:#014x} "
        return f"{self.command:<20} {self.page_type:<10} {where}{self.label:<34} {self.digest.hex()}"


def _check_label(label: object) -> None:
    if not isinstance(label, str):
        raise InvalidInputError("label", f"must be a str, got {type(label).__name__}")


class Firmware:
    """One SNP guest context: LAUNCH_START, LAUNCH_UPDATE, LAUNCH_FINISH."""

    def __init__(
        self,
        *,
        seed: Optional[bytes] = None,
        trace: bool = False,
        threads: Optional[int] = None,
        host: Optional[HostModel] = None,
    ) -> None:
        if host is not None:
            require_type("host", host, HostModel)
        for flag in ("smt_enabled", "kvm_checks", "vlek"):
            if host is not None and not isinstance(getattr(host, flag), bool):
                raise InvalidInputError(flag, f"must be a bool, got {show(getattr(host, flag))}")
        if not isinstance(trace, bool):
            raise InvalidInputError("trace", f"must be a bool, got {show(trace)}")
        self.host = host or HostModel()
        for field in ("kvm_policy_bits", "kvm_required_bits"):
            bits = getattr(self.host, field)
            if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 0 <= bits < 1 << 64):
                raise InvalidInputError(field, f"must be a 64-bit mask, got {show(bits)}")
        from .policy import check_abi, check_platform_info

        check_abi(self.host.abi)
        check_platform_info(self.host.platform_info)
        sockets = self.host.sockets
        if sockets is not None and (isinstance(sockets, bool) or not isinstance(sockets, int) or sockets < 1):
            raise InvalidInputError("sockets", f"must be a socket count of 1 or more, got {show(sockets)}")
        info = self.host.platform_info
        if info is not None and bool(info & 1) != self.host.smt_enabled:
            raise InvalidInputError(
                "platform_info", f"SMT_EN (bit 0) of {info:#x} contradicts smt_enabled={self.host.smt_enabled}"
            )
        self.gosvw = bytes(16)
        self.state = GuestState.NONE
        self._threads = threads
        self._ld = LaunchDigest(seed, threads=threads)
        self.policy: Optional[int] = None
        self.trace: Optional[List[TraceEntry]] = [] if trace else None
        self._populated: List[Tuple[int, int]] = []  # the GPA ranges LAUNCH_UPDATE populated, sorted
        self._vmsas = 0  # the VMSAs added so far

    @property
    def ld(self) -> bytes:
        """GCTX.LD, the launch digest so far."""
        return self._ld.digest()

    def _require(self, command: str, state: GuestState) -> None:
        if self.state is not state:
            why = f"guest is {self.state.value}, the command needs it {state.value}"
            if self.host.kvm_checks and (self.state is GuestState.NONE or command == "SNP_LAUNCH_START"):
                # KVM tracks the context itself (sev->snp_context): a second start, or an update or
                # finish without one, is -EINVAL before the firmware sees the command. (After
                # LAUNCH_FINISH mainline KVM has no such check: the firmware's state decides.)
                raise KvmError(command, why)
            raise FirmwareError(command, Status.INVALID_GUEST_STATE, why)

    def _check_kvm_page_type(self, ptype: PageType) -> None:
        """snp_launch_update takes KVM_SEV_SNP_PAGE_TYPE_NORMAL, ZERO, UNMEASURED, SECRETS and
        CPUID: the VMSAs are KVM's own, which it adds inside LAUNCH_FINISH (launch_update_vmsa)."""
        if self.host.kvm_checks and ptype is PageType.VMSA:
            raise KvmError("SNP_LAUNCH_UPDATE", "page type VMSA: KVM adds the VMSAs itself, at SNP_LAUNCH_FINISH")

    def _count_vmsas(self, count: int) -> None:
        """KVM adds one VMSA per vCPU, and a VM has at most KVM_MAX_VCPUS (4096) of them."""
        if self.host.kvm_checks and self._vmsas + count > MAX_VCPUS:
            raise KvmError(
                "SNP_LAUNCH_FINISH", f"{self._vmsas + count} VMSAs: a VM has at most {MAX_VCPUS} vCPUs (KVM_MAX_VCPUS)"
            )
        self._vmsas += count

    def _populated_range(self, gpa: object, length: object) -> Optional[Tuple[int, int]]:
        """The guest pages an update populates, when KVM's checks apply: a well-formed range (page
        aligned, whole pages; anything else is left to the update's own argument checks, which
        KVM applies first). A VMSA page never gets here: _check_kvm_page_type refuses it first."""
        if not self.host.kvm_checks:
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (gpa, length)):
            return None
        assert isinstance(gpa, int) and isinstance(length, int)
        if gpa < 0 or length <= 0 or gpa % PAGE_SIZE or length % PAGE_SIZE:
            return None
        if gpa + length > _MAX_GPA:
            # no memslot there: kvm_gmem_populate finds none, and snp_launch_update fails
            raise KvmError(
                "SNP_LAUNCH_UPDATE",
                f"range {gpa:#x} + {length:#x} bytes passes 2**52, the most guest-physical address x86 has",
            )
        return gpa, gpa + length

    def _check_unpopulated(self, command: str, span: Optional[Tuple[int, int]]) -> None:
        """KVM populates a guest page once: a range that overlaps an earlier update is refused.
        kvm_gmem_populate fails on the page already private (-EEXIST), which snp_launch_update
        returns as -EIO after it populated (and measured) the pages before it; QEMU's launch stops
        there, so the replay refuses the whole update."""
        if span is None:
            return
        import bisect

        gpa, end = span
        i = bisect.bisect_left(self._populated, span)
        for start, stop in self._populated[max(i - 1, 0) : i + 1]:
            if start < end and gpa < stop:
                raise KvmError(
                    command,
                    f"gpa {max(gpa, start):#x} is already populated: KVM populates a guest page once "
                    "(kvm_gmem_populate fails, and snp_launch_update returns -EIO)",
                    "EIO",
                )

    def _record_populated(self, span: Optional[Tuple[int, int]]) -> None:
        if span is not None:
            import bisect

            bisect.insort(self._populated, span)

    def _record(self, command: str, ptype: PageType, gpa: int, length: int, label: str) -> None:
        if self.trace is not None:
            self.trace.append(TraceEntry(command, ptype.name, gpa, length, label, self._ld.digest()))

    def launch_start(self, policy: Union[int, str, GuestPolicy] = 0x30000, *, gosvw: bytes = bytes(16)) -> None:
        """SNP_LAUNCH_START: create the guest context with ``policy``; LD starts at zero (or seed).

        Raises :class:`KvmError` for what KVM rejects first (reserved bits, bit 17 clear,
        MIGRATE_MA, bits outside the host's KVM_X86_SNP_POLICY_BITS: by default, with a firmware ABI
        given, bits 21-25 that ABI does not define) and :class:`FirmwareError` (POLICY_FAILURE) for what
        the firmware rejects given ``host`` (SMT, minimum ABI, bits newer than the firmware where KVM
        passes them on). docs/reference/firmware-abi.md §1.2.
        """
        from .policy import GuestPolicy

        command = "SNP_LAUNCH_START"
        self._require(command, GuestState.NONE)
        gosvw = as_bytes("gosvw", gosvw)
        if len(gosvw) != 16:  # a fixed field of KVM's and the firmware's structures: no launch has another
            raise InvalidInputError("gosvw", f"must be 16 bytes, got {len(gosvw)}")
        try:
            pol = GuestPolicy.parse(policy)
        except PolicyError as exc:
            if self.host.kvm_checks:
                raise KvmError(command, f"policy {exc.rule}") from None
            raise FirmwareError(command, Status.INVALID_PARAM, f"policy {exc.rule} (inferred status)") from None
        if self.host.kvm_checks and pol.migrate_ma:
            raise KvmError(command, "MIGRATE_MA (bit 18) is not in KVM's valid policy mask (KVM_SNP_POLICY_MASK_VALID)")
        if self.host.kvm_checks and self.host.kvm_policy_bits is not None:
            outside = pol.to_int() & ~self.host.kvm_policy_bits & ((1 << 64) - 1)
            if outside:
                raise KvmError(
                    command,
                    f"policy bit {outside.bit_length() - 1} is outside the host's KVM_X86_SNP_POLICY_BITS {self.host.kvm_policy_bits:#x}",
                )
        elif self.host.kvm_checks and self.host.abi is not None:
            # Linux 6.19's mask (KVM-POL): bits 21-24 as the firmware's SNP_FEATURE_INFO reports them,
            # PAGE_SWAP_DISABLE (25) from firmware 1.58; a firmware older than a bit's ABI reports
            # no such feature, so KVM refuses the bit before the firmware's POLICY_FAILURE.
            newer = pol.newer_than(self.host.abi)
            if newer:
                _, bit, since = newer[-1]
                raise KvmError(
                    command,
                    f"policy bit {bit} is outside KVM_X86_SNP_POLICY_BITS: KVM (Linux 6.19) allows bits 21-25 only "
                    f"as the firmware reports them, and bit {bit} needs ABI {since[0]}.{since[1]}, above the "
                    f"firmware's {self.host.abi[0]}.{self.host.abi[1]} (--kvm-policy-bits models other kernels)",
                )
        required = self.host.kvm_required_bits or 0
        missing = required & ~pol.to_int() if self.host.kvm_checks else 0
        if missing:
            raise KvmError(
                command,
                f"policy bit {missing.bit_length() - 1} is clear, but the host's KVM requires it "
                f"(kvm_required_bits {required:#x})",
            )
        problems = pol.firmware_problems(
            self.host.abi, smt_enabled=self.host.smt_enabled, platform_info=self.host.platform_info
        )
        if problems:
            raise FirmwareError(command, Status.POLICY_FAILURE, "; ".join(f"{f}: {r}" for f, r in problems))
        if self.host.kvm_checks and pol.single_socket and (self.host.sockets or 1) > 1:
            # KVM activates the guest with SNP_ACTIVATE, which the firmware fails for SINGLE_SOCKET on
            # a host of more than one socket (Lendacky's 2025 series "Allow SNP guest policy to specify
            # SINGLE_SOCKET"; the status is inferred)
            raise FirmwareError(
                command,
                Status.POLICY_FAILURE,
                f"SINGLE_SOCKET: the host has {self.host.sockets} sockets, and the SNP_ACTIVATE KVM issues within "
                "LAUNCH_START fails such a guest (inferred status)",
            )
        self.policy = pol.to_int()
        self.gosvw = bytes(gosvw)
        self.state = GuestState.LAUNCHING

    def launch_update(
        self,
        page_type: Union[PageType, int],
        gpa: int,
        data: Optional[Buffer] = None,
        length: Optional[int] = None,
        *,
        label: str = "",
        imi: bool = False,
        vmpl1_perms: int = 0,
        vmpl2_perms: int = 0,
        vmpl3_perms: int = 0,
    ) -> None:
        """SNP_LAUNCH_UPDATE over a region (one PAGE_INFO per 4 KiB page)."""
        self._require("SNP_LAUNCH_UPDATE", GuestState.LAUNCHING)
        ptype = page_type_of(page_type)
        _check_label(label)
        self._check_kvm_page_type(ptype)
        try:  # the arguments are checked by the update below; a bad one leaves the range unchecked here
            size = length if length is not None else (len(memoryview(data).cast("B")) if data is not None else 0)
        except (TypeError, ValueError):
            size = 0
        span = self._populated_range(gpa, size)
        self._check_unpopulated("SNP_LAUNCH_UPDATE", span)
        self._ld.update(
            ptype, gpa, data, length, imi=imi, vmpl1_perms=vmpl1_perms, vmpl2_perms=vmpl2_perms, vmpl3_perms=vmpl3_perms
        )
        self._record_populated(span)
        self._record("SNP_LAUNCH_UPDATE", ptype, gpa, size, label)

    def launch_update_fill(
        self, page_type: Union[PageType, int], gpa: int, page: Buffer, npages: int, *, label: str = ""
    ) -> None:
        """SNP_LAUNCH_UPDATE over ``npages`` pages that all hold ``page`` (e.g. a zeroed region)."""
        self._require("SNP_LAUNCH_UPDATE", GuestState.LAUNCHING)
        ptype = page_type_of(page_type)
        _check_label(label)
        self._check_kvm_page_type(ptype)
        pages = npages * PAGE_SIZE if isinstance(npages, int) and not isinstance(npages, bool) else None
        span = self._populated_range(gpa, pages)
        self._check_unpopulated("SNP_LAUNCH_UPDATE", span)
        self._ld.update_fill(ptype, gpa, page, npages)
        self._record_populated(span)
        self._record("SNP_LAUNCH_UPDATE", ptype, gpa, npages * PAGE_SIZE, label)

    def launch_update_vmsa(
        self, page: Buffer, *, gpa: int = VMSA_GPA, count: int = 1, label: str = "vmsa vCPU {}", first: int = 0
    ) -> None:
        """The VMSA updates KVM issues inside LAUNCH_FINISH: ``count`` identical pages at ``gpa``.

        In traces ``{}`` in ``label`` becomes the vCPU index (``first`` + position in this call)."""
        self._require("SNP_LAUNCH_UPDATE", GuestState.LAUNCHING)
        if isinstance(first, bool) or not isinstance(first, int):
            raise InvalidInputError("first", f"must be an int, got {show(first)}")
        _check_label(label)
        self._ld._check_vmsa(page, gpa, count)  # every argument check before the first page
        if self.trace is None:
            self._count_vmsas(count)
            self._ld.update_vmsa(page, gpa, count=count)
            return
        try:  # every label before the first page, so a bad format string changes nothing
            labels = [label.format(first + i) for i in range(count)]
        except (IndexError, KeyError, ValueError, AttributeError, TypeError) as exc:
            raise InvalidInputError(
                "label", f"must be a format string with one {{}} for the vCPU index ({show(exc)})"
            ) from None
        self._count_vmsas(count)
        for text in labels:
            self._ld.update_vmsa(page, gpa)
            self._record("SNP_LAUNCH_UPDATE", PageType.VMSA, gpa, PAGE_SIZE, text)

    def launch_update_vmsa_each(self, page: Buffer, *, gpa: int = VMSA_GPA, count: int = 1) -> List[bytes]:
        """As :meth:`launch_update_vmsa`, returning GCTX.LD after each page (vCPU sweeps)."""
        self._require("SNP_LAUNCH_UPDATE", GuestState.LAUNCHING)
        self._ld._check_vmsa(page, gpa, count)
        self._count_vmsas(count)
        steps = self._ld.update_vmsa_each(page, gpa, count=count)
        if self.trace is not None:
            for i, d in enumerate(steps):
                self.trace.append(TraceEntry("SNP_LAUNCH_UPDATE", PageType.VMSA.name, gpa, PAGE_SIZE, f"vmsa #{i}", d))
        return steps

    def copy(self) -> Firmware:
        """An independent copy of this guest context (for forks such as vCPU sweeps)."""
        other = Firmware.__new__(Firmware)
        other.__dict__.update(self.__dict__)
        other._ld = self._ld.copy()
        other.trace = None if self.trace is None else list(self.trace)
        other._populated = list(self._populated)
        return other

    def launch_finish(
        self,
        id_block: Optional[IdBlock] = None,
        id_auth: Union[IdAuth, bytes, None] = None,
        *,
        author_key_enabled: bool = False,
        host_data: bytes = bytes(32),
        vcek_disabled: bool = False,
    ) -> LaunchResult:
        """SNP_LAUNCH_FINISH: with an ID block, the checks of the ABI spec in its order (docs/reference/firmware-abi.md
        §4.4): LD (BAD_MEASUREMENT), then POLICY (POLICY_FAILURE), then the ID block signature and,
        with ``author_key_enabled``, the ID key signature (BAD_SIGNATURE).

        ``id_auth`` is an :class:`~snpmeasure.blobs.IdAuth`, or the 4096 bytes QEMU hands over: the
        firmware reads them only after the LD and POLICY checks, so a malformed structure (a key
        that is no P-384 point, an unknown algorithm) fails there, as INVALID_PARAM (the status is
        inferred: the ABI does not name it)."""
        from .blobs import ID_AUTH_SIZE, IdAuth, IdBlock

        command = "SNP_LAUNCH_FINISH"
        self._require(command, GuestState.LAUNCHING)
        host_data = as_bytes("host_data", host_data)
        if id_block is not None:
            require_type("id_block", id_block, IdBlock, "IdBlock.from_bytes parses one")
        if isinstance(id_auth, (bytearray, memoryview)):
            id_auth = bytes(id_auth)
        if isinstance(id_auth, bytes) and len(id_auth) != ID_AUTH_SIZE:
            IdAuth.from_bytes(id_auth)  # KVM always reads 4096 bytes: the length rule, as a BlobError
        if id_auth is not None and not isinstance(id_auth, (IdAuth, bytes)):
            raise InvalidInputError(
                "id_auth",
                f"must be an IdAuth (IdAuth.from_bytes parses one) or its 4096 bytes, got {type(id_auth).__name__}",
            )
        if len(host_data) != 32:  # a fixed field, as GOSVW
            raise InvalidInputError("host_data", f"must be 32 bytes, got {len(host_data)}")
        assert self.policy is not None
        ld = self.ld
        signer = "VLEK" if vcek_disabled or self.host.vlek else "VCEK"  # VCEK_DISABLED: a VLEK must sign
        result = LaunchResult(ld, self.policy, bytes(host_data), signing_key=signer)
        if id_block is None:
            # KVM passes AUTH_KEY_EN only together with an ID block (docs/reference/firmware-abi.md §4.5).
            self.state = GuestState.RUNNING
            return result
        if id_auth is None:
            raise KvmError(
                command,
                "an ID block needs an ID auth structure: KVM's psp_copy_user_blob refuses a NULL id_auth_uaddr",
                "EINVAL",
            )
        if id_block.ld != ld:
            raise FirmwareError(
                command,
                Status.BAD_MEASUREMENT,
                f"the ID block's LD {id_block.ld.hex()} is not the launch digest {ld.hex()}",
            )
        if id_block.policy != self.policy:
            raise FirmwareError(
                command,
                Status.POLICY_FAILURE,
                f"the ID block's POLICY {id_block.policy:#x} is not the launch policy {self.policy:#x}",
            )
        if isinstance(id_auth, bytes):
            try:
                id_auth = IdAuth.as_firmware_reads(id_auth, author_key_enabled=author_key_enabled)
            except BlobError as exc:
                raise FirmwareError(command, Status.INVALID_PARAM, f"ID_AUTH: {exc} (inferred status)") from None
        try:
            id_auth.verify(id_block, author_key_enabled=author_key_enabled)
        except SignatureError as exc:
            raise FirmwareError(command, Status.BAD_SIGNATURE, str(exc)) from None
        author = id_auth.author_key_digest if author_key_enabled else None
        result = LaunchResult(
            ld,
            self.policy,
            bytes(host_data),
            id_block.family_id,
            id_block.image_id,
            id_block.guest_svn,
            id_auth.id_key_digest,
            author or bytes(48),
            author_key_enabled,
            True,
            result.signing_key,
        )
        self.state = GuestState.RUNNING
        return result


class SevFirmware:
    """One SEV or SEV-ES guest context: the launch digest is SHA-256 over everything measured."""

    def __init__(self, *, trace: bool = False) -> None:
        import hashlib  # deferred: SNP runs never need it

        self._h = hashlib.sha256()
        self.state = GuestState.LAUNCHING
        self.trace: Optional[List[TraceEntry]] = [] if trace else None

    def _record(self, command: str, kind: str, length: int, label: str) -> None:
        if self.trace is not None:
            self.trace.append(TraceEntry(command, kind, None, length, label, self._h.copy().digest()))

    def launch_update_data(self, data: Buffer, *, label: str = "") -> None:
        """LAUNCH_UPDATE_DATA: measure (and encrypt) a region."""
        self._h.update(data)
        self._record("LAUNCH_UPDATE_DATA", "DATA", len(memoryview(data).cast("B")), label)

    def launch_update_vmsa(self, page: bytes, *, label: str = "") -> None:
        """LAUNCH_UPDATE_VMSA: measure one vCPU's save area."""
        self._h.update(page)
        self._record("LAUNCH_UPDATE_VMSA", "VMSA", len(page), label)

    def launch_measure(self) -> bytes:
        """GCTX.LD as LAUNCH_MEASURE uses it."""
        return self._h.digest()
