"""Argument helpers the commands share: JSON in and out, numbers, lists, warnings, progress, and
the ``sev-snp-guest`` object given whole (``--object``, ``--qmp``, ``--libvirt``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, Iterator, List, Optional, Tuple

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


def write_output(flag: str, path: str, data: bytes) -> None:
    """Write a file a flag names (``-o``, ``--output``, ``--dump-vmsa``'s vmsa<N>.bin); a failure
    (a directory in the way, a full disk, no permission) is an InvalidInputError naming the flag
    and the file, not the OS's bare message."""
    from ..errors import InvalidInputError

    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as exc:
        raise InvalidInputError(flag, f"{path}: {exc.strerror or exc}") from None


def auto_int(text: str) -> int:
    """An int in any base Python accepts with a prefix (0x.., 0o.., 0b..) or decimal."""
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {show(text)}") from None
    return value


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
    return items


def comma_numbers(flag: str, text: str) -> List[int]:
    """A comma list of numbers in Python's syntax (``0x1,0x21``, ``3``)."""
    from ..errors import InvalidInputError

    out = []
    for item in comma_list(flag, text):
        try:
            out.append(int(item, 0))
        except ValueError:
            raise InvalidInputError(flag, f"must be numbers such as 0x1,0x21, got {show(item)}") from None
    return out


def parse_abi(text: str) -> Tuple[int, int]:
    """``--firmware-abi MAJOR.MINOR`` as the ABI version's two bytes."""
    import re

    from ..errors import InvalidInputError

    m = re.fullmatch(r"(\d{1,3})\.(\d{1,3})", text.strip())
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
    if args.object is not None:
        return SevSnpGuest.from_cli(args.object)
    if args.qmp is not None:
        return SevSnpGuest.from_qmp(load_json_file(args.qmp, "--qmp"))
    if args.libvirt is not None:
        from .._files import open_input

        with open_input("--libvirt", args.libvirt) as f:
            raw = f.read(1 << 20)  # a <launchSecurity> element is a few KiB
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
    from .._files import open_input

    with open_input(flag, key_path) as f:
        head = f.read(4096)
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
