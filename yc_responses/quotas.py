"""The service's request quotas: the one value both sides agree on, and keeping under it.

The batch scheduler keeps under them on the client side (:class:`RateLimiter`,
:class:`Gate`); the emulator enforces them on the server side::

    client.background.map(prompts, model="yandexgpt", quotas=Quotas.documented())
    emu.set_quotas(Quotas.documented())
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EPSILON", "WINDOW_MARGIN", "Gate", "Quotas", "RateLimiter", "at_least_epsilon"]

EPSILON = 1e-6
"""Waits this short count as none (so float rounding on a manual clock cannot stall a batch)."""

WINDOW_MARGIN = 1e-3
"""A request leaves a quota window this much after the window's length: on the safe side
of the server's count, whatever the rounding of the two clocks' arithmetic."""


@dataclass(frozen=True)
class Quotas:
    """Request quotas; ``None`` is no limit.

    Creations are background ``responses.create`` and ``completionAsync``; fetches
    are ``responses.retrieve`` (and its event stream) and ``GET /operations/{id}``.

    >>> Quotas.documented().creates_per_second
    10
    >>> Quotas().creates_per_second is None   # no limits
    True
    """

    creates_per_second: int | None = None
    fetches_per_second: int | None = None
    creates_per_hour: int | None = None

    def __post_init__(self) -> None:
        for name in ("creates_per_second", "fetches_per_second", "creates_per_hour"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"Quotas.{name} must be a positive int or None, not {value!r}")

    def create_windows(self) -> list[tuple[int, float]]:
        """The creation limits as ``(requests, window seconds)`` pairs.

        >>> Quotas.documented().create_windows()
        [(10, 1.0), (5000, 3600.0)]
        """
        return _windows((self.creates_per_second, 1.0), (self.creates_per_hour, 3600.0))

    def fetch_windows(self) -> list[tuple[int, float]]:
        """The status-fetch limits as ``(requests, window seconds)`` pairs."""
        return _windows((self.fetches_per_second, 1.0))

    @classmethod
    def documented(cls) -> Quotas:
        """The documented limits: 10 creations/s, 5,000 creations/hour, 50 fetches/s."""
        return cls(creates_per_second=10, fetches_per_second=50, creates_per_hour=5000)


def _windows(*limits: tuple[int | None, float]) -> list[tuple[int, float]]:
    return [(limit, seconds) for limit, seconds in limits if limit is not None]


class RateLimiter:
    """At most ``limit`` requests in any window of ``seconds``, as the server counts them.

    The server counts a request when it arrives, some time between its sending and
    its answer. So a request counts here from when it is sent (:meth:`sent`) and,
    once answered (:meth:`answered`), as of the moment of its answer: two requests
    this limiter lets ``seconds`` apart arrive at least that far apart, whatever
    the network's delays. No I/O; times are a monotonic clock's.

    >>> limiter = RateLimiter(2, 1.0)
    >>> limiter.sent(); limiter.sent()
    >>> limiter.wait_time(0.1)          # both still unanswered: wait for an answer
    inf
    >>> limiter.answered(0.2); limiter.answered(0.3)
    >>> round(limiter.wait_time(0.5), 3)  # until the first leaves the window (and 1 ms)
    0.701
    """

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds + WINDOW_MARGIN
        self._unanswered = 0
        self._answers: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds until one more request fits: 0.0 now, ``math.inf`` not before an answer."""
        while self._answers and self._answers[0] + self.seconds <= now + EPSILON:
            self._answers.popleft()
        free = self.limit - self._unanswered - len(self._answers)
        if free > 0:
            return 0.0
        leaving = 1 - free  # how many answered requests must leave the window first
        if leaving > len(self._answers):
            return math.inf
        return at_least_epsilon(self._answers[leaving - 1] + self.seconds - now)

    def sent(self) -> None:
        """A request was sent."""
        self._unanswered += 1

    def answered(self, now: float) -> None:
        """A request sent earlier was answered (or failed) at ``now``."""
        self._unanswered -= 1
        self._answers.append(now)


def at_least_epsilon(seconds: float) -> float:
    """``seconds``, or 0.0 when it is too short to wait for.

    >>> at_least_epsilon(0.5), at_least_epsilon(1e-9)
    (0.5, 0.0)
    """
    return seconds if seconds > EPSILON else 0.0


class Gate:
    """One kind of request (creations or fetches): its quota windows and any pause the
    server asked for.

    >>> gate = Gate(Quotas(creates_per_second=1).create_windows())
    >>> gate.wait_time(0.0); gate.sent(); gate.wait_time(0.0)
    0.0
    inf
    """

    def __init__(self, limits: Iterable[tuple[int, float]]) -> None:
        self._limiters = [RateLimiter(limit, seconds) for limit, seconds in limits]
        self._paused_until = -math.inf

    def wait_time(self, now: float) -> float:
        """Seconds until one more request may go: the longest of every window and the pause."""
        waits = [limiter.wait_time(now) for limiter in self._limiters]
        return max([at_least_epsilon(self._paused_until - now), *waits])

    def sent(self) -> None:
        """A request went out."""
        for limiter in self._limiters:
            limiter.sent()

    def answered(self, now: float) -> None:
        """A request sent earlier came back (or failed) at ``now``."""
        for limiter in self._limiters:
            limiter.answered(now)

    def pause(self, until: float) -> None:
        """Send nothing before ``until`` (the server asked for a pause)."""
        self._paused_until = max(self._paused_until, until)
