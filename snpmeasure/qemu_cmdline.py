"""A QEMU command line (as libvirt writes it, or as people do) as the SNP launch it describes.

The options read are QEMU's (qemu-options.hx, docs/system/i386/amd-memory-encryption.rst):
``-smp N[,sockets=,dies=,cores=,threads=,maxcpus=]`` (the vCPUs started), ``-cpu MODEL[,family=,
model=,stepping=,...]`` (the signature every VMSA carries), ``-bios``, ``-drive if=pflash,unit=0``,
``-blockdev`` with ``-machine pflash0=`` (the firmware), ``-kernel``, ``-initrd``, ``-append``,
``-machine ...,confidential-guest-support=ID`` with ``-object sev-snp-guest,id=ID,...`` (keyval or
JSON), and ``-object igvm-cfg`` with ``-machine igvm-cfg=`` (an IGVM launch). Options that cannot
change the launch measurement are passed over; any other option is refused by name, never guessed.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ._cpus import CPU_SIGS, MAX_VCPUS, cpu_sig, split_sig
from ._jsonfile import parse_json
from .errors import ConfigError, InvalidInputError, show
from .libvirt import NO_PFLASH, NO_SNP, PathMap, guest_kwargs, map_path, path_pairs
from .qemu import SevSnpGuest, parse_qemu_uint, split_qemu_opts

#: Options that take an argument and cannot change an SNP launch measurement: devices, memory,
#: display, monitors, networking and the rest are not measured by SNP_LAUNCH_UPDATE (fw_cfg,
#: SMBIOS and ACPI tables reach the guest unmeasured).
_IGNORED_WITH_ARG = {
    "-name", "-m", "-uuid", "-display", "-vga", "-serial", "-parallel", "-monitor", "-mon", "-qmp",
    "-chardev", "-netdev", "-nic", "-net", "-global", "-boot", "-rtc", "-msg", "-sandbox",
    "-overcommit", "-pidfile", "-run-with", "-fw_cfg", "-smbios", "-k", "-numa", "-mem-path", "-audiodev",
    "-audio", "-usbdevice", "-spice", "-vnc", "-incoming", "-d", "-D", "-trace", "-L", "-runas", "-chroot",
    "-action", "-compat", "-iscsi", "-add-fd", "-loadvm", "-icount", "-watchdog-action", "-cdrom",
    "-hda", "-hdb", "-hdc", "-hdd", "-fda", "-fdb", "-sd", "-mtdblock",
}  # fmt: skip
_IGNORED_FLAGS = {
    "-nographic", "-no-user-config", "-nodefaults", "-S", "-daemonize", "-no-shutdown",
    "-no-reboot", "-no-hpet", "-no-acpi", "-mem-prealloc", "-snapshot", "-nodefconfig", "-full-screen",
    "-only-migratable", "-s",
}  # fmt: skip
#: The options read here, each with an argument.
_READ_WITH_ARG = {
    "-smp", "-cpu", "-bios", "-kernel", "-initrd", "-append", "-machine", "-M", "-pflash", "-drive",
    "-blockdev", "-object", "-device", "-accel",
}  # fmt: skip
#: ``-object`` types that add nothing measured (memory backends, RNGs, secrets, TLS, iothreads).
_IGNORED_OBJECTS = (
    "memory-backend-", "rng-", "secret", "tls-", "iothread", "throttle-group", "input-", "filter-",
    "colo-", "dbus-vmstate", "authz-", "can-", "cryptodev-", "main-loop", "thread-context",
)  # fmt: skip
#: ``-device`` drivers that load data into guest memory, which this reader does not model.
_LOADING_DEVICES = ("loader", "guest-loader")


class QemuCommandLine(NamedTuple):
    """What a QEMU command line fixes of an SNP launch (None: it leaves it open)."""

    vcpus: Optional[int]
    #: "custom" for a named model, "host" for -cpu host/max (the host's signature), None without -cpu
    cpu_mode: Optional[str]
    vcpu_type: Optional[str]
    #: the signature when -cpu overrides family, model or stepping
    vcpu_sig: Optional[int]
    loader: Optional[str]
    kernel: Optional[str]
    initrd: Optional[str]
    cmdline: Optional[str]
    guest: Optional[SevSnpGuest]
    #: the IGVM file of ``-object igvm-cfg`` (an IGVM launch), else None
    igvm: Optional[str]
    #: the option each measured value came from, for messages ("-smp")
    sources: Dict[str, str]

    @property
    def describe(self) -> str:
        return "the command line"

    def source(self, key: str) -> str:
        """The option a value of :meth:`measure_kwargs` came from."""
        return self.sources.get(key, key)

    def measure_kwargs(self) -> Dict[str, Any]:
        """The :func:`snpmeasure.measure` arguments the command line fixes; an IGVM launch is mode
        snp:igvm under the qemu model. QEMU measures the kernel only with ``kernel-hashes=on``."""
        if self.igvm is not None:
            out: Dict[str, Any] = {"mode": "snp:igvm", "igvm": self.igvm, "profile": "qemu"}
            if self.vcpus is not None:
                out["vcpus"] = self.vcpus
            return out
        if self.guest is None:
            raise ConfigError("-machine", f"has no confidential-guest-support: QEMU {NO_SNP}")
        if self.loader is None:  # x86_bios_rom_init: bios_name = ms->firmware ?: default_firmware
            raise ConfigError(
                "-bios",
                "is missing: without it (or -machine firmware=) QEMU loads its default BIOS, SeaBIOS's "
                "bios-256k.bin, which boots no SEV-SNP guest; give the OVMF build with -bios",
            )
        out = {"mode": "snp"}
        for key, value in (
            ("vcpus", self.vcpus),
            ("vcpu_type", self.vcpu_type if self.vcpu_sig is None else None),
            ("vcpu_sig", self.vcpu_sig),
            ("ovmf", self.loader),
        ):
            if value is not None:
                out[key] = value
        out.update(guest_kwargs(self.guest, self.kernel, self.initrd, self.cmdline))
        return out


def _keyval(text: str, option: str) -> Tuple[Optional[str], Dict[str, str]]:
    """QEMU keyval: an optional leading bare value (``-smp 4``, ``-cpu EPYC``), then ``k=v`` pairs."""
    parts = split_qemu_opts(text)
    head = None
    props: Dict[str, str] = {}
    for i, part in enumerate(parts):
        if "=" in part:
            k, v = part.split("=", 1)
            props[k] = v
        elif i == 0:
            head = part
        else:
            props[part] = "on"  # a bare flag (QEMU's implied "on"; -cpu's +feat/-feat)
    if option == "-cpu":  # -cpu MODEL,+feat,-feat: the features are no keyval pairs
        props = {k: v for k, v in props.items() if not k.startswith(("+", "-"))}
    return head, props


def _qemu_int(value: str, where: str, low: int, top: int) -> int:
    """An integer from ``low`` to ``top`` as QEMU's keyval and qdev visitors read one
    (qemu_strtou64, base 0): decimal, 0x hex, and octal after a leading 0 (``-smp 010`` is 8 vCPUs;
    ``09``, ``0o31`` and ``2_5`` are refused)."""
    try:
        number = parse_qemu_uint(where, value, top)
    except InvalidInputError:
        number = -1
    if number < low:
        what = "a count" if low else "a number"
        raise InvalidInputError(
            where, f"must be {what} from {low} to {top} (as C reads it: 0x hex, a leading 0 octal), got {show(value)}"
        ) from None
    return number


def _count(value: str, where: str) -> int:
    return _qemu_int(value, where, 1, MAX_VCPUS)


def _smp_props(text: str, merged: Dict[str, str]) -> Dict[str, str]:
    """One -smp's values merged into the earlier ones' (QEMU's smp options merge: ``-smp 4
    -smp maxcpus=16`` is ``-smp 4,maxcpus=16``); a leading count is ``cpus=``."""
    head, props = _keyval(text, "-smp")
    if head is not None:
        props["cpus"] = head
    return {**merged, **props}


_TOPOLOGY = ("sockets", "dies", "clusters", "modules", "cores", "threads")
#: Levels QEMU knows that the x86 PC machines do not have: 1 is accepted, more refused.
_UNSUPPORTED = ("clusters", "books", "drawers")


def _smp(props: Dict[str, str]) -> int:
    """The vCPUs started, as QEMU's machine_parse_smp_config computes them (machine types since
    6.2, which prefer cores): ``cpus``, else ``maxcpus``, else the product of the topology; the
    omitted topology values are derived from maxcpus, and a topology whose product is not maxcpus,
    or a maxcpus below cpus, is refused as QEMU refuses it."""
    unknown = sorted(set(props) - {"cpus", "maxcpus", *_TOPOLOGY, *_UNSUPPORTED})
    if unknown:
        raise InvalidInputError("-smp", f"Invalid parameter {show(unknown[0])}")
    for key in _UNSUPPORTED:  # the x86 PC machines have no such level (pc.c: dies and modules only)
        if key in props and _count(props[key], f"-smp {key}") > 1:
            raise InvalidInputError("-smp", f"{key} > 1 not supported by this machine's CPU topology")
    given = {
        k: _count(props[k], "-smp" if k == "cpus" else f"-smp {k}")
        for k in ("cpus", "maxcpus", *_TOPOLOGY)
        if k in props
    }
    cpus, maxcpus = given.get("cpus", 0), given.get("maxcpus", 0)
    top = {k: given.get(k, 0) for k in _TOPOLOGY}
    for k in ("dies", "clusters", "modules"):
        top[k] = top[k] or 1
    if cpus == 0 and maxcpus == 0:
        for k in ("sockets", "cores", "threads"):
            top[k] = top[k] or 1
    else:
        maxcpus = maxcpus or cpus
        rest = top["dies"] * top["clusters"] * top["modules"]
        if top["cores"] == 0:
            top["sockets"], top["threads"] = top["sockets"] or 1, top["threads"] or 1
            top["cores"] = maxcpus // (rest * top["sockets"] * top["threads"])
        elif top["sockets"] == 0:
            top["threads"] = top["threads"] or 1
            top["sockets"] = maxcpus // (rest * top["cores"] * top["threads"])
        top["threads"] = top["threads"] or maxcpus // (rest * top["sockets"] * top["cores"])
    total = 1
    for k in _TOPOLOGY:
        total *= top[k]
    maxcpus = maxcpus or total
    cpus = cpus or maxcpus
    if total != maxcpus:
        raise InvalidInputError(
            "-smp", f"Invalid CPU topology: product of the hierarchy must match maxcpus: {total} != maxcpus {maxcpus}"
        )
    if maxcpus < cpus:
        raise InvalidInputError(
            "-smp",
            f"Invalid CPU topology: maxcpus must be equal to or greater than smp: cpus {cpus} > maxcpus {maxcpus}",
        )
    return _count(str(cpus), "-smp")


def _cpu(text: str) -> Tuple[str, Optional[str], Optional[int]]:
    model, props = _keyval(text, "-cpu")
    if model is None:
        raise InvalidInputError("-cpu", f"needs a model name, got {show(text)}")
    if model in ("host", "max"):
        return "host", None, None
    if model not in CPU_SIGS:
        raise InvalidInputError("-cpu", f"unknown CPU model {show(model)}; known: {', '.join(CPU_SIGS)}")
    family, cpu_model, stepping = split_sig(CPU_SIGS[model])
    overrides = {k: props[k] for k in ("family", "model", "stepping") if k in props}
    if not overrides:
        return "custom", model, None
    # qdev properties, read by the string input visitor (qemu_strtoi64, base 0); the setters' ranges
    family = _qemu_int(overrides.get("family", str(family)), "-cpu family", 0, 0xFF + 0xF)
    cpu_model = _qemu_int(overrides.get("model", str(cpu_model)), "-cpu model", 0, 0xFF)
    stepping = _qemu_int(overrides.get("stepping", str(stepping)), "-cpu stepping", 0, 0xF)
    return "custom", model, cpu_sig(family, cpu_model, stepping)


#: One piece of POSIX shell text, as shlex.split(posix=True) reads it: blanks, a single-quoted
#: string, a double-quoted one (backslash escapes only " and \\ there), a backslash escape, a run
#: of plain characters, or a lone quote or backslash that nothing closes.
_SHELL_PIECE = re.compile(r"""([ \t\r\n]+)|'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^ \t\r\n'"\\]+)|(.)""", re.S)


def _shell_split(text: str) -> List[str]:
    """shlex.split(text, posix=True) in linear time (shlex builds each word a character at a time,
    quadratic in a word's length: a 1 MiB word took a minute). ValueError as shlex raises it."""
    words: List[str] = []
    parts: List[str] = []
    in_word = False
    for m in _SHELL_PIECE.finditer(text):
        blank, single, double, escaped, plain, lone = m.groups()
        if blank is not None:
            if in_word:
                words.append("".join(parts))
                parts, in_word = [], False
            continue
        if lone is not None:  # an open quote ending in an unpaired backslash ends mid-escape, as in shlex
            trailing = len(text) - len(text.rstrip("\\"))
            mid_escape = lone == "\\" or (lone == '"' and trailing % 2 == 1)
            raise ValueError("No escaped character" if mid_escape else "No closing quotation")
        in_word = True
        if double is not None:
            parts.append(re.sub(r'\\([\\"])', r"\1", double))
        else:
            parts.append(single if single is not None else escaped if escaped is not None else plain)
    if in_word:
        words.append("".join(parts))
    return words


def _words(text: str, where: str) -> List[str]:
    try:
        words = _shell_split(text.replace("\\\n", " "))
    except ValueError as exc:
        raise InvalidInputError(where, f"is not a command line the shell would read ({exc})") from None
    while words and "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)  # environment assignments before the program (libvirt logs them)
    program = os.path.basename(words[0]) if words else ""
    if not program.startswith(("qemu-system-", "qemu-kvm", "kvm")):
        raise InvalidInputError(where, "must start with the QEMU program (qemu-system-x86_64 or qemu-kvm)")
    if program.startswith("qemu-system-") and program != "qemu-system-x86_64":
        raise ConfigError(where, f"runs {program}: SEV-SNP guests are x86-64 (qemu-system-x86_64 or qemu-kvm)")
    return words[1:]


class _Options:
    """What the options of a command line set, in the order QEMU reads them (a later option wins
    where QEMU's does); ``sources`` names the option each launch input came from."""

    def __init__(self) -> None:
        self.sources: Dict[str, str] = {}
        self.cpu: Optional[Tuple[str, Optional[str], Optional[int]]] = None  # mode, type, signature
        self.loader: Optional[str] = None
        self.kernel: Optional[str] = None
        self.initrd: Optional[str] = None
        self.cmdline: Optional[str] = None
        self.objects: Dict[str, Tuple[str, List[Tuple[str, Any]], bool]] = {}
        self.machine: Dict[str, str] = {}
        self.blockdevs: Dict[str, Tuple[Optional[str], Optional[str]]] = {}  # node -> (filename, file node)
        self.pflash: List[str] = []  # the options that add a pflash device
        self.smp: Dict[str, str] = {}
        self.accels: List[str] = []  # -accel options, in order
        self.machine_accel: Optional[Tuple[str, str]] = None  # -machine accel= or -enable-kvm, the last

    def set(self, key: str, value: Optional[str], source: str) -> None:
        """A boot input (loader, kernel, initrd, cmdline) and the option that gave it."""
        setattr(self, key, value)
        self.sources["ovmf" if key == "loader" else "append" if key == "cmdline" else key] = source

    def read(self, opt: str, arg: str) -> None:
        """One option of _READ_WITH_ARG and its argument."""
        if opt == "-accel":
            head, props = _keyval(arg, "-accel")
            self.accels.append(props.get("accel", head or ""))
        elif opt == "-smp":
            self.smp, self.sources["vcpus"] = _smp_props(arg, self.smp), "-smp"
        elif opt == "-cpu":
            self.cpu = _cpu(arg)
            self.sources["vcpu_type"] = self.sources["vcpu_sig"] = "-cpu"
        elif opt in ("-bios", "-kernel", "-initrd", "-append"):
            self.set({"-bios": "loader", "-append": "cmdline"}.get(opt, opt[1:]), arg, opt)
        elif opt == "-machine" or opt == "-M":
            self._machine(arg)
        elif opt == "-pflash":  # the first -pflash is unit 0, the firmware
            self.pflash.append("-pflash")
            if "ovmf" not in self.sources:
                self.set("loader", arg, "-pflash")
        elif opt == "-drive":
            _, props = _keyval(arg, "-drive")
            if props.get("if") == "pflash":
                self.pflash.append("-drive if=pflash")
                if props.get("unit", "0") == "0":
                    self.set("loader", props.get("file"), "-drive if=pflash,unit=0")
        elif opt == "-blockdev":
            _blockdev(arg, self.blockdevs)
        elif opt == "-object":
            _object(arg, self.objects)
        elif opt == "-device":
            driver = _device_driver(arg)
            if driver in _LOADING_DEVICES:
                raise ConfigError("-device", f"{driver} loads data into guest memory, which snpmeasure does not model")
        else:  # _READ_WITH_ARG names an option this chain does not read
            raise AssertionError(f"{opt} is in _READ_WITH_ARG but not read")

    def _machine(self, arg: str) -> None:
        _, props = _keyval(arg, "-machine")
        self.machine.update(props)
        # -bios, -kernel, -initrd and -append are these machine properties (vl.c puts them in the
        # same dict as -machine's, in order): the later one wins
        for prop, key in (("firmware", "loader"), ("kernel", "kernel"), ("initrd", "initrd"), ("append", "cmdline")):
            if prop in props:
                self.set(key, props[prop], f"-machine {prop}")
        if "accel" in props:  # a list QEMU tries in order, "kvm:tcg"
            self.machine_accel = (props["accel"], "-machine accel")
        topology = {k[4:]: v for k, v in props.items() if k.startswith("smp.")}
        if topology:  # -machine smp.cpus=4 is -smp cpus=4 (QEMU merges them into one dict)
            self.smp, self.sources["vcpus"] = {**self.smp, **topology}, "-machine smp."
        self.pflash += [f"-machine {k}" for k in ("pflash0", "pflash1") if k in props]


def _read_options(words: List[str], where: str) -> _Options:
    """Every option of the command line (without the program), read or refused."""
    o = _Options()
    i = 0
    while i < len(words):
        opt = words[i]
        if not opt.startswith("-"):
            raise InvalidInputError(where, f"{show(opt)} is no option (a QEMU option starts with -)")
        opt = "-" + opt.lstrip("-")  # --smp is -smp
        if opt == "-enable-kvm":  # vl.c: -machine accel=kvm
            o.machine_accel = ("kvm", opt)
            i += 1
            continue
        if opt in _IGNORED_FLAGS:
            i += 1
            continue
        if opt not in _IGNORED_WITH_ARG and opt not in _READ_WITH_ARG:
            raise InvalidInputError(
                opt, "is an option snpmeasure does not know: whether it changes the measurement is not established"
            )
        if i + 1 >= len(words):
            raise InvalidInputError(opt, "needs an argument")
        if opt not in _IGNORED_WITH_ARG:
            o.read(opt, words[i + 1])
        i += 2
    return o


def parse_qemu_cmdline(
    argv: Union[str, Sequence[str]], *, path_map: PathMap = (), where: str = "qemu_cmdline"
) -> QemuCommandLine:
    """Read a QEMU command line: a string (shell words, backslash-newlines allowed, environment
    assignments skipped) or the argument list (with the program first). ``path_map`` as for
    :func:`~snpmeasure.libvirt.parse_domain`."""
    path_map = path_pairs(path_map)
    if isinstance(argv, str):
        words = _words(argv, where)
    elif isinstance(argv, (list, tuple)) and all(isinstance(w, str) for w in argv) and argv:
        words = list(argv[1:])
    else:
        raise InvalidInputError(where, "must be the command line as text or as a list of str")
    o = _read_options(words, where)
    sources = o.sources
    if o.kernel is None and (o.initrd is not None or o.cmdline is not None):
        # vl.c qemu_validate_options: "-initrd only allowed with -kernel option", "-append only
        # allowed with -kernel option" (any -append, an empty one too)
        key = "initrd" if o.initrd is not None else "append"
        raise ConfigError(sources[key], f"QEMU refuses {sources[key]} without -kernel")
    if o.cpu is None:  # the x86 machines' default CPU type (TARGET_DEFAULT_CPU_TYPE)
        o.cpu, sources["vcpu_type"] = ("custom", "qemu64", None), "QEMU's default CPU (no -cpu)"
    if o.smp:
        vcpus = _smp(o.smp)
    else:  # machine_parse_smp_config without -smp: one CPU
        vcpus, sources["vcpus"] = 1, "QEMU's default (no -smp)"
    guest, igvm = _guest_and_igvm(o, path_map)
    if o.pflash and igvm is not None:
        raise ConfigError(o.pflash[0], "QEMU refuses pflash devices with IGVM (the IGVM file holds the firmware)")
    if o.pflash and guest is not None:
        raise ConfigError(o.pflash[0], f"{NO_PFLASH}; give the firmware with -bios")
    if o.machine.get("pflash0") is not None:
        node: Optional[str] = o.machine["pflash0"]
        for _ in range(8):  # a format node over a storage node (libvirt's pair), at most a few deep
            if node not in o.blockdevs:
                raise ConfigError("-machine", f"pflash0={o.machine['pflash0']}: no -blockdev node {show(node)}")
            filename, node = o.blockdevs[node]
            if filename is not None:
                break
        o.set("loader", filename, "-machine pflash0")
    cpu_mode, vcpu_type, vcpu_sig = o.cpu
    return QemuCommandLine(
        vcpus,
        cpu_mode,
        vcpu_type,
        vcpu_sig,
        map_path(o.loader, path_map),
        map_path(o.kernel, path_map),
        map_path(o.initrd, path_map),
        o.cmdline,
        guest,
        igvm,
        sources,
    )


def _guest_and_igvm(o: _Options, path_map: Sequence[Tuple[str, str]]) -> Tuple[Optional[SevSnpGuest], Optional[str]]:
    """The sev-snp-guest object -machine confidential-guest-support names (with KVM required), and
    the file of the igvm-cfg object -machine igvm-cfg names (mapped)."""
    guest = None
    # memory-encryption= is the older name of confidential-guest-support=
    cgs = o.machine.get("confidential-guest-support", o.machine.get("memory-encryption"))
    if cgs is not None:
        kind, object_props, typed = o.objects.get(cgs, ("", [], False))
        if kind != "sev-snp-guest":
            raise ConfigError("-machine", f"confidential-guest-support={cgs} names no -object sev-snp-guest")
        guest = SevSnpGuest.from_properties(object_props, typed=typed)
        _require_kvm(o.accels, o.machine_accel)
    cfg = o.machine.get("igvm-cfg")
    if cfg is None:
        return guest, None
    if guest is None:
        # backends/igvm.c loads the file for the native platform then: an unencrypted guest
        raise ConfigError("-machine", f"igvm-cfg={cfg} without confidential-guest-support {NO_SNP}")
    kind, object_props, _ = o.objects.get(cfg, ("", [], False))
    files = [v for k, v in object_props if k == "file"]
    if kind != "igvm-cfg" or not files:
        raise ConfigError("-machine", f"igvm-cfg={cfg} names no -object igvm-cfg with a file")
    return guest, map_path(str(files[-1]), path_map)


def _require_kvm(accels: List[str], machine_accel: Optional[Tuple[str, str]]) -> None:
    """Refuse accelerator options under which an SNP guest would not run on KVM (vl.c
    configure_accelerators): -accel and -machine accel= (or -enable-kvm, which sets it) exclude each
    other; QEMU tries the listed accelerators in order and keeps the first that starts. On an SNP
    host KVM and TCG (and qtest) start, the others (xen, hvf, whpx, ...) fail and are passed over.
    No accelerator named: the build's default (TCG first for qemu-system-x86_64 when it has TCG,
    KVM for qemu-kvm) is not known here, so it is not refused."""
    if accels and machine_accel is not None:
        raise ConfigError(
            "-accel",
            f'QEMU refuses it with {machine_accel[1]}: "The -accel and "-machine accel=" options are incompatible"',
        )
    names, where = (
        (accels, "-accel") if accels else (machine_accel[0].split(":"), machine_accel[1]) if machine_accel else ([], "")
    )
    starts = next((n for n in names if n in ("kvm", "tcg", "qtest")), None)
    if names and starts != "kvm":
        said = f"selects {starts}" if starts else f"names no accelerator that starts on a KVM host ({':'.join(names)})"
        raise ConfigError(where, f"{said}, but SEV-SNP guests run under KVM only")


def _json_option(arg: str, option: str) -> Optional[Dict[str, Any]]:
    """The JSON form of an option's argument (``-object {"qom-type": ...}``, as libvirt writes
    them), or None for the keyval form; QEMU takes only a JSON object there."""
    if not arg.lstrip().startswith("{"):
        return None
    spec = parse_json(arg, option)  # QEMU's parser refuses a duplicate key too
    if not isinstance(spec, dict):
        raise InvalidInputError(option, "JSON must be an object")
    return spec


def _device_driver(arg: str) -> str:
    """A -device's driver, from keyval (``loader,file=...``, or ``driver=loader,...``: the
    implied key is ``driver``) or JSON (``{"driver": "loader", ...}``)."""
    spec = _json_option(arg, "-device")
    if spec is not None:
        return str(spec.get("driver", ""))
    head, props = _keyval(arg, "-device")
    return props.get("driver", head or "")  # QemuOpts: a later driver= replaces the implied one


def _blockdev(arg: str, blockdevs: Dict[str, Tuple[Optional[str], Optional[str]]]) -> None:
    """A -blockdev node: its file name, or the node (or inline node) it reads."""
    spec: Dict[str, Any] = _json_option(arg, "-blockdev") or dict(_keyval(arg, "-blockdev")[1])
    if not spec.get("node-name"):
        return
    child = spec.get("file")
    filename = spec.get("filename")
    if filename is None and isinstance(child, dict):
        filename = child.get("filename")
    if filename is None:  # keyval's dotted form of an inline child: file.driver=file,file.filename=X
        filename = spec.get("file.filename")
    blockdevs[str(spec["node-name"])] = (
        None if filename is None else str(filename),
        child if isinstance(child, str) else None,
    )


def _object(arg: str, objects: Dict[str, Tuple[str, List[Tuple[str, Any]], bool]]) -> None:
    spec = _json_option(arg, "-object")
    if spec is not None:
        kind = str(spec.get("qom-type", ""))
        props: List[Tuple[str, Any]] = [(k, v) for k, v in spec.items() if k != "qom-type"]
        typed = True
    else:
        parts = split_qemu_opts(arg)
        if not parts:
            raise InvalidInputError("-object", "is empty")
        # keyval_parse: the first key may be implied (qom-type); every other needs "=" ("x" alone
        # is no flag here, unlike QemuOpts' -machine)
        first = [] if "=" in parts[0] else [("qom-type", parts[0])]  # the implied key
        bare = next((p for p in parts[len(first) :] if "=" not in p), None)
        if bare is not None:
            raise InvalidInputError("-object", f"Expected '=' after parameter {show(bare)}")
        pairs = first + [(p.split("=", 1)[0], p.split("=", 1)[1]) for p in parts[len(first) :]]
        kind = next((v for k, v in pairs if k == "qom-type"), "")
        if not kind:
            raise InvalidInputError("-object", "names no qom-type (the object's type)")
        props = [(k, v) for k, v in pairs if k != "qom-type"]
        typed = False
    ident = next((str(v) for k, v in props if k == "id"), None)
    if ident is not None and ident in objects:
        # user_creatable_add_type adds each object as a child of /objects under its id
        raise ConfigError("-object", f"id={ident} is given twice; QEMU refuses the second object")
    if kind.startswith(_IGNORED_OBJECTS):
        if ident is not None:
            objects[ident] = (kind, [], typed)  # its id is taken; a reference to it names no SNP object
        return
    if kind not in ("sev-snp-guest", "igvm-cfg"):
        raise InvalidInputError("-object", f"{kind}: an object type snpmeasure does not model")
    if ident is None:
        raise InvalidInputError("-object", f"{kind} has no id")
    objects[ident] = (kind, props, typed)


__all__ = ["QemuCommandLine", "parse_qemu_cmdline"]
