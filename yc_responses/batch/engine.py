"""The decisions of a batch, without I/O: which request to send, which journal row to
write, which progress to report, and when.

Each input's life is a :class:`Phase` with a table of the moves allowed
(:data:`TRANSITIONS`). The engine is fed the time (``now``, ``wall_time``) and the
answers of requests, and returns :data:`Effect` values for a driver to carry
out: :class:`Create` and :class:`Fetch` requests, :class:`Record` journal rows,
:class:`Report` progress. It never writes a file, calls user code or reads a clock::

    engine = BatchEngine(source, params, keys, entries=None, now=0.0, ...)
    effects = engine.start(now)              # Create, Fetch, Record, Report
    ...
    effects = engine.complete(request, Answer(snapshot), now=now, wall_time=time.time())
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import openai

from yc_responses.errors import (
    AmbiguousSubmissionError,
    RunLookupError,
    RunTimeoutError,
    UnexpectedStatusError,
    YCResponsesError,
    add_note_once,
)
from yc_responses.faults import (
    headers_of,
    is_refusal,
    never_sent,
    stops_everything,
    was_not_sent,
)
from yc_responses.polling import FaultBudget, PollLoop, PollPolicy, Snapshot, server_hint
from yc_responses.quotas import Gate, Quotas, at_least_epsilon

from .compact import compact
from .effects import (
    TRANSITIONS,
    Answer,
    Create,
    Effect,
    Fetch,
    Follow,
    Item,
    NotStreamed,
    Phase,
    Record,
    Report,
    Request,
)
from .errors import UnreadableAnswerError, error_from_journal, error_to_journal, unreadable_answer
from .inputs import BatchSource, fingerprint
from .journal import SUBMITTING, JournalEntry, check_entry
from .pace import Pace
from .progress import ERROR, PENDING, BatchProgress

if TYPE_CHECKING:
    from yc_responses.results import AnyRunResult

__all__ = [
    "MAX_CREATES_IN_FLIGHT",
    "MAX_ENDED_WAITING",
    "MAX_FETCHES_IN_FLIGHT",
    "TRANSITIONS",
    "Answer",
    "BatchEngine",
    "Create",
    "Effect",
    "Fetch",
    "Phase",
    "Record",
    "Report",
    "Request",
]

S = TypeVar("S")
"""A snapshot of one run: a ``Response``, or an ``Operation`` of the older API."""

MAX_CREATES_IN_FLIGHT = 8
"""How many creations a batch has open at once."""
MAX_FETCHES_IN_FLIGHT = 8
"""How many status looks a batch has open at once: slots of their own, so creations
that hang never hold up the looks at runs already going."""
MAX_ENDED_WAITING = 256
"""Lazy inputs are taken in only while fewer ended ones than this wait to be handed out."""


class BatchEngine(Generic[S]):
    """The decisions of a whole batch, without I/O.

    A driver carries out the effects of :meth:`start` (the constructor's resume
    included), sends the requests among them, feeds each :class:`Answer` back
    with :meth:`complete` (carrying out its effects too), and sleeps at most
    :meth:`next_wake` seconds in between, until :attr:`finished`.

    ``entries`` is what the journal holds (``None``: no journal); ``journal_path``
    names it in messages.

    Given ``keys=None``, ``params`` is an iterable of ``(key, params)`` pairs taken
    lazily, as there is room for more runs, and ``entries`` looks one key up in the
    journal; the inputs that end are handed out by :meth:`take_done` and kept no
    more (``total``: how many there are, when known).
    """

    def __init__(
        self,
        source: BatchSource[S],
        params: Sequence[dict[str, Any]] | Iterable[tuple[str, dict[str, Any]]],
        keys: Sequence[str] | None,
        *,
        entries: Sequence[JournalEntry] | Callable[[str], JournalEntry | None] | None,
        now: float,
        concurrency: int | None,
        quotas: Quotas,
        policy: PollPolicy,
        resubmit_ambiguous: bool,
        run_timeout: float | None = None,
        journal_path: str | None = None,
        max_creates: int = MAX_CREATES_IN_FLIGHT,
        max_fetches: int = MAX_FETCHES_IN_FLIGHT,
        total: int | None = None,
        stream: bool = False,
    ) -> None:
        if run_timeout is not None and run_timeout < 0:
            raise ValueError("run_timeout must be >= 0 seconds, or None to wait until runs end")
        self._source = source
        self._policy = policy
        self._run_timeout = run_timeout
        self.journaled = entries is not None
        self.journal_path = journal_path
        self.pace = Pace(concurrency, quotas.creates_per_second)
        """How many runs may be going at once (adapted to the durations seen, at most
        ``concurrency``), and when each is first looked at."""
        self._now = now
        self.max_creates = max_creates
        self.max_fetches = max_fetches
        self._resubmit = resubmit_ambiguous
        self._lookup: Callable[[str], JournalEntry | None] = lambda _key: None
        self._inputs: Iterator[tuple[int, tuple[str, dict[str, Any]]]] | None = None
        self._done: deque[Item[S]] | None = None
        """Inputs ended and not taken yet (lazy inputs only)."""
        self.items: list[Item[S]] = []
        """Every input, in order (not kept for lazy inputs)."""
        if keys is None:
            self._inputs = enumerate(params)  # type: ignore[arg-type]
            self._done = deque()
            if callable(entries):
                self._lookup = entries
        else:
            pairs: Iterable[tuple[str, Any]] = zip(keys, params, strict=True)
            self.items = [self._item(position, pair) for position, pair in enumerate(pairs)]
        self.total = len(self.items) if total is None else total
        self._live: dict[int, Item[S]] = {item.position: item for item in self.items}
        """The inputs not ended yet, by position."""
        self._creates = Gate(quotas.create_windows())
        self._fetches = Gate(quotas.fetch_windows())
        self._create_faults = FaultBudget(policy, retryable=was_not_sent)
        self._streaming = stream
        """Runs are followed over their event streams (until the service shows it has none)."""
        self._follows: deque[Item[S]] = deque()
        self._following = 0
        self._pending: deque[Item[S]] = deque()
        self._polls: list[tuple[float, int, Item[S]]] = []
        self._active = 0
        """Runs submitting or going on the server: at most ``pace.limit()``."""
        self._creating = 0
        self._fetching = 0
        self._unresolved = len(self.items)
        self._ended = 0
        self._counts: Counter[str] = Counter()
        self._effects: list[Effect[S]] = []
        self._reporting = False
        self.fatal: BaseException | None = None
        """An error that stops the whole batch (bad credentials): raised by the driver."""
        self.resumed = 0
        if not callable(entries):
            self._resume(entries or (), now)
        self._reporting = True
        self._report()

    # --- start and resume

    def _item(self, position: int, pair: tuple[str, dict[str, Any]]) -> Item[S]:
        key, params = pair
        return Item(position, key, params, fingerprint({self._source.scope: params}))

    def _check(self, item: Item[S], entry: JournalEntry | None) -> None:
        where = f" (input {item.position})"
        check_entry(entry, item.fingerprint, path=str(self.journal_path), where=where)

    def _resume(self, entries: Sequence[JournalEntry], now: float) -> None:
        by_key = {entry.key: entry for entry in entries}
        for item in self.items:  # every input checked before anything is changed
            self._check(item, by_key.get(item.key))
        for item in self.items:
            self._admit(item, by_key.get(item.key), now)

    def _pull(self, now: float) -> None:
        """Take lazy inputs in while there is room for them (and few ended ones wait)."""
        while self._can_pull(now):
            assert self._inputs is not None
            taken = next(self._inputs, None)
            if taken is None:
                self._inputs = None
                self.total = max(self.total, len(self._live) + self._ended)
                return
            item = self._item(*taken)
            entry = self._lookup(item.key)
            self._check(item, entry)
            self._live[item.position] = item
            self._unresolved += 1
            self.total = max(self.total, item.position + 1)
            self._admit(item, entry, now)

    def _can_pull(self, now: float) -> bool:
        if self._inputs is None or self._pending or self.fatal is not None:
            return False
        assert self._done is not None
        return len(self._done) < MAX_ENDED_WAITING and self._active < self.pace.limit(now=now)

    def _admit(self, item: Item[S], entry: JournalEntry | None, now: float) -> None:
        """Start following one input, from what the journal holds of it."""
        if entry is None:
            self._queue(item)
            return
        self.resumed += 1
        item.run_id = entry.run_id
        if entry.status == ERROR and entry.result is not None:
            self._resolve(item, error=error_from_journal(entry))
        elif entry.result is not None:
            self._resume_result(item, entry.result)
        elif not entry.is_ambiguous and entry.run_id is not None:
            self._set_state(item, entry.status)
            self._watch(item, entry.run_id, now)
            self._schedule(item, now)
        elif self._resubmit:
            self._record("forget", item.key)
            self.resumed -= 1
            self._queue(item)
        else:
            self._resolve(item, error=AmbiguousSubmissionError(None, key=item.key))

    def _resume_result(self, item: Item[S], text: str) -> None:
        try:
            result = self._source.result(self._source.load(text))
        except Exception as exc:  # a row written by a version that saved unreadable answers
            self._resolve(item, error=self._unreadable(item, "its saved result", text, exc))
        else:
            self._resolve(item, result=self._kept(result, text))

    def _kept(self, result: AnyRunResult[S], text: str) -> AnyRunResult[S]:
        """A result as the batch keeps it: compact until ``map`` returns (its payload
        as JSON text), as it is when handed out at once (lazy inputs)."""
        return result if self._done is not None else compact(result, text, self._source.load)

    def _queue(self, item: Item[S]) -> None:
        self._move(item, Phase.PENDING)
        self._set_state(item, PENDING)
        self._pending.append(item)

    def _watch(self, item: Item[S], run_id: str, now: float) -> None:
        self._move(item, Phase.WATCHING)
        item.run_id = run_id
        self._active += 1
        item.loop = PollLoop(
            run_id,
            self._source,
            self._policy,
            now=now,
            timeout=self._run_timeout,
            on_status=lambda status, _snapshot: self._status_seen(item, status.value),
            resource=self._source.resource,
            first_delay=self.pace.first_look(self._policy) if item.started is not None else None,
        )

    # --- what to do now

    @property
    def in_flight(self) -> int:
        """Requests given out by :meth:`start` and not completed yet."""
        return self._creating + self._fetching + self._following

    @property
    def finished(self) -> bool:
        """Nothing left to do (or a fatal error), and no request in flight."""
        done = (self._unresolved == 0 and self._inputs is None) or self.fatal is not None
        return done and self.in_flight == 0

    def start(self, now: float) -> list[Effect[S]]:
        """What to do now: the effects waiting, then the requests to send.

        Carry them out in order: a :class:`Report` may stop the batch before the
        requests after it are sent.
        """
        self._now = now
        self._pull(now)
        if self.fatal is None:
            while self._creating < self.max_creates and self._next_create(now):
                pass
            while self._fetching < self.max_fetches and self._next_fetch(now):
                pass
            while self._follows and not self._fetches.wait_time(now):
                item = self._follows.popleft()
                assert item.loop is not None
                self._fetches.sent()  # counted once, as it is opened: it stays open for long
                self._fetches.answered(now)
                self._following += 1
                self._effects.append(Follow(item, item.loop.remaining(now)))
        return self._take()

    def _next_fetch(self, now: float) -> bool:
        if not self._polls or self._poll_wait(now):
            return False
        _, _, item = heapq.heappop(self._polls)
        assert item.loop is not None
        self._fetches.sent()
        self._fetching += 1
        self._effects.append(Fetch(item, item.loop.request_timeout(now)))
        return True

    def _poll_wait(self, now: float) -> float:
        return max(at_least_epsilon(self._polls[0][0] - now), self._fetches.wait_time(now))

    def _may_create(self, now: float) -> bool:
        """An input waits to be sent, and there is room for it (a retry already has its place)."""
        if not self._pending:
            return False
        return self._pending[0].state != PENDING or self._active < self.pace.limit(now=now)

    def _next_create(self, now: float) -> bool:
        if not self._may_create(now) or self._creates.wait_time(now):
            return False
        item = self._pending.popleft()
        self._creates.sent()
        self._creating += 1
        if item.state == PENDING:  # a first attempt, not a retry after a 429
            self._active += 1
        self._move(item, Phase.SUBMITTING)
        self._set_state(item, SUBMITTING)
        row = None
        if self.journaled:
            fields = {"position": item.position, "fingerprint": item.fingerprint}
            row = Record("submitting", item.key, fields)
        self._effects.append(Create(item, row))
        return True

    def next_wake(self, now: float) -> float | None:
        """Seconds until :meth:`start` may have something new; ``None``: only a reply will."""
        if self.fatal is not None:
            return None
        waits: list[float] = []
        if self._polls and self._fetching < self.max_fetches:
            waits.append(self._poll_wait(now))
        if self._may_create(now) and self._creating < self.max_creates:
            waits.append(self._creates.wait_time(now))
        if self._follows:
            waits.append(self._fetches.wait_time(now))
        if self._can_pull(now):  # ended inputs were taken: room for more
            waits.append(0.0)
        soonest = min(waits, default=math.inf)
        return None if soonest == math.inf else max(soonest, 0.0)

    # --- what came back

    def complete(
        self, request: Request[S], answer: Answer[S], *, now: float, wall_time: float
    ) -> list[Effect[S]]:
        """Take in the answer to a request :meth:`start` gave; the effects to carry out."""
        item = request.item
        self._now = now
        if isinstance(request, Create):
            self._creating -= 1
            self._creates.answered(now)
            refused = isinstance(answer.error, openai.RateLimitError)
            if refused:  # sent under the quota, yet refused: too many runs at once
                self.pace.refused(self._active, now=now)
            if answer.snapshot is not None:
                self._created(item, answer.snapshot, now)
            else:
                assert answer.error is not None
                self._create_failed(item, answer.error, now, wall_time, sent=answer.sent)
            if refused and item.phase is Phase.PENDING and self._active > self.pace.limit(now=now):
                self._active -= 1  # it gives up its place: sent again when there is room
                self._set_state(item, PENDING)
        elif isinstance(request, Follow):
            self._following -= 1
            if answer.snapshot is not None:
                self._fetched(item, answer.snapshot, now)
            elif isinstance(answer.error, NotStreamed):
                self._streaming = False  # the service streams no run: look at them all
                self._schedule(item, now)
            else:
                assert answer.error is not None
                self._fetch_failed(item, answer.error, now, wall_time)
        else:
            self._fetching -= 1
            self._fetches.answered(now)
            if answer.snapshot is not None:
                self._fetched(item, answer.snapshot, now)
            else:
                assert answer.error is not None
                self._fetch_failed(item, answer.error, now, wall_time)
        return self._take()

    def _created(self, item: Item[S], snapshot: Snapshot[S], now: float) -> None:
        self._create_faults.reset()
        run_id = self._run_id_of(snapshot)
        if run_id is None:  # created, most likely, but there is no id to follow it by
            self._active -= 1
            self._finish_with(item, self._unreadable(item, "the creation answer", snapshot.value))
            return
        try:
            status: str | None = self._source.status(snapshot.value).value
        except Exception:  # an id without a readable status: look at the run again
            status = None
        self._adopt(item, run_id, status or "submitted", now)
        if status is None:
            self._schedule(item, now)
        else:
            self._fetched(item, snapshot, now)

    def _run_id_of(self, snapshot: Snapshot[S]) -> str | None:
        try:
            run_id = self._source.run_id(snapshot.value)
        except Exception:
            return None
        return run_id if isinstance(run_id, str) and run_id else None

    def _adopt(self, item: Item[S], run_id: str, status: str, now: float) -> None:
        """``item`` has a run on the server now: record its id, follow it."""
        self._record("submitted", item.key, run_id=run_id, status=status)
        self._active -= 1  # _watch counts it again, as a run on the server
        item.started = now
        self.pace.started(now)
        self._watch(item, run_id, now)

    def _create_failed(
        self, item: Item[S], exc: Exception, now: float, wall_time: float, *, sent: bool
    ) -> None:
        if not sent:  # the journal could not be written: nothing was sent, nothing can be
            self._active -= 1
            self._resolve(item, error=exc)
            self.fatal = exc
            return
        if was_not_sent(exc):  # a 429, or no connection: the service did not take it
            self._record("forget", item.key)  # written again when it is sent again
            self._move(item, Phase.PENDING)
            self._pending.appendleft(item)
            delay = self._create_faults.retry_after(exc, now=now, wall_time=wall_time)
            if delay is None:  # refused for longer than policy.max_outage: stop the batch
                self.fatal = exc
            else:
                self._creates.pause(now + delay)
            return
        self._active -= 1
        if is_refusal(exc):  # a 4xx: nothing started, a later run may send it
            self._record("forget", item.key)
            self._resolve(item, error=exc)
            if stops_everything(exc):
                self.fatal = exc
            return
        run_id = getattr(exc, "response_id", None)
        if isinstance(run_id, str) and run_id:  # created, but its answer could not be read
            self._adopt(item, run_id, "submitted", now)
            self._schedule(item, now)
            return
        if isinstance(exc, UnexpectedStatusError):  # an answer came, without an id to follow
            self._finish_with(item, self._unreadable(item, "the creation answer", exc.raw, exc))
            return
        if never_sent(exc):  # failed before anything went out (credentials, encoding)
            self._record("forget", item.key)
            self._resolve(item, error=exc)
            if stops_everything(exc):
                self.fatal = exc
            return
        # a 5xx, a timeout, a dropped connection, an unreadable answer: it may have started
        self._resolve(item, error=AmbiguousSubmissionError(exc, key=item.key))

    def _fetched(self, item: Item[S], snapshot: Snapshot[S], now: float) -> None:
        assert item.loop is not None
        seen = self._run_id_of(snapshot)
        if seen != item.run_id:
            what = f"a status answer about run {seen!r}" if seen else "a status answer"
            self._stop_watching(item, error=self._unreadable(item, what, snapshot.value))
            return
        try:
            result = item.loop.observe(snapshot, now=now)
            saved = self._source.dump(snapshot.value) if result is not None else ""
        except Exception as exc:  # a malformed answer: this input's error, for good
            self._stop_watching(
                item, error=self._unreadable(item, "a status answer", snapshot.value, exc)
            )
            return
        if result is None:
            self._schedule(item, now)
            return
        self._record("finished", item.key, status=result.status.value, result=saved)
        self._stop_watching(item, result=self._kept(result, saved))

    def _fetch_failed(self, item: Item[S], exc: Exception, now: float, wall_time: float) -> None:
        assert item.loop is not None
        if item.loop.fault(exc, now=now, wall_time=wall_time):
            if isinstance(exc, openai.RateLimitError):
                hint = server_hint(headers_of(exc), wall_time=wall_time)
                self._fetches.pause(now + (hint if hint is not None else 1.0))
            self._schedule(item, now)
            return
        if unreadable_answer(exc):  # the run's answer itself is malformed: for good
            raw = getattr(exc, "raw", getattr(exc, "doc", None))
            self._stop_watching(item, error=self._unreadable(item, "a status answer", raw, exc))
        elif isinstance(exc, YCResponsesError):  # the library's own errors carry the id
            self._stop_watching(item, error=exc)
        else:
            assert item.run_id is not None
            lost = RunLookupError(item.run_id, exc, resource=self._source.resource)
            self._stop_watching(item, error=lost)
        if stops_everything(exc):
            self.fatal = exc

    # --- unreadable answers

    def _unreadable(
        self, item: Item[S], what: str, raw: object, cause: Exception | None = None
    ) -> UnreadableAnswerError:
        why = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        if item.run_id is None:
            why = why or " (it has no run id)"
        error = UnreadableAnswerError(
            f"{what} cannot be read{why}", raw=raw, response_id=item.run_id, key=item.key
        )
        error.__cause__ = cause
        return error

    def _finish_with(self, item: Item[S], error: UnreadableAnswerError) -> None:
        """End ``item`` with ``error`` and keep it in the journal, so a rerun ends alike."""
        self._record("finished", item.key, status=ERROR, result=error_to_journal(error))
        self._resolve(item, error=error)

    # --- bookkeeping

    def _schedule(self, item: Item[S], now: float) -> None:
        assert item.loop is not None
        try:
            due = now + item.loop.next_delay(now=now)
        except RunTimeoutError as exc:  # past run_timeout: the run goes on, its id is kept
            self._stop_watching(item, error=exc)
            return
        if self._streaming and not item.followed:
            item.followed = True
            self._follows.append(item)
            return
        heapq.heappush(self._polls, (due, item.position, item))

    def _stop_watching(
        self,
        item: Item[S],
        *,
        result: AnyRunResult[S] | None = None,
        error: Exception | None = None,
    ) -> None:
        self._active -= 1
        item.loop = None
        if item.started is not None:  # seen ended (or given up on): no longer going here
            self.pace.ended(item.started, now=self._now, seen=result is not None)
        if isinstance(error, UnreadableAnswerError):
            self._finish_with(item, error)
        else:
            self._resolve(item, result=result, error=error)

    def _resolve(
        self,
        item: Item[S],
        *,
        result: AnyRunResult[S] | None = None,
        error: Exception | None = None,
    ) -> None:
        self._move(item, Phase.DONE)
        item.result, item.error = result, error
        item.params = {}  # never sent again: what was sent is not kept
        self._unresolved -= 1
        self._ended += 1
        del self._live[item.position]
        if self._done is not None:
            self._done.append(item)
        self._set_state(item, result.status.value if result is not None else ERROR)

    def _move(self, item: Item[S], phase: Phase) -> None:
        if phase is not item.phase and phase not in TRANSITIONS[item.phase]:
            raise RuntimeError(f"input {item.position} cannot go from {item.phase} to {phase}")
        item.phase = phase

    def _status_seen(self, item: Item[S], status: str) -> None:
        if status == item.state:
            return
        if item.state != SUBMITTING:
            self._record("status_changed", item.key, status=status)
        self._set_state(item, status)

    def _set_state(self, item: Item[S], state: str) -> None:
        if item.state == state:
            return
        if item.state:
            self._counts[item.state] -= 1
        self._counts[state] += 1
        item.state = state
        self._report()

    def _record(self, method: Any, key: str, **fields: Any) -> None:
        if self.journaled:
            self._effects.append(Record(method, key, fields))

    def _report(self) -> None:
        if self._reporting:
            self._effects.append(Report(self.progress()))

    def _take(self) -> list[Effect[S]]:
        effects, self._effects = self._effects, []
        return effects

    def progress(self) -> BatchProgress:
        """Where the batch stands now."""
        return BatchProgress(self.total, dict(+self._counts), self.resumed)

    def take_done(self) -> list[Item[S]]:
        """The lazy inputs ended since the last call, in the order they ended; the engine
        keeps nothing of them."""
        if not self._done:
            return []
        done = list(self._done)
        self._done.clear()
        return done

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
        items = self.items or self._live.values()
        return [i.run_id for i in items if i.run_id and i.result is None]

    def stop_reporting(self) -> None:
        """No more progress reports (while the batch is being stopped)."""
        self._reporting = False
        self._effects = [e for e in self._effects if not isinstance(e, Report)]

    def leave_note(self, exc: BaseException) -> None:
        """Say on an exception that stopped the batch where its runs are (Python 3.11+)."""
        ids = self.unfinished_ids()
        if self.journaled:
            note = (
                f"the journal {self.journal_path!r} keeps every response id of this batch: "
                "run the same call again to resume"
            )
        elif ids:
            note = f"{len(ids)} runs of this batch were still going on the server: {', '.join(ids)}"
        else:
            return
        add_note_once(exc, note)
