"""How many runs a batch keeps going at once, and when it first looks at each: decided
from the creation quota and the run durations seen so far (no I/O).

Little's law sets the number of runs in flight a batch needs to create at the
quota's pace: runs in flight = creations per second x seconds a run lasts. A
:class:`Pace` keeps that many going (with a margin), never more than the cap the
caller gave, and backs off when the service refuses creations with a 429 although
the client kept under the quota: the sign of a limit on runs at once (additive
increase, multiplicative decrease, as TCP does). Whether or not the service has
such a limit, the rule is safe: without one no 429 comes and the batch runs at the
quota; with one the batch settles just under it::

    pace = Pace(cap=None, creates_per_second=10)
    pace.limit(now=0.0)               # 100: ten seconds of creations to start with
    pace.started(0.0); pace.ended(30.0, now=30.0)
    pace.limit(now=30.0)              # about 10 x 30 s x 1.25 = 375
    pace.first_look(PollPolicy())     # when to look at a new run first: <= policy.cap
"""

from __future__ import annotations

import math
from collections import deque

from yc_responses.polling import PollPolicy

__all__ = [
    "BACKOFF",
    "DEFAULT_MAX_CONCURRENCY",
    "MARGIN",
    "START_SECONDS",
    "Pace",
]

DEFAULT_MAX_CONCURRENCY = 5000
"""The most runs a batch keeps going at once unless told otherwise: the documented hourly
creation quota, which no batch gets past in less than an hour anyway."""

START_SECONDS = 10.0
"""Before any run has ended, a batch keeps this many seconds of creations going (100 runs
at the documented 10 creations/s), and more as its oldest runs grow older."""

MARGIN = 1.25
"""Little's law's figure is raised by this much: durations vary, and a look comes late."""

BACKOFF = 0.8
"""A 429 on a creation sent under the quota cuts the runs at once to this fraction."""

_SAMPLES = 256
"""How many recent durations are kept to time first looks by."""

_FIRST_LOOK_QUANTILE = 0.1
"""The first look comes when this fraction of runs has been seen to end (then as the
policy's schedule goes on from there)."""


class Pace:
    """The number of runs a batch may have going, and the timing of first looks.

    ``cap`` is the caller's ``concurrency`` (``None``: :data:`DEFAULT_MAX_CONCURRENCY`);
    ``creates_per_second`` the creation quota (``None``: no quota, the cap is the
    limit). Times are a monotonic clock's.

    >>> pace = Pace(cap=4, creates_per_second=10)
    >>> pace.limit(now=0.0)           # never more than the cap
    4
    """

    def __init__(self, cap: int | None, creates_per_second: float | None) -> None:
        self.cap = cap if cap is not None else DEFAULT_MAX_CONCURRENCY
        self._rate = creates_per_second
        self._floor = (
            self.cap
            if creates_per_second is None
            else math.ceil(creates_per_second * START_SECONDS)
        )
        self._ceiling = math.inf
        """Where the last back-off left the limit; grows back by one run per run created."""
        self._cut_at = -math.inf
        self._durations = 0.0
        self._ended = 0
        self._recent: deque[float] = deque(maxlen=_SAMPLES)
        self._starts: deque[float] = deque()
        """Start times of runs going, oldest first (ended ones are dropped lazily)."""
        self._closed: dict[float, int] = {}

    # --- what the engine tells it

    def started(self, now: float) -> None:
        """A run was created at ``now``."""
        self._starts.append(now)
        if self._ceiling != math.inf:
            self._ceiling += 1 / max(self._ceiling, 1.0)

    def ended(self, started: float, *, now: float, seen: bool = True) -> None:
        """A run created at ``started`` was seen ended at ``now`` (``seen=False``: it is
        no longer followed, its duration unknown)."""
        if seen:
            duration = max(now - started, 0.0)
            self._durations += duration
            self._ended += 1
            self._recent.append(duration)
        self._closed[started] = self._closed.get(started, 0) + 1

    def refused(self, active: int, *, now: float) -> None:
        """A creation sent under the quota got a 429 while ``active`` runs were going:
        take it as a limit on runs at once, and keep fewer (once a second at most)."""
        if now - self._cut_at < 1.0:
            return
        self._cut_at = now
        self._ceiling = max(1.0, math.floor(active * BACKOFF))

    # --- what it decides

    def limit(self, *, now: float) -> int:
        """How many runs may be going at ``now``: at least one, at most the cap."""
        wanted = self._floor
        if self._rate is not None:
            seconds = max(self._mean(), self._oldest_age(now))
            wanted = max(wanted, math.ceil(self._rate * seconds * MARGIN))
        return max(1, int(min(self.cap, self._ceiling, wanted)))

    def first_look(self, policy: PollPolicy) -> float | None:
        """Seconds from a run's creation to its first look, or ``None`` for the policy's
        own schedule (no run has ended yet). Never more than ``policy.cap``: a run that
        ends at once is still seen within the policy's worst-case lag."""
        if not self._recent:
            return None
        ordered = sorted(self._recent)
        early = ordered[int(len(ordered) * _FIRST_LOOK_QUANTILE)]
        return min(max(early, policy.initial), policy.cap)

    def _mean(self) -> float:
        return self._durations / self._ended if self._ended else 0.0

    def _oldest_age(self, now: float) -> float:
        starts, closed = self._starts, self._closed
        while starts and closed.get(starts[0], 0):
            left = closed[starts[0]] - 1
            if left:
                closed[starts[0]] = left
            else:
                del closed[starts[0]]
            starts.popleft()
        return now - starts[0] if starts else 0.0
