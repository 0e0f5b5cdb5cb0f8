"""Pure-Python LaunchDigest (hashlib): the test oracle for the native core.

Selected with ``SNPMEASURE_BACKEND=python``. Written for clarity, one PAGE_INFO at a time, exactly
as the firmware describes it (ABI Table 67).
"""

from __future__ import annotations

import hashlib
import struct
import threading
from typing import List, Optional

from .pages import DIGEST_SIZE, PAGE_SIZE, LaunchDigestBase, PageType

_ZERO_CONTENTS = bytes(DIGEST_SIZE)
# LENGTH (u16) = 0x70, PAGE_TYPE, IMI_PAGE, VMPL3, VMPL2, VMPL1 perms, reserved, GPA (u64).
_TAIL = struct.Struct("<HBBBBBBQ")


def page_info(
    ld: bytes, contents: bytes, page_type: int, gpa: int, imi: int = 0, v1: int = 0, v2: int = 0, v3: int = 0
) -> bytes:
    """The 0x70-byte PAGE_INFO structure (note the VMPL order 3, 2, 1)."""
    return ld + contents + _TAIL.pack(0x70, page_type, imi, v3, v2, v1, 0, gpa)


class LaunchDigest(LaunchDigestBase):
    """Pure-Python SNP launch digest; same API and results as the native one."""

    def _init_state(self, seed: bytes) -> None:
        self._ld = seed

    def _update_region(
        self, ptype: PageType, gpa: int, view: Optional[memoryview], length: int, imi: int, v1: int, v2: int, v3: int
    ) -> None:
        ld = self._ld
        for off in range(0, length, PAGE_SIZE):
            if ptype.has_contents:
                assert view is not None
                contents = hashlib.sha384(view[off : off + PAGE_SIZE]).digest()
            else:
                contents = _ZERO_CONTENTS
            ld = hashlib.sha384(page_info(ld, contents, ptype, gpa + off, imi, v1, v2, v3)).digest()
        self._ld = ld

    def _update_repeat(
        self, ptype: PageType, gpa: int, page: memoryview, count: int, trail: bool = False
    ) -> List[bytes]:
        contents = hashlib.sha384(page).digest()
        ld = self._ld
        steps: List[bytes] = []
        for _ in range(count):
            ld = hashlib.sha384(page_info(ld, contents, ptype, gpa)).digest()
            if trail:
                steps.append(ld)
        self._ld = ld
        return steps

    def _update_fill(self, ptype: PageType, gpa: int, page: memoryview, npages: int) -> None:
        contents = hashlib.sha384(page).digest() if ptype.has_contents else _ZERO_CONTENTS
        ld = self._ld
        for i in range(npages):
            ld = hashlib.sha384(page_info(ld, contents, ptype, gpa + i * PAGE_SIZE)).digest()
        self._ld = ld

    def digest(self) -> bytes:
        """The current launch digest (48 bytes)."""
        with self._lock:
            return self._ld

    def copy(self) -> LaunchDigest:
        """An independent copy of this digest state."""
        other = LaunchDigest.__new__(LaunchDigest)
        other._threads = self._threads
        other._lock = threading.Lock()
        other._ld = self.digest()
        return other
