"""The SEV hashes table that QEMU builds for ``-kernel``/``-initrd``/``-append`` (kernel-hashes=on).

Layout (QEMU ``PaddedSevHashTable``, docs/reference/firmware-abi.md §8.2; GUIDs stored little-endian, all packed):

    0x00 16  table header GUID 9438d606-…     0x10  2  length 0xA8
    0x12 16  cmdline GUID 97d02dd8-…          0x22  2  0x32   0x24 32  SHA-256(cmdline ‖ NUL)
    0x44 16  initrd GUID 44baf731-…           0x54  2  0x32   0x56 32  SHA-256(initrd or b"")
    0x76 16  kernel GUID 4de79437-…           0x86  2  0x32   0x88 32  SHA-256(bzImage file)
    0xA8  8  zero padding (to a multiple of 16)

Files are hashed in 1 MiB chunks (memory stays bounded for a multi-GiB initrd); hashlib releases
the GIL on large updates, so the kernel and initrd are hashed concurrently.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple, Optional, Union

from ._guids import guid_le
from .errors import InvalidInputError

TABLE_GUID = guid_le("9438d606-4f22-4cc9-b479-a793d411fd21")
CMDLINE_GUID = guid_le("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")
INITRD_GUID = guid_le("44baf731-3a2f-4bd7-9af1-41e29169781d")
KERNEL_GUID = guid_le("4de79437-abd2-427f-b835-d5b172d2045b")
ENTRY_SIZE = 16 + 2 + 32  # 0x32
TABLE_SIZE = 16 + 2 + 3 * ENTRY_SIZE  # 0xA8
PADDED_SIZE = (TABLE_SIZE + 15) & ~15  # 0xB0
CHUNK = 1 << 20

PathLike = Union[str, "os.PathLike[str]"]


def sha256_file(path: PathLike, field: str = "path", *, limit: Optional[int] = None, why: str = "") -> bytes:
    """SHA-256 of a file, streamed in 1 MiB chunks into one reused buffer. With ``limit``, a file
    (or pipe) longer than ``limit`` bytes is refused, ``why`` saying whose limit it is; a regular
    file is refused by its size, before any of it is read."""
    import hashlib  # deferred (as in from_inputs): loading OpenSSL slows every start-up otherwise

    from ._files import open_input, read_error

    def too_long(name: str) -> InvalidInputError:
        return InvalidInputError(field, f"{name}: is longer than {limit} bytes{why}")

    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    with open_input(field, path, buffering=0) as f:
        try:
            if limit is not None and os.fstat(f.fileno()).st_size > limit:
                raise too_long(f.name)
            while True:
                n = f.readinto(buf)  # type: ignore[attr-defined]
                if not n:
                    break
                total += n
                if limit is not None and total > limit:  # a pipe: its writer may never stop
                    raise too_long(f.name)
                h.update(view[:n])
        except OSError as exc:
            raise read_error(field, f.name, exc) from None
    return h.digest()


#: Why a kernel must be a regular file: QEMU's x86 Linux loader (x86_load_linux in
#: hw/i386/x86-common.c) opens it with fopen and sizes it with fseek/ftell, which a pipe fails, and
#: a device such as /dev/zero never ends. QEMU maps -initrd (g_mapped_file_new), so it launches only
#: from a regular file too; the digest depends on the bytes alone, so a pipe is measured as the
#: file it stands for (``--initrd <(zcat initrd.gz)``), up to the largest initrd QEMU takes.
_KERNEL_FILE = ": QEMU loads -kernel from a file it can size"
_INITRD_FILE = ": QEMU maps -initrd from a file"


def check_boot_files(kernel: Optional[PathLike] = None, initrd: Optional[PathLike] = None) -> None:
    """Refuse a kernel or initrd QEMU could not load, for a launch that does not measure them (a
    measured one finds out as it hashes them): a directory or device, a kernel in a pipe (QEMU sizes
    -kernel), a file that cannot be opened. Errors name ``kernel`` or ``initrd``. A pipe given as
    the initrd is not opened (opening it would take its writer's data)."""
    import stat

    from ._files import check_loadable, open_input

    for field, path, pipe, why in (("kernel", kernel, False, _KERNEL_FILE), ("initrd", initrd, True, _INITRD_FILE)):
        if path is None:
            continue
        check_loadable(field, path, pipe=pipe, why=why)
        try:
            fifo = stat.S_ISFIFO(os.stat(os.fspath(path)).st_mode)
        except (OSError, TypeError, ValueError):
            fifo = False
        if not fifo:
            open_input(field, path).close()


#: The largest initrd QEMU's x86 loader takes: it refuses ``initrd_size >= initrd_max``, and
#: initrd_max is a uint32_t of at most UINT32_MAX (less with less memory below 4 GiB).
INITRD_MAX_SIZE = 0xFFFFFFFF - 1
_INITRD_TOO_LONG = ": QEMU refuses an initrd of 4 GiB - 1 or more (its initrd_max is a uint32)"


def _sha256_initrd(initrd: PathLike) -> bytes:
    return sha256_file(initrd, "initrd", limit=INITRD_MAX_SIZE, why=_INITRD_TOO_LONG)


#: The Linux x86 boot protocol's setup header magic "HdrS" at offset 0x202 (Documentation/arch/
#: x86/boot.rst), which every bzImage has and QEMU's direct boot looks for.
BZIMAGE_MAGIC_OFFSET = 0x202
BZIMAGE_MAGIC = b"HdrS"


def bzimage_warning(path: PathLike, field: str = "kernel") -> Optional[str]:
    """A warning when the kernel file is no bzImage (no ``HdrS`` at 0x202), else None. QEMU's
    direct boot loads bzImages; the digest of another file is computed, but likely not of the
    kernel the user meant (an ELF vmlinux, a compressed file, an initrd given as the kernel)."""
    from ._files import check_loadable, read_input

    check_loadable(field, path, why=_KERNEL_FILE)  # before reading: a pipe read here is gone
    head = read_input(field, path, BZIMAGE_MAGIC_OFFSET + len(BZIMAGE_MAGIC))
    if head[BZIMAGE_MAGIC_OFFSET:] == BZIMAGE_MAGIC:
        return None
    what = "an ELF file" if head[:4] == b"\x7fELF" else "empty" if not head else "no bzImage"
    return (
        f"the kernel {path} is {what} (no 'HdrS' boot header at offset 0x202): QEMU's direct boot "
        "loads a bzImage (vmlinuz); its hash is measured all the same"
    )


def _current_cpu() -> Optional[int]:
    """The CPU this thread runs on (field 39 of /proc/thread-self/stat), or None."""
    try:
        with open("/proc/thread-self/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def _sha256_file_elsewhere(path: PathLike, field: str, away_from: Optional[int]) -> bytes:
    """sha256_file on a worker thread that first moves off the CPU ``away_from`` (the caller's).

    Linux queued a new thread on its creator's CPU here until the balancer moved it, milliseconds
    later (csrc/launch_digest.c start_workers), so both hashes shared one CPU meanwhile. threading
    cannot set an affinity before the thread runs, so the thread excludes that CPU itself (and is
    migrated at once), then widens its affinity again."""
    if away_from is not None and hasattr(os, "sched_setaffinity"):
        try:
            allowed = os.sched_getaffinity(0)
            if away_from in allowed and len(allowed) > 1:
                os.sched_setaffinity(0, allowed - {away_from})
                os.sched_setaffinity(0, allowed)
        except OSError:
            pass  # placement is only a speed hint
    return sha256_file(path, field)


def parse_sha256_hex(field: str, text: str) -> bytes:
    """A SHA-256 given as 64 hex digits."""
    from ._checks import hex_bytes

    return hex_bytes(field, text, 32, "a SHA-256")


def cmdline_bytes(append: Optional[str]) -> bytes:
    """The command line as QEMU hashes it: its bytes with a NUL (no ``-append``: a lone NUL).

    A str is encoded as the OS encodes arguments (``os.fsencode``: UTF-8, with undecodable
    argument bytes restored by surrogateescape), so a non-UTF-8 ``--append`` hashes the bytes
    QEMU would receive."""
    return os.fsencode(append or "") + b"\x00"


class KernelHashes(NamedTuple):
    """SHA-256 of the kernel, initrd and command line, as they enter the SEV hashes table."""

    kernel: bytes
    initrd: bytes
    cmdline: bytes

    @classmethod
    def from_inputs(
        cls,
        *,
        kernel: Optional[PathLike] = None,
        initrd: Optional[PathLike] = None,
        append: Optional[str] = None,
        kernel_hash: Optional[str] = None,
        initrd_hash: Optional[str] = None,
        append_hash: Optional[str] = None,
    ) -> Optional[KernelHashes]:
        """Hash the boot artefacts (files or given SHA-256s); None when there is no kernel."""
        if kernel is not None and kernel_hash is not None:
            raise InvalidInputError("kernel_hash", "give either kernel or kernel_hash, not both")
        if initrd is not None and initrd_hash is not None:
            raise InvalidInputError("initrd_hash", "give either initrd or initrd_hash, not both")
        if append is not None and append_hash is not None:
            raise InvalidInputError("append_hash", "give either append or append_hash, not both")
        has_kernel = kernel is not None or kernel_hash is not None
        if not has_kernel:
            for name, value in (
                ("initrd", initrd),
                ("initrd_hash", initrd_hash),
                ("append", append),
                ("append_hash", append_hash),
            ):
                if value is not None:
                    raise InvalidInputError(
                        name, "needs a kernel (kernel or kernel_hash): QEMU refuses -initrd and -append without -kernel"
                    )
            return None
        from ._files import check_loadable

        # before any read: a pipe read here is gone (the hash then opens each file itself)
        if kernel is not None:
            check_loadable("kernel", kernel, why=_KERNEL_FILE)
        if initrd is not None:
            check_loadable("initrd", initrd, pipe=True, why=_INITRD_FILE)
        import hashlib  # deferred, with the thread pool: only runs with a kernel pay for loading them
        from concurrent.futures import ThreadPoolExecutor

        if kernel is not None and initrd is not None:
            # Both files: the initrd here, the kernel on a thread on another CPU. A kernel error
            # is reported first, as when the files are hashed one after the other.
            with ThreadPoolExecutor(max_workers=1) as pool:
                kfut = pool.submit(_sha256_file_elsewhere, kernel, "kernel", _current_cpu())
                try:
                    i = _sha256_initrd(initrd)
                except Exception:
                    kfut.result()  # a kernel error first; Ctrl-C and the like pass straight on
                    raise
                k = kfut.result()
        else:
            k = (
                sha256_file(kernel, "kernel")
                if kernel is not None
                else parse_sha256_hex("kernel_hash", kernel_hash or "")
            )
            if initrd is not None:
                i = _sha256_initrd(initrd)
            elif initrd_hash is not None:
                i = parse_sha256_hex("initrd_hash", initrd_hash)
            else:
                i = hashlib.sha256(b"").digest()
        c = (
            parse_sha256_hex("append_hash", append_hash)
            if append_hash is not None
            else hashlib.sha256(cmdline_bytes(append)).digest()
        )
        return cls(kernel=k, initrd=i, cmdline=c)

    def table(self) -> bytes:
        """The 0xB0-byte padded SEV hashes table."""

        def entry(guid: bytes, digest: bytes) -> bytes:
            return guid + struct.pack("<H", ENTRY_SIZE) + digest

        raw = (
            TABLE_GUID
            + struct.pack("<H", TABLE_SIZE)
            + entry(CMDLINE_GUID, self.cmdline)
            + entry(INITRD_GUID, self.initrd)
            + entry(KERNEL_GUID, self.kernel)
        )
        return raw + bytes(PADDED_SIZE - len(raw))

    def section(self, offset: int, size: int) -> bytes:
        """The kernel-hashes section as SNP measures it: zeros with the table at ``offset``."""
        if offset + PADDED_SIZE > size:
            raise InvalidInputError(
                "kernel_hashes", f"table at offset {offset:#x} does not fit in a {size:#x}-byte section"
            )
        return bytes(offset) + self.table() + bytes(size - offset - PADDED_SIZE)
