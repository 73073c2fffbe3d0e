"""Every example runs, against the emulator (no YC_* variables are set in tests)."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

EXPECTED = {
    "quickstart.py": ["Plain answer:", "Task sent:", "Status: completed", "Final response:"],
    "async_runs.py": ["longest river of Europe. -> completed:"],
    "cancel_and_attach.py": ["Attached to", "Cancelled: True -> cancelled", "Essay:"],
    "deferred.py": ["Operation:", "Translation:", "Usage:"],
    "batch.py": ["Stopped halfway; the journal holds: {'completed'", "Omsk: Emulated answer"],
}


def test_every_example_is_checked() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    captured = capsys.readouterr()
    for text in EXPECTED[name]:
        assert text in captured.out, captured.out
    assert "using the built-in emulator" in captured.err


def test_the_quickstart_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Final response:" in done.stdout
