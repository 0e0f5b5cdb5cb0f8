"""`snpmeasure table`: its progress bar."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.differential, pytest.mark.sanitize]


def test_progress_bar_only_on_a_terminal_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    from snpmeasure.cli._args import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    bar = ProgressBar(True)
    bar(1, 4)
    assert err.getvalue() == ""  # within the first second: silent
    bar.t0 -= 2
    bar(2, 4)
    bar.close()
    assert "2/4" in err.getvalue() and err.getvalue().endswith("\n")
    quiet = ProgressBar(False)
    quiet.t0 -= 2
    quiet(3, 4)
    assert "3/4" not in err.getvalue()
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    off = ProgressBar(True)
    off.t0 -= 2
    off(1, 2)
    assert plain.getvalue() == ""
