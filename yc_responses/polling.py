"""How often to look, how long to wait, which faults to sit out: one engine, no I/O.

Everything here decides and nothing here talks to the network or sleeps:

* :class:`PollPolicy` says how far apart looks are (``backoff.expo`` from
  ``initial`` up to ``cap``, with part of each delay jittered by
  ``backoff.full_jitter``), how long transient faults are tolerated, and how
  long one request may take;
* :func:`server_hint` reads ``Retry-After`` / ``retry-after-ms`` /
  ``openai-poll-after-ms`` from response headers;
* :mod:`yc_responses.faults` classifies the official client's exceptions
  (re-exported here: :func:`is_transient`, :func:`was_not_sent`);
* :class:`FaultBudget` decides whether to try one call again and after how long;
* :class:`PollLoop` is the whole wait of one run as a small state machine: feed it
  what the server said (:meth:`~PollLoop.observe`) or what went wrong
  (:meth:`~PollLoop.fault`), ask it how long to sleep (:meth:`~PollLoop.next_delay`).

:mod:`yc_responses.steps` turns these decisions into the steps of a wait, which
a sync or an async driver performs. A kind of run is plugged in with a
:class:`RunReader` (snapshot -> status, snapshot -> result).
"""

from __future__ import annotations

import email.utils
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import backoff

from .errors import RunTimeoutError, ServiceUnreachableError
from .faults import cancel_retryable, headers_of, is_transient, unreachable_reason, was_not_sent
from .status import RunStatus

if TYPE_CHECKING:
    from .results import AnyRunResult

__all__ = [
    "Deadline",
    "FaultBudget",
    "PollLoop",
    "PollPolicy",
    "RunReader",
    "Snapshot",
    "cancel_retryable",
    "check_timeout",
    "is_transient",
    "server_hint",
    "was_not_sent",
]

S = TypeVar("S")
"""A snapshot of a run as fetched from the server (``Response`` for background responses)."""

Jitter = Callable[[float], float]
"""Maps a delay ``d`` to a random delay in ``[0, d]``; ``backoff.full_jitter`` by default."""

MAX_HINT = 120.0
"""The longest server-suggested delay honoured, in seconds; longer hints are cut to this."""


@dataclass(frozen=True)
class PollPolicy:
    """How a wait looks at a run: delays, fault tolerance, request timeouts.

    The n-th delay (n = 0, 1, ...) is ``d = min(initial * factor**n, cap)`` (from
    ``backoff.expo``), of which the last ``jitter`` fraction is random:
    ``d * (1 - jitter) + full_jitter(d * jitter)``, so every delay lies in
    ``[d * (1 - jitter), d]``. A server hint (``openai-poll-after-ms``,
    ``Retry-After``) replaces the computed delay. A wait never sleeps past its
    timeout: the last sleep is cut short and one last look is taken at the deadline.

    The default (0.5 s doubling to 5 s, 25 % jitter) sees a short run finish
    within half a second and costs about one request per 5 s on long runs.

    >>> PollPolicy().cap                # the default: 0.5 s doubling up to 5 s
    5.0
    >>> PollPolicy.fixed(2.0).cap       # every 2 s, like a hand-written loop
    2.0
    """

    initial: float = 0.5
    """The first delay, in seconds."""
    cap: float = 5.0
    """The longest delay between two looks, in seconds: the worst-case detection lag."""
    factor: float = 2.0
    """Each delay is this many times the previous one, up to ``cap``."""
    jitter: float = 0.25
    """The fraction (0..1) of each delay that is random, so many waiters do not poll in step."""
    max_outage: float | None = 300.0
    """How long, in seconds, transient faults in a row (429, 5xx, dropped connections,
    timeouts) are sat out before the last one is raised; ``None`` for as long as the
    wait's own timeout allows."""
    request_timeout: float | None = 30.0
    """The HTTP timeout of one look (for a stream: the longest silence), in seconds;
    ``None`` keeps the client's own."""

    def __post_init__(self) -> None:
        _check_number("PollPolicy.initial", self.initial, at_least=0.0)
        _check_number("PollPolicy.cap", self.cap, above=0.0, why="0 would poll without a pause")
        _check_number("PollPolicy.factor", self.factor, at_least=1.0)
        _check_number("PollPolicy.jitter", self.jitter, at_least=0.0, at_most=1.0)
        if self.max_outage is not None:
            _check_number("PollPolicy.max_outage", self.max_outage, at_least=0.0)
        if self.request_timeout is not None:
            _check_number("PollPolicy.request_timeout", self.request_timeout, above=0.0)

    @classmethod
    def fixed(
        cls,
        interval: float,
        *,
        max_outage: float | None = 300.0,
        request_timeout: float | None = 30.0,
    ) -> PollPolicy:
        """Look every ``interval`` seconds exactly (no growth, no jitter).

        ``PollPolicy.fixed(2.0)`` is the loop most code writes by hand;
        ``PollPolicy.fixed(10.0)`` is the official Yandex SDK's.
        """
        return cls(
            initial=interval,
            cap=interval,
            factor=1.0,
            jitter=0.0,
            max_outage=max_outage,
            request_timeout=request_timeout,
        )

    @classmethod
    def exponential(
        cls, initial: float = 0.5, cap: float = 5.0, factor: float = 2.0, jitter: float = 0.25
    ) -> PollPolicy:
        """Delays growing from ``initial`` by ``factor`` up to ``cap`` (the default shape)."""
        return cls(initial=initial, cap=cap, factor=factor, jitter=jitter)

    def delays(self, jitter: Jitter = backoff.full_jitter) -> Iterator[float]:
        """The endless sequence of delays between looks, jitter applied.

        >>> list(itertools.islice(PollPolicy(jitter=0).delays(), 6))  # doctest: +SKIP
        [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
        """
        schedule = backoff.expo(base=self.factor, factor=self.initial, max_value=self.cap)
        next(schedule)  # the generator's priming value
        for value in schedule:
            delay = min(value, self.cap)
            if self.jitter:
                random_part = min(max(jitter(delay * self.jitter), 0.0), delay * self.jitter)
                delay = delay * (1 - self.jitter) + random_part
            yield delay

    def retry_delays(self, jitter: Jitter = backoff.full_jitter) -> Iterator[float]:
        """Delays before retrying a call that hit a transient fault: full jitter over
        ``backoff.expo`` from ``max(initial, 0.5)`` to ``cap``."""
        schedule = backoff.expo(
            base=max(self.factor, 2.0), factor=max(self.initial, 0.5), max_value=self.cap
        )
        next(schedule)
        for value in schedule:
            ceiling = min(value, self.cap)
            yield min(max(jitter(ceiling), 0.0), ceiling)


def check_timeout(timeout: float | None, name: str = "timeout") -> None:
    """Refuse a time limit that is neither ``None`` nor a finite number of seconds >= 0.

    >>> check_timeout(float("nan"))
    Traceback (most recent call last):
    ValueError: timeout must be a finite number of seconds >= 0 (or None for no limit), not nan
    """
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(
            f"{name} must be a number of seconds (or None for no limit), not {timeout!r}"
        )
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ValueError(
            f"{name} must be a finite number of seconds >= 0 (or None for no limit), "
            f"not {timeout!r}"
        )


class Deadline:
    """A time limit counted on a clock: how much of it is left.

    >>> deadline = Deadline(10.0, clock=lambda: 3.0)   # started at 3.0
    >>> deadline.remaining()
    10.0
    """

    def __init__(self, timeout: float | None, *, clock: Callable[[], float]) -> None:
        check_timeout(timeout)
        self._clock = clock
        self._at = None if timeout is None else clock() + timeout

    def remaining(self) -> float | None:
        """Seconds left (never negative), ``None`` without a limit."""
        return None if self._at is None else max(self._at - self._clock(), 0.0)


def _check_number(
    name: str,
    value: float,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    why: str = "",
) -> None:
    bounds = [
        f">= {at_least:g}" if at_least is not None else "",
        f"> {above:g}" if above is not None else "",
        f"<= {at_most:g}" if at_most is not None else "",
    ]
    wanted = " and ".join(bound for bound in bounds if bound)
    valid = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (at_least is None or value >= at_least)
        and (above is None or value > above)
        and (at_most is None or value <= at_most)
    )
    if not valid:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{name} must be a finite number {wanted}{reason}, not {value!r}")


# --- reading what the server says -------------------------------------------------


def server_hint(headers: Mapping[str, str] | None, *, wall_time: float) -> float | None:
    """The delay the server asks for, in seconds, or ``None``.

    Reads ``openai-poll-after-ms``, ``retry-after-ms`` and ``Retry-After`` (seconds
    or an HTTP date, compared with ``wall_time``, a ``time.time()`` value). The
    result is cut to ``[0, MAX_HINT]``.

    >>> server_hint({"retry-after": "3"}, wall_time=0)
    3.0
    >>> server_hint({"openai-poll-after-ms": "1500"}, wall_time=0)
    1.5
    """
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    for name, divisor in (("openai-poll-after-ms", 1000), ("retry-after-ms", 1000)):
        seconds = _number(lowered.get(name))
        if seconds is not None:
            return _clamp_hint(seconds / divisor)
    retry_after = lowered.get("retry-after")
    if retry_after is None:
        return None
    seconds = _number(retry_after)
    if seconds is not None:
        return _clamp_hint(seconds)
    try:
        parsed = email.utils.parsedate_tz(retry_after)
        if parsed is None:
            return None
        return _clamp_hint(email.utils.mktime_tz(parsed) - wall_time)
    except (TypeError, ValueError, OverflowError):
        return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clamp_hint(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_HINT)


# --- deciding --------------------------------------------------------------------


class FaultBudget:
    """Decides whether to try a call again after an exception, and after how long.

    A fault is retried when ``retryable(exc)`` says so and the faults in a row have
    lasted less than ``policy.max_outage``. The delay is the server's hint when it
    gave one, else the next of ``policy.retry_delays()``. A success resets it.
    """

    def __init__(
        self,
        policy: PollPolicy,
        *,
        retryable: Callable[[BaseException], bool] = is_transient,
        jitter: Jitter = backoff.full_jitter,
    ) -> None:
        self._policy = policy
        self._retryable = retryable
        self._jitter = jitter
        self._delays: Iterator[float] | None = None
        self._since: float | None = None
        self._answered = False
        self.faults = 0
        """How many faults in a row were sat out."""

    def retry_after(self, exc: BaseException, *, now: float, wall_time: float) -> float | None:
        """Seconds to wait before trying again, or ``None``: give up and raise ``exc``.

        A connection refused, or a host name that does not resolve, before any answer
        came raises :class:`~yc_responses.ServiceUnreachableError` at once: a wrong
        base URL is not a fault to sit out for ``max_outage``.
        """
        reason = None if self._answered else unreachable_reason(exc)
        if reason is not None:
            raise ServiceUnreachableError(_where(exc), exc, reason=reason)
        if not self._retryable(exc):
            return None
        if self._since is None:
            self._since = now
            self._delays = self._policy.retry_delays(self._jitter)
        outage = self._policy.max_outage
        if outage is not None and now - self._since >= outage:
            return None
        self.faults += 1
        assert self._delays is not None
        delay = next(self._delays)
        hint = server_hint(headers_of(exc), wall_time=wall_time)
        return delay if hint is None else hint

    def reset(self) -> None:
        """The call went through: the next fault starts a new stretch."""
        self._answered = True
        self._since = None
        self._delays = None
        self.faults = 0


def _where(exc: BaseException) -> str:
    """The scheme, host and port a failed request went to."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return "the service"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}"


@dataclass(frozen=True)
class Snapshot(Generic[S]):
    """One look at a run: the payload, the delay the server suggested with it, and the
    service's ``x-request-id`` of the answer (for support)."""

    value: S
    hint: float | None = None
    request_id: str | None = None


class RunReader(Protocol[S]):
    """How to read one kind of run's snapshots (pure functions, no I/O)."""

    def status(self, snapshot: S, /) -> RunStatus:
        """The run's status; raises ``UnexpectedStatusError`` when it cannot tell."""
        ...

    def result(self, snapshot: S, /) -> AnyRunResult[S]:
        """The typed result of a terminal snapshot."""
        ...


class PollLoop(Generic[S]):
    """The decisions of one wait, without I/O.

    ::

        loop = PollLoop(run_id, reader, PollPolicy(), now=clock(), timeout=60)
        while True:
            try:
                snapshot = fetch(loop.request_timeout(clock()))
            except Exception as exc:
                if not loop.fault(exc, now=clock(), wall_time=time.time()):
                    raise
            else:
                if (result := loop.observe(snapshot, now=clock())) is not None:
                    return result
            sleep(loop.next_delay(now=clock()))  # raises RunTimeoutError at the deadline
    """

    def __init__(
        self,
        run_id: str,
        reader: RunReader[S],
        policy: PollPolicy,
        *,
        now: float,
        timeout: float | None = None,
        status: RunStatus | None = None,
        on_status: Callable[[RunStatus, S], object] | None = None,
        jitter: Jitter = backoff.full_jitter,
        resource: str = "background",
        first_delay: float | None = None,
    ) -> None:
        """``first_delay``: the wait after the first snapshot (the creation's answer), in
        place of the schedule's first steps; the schedule goes on from there."""
        check_timeout(timeout)
        self.run_id = run_id
        self.resource = resource
        """Where to attach to the run again: ``background`` or ``deferred``."""
        self.policy = policy
        self.timeout = timeout
        self.deadline = None if timeout is None else now + timeout
        self.status = status
        """The last status seen."""
        self.looks = 0
        """How many snapshots were observed."""
        self._reader = reader
        self._on_status = on_status
        self._delays = policy.delays(jitter)
        self._faults = FaultBudget(policy, jitter=jitter)
        self._pending: float | None = None
        self._first_delay = first_delay

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline (never negative), ``None`` without one."""
        return None if self.deadline is None else max(self.deadline - now, 0.0)

    def request_timeout(self, now: float) -> float | None:
        """The HTTP timeout for the next look: the policy's, cut to the time left
        (but at least one second, so the last look at the deadline can finish)."""
        limit = self.policy.request_timeout
        remaining = self.remaining(now)
        if remaining is None:
            return limit
        remaining = max(remaining, 1.0)
        return remaining if limit is None else min(limit, remaining)

    def observe(self, snapshot: Snapshot[S], *, now: float) -> AnyRunResult[S] | None:
        """Take in one look at the run: its result when terminal, else ``None``.

        Calls ``on_status`` when the status changed; raises ``UnexpectedStatusError``
        for a status it cannot read.
        """
        self._faults.reset()
        status = self._reader.status(snapshot.value)
        self.looks += 1
        changed = status is not self.status
        self.status = status
        if changed and self._on_status is not None:
            self._on_status(status, snapshot.value)
        if status.is_terminal:
            return self._reader.result(snapshot.value)
        delay = self._first() if self.looks == 1 else next(self._delays)
        self._pending = delay if snapshot.hint is None else snapshot.hint
        return None

    def _first(self) -> float:
        """The first wait: ``first_delay``, the schedule's steps it covers skipped."""
        if self._first_delay is None:
            return next(self._delays)
        covered = 0.0
        for delay in itertools.islice(self._delays, 64):  # delays of 0 end too
            covered += delay
            if covered >= self._first_delay:
                break
        return self._first_delay

    def fault(self, exc: BaseException, *, now: float, wall_time: float) -> bool:
        """Take in a failed look: ``True`` to go on, ``False`` to raise ``exc`` now
        (a permanent error, or transient ones for longer than ``max_outage``)."""
        delay = self._faults.retry_after(exc, now=now, wall_time=wall_time)
        if delay is None:
            return False
        self._pending = delay
        return True

    def check_deadline(self, *, now: float) -> None:
        """Raise :class:`RunTimeoutError` when the deadline has passed."""
        if self.deadline is not None and now >= self.deadline:
            raise RunTimeoutError(
                self.run_id, self.status, self.timeout or 0.0, resource=self.resource
            )

    def next_delay(self, *, now: float) -> float:
        """How long to sleep before the next look, never past the deadline.

        Raises :class:`RunTimeoutError` when the deadline has passed.
        """
        self.check_deadline(now=now)
        delay = self._pending if self._pending is not None else next(self._delays)
        self._pending = None
        remaining = self.remaining(now)
        return delay if remaining is None else min(delay, remaining)
