"""The `snpmeasure` command as a whole: dispatch, exit codes, one-line errors for bad and hostile input, start-up that stays light, and help on every flag."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import pytest

from ..builders.cli_inputs import KEY, OBJ, OVMF, VERIFY
from ..builders.hostile import A
from ..builders.measure_cases import PEER
from ..support import FIXTURES, run_ours

#: measure one vCPU of an EPYC from the test firmware: the flags a case adds come after it
MEASURE_ONE = ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF]


@pytest.mark.parametrize(
    "argv,fragment",
    [
        # report verify: measure flags without --mode would verify no measurement at all
        (
            VERIFY + ["--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", OVMF],
            "--mode: is required to check the measurement",
        ),
        (VERIFY + ["--ovmf", "/nonexistent"], "--mode: is required"),
        # expectations no report can meet are bad input
        (VERIFY + ["--expect-vmpl", "4"], "--expect-vmpl: must be an int from 0 to 3"),
        (VERIFY + ["--expect-vmpl", "-1"], "--expect-vmpl: must be an int from 0 to 3"),
        (VERIFY + ["--expect-guest-svn", "4294967296"], "--expect-guest-svn: must be an int from 0 to 4294967295"),
        (VERIFY + ["--min-tcb", "snp=256"], "--min-tcb: snp must be an SVN from 0 to 255"),
        (VERIFY + ["--min-tcb", "foo=1"], "--min-tcb: unknown TCB component 'foo'"),
        # a report argument that is neither a file nor a report
        (["report", "show", "/nonexistent/report.bin"], "is no file, and not a report as hex or base64 text"),
        # measurement ranges are checked before they are expanded (no MemoryError, no 800 MB first)
        (
            ["measure", "--mode", "snp", "--vcpus", "1-99999999999999999", "--vcpu-type", "EPYC", "--ovmf", OVMF],
            "from 1 to 4096",
        ),
        (["measure", "--mode", "snp", "--vcpus", "1,,2", "--vcpu-type", "EPYC", "--ovmf", OVMF], "comma list"),
        (["table", "--ovmf", OVMF, "--vcpus", "1-20000000", "--vcpu-type", "EPYC", "--quiet"], "from 1 to 4096"),
        # table: lists and the firmware source
        (
            ["table", "--ovmf", OVMF, "--vcpu-type", "EPYC", "--guest-features", "abc", "--quiet"],
            "--guest-features: must be numbers",
        ),
        (["table", "--ovmf", OVMF, "--vcpu-type", "EPYC,", "--quiet"], "--vcpu-type: has an empty item"),
        (["table", "--ovmf", OVMF, "--firmware-manifest", OVMF, "--vcpu-type", "EPYC"], "one of them"),
        # policy: values and host flags
        (["policy", "decode", ""], "policy: is empty"),
        (["policy", "decode", "smt,,debug"], "has an empty flag"),
        (
            ["policy", "decode", "0x30000", "--firmware-abi", "256.1"],
            "--firmware-abi: must be MAJOR.MINOR with each part 0..255",
        ),
        (["policy", "decode", "0x20000", "--host-smt-off"], "--host-smt-off: describes the host of a firmware"),
        # qemu-object: an object given whole does not take builder flags; --json is QMP
        (["qemu-object", "--object", OBJ, "--policy", "0xb0000"], "--policy: builds an object field by field"),
        (["qemu-object", "--object", OBJ, "--host-data", "hex:00"], "--host-data: builds an object field by field"),
        (["qemu-object", "--object", OBJ, "--json", "--format", "libvirt"], "--json: prints QMP JSON"),
        # id-block: measure flags need --from-measure, and an SNP mode
        (
            ["id-block", "--measurement-hex", "00" * 48, "--id-key", KEY, "--ovmf", "/nonexistent"],
            "--ovmf: describes a guest to measure",
        ),
        (
            ["id-block", "--from-measure", "--mode", "sev", "--ovmf", OVMF, "--id-key", KEY],
            "--mode: invalid choice: 'sev' (choose from 'snp', 'snp:svsm')",
        ),
        # launch: the KVM policy mask is 64 bits
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--kvm-policy-bits",
                "-1",
            ],
            "--kvm-policy-bits: must be a 64-bit mask",
        ),
        # checks that would be skipped: the LAUNCH_MEASURE flags need --tik; two sources for one value
        (
            ["measure", "--mode", "sev", "--ovmf", OVMF, "--launch-measure-blob", "A" * 64],
            "--launch-measure-blob: computes the LAUNCH_MEASURE HMAC",
        ),
        (["measure", "--mode", "sev", "--ovmf", OVMF, "--api-major", "0"], "which needs --tik"),
        (
            [*MEASURE_ONE, "--force"],
            "--force: only lets --dump-vmsa",
        ),
        (["measure", "--list-profiles", "--ovmf", OVMF], "--list-profiles: lists the profiles"),
        (
            [
                "measure",
                "--mode",
                "snp",
                "--vcpus",
                "1-2",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--json",
                "--output-format",
                "base64",
            ],
            "--json: prints every form",
        ),
        (
            [*MEASURE_ONE, "--json", "-v"],
            "--json: prints every form",
        ),
        (
            VERIFY
            + [
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--expect-measurement",
                "00" * 48,
            ],
            "--expect-measurement: the measurement is already set by the measure flags",
        ),
        (VERIFY + ["--policy-at-most"], "--policy-at-most: compares with an expected policy"),
        (VERIFY + ["--min-tcb", "fmc=1"], "--min-tcb: fmc is no TCB component of milan"),
        # numbers beyond 64 bits, and bytes that are not UTF-8
        (["policy", "decode", "0x" + "f" * 5000], "policy: must be a 64-bit unsigned int, got <an int of 20000 bits>"),
        (
            ["measure", "--mode", "snp", "--vcpus", "1", "--ovmf", OVMF, "--vcpu-sig", "0x" + "f" * 5000],
            "got <an int of 20000 bits>",
        ),
        (
            [*MEASURE_ONE, "--guest-features", "0x" + "f" * 5000],
            "got <an int of 20000 bits>",
        ),
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--kvm-policy-bits",
                "0x" + "f" * 5000,
            ],
            "--kvm-policy-bits: must be a 64-bit mask",
        ),
        (
            ["measure", "--mode", "snp", "--vcpus", "1-2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--policy", "1"],
            "--policy: is an input of the SEV/SEV-ES LAUNCH_MEASURE HMAC (modes sev and seves, with --tik); an SNP",
        ),
        (
            ["measure", "--mode", "snp", "--vcpus", "1,2", "--vcpu-type", "EPYC", "--ovmf", OVMF, "--force"],
            "--force: only lets",
        ),
        (["qemu-object", "--object", OBJ, "--cbitpos", "0"], "--cbitpos: is 0, but the object says 51"),
        (["qemu-object", "--id", "", "--reduced-phys-bits", "1"], "id: Parameter 'id' expects an identifier"),
        (["id-block", "--measurement-hex", "00", "--id-key", KEY], "--measurement-hex: must be 48 bytes"),
        (
            ["id-block", "--measurement-hex", "00" * 48, "--id-key", KEY, "--author-key", "/nonexistent.pem"],
            "--author-key: /nonexistent.pem",
        ),
        (VERIFY + ["--min-tcb", "snp=\u00b2"], "--min-tcb: must be component=N"),
        (["report", "show", "\udcff"], "report: '\\udcff' is no file"),
        # options that would be silently ignored
        (
            [
                "launch",
                "--object",
                OBJ,
                "--mode",
                "snp",
                "--vcpus",
                "1",
                "--vcpu-type",
                "EPYC",
                "--ovmf",
                OVMF,
                "--no-kvm-checks",
                "--kvm-policy-bits",
                "0",
            ],
            "--kvm-policy-bits: is one of KVM's checks",
        ),
        (
            ["id-block", "--from-measure", "--mode", "snp:ovmf-hash", "--ovmf", OVMF, "--id-key", KEY],
            "--mode: invalid choice: 'snp:ovmf-hash'",
        ),
        (
            ["qemu-object", "--id", "a", "--reduced-phys-bits", "1", "--cbitpos", "99"],
            "cbitpos: must fit CPUID 0x8000001F EBX[5:0]",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(argv: List[str], fragment: str) -> None:
    rc, out, err = run_ours(argv)
    assert rc == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert fragment in err, err
    # one prefix form: argparse's prog, the command and its action (report verify, policy decode)
    command = " ".join(argv[:2]) if argv[0] in ("report", "policy") else argv[0]
    assert err.startswith(f"snpmeasure {command}: error: "), err
    _no_python_names(err)


def _no_python_names(err: str) -> None:
    """A CLI error names the flag the user typed, never the library's argument name."""
    import re

    field = err.split(": error: ", 1)[-1].split(": ", 1)[0]
    assert not re.fullmatch(r"[a-z0-9]+(?:_[a-z0-9]+)+", field), err
    assert "=True" not in err, err


@pytest.mark.parametrize(
    "argv,said",
    [
        (["--kernel-hash", "12"], "--kernel-hash: must be a SHA-256"),
        (["--vcpu-type", "Foo"], "--vcpu-type: unknown CPU model"),
        (["--vmm-type", "xx"], "--vmm-type: unknown VMM type"),
        (["--snp-ovmf-hash", "zz"], "--snp-ovmf-hash: must be a 48-byte launch digest as 96 hex digits"),
        (["--firmware-manifest", "m.json"], "--firmware-manifest: give the firmware image or its manifest"),
        (["--initrd-hash", "00" * 32], "--initrd-hash: needs a kernel (--kernel or --kernel-hash)"),
        (["--vcpu-sig", "0xa00f11"], "--vcpu-type: is EPYC (signature 0x800f12), but --vcpu-sig gives"),
        (
            ["--vcpu-family", "25", "--vcpu-model", "1", "--vcpu-stepping", "0"],
            "but --vcpu-family/--vcpu-model/--vcpu-stepping gives signature 0xa00f10",
        ),
    ],
)
def test_measure_errors_name_flags(argv: List[str], said: str) -> None:
    """#17 item 6: flag names, not Python names, in CLI errors."""
    cpu = [] if "--vcpu-type" in argv else ["--vcpu-type", "EPYC"]  # a flag is given once
    rc, _, err = run_ours(["measure", "--mode", "snp", "--vcpus", "1", *cpu, "--ovmf", OVMF, *argv])
    assert rc == 2 and said in err, err
    _no_python_names(err)


@pytest.mark.parametrize(
    "argv,said",
    [
        (["measure", "--mode", "snp", "--vcpu-type", "EPYC", "--ovmf", OVMF], "--vcpus: is required in mode 'snp'"),
        (
            ["measure", "--mode", "snp:svsm", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", OVMF],
            "--svsm: is required in snp:svsm mode",
        ),
        (["explain", "--measurement", "00" * 48, "--vcpus", "1"], "--ovmf: give the firmware image or its manifest"),
        (
            ["explain", "--measurement", "00" * 48, "--mode", "snp:svsm", "--ovmf", OVMF],
            "--svsm: is required in snp:svsm mode",
        ),
    ],
)
def test_a_missing_value_is_named_by_its_flag(argv: List[str], said: str) -> None:
    """A library argument nothing gave is said as the flag that gives it (the fix)."""
    rc, _, err = run_ours(argv)
    assert rc == 2 and said in err and err.count("\n") == 1, err
    _no_python_names(err)


@pytest.mark.sanitize
@pytest.mark.parametrize(
    "argv",
    [
        ["qemu-object", "--object", "sev-snp-guest,id=a,host-data=@@@"],
        [
            "launch",
            "--qmp",
            str(FIXTURES / "vectors.json"),
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--ovmf",
            str(A),
        ],
        ["report", "show", str(A)],
        ["policy", "decode", "smt,,nonsense"],
        [
            "measure",
            "--mode",
            "snp",
            "--vcpus",
            "1",
            "--vcpu-type",
            "EPYC-v4",
            "--firmware-manifest",
            str(FIXTURES / "vectors.json"),
        ],
        ["id-block", "--measurement-hex", "00" * 48, "--id-key", str(FIXTURES / "vectors.json")],
        ["qemu-object", "--host-data", "@/nonexistent/file"],
    ],
)
def test_cli_hostile_input_exits_2_with_one_line(argv: list) -> None:
    rc, out, err = run_ours(argv)
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.sanitize
@pytest.mark.parametrize("content", [b"\xff\xfe{", b"[" * 100000, b'{"a": ' * 50000])
def test_hostile_json_files_exit_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    base = ["--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC-v4"]
    for argv in (
        ["measure", *base, "--ovmf", str(A), "--profile-file", str(bad)],
        ["measure", *base, "--firmware-manifest", str(bad)],
        ["launch", "--qmp", str(bad), *base, "--ovmf", str(A)],
        ["launch", "--libvirt", str(bad), *base, "--ovmf", str(A)],
        ["qemu-object", "--from-id-block", str(bad)],
        ["table", "--firmware-manifest", str(bad), "--vcpu-type", "EPYC-v4"],
    ):
        rc, out, err = run_ours(argv)
        assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.differential
@pytest.mark.sanitize
def test_measure_cli_start_up_stays_light() -> None:
    """Start-up guard (no timing): `import snpmeasure` and an OVMF-only `measure` run load neither
    cryptography nor OpenSSL's hashlib backend, and build no other subcommand's parser."""
    import subprocess

    code = (
        "import sys, io, contextlib\n"
        "import snpmeasure\n"
        "assert 'cryptography' not in sys.modules\n"
        "from snpmeasure import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = cli.main(['measure', '--mode', 'snp', '--vcpus', '2', '--vcpu-type', 'EPYC-v4', '--ovmf', {str(PEER / 'svsm_ovmf.fd')!r}])\n"
        "assert rc == 0, rc\n"
        "print(sorted(m for m in ('cryptography', '_hashlib', 'snpmeasure.blobs', 'snpmeasure.report') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_every_flag_of_every_command_has_help() -> None:
    import argparse

    from snpmeasure.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "snpmeasure")
    assert not missing, missing


def test_bare_snpmeasure_lists_the_commands() -> None:
    from snpmeasure.cli import COMMANDS

    rc, out, err = run_ours([])
    assert rc == 2 and out == "" and err.count("\n") == 1  # a usage error: one line, naming the commands
    for name in COMMANDS:
        assert name in err


@pytest.mark.parametrize(
    "argv, prefix",
    [
        (["measure", "--bogus"], "snpmeasure measure"),
        (["report", "verify", "--bogus", "r.bin"], "snpmeasure report verify"),
        (["igvm", "show", "--bogus", "x"], "snpmeasure igvm show"),
        (["--bogus"], "snpmeasure"),
    ],
)
def test_unknown_flags_are_named_with_their_command(argv: List[str], prefix: str) -> None:
    """argparse says unrecognized arguments from the top-level parser; ours names the command."""
    rc, out, err = run_ours(argv)
    assert (rc, out) == (2, "")
    assert err == f"{prefix}: error: unrecognized arguments: --bogus\n"


def test_a_run_imports_only_its_commands_module() -> None:
    """The dispatch table imports the running command's module and no other command's."""
    import subprocess
    import sys

    from snpmeasure.cli import COMMANDS

    code = (
        "import sys, io, contextlib\n"
        "from snpmeasure import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main(['policy', 'decode', '0x30000']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('snpmeasure.cli.') and not m.split('.')[-1].startswith('_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['snpmeasure.cli.policy']", out
    assert all(module.isidentifier() for module, _ in COMMANDS.values())


def test_every_command_prints_json() -> None:
    """--json is a flag of every command (and of each action of policy and report)."""
    import argparse

    from snpmeasure.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        actions = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        parsers = list(actions[0].choices.values()) if actions else [command]
        for p in parsers:
            assert any("--json" in a.option_strings for a in p._actions), f"{name} has no --json"


def test_more_errors_name_flags(tmp_path: Path) -> None:
    missing = str(tmp_path / "nonexist.json")
    rc, _, err = run_ours(
        ["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--firmware-manifest", missing]
    )
    assert rc == 2 and err == f"snpmeasure measure: error: --firmware-manifest: {missing}: No such file or directory\n"
    rc, _, err = run_ours(["table", "--ovmf", OVMF, "--vcpu-type", "EPYC", "--profile-file", missing])
    assert rc == 2 and err == f"snpmeasure table: error: --profile-file: {missing}: No such file or directory\n"
    # a QEMU property given as the flag of its name: the flag, and QEMU's own words after it
    rc, _, err = run_ours(["qemu-object", "--reduced-phys-bits", "0"])
    assert rc == 2 and err.startswith(
        "snpmeasure qemu-object: error: --reduced-phys-bits: reduced_phys_bits check failed"
    )


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["table", "--ovmf", OVMF, "--quiet", "--vcpus", "1", "--vcpu-type", "0x100000000"],
            "--vcpu-type: '0x100000000'",
        ),
        (
            ["table", "--ovmf", OVMF, "--quiet", "--vcpus", "1", "--vcpu-type", "EPYC", "--profile", "qemu,qemu"],
            "--profile: ",
        ),
        (["policy", "decode", "abi=256.0"], "policy: abi 256.0: MAJOR and MINOR are from 0 to 255"),
        (["policy", "decode", "abi=1.\u0665"], "policy: abi must be MAJOR.MINOR"),
        (["policy", "encode", "--abi-major", "\u0663"], "argument --abi-major: invalid int value"),
        (
            ["measure", "--mode", "snp", "--vcpus", "\u0662", "--vcpu-type", "EPYC", "--ovmf", OVMF],
            "--vcpus: must be a whole",
        ),
        (
            [*MEASURE_ONE, "--guest-features", "\uff11"],
            "--guest-features: invalid number",
        ),
    ],
)
def test_errors_name_the_flag_of_the_command_that_ran(argv: List[str], said: str) -> None:
    """The flag the user gave (not another action's, not a Python name); numbers in ASCII digits only
    (Python's int() reads any script's digits, which QEMU and the firmware tools do not)."""
    rc, _, err = run_ours(argv)
    assert rc == 2 and said in err, err
    _no_python_names(err)


def test_a_profile_a_file_defines_is_named_by_its_flag(tmp_path: Path) -> None:
    prof = tmp_path / "p.json"
    prof.write_text('{"base": "svsm", "name": "x"}')
    rc, _, err = run_ours([*MEASURE_ONE, "--profile-file", str(prof)])
    assert rc == 2 and err.endswith("--profile-file: profile 'x' is for mode snp:svsm\n")


def test_a_files_own_error_is_said_after_the_flag_that_gave_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    rc, _, err = run_ours(["measure", "--mode", "snp", "--vcpus", "1", "--vcpu-type", "EPYC", "--ovmf", str(empty)])
    assert rc == 2 and err == f"snpmeasure measure: error: --ovmf: {empty}: image is empty\n"
    rc, _, err = run_ours(["id-block", "--id-key", str(FIXTURES / "keys" / "id_key_test.pem"), "--from-measure"])
    assert rc == 2 and err.endswith("--mode: is required (snp, snp:svsm)\n")  # the modes id-block takes


def test_no_output_replaces_a_file_the_command_reads(tmp_path: Path) -> None:
    """write_files checks the output against every input flag, a report and certificates included."""
    import argparse

    from snpmeasure.cli._args import write_files
    from snpmeasure.errors import InvalidInputError

    report = tmp_path / "report.bin"
    report.write_bytes(b"report")
    for dest in ("report", "vcek", "crl", "config", "reference", "file"):
        args = argparse.Namespace(**{dest: str(report)})
        with pytest.raises(InvalidInputError, match="is the input file|reads") as exc:
            write_files("--output", [(str(tmp_path / "x"), b"x"), (str(report), b"new")], args)
        assert exc.value.field == "--output"
    assert report.read_bytes() == b"report" and not (tmp_path / "x").exists()


def test_write_files_takes_paths_as_the_kernel_reads_them(tmp_path: Path) -> None:
    """A path is written as open() would take it: "x/" and "nodir/../x" name no file to write (their
    text resolves to x, which must not be replaced); a hard-linked file is written in place, so
    both names keep seeing one file."""
    import argparse
    import os

    from snpmeasure.cli._args import write_files
    from snpmeasure.errors import InvalidInputError

    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"kept")
    for path in (f"{kept}/", f"{tmp_path}/nodir/../kept.bin"):
        with pytest.raises(InvalidInputError) as exc:
            write_files("--output", [(path, b"new")], argparse.Namespace(file=str(kept)))
        assert exc.value.field == "--output"
    assert kept.read_bytes() == b"kept"
    link = tmp_path / "link.bin"
    os.link(kept, link)
    write_files("--output", [(str(link), b"both")])
    assert kept.read_bytes() == b"both" and os.path.samefile(kept, link)


def test_write_files_keeps_what_a_file_is(tmp_path: Path) -> None:
    """/dev/stdout (a symlink the kernel follows) is written in place, a pipe too; a file named
    twice is refused; a replaced file keeps its set-user-ID bit (a chown or write clears it)."""
    import os
    import stat
    import subprocess
    import sys

    from snpmeasure.cli._args import write_files
    from snpmeasure.errors import InvalidInputError

    from ..builders.igvm_files import TINY

    key = str(FIXTURES / "keys" / "id_key_test.pem")
    argv = ["igvm", "sign", str(TINY["tiny_x86"]), "--id-key", key, "-o", "/dev/stdout", "--force"]
    done = subprocess.run([sys.executable, "-m", "snpmeasure", *argv], capture_output=True, check=False)
    assert done.returncode == 0 and done.stdout[:4] == b"IGVM", done.stderr
    target = tmp_path / "t.bin"
    target.write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="is written twice"):
        write_files("--output", [(str(target), b"a"), (f"{tmp_path}/./t.bin", b"b")])
    assert target.read_bytes() == b"x"
    os.chmod(target, 0o4755)
    write_files("--output", [(str(target), b"new")])
    assert target.read_bytes() == b"new" and stat.S_IMODE(os.stat(target).st_mode) == 0o4755


def test_write_files_writes_a_pipe_in_place(tmp_path: Path) -> None:
    import os
    import threading

    from snpmeasure.cli._args import write_files

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: List[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_files("--output", [(str(fifo), b"through the pipe")])
    reader.join(10)
    assert got == [b"through the pipe"] and fifo.is_fifo()


def test_write_files_syncs_each_file_before_its_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after the rename must not leave an empty file under the user's name: each temporary
    file reaches the disk before it is renamed, and the folder after."""
    import os

    from snpmeasure.cli._args import write_files

    events: List[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append(f"rename {os.path.basename(dst)}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_files("--output", [(str(tmp_path / "a"), b"A"), (str(tmp_path / "b"), b"B")])
    assert events == ["fsync file", "fsync file", "rename a", "rename b", "fsync dir"]
    assert (tmp_path / "a").read_bytes() == b"A" and (tmp_path / "b").read_bytes() == b"B"


def test_write_files_needs_no_fsync_where_the_file_system_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system without fsync (EINVAL) still gets the file; a disk error at fsync fails the
    write and leaves the old file."""
    import errno
    import os

    from snpmeasure.cli._args import write_files
    from snpmeasure.errors import InputFileError

    failure = [errno.EINVAL]

    def fsync(fd: int) -> None:
        raise OSError(failure[0], os.strerror(failure[0]))

    monkeypatch.setattr(os, "fsync", fsync)
    write_files("--output", [(str(tmp_path / "a"), b"A")])
    assert (tmp_path / "a").read_bytes() == b"A"
    failure[0] = errno.EIO
    with pytest.raises(InputFileError, match="--output"):
        write_files("--output", [(str(tmp_path / "a"), b"new")])
    assert (tmp_path / "a").read_bytes() == b"A" and [p.name for p in tmp_path.iterdir()] == ["a"]
