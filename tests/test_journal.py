from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from yc_responses.journal import SUBMITTING, Journal, JournalMismatchError


def test_a_run_is_recorded_through_its_lifecycle(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.entry("k0") is None
        journal.submitting("k0", position=0, fingerprint="f0")
        entry = journal.entry("k0")
        assert entry is not None
        assert entry.is_ambiguous
        journal.submitted("k0", run_id="resp_1", status="queued")
        journal.status_changed("k0", "in_progress")
        journal.finished("k0", status="completed", result='{"text": "hi"}')
        entry = journal.entry("k0")
    assert entry is not None
    assert (entry.run_id, entry.status, entry.result) == ("resp_1", "completed", '{"text": "hi"}')
    assert not entry.is_ambiguous


def test_entries_come_in_input_order_and_counts_by_status(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        for position in (2, 0, 1):
            journal.submitting(f"k{position}", position=position, fingerprint="f")
        journal.submitted("k1", run_id="resp_1", status="queued")
        assert [entry.key for entry in journal.entries()] == ["k0", "k1", "k2"]
        assert journal.counts() == {SUBMITTING: 2, "queued": 1}


def test_a_changed_input_is_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.submitting("k0", position=0, fingerprint="old")
        assert journal.check("k0", "old") is not None
        assert journal.check("k9", "anything") is None
        with pytest.raises(JournalMismatchError, match="new journal file"):
            journal.check("k0", "new")


def test_a_key_is_never_started_twice(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.submitting("k0", position=0, fingerprint="f")
        with pytest.raises(Exception, match="UNIQUE"):
            journal.submitting("k0", position=0, fingerprint="f")
        with pytest.raises(KeyError, match="k1"):
            journal.submitted("k1", run_id="r", status="queued")
        journal.forget("k0")
        assert journal.entry("k0") is None


def test_rows_survive_a_killed_process(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        "import os, signal\n"
        "from yc_responses.journal import Journal\n"
        f"j = Journal({str(path)!r})\n"
        "j.submitting('k0', position=0, fingerprint='f')\n"
        "j.submitted('k0', run_id='resp_kept', status='queued')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, env=os.environ.copy())
    assert done.returncode == -9
    with Journal(path) as journal:
        entry = journal.entry("k0")
    assert entry is not None
    assert entry.run_id == "resp_kept"
