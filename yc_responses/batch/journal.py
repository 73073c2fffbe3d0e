"""A crash-safe journal of the runs of a batch, in one SQLite file (the only module that
touches SQLite).

Every input of a batch gets a row, written *before* its run is submitted and again
after every change, each write committed to disk before the next request goes out
(the writes of one scheduler step in one transaction: :meth:`Journal.group`). After a crash (even
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

A journal is held by one process at a time: an exclusive ``flock`` on the side
file ``PATH.lock`` (it holds the holder's pid), taken when the journal is opened
and let go when it is closed or the process ends, however it ends. A SQLite file
that is not a journal is refused before anything is written to it.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from yc_responses.errors import YCResponsesError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: journals are not locked there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "SUBMITTING",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalInUseError",
    "JournalMismatchError",
]

SUBMITTING = "submitting"
"""The state of an input between "about to send" and "the service answered with an id"."""

APPLICATION_ID = 0x79637273  # "ycrs"
"""``PRAGMA application_id`` of every journal: what tells a journal from other SQLite files."""

_COLUMNS = ("key", "position", "fingerprint", "run_id", "status", "result", "updated_at")

_SCHEMA = f"""
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
PRAGMA application_id = {APPLICATION_ID};
"""


class JournalError(YCResponsesError, sqlite3.DatabaseError):
    """A journal file cannot be used as one; the message says what to do instead.

    It is also a ``sqlite3.DatabaseError``, what opening a bad journal raised
    before, so ``except sqlite3.DatabaseError`` written for that keeps working.
    """


class JournalMismatchError(JournalError):
    """The journal was written for other inputs than the ones given now."""


class JournalInUseError(JournalError):
    """Another process has the journal open (its batch is running); ``pid`` names it."""

    def __init__(self, path: str, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"the journal {path!r} is in use by another batch ({holder}): wait for it to "
            "end, or give this batch another journal file"
        )


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


def check_entry(
    entry: JournalEntry | None, fingerprint: str, *, path: str, where: str = ""
) -> JournalEntry | None:
    """``entry`` unchanged; :class:`JournalMismatchError` if it was written for another
    input (``where`` adds to the message where that input is)."""
    if entry is not None and entry.fingerprint != fingerprint:
        raise JournalMismatchError(
            f"the journal {path!r} holds another input under key {entry.key!r}{where}: "
            "resume with the same inputs, options and folder, or start a new journal file"
        )
    return entry


class Journal:
    """A batch's journal in the SQLite file at ``path`` (created when missing).

    Each method is one committed transaction (``synchronous=FULL`` in WAL mode):
    once it returns, the row survives a crash of the process or the machine; inside
    :meth:`group`, once the group ends.
    Safe to share between threads; one process at a time (:class:`JournalInUseError`).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "batch.sqlite"
    >>> with Journal(path) as journal:
    ...     journal.submitting("0", position=0, fingerprint="f")
    ...     journal.entry("0").is_ambiguous
    True
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._grouped = False
        _check_file(self.path)
        _peek(self.path)  # a file that is no journal is refused before a lock file is made
        self._lock_fd = _hold(self.path)
        try:
            self._db = self._open()
        except BaseException:
            os.close(self._lock_fd)
            raise

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None
        try:
            _refuse_foreign(db, self.path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except BaseException as exc:
            db.close()
            if isinstance(exc, sqlite3.Error):
                raise _unusable(self.path, exc) from None
            raise
        return db

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
        """Close the file and let another process open it."""
        with self._lock:
            if self._lock_fd < 0:
                return
            self._db.close()
            os.close(self._lock_fd)
            self._lock_fd = -1

    def entry(self, key: str) -> JournalEntry | None:
        """The row of ``key``, or ``None`` when the input was never started."""
        rows = self._read(
            "SELECT key, position, fingerprint, run_id, status, result FROM runs WHERE key = ?",
            (key,),
        )
        return JournalEntry(*rows[0]) if rows else None

    def entries(self) -> Iterator[JournalEntry]:
        """Every row, in input order."""
        rows = self._read(
            "SELECT key, position, fingerprint, run_id, status, result FROM runs ORDER BY position"
        )
        return (JournalEntry(*row) for row in rows)

    def counts(self) -> dict[str, int]:
        """How many inputs are in each status."""
        return dict(self._read("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def check(self, key: str, fingerprint: str) -> JournalEntry | None:
        """The row of ``key``; raise :class:`JournalMismatchError` if its input changed."""
        return check_entry(self.entry(key), fingerprint, path=self.path)

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

    @contextmanager
    def group(self) -> Iterator[None]:
        """Make every write inside one transaction, committed on the way out (also when
        an exception leaves: each row is whole). Other threads' writes wait meanwhile.

        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "batch.sqlite"
        >>> with Journal(path) as journal, journal.group():
        ...     journal.submitting("0", position=0, fingerprint="f")
        ...     journal.submitted("0", run_id="resp_1", status="queued")
        """
        with self._lock:
            if self._grouped or self._lock_fd < 0:
                yield
                return
            self._execute("BEGIN IMMEDIATE", ())
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False
                self._execute("COMMIT", ())

    def _update(self, key: str, assignments: str, values: tuple[object, ...]) -> None:
        changed = self._write(
            f"UPDATE runs SET {assignments}, updated_at = ? WHERE key = ?",  # noqa: S608
            (*values, time.time(), key),
        )
        if changed != 1:
            raise KeyError(f"no journal row for key {key!r}")

    def _write(self, sql: str, values: tuple[object, ...]) -> int:
        with self._lock:
            return self._execute(sql, values).rowcount

    def _execute(self, sql: str, values: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, values)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None

    def _read(self, sql: str, values: tuple[object, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, values).fetchall()
            except sqlite3.Error as exc:
                raise _unusable(self.path, exc) from None


def _check_file(path: str) -> None:
    """Refuse, before touching anything, a path that cannot hold a journal."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise JournalError(f"the folder of the journal {path!r} does not exist: create it first")
    if not _writable(folder):
        raise JournalError(
            f"the folder {folder!r} is read-only, and a journal needs to write next to its "
            "file: choose a journal path in a writable folder"
        )
    if not os.path.lexists(path):
        return
    if not os.path.isfile(path):
        raise JournalError(f"the journal {path!r} is not a regular file: choose another path")
    if not os.access(path, os.R_OK):
        raise JournalError(
            f"the journal {path!r} cannot be read: give yourself read and write permission "
            "(chmod u+rw), or choose another journal path"
        )
    if not _writable(path):
        raise JournalError(
            f"the journal {path!r} is read-only: give yourself write permission (chmod u+w), "
            "or copy it and give the copy as the journal"
        )


def _writable(path: str) -> bool:
    """Writable by us, and by someone at all (as root, access() says yes to everything)."""
    mode = os.stat(path).st_mode
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _hold(path: str) -> int:
    """Lock ``PATH.lock`` for this process (it dies with the process), writing our pid in it."""
    lock_path = f"{path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise JournalError(
            f"the journal's lock file {lock_path!r} cannot be opened ({exc.strerror}): "
            "choose a journal path in a folder you can write to"
        ) from None
    if fcntl is None:  # pragma: no cover
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        raise JournalInUseError(path, int(holder) if holder.isdigit() else None) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _peek(path: str) -> None:
    """Read-only: raise :class:`JournalError` if the file at ``path`` is no journal."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    try:
        db = sqlite3.connect(f"{pathlib.Path(path).absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from None
    try:
        _refuse_foreign(db, path)
    except sqlite3.Error as exc:
        raise _unusable(path, exc) from None
    finally:
        db.close()


def _refuse_foreign(db: sqlite3.Connection, path: str) -> None:
    """Raise :class:`JournalError` unless ``db`` is empty or a journal (nothing is written)."""
    (application_id,) = db.execute("PRAGMA application_id").fetchone()
    if application_id == APPLICATION_ID:
        return
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables and application_id == 0:
        return  # a new file
    columns = tuple(row[1] for row in db.execute("PRAGMA table_info(runs)"))
    if tables == {"runs"} and columns == _COLUMNS and application_id == 0:
        return  # a journal written before journals were marked: marked now
    what = f"tables {', '.join(sorted(tables))}" if tables else "no tables"
    raise JournalError(
        f"{path!r} is a SQLite database but not a batch journal ({what}); it was left "
        "untouched: give the batch a new journal file"
    )


def _unusable(path: str, exc: sqlite3.Error) -> JournalError:
    """One line for what SQLite said about ``path``: what is wrong and what to do."""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return JournalError(f"the journal {path!r} refused a row ({text}): start a new journal")
    if "readonly" in text or "read-only" in text:
        return JournalError(
            f"the journal {path!r} is read-only ({text}): give yourself write permission "
            "to it and its folder, or choose another journal path"
        )
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return JournalError(
            f"{path!r} is not a readable journal ({text}: corrupted, or another kind of file): "
            "move it away and start a new journal, or give the right path"
        )
    return JournalError(
        f"the journal {path!r} cannot be used ({type(exc).__name__}: {text}): check the file "
        "and its folder, or choose another journal path"
    )
