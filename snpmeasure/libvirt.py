"""A libvirt domain (``virsh dumpxml``) as the launch it describes: vCPUs, CPU model, firmware,
kernel, initrd, command line and ``<launchSecurity type='sev-snp'>``.

The elements read are libvirt's domain format (https://libvirt.org/formatdomain.html): ``<vcpu
current='N'>`` (the vCPUs the guest starts with), ``<cpu mode='custom'><model>`` (the QEMU CPU model
whose signature QEMU puts into every VMSA), ``<os><loader>`` (``type='rom'`` or ``'pflash'``), and
``<kernel>``, ``<initrd>``, ``<cmdline>``. A host-passthrough or host-model CPU takes the host's
signature, which the XML does not say: the caller must give it. Documents with a DOCTYPE or entity
declarations are refused, and a document is read up to 1 MiB.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ._cpus import MAX_VCPUS
from .errors import ConfigError, InvalidInputError, show
from .qemu import SevSnpGuest

#: A domain XML is a few KiB; anything larger is refused unread.
MAX_DOMAIN_BYTES = 1 << 20


#: Why a configuration without SEV-SNP is refused (the domain's and the command line's words).
NO_SNP = "starts the guest without SEV-SNP, which has no launch measurement"
#: Why SNP firmware in pflash is refused: Linux 6.9+ gives SEV-SNP VMs no read-only memslots,
#: which QEMU maps pflash with (pc_system_firmware_init exits, in QEMU's words per release).
NO_PFLASH = (
    "an SEV-SNP guest cannot boot from pflash: KVM gives SNP guests no read-only memory, which pflash needs, "
    "and QEMU stops"
)


class LibvirtDomain(NamedTuple):
    """What a domain XML fixes of an SNP launch (None: the XML leaves it open)."""

    name: Optional[str]
    #: the vCPUs the guest starts with: ``<vcpu current='N'>``, else the element's count
    vcpus: Optional[int]
    #: ``<cpu>``'s mode: custom, host-passthrough, host-model, maximum (None without ``<cpu>``)
    cpu_mode: Optional[str]
    #: the custom CPU model (a QEMU model name), None for the host's CPU or no ``<cpu>``
    vcpu_type: Optional[str]
    #: ``<os><loader>``: the firmware image's path (None when libvirt chooses it: give --ovmf), and
    #: its ``type`` attribute as written (rom or pflash; None when libvirt decides)
    loader: Optional[str]
    loader_type: Optional[str]
    kernel: Optional[str]
    initrd: Optional[str]
    cmdline: Optional[str]
    #: ``<launchSecurity type='sev-snp'>`` as QEMU's object (None without one)
    guest: Optional[SevSnpGuest]
    #: ``<os firmware=...>``: "efi" lets libvirt choose the firmware (give --ovmf); None without it
    firmware: Optional[str] = None

    @property
    def describe(self) -> str:
        return "the domain"

    def source(self, key: str) -> str:
        """The element a value of :meth:`measure_kwargs` came from ("<vcpu>")."""
        return {
            "vcpus": "<vcpu>",
            "vcpu_type": "<cpu><model>",
            "ovmf": "<os><loader>",
            "kernel": "<os><kernel>",
            "initrd": "<os><initrd>",
            "append": "<os><cmdline>",
            "guest_features": "<launchSecurity>",
        }.get(key, key)

    def measure_kwargs(self) -> Dict[str, Any]:
        """The :func:`snpmeasure.measure` arguments the domain fixes (the open ones left out).
        QEMU measures the kernel, initrd and command line only with ``kernel-hashes=on``
        (libvirt ``kernelHashes='yes'``); the SEV features are the object's. A domain without
        ``<launchSecurity type='sev-snp'>`` starts no SEV-SNP guest: ConfigError."""
        if self.guest is None:
            raise ConfigError("<launchSecurity>", f"is missing: libvirt {NO_SNP}")
        if self.loader_type == "pflash":
            raise ConfigError(
                "<loader type='pflash'>", f"{NO_PFLASH}; give <loader type='rom'>, which libvirt passes as -bios"
            )
        if self.loader is None and self.firmware != "efi":
            # no firmware option reaches QEMU then (qemuBuildDomainLoaderCommandLine), which loads
            # its default BIOS; <os firmware='efi'> has libvirt choose an OVMF build (give --ovmf)
            raise ConfigError(
                "<os>",
                "has neither a <loader> path nor firmware='efi': QEMU then loads its default BIOS, SeaBIOS, "
                "which boots no SEV-SNP guest",
            )
        out: Dict[str, Any] = {"mode": "snp"}
        for key, value in (("vcpus", self.vcpus), ("vcpu_type", self.vcpu_type), ("ovmf", self.loader)):
            if value is not None:
                out[key] = value
        out.update(guest_kwargs(self.guest, self.kernel, self.initrd, self.cmdline))
        return out


def guest_kwargs(
    guest: Optional[SevSnpGuest], kernel: Optional[str], initrd: Optional[str], cmdline: Optional[str]
) -> Dict[str, Any]:
    """What a launch's ``sev-snp-guest`` object adds to the measure arguments: its SEV features,
    and the kernel, initrd and command line only with ``kernel-hashes=on`` (QEMU measures them
    only then)."""
    out: Dict[str, Any] = {}
    if guest is not None:
        out["guest_features"] = guest.sev_features()
        if guest.kernel_hashes:
            for key, value in (("kernel", kernel), ("initrd", initrd), ("append", cmdline)):
                if value is not None:
                    out[key] = value
    return out


def _int(text: Optional[str], where: str) -> int:
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_VCPUS:
        raise InvalidInputError(where, f"must be a vCPU count from 1 to {MAX_VCPUS}, got {show(value)}")
    return int(value)


def map_path(path: Optional[str], path_map: Sequence[Tuple[str, str]]) -> Optional[str]:
    """The path with the first matching host prefix replaced by its local counterpart."""
    if path is None:
        return None
    for host, local in path_map:
        prefix = host.rstrip("/")
        if path == prefix:
            return local
        if path.startswith(prefix + "/"):
            return local.rstrip("/") + path[len(prefix) :]
    return path


#: Where the caller keeps the host's files: ``{HOSTPATH: LOCALPATH}``, ``(HOSTPATH, LOCALPATH)``
#: pairs, or ``"HOSTPATH=LOCALPATH"`` strings as ``--path-map`` takes them.
PathMap = Union[Mapping[str, str], Sequence[Union[str, Tuple[str, str]]]]


def path_pairs(path_map: PathMap, field: str = "path_map") -> List[Tuple[str, str]]:
    """``path_map`` as (HOSTPATH, LOCALPATH) pairs, neither empty; anything else is an
    InvalidInputError naming ``field``."""
    items: List[Any] = list(path_map.items()) if isinstance(path_map, Mapping) else path_map  # type: ignore[assignment]
    if isinstance(items, (str, bytes)) or not isinstance(items, (list, tuple)):
        raise InvalidInputError(field, f"must be a dict, pairs or HOSTPATH=LOCALPATH strings, got {show(path_map)}")
    out: List[Tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            out.extend(parse_path_map([item], field))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) and x for x in item):
            out.append((item[0], item[1]))  # as given: a host path may hold "=", or be relative (-bios OVMF.fd)
        else:
            raise InvalidInputError(field, f"must be a dict, pairs or HOSTPATH=LOCALPATH strings, got {show(item)}")
    return out


def parse_path_map(items: Sequence[str], field: str = "path_map") -> List[Tuple[str, str]]:
    """``HOSTPATH=LOCALPATH`` items (``--path-map``): where a verifier keeps the host's files.
    HOSTPATH is as the launch configuration names it: absolute in a libvirt domain, possibly
    relative to QEMU's directory on a command line (``-bios OVMF.fd``)."""
    out = []
    for item in items:
        host, sep, local = item.partition("=")
        if not sep or not host or not local:
            raise InvalidInputError(field, f"must be HOSTPATH=LOCALPATH, got {show(item)}")
        out.append((host, local))
    return out


def parse_domain(text: str, *, path_map: PathMap = (), where: str = "domain") -> LibvirtDomain:
    """Read a domain XML (``virsh dumpxml``'s text). ``path_map`` rewrites the host's paths of the
    firmware, kernel and initrd to where the caller keeps copies (a dict, pairs or
    ``HOSTPATH=LOCALPATH`` strings)."""
    path_map = path_pairs(path_map)
    if not isinstance(text, str):
        raise InvalidInputError(where, f"must be XML text (str), got {type(text).__name__}")
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise InvalidInputError(where, "XML with a DOCTYPE or entity declarations is refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidInputError(where, f"is not well-formed XML ({exc})") from None
    except (UnicodeEncodeError, RecursionError):
        raise InvalidInputError(where, "is not XML text snpmeasure can read") from None
    if root.tag != "domain":
        raise InvalidInputError(where, f"must be a libvirt <domain>, got <{root.tag}>")

    def one(parent: Optional[ET.Element], tag: str) -> Optional[ET.Element]:
        if parent is None:
            return None
        found = parent.findall(tag)
        if len(found) > 1:
            raise InvalidInputError(f"{where}: <{tag}>", "appears more than once")
        return found[0] if found else None

    vcpu = one(root, "vcpu")
    vcpus = 1  # virDomainVcpuParse: no <vcpu> is one
    if vcpu is not None:
        most = _int(vcpu.text, f"{where}: <vcpu>")
        vcpus = _int(vcpu.get("current"), f"{where}: <vcpu current>") if vcpu.get("current") else most
        if vcpus > most:  # virDomainDefParseXML refuses it
            raise InvalidInputError(f"{where}: <vcpu current>", f"is {vcpus}, more than the {most} of <vcpu>")
    cpu = one(root, "cpu")
    cpu_mode = "custom" if cpu is None else cpu.get("mode", "custom")
    vcpu_type = None
    if cpu_mode == "custom":
        # qemuDomainDefSetDefaultCPU: no <cpu>, or a custom one without <model> (a topology
        # alone), gets QEMU's default CPU type, qemu64 on x86 (libvirt's SNP test data: -cpu qemu64)
        model = one(cpu, "model")
        vcpu_type = (model.text or "").strip() if model is not None else ""
        vcpu_type = vcpu_type or "qemu64"
    os_el = one(root, "os")
    loader = one(os_el, "loader")

    def text_of(tag: str) -> Optional[str]:
        # As libvirt's virXPathString reads it: verbatim (QEMU gets " console=ttyS0 " with its
        # spaces, and hashes them), and an empty element is none.
        el = one(os_el, tag)
        return None if el is None else (el.text or None)

    guest = None
    security = one(root, "launchSecurity")
    if security is not None and security.get("type") == "sev-snp":
        guest = SevSnpGuest.from_libvirt_element(security)
        if root.get("type") not in (None, "kvm"):  # type='qemu' is TCG
            raise ConfigError(
                f"{where}: <domain type>", f"is {show(root.get('type'))}, but SEV-SNP guests run under KVM only"
            )
        os_type = one(os_el, "type")
        arch = None if os_type is None else os_type.get("arch")
        if arch not in (None, "x86_64"):
            raise ConfigError(f"{where}: <os><type arch>", f"is {show(arch)}: SEV-SNP guests are x86_64")
    elif security is not None:
        raise ConfigError(
            f"{where}: <launchSecurity type>", f"is {show(security.get('type'))}; snpmeasure reads sev-snp here"
        )
    if text_of("kernel") is None and (text_of("initrd") is not None or text_of("cmdline")):
        tag = "initrd" if text_of("initrd") is not None else "cmdline"
        raise ConfigError(f"{where}: <os><{tag}>", "without <kernel>: QEMU refuses -initrd and -append without -kernel")
    return LibvirtDomain(
        name=(root.findtext("name") or None),
        vcpus=vcpus,
        cpu_mode=cpu_mode,
        vcpu_type=vcpu_type,
        loader=map_path(None if loader is None else loader.text or None, path_map),
        loader_type=None if loader is None else loader.get("type"),
        kernel=map_path(text_of("kernel"), path_map),
        initrd=map_path(text_of("initrd"), path_map),
        cmdline=text_of("cmdline"),
        guest=guest,
        firmware=None if os_el is None else os_el.get("firmware"),
    )


def load_domain(path: Union[str, os.PathLike[str]], *, path_map: PathMap = (), field: str = "domain") -> LibvirtDomain:
    """Read a domain XML file (at most 1 MiB)."""
    from ._files import read_input

    raw = read_input(field, path, MAX_DOMAIN_BYTES + 1)
    if len(raw) > MAX_DOMAIN_BYTES:
        raise InvalidInputError(field, f"is larger than {MAX_DOMAIN_BYTES >> 20} MiB: no domain XML is")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(field, "is not UTF-8 text") from None
    return parse_domain(text, path_map=path_map, where=field)


__all__ = [
    "LibvirtDomain",
    "parse_domain",
    "load_domain",
    "parse_path_map",
    "path_pairs",
    "PathMap",
    "map_path",
    "guest_kwargs",
    "MAX_DOMAIN_BYTES",
]
