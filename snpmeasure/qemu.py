"""QEMU's ``sev-snp-guest`` object: ``-object`` option strings, QMP ``object-add``, libvirt XML.

Properties and rules are upstream QEMU's (target/i386/sev.c, qapi/qom.json SevSnpGuestProperties;
docs/reference/firmware-abi.md §5.1): base64 blobs with exact lengths (id-block 96, host-data 32,
guest-visible-workarounds 16, id-auth at most 4096), ``policy`` a uint64 defaulting to 0x30000.
The pre-merge RFC spellings ``auth-key-enabled`` and ``init-flags`` (only 0), which the 2021 RFC
series' QEMU took and upstream QEMU 9.1+ refuses, are read with a warning and recorded
(:attr:`SevSnpGuest.rfc_spellings`): ``snpmeasure launch`` fails such an object, as upstream QEMU
would, unless ``--accept-rfc-spellings``; every form snpmeasure writes uses upstream's names.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .blobs import IdAuth, IdBlock, check_qemu_length, decode_b64
from .errors import QemuObjectError, show
from .policy import DEFAULT_POLICY

QOM_TYPE = "sev-snp-guest"
BOOL_PROPS = ("author-key-enabled", "vcek-disabled", "kernel-hashes", "debug-swap", "secure-tsc")
INT_PROPS = {
    "policy": (1 << 64) - 1,
    "cbitpos": 0xFFFFFFFF,
    "reduced-phys-bits": 0xFFFFFFFF,
    "tsc-frequency": 0xFFFFFFFF,
}
B64_PROPS = ("guest-visible-workarounds", "id-block", "id-auth", "host-data")
STR_PROPS = ("id", "sev-device")
ORDER = (
    "id",
    "policy",
    "guest-visible-workarounds",
    "id-block",
    "id-auth",
    "author-key-enabled",
    "host-data",
    "vcek-disabled",
    "kernel-hashes",
    "cbitpos",
    "reduced-phys-bits",
    "sev-device",
    "debug-swap",
    "secure-tsc",
    "tsc-frequency",
)
#: QEMU >= 10.2: properties that add SEV_FEATURES bits to every VMSA (docs/reference/firmware-abi.md §7.3).
FEATURE_BITS = {"debug-swap": 1 << 5, "secure-tsc": 1 << 9}
RFC_ALIASES = {"auth-key-enabled": "author-key-enabled"}
#: The host-dependent properties every launch needs, with their values on the SNP hosts
#: (CPUID 0x8000001F EBX[5:0] and EBX[11:6]; docs/reference/firmware-abi.md §5.1). libvirt reads
#: them from the host when its XML leaves them out; QEMU has no usable default for either.
HOST_VALUES = {"cbitpos": 51, "reduced-phys-bits": 1}
HOST_VALUES_TEXT = {
    "cbitpos": "51 on EPYC Milan, Genoa and Turin",
    "reduced-phys-bits": "1 on EPYC Milan, Genoa and Turin",
}
_TRUE = ("on", "yes", "true", "y")
_FALSE = ("off", "no", "false", "n")


def parse_qemu_uint(prop: str, text: str, top: int) -> int:
    """An unsigned integer as QEMU's qemu_strtou64 (base 0) reads it: decimal, 0x hex, 0 octal;
    a leading minus wraps modulo 2**64, as strtoull does."""
    m = re.fullmatch(r"(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if not m:
        raise QemuObjectError(prop, f"Parameter '{prop}' expects integer")
    digits = m.group(2)
    if len(digits.lstrip("0xX").lstrip("0")) > 22:  # 2**64 has 20 decimal, 16 hex, 22 octal digits
        raise QemuObjectError(prop, f"Parameter '{prop}' expects integer")
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) if digits.startswith("0") else int(digits)
    if value >= 1 << 64:
        raise QemuObjectError(prop, f"Parameter '{prop}' expects integer")
    if m.group(1):
        value = (-value) % (1 << 64)
    if value > top:
        raise QemuObjectError(prop, f"Parameter '{prop}' expects uint{32 if top == 0xFFFFFFFF else 64}_t")
    return value


def _parse_decimal(prop: str, text: str, top: int) -> int:
    """A decimal unsigned integer (libvirt's virXPathUInt)."""
    if not re.fullmatch(r"[0-9]+", text) or len(text.lstrip("0")) > 20 or int(text) > top:
        raise QemuObjectError(prop, f"must be a decimal integer from 0 to {top}, got {show(text)}")
    return int(text)


def _parse_bool(prop: str, text: str) -> bool:
    """QEMU's qapi_bool_parse: on/yes/true/y or off/no/false/n, case-sensitive."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise QemuObjectError(prop, f"Parameter '{prop}' expects 'on' or 'off'")


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
    debug_swap: bool = False
    secure_tsc: bool = False
    tsc_frequency: Optional[int] = None
    given: List[str] = field(default_factory=list, compare=False, repr=False)  # property order as written
    #: The pre-merge spellings the object was written with (``init-flags``, ``auth-key-enabled``):
    #: the 2021 RFC series' QEMU took them; upstream QEMU (9.1 and later) refuses both.
    rfc_spellings: List[str] = field(default_factory=list, compare=False, repr=False)

    def upstream_refusal(self) -> Optional[str]:
        """What upstream QEMU says of this object's pre-merge spellings (None when it has none)."""
        if not self.rfc_spellings:
            return None
        name = self.rfc_spellings[0]
        fix = (
            f"upstream spells it '{RFC_ALIASES[name]}'"
            if name in RFC_ALIASES
            else "upstream has no such property (debug-swap/secure-tsc set SEV_FEATURES on QEMU >= 10.2)"
        )
        return (
            f"Property '{QOM_TYPE}.{name}' not found: upstream QEMU (9.1 and later) refuses '{name}', "
            f"the 2021 RFC series' spelling; {fix}"
        )

    # ---- validation (QEMU's setters) -----------------------------------------------------------
    def validate(self, *, require_mandatory: bool = False) -> None:
        """Apply QEMU's property rules; raise :class:`QemuObjectError` with QEMU's message.

        ``require_mandatory``: also require what QAPI marks mandatory (``reduced-phys-bits``), as
        ``-object`` and QMP ``object-add`` do.
        """
        if require_mandatory and self.reduced_phys_bits is None:
            raise QemuObjectError(
                "reduced-phys-bits",
                f"Parameter 'reduced-phys-bits' is missing: QEMU requires it ({HOST_VALUES_TEXT['reduced-phys-bits']})",
            )
        # Types first: fields can be set directly, and QEMU's setters would never see another type.
        if not isinstance(self.id, str):
            raise QemuObjectError("id", f"Parameter 'id' expects a string, got {type(self.id).__name__}")
        if isinstance(self.policy, bool) or not isinstance(self.policy, int) or not 0 <= self.policy < 1 << 64:
            raise QemuObjectError("policy", f"Parameter 'policy' expects a uint64_t, got {show(self.policy)}")
        for prop in BOOL_PROPS:
            if not isinstance(getattr(self, prop.replace("-", "_")), bool):
                raise QemuObjectError(prop, f"Parameter '{prop}' expects a boolean")
        for prop in (*B64_PROPS, *STR_PROPS):
            value = getattr(self, prop.replace("-", "_"))
            if value is not None and not isinstance(value, str):
                raise QemuObjectError(prop, f"Parameter '{prop}' expects a string, got {type(value).__name__}")
        if self.tsc_frequency is not None and not self.secure_tsc:
            raise QemuObjectError("tsc-frequency", "only applies with secure-tsc=on")
        if not self.id or not re.fullmatch(r"[A-Za-z][A-Za-z0-9._-]*", self.id):
            raise QemuObjectError("id", f"Parameter 'id' expects an identifier, got {show(self.id)}")
        if self.sev_device is not None and (not self.sev_device or not self.sev_device.isprintable()):
            # a path QEMU opens: no argument carries a NUL, and a line break does not survive -object text
            raise QemuObjectError("sev-device", f"must be the path of the SEV device, got {show(self.sev_device)}")
        for prop, top in INT_PROPS.items():
            value = getattr(self, prop.replace("-", "_"))
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top):
                raise QemuObjectError(prop, f"Parameter '{prop}' expects a value from 0 to {top}, got {show(value)}")
        if self.cbitpos is not None and not 0 <= self.cbitpos <= 63:
            # QEMU compares it with the host's CPUID 0x8000001F EBX[5:0] when the guest starts.
            raise QemuObjectError(
                "cbitpos", f"must fit CPUID 0x8000001F EBX[5:0], which QEMU compares it with: 0..63, got {self.cbitpos}"
            )
        if self.reduced_phys_bits is not None and not 1 <= self.reduced_phys_bits <= 63:
            raise QemuObjectError(
                "reduced-phys-bits",
                f"reduced_phys_bits check failed, it should be in the range of 1 to 63, requested '{self.reduced_phys_bits}'",
            )
        for prop in B64_PROPS:
            self.blob(prop)

    def blob(self, prop: str) -> Optional[bytes]:
        """The decoded bytes of a base64 property (QEMU length rules), or None if unset."""
        if prop not in B64_PROPS:
            raise QemuObjectError(str(prop), f"is not a base64 property ({', '.join(B64_PROPS)})")
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

    def finish_id_auth(self) -> Optional[bytes]:
        """The ID auth bytes KVM hands SNP_LAUNCH_FINISH: the ``id-auth`` only beside an
        ``id-block`` (sev.c snp_launch_finish reads id_auth, and AUTHOR_KEY_EN, only with
        id_block_en), else None. Not parsed: the firmware parses it after the LD and POLICY checks."""
        return self.blob("id-auth") if self.id_block is not None else None

    def host_data_bytes(self) -> bytes:
        """HOST_DATA (32 zero bytes when unset)."""
        return self.blob("host-data") or bytes(32)

    def sev_features(self, base: int = 0x1) -> int:
        """The VMSA SEV_FEATURES this object asks for: ``base`` (SNPActive) plus debug-swap/secure-tsc."""
        value = base
        for prop, bit in FEATURE_BITS.items():
            if getattr(self, prop.replace("-", "_")):
                value |= bit
        return value

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
    def from_properties(
        cls, props: List[Tuple[str, Any]], *, typed: bool = False, require_mandatory: bool = True
    ) -> SevSnpGuest:
        """Build from (name, value) pairs: strings (``-object`` syntax) or, with ``typed``, JSON values.

        A repeated key: the last value wins (QEMU keyval). ``id`` is required.
        """
        if not isinstance(props, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str) for p in props
        ):
            raise QemuObjectError("properties", "must be a list of (name, value) pairs with str names")
        obj = cls()
        if not any(name == "id" for name, _ in props):
            raise QemuObjectError("id", "Parameter 'id' is missing")
        for name, value in props:
            if name in (*RFC_ALIASES, "init-flags") and name not in obj.rfc_spellings:
                obj.rfc_spellings.append(name)
            if name in RFC_ALIASES:
                warnings.warn(
                    f"'{name}' is the pre-merge spelling; upstream QEMU calls it '{RFC_ALIASES[name]}'", stacklevel=3
                )
                name = RFC_ALIASES[name]
            if name == "init-flags":
                flags = value if typed and isinstance(value, int) else parse_qemu_uint(name, str(value), (1 << 64) - 1)
                if flags != 0:
                    raise QemuObjectError(
                        "init-flags",
                        "was removed from upstream QEMU; only 0 can be accepted (use debug-swap/secure-tsc on QEMU >= 10.2)",
                    )
                warnings.warn("'init-flags' is a pre-merge property; upstream QEMU has none, ignored", stacklevel=3)
                continue
            attr = name.replace("-", "_")
            if name in BOOL_PROPS:
                if typed and not isinstance(value, bool):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a boolean")
                setattr(obj, attr, value if typed else _parse_bool(name, str(value)))
            elif name in INT_PROPS:
                if typed and (isinstance(value, bool) or not isinstance(value, int)):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a number")
                setattr(obj, attr, value if typed else parse_qemu_uint(name, str(value), INT_PROPS[name]))
            elif name in B64_PROPS or name in STR_PROPS:
                if not isinstance(value, str):
                    raise QemuObjectError(name, f"Parameter '{name}' expects a string")
                setattr(obj, attr, value)
            else:
                raise QemuObjectError(name, f"Property '{QOM_TYPE}.{name}' not found")
            if name not in obj.given:
                obj.given.append(name)
        obj.validate(require_mandatory=require_mandatory)
        return obj

    # ---- -object option string --------------------------------------------------------------------
    @classmethod
    def from_cli(cls, text: str, *, require_mandatory: bool = True) -> SevSnpGuest:
        """Parse ``[-object ]sev-snp-guest,id=sev0,policy=0x30000,...`` (``,,`` escapes a comma), or the
        JSON form ``{"qom-type": "sev-snp-guest", ...}``."""
        if not isinstance(text, str):
            raise QemuObjectError("object", f"must be the -object string, got {type(text).__name__}")
        s = text.strip()
        if s.startswith("-object"):
            s = s[len("-object") :].strip()
        if s.startswith("{"):  # -object's JSON form, as libvirt writes it: typed values, as QMP's
            from ._jsonfile import parse_json

            doc = parse_json(s, "object", QemuObjectError)  # text in braces: an object, or no JSON
            return cls._from_json_object(doc, "qom-type", require_mandatory)
        parts = split_qemu_opts(s)
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
            raise QemuObjectError("qom-type", f"must be '{QOM_TYPE}', got {show(qom_type)}")
        props: List[Tuple[str, Any]] = []
        for p in parts:
            if "=" not in p:
                raise QemuObjectError(p, f"Expected '=' after parameter '{p}'")
            k, v = p.split("=", 1)
            props.append((k, v))
        return cls.from_properties(props, require_mandatory=require_mandatory)

    def require_host_values(self) -> None:
        """Refuse an object without ``cbitpos`` or ``reduced-phys-bits``: QEMU refuses the first
        missing at launch (``cbitpos check failed``) and the second when it parses the object."""
        self.validate()
        if self.reduced_phys_bits is None:
            self.validate(require_mandatory=True)  # raises QEMU's message
        if self.cbitpos is None:
            raise QemuObjectError(
                "cbitpos",
                "is missing: QEMU has no usable default and compares it with the host's CPUID 0x8000001F "
                f"EBX[5:0] ({HOST_VALUES_TEXT['cbitpos']})",
            )

    def to_cli(self) -> str:
        """The ``-object`` argument (without ``-object``); values with commas are escaped as ``,,``.
        ``cbitpos`` and ``reduced-phys-bits`` must be set (:meth:`require_host_values`)."""
        self.require_host_values()
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
        """The QMP ``object-add`` command (``cbitpos`` and ``reduced-phys-bits`` must be set)."""
        self.require_host_values()
        args: Dict[str, Any] = {"qom-type": QOM_TYPE}
        for name, value in self.properties():
            args[name] = value
        return {"execute": "object-add", "arguments": args}

    @classmethod
    def from_qmp(cls, doc: Any, *, require_mandatory: bool = True) -> SevSnpGuest:
        """Parse a QMP ``object-add`` command (or just its ``arguments``). ``require_mandatory``
        (as :meth:`from_properties`): False reads an object a caller completes (``reduced-phys-bits``)."""
        if isinstance(doc, str):
            from ._jsonfile import parse_json

            doc = parse_json(doc, "qmp", QemuObjectError)
        if not isinstance(doc, dict):
            raise QemuObjectError("qmp", "must be a JSON object")
        if "execute" in doc:
            if doc["execute"] != "object-add":
                raise QemuObjectError("qmp.execute", f"must be 'object-add', got {doc['execute']!r}")
            doc = doc.get("arguments")
            if not isinstance(doc, dict):
                raise QemuObjectError("qmp.arguments", "must be a JSON object")
        return cls._from_json_object(doc, "qmp.qom-type", require_mandatory)

    @classmethod
    def _from_json_object(cls, doc: Dict[str, Any], type_field: str, require_mandatory: bool) -> SevSnpGuest:
        """An object's JSON form (``-object {...}``, QMP's object-add arguments): typed values."""
        if doc.get("qom-type") != QOM_TYPE:
            raise QemuObjectError(type_field, f"must be '{QOM_TYPE}', got {show(doc.get('qom-type'))}")
        return cls.from_properties(
            [(k, v) for k, v in doc.items() if k != "qom-type"], typed=True, require_mandatory=require_mandatory
        )

    # ---- libvirt -----------------------------------------------------------------------------------
    def to_libvirt(self) -> str:
        """libvirt's ``<launchSecurity type='sev-snp'>`` element (libvirt fills a missing
        ``cbitpos`` or ``reducedPhysBits`` from the host)."""
        self.validate()
        root = ET.Element("launchSecurity", {"type": "sev-snp"})
        # libvirt's own formatter order: kernelHashes, authorKey, vcek.
        if self.kernel_hashes:
            root.set("kernelHashes", "yes")
        if self.author_key_enabled:
            root.set("authorKey", "yes")
        if self.vcek_disabled:
            root.set("vcek", "no")
        if self.debug_swap or self.secure_tsc or self.tsc_frequency is not None or self.sev_device is not None:
            raise QemuObjectError(
                "libvirt",
                "libvirt's <launchSecurity> has no form for debug-swap, secure-tsc, tsc-frequency or sev-device",
            )
        for tag, number in (("cbitpos", self.cbitpos), ("reducedPhysBits", self.reduced_phys_bits)):
            if number is not None:
                ET.SubElement(root, tag).text = str(number)
        ET.SubElement(root, "policy").text = f"0x{self.policy:08x}"
        for tag, value in (
            ("guestVisibleWorkarounds", self.guest_visible_workarounds),
            ("idBlock", self.id_block),
            ("idAuth", self.id_auth),
            ("hostData", self.host_data),
        ):
            if value == "":
                raise QemuObjectError(
                    "libvirt", f"{tag} is empty, which libvirt cannot write: it reads an empty element as none"
                )
            if value is not None:
                ET.SubElement(root, tag).text = value
        ET.indent(root)
        return ET.tostring(root, encoding="unicode")

    @classmethod
    def from_libvirt(cls, text: str, *, id: str = "sev0") -> SevSnpGuest:
        """Parse a ``<launchSecurity type='sev-snp'>`` element (alone or inside a ``<domain>``).

        Documents with a DOCTYPE or entity declarations are refused: no entity expansion, no
        external entities.
        """
        if not isinstance(text, str):
            raise QemuObjectError("libvirt", f"must be XML text (str), got {type(text).__name__}")
        if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
            raise QemuObjectError("libvirt", "XML with a DOCTYPE or entity declarations is refused")
        try:
            root = ET.fromstring(text)
        except UnicodeEncodeError:
            raise QemuObjectError("libvirt", "is not text: it holds undecodable bytes") from None
        except ET.ParseError as exc:
            raise QemuObjectError("libvirt", f"is not well-formed XML ({exc})") from None
        if root.tag != "launchSecurity":
            # Only the domain's own child counts (as libvirt reads it), never one nested elsewhere.
            found = root.findall("launchSecurity") if root.tag == "domain" else []
            if len(found) != 1:
                raise QemuObjectError(
                    "libvirt", f"needs exactly one <launchSecurity> directly in <domain>, found {len(found)}"
                )
            root = found[0]
        return cls.from_libvirt_element(root, id=id)

    @classmethod
    def from_libvirt_element(cls, root: ET.Element, *, id: str = "sev0") -> SevSnpGuest:
        """The object of a parsed ``<launchSecurity type='sev-snp'>`` element (``from_libvirt``
        after parsing; a whole domain's reader hands its element here)."""
        if root.get("type") != "sev-snp":
            raise QemuObjectError("libvirt.launchSecurity.type", f"must be 'sev-snp', got {root.get('type')!r}")
        props: List[Tuple[str, Any]] = [("id", id)]
        attr_map = {
            "authorKey": ("author-key-enabled", False),
            "vcek": ("vcek-disabled", True),
            "kernelHashes": ("kernel-hashes", False),
        }
        for attr, value in root.attrib.items():
            if attr == "type":
                continue
            if attr not in attr_map:
                raise QemuObjectError(f"libvirt.launchSecurity.{attr}", "unknown attribute")
            prop, invert = attr_map[attr]
            if value not in ("yes", "no"):
                raise QemuObjectError(f"libvirt.launchSecurity.{attr}", f"must be 'yes' or 'no', got {show(value)}")
            props.append((prop, (value == "yes") != invert))
        elem_map = {
            "cbitpos": "cbitpos",
            "reducedPhysBits": "reduced-phys-bits",
            "policy": "policy",
            "guestVisibleWorkarounds": "guest-visible-workarounds",
            "idBlock": "id-block",
            "idAuth": "id-auth",
            "hostData": "host-data",
        }
        seen_tags = set()
        for child in root:
            if child.tag not in elem_map:
                raise QemuObjectError(f"libvirt.launchSecurity.{child.tag}", "unknown element")
            if child.tag in seen_tags:
                raise QemuObjectError(f"libvirt.launchSecurity.{child.tag}", "appears twice")
            seen_tags.add(child.tag)
            prop = elem_map[child.tag]
            text_value = child.text or ""
            if not text_value:
                continue  # libvirt's virXPathString: an empty element is no value, and no property
            if prop in ("policy", *INT_PROPS):
                text_value = text_value.strip()  # read by strtoull/strtoul, which skip spaces
            if prop == "policy":
                # libvirt reads <policy> as hexadecimal, with or without 0x (virXPathULongLongBase 16).
                digits = text_value[2:] if text_value.lower().startswith("0x") else text_value
                if not re.fullmatch(r"[0-9a-fA-F]{1,16}", digits):
                    raise QemuObjectError(
                        "libvirt.launchSecurity.policy", f"must be a hexadecimal 64-bit value, got {show(text_value)}"
                    )
                props.append((prop, int(digits, 16)))
            elif prop in INT_PROPS:
                props.append((prop, _parse_decimal(f"libvirt.launchSecurity.{child.tag}", text_value, INT_PROPS[prop])))
            else:
                props.append((prop, text_value))
        if "policy" not in seen_tags:
            raise QemuObjectError(
                "libvirt.launchSecurity.policy", "is missing (libvirt: failed to get launch security policy)"
            )
        obj = cls.from_properties(props, typed=True, require_mandatory=False)
        obj.given = [p for p in obj.given if p != "id"]
        obj.given.insert(0, "id")
        return obj


def id_block_fields(doc: Any, field: str = "from_id_block") -> Dict[str, Any]:
    """The :class:`SevSnpGuest` fields that ``snpmeasure id-block --json`` output fixes, checked;
    errors name ``field``.

    Always ``id_block``, ``id_auth``, ``author_key_enabled`` and ``policy``. When the ID block's
    digest was computed by ``id-block --from-measure`` (the JSON's ``measure`` record), also what
    QEMU must do to reproduce that digest: ``kernel_hashes`` (the digest includes the SEV hashes
    table), ``debug_swap`` and ``secure_tsc`` (SEV_FEATURES bits 5 and 9). A measurement that no
    ``sev-snp-guest`` object can reproduce (another VMM's profile, SEV_FEATURES bits QEMU cannot
    set) is refused.
    """
    from .errors import InvalidInputError
    from .policy import GuestPolicy

    if not isinstance(doc, dict) or not isinstance(doc.get("id_block"), str) or not isinstance(doc.get("id_auth"), str):
        raise InvalidInputError(
            field, "must be the JSON of 'snpmeasure id-block --json' (id_block and id_auth strings)"
        )
    fields = doc.get("id_block_fields", {})
    enabled = doc.get("author_key_enabled", False)
    if (
        not isinstance(fields, dict)
        or not isinstance(fields.get("policy", "0x30000"), (str, int))
        or isinstance(fields.get("policy"), bool)
    ):
        raise InvalidInputError(field, "id_block_fields.policy must be a policy string or number")
    if not isinstance(enabled, bool):
        raise InvalidInputError(field, f"author_key_enabled must be true or false, got {show(enabled)}")
    from .blobs import IdAuth, IdBlock, parse_blob

    try:  # the signed ID block's POLICY is what LAUNCH_FINISH compares with the launch's
        block = IdBlock.from_bytes(parse_blob("id-block", doc["id_block"]))
        auth = IdAuth.from_bytes(parse_blob("id-auth", doc["id_auth"]))
    except InvalidInputError as exc:
        raise InvalidInputError(field, f"{exc.field}: {exc.rule}") from None
    policy = block.policy
    if "policy" in fields:
        try:
            stated = GuestPolicy.parse(fields["policy"]).to_int()
        except InvalidInputError as exc:
            raise InvalidInputError(field, f"id_block_fields.policy: {exc.rule}") from None
        if stated != policy:
            raise InvalidInputError(
                field,
                f"id_block_fields.policy {stated:#x} is not the signed ID block's POLICY {policy:#x}, which "
                "LAUNCH_FINISH compares with the launch policy",
            )
    if "author_key_enabled" not in doc:
        enabled = auth.author_key is not None
    elif enabled and auth.author_key is None:
        raise InvalidInputError(
            field, "author_key_enabled is true, but the id_auth has no author key (LAUNCH_FINISH: BAD_SIGNATURE)"
        )
    out: Dict[str, Any] = {
        "id_block": doc["id_block"],
        "id_auth": doc["id_auth"],
        "author_key_enabled": enabled,
        "policy": policy,
    }
    record = doc.get("measure")
    if record is not None:
        out.update(_reproduce(record, f"{field}: measure"))
    return out


def _reproduce(record: Any, where: str) -> Dict[str, bool]:
    """The object fields that make QEMU measure what a ``measure --json`` record describes."""
    from .errors import InvalidInputError
    from .profiles import BUILTIN_PROFILES

    if not isinstance(record, dict):
        raise InvalidInputError(where, "must be the record of 'snpmeasure measure --json' (an object) or null")
    mode, profile, hashes, features = (record.get(k) for k in ("mode", "profile", "kernel_hashes", "guest_features"))
    if mode not in ("snp", "snp:svsm"):
        raise InvalidInputError(f"{where}.mode", f"must be snp or snp:svsm (what an ID block binds), got {show(mode)}")
    if not isinstance(hashes, bool):
        raise InvalidInputError(f"{where}.kernel_hashes", f"must be true or false, got {show(hashes)}")
    if not isinstance(profile, str):
        raise InvalidInputError(f"{where}.profile", f"must be a profile name, got {show(profile)}")
    definition = record.get("profile_definition")
    vmm = definition.get("vmm") if isinstance(definition, dict) else getattr(BUILTIN_PROFILES.get(profile), "vmm", None)
    if vmm not in (None, "qemu"):
        raise InvalidInputError(
            f"{where}.profile",
            f"the digest was measured with profile {profile} (VMM {vmm}): no QEMU sev-snp-guest object reproduces it",
        )
    try:
        value = int(features, 16) if isinstance(features, str) else -1
    except ValueError:
        value = -1
    if not 0 <= value < 1 << 64:
        raise InvalidInputError(f"{where}.guest_features", f"must be a hex string such as 0x1, got {show(features)}")
    extra = value & ~(0x1 | sum(FEATURE_BITS.values()))
    if not value & 0x1 or extra:
        raise InvalidInputError(
            f"{where}.guest_features",
            f"{value:#x} cannot be asked of QEMU: its VMSAs carry SNPActive (0x1) plus, on QEMU >= 10.2, "
            "debug-swap (0x20) and secure-tsc (0x200)",
        )
    return {
        "kernel_hashes": hashes,
        "debug_swap": bool(value & FEATURE_BITS["debug-swap"]),
        "secure_tsc": bool(value & FEATURE_BITS["secure-tsc"]),
    }


def split_qemu_opts(text: str) -> List[str]:
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
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # keyval accepts one trailing comma
    if any(p == "" for p in parts):
        raise QemuObjectError("object", "has an empty option (two separators in a row)")
    return parts


__all__ = ["SevSnpGuest", "QOM_TYPE", "HOST_VALUES", "id_block_fields"]
