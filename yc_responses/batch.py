"""Many runs at once: bounded concurrency, client-side quotas, progress, a crash-safe journal.

``client.background.map`` (and ``client.deferred.map``) hand a list of inputs to
one scheduler, :class:`BatchEngine`, which decides everything without I/O: which
input to submit next, which run to look at next and when, how to keep under
the service's quotas, what to write to the journal. Two thin drivers do the
requests: :func:`run_sync` on a small pool of connection threads (never a thread
per run), :func:`run_async` as tasks on the running event loop::

    results = client.background.map(prompts, model="yandexgpt", journal="batch.sqlite")
    for result in results:           # in input order
        print(result.status, result.unwrap() if result.status.is_succeeded else "")

The same call with the same journal after a crash (even ``kill -9``) resumes:
inputs already submitted are attached, never submitted again; finished ones are
read from the journal.
"""

from __future__ import annotations

import hashlib
import heapq
import inspect
import json
import math
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import anyio
import openai
from pydantic_core import to_jsonable_python

from .errors import (
    AmbiguousSubmissionError,
    RunLookupError,
    RunTimeoutError,
    YCResponsesError,
    add_note_once,
)
from .faults import headers_of, is_refusal, stops_everything, was_not_sent
from .journal import Journal, JournalMismatchError
from .polling import (
    FaultBudget,
    PollLoop,
    PollPolicy,
    RunReader,
    Snapshot,
    server_hint,
)
from .quotas import Quotas

if TYPE_CHECKING:
    from .results import AnyRunResult

__all__ = [
    "BatchError",
    "BatchProgress",
    "BatchSource",
    "ProgressCallback",
    "RateLimiter",
    "run_async",
    "run_sync",
]

S = TypeVar("S")
"""A snapshot of one run: a ``Response``, or an ``Operation`` of the older API."""

ProgressCallback = Callable[["BatchProgress"], object]
"""Called with a :class:`BatchProgress` whenever an input changes state."""

MAX_REQUESTS_IN_FLIGHT = 16
"""How many HTTP requests a batch has open at once (the sync driver's thread count)."""

EPSILON = 1e-6
"""Waits this short count as none (so float rounding on a manual clock cannot stall a batch)."""

WINDOW_MARGIN = 1e-3
"""A request leaves a quota window this much after the window's length: on the safe side
of the server's count, whatever the rounding of the two clocks' arithmetic."""

PENDING = "pending"
SUBMITTING = "submitting"
ERROR = "error"


# --- public values -----------------------------------------------------------------


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
        return sum(n for state, n in self.counts.items() if state in _FINAL_STATES)

    def __str__(self) -> str:
        counts = " ".join(f"{state}={n}" for state, n in _ordered(self.counts))
        return f"{self.done}/{self.total} done: {counts}"


_STATE_ORDER = (
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
_FINAL_STATES = frozenset({"completed", "failed", "cancelled", "incomplete", ERROR})


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    rank = {state: index for index, state in enumerate(_STATE_ORDER)}
    return sorted(
        ((state, n) for state, n in counts.items() if n), key=lambda kv: rank.get(kv[0], 99)
    )


class BatchError(YCResponsesError):
    """Some inputs of a batch got no result; every other result is on :attr:`results`.

    ``results[i]`` is the typed result of input ``i`` or the exception that kept it
    from having one; :attr:`errors` maps those positions to their exceptions. Pass
    ``return_exceptions=True`` to ``map`` to get the list instead of this error.
    """

    def __init__(self, results: list[Any], errors: dict[int, Exception]) -> None:
        self.results = results
        self.errors = errors
        kinds = Counter(type(exc).__name__ for exc in errors.values())
        position, first = next(iter(errors.items()))
        described = ", ".join(f"{n} {name}" for name, n in kinds.most_common())
        super().__init__(
            f"{len(errors)} of {len(results)} inputs got no result ({described}); input "
            f"{position}: {first}. The results of the others are on .results"
        )


# --- rate limits -------------------------------------------------------------------


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
        return _wait(self._answers[leaving - 1] + self.seconds - now)

    def sent(self) -> None:
        """A request was sent."""
        self._unanswered += 1

    def answered(self, now: float) -> None:
        """A request sent earlier was answered (or failed) at ``now``."""
        self._unanswered -= 1
        self._answers.append(now)


def _wait(seconds: float) -> float:
    return seconds if seconds > EPSILON else 0.0


class _Gate:
    """One kind of request (creations or fetches): its quotas and any pause the server asked for."""

    def __init__(self, limits: Iterable[tuple[int, float]]) -> None:
        self._limiters = [RateLimiter(limit, seconds) for limit, seconds in limits]
        self._paused_until = -math.inf

    def wait_time(self, now: float) -> float:
        waits = [limiter.wait_time(now) for limiter in self._limiters]
        return max([_wait(self._paused_until - now), *waits])

    def sent(self) -> None:
        for limiter in self._limiters:
            limiter.sent()

    def answered(self, now: float) -> None:
        for limiter in self._limiters:
            limiter.answered(now)

    def pause(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)


# --- what a kind of run provides ---------------------------------------------------


class BatchSource(Protocol[S]):
    """What the engine needs to know of one kind of run (pure: no requests)."""

    @property
    def reader(self) -> RunReader[S]:
        """Reads a snapshot's status and result."""
        ...

    @property
    def resource(self) -> str:
        """Where a run is attached to again: ``background`` or ``deferred``."""
        ...

    @property
    def scope(self) -> str:
        """What else makes two equal inputs different runs (the folder): part of the
        fingerprint, so a journal is not resumed against another folder."""
        ...

    def prepare(self, item: str | Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The keywords of one creation; raises ``ValueError``/``TypeError`` for bad input."""
        ...

    def run_id(self, snapshot: S, /) -> str:
        """The id of a created run."""
        ...

    def dump(self, snapshot: S, /) -> str:
        """A snapshot as JSON text, for the journal."""
        ...

    def load(self, text: str, /) -> S:
        """A snapshot back from :meth:`dump`'s text."""
        ...


def fingerprint(params: Mapping[str, Any]) -> str:
    """A stable digest of one input's creation keywords.

    >>> fingerprint({"input": "Hi", "model": "yandexgpt"}) == fingerprint(
    ...     {"model": "yandexgpt", "input": "Hi"})
    True
    """
    text = json.dumps(params, sort_keys=True, default=to_jsonable_python, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- the engine --------------------------------------------------------------------


@dataclass(eq=False)
class _Item(Generic[S]):
    position: int
    key: str
    params: dict[str, Any]
    fingerprint: str
    state: str = ""
    run_id: str | None = None
    loop: PollLoop[S] | None = None
    result: AnyRunResult[S] | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class Create(Generic[S]):
    """Submit ``item``: one attempt, the client's own retries off."""

    item: _Item[S]


@dataclass(frozen=True)
class Fetch(Generic[S]):
    """Look at ``item``'s run once, with this HTTP timeout."""

    item: _Item[S]
    timeout: float | None


Action = Create[S] | Fetch[S]


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """What one request gave: a snapshot, or the exception it raised.

    ``sent`` is false when a creation failed before it was sent (its journal row
    could not be written).
    """

    snapshot: Snapshot[S] | None = None
    error: Exception | None = None
    sent: bool = True


class BatchEngine(Generic[S]):
    """The decisions of a whole batch, without network I/O.

    A driver asks :meth:`start` for the requests to send now, sends them, feeds
    each :class:`Outcome` back with :meth:`complete`, and sleeps at most
    :meth:`next_wake` seconds in between, until :attr:`finished`. The journal
    (a local file) is written here, before and after every change.
    """

    def __init__(
        self,
        source: BatchSource[S],
        params: Sequence[dict[str, Any]],
        keys: Sequence[str],
        *,
        now: float,
        concurrency: int,
        quotas: Quotas,
        policy: PollPolicy,
        journal: Journal | None,
        progress: ProgressCallback | None,
        resubmit_ambiguous: bool,
        run_timeout: float | None = None,
        wall_clock: Callable[[], float] = time.time,
        max_requests: int = MAX_REQUESTS_IN_FLIGHT,
    ) -> None:
        if run_timeout is not None and run_timeout < 0:
            raise ValueError("run_timeout must be >= 0 seconds, or None to wait until runs end")
        self._source = source
        self._policy = policy
        self._run_timeout = run_timeout
        self.journal = journal
        self._progress: ProgressCallback | None = None
        self._wall_clock = wall_clock
        self.concurrency = concurrency
        self.max_requests = max_requests
        self.items: list[_Item[S]] = [
            _Item(position, key, item_params, fingerprint({source.scope: item_params}))
            for position, (key, item_params) in enumerate(zip(keys, params, strict=True))
        ]
        self._creates = _Gate(quotas.create_windows())
        self._fetches = _Gate(quotas.fetch_windows())
        self._create_faults = FaultBudget(policy, retryable=was_not_sent)
        self._pending: deque[_Item[S]] = deque()
        self._polls: list[tuple[float, int, _Item[S]]] = []
        self._active = 0
        """Runs submitting or going on the server: at most ``concurrency``."""
        self._in_flight = 0
        self._unresolved = len(self.items)
        self._counts: Counter[str] = Counter()
        self.fatal: BaseException | None = None
        """An error that stops the whole batch (bad credentials): raised by the driver."""
        self.resumed = 0
        self._resume(now, resubmit_ambiguous)
        self._progress = progress
        self._report()

    # --- start and resume

    def _resume(self, now: float, resubmit_ambiguous: bool) -> None:
        entries = {} if self.journal is None else {e.key: e for e in self.journal.entries()}
        for item in self.items:  # every input checked before anything is changed
            entry = entries.get(item.key)
            if entry is not None and entry.fingerprint != item.fingerprint:
                assert self.journal is not None
                raise JournalMismatchError(
                    f"the journal {self.journal.path!r} holds another input under key "
                    f"{item.key!r} (input {item.position}): resume with the same inputs, "
                    "options and folder, or start a new journal file"
                )
        for item in self.items:
            entry = entries.get(item.key)
            if entry is None:
                self._set_state(item, PENDING)
                self._pending.append(item)
                continue
            self.resumed += 1
            if entry.result is not None:
                item.run_id = entry.run_id
                self._resolve(
                    item, result=self._source.reader.result(self._source.load(entry.result))
                )
            elif entry.run_id is not None:
                item.run_id = entry.run_id
                self._set_state(item, entry.status)
                self._watch(item, now)
                self._schedule(item, now)
            elif resubmit_ambiguous:
                assert self.journal is not None
                self.journal.forget(item.key)
                self.resumed -= 1
                self._set_state(item, PENDING)
                self._pending.append(item)
            else:
                self._resolve(item, error=AmbiguousSubmissionError(None, key=item.key))

    def _watch(self, item: _Item[S], now: float) -> None:
        assert item.run_id is not None
        self._active += 1
        item.loop = PollLoop(
            item.run_id,
            self._source.reader,
            self._policy,
            now=now,
            timeout=self._run_timeout,
            on_status=lambda status, _snapshot: self._status_seen(item, status.value),
            resource=self._source.resource,
        )

    # --- what to do now

    @property
    def in_flight(self) -> int:
        """Requests given out by :meth:`start` and not completed yet."""
        return self._in_flight

    @property
    def finished(self) -> bool:
        """Nothing left to do (or a fatal error), and no request in flight."""
        done = self._unresolved == 0 or self.fatal is not None
        return done and self._in_flight == 0

    def start(self, now: float) -> list[Action[S]]:
        """The requests to send now. Before sending a :class:`Create`, the driver calls
        :meth:`record_submission` from where it sends it."""
        actions: list[Action[S]] = []
        if self.fatal is not None:
            return actions
        while self._in_flight < self.max_requests:
            action = self._next_create(now) or self._next_fetch(now)
            if action is None:
                break
            self._in_flight += 1
            actions.append(action)
        return actions

    def _next_fetch(self, now: float) -> Fetch[S] | None:
        if not self._polls or _wait(self._polls[0][0] - now) or self._fetches.wait_time(now):
            return None
        _, _, item = heapq.heappop(self._polls)
        self._fetches.sent()
        assert item.loop is not None
        return Fetch(item, item.loop.request_timeout(now))

    def _may_create(self) -> bool:
        """An input waits to be sent, and there is room for it (a retry already has its place)."""
        if not self._pending:
            return False
        return self._pending[0].state != PENDING or self._active < self.concurrency

    def _next_create(self, now: float) -> Create[S] | None:
        if not self._may_create() or self._creates.wait_time(now):
            return None
        item = self._pending.popleft()
        self._creates.sent()
        if item.state == PENDING:  # a first attempt, not a retry after a 429
            self._active += 1
        self._set_state(item, SUBMITTING)
        return Create(item)

    def record_submission(self, action: Create[S]) -> None:
        """Write the journal row of a creation about to be sent.

        Drivers call it right before sending, where the send cannot be interrupted
        any more (a worker thread, a shielded task): so a row never says
        "submitting" for an input that was not sent. Safe from any thread.
        """
        item = action.item
        if self.journal is not None:
            self.journal.submitting(item.key, position=item.position, fingerprint=item.fingerprint)

    def next_wake(self, now: float) -> float | None:
        """Seconds until :meth:`start` may have something new; ``None``: only a reply will."""
        if self.fatal is not None:
            return None
        waits: list[float] = []
        if self._polls:
            waits.append(max(_wait(self._polls[0][0] - now), self._fetches.wait_time(now)))
        if self._may_create():
            waits.append(self._creates.wait_time(now))
        soonest = min(waits, default=math.inf)
        if soonest == math.inf or self._in_flight >= self.max_requests:
            return None
        return max(soonest, 0.0)

    # --- what came back

    def complete(self, action: Action[S], outcome: Outcome[S], now: float) -> None:
        """Take in the outcome of a request :meth:`start` gave."""
        self._in_flight -= 1
        item = action.item
        if isinstance(action, Create):
            self._creates.answered(now)
            if outcome.snapshot is not None:
                self._created(item, outcome.snapshot, now)
            else:
                assert outcome.error is not None
                self._create_failed(item, outcome.error, now, sent=outcome.sent)
        else:
            self._fetches.answered(now)
            if outcome.snapshot is not None:
                self._fetched(item, outcome.snapshot, now)
            else:
                assert outcome.error is not None
                self._fetch_failed(item, outcome.error, now)

    def _created(self, item: _Item[S], snapshot: Snapshot[S], now: float) -> None:
        self._create_faults.reset()
        try:
            status = self._source.reader.status(snapshot.value).value
        except YCResponsesError:
            status = "submitted"
        self._adopt(item, self._source.run_id(snapshot.value), status, now)
        self._fetched(item, snapshot, now)

    def _adopt(self, item: _Item[S], run_id: str, status: str, now: float) -> None:
        """``item`` has a run on the server now: record its id, follow it."""
        item.run_id = run_id
        if self.journal is not None:
            self.journal.submitted(item.key, run_id=run_id, status=status)
        self._active -= 1  # _watch counts it again, as a run on the server
        self._watch(item, now)

    def _create_failed(self, item: _Item[S], exc: Exception, now: float, *, sent: bool) -> None:
        if not sent:  # the journal could not be written: nothing was sent, nothing can be
            self._active -= 1
            self._resolve(item, error=exc)
            self.fatal = exc
            return
        if was_not_sent(exc):  # a 429, or no connection: the service did not take it
            if self.journal is not None:
                self.journal.forget(item.key)  # written again when it is sent again
            self._pending.appendleft(item)
            delay = self._create_faults.retry_after(exc, now=now, wall_time=self._wall_clock())
            if delay is None:  # refused for longer than policy.max_outage: stop the batch
                self.fatal = exc
            else:
                self._creates.pause(now + delay)
            return
        self._active -= 1
        if is_refusal(exc):  # a 4xx: nothing started, a later run may send it
            if self.journal is not None:
                self.journal.forget(item.key)
            self._resolve(item, error=exc)
            if stops_everything(exc):
                self.fatal = exc
            return
        run_id = getattr(exc, "response_id", None)
        if isinstance(run_id, str) and run_id:  # created, but its answer could not be read
            self._adopt(item, run_id, "submitted", now)
            self._schedule(item, now)
            return
        # a 5xx, a timeout, a dropped connection, an unreadable answer: it may have started
        self._resolve(item, error=AmbiguousSubmissionError(exc, key=item.key))

    def _fetched(self, item: _Item[S], snapshot: Snapshot[S], now: float) -> None:
        assert item.loop is not None
        try:
            result = item.loop.observe(snapshot, now=now)
        except YCResponsesError as exc:  # a status the library cannot read: it has the id
            self._stop_watching(item, error=exc)
            return
        if result is None:
            self._schedule(item, now)
            return
        if self.journal is not None:
            self.journal.finished(
                item.key, status=result.status.value, result=self._source.dump(snapshot.value)
            )
        self._stop_watching(item, result=result)

    def _fetch_failed(self, item: _Item[S], exc: Exception, now: float) -> None:
        assert item.loop is not None
        if item.loop.fault(exc, now=now, wall_time=self._wall_clock()):
            if isinstance(exc, openai.RateLimitError):
                hint = server_hint(headers_of(exc), wall_time=self._wall_clock())
                self._fetches.pause(now + (hint if hint is not None else 1.0))
            self._schedule(item, now)
            return
        if isinstance(exc, YCResponsesError):  # the library's own errors carry the id
            self._stop_watching(item, error=exc)
        else:
            assert item.run_id is not None
            lost = RunLookupError(item.run_id, exc, resource=self._source.resource)
            self._stop_watching(item, error=lost)
        if stops_everything(exc):
            self.fatal = exc

    # --- bookkeeping

    def _schedule(self, item: _Item[S], now: float) -> None:
        assert item.loop is not None
        try:
            due = now + item.loop.next_delay(now=now)
        except RunTimeoutError as exc:  # past run_timeout: the run goes on, its id is kept
            self._stop_watching(item, error=exc)
            return
        heapq.heappush(self._polls, (due, item.position, item))

    def _stop_watching(
        self,
        item: _Item[S],
        *,
        result: AnyRunResult[S] | None = None,
        error: Exception | None = None,
    ) -> None:
        self._active -= 1
        item.loop = None
        self._resolve(item, result=result, error=error)

    def _resolve(
        self,
        item: _Item[S],
        *,
        result: AnyRunResult[S] | None = None,
        error: Exception | None = None,
    ) -> None:
        item.result, item.error = result, error
        self._unresolved -= 1
        self._set_state(item, result.status.value if result is not None else ERROR)

    def _status_seen(self, item: _Item[S], status: str) -> None:
        if status == item.state:
            return
        if self.journal is not None and item.state != SUBMITTING:
            self.journal.status_changed(item.key, status)
        self._set_state(item, status)

    def _set_state(self, item: _Item[S], state: str) -> None:
        if item.state == state:
            return
        if item.state:
            self._counts[item.state] -= 1
        self._counts[state] += 1
        item.state = state
        self._report()

    def _report(self) -> None:
        if self._progress is not None:
            returned = self._progress(self.progress())
            if inspect.isawaitable(returned):
                if inspect.iscoroutine(returned):
                    returned.close()
                raise TypeError("progress= takes a plain function, not an async one")

    def progress(self) -> BatchProgress:
        """Where the batch stands now."""
        return BatchProgress(len(self.items), dict(+self._counts), self.resumed)

    def results(self) -> list[AnyRunResult[S] | Exception]:
        """Every input's result or exception, in input order (after :attr:`finished`)."""
        out: list[AnyRunResult[S] | Exception] = []
        for item in self.items:
            if item.result is not None:
                out.append(item.result)
            elif item.error is not None:
                out.append(item.error)
            else:
                raise RuntimeError(f"input {item.position} has no result yet")
        return out

    def unfinished_ids(self) -> list[str]:
        """Ids of runs submitted and not seen finished: where to come back to."""
        return [i.run_id for i in self.items if i.run_id and i.result is None]

    def stop_reporting(self) -> None:
        """No more progress reports (while the batch is being stopped)."""
        self._progress = None

    def leave_note(self, exc: BaseException) -> None:
        """Say on an exception that stopped the batch where its runs are (Python 3.11+)."""
        ids = self.unfinished_ids()
        if self.journal is not None:
            note = (
                f"the journal {self.journal.path!r} keeps every response id of this batch: "
                "run the same call again to resume"
            )
        elif ids:
            note = f"{len(ids)} runs of this batch were still going on the server: {', '.join(ids)}"
        else:
            return
        add_note_once(exc, note)


# --- the two drivers ---------------------------------------------------------------


def run_sync(
    engine: BatchEngine[S],
    create: Callable[[dict[str, Any]], Snapshot[S]],
    fetch: Callable[[str, float | None], Snapshot[S]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], object],
) -> None:
    """Drive ``engine`` with blocking calls on a pool of ``engine.max_requests`` threads.

    A worker thread writes a creation's journal row and sends it, so an interruption
    of this thread never leaves a row for an input that was not sent. On an
    interruption the creations in flight are waited for and recorded (no response
    id is lost), then the exception goes on.
    """

    def perform(action: Action[S]) -> Outcome[S]:
        if isinstance(action, Create):
            try:
                engine.record_submission(action)
            except Exception as exc:
                return Outcome(error=exc, sent=False)
        try:
            if isinstance(action, Create):
                return Outcome(create(action.item.params))
            assert action.item.run_id is not None
            return Outcome(fetch(action.item.run_id, action.timeout))
        except Exception as exc:
            return Outcome(error=exc)

    pool = futures.ThreadPoolExecutor(engine.max_requests, thread_name_prefix="yc-responses-batch")
    in_flight: dict[futures.Future[Outcome[S]], Action[S]] = {}
    try:
        while not engine.finished:
            for action in engine.start(clock()):
                in_flight[pool.submit(perform, action)] = action
            delay = engine.next_wake(clock())
            if in_flight:
                done, _ = futures.wait(
                    in_flight, timeout=delay, return_when=futures.FIRST_COMPLETED
                )
                for future in done:
                    engine.complete(in_flight.pop(future), future.result(), clock())
            elif delay is not None:
                sleep(delay)
            else:
                raise RuntimeError("the batch has nothing left to wait for, yet is not done")
    except BaseException as exc:
        engine.stop_reporting()
        creations = [f for f, action in in_flight.items() if isinstance(action, Create)]
        for future in futures.as_completed(creations):  # status looks are not waited for
            engine.complete(in_flight[future], future.result(), clock())
        engine.leave_note(exc)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def run_async(
    engine: BatchEngine[S],
    create: Callable[[dict[str, Any]], Awaitable[Snapshot[S]]],
    fetch: Callable[[str, float | None], Awaitable[Snapshot[S]]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[object]],
) -> None:
    """Drive ``engine`` with tasks on the running event loop (at most ``max_requests`` open).

    Tasks only make requests; the engine is fed in this task. A creation is
    recorded and sent in a task shielded from cancellation, so that stopping the
    batch never loses a response id. Errors come out as they are, not in a group.
    """
    answers: deque[tuple[Action[S], Outcome[S]]] = deque()
    woken = anyio.Event()

    async def perform(action: Action[S]) -> None:
        if isinstance(action, Create):
            with anyio.CancelScope(shield=True):
                try:
                    engine.record_submission(action)
                except Exception as exc:
                    outcome: Outcome[S] = Outcome(error=exc, sent=False)
                else:
                    outcome = await _attempt(create(action.item.params))
        else:
            assert action.item.run_id is not None
            outcome = await _attempt(fetch(action.item.run_id, action.timeout))
        answers.append((action, outcome))
        woken.set()

    def take_answers() -> None:
        while answers:
            action, outcome = answers.popleft()
            engine.complete(action, outcome, clock())

    failure: BaseException | None = None
    try:
        async with anyio.create_task_group() as tasks:
            try:
                while not engine.finished:
                    for action in engine.start(clock()):
                        tasks.start_soon(perform, action)
                    delay = engine.next_wake(clock())
                    if engine.in_flight:
                        if not answers:
                            with anyio.move_on_after(math.inf if delay is None else delay):
                                await woken.wait()
                        woken = anyio.Event()
                        take_answers()
                    elif delay is not None:
                        await sleep(delay)
                    else:
                        raise RuntimeError(
                            "the batch has nothing left to wait for, yet is not done"
                        )
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:  # kept out of the task group's exception group
                failure = exc
                tasks.cancel_scope.cancel()
    except BaseException as exc:  # cancelled from outside
        engine.stop_reporting()
        take_answers()
        engine.leave_note(exc)
        raise
    if failure is not None:
        engine.stop_reporting()
        take_answers()
        engine.leave_note(failure)
        raise failure


async def _attempt(call: Awaitable[Snapshot[S]]) -> Outcome[S]:
    try:
        return Outcome(await call)
    except Exception as exc:
        return Outcome(error=exc)


# --- progress ----------------------------------------------------------------------


class _ProgressBar:
    """A tqdm bar of inputs done, with the counts by state after it."""

    def __init__(self, total: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, unit="run", desc="runs", dynamic_ncols=True)

    def __call__(self, progress: BatchProgress) -> None:
        counts = " ".join(
            f"{state}={n}" for state, n in _ordered(progress.counts) if state not in ("pending",)
        )
        self._bar.set_postfix_str(counts, refresh=False)
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def progress_reporter(
    progress: bool | ProgressCallback | None, total: int
) -> tuple[ProgressCallback | None, Callable[[], None]]:
    """The callback to report through, and how to close it.

    ``None``: a bar on a terminal (standard error), nothing otherwise; ``True``:
    a bar always (``tqdm.auto``: a widget in notebooks); ``False``: nothing; a
    callable: called with every :class:`BatchProgress`.
    """
    if callable(progress):
        return progress, lambda: None
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    if not progress:
        return None, lambda: None
    bar = _ProgressBar(total)
    return bar, bar.close


# --- preparing a batch -------------------------------------------------------------


def prepare(
    source: BatchSource[S],
    inputs: Iterable[str | Mapping[str, Any]],
    defaults: Mapping[str, Any],
    keys: Sequence[str] | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every input's creation keywords and key; nothing is sent if any input is bad."""
    if isinstance(inputs, str | bytes | Mapping):
        raise TypeError(
            f"map() takes a list of inputs, not one {type(inputs).__name__}: "
            "write map([text], ...) for a single input"
        )
    params: list[dict[str, Any]] = []
    for position, item in enumerate(inputs):
        if not isinstance(item, str | Mapping):
            raise TypeError(
                f"input {position} is a {type(item).__name__}: give a string, or a dict of "
                "creation keywords"
            )
        try:
            params.append(source.prepare(item, defaults))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"input {position}: {exc}") from None
    if keys is None:
        return params, [str(position) for position in range(len(params))]
    keys = [str(key) for key in keys]
    if len(keys) != len(params):
        raise ValueError(f"keys= has {len(keys)} keys for {len(params)} inputs: give one each")
    seen: dict[str, int] = {}
    for position, key in enumerate(keys):
        if key in seen:
            raise ValueError(f"keys= repeats {key!r} (inputs {seen[key]} and {position})")
        seen[key] = position
    return params, keys


@contextmanager
def batch_engine(
    source: BatchSource[S],
    inputs: Iterable[str | Mapping[str, Any]],
    *,
    defaults: Mapping[str, Any],
    keys: Sequence[str] | None,
    concurrency: int,
    journal: str | os.PathLike[str] | Journal | None,
    progress: bool | ProgressCallback | None,
    quotas: Quotas | None,
    policy: PollPolicy,
    resubmit_ambiguous: bool,
    run_timeout: float | None,
    now: float,
    wall_clock: Callable[[], float],
) -> Iterator[BatchEngine[S]]:
    """A ready engine for ``map``: inputs checked (nothing is sent if one is bad), the
    journal opened and read, progress set up; closed again on the way out."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, not {concurrency!r}")
    params, keys = prepare(source, inputs, defaults, keys)
    owned = journal is not None and not isinstance(journal, Journal)
    opened = Journal(journal) if owned else journal  # type: ignore[arg-type]
    report, close_progress = progress_reporter(progress, len(params))
    try:
        yield BatchEngine(
            source,
            params,
            keys,
            now=now,
            concurrency=concurrency,
            quotas=quotas if quotas is not None else Quotas.documented(),
            policy=policy,
            journal=opened,  # type: ignore[arg-type]
            progress=report,
            resubmit_ambiguous=resubmit_ambiguous,
            run_timeout=run_timeout,
            wall_clock=wall_clock,
        )
    finally:
        close_progress()
        if owned:
            assert isinstance(opened, Journal)
            opened.close()


def finish(engine: BatchEngine[S], return_exceptions: bool) -> list[AnyRunResult[S] | Exception]:
    """The results, or :class:`BatchError` if some inputs have none and that was not asked for."""
    if engine.fatal is not None:
        engine.leave_note(engine.fatal)
        raise engine.fatal
    results = engine.results()
    errors = {i: r for i, r in enumerate(results) if isinstance(r, Exception)}
    if errors and not return_exceptions:
        raise BatchError(results, errors)
    return results
