"""snpmeasure.qemu_cmdline: QEMU's command line as the launch it describes, and the same guest
read from its libvirt domain."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

import snpmeasure
from snpmeasure.errors import ConfigError, InvalidInputError
from snpmeasure.libvirt import parse_domain
from snpmeasure.qemu_cmdline import parse_qemu_cmdline

from .builders.igvm_files import build, pd, vp
from .builders.manifests import A

# libvirt's own form (tests/qemuxmlconfdata/launch-security-sev-snp.x86_64-latest.args in
# libvirt/libvirt): environment first, the object as JSON named by confidential-guest-support,
# -device as JSON. The test data gives the firmware as a stateless pflash, which QEMU + KVM refuse
# for an SNP guest (PFLASH below); here it is -bios, as libvirt writes <loader type='rom'>. The
# kernel options are this test's addition.
PFLASH = f"""-blockdev '{{"driver":"file","filename":"{A}","node-name":"libvirt-pflash0-storage","read-only":true}}' \\
-blockdev '{{"node-name":"libvirt-pflash0-format","read-only":true,"driver":"raw","file":"libvirt-pflash0-storage"}}' \\
-machine pflash0=libvirt-pflash0-format"""
LIBVIRT_STYLE = f"""LC_ALL=C PATH=/usr/bin HOME=/var/lib/libvirt/qemu/domain-1-guest \\
/usr/bin/qemu-system-x86_64 -name guest=guest,debug-threads=on -S -bios {A} \\
-machine pc-q35-8.2,usb=off,dump-guest-core=off,memory-backend=pc.ram,confidential-guest-support=lsec0,acpi=on \\
-accel kvm -cpu EPYC-Milan -m size=4194304k \\
-object '{{"qom-type":"memory-backend-ram","id":"pc.ram","size":4294967296}}' \\
-smp 4,sockets=4,cores=1,threads=1 -uuid 1ccfd97d-5eb4-478a-bbe6-88d254c16db7 \\
-kernel /boot/vmlinuz -append 'console=ttyS0' -nodefaults -no-shutdown \\
-object '{{"qom-type":"sev-snp-guest","id":"lsec0","cbitpos":51,"reduced-phys-bits":1,"policy":196608,"kernel-hashes":true}}' \\
-device '{{"driver":"virtio-net-pci","netdev":"n0","id":"net0"}}' -netdev user,id=n0 -msg timestamp=on"""

DOMAIN = f"""<domain type='kvm'><name>guest</name><vcpu>4</vcpu>
<os><loader type='rom'>{A}</loader><kernel>/boot/vmlinuz</kernel><cmdline>console=ttyS0</cmdline></os>
<cpu mode='custom'><model>EPYC-Milan</model></cpu>
<launchSecurity type='sev-snp' kernelHashes='yes'><cbitpos>51</cbitpos><reducedPhysBits>1</reducedPhysBits>
<policy>0x30000</policy></launchSecurity></domain>"""


#: what makes a command line an SEV-SNP launch
SNP = ["-machine", "q35,confidential-guest-support=s", "-object", "sev-snp-guest,id=s,cbitpos=51,reduced-phys-bits=1"]


def test_the_command_line_and_the_domain_give_the_same_launch(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(bytes(0x202) + b"HdrS" + bytes(64))
    paths = [("/boot", str(tmp_path))]
    line = parse_qemu_cmdline(LIBVIRT_STYLE, path_map=paths)
    dom = parse_domain(DOMAIN, path_map=paths)
    assert line.measure_kwargs() == dom.measure_kwargs()
    assert line.guest is not None and dom.guest is not None
    assert replace(line.guest, id=dom.guest.id) == dom.guest and line.vcpus == 4 and line.source("vcpus") == "-smp"
    flags = snpmeasure.measure(
        mode="snp", ovmf=A, vcpus=4, vcpu_type="EPYC-Milan", kernel=kernel, append="console=ttyS0"
    )
    assert snpmeasure.measure(**line.measure_kwargs()).digest == flags.digest
    with pytest.raises(ConfigError, match="^-machine pflash0: an SEV-SNP guest cannot boot from pflash"):
        parse_qemu_cmdline(LIBVIRT_STYLE.replace(f"-bios {A}", PFLASH), path_map=paths)
    # as an argument list too
    argv = ["qemu-system-x86_64", "-smp", "2", "-cpu", "EPYC-Genoa", "-bios", A, *SNP]
    assert parse_qemu_cmdline(argv).measure_kwargs() == {
        "mode": "snp",
        "vcpus": 2,
        "vcpu_type": "EPYC-Genoa",
        "ovmf": A,
        "guest_features": 1,
    }
    with pytest.raises(ConfigError, match="^-machine: has no confidential-guest-support: QEMU starts the guest"):
        parse_qemu_cmdline(argv[:-4]).measure_kwargs()


@pytest.mark.parametrize(
    "smp,count",
    [
        ("4", 4),
        ("cpus=3,sockets=1", 3),
        ("sockets=2,cores=2,threads=2", 8),
        ("4,maxcpus=16", 4),
        ("maxcpus=8", 8),
        ("sockets=2,maxcpus=8", 8),
        ("dies=2", 2),
        ("sockets=1,modules=2,cores=2", 4),
        ("1,sockets=1,cores=1,threads=1", 1),
        ("6,sockets=2", 6),  # cores derived: 3
        ("4 -smp maxcpus=16", 4),  # the options merge
        ("sockets=2 -smp cores=4", 8),
        ("8 -smp 2", 2),
        ("4,clusters=1,books=1", 4),
    ],
)
def test_smp_forms(smp: str, count: int) -> None:
    argv = ["qemu-system-x86_64"]
    for part in smp.split(" -smp "):
        argv += ["-smp", part]
    assert parse_qemu_cmdline(argv).vcpus == count


@pytest.mark.parametrize(
    "smp,fragment",
    [
        ("4,maxcpus=2", "Invalid CPU topology: maxcpus must be equal to or greater than smp: cpus 4 > maxcpus 2"),
        (
            "4,sockets=2,cores=2,threads=2",
            "Invalid CPU topology: product of the hierarchy must match maxcpus: 8 != maxcpus 4",
        ),
        ("5,cores=2", "Invalid CPU topology: product of the hierarchy must match maxcpus: 4 != maxcpus 5"),
        ("8,clusters=2", "clusters > 1 not supported by this machine's CPU topology"),
        ("4,books=2", "books > 1 not supported"),
        ("4,foo=1", "Invalid parameter 'foo'"),
    ],
)
def test_smp_topologies_qemu_refuses_are_refused(smp: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=f"^-smp: {re.escape(fragment)}"):
        parse_qemu_cmdline(["qemu-system-x86_64", "-smp", smp])


def test_machine_smp_properties_are_the_topology_and_qom_type_may_come_anywhere() -> None:
    """-machine smp.cpus=4 sets what -smp cpus=4 does (QEMU merges both); keyval's qom-type is
    implied first or named at any place."""
    line = parse_qemu_cmdline(["qemu-system-x86_64", "-machine", "q35,smp.cpus=4", "-smp", "maxcpus=8"])
    assert line.vcpus == 4 and line.source("vcpus") == "-smp"
    named = [
        "-object",
        "id=s,qom-type=sev-snp-guest,cbitpos=51,reduced-phys-bits=1",
        "-machine",
        "q35,confidential-guest-support=s",
    ]
    assert parse_qemu_cmdline(["qemu-system-x86_64", *named]).guest is not None
    with pytest.raises(InvalidInputError, match="names no qom-type"):
        parse_qemu_cmdline(["qemu-system-x86_64", "-object", "id=s,cbitpos=51"])


def test_cpu_models_and_their_overrides() -> None:
    line = parse_qemu_cmdline(["qemu-system-x86_64", "-cpu", "EPYC-Milan,+x2apic,-svm,stepping=2", *SNP, "-bios", A])
    assert line.vcpu_type == "EPYC-Milan" and line.vcpu_sig == 0xA00F12
    assert "vcpu_type" not in line.measure_kwargs() and line.measure_kwargs()["vcpu_sig"] == 0xA00F12
    assert parse_qemu_cmdline(["qemu-kvm", "-cpu", "host"]).cpu_mode == "host"
    with pytest.raises(InvalidInputError, match="unknown CPU model 'Pentium'"):
        parse_qemu_cmdline(["qemu-kvm", "-cpu", "Pentium"])


def test_pflash_forms() -> None:
    drive = parse_qemu_cmdline(["qemu-kvm", "-drive", f"if=pflash,format=raw,unit=0,file={A},readonly=on"])
    assert drive.loader == A and drive.source("ovmf") == "-drive if=pflash,unit=0"
    storage = json.dumps({"driver": "file", "filename": A, "node-name": "pflash0-storage", "read-only": True})
    fmt = json.dumps({"node-name": "pflash0-format", "driver": "raw", "file": "pflash0-storage"})
    nodes = parse_qemu_cmdline(
        ["qemu-kvm", "-blockdev", storage, "-blockdev", fmt, "-machine", "q35,pflash0=pflash0-format"]
    )
    assert nodes.loader == A
    assert parse_qemu_cmdline(["qemu-kvm", "-pflash", A, "-pflash", "/vars.fd"]).loader == A
    memenc = parse_qemu_cmdline(
        [
            "qemu-kvm",
            "-machine",
            "q35,memory-encryption=s",
            "-object",
            "qom-type=sev-snp-guest,id=s,reduced-phys-bits=1",
        ]
    )
    assert memenc.guest is not None
    assert (
        parse_qemu_cmdline(["qemu-kvm", "-cpu", "qemu64", *SNP, "-bios", A]).measure_kwargs()["vcpu_type"] == "qemu64"
    )  # libvirt's default
    dotted = "driver=raw,node-name=fmt,file.driver=file,file.filename=" + A
    assert parse_qemu_cmdline(["qemu-kvm", "-blockdev", dotted, "-machine", "pflash0=fmt"]).loader == A
    with pytest.raises(ConfigError, match="pflash0=nowhere: no -blockdev node"):
        parse_qemu_cmdline(["qemu-kvm", "-machine", "pflash0=nowhere"])


@pytest.mark.parametrize(
    "firmware",
    [["-pflash", A], ["-drive", f"if=pflash,format=raw,file={A}"], ["-drive", "if=pflash,unit=1,file=/vars.fd"]],
)
def test_an_snp_guest_does_not_boot_from_pflash(firmware: list) -> None:
    """KVM gives SEV-SNP VMs no read-only memslots, which pflash needs (QEMU exits in
    pc_system_firmware_init); with IGVM, QEMU refuses every pflash device."""
    with pytest.raises(ConfigError, match="cannot boot from pflash: KVM gives SNP guests no read-only memory"):
        parse_qemu_cmdline(["qemu-kvm", *SNP, *firmware])
    igvm = ["-machine", "igvm-cfg=i", "-object", "igvm-cfg,id=i,file=/x.igvm"]
    with pytest.raises(ConfigError, match="QEMU refuses pflash devices with IGVM"):
        parse_qemu_cmdline(["qemu-kvm", *SNP, *igvm, *firmware])
    dom = parse_domain(DOMAIN.replace("type='rom'", "type='pflash'"))
    with pytest.raises(ConfigError, match="^<loader type='pflash'>: an SEV-SNP guest cannot boot from pflash"):
        dom.measure_kwargs()


def test_an_igvm_launch(tmp_path: Path) -> None:
    igvm = tmp_path / "guest.igvm"
    igvm.write_bytes(build([pd(0x1000, bytes(4096)), vp(0), vp(1)]))
    line = parse_qemu_cmdline(
        [
            "qemu-system-x86_64",
            "-machine", "q35,confidential-guest-support=sev0,igvm-cfg=igvm0",
            "-object", f"igvm-cfg,id=igvm0,file={igvm}",
            "-object", "sev-snp-guest,id=sev0,cbitpos=51,reduced-phys-bits=1",
            "-smp", "2",
        ]
    )  # fmt: skip
    kw = line.measure_kwargs()
    assert kw == {"mode": "snp:igvm", "igvm": str(igvm), "profile": "qemu", "vcpus": 2}
    assert (
        snpmeasure.measure(**kw).digest
        == snpmeasure.measure(mode="snp:igvm", igvm=igvm, profile="qemu", vcpus=2).digest
    )


@pytest.mark.parametrize(
    "argv,fragment",
    [
        ("qemu-system-x86_64 -smp 2 -frobnicate on", "-frobnicate: is an option snpmeasure does not know"),
        ("qemu-system-x86_64 -smp 2 -frobnicate", "-frobnicate: is an option snpmeasure does not know"),
        ("qemu-system-x86_64 -device loader,file=/x,addr=0x1000", "loads data into guest memory"),
        ('qemu-system-x86_64 -device \'{"driver": "loader", "file": "/x"}\'', "loads data into guest memory"),
        ("qemu-system-x86_64 -object sev-guest,id=s", "sev-guest: an object type snpmeasure does not model"),
        ("qemu-system-x86_64 -smp 'unbalanced", "is not a command line the shell would read"),
        ("ls -l", "must start with the QEMU program"),
        ("qemu-system-x86_64 -smp", "-smp: needs an argument"),
        ("qemu-system-x86_64 -smp 0", "-smp: must be a count from 1 to 4096"),
        ("qemu-system-x86_64 stray", "'stray' is no option"),
        ("qemu-system-x86_64 -machine confidential-guest-support=x", "names no -object sev-snp-guest"),
        ("qemu-system-x86_64 -object '{\"qom-type\": ' ", "is not valid JSON"),
        (
            "qemu-system-x86_64 -object sev-snp-guest,id=s,reduced-phys-bits=1 -object memory-backend-ram,id=s",
            "-object: id=s is given twice; QEMU refuses the second object",
        ),
        (
            "qemu-system-x86_64 -object sev-snp-guest,id=s,reduced-phys-bits=1,kernel-hashes",
            "-object: Expected '=' after parameter 'kernel-hashes'",
        ),
        (
            "qemu-system-x86_64 -object igvm-cfg,id=i,file=/a -object igvm-cfg,id=i,file=/b",
            "id=i is given twice",
        ),
        (
            "qemu-system-x86_64 -machine q35,confidential-guest-support=m -object memory-backend-ram,id=m",
            "confidential-guest-support=m names no -object sev-snp-guest",
        ),
        (
            "qemu-system-x86_64 -machine q35,igvm-cfg=i -object igvm-cfg,id=i,file=/a",
            "-machine: igvm-cfg=i without confidential-guest-support starts the guest without SEV-SNP",
        ),
    ],
)
def test_hostile_or_unmodelled_command_lines_are_named(argv: str, fragment: str) -> None:
    with pytest.raises((InvalidInputError, ConfigError)) as exc:
        parse_qemu_cmdline(argv)
    assert fragment in str(exc.value)


def test_numbers_machine_properties_and_devices_as_qemu_reads_them() -> None:
    """Second review of the command-line reader against QEMU: integers are C's (qemu_strtou64 base
    0: -smp 010 is 8 vCPUs, 0x4 is 4, 09 is refused; -cpu family=031 is 25, 0o31 and 2_5 are
    refused); -bios, -kernel, -initrd and -append are -machine firmware/kernel/initrd/append, the
    later one winning; -device driver=loader is -device loader; and without -bios QEMU boots its
    SeaBIOS, which no SNP guest runs."""
    base = ["qemu-kvm", *SNP, "-bios", A]
    assert parse_qemu_cmdline([*base, "-smp", "010"]).vcpus == 8
    assert parse_qemu_cmdline([*base, "-smp", "0x4"]).vcpus == 4
    assert parse_qemu_cmdline([*base, "-smp", "cpus=02,maxcpus=010"]).vcpus == 2
    for bad in ("09", "0o4", "2_0", "4k", "-1", "0"):
        with pytest.raises(InvalidInputError, match=r"^-smp: must be a count from 1 to \d+ \(as C reads it"):
            parse_qemu_cmdline([*base, "-smp", bad])
    assert parse_qemu_cmdline([*base, "-cpu", "EPYC-v4,family=031"]).vcpu_sig == 0xA00F12  # family 25
    assert parse_qemu_cmdline([*base, "-cpu", "EPYC-v4,model=0x1,stepping=02"]).vcpu_sig == 0x800F12
    for bad in ("family=0o31", "family=2_5", "model=256", "stepping=16", "family=0x10f"):
        with pytest.raises(InvalidInputError, match=r"^-cpu (family|model|stepping): must be a number from 0"):
            parse_qemu_cmdline([*base, "-cpu", f"EPYC-v4,{bad}"])
    later = parse_qemu_cmdline([*base, "-machine", "firmware=/other.fd,kernel=/vmlinuz,append=quiet"])
    assert later.loader == "/other.fd" and later.kernel == "/vmlinuz" and later.cmdline == "quiet"
    assert later.source("ovmf") == "-machine firmware" and later.source("append") == "-machine append"
    earlier = parse_qemu_cmdline(
        ["qemu-kvm", *SNP, "-machine", "firmware=/other.fd", "-bios", A, "-kernel", "/k", "-initrd", "/i"]
    )
    assert earlier.loader == A and earlier.initrd == "/i"
    for device in ("driver=loader,file=/x,addr=0x100000", "loader,file=/x", "virtio-rng-pci,driver=loader,file=/x"):
        with pytest.raises(ConfigError, match="^-device: loader loads data into guest memory"):
            parse_qemu_cmdline([*base, "-device", device])
    with pytest.raises(ConfigError, match="^-bios: is missing: without it .* QEMU loads its default BIOS, SeaBIOS"):
        parse_qemu_cmdline(["qemu-kvm", *SNP]).measure_kwargs()


@pytest.mark.parametrize(
    "words, where, said",
    [
        (["-kernel", "/k", "-accel", "tcg"], "-accel", "selects tcg, but SEV-SNP guests run under KVM only"),
        (["-accel", "accel=tcg", "-accel", "kvm"], "-accel", "selects tcg"),  # QEMU starts the first it can
        (["-machine", "accel=tcg:kvm"], "-machine accel", "selects tcg"),
        (["-initrd", "/i"], "-initrd", "QEMU refuses -initrd without -kernel"),
        (["-append", "console=ttyS0"], "-append", "QEMU refuses -append without -kernel"),
        (["-machine", "append=x"], "-machine append", "QEMU refuses -machine append without -kernel"),
        (["-append", ""], "-append", "QEMU refuses -append without -kernel"),
        (["-enable-kvm", "-machine", "accel=tcg"], "-machine accel", "selects tcg"),  # one property: the last
        (["-accel", "kvm", "-enable-kvm"], "-accel", 'The -accel and "-machine accel=" options are incompatible'),
        (["-machine", "accel=xen:hvf"], "-machine accel", "names no accelerator that starts on a KVM host"),
    ],
)
def test_a_command_line_qemu_would_not_run_with_snp_is_refused(words: list, where: str, said: str) -> None:
    """SEV-SNP needs KVM (QEMU keeps the first listed accelerator that starts, and TCG always does;
    -enable-kvm is -machine accel=kvm; -accel excludes both); QEMU refuses -initrd and any -append
    without -kernel (vl.c)."""
    with pytest.raises(ConfigError) as exc:
        parse_qemu_cmdline(["qemu-system-x86_64", *SNP, "-bios", "/fw.fd", *words])
    assert exc.value.field == where and said in exc.value.rule


@pytest.mark.parametrize(
    "fine",
    [
        ["-enable-kvm"],
        ["-accel", "kvm"],
        ["-machine", "accel=kvm:tcg"],
        ["-machine", "accel=tcg", "-enable-kvm"],
        ["-machine", "accel=xen:kvm"],  # xen fails to start here, and QEMU goes on to KVM
    ],
)
def test_a_command_line_that_starts_kvm_is_read(fine: list) -> None:
    parse_qemu_cmdline(["qemu-system-x86_64", *SNP, "-bios", "/fw.fd", *fine])


def test_only_the_x86_64_emulator_runs_snp_guests() -> None:
    with pytest.raises(ConfigError, match="runs qemu-system-aarch64: SEV-SNP guests are x86-64"):
        parse_qemu_cmdline("qemu-system-aarch64 -bios /fw.fd " + " ".join(SNP))
    assert parse_qemu_cmdline("/usr/libexec/qemu-kvm -bios /fw.fd " + " ".join(SNP)).guest is not None
