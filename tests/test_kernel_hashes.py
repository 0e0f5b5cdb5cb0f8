"""snpmeasure.kernel_hashes: the SEV hashes table, streamed and bounded; which input error comes first."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from snpmeasure import measure
from snpmeasure.errors import InvalidInputError
from snpmeasure.images import FirmwareImage

from .builders.hostile import A
from .builders.measure_cases import EMPTY
from .builders.ovmf import build_image

pytestmark = [pytest.mark.sanitize]


def test_two_gib_sparse_initrd_streams(tmp_path: Path) -> None:
    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.truncate(2 << 30)  # sparse: reads as zeros, no disk used
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(mode="snp", ovmf=A, vcpus=1, vcpu_type="EPYC-v4", kernel=EMPTY, initrd=initrd, describe_inputs=True)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024, grown_kib
    assert m.inputs["initrd"]["size"] == 2 << 30


def test_huge_kernel_hashes_section_is_bounded() -> None:
    """The kernel-hashes section is measured as its table page(s) plus zero pages filled in C."""
    img = build_image(size=0x4000, sections=[(0x1000, 0xF0000000, 0x10)], hash_table=(0x1C00, 0x400))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    m = measure(mode="snp", ovmf=FirmwareImage(img, name="huge"), vcpus=1, vcpu_type="EPYC-v4", kernel=EMPTY)
    assert len(m.digest) == 48
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


@pytest.mark.parametrize("offset", [0x000, 0xC00, 0xF60])  # 0xF60: the table crosses into the next page
def test_kernel_hashes_section_equals_a_full_buffer(offset: int) -> None:
    from snpmeasure import LaunchDigest
    from snpmeasure.kernel_hashes import KernelHashes

    size = 0x4000
    img = build_image(size=0x4000, sections=[(0x10000, size, 0x10)], hash_table=(0x10000 + offset, 0x400))
    image = FirmwareImage(img, name="k")
    got = measure(mode="snp", ovmf=image, vcpus=1, vcpu_type="EPYC-v4", kernel=EMPTY, append="x")
    hashes = KernelHashes.from_inputs(kernel=EMPTY, append="x")
    assert hashes is not None
    d = LaunchDigest()
    d.update_normal(image.gpa, image.data)
    d.update_normal(0x10000, hashes.section(offset, size))  # QEMU's whole zeroed section with the table
    assert (
        got.trace is None
        and measure(mode="snp", ovmf=image, vcpus=1, vcpu_type="EPYC-v4", kernel=EMPTY, append="x", trace=True)
        .trace[-2]
        .digest
        == d.digest()
    )  # type: ignore[index]


def test_non_utf8_append_hashes_the_argument_bytes() -> None:
    import hashlib

    raw = b"console=\xff\xfe"
    text = os.fsdecode(raw)  # how Python hands such an argv entry to us
    m = measure(mode="snp", ovmf=A, vcpus=1, vcpu_type="EPYC-v4", kernel=EMPTY, append=text)
    want = measure(
        mode="snp",
        ovmf=A,
        vcpus=1,
        vcpu_type="EPYC-v4",
        kernel=EMPTY,
        append_hash=hashlib.sha256(raw + b"\0").hexdigest(),
    )
    assert m.digest == want.digest


def test_kernel_and_initrd_hashes_and_which_error_comes_first(tmp_path: Path) -> None:
    """Both files are hashed at once (the kernel on a thread that moves to another CPU): the
    digests are the files' SHA-256, and a missing kernel is reported before a missing initrd."""
    import hashlib

    from snpmeasure.kernel_hashes import KernelHashes

    kernel, initrd = tmp_path / "bzImage", tmp_path / "initrd"
    kernel.write_bytes(os.urandom(3 << 20))
    initrd.write_bytes(os.urandom((5 << 20) + 7))
    before = os.sched_getaffinity(0)
    h = KernelHashes.from_inputs(kernel=kernel, initrd=initrd, append="console=ttyS0")
    assert h is not None and os.sched_getaffinity(0) == before
    assert h.kernel == hashlib.sha256(kernel.read_bytes()).digest()
    assert h.initrd == hashlib.sha256(initrd.read_bytes()).digest()
    for k, i, field in (
        (tmp_path / "no-k", tmp_path / "no-i", "kernel"),
        (kernel, tmp_path / "no-i", "initrd"),
        (tmp_path / "no-k", initrd, "kernel"),
    ):
        with pytest.raises(InvalidInputError) as exc:
            KernelHashes.from_inputs(kernel=k, initrd=i)
        assert exc.value.field == field


def test_an_initrd_qemu_would_refuse_as_too_large_is_refused(tmp_path: Path) -> None:
    """QEMU's x86 loader refuses an initrd of UINT32_MAX bytes or more; a regular file is refused
    by its size before a byte is read, with or without a kernel file hashed beside it."""
    from snpmeasure import kernel_hashes
    from snpmeasure.kernel_hashes import INITRD_MAX_SIZE, KernelHashes

    initrd = tmp_path / "initrd.img"
    with open(initrd, "wb") as f:
        f.truncate(INITRD_MAX_SIZE + 1)  # sparse
    for kernel in (EMPTY, None):
        with pytest.raises(InvalidInputError) as exc:
            KernelHashes.from_inputs(
                kernel=kernel, kernel_hash=None if kernel else "00" * 32, initrd=initrd, append=None
            )
        assert exc.value.field == "initrd" and f"longer than {INITRD_MAX_SIZE} bytes" in str(exc.value)
        assert "QEMU refuses an initrd of 4 GiB - 1 or more" in str(exc.value)
    assert kernel_hashes.sha256_file(initrd, "initrd", limit=INITRD_MAX_SIZE + 1)  # the limit is inclusive


def test_an_endless_initrd_pipe_stops_at_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe cannot be sized: it is read up to the limit (here made small), then refused."""
    import threading

    from snpmeasure import kernel_hashes

    monkeypatch.setattr(kernel_hashes, "INITRD_MAX_SIZE", 3 << 20)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    stop = threading.Event()

    def endless() -> None:
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(bytes(1 << 20))
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=endless)
    writer.start()
    try:
        with pytest.raises(InvalidInputError) as exc:
            kernel_hashes.KernelHashes.from_inputs(kernel=EMPTY, initrd=fifo)
    finally:
        stop.set()
        writer.join()
    assert exc.value.field == "initrd" and f"longer than {3 << 20} bytes" in str(exc.value)
