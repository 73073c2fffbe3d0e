"""Progress of a batch: :class:`BatchProgress`, the state order, callbacks and the tqdm bar."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .journal import SUBMITTING

__all__ = [
    "ERROR",
    "FINAL_STATES",
    "PENDING",
    "STATE_ORDER",
    "BatchProgress",
    "ProgressCallback",
    "call_progress",
    "ordered",
    "progress_reporter",
]

PENDING = "pending"
"""The state of an input not submitted yet."""
ERROR = "error"
"""The state of an input that ended without a result (see ``BatchError``)."""

STATE_ORDER = (
    "completed",
    "failed",
    "cancelled",
    "incomplete",
    ERROR,
    "in_progress",
    "queued",
    SUBMITTING,
    PENDING,
)
"""Every state of a batch input, the finished ones first: the order counts are shown in."""

FINAL_STATES = frozenset({"completed", "failed", "cancelled", "incomplete", ERROR})
"""The states an input does not leave."""

ProgressCallback = Callable[["BatchProgress"], object]
"""Called with a :class:`BatchProgress` whenever an input changes state."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands: how many inputs are in each state.

    States are ``pending`` (not submitted yet), ``submitting``, ``queued``,
    ``in_progress``, the four terminal statuses, and ``error`` (no result: see
    :class:`BatchError`).

    >>> progress = BatchProgress(total=3, counts={"completed": 2, "in_progress": 1})
    >>> progress.done, str(progress)
    (2, '2/3 done: completed=2 in_progress=1')
    """

    total: int
    counts: Mapping[str, int] = field(default_factory=dict)
    resumed: int = 0
    """How many inputs were found finished or submitted in the journal at the start."""

    @property
    def done(self) -> int:
        """Inputs that will not change any more: a terminal status, or an error."""
        return sum(n for state, n in self.counts.items() if state in FINAL_STATES)

    def __str__(self) -> str:
        counts = " ".join(f"{state}={n}" for state, n in ordered(self.counts))
        return f"{self.done}/{self.total} done: {counts}"


def ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """The non-zero counts in :data:`STATE_ORDER` (unknown states last).

    >>> ordered({"queued": 1, "completed": 2, "pending": 0})
    [('completed', 2), ('queued', 1)]
    """
    rank = {state: index for index, state in enumerate(STATE_ORDER)}
    return sorted(
        ((state, n) for state, n in counts.items() if n), key=lambda kv: rank.get(kv[0], 99)
    )


def call_progress(callback: ProgressCallback, progress: BatchProgress) -> None:
    """Call a user's progress callback; refuse an async one (it would never run)."""
    returned = callback(progress)
    if inspect.isawaitable(returned):
        if inspect.iscoroutine(returned):
            returned.close()
        raise TypeError("progress= takes a plain function, not an async one")


class _ProgressBar:
    """A tqdm bar of inputs done, with the counts by state after it."""

    def __init__(self, total: int | None) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit="run", desc="runs", dynamic_ncols=True)

    def __call__(self, progress: BatchProgress) -> None:
        counts = " ".join(
            f"{state}={n}" for state, n in ordered(progress.counts) if state != PENDING
        )
        self._bar.set_postfix_str(counts, refresh=False)
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def progress_reporter(
    progress: bool | ProgressCallback | None, total: int | None
) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """The callback to report through, and how to close it.

    ``None``: a bar on a terminal (standard error), nothing otherwise; ``True``:
    a bar always (``tqdm.auto``: a widget in notebooks); ``False``: nothing; a
    callable: called with every :class:`BatchProgress`. ``total``: ``None`` when the
    number of inputs is not known ahead.

    >>> report, close = progress_reporter(False, 3)
    >>> report is None
    True
    """
    if callable(progress):
        return progress, lambda: None
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    if not progress:
        return None, lambda: None
    bar = _ProgressBar(total)
    return bar, bar.close
