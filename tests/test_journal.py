from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import yc_responses
from yc_responses.journal import (
    SUBMITTING,
    Journal,
    JournalError,
    JournalInUseError,
    JournalMismatchError,
)


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


# --- files that cannot be journals ----------------------------------------------------


def _no_raw_sqlite_error(error: BaseException) -> None:
    """One line saying what to do, and no sqlite3 exception behind it."""
    assert "\n" not in str(error)
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None


def test_journal_errors_are_one_family_exported_from_the_package() -> None:
    assert issubclass(JournalMismatchError, JournalError)
    assert issubclass(JournalInUseError, JournalError)
    assert issubclass(JournalError, yc_responses.YCResponsesError)
    assert yc_responses.JournalError is JournalError
    assert yc_responses.JournalInUseError is JournalInUseError


def test_a_journal_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    script = (
        "import sys\n"
        "from yc_responses.journal import Journal\n"
        f"j = Journal({str(path)!r})\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "open\n"
        with pytest.raises(JournalInUseError) as raised:
            Journal(path)
        assert raised.value.pid == holder.pid
        assert f"process {holder.pid}" in str(raised.value)
        _no_raw_sqlite_error(raised.value)
    finally:
        holder.kill()  # the lock dies with its process, however it ends
        holder.wait()
    with Journal(path) as journal:
        assert journal.entries() is not None


def test_a_journal_open_in_this_process_is_in_use_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path)
    with pytest.raises(JournalInUseError) as raised:
        Journal(path)
    assert raised.value.pid == os.getpid()
    first.close()
    with Journal(path) as again:
        again.submitting("k0", position=0, fingerprint="f")


def test_a_database_that_is_not_a_journal_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ann')")
    db.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match=r"not a batch journal \(tables users\).*untouched"):
        Journal(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.sqlite"]  # no WAL, no lock file
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()


def test_a_database_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA application_id = 12345")
    db.close()
    with pytest.raises(JournalError, match="not a batch journal"):
        Journal(path)


def test_a_journal_of_an_earlier_version_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before journals carried their mark
        db.execute(
            "CREATE TABLE runs (key TEXT PRIMARY KEY, position INTEGER NOT NULL, fingerprint "
            "TEXT NOT NULL, run_id TEXT, status TEXT NOT NULL, result TEXT, updated_at REAL "
            "NOT NULL)"
        )
        db.execute("INSERT INTO runs VALUES ('k0', 0, 'f', 'resp_1', 'queued', NULL, 0)")
    db.close()
    with Journal(path) as journal:
        entry = journal.entry("k0")
    assert entry is not None
    assert entry.run_id == "resp_1"


def test_a_corrupted_journal_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 600)
    with pytest.raises(JournalError, match="start a new journal") as raised:
        Journal(path)
    _no_raw_sqlite_error(raised.value)


def test_a_read_only_journal_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.submitting("k0", position=0, fingerprint="f")
    path.chmod(0o444)
    with pytest.raises(JournalError, match=r"read-only.*chmod u\+w") as raised:
        Journal(path)
    _no_raw_sqlite_error(raised.value)


def test_an_unreadable_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    path.chmod(0o000)
    with pytest.raises(JournalError, match="chmod") as raised:
        Journal(path)
    _no_raw_sqlite_error(raised.value)


def test_a_journal_in_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(JournalError, match="writable folder") as raised:
            Journal(folder / "j.sqlite")
        _no_raw_sqlite_error(raised.value)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_a_folder_or_a_missing_folder_is_no_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="not a regular file"):
        Journal(tmp_path)
    with pytest.raises(JournalError, match="does not exist"):
        Journal(tmp_path / "nowhere" / "j.sqlite")


def test_a_group_of_writes_is_on_disk_when_it_ends_even_through_an_exception(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        with journal.group():
            journal.submitting("k0", position=0, fingerprint="f")
            journal.submitted("k0", run_id="resp_1", status="queued")

        def change_two() -> None:
            with journal.group():
                journal.status_changed("k0", "in_progress")
                journal.status_changed("missing", "in_progress")

        with pytest.raises(KeyError):
            change_two()
        other = sqlite3.connect(path)  # another reader sees what the groups committed
        rows = other.execute("SELECT key, run_id, status FROM runs").fetchall()
        other.close()
    assert rows == [("k0", "resp_1", "in_progress")]
