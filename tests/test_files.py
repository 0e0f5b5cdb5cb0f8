"""snpmeasure._files: file inputs are paths (never descriptors), and unreadable files are InputFileError (an Error and an OSError)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

import snpmeasure
import snpmeasure.certs
import snpmeasure.measurement
import snpmeasure.report
import snpmeasure.tables
from snpmeasure import Error, InvalidInputError, blobs
from snpmeasure._files import InputFileError
from snpmeasure.images import FirmwareManifest
from snpmeasure.report import AttestationReport

from .builders.api_inputs import MEASURE


def test_stdout_survives_an_int_path() -> None:
    """open(1) would read the process's stdout and close it: the path check comes first."""
    with pytest.raises(InvalidInputError):
        snpmeasure.measure(**{**MEASURE, "ovmf": 1})
    os.fstat(1)  # still open


@pytest.mark.parametrize("path", ["/nonexistent/ovmf.fd", "/", "a\0b", "x" * 5000])
def test_unreadable_files_are_errors_and_oserrors(path: str) -> None:
    with pytest.raises(Error) as exc:
        snpmeasure.measure(**{**MEASURE, "ovmf": path})
    assert exc.value.field == "ovmf"  # type: ignore[attr-defined]
    if "\0" not in path:
        assert isinstance(exc.value, InputFileError) and isinstance(exc.value, OSError) and exc.value.errno
        assert str(exc.value).startswith("ovmf: ")


@pytest.mark.parametrize(
    "opener",
    [
        lambda p: blobs.load_private_key(p, field_name="id_key"),
        lambda p: FirmwareManifest.load(p),
        lambda p: AttestationReport.from_bytes(Path(p)),
        lambda p: blobs.parse_blob("host-data", "@" + p),
    ],
)
def test_every_file_input_wraps_oserror(opener: Callable[[str], Any], tmp_path: Path) -> None:
    for path in (str(tmp_path / "missing"), str(tmp_path)):
        with pytest.raises(InputFileError):
            opener(path)


def test_a_file_name_with_a_line_break_keeps_the_error_on_one_line() -> None:
    from snpmeasure._files import read_error

    error = read_error("--output", "a\nb", FileNotFoundError(2, "No such file or directory"))
    assert str(error) == "--output: 'a\\nb': No such file or directory" and error.filename == "a\nb"
