"""QEMU's ``sev-snp-guest`` object: ``-object`` option strings, QMP ``object-add``, libvirt XML.

Properties and rules are upstream QEMU's (target/i386/sev.c, qapi/qom.json SevSnpGuestProperties;
snp-abi.md §5.1): base64 blobs with exact lengths (id-block 96, host-data 32,
guest-visible-workarounds 16, id-auth at most 4096), ``policy`` a uint64 defaulting to 0x30000.
The pre-merge RFC spellings ``auth-key-enabled`` and ``init-flags`` (only 0) are accepted on input
with a warning.
"""

from __future__ import annotations

import json
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .blobs import IdAuth, IdBlock, check_qemu_length, decode_b64
from .errors import QemuObjectError
from .policy import DEFAULT_POLICY

QOM_TYPE = "sev-snp-guest"
BOOL_PROPS = ("author-key-enabled", "vcek-disabled", "kernel-hashes")
INT_PROPS = {"policy": (1 << 64) - 1, "cbitpos": 0xFFFFFFFF, "reduced-phys-bits": 0xFFFFFFFF}
B64_PROPS = ("guest-visible-workarounds", "id-block", "id-auth", "host-data")
STR_PROPS = ("id", "sev-device")
ORDER = ("id", "policy", "guest-visible-workarounds", "id-block", "id-auth", "author-key-enabled", "host-data",
         "vcek-disabled", "kernel-hashes", "cbitpos", "reduced-phys-bits", "sev-device")
RFC_ALIASES = {"auth-key-enabled": "author-key-enabled"}
_TRUE = ("on", "yes", "true", "y")
_FALSE = ("off", "no", "false", "n")


def _parse_uint(prop: str, text: str, top: int) -> int:
    t = text.strip()
    try:
        if re.fullmatch(r"0[0-7]+", t):
            value = int(t, 8)  # QEMU parses integers with base 0: a leading 0 means octal
        else:
            value = int(t, 0)
    except ValueError:
        raise QemuObjectError(prop, f"Parameter '{prop}' expects a number, got {text!r}") from None
    if not 0 <= value <= top:
        raise QemuObjectError(prop, f"Parameter '{prop}' expects a value from 0 to {top}, got {text!r}")
    return value


def _parse_bool(prop: str, text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise QemuObjectError(prop, f"Parameter '{prop}' expects 'on' or 'off', got {text!r}")


@dataclass
class SevSnpGuest:
    """A ``sev-snp-guest`` object. Base64 properties keep the string given (QEMU's getters do too)."""

    id: str = "sev0"
    policy: int = DEFAULT_POLICY
    guest_visible_workarounds: Optional[str] = None
    id_block: Optional[str] = None
    id_auth: Optional[str] = None
    author_key_enabled: bool = False
    host_data: Optional[str] = None
    vcek_disabled: bool = False
    kernel_hashes: bool = False
    cbitpos: Optional[int] = None
    reduced_phys_bits: Optional[int] = None
    sev_device: Optional[str] = None
    given: List[str] = field(default_factory=list, compare=False, repr=False)  # property order as written

    # ---- validation (QEMU's setters) -----------------------------------------------------------
    def validate(self) -> None:
        """Apply QEMU's property rules; raise :class:`QemuObjectError` with QEMU's message."""
        if not self.id or not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", self.id):
            raise QemuObjectError("id", f"Parameter 'id' expects an identifier, got {self.id!r}")
        for prop, top in INT_PROPS.items():
            value = getattr(self, prop.replace("-", "_"))
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
                raise QemuObjectError(prop, f"Parameter '{prop}' expects a value from 0 to {top}, got {value!r}")
        if self.reduced_phys_bits is not None and not 1 <= self.reduced_phys_bits <= 63:
            raise QemuObjectError(
                "reduced-phys-bits",
                f"reduced_phys_bits check failed, it should be in the range of 1 to 63, requested '{self.reduced_phys_bits}'",
            )
        for prop in B64_PROPS:
            self.blob(prop)

    def blob(self, prop: str) -> Optional[bytes]:
        """The decoded bytes of a base64 property (QEMU length rules), or None if unset."""
        text = getattr(self, prop.replace("-", "_"))
        if text is None:
            return None
        return check_qemu_length(prop, decode_b64(prop, text))

    # ---- typed accessors -----------------------------------------------------------------------
    def id_block_obj(self) -> Optional[IdBlock]:
        """The ID block, parsed."""
        raw = self.blob("id-block")
        return IdBlock.from_bytes(raw) if raw is not None else None

    def id_auth_obj(self) -> Optional[IdAuth]:
        """The ID auth structure, parsed strictly (it must be 4096 bytes: KVM always reads 4096)."""
        raw = self.blob("id-auth")
        return IdAuth.from_bytes(raw) if raw is not None else None

    def host_data_bytes(self) -> bytes:
        """HOST_DATA (32 zero bytes when unset)."""
        return self.blob("host-data") or bytes(32)

    def gosvw_bytes(self) -> bytes:
        """GOSVW (16 zero bytes when unset)."""
        return self.blob("guest-visible-workarounds") or bytes(16)

    # ---- property dict -------------------------------------------------------------------------
    def properties(self) -> List[Tuple[str, Any]]:
        """(QEMU property name, value) pairs that are set, in the order given (else QEMU's)."""
        names = [n for n in self.given if n in ORDER] + [n for n in ORDER if n not in self.given]
        out: List[Tuple[str, Any]] = []
        for name in names:
            value = getattr(self, name.replace("-", "_"))
            if value is None:
                continue
            if name in ("id", "policy") or value is not False or name in self.given:
                out.append((name, value))
        return out

    @classmethod
    def from_properties(cls, props: List[Tuple[str, Any]], *, typed: bool = False) -> "SevSnpGuest":
        """Build from (name, value) pairs: strings (``-object`` syntax) or, with ``typed``, JSON values."""
        obj = cls()
        seen = set()
        for name, value in props:
            if name in RFC_ALIASES:
                warnings.warn(f"'{name}' is the pre-merge spelling; upstream QEMU calls it '{RFC_ALIASES[name]}'", stacklevel=3)
                name = RFC_ALIASES[name]
            if name == "init-flags":
                flags = value if typed and isinstance(value, int) else _parse_uint(name, str(value), (1 << 64) - 1)
                if flags != 0:
                    raise QemuObjectError("init-flags", "was removed from upstream QEMU; only 0 can be accepted (use debug-swap/secure-tsc on QEMU >= 10.2)")
                warnings.warn("'init-flags' is a pre-merge property; upstream QEMU has none, ignored", stacklevel=3)
                continue
            if name in seen:
                raise QemuObjectError(name, f"Parameter '{name}' is given twice")
            seen.add(name)
            attr = name.replace("-", "_")
            if name in BOOL_PROPS:
                if typed and not isinstance(value, bool):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a boolean")
                setattr(obj, attr, value if typed else _parse_bool(name, str(value)))
            elif name in INT_PROPS:
                if typed and (isinstance(value, bool) or not isinstance(value, int)):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a number")
                setattr(obj, attr, value if typed else _parse_uint(name, str(value), INT_PROPS[name]))
            elif name in B64_PROPS or name in STR_PROPS:
                if not isinstance(value, str):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a string")
                setattr(obj, attr, value)
            else:
                raise QemuObjectError(name, f"Property '{QOM_TYPE}.{name}' not found")
            obj.given.append(name)
        obj.validate()
        return obj

    # ---- -object option string --------------------------------------------------------------------
    @classmethod
    def from_cli(cls, text: str) -> "SevSnpGuest":
        """Parse ``[-object ]sev-snp-guest,id=sev0,policy=0x30000,...`` (``,,`` escapes a comma)."""
        s = text.strip()
        if s.startswith("-object"):
            s = s[len("-object"):].strip()
        parts = _split_qemu_opts(s)
        if not parts:
            raise QemuObjectError("object", "is empty")
        first = parts[0]
        if "=" not in first:
            qom_type, parts = first, parts[1:]
        else:
            pairs = dict(p.split("=", 1) for p in parts if "=" in p)
            qom_type = pairs.get("qom-type", "")
            parts = [p for p in parts if not p.startswith("qom-type=")]
        if qom_type != QOM_TYPE:
            raise QemuObjectError("qom-type", f"must be '{QOM_TYPE}', got {qom_type!r}")
        props: List[Tuple[str, Any]] = []
        for p in parts:  # noqa: B007
            if "=" not in p:
                props.append((p, "on"))  # QEMU's bare key means key=on
            else:
                k, v = p.split("=", 1)
                props.append((k, v))
        return cls.from_properties(props)

    def to_cli(self) -> str:
        """The ``-object`` argument (without ``-object``); values with commas are escaped as ``,,``."""
        items = [QOM_TYPE]
        for name, value in self.properties():
            if isinstance(value, bool):
                text = "on" if value else "off"
            elif name == "policy":
                text = f"{value:#x}"
            else:
                text = str(value)
            items.append(f"{name}={text.replace(',', ',,')}")
        return ",".join(items)

    # ---- QMP -------------------------------------------------------------------------------------
    def to_qmp(self) -> Dict[str, Any]:
        """The QMP ``object-add`` command."""
        args: Dict[str, Any] = {"qom-type": QOM_TYPE}
        for name, value in self.properties():
            args[name] = value
        return {"execute": "object-add", "arguments": args}

    @classmethod
    def from_qmp(cls, doc: Any) -> "SevSnpGuest":
        """Parse a QMP ``object-add`` command (or just its ``arguments``)."""
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except json.JSONDecodeError as exc:
                raise QemuObjectError("qmp", f"is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(doc, dict):
            raise QemuObjectError("qmp", "must be a JSON object")
        if "execute" in doc:
            if doc["execute"] != "object-add":
                raise QemuObjectError("qmp.execute", f"must be 'object-add', got {doc['execute']!r}")
            doc = doc.get("arguments")
            if not isinstance(doc, dict):
                raise QemuObjectError("qmp.arguments", "must be a JSON object")
        if doc.get("qom-type") != QOM_TYPE:
            raise QemuObjectError("qmp.qom-type", f"must be '{QOM_TYPE}', got {doc.get('qom-type')!r}")
        return cls.from_properties([(k, v) for k, v in doc.items() if k != "qom-type"], typed=True)

    # ---- libvirt -----------------------------------------------------------------------------------
    def to_libvirt(self) -> str:
        """libvirt's ``<launchSecurity type='sev-snp'>`` element."""
        root = ET.Element("launchSecurity", {"type": "sev-snp"})
        if self.author_key_enabled:
            root.set("authorKey", "yes")
        if self.vcek_disabled:
            root.set("vcek", "no")
        if self.kernel_hashes:
            root.set("kernelHashes", "yes")
        for tag, number in (("cbitpos", self.cbitpos), ("reducedPhysBits", self.reduced_phys_bits)):
            if number is not None:
                ET.SubElement(root, tag).text = str(number)
        ET.SubElement(root, "policy").text = f"0x{self.policy:08x}"
        for tag, value in (("guestVisibleWorkarounds", self.guest_visible_workarounds), ("idBlock", self.id_block),
                           ("idAuth", self.id_auth), ("hostData", self.host_data)):
            if value is not None:
                ET.SubElement(root, tag).text = value
        ET.indent(root)
        return ET.tostring(root, encoding="unicode")

    @classmethod
    def from_libvirt(cls, text: str, *, id: str = "sev0") -> "SevSnpGuest":
        """Parse a ``<launchSecurity type='sev-snp'>`` element (alone or inside a ``<domain>``).

        Documents with a DOCTYPE or entity declarations are refused: no entity expansion, no
        external entities.
        """
        if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
            raise QemuObjectError("libvirt", "XML with a DOCTYPE or entity declarations is refused")
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise QemuObjectError("libvirt", f"is not well-formed XML ({exc})") from None
        if root.tag != "launchSecurity":
            found = root.find(".//launchSecurity")
            if found is None:
                raise QemuObjectError("libvirt", "has no <launchSecurity> element")
            root = found
        if root.get("type") != "sev-snp":
            raise QemuObjectError("libvirt.launchSecurity.type", f"must be 'sev-snp', got {root.get('type')!r}")
        props: List[Tuple[str, Any]] = [("id", id)]
        attr_map = {"authorKey": ("author-key-enabled", False), "vcek": ("vcek-disabled", True), "kernelHashes": ("kernel-hashes", False)}
        for attr, value in root.attrib.items():
            if attr == "type":
                continue
            if attr not in attr_map:
                raise QemuObjectError(f"libvirt.launchSecurity.{attr}", "unknown attribute")
            prop, invert = attr_map[attr]
            if value not in ("yes", "no"):
                raise QemuObjectError(f"libvirt.launchSecurity.{attr}", f"must be 'yes' or 'no', got {value!r}")
            props.append((prop, (value == "yes") != invert))
        elem_map = {"cbitpos": "cbitpos", "reducedPhysBits": "reduced-phys-bits", "policy": "policy",
                    "guestVisibleWorkarounds": "guest-visible-workarounds", "idBlock": "id-block", "idAuth": "id-auth",
                    "hostData": "host-data"}
        for child in root:
            if child.tag not in elem_map:
                raise QemuObjectError(f"libvirt.launchSecurity.{child.tag}", "unknown element")
            prop = elem_map[child.tag]
            text_value = (child.text or "").strip()
            if prop in INT_PROPS:
                props.append((prop, _parse_uint(prop, text_value, INT_PROPS[prop])))
            else:
                props.append((prop, text_value))
        obj = cls.from_properties(props, typed=True)
        obj.given = [p for p in obj.given if p != "id"]
        obj.given.insert(0, "id")
        return obj


def _split_qemu_opts(text: str) -> List[str]:
    """Split QEMU option syntax on single commas; ``,,`` is a literal comma."""
    parts: List[str] = []
    cur: List[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == ",":
            if i + 1 < len(text) and text[i + 1] == ",":
                cur.append(",")
                i += 2
                continue
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    if any(p == "" for p in parts):
        raise QemuObjectError("object", "has an empty option (two separators in a row, or a trailing comma)")
    return parts


__all__ = ["SevSnpGuest", "QOM_TYPE"]
