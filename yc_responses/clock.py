"""Time as the library, the emulator and tests read it: ``Clock`` and ``ManualClock``.

Everything that waits takes a ``clock`` (monotonic seconds, :func:`time.monotonic`
by default) and a ``sleep``. A background run of 300 s takes microseconds under a
:class:`ManualClock`: the emulator reads time from the clock, and the waiting code
is given the clock's ``sleep``, which moves time forward instead of blocking::

    clock = ManualClock()
    with Emulator(clock=clock) as emu:
        emu.script(Outcome.completed(after=300))
        ...                      # wait with sleep=clock.sleep
        clock.advance(300)       # or move time by hand
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Clock", "ManualClock"]

Clock = Callable[[], float]
"""A source of monotonic seconds, like :func:`time.monotonic`."""


class ManualClock:
    """A monotonic clock that moves only when told to; thread-safe.

    Call it to read the time; :meth:`advance` and :meth:`sleep` move it forward.

    >>> clock = ManualClock()
    >>> clock()
    0.0
    >>> clock.sleep(2.5)
    >>> clock()
    2.5
    >>> clock.slept
    [2.5]
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.slept: list[float] = []
        """Every duration passed to :meth:`sleep` and :meth:`async_sleep`, in order."""

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds``; return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance({seconds!r}))")
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        """A drop-in for :func:`time.sleep` that advances the clock at once.

        Like :func:`time.sleep`, a negative duration raises ``ValueError``.
        """
        if seconds < 0:
            raise ValueError(f"sleep length must be non-negative, not {seconds!r}")
        self.slept.append(seconds)
        self.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        """A drop-in for :func:`asyncio.sleep` that advances the clock at once."""
        self.sleep(seconds)

    def __repr__(self) -> str:
        return f"ManualClock(now={self():.3f})"
