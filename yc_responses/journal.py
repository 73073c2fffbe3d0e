"""A crash-safe journal of the runs of a batch, in one SQLite file.

Every input of a batch gets a row, written *before* its run is submitted and again
after every change, each write committed to disk on its own. After a crash (even
``kill -9``) the same batch reopens the journal and knows, for every input, whether
it was never sent, sent with a known response id (attach, do not resubmit), or
finished (read the saved result)::

    with Journal("batch.sqlite") as journal:
        entry = journal.entry("0:3f2a...")
        if entry is None:
            journal.submitting("0:3f2a...", position=0, fingerprint="3f2a...")
            ...  # create the run
            journal.submitted("0:3f2a...", run_id="resp_123", status="queued")

An input whose row says ``submitting`` but holds no id was being sent when the
process died: the service may or may not have taken it. The journal never guesses;
the batch reports it (see :attr:`JournalEntry.is_ambiguous`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

from .errors import YCResponsesError

__all__ = ["SUBMITTING", "Journal", "JournalEntry", "JournalMismatchError"]

SUBMITTING = "submitting"
"""The state of an input between "about to send" and "the service answered with an id"."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key         TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    run_id      TEXT,
    status      TEXT NOT NULL,
    result      TEXT,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_position ON runs (position);
"""


class JournalMismatchError(YCResponsesError):
    """The journal was written for other inputs than the ones given now."""


@dataclass(frozen=True)
class JournalEntry:
    """What the journal knows of one input."""

    key: str
    position: int
    fingerprint: str
    run_id: str | None
    status: str
    result: str | None
    """The finished result as JSON text, once there is one."""

    @property
    def is_ambiguous(self) -> bool:
        """Sent (maybe) but no id came back: the service may or may not run it."""
        return self.status == SUBMITTING and self.run_id is None


class Journal:
    """A batch's journal in the SQLite file at ``path`` (created when missing).

    Each method is one committed transaction (``synchronous=FULL`` in WAL mode):
    once it returns, the row survives a crash of the process or the machine.
    Safe to share between threads.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def entry(self, key: str) -> JournalEntry | None:
        """The row of ``key``, or ``None`` when the input was never started."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, position, fingerprint, run_id, status, result FROM runs WHERE key = ?",
                (key,),
            ).fetchone()
        return None if row is None else JournalEntry(*row)

    def entries(self) -> Iterator[JournalEntry]:
        """Every row, in input order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, position, fingerprint, run_id, status, result FROM runs "
                "ORDER BY position"
            ).fetchall()
        return (JournalEntry(*row) for row in rows)

    def counts(self) -> dict[str, int]:
        """How many inputs are in each status."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
        return dict(rows)

    def check(self, key: str, fingerprint: str) -> JournalEntry | None:
        """The row of ``key``; raise :class:`JournalMismatchError` if its input changed."""
        entry = self.entry(key)
        if entry is not None and entry.fingerprint != fingerprint:
            raise JournalMismatchError(
                f"the journal {self.path!r} holds another input under key {key!r}: "
                "resume with the same inputs and options, or start a new journal file"
            )
        return entry

    def submitting(self, key: str, *, position: int, fingerprint: str) -> None:
        """Record, before sending, that ``key`` is about to be submitted."""
        self._write(
            "INSERT INTO runs (key, position, fingerprint, run_id, status, result, updated_at) "
            "VALUES (?, ?, ?, NULL, ?, NULL, ?)",
            (key, position, fingerprint, SUBMITTING, time.time()),
        )

    def submitted(self, key: str, *, run_id: str, status: str) -> None:
        """Record the id the service gave to ``key``'s run."""
        self._update(key, "run_id = ?, status = ?", (run_id, status))

    def status_changed(self, key: str, status: str) -> None:
        """Record the last known status of ``key``'s run."""
        self._update(key, "status = ?", (status,))

    def finished(self, key: str, *, status: str, result: str) -> None:
        """Record the final status and result (JSON text) of ``key``'s run."""
        self._update(key, "status = ?, result = ?", (status, result))

    def forget(self, key: str) -> None:
        """Remove ``key``'s row, so that the next batch submits it again."""
        self._write("DELETE FROM runs WHERE key = ?", (key,))

    def _update(self, key: str, assignments: str, values: tuple[object, ...]) -> None:
        changed = self._write(
            f"UPDATE runs SET {assignments}, updated_at = ? WHERE key = ?",  # noqa: S608
            (*values, time.time(), key),
        )
        if changed != 1:
            raise KeyError(f"no journal row for key {key!r}")

    def _write(self, sql: str, values: tuple[object, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, values).rowcount
