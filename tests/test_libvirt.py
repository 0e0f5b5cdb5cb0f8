"""snpmeasure.libvirt: a whole domain XML as the launch it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

import snpmeasure
from snpmeasure.errors import ConfigError, InvalidInputError
from snpmeasure.libvirt import load_domain, parse_domain, parse_path_map

from .builders.manifests import A

DOMAIN = """<domain type='kvm'>
  <name>snp-guest</name>
  <vcpu placement='static' current='4'>8</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-9.1'>hvm</type>
    <loader readonly='yes' type='rom'>/usr/share/OVMF/OVMF.amdsev.fd</loader>
    <kernel>/var/lib/libvirt/boot/vmlinuz</kernel>
    <initrd>/var/lib/libvirt/boot/initrd.img</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>EPYC-Genoa</model></cpu>
  <launchSecurity type='sev-snp' kernelHashes='yes'>
    <cbitpos>51</cbitpos><reducedPhysBits>1</reducedPhysBits><policy>0x30000</policy>
  </launchSecurity>
</domain>"""


SNP = "<launchSecurity type='sev-snp'><policy>0x30000</policy></launchSecurity>"


def test_a_domain_without_snp_has_no_measurement() -> None:
    with pytest.raises(ConfigError, match="^<launchSecurity>: is missing: libvirt starts the guest without SEV-SNP"):
        parse_domain("<domain><vcpu>2</vcpu></domain>").measure_kwargs()


def test_a_domain_gives_the_measure_arguments(tmp_path: Path) -> None:
    (tmp_path / "vmlinuz").write_bytes(bytes(0x202) + b"HdrS" + bytes(100))
    (tmp_path / "initrd.img").write_bytes(b"initrd")
    paths = parse_path_map([f"/usr/share/OVMF/OVMF.amdsev.fd={A}", f"/var/lib/libvirt/boot={tmp_path}"])
    dom = parse_domain(DOMAIN, path_map=paths)
    assert dom.name == "snp-guest" and dom.vcpus == 4 and dom.vcpu_type == "EPYC-Genoa" and dom.loader == A
    assert dom.loader_type == "rom" and dom.guest is not None and dom.guest.kernel_hashes
    kw = dom.measure_kwargs()
    assert kw == {
        "mode": "snp",
        "vcpus": 4,
        "vcpu_type": "EPYC-Genoa",
        "ovmf": A,
        "guest_features": 1,
        "kernel": str(tmp_path / "vmlinuz"),
        "initrd": str(tmp_path / "initrd.img"),
        "append": "console=ttyS0",
    }
    flags = snpmeasure.measure(
        mode="snp", ovmf=A, vcpus=4, vcpu_type="EPYC-Genoa", kernel=tmp_path / "vmlinuz",
        initrd=tmp_path / "initrd.img", append="console=ttyS0",
    )  # fmt: skip
    assert snpmeasure.measure(**kw).digest == flags.digest
    # kernel-hashes off: QEMU measures no kernel, and neither do the arguments
    off = parse_domain(DOMAIN.replace("kernelHashes='yes'", "kernelHashes='no'"), path_map=paths)
    assert "kernel" not in off.measure_kwargs()
    f = tmp_path / "d.xml"
    f.write_text(DOMAIN)
    assert load_domain(f) == parse_domain(DOMAIN)


@pytest.mark.parametrize(
    "text,error,fragment",
    [
        ("<!DOCTYPE d [<!ENTITY x 'y'>]><domain/>", InvalidInputError, "DOCTYPE or entity"),
        ("<launchSecurity type='sev-snp'/>", InvalidInputError, "must be a libvirt <domain>"),
        ("<domain><vcpu>0</vcpu></domain>", InvalidInputError, "vCPU count from 1 to 4096"),
        ("<domain><vcpu current='x'>2</vcpu></domain>", InvalidInputError, "vCPU count"),
        ("<domain><vcpu>1</vcpu><vcpu>2</vcpu></domain>", InvalidInputError, "appears more than once"),
        ("<domain><vcpu current='8'>4</vcpu></domain>", InvalidInputError, "more than the 4 of <vcpu>"),
        ("<domain><launchSecurity type='sev'/></domain>", ConfigError, "snpmeasure reads sev-snp here"),
        ("<domain>" * 3, InvalidInputError, "is not well-formed XML"),
        ("<domain>" + "<a>" * 100000 + "</a>" * 100000 + "</domain>", InvalidInputError, ""),
    ],
)
def test_hostile_or_wrong_domains_are_named(text: str, error: type, fragment: str) -> None:
    if fragment == "":  # a deep document without the elements read is a domain of libvirt's defaults
        dom = parse_domain(text)
        assert dom.vcpus == 1 and dom.vcpu_type == "qemu64" and fragment == ""
        return
    with pytest.raises(error) as exc:
        parse_domain(text)
    assert fragment in str(exc.value)


@pytest.mark.parametrize("cpu", ["", "<cpu mode='custom'><topology sockets='1' cores='2' threads='1'/></cpu>"])
def test_libvirts_defaults_are_one_vcpu_and_qemu64(cpu: str) -> None:
    """No <vcpu> is one (virDomainVcpuParse); no <cpu>, or a custom one without <model>, is QEMU's
    default CPU (qemuDomainDefSetDefaultCPU; libvirt's SNP test data runs -cpu qemu64)."""
    kw = parse_domain(f"<domain><os firmware='efi'/>{cpu}{SNP}</domain>").measure_kwargs()
    assert kw["vcpus"] == 1 and kw["vcpu_type"] == "qemu64" and "ovmf" not in kw  # libvirt chooses it


def test_host_cpu_modes_leave_the_signature_open() -> None:
    dom = parse_domain(f"<domain><os firmware='efi'/><cpu mode='host-passthrough'/>{SNP}</domain>")
    assert dom.cpu_mode == "host-passthrough" and dom.vcpu_type is None and "vcpu_type" not in dom.measure_kwargs()
    with pytest.raises(InvalidInputError, match="HOSTPATH=LOCALPATH"):
        parse_path_map(["=/x"])
    assert parse_path_map(["OVMF.fd=/x"]) == [("OVMF.fd", "/x")]  # a command line's relative -bios


def test_path_map_takes_a_dict_pairs_or_flag_strings() -> None:
    """The Python API takes the path map as a dict, (host, local) pairs or --path-map's strings,
    each the same; anything else is an InvalidInputError naming path_map."""
    xml = "<domain><os><loader>/fw/OVMF.fd</loader><kernel>/boot/vmlinuz</kernel></os></domain>"
    want = ("/local/OVMF.fd", "/copies/vmlinuz")
    for path_map in (
        {"/fw/OVMF.fd": "/local/OVMF.fd", "/boot": "/copies"},
        [("/fw/OVMF.fd", "/local/OVMF.fd"), ("/boot", "/copies")],
        ["/fw/OVMF.fd=/local/OVMF.fd", "/boot=/copies"],
    ):
        d = parse_domain(xml, path_map=path_map)
        assert (d.loader, d.kernel) == want
    # pairs as given: lists (from JSON) too, a host path with "=", a relative one (-bios OVMF.fd)
    from snpmeasure.libvirt import path_pairs

    pairs = [["/srv/img=v2/OVMF.fd", "/local/OVMF.fd"], ("OVMF.fd", "/here/OVMF.fd")]
    assert path_pairs(pairs) == [("/srv/img=v2/OVMF.fd", "/local/OVMF.fd"), ("OVMF.fd", "/here/OVMF.fd")]
    for bad in ("/fw=/x", [("/fw",)], [("/fw", 1)], {"": "/x"}, ["/fw"], 7):
        with pytest.raises(InvalidInputError, match="^path_map: "):
            parse_domain(xml, path_map=bad)  # type: ignore[arg-type]


def test_element_text_is_read_as_libvirt_reads_it() -> None:
    """virXPathString: the text verbatim (QEMU gets -append " console=ttyS0 " and hashes the
    spaces), an empty element is none; QEMU's base64 decoder refuses whitespace in a blob."""
    spaced = parse_domain(DOMAIN.replace("<cmdline>console=ttyS0</cmdline>", "<cmdline> console=ttyS0 </cmdline>"))
    assert spaced.cmdline == " console=ttyS0 " and spaced.measure_kwargs()["append"] == " console=ttyS0 "
    assert parse_domain(DOMAIN.replace("<cmdline>console=ttyS0</cmdline>", "<cmdline/>")).cmdline is None
    empty = parse_domain(DOMAIN.replace("<policy>", "<hostData></hostData><policy>"))
    assert empty.guest is not None and empty.guest.host_data is None
    host = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    padded = DOMAIN.replace("<policy>", f"<hostData>\n  {host}\n</hostData><policy>")
    with pytest.raises(InvalidInputError, match="host-data"):
        parse_domain(padded)
    assert parse_domain(DOMAIN.replace("<policy>", f"<hostData>{host}</hostData><policy>")).guest is not None


def test_a_domain_without_firmware_boots_seabios() -> None:
    """No <loader> path and no firmware='efi': libvirt passes no firmware option and QEMU loads
    SeaBIOS, which boots no SNP guest (refused); firmware='efi' leaves the choice to libvirt."""
    with pytest.raises(ConfigError, match="^<os>: has neither a <loader> path nor firmware='efi'"):
        parse_domain(f"<domain><os><type>hvm</type></os>{SNP}</domain>").measure_kwargs()
    with pytest.raises(ConfigError, match="^<os>: has neither"):
        parse_domain(f"<domain>{SNP}</domain>").measure_kwargs()
    dom = parse_domain(f"<domain><os firmware='efi'><loader stateless='yes'/></os>{SNP}</domain>")
    assert dom.firmware == "efi" and "ovmf" not in dom.measure_kwargs()


@pytest.mark.parametrize(
    "domain, where, said",
    [
        (f"<domain type='qemu'><os firmware='efi'/>{SNP}</domain>", "<domain type>", "KVM only"),
        (
            f"<domain type='kvm'><os firmware='efi'><type arch='aarch64'>hvm</type></os>{SNP}</domain>",
            "<os><type arch>",
            "SEV-SNP guests are x86_64",
        ),
        (
            "<domain type='kvm'><os firmware='efi'><cmdline>x</cmdline></os></domain>",
            "<os><cmdline>",
            "without <kernel>",
        ),
        ("<domain type='kvm'><os firmware='efi'><initrd>/i</initrd></os></domain>", "<os><initrd>", "without <kernel>"),
    ],
)
def test_a_domain_qemu_would_not_run_is_refused(domain: str, where: str, said: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_domain(domain)
    assert exc.value.field == f"domain: {where}" and said in exc.value.rule
