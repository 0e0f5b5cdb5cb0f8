"""Page types, the VMSA GPA, and the argument rules shared by both LaunchDigest backends.

Facts: SEV-SNP firmware ABI Table 67 (PAGE_INFO) and the page types of SNP_LAUNCH_UPDATE; see
``docs/reference/firmware-abi.md`` §3.
"""

from __future__ import annotations

import abc
import mmap
import os
import threading
from enum import IntEnum
from typing import List, Optional, Tuple, TypeVar, Union

from .errors import InvalidInputError, no_member, show

PAGE_SIZE = 4096
DIGEST_SIZE = 48
#: GPA that KVM records for every VMSA page (``INITIAL_VMSA_GPA``); see docs/reference/firmware-abi.md §3.4.
VMSA_GPA = 0xFFFFFFFFF000
_U64 = 1 << 64

Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


class PageType(IntEnum):
    """SNP page types (PAGE_INFO.PAGE_TYPE)."""

    NORMAL = 1
    VMSA = 2
    ZERO = 3
    UNMEASURED = 4
    SECRETS = 5
    CPUID = 6

    @classmethod
    def _missing_(cls, value: object) -> PageType:
        raise no_member(cls, "page_type", value)

    @property
    def has_contents(self) -> bool:
        """True for the types whose CONTENTS field is SHA-384 of the page (NORMAL, VMSA)."""
        return self in (PageType.NORMAL, PageType.VMSA)


def parse_seed(seed: Union[None, str, bytes, bytearray, memoryview]) -> bytes:
    """Return a 48-byte launch digest seed from bytes or hex (None: 48 zero bytes)."""
    if seed is None:
        return bytes(DIGEST_SIZE)
    if isinstance(seed, str):
        from ._checks import hex_bytes

        raw = hex_bytes("seed", seed, DIGEST_SIZE, "a 48-byte launch digest")
    elif isinstance(seed, (bytes, bytearray, memoryview)):
        raw = bytes(seed)
    else:
        raise InvalidInputError("seed", f"must be bytes or a hex string, got {type(seed).__name__}")
    if len(raw) != DIGEST_SIZE:
        raise InvalidInputError("seed", f"must be {DIGEST_SIZE} bytes, got {len(raw)}")
    return raw


def default_threads() -> int:
    """Thread count used when ``threads=None``: ``SNPMEASURE_THREADS`` or 0 (all CPUs)."""
    env = os.environ.get("SNPMEASURE_THREADS", "").strip()
    if not env:
        return 0
    try:
        value = int(env, 10)
    except ValueError:
        raise InvalidInputError("SNPMEASURE_THREADS", f"must be a whole number, got {show(env)}") from None
    if not 0 <= value <= 64:
        raise InvalidInputError(
            "SNPMEASURE_THREADS", f"must be 0 (all CPUs) or from 1 to 64, as --threads, got {value}"
        )
    return value


def check_threads(threads: Optional[int]) -> int:
    """Validate ``threads`` (None = default) and return the count for the C core (0 = all CPUs)."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise InvalidInputError("threads", f"must be an int or None, got {type(threads).__name__}")
    if threads < 1 or threads > 64:
        raise InvalidInputError("threads", f"must be between 1 and 64, got {show(threads)}")
    return threads


def _check_byte(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise InvalidInputError(name, f"must be an int from 0 to 255, got {show(value)}")
    return value


#: At most this many repetitions per update_vmsa call: the C core's SNP_MAX_REPEAT (KVM has at most
#: 4096 vCPUs; sweeps need far fewer), enforced here so both backends agree.
MAX_REPEAT = 1 << 24


def page_type_of(page_type: object) -> PageType:
    """A PageType from a PageType or an int 1..6; anything else is InvalidInputError."""
    # PageType(1.0) would be NORMAL; PageType(huge) would fail to repr the int in its own message
    if isinstance(page_type, bool) or not isinstance(page_type, int) or not 1 <= page_type <= 6:
        raise no_member(PageType, "page_type", page_type)
    return PageType(page_type)


def check_update(
    page_type: Union[PageType, int],
    gpa: int,
    data: Optional[Buffer],
    length: Optional[int],
    imi: bool,
    vmpl1_perms: int,
    vmpl2_perms: int,
    vmpl3_perms: int,
) -> Tuple[PageType, Optional[memoryview], int]:
    """Validate the arguments of :meth:`LaunchDigest.update`.

    Returns the page type, a contiguous byte view of ``data`` (or None) and the region length.
    Raises :class:`InvalidInputError` naming the argument and the rule.
    """
    ptype = page_type_of(page_type)
    if isinstance(gpa, bool) or not isinstance(gpa, int) or not 0 <= gpa < _U64:
        raise InvalidInputError("gpa", f"must be an int from 0 to 2**64-1, got {show(gpa)}")
    if gpa % PAGE_SIZE:
        raise InvalidInputError("gpa", f"must be a multiple of 4096, got {gpa:#x}")
    view: Optional[memoryview] = None
    if data is not None:
        try:
            view = memoryview(data)
            view.nbytes  # noqa: B018  (a released memoryview raises here, not later in C)
        except TypeError:
            raise InvalidInputError(
                "data", f"must be a bytes-like object (bytes, bytearray, memoryview, mmap), got {type(data).__name__}"
            ) from None
        except ValueError as exc:  # a closed mmap, a released memoryview
            raise InvalidInputError("data", f"cannot be read: {exc}") from None
        if not view.c_contiguous:
            raise InvalidInputError("data", "must be a contiguous buffer")
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise InvalidInputError("length", f"must be a non-negative int, got {show(length)}")
        if view is not None and length != view.nbytes:
            raise InvalidInputError(
                "length", f"must equal len(data) = {view.nbytes} when data is given, got {show(length)}"
            )
    if view is None:
        if ptype.has_contents:
            raise InvalidInputError("data", f"is required for {ptype.name} pages")
        if length is None:
            raise InvalidInputError("length", f"is required for {ptype.name} pages when no data is given")
        size = length
    else:
        size = view.nbytes
    if size % PAGE_SIZE:
        raise InvalidInputError(
            "length" if view is None else "data", f"must be a multiple of 4096 bytes, got {show(size)}"
        )
    if size >= _U64:  # the whole 64-bit space from 0: the length itself must fit in 64 bits
        raise InvalidInputError("length", f"must be below 2**64, got {show(size)}")
    if size and gpa + size > _U64:
        raise InvalidInputError("gpa", f"range {gpa:#x} + {size:#x} bytes passes 2**64")
    if not isinstance(imi, (bool, int)) or imi not in (0, 1):
        raise InvalidInputError("imi", f"must be a bool, got {show(imi)}")
    _check_byte("vmpl1_perms", vmpl1_perms)
    _check_byte("vmpl2_perms", vmpl2_perms)
    _check_byte("vmpl3_perms", vmpl3_perms)
    return ptype, view, size


T = TypeVar("T", bound="LaunchDigestBase")


class LaunchDigestBase(abc.ABC):
    """The SNP launch digest (GCTX.LD), extended one region of pages at a time.

    hashlib-style: :meth:`digest`, :meth:`hexdigest`, :meth:`copy`; and like hashlib's objects,
    safe to share between threads (each update and read holds the object's lock: the C core reads
    the state, hashes with the GIL released, and writes it back, so two unlocked updates would
    lose one). Backends implement ``_init_state``, ``_update_region``, ``_update_repeat``,
    ``_update_fill``, :meth:`digest` and :meth:`copy`, taking ``self._lock`` in the last two.
    """

    digest_size = DIGEST_SIZE
    name = "snp-launch-digest"

    def __init__(self, seed: Union[None, str, bytes, bytearray, memoryview] = None, *, threads: Optional[int] = None):
        self._threads = check_threads(threads)
        self._lock = threading.Lock()
        self._init_state(parse_seed(seed))

    # --- backend interface -------------------------------------------------------------------
    @abc.abstractmethod
    def _init_state(self, seed: bytes) -> None: ...

    @abc.abstractmethod
    def _update_region(
        self, ptype: PageType, gpa: int, view: Optional[memoryview], length: int, imi: int, v1: int, v2: int, v3: int
    ) -> None: ...

    @abc.abstractmethod
    def _update_repeat(
        self, ptype: PageType, gpa: int, page: memoryview, count: int, trail: bool = False
    ) -> List[bytes]: ...

    @abc.abstractmethod
    def _update_fill(self, ptype: PageType, gpa: int, page: memoryview, npages: int) -> None: ...

    @abc.abstractmethod
    def digest(self) -> bytes:
        """The current launch digest (48 bytes)."""

    @abc.abstractmethod
    def copy(self: T) -> T:
        """An independent copy of this digest state (same backend and thread setting)."""

    # --- public API --------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        """Threads used for content hashing (0 = one per CPU)."""
        return self._threads

    def update(
        self,
        page_type: Union[PageType, int],
        gpa: int,
        data: Optional[Buffer] = None,
        length: Optional[int] = None,
        *,
        imi: bool = False,
        vmpl1_perms: int = 0,
        vmpl2_perms: int = 0,
        vmpl3_perms: int = 0,
    ) -> None:
        """Extend the digest over a region of 4 KiB pages starting at ``gpa``.

        NORMAL and VMSA pages need ``data`` (a multiple of 4096 bytes; bytes, bytearray, memoryview
        or mmap, never copied). The other types need ``length`` (or ``data``, whose contents are not
        measured). On error nothing changes.
        """
        ptype, view, size = check_update(page_type, gpa, data, length, imi, vmpl1_perms, vmpl2_perms, vmpl3_perms)
        if size:
            with self._lock:
                self._update_region(ptype, gpa, view, size, int(imi), vmpl1_perms, vmpl2_perms, vmpl3_perms)

    def update_normal(self, gpa: int, data: Buffer) -> None:
        """Measure ``data`` as NORMAL pages at ``gpa``."""
        self.update(PageType.NORMAL, gpa, data)

    def update_fill(self, page_type: Union[PageType, int], gpa: int, page: Buffer, npages: int) -> None:
        """Measure ``npages`` consecutive pages from ``gpa`` that all hold the same 4096 bytes
        (e.g. a zero-filled NORMAL region): the page is hashed once and no region buffer is built."""
        if isinstance(npages, bool) or not isinstance(npages, int) or not 0 <= npages < 1 << 52:
            raise InvalidInputError(
                "npages", f"must be an int from 0 to 2**52-1 (pages of a 64-bit space), got {show(npages)}"
            )
        try:
            size = memoryview(page).nbytes
        except TypeError:
            raise InvalidInputError("page", f"must be a bytes-like object, got {type(page).__name__}") from None
        except ValueError as exc:  # a closed mmap, a released memoryview
            raise InvalidInputError("page", f"cannot be read: {exc}") from None
        if size != PAGE_SIZE:
            raise InvalidInputError("page", f"must be exactly 4096 bytes, got {size}")
        ptype, view, _ = check_update(page_type, gpa, page, None, False, 0, 0, 0)
        if gpa + npages * PAGE_SIZE > 1 << 64:
            raise InvalidInputError("gpa", f"range {gpa:#x} + {npages} pages passes 2**64")
        assert view is not None
        if npages:
            with self._lock:
                self._update_fill(ptype, gpa, view, npages)

    def update_vmsa(self, page: Buffer, gpa: int = VMSA_GPA, *, count: int = 1) -> None:
        """Measure one 4096-byte VMSA page at ``gpa``, ``count`` times (identical AP VMSAs)."""
        view = self._check_vmsa(page, gpa, count)
        if count:
            with self._lock:
                self._update_repeat(PageType.VMSA, gpa, view, count)

    def update_vmsa_each(self, page: Buffer, gpa: int = VMSA_GPA, *, count: int = 1) -> List[bytes]:
        """As :meth:`update_vmsa`, returning the digest after each of the ``count`` pages (sweeps);
        ``count`` is at most 65536 (48 bytes of result each; KVM runs at most 4096 vCPUs)."""
        view = self._check_vmsa(page, gpa, count)
        if count > 1 << 16:
            raise InvalidInputError("count", f"must be at most 65536 when every digest is returned, got {count}")
        if not count:
            return []
        with self._lock:
            return self._update_repeat(PageType.VMSA, gpa, view, count, True)

    @staticmethod
    def _check_vmsa(page: Buffer, gpa: int, count: int) -> memoryview:
        _, view, size = check_update(PageType.VMSA, gpa, page, None, False, 0, 0, 0)
        if size != PAGE_SIZE:
            raise InvalidInputError("page", f"a VMSA must be exactly 4096 bytes, got {size}")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_REPEAT:
            raise InvalidInputError("count", f"must be an int from 0 to {MAX_REPEAT}, got {show(count)}")
        assert view is not None
        return view

    def update_zero(self, gpa: int, length: int) -> None:
        """Measure ``length`` bytes of ZERO pages at ``gpa``."""
        self.update(PageType.ZERO, gpa, length=length)

    def update_unmeasured(self, gpa: int, length: int) -> None:
        """Measure ``length`` bytes of UNMEASURED pages at ``gpa``."""
        self.update(PageType.UNMEASURED, gpa, length=length)

    def update_secrets(self, gpa: int, length: int = PAGE_SIZE) -> None:
        """Measure SECRETS pages at ``gpa``."""
        self.update(PageType.SECRETS, gpa, length=length)

    def update_cpuid(self, gpa: int, length: int = PAGE_SIZE) -> None:
        """Measure CPUID pages at ``gpa``."""
        self.update(PageType.CPUID, gpa, length=length)

    def hexdigest(self) -> str:
        """The current launch digest as 96 lower-case hex digits."""
        return self.digest().hex()

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} {self.hexdigest()}>"
