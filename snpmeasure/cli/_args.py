"""Argument helpers the commands share: JSON in and out, numbers, lists, warnings, progress, and
the ``sev-snp-guest`` object given whole (``--object``, ``--qmp``, ``--libvirt``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, Iterator, List, Optional, Sequence, Set, Tuple

from .._checks import ascii_int
from ..errors import show


def load_json_file(path: str, flag: str) -> Any:
    """A JSON document from a file; any failure is an InvalidInputError naming the flag."""
    from .._jsonfile import load_json_file as load

    return load(path, flag)


def emit_json(obj: Any) -> None:
    """Print a JSON document (sorted keys, two-space indent) to stdout."""
    import json

    print(json.dumps(obj, indent=2, sort_keys=True))


def kvm_check_failed(where: str, findings: List[Any], as_json: bool) -> bool:
    """igvmmeasure's --check-kvm findings: each as an error line, and with ``--json`` the verdict
    on stdout too (as ``igvm lint --json`` prints it), so a script reading stdout sees the failure;
    whether the check failed."""
    for finding in findings:
        sys.stderr.write(f"{where}: error: {finding.line()}\n")
    if findings and as_json:
        emit_json({"ok": False, "findings": [f.to_json() for f in findings]})
    return bool(findings)


#: The argparse destinations that name files a command reads: an output must not be one of them.
_INPUT_DESTS = (
    "file",
    "input",
    "ovmf",
    "kernel",
    "initrd",
    "igvm",
    "svsm",
    "vars_file",
    "firmware_manifest",
    "profile_file",
    "id_key",
    "author_key",
    "idkey",
    "authorkey",
    "sign_key",
    "tik",
    "libvirt",
    "libvirt_domain",
    "qemu_argv_file",
    "qmp",
    "from_id_block",
    "from_launch",
    "report",
    "vcek",
    "ask_ark",
    "certs",
    "crl",
    "config",
    "reference",
    "reference_key",
)


def write_output(flag: str, path: str, data: bytes, args: Optional[argparse.Namespace] = None) -> None:
    """Write a file a flag names (``--output``, ``--dump-vmsa``'s vmsa<N>.bin), as :func:`write_files`."""
    write_files(flag, [(path, data)], args)


def _fsync(fd: int) -> None:
    """fsync, where the file system has one: a file system without it (EINVAL, ENOTSUP, ENOSYS)
    has nothing to flush that a crash could lose; a failing disk (EIO, ENOSPC) fails the write."""
    import errno

    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise


def _sync_dirs(folders: Set[str]) -> None:
    """Commit the renames into ``folders`` to disk, where the file system can (best effort: the
    files are already in place, and some file systems refuse fsync on a directory)."""
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def write_files(
    flag: str,
    files: List[Tuple[str, bytes]],
    args: Optional[argparse.Namespace] = None,
    new_dir: Optional[str] = None,
) -> None:
    """Write every file or none, as far as the file system allows.

    Each path is checked first: not ``-``; no directory in the way, and no trailing ``/``, ``.`` or
    ``..``; the folder as given exists (``nodir/../x`` names no file); no file named twice; no file
    the command reads (its input flags in ``args``). A new file, or an existing regular file that a
    rename leaves the same to everyone (:func:`_replaceable`), is written to a temporary file beside
    it, synced to disk, and renamed into place when every such file is written, its mode (and, as
    root, owner) kept; the folders are synced after the renames.
    Everything else (a symlink, which the kernel follows with its protections: ``/dev/stdout``; a
    device or pipe; a hard-linked, read-only or another user's file) is opened first, all of them
    before anything is written, and written in place after the temporary files. On a failure the
    temporary files (and ``new_dir``, a directory made for them) are removed. Failures are
    InvalidInputErrors naming ``flag`` and the file, not the OS's bare message."""
    import stat
    import tempfile

    from .._files import read_error
    from ..errors import InvalidInputError

    if not files:
        return
    seen: List[Tuple[str, Optional[os.stat_result]]] = []
    for path, _ in files:
        if path == "-":
            raise InvalidInputError(flag, "writes files; give a path (- is no file here)")
        if os.path.basename(path) in ("", ".", ".."):
            raise InvalidInputError(flag, f"{path}: names no file (it ends in /, . or ..)")
        if os.path.isdir(path):
            raise InvalidInputError(flag, f"{path}: is a directory")
        folder = os.path.dirname(path) or "."
        try:
            name_max = os.pathconf(folder if os.path.isdir(folder) else ".", "PC_NAME_MAX")
        except (OSError, ValueError):
            name_max = 255
        if len(os.fsencode(os.path.basename(path))) > name_max:
            raise InvalidInputError(flag, f"{path}: the file name is longer than {name_max} bytes")
        try:
            st: Optional[os.stat_result] = os.stat(path)
        except OSError:
            st = None
        for other, other_st in seen:
            same = os.path.normpath(other) == os.path.normpath(path)
            if same or (st is not None and other_st is not None and os.path.samestat(st, other_st)):
                raise InvalidInputError(flag, f"{path}: is written twice (as {other})")
        seen.append((path, st))
        for dest in _INPUT_DESTS if args is not None and st is not None else ():
            given = getattr(args, dest, None)
            for source in given if isinstance(given, list) else [given]:
                source = getattr(source, "name", source)  # an input the command has opened (IgvmFile)
                if isinstance(source, str) and os.path.isfile(source) and os.path.samefile(source, path):
                    what = (
                        "the input file" if dest in ("file", "input") else f"the file --{dest.replace('_', '-')} reads"
                    )
                    raise InvalidInputError(flag, f"{path}: is {what}")
    temps: List[Tuple[str, str]] = []  # (temporary file, the path it replaces)
    in_place: List[Tuple[str, bytes, int]] = []  # (path, data, an open descriptor)
    current = new_dir or files[0][0]  # what a failure names: the user's path, never a temporary one
    made_dir = done = False
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        if new_dir is not None:
            os.mkdir(new_dir)  # the directory only: a missing parent is a mistyped path
            made_dir = True
        plans = []  # (path, data, its stat or None, replaced by a rename), decided once
        for path, data in files:
            current = path
            os.stat(os.path.dirname(path) or ".")  # the folder as given exists
            link = os.path.islink(path)
            st = None if link else _lstat(path)
            plans.append((path, data, st, not link and (st is None or _replaceable(path, st))))
        # what is written in place is opened first, all of it, so that a file we may not write stops
        # the command before anything is written (a FIFO waits for its reader here, as open() does)
        for path, data, _, renamed in plans:
            if not renamed:
                current = path
                in_place.append((path, data, os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)))
        for path, data, st, renamed in plans:
            if not renamed:
                continue
            current = path
            fd, temp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".snpmeasure-")
            temps.append((temp, path))
            with os.fdopen(fd, "wb") as f:
                if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)  # root only: _replaceable sent the rest in place
                f.write(data)
                f.flush()
                # on disk before the rename: a crash must leave the old file or the new one, never an
                # empty file under the old name (ext4 and XFS may commit the rename first)
                _fsync(f.fileno())
                # mkstemp makes 0600: the replaced file's mode, else what open() gives; set last, as a
                # chown or a write clears set-user-ID and set-group-ID bits
                os.fchmod(f.fileno(), 0o666 & ~umask if st is None else stat.S_IMODE(st.st_mode))
        for path, data, fd in in_place:
            current = path
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, 0)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        for temp, path in temps:
            current = path
            os.replace(temp, path)
        done = True
        _sync_dirs({os.path.dirname(path) or "." for _, path in temps})
    except OSError as exc:
        raise read_error(flag, current, exc) from None
    finally:
        for _, _, fd in in_place:
            try:
                os.close(fd)
            except OSError:
                pass
        if not done:
            for temp, _ in temps:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
            if made_dir and new_dir is not None:
                try:
                    os.rmdir(new_dir)
                except OSError:
                    pass


def _lstat(path: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


#: Linux's FS_IOC_GETFLAGS (_IOR('f', 1, long)) and the inode flags a rename cannot pass.
_FS_IOC_GETFLAGS, _FS_IMMUTABLE_FL, _FS_APPEND_FL = 0x80086601, 0x10, 0x20


def _replaceable(path: str, st: os.stat_result) -> bool:
    """Whether an existing file can be replaced by a rename and be the same file to everyone: a
    regular file with one link, in a folder we may write, that we may write (open() would refuse a
    read-only one), whose owner and group we can give the new one (ours, or any as root), with no
    extended attributes (ACLs, labels) a new file would lack, neither immutable nor append-only."""
    import fcntl
    import stat
    import struct

    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        return False
    if not os.access(os.path.dirname(path) or ".", os.W_OK | os.X_OK) or not os.access(path, os.W_OK):
        return False
    if os.geteuid() != 0 and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        return False
    try:
        if os.listxattr(path):
            return False
    except OSError:  # a file system without extended attributes
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        (flags,) = struct.unpack("l", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(struct.calcsize("l"))))
        return not flags & (_FS_IMMUTABLE_FL | _FS_APPEND_FL)
    except OSError:  # no inode flags here
        return True
    finally:
        os.close(fd)


def auto_int(text: str) -> int:
    """An int in any base Python accepts with a prefix (0x.., 0o.., 0b..) or decimal; ASCII only
    (Python's int() takes any script's digits, which no tool the number goes to reads)."""
    try:
        value = ascii_int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {show(text)}") from None
    return value


def dec_int(text: str) -> int:
    """A decimal int (argparse's ``type=int``, ASCII digits only)."""
    try:
        return ascii_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {show(text)}") from None


def warn(command: str, message: str) -> None:
    """One warning line on stderr."""
    sys.stderr.write(f"snpmeasure {command}: warning: {message}\n")


def b64_arg(field: str, text: str) -> bytes:
    import base64
    import binascii

    from ..errors import InvalidInputError

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(field, "is not valid base64") from None


def comma_list(flag: str, text: str) -> List[str]:
    """The items of a comma list; an empty item (``a,,b``, a trailing comma) is an error."""
    from ..errors import InvalidInputError

    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise InvalidInputError(flag, f"has an empty item in {show(text)}")
    _refuse_repeats(flag, items)
    return items


def _refuse_repeats(flag: str, items: Sequence[object]) -> None:
    """A list that names a value twice would give its rows twice: a typo, said as one."""
    from ..errors import InvalidInputError

    twice = next((x for i, x in enumerate(items) if x in items[:i]), None)
    if twice is not None:
        raise InvalidInputError(flag, f"names {twice if not isinstance(twice, int) else hex(twice)} twice")


def comma_numbers(flag: str, text: str) -> List[int]:
    """A comma list of numbers in Python's syntax (``0x1,0x21``, ``3``)."""
    from ..errors import InvalidInputError

    out = []
    for item in comma_list(flag, text):
        try:
            out.append(ascii_int(item, 0))
        except ValueError:
            raise InvalidInputError(flag, f"must be numbers such as 0x1,0x21, got {show(item)}") from None
    _refuse_repeats(flag, out)
    return out


def parse_abi(text: str) -> Tuple[int, int]:
    """``--firmware-abi MAJOR.MINOR`` as the ABI version's two bytes."""
    import re

    from ..errors import InvalidInputError

    m = re.fullmatch(r"([0-9]{1,3})\.([0-9]{1,3})", text.strip())
    if not m or int(m.group(1)) > 255 or int(m.group(2)) > 255:
        raise InvalidInputError(
            "--firmware-abi",
            f"must be MAJOR.MINOR with each part 0..255 (the ABI version's two bytes), e.g. 1.55, got {show(text)}",
        )
    return (int(m.group(1)), int(m.group(2)))


class ProgressBar:
    """A progress bar on stderr, shown only on a terminal and only after the first second."""

    def __init__(self, enabled: bool) -> None:
        import time

        self.enabled = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        import time

        if not self.enabled or (not self.shown and time.monotonic() - self.t0 < 1.0):
            return
        self.shown = True
        width = 40
        fill = width * done // max(total, 1)
        sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def add_object_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--object", metavar="STR", help="a sev-snp-guest -object string")
    p.add_argument("--qmp", metavar="FILE", help="a QMP object-add command (JSON)")
    p.add_argument("--libvirt", metavar="FILE", help="libvirt XML with <launchSecurity type='sev-snp'>")


def guest_object_from_args(args: argparse.Namespace) -> Any:
    """A SevSnpGuest from --object / --qmp / --libvirt, or None."""
    from ..errors import InvalidInputError
    from ..qemu import SevSnpGuest

    given = [x for x in (args.object, args.qmp, args.libvirt) if x is not None]
    if len(given) > 1:
        raise InvalidInputError("--object", "give one of --object, --qmp, --libvirt")
    # a host value the command takes completes the object (libvirt fills it from the host), so the
    # object may lack what QEMU requires of it
    complete = getattr(args, "reduced_phys_bits", None) is None
    if args.object is not None:
        return SevSnpGuest.from_cli(args.object, require_mandatory=complete)
    if args.qmp is not None:
        return SevSnpGuest.from_qmp(load_json_file(args.qmp, "--qmp"), require_mandatory=complete)
    if args.libvirt is not None:
        from .._files import read_input

        raw = read_input("--libvirt", args.libvirt, 1 << 20)  # a <launchSecurity> element is a few KiB
        try:
            return SevSnpGuest.from_libvirt(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInputError("--libvirt", "is not UTF-8 text") from None
    return None


def read_password(env_name: Optional[str], flag: str = "--key-password-env") -> Optional[bytes]:
    """The passphrase of encrypted keys from the variable ``flag`` names (its bytes)."""
    import os

    if env_name is None:
        return None
    from ..errors import InvalidInputError

    value = os.environb.get(os.fsencode(env_name)) if os.supports_bytes_environ else None
    if value is None:
        text = os.environ.get(env_name)
        if text is None:
            raise InvalidInputError(flag, f"environment variable {env_name} is not set")
        value = os.fsencode(text)  # the variable's bytes, whatever the locale
    return value


def password_for(flag: str, key_path: Optional[str], password: Optional[bytes]) -> Optional[bytes]:
    """--key-password-env applies to each key that is encrypted (so an encrypted ID key can go
    with a plain author key): a PEM key says so in its armour; a DER one by its first field, a
    SEQUENCE in PKCS#8's EncryptedPrivateKeyInfo (RFC 5958 §3) where a plain key (PKCS#8 or SEC1)
    has its version INTEGER."""
    if password is None or key_path is None:
        return None
    from .._files import read_input

    head = read_input(flag, key_path, 4096)
    if b"-----BEGIN" in head:
        return password if b"ENCRYPTED" in head else None
    at = 2 + (head[1] & 0x7F if len(head) > 1 and head[1] & 0x80 else 0)
    plain = head[:1] == b"\x30" and len(head) > at and head[at] == 0x02
    return None if plain else password


def key_passwords(args: argparse.Namespace) -> Tuple[Optional[bytes], Optional[bytes]]:
    """The passphrases of ``--id-key`` and ``--author-key`` for the signing call:
    ``--key-password-env`` applied to each key that is encrypted."""
    password = read_password(args.key_password_env)
    return (
        password_for("--id-key", args.id_key, password),
        password_for("--author-key", args.author_key, password),
    )


@contextlib.contextmanager
def key_files_named() -> Iterator[None]:
    """A key file that cannot be read is named by its flag (``--id-key``), not the argument."""
    from .._files import InputFileError

    try:
        yield
    except InputFileError as exc:
        raise InputFileError("--" + exc.field.replace("_", "-"), exc.rule, exc.errno, exc.filename) from None
