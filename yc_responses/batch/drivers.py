"""Running a batch: the two drivers that carry out the engine's effects (send requests,
write the journal, call the progress callback), and setting a batch up and finishing it.

:func:`run_sync` sends on two small thread pools (creations, and status looks, each
with slots of their own; never a thread per run), :func:`run_async` as tasks on the
running event loop. Both keep the journal's promise: a creation's "submitting" row
is written by the thread or shielded task that sends it, right before sending; a
created id is recorded as soon as it comes back; on an interruption the creations
in flight are waited for and recorded, then the exception goes on.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Sized,
)
from concurrent import futures
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from yc_responses.polling import PollPolicy, Snapshot
from yc_responses.quotas import Quotas

from .effects import Follow
from .engine import Answer, BatchEngine, Create, Effect, Record, Report, Request
from .errors import BatchError
from .inputs import BatchSource, prepare, prepare_lazily
from .journal import Journal
from .progress import ProgressCallback, call_progress, progress_reporter

if TYPE_CHECKING:
    from yc_responses.results import AnyRunResult

__all__ = [
    "Batch",
    "batch_engine",
    "drive_async",
    "drive_sync",
    "ended",
    "finish",
    "run_async",
    "run_sync",
]

S = TypeVar("S")


@dataclass
class Batch(Generic[S]):
    """An engine and what carries out its effects: the open journal, the progress
    callback, the wall clock (for servers' ``Retry-After`` dates)."""

    engine: BatchEngine[S]
    journal: Journal | None
    progress: ProgressCallback | None
    wall_clock: Callable[[], float] = time.time

    def write(self, record: Record) -> None:
        """Write one journal row (safe from any thread)."""
        if self.journal is not None:
            getattr(self.journal, record.method)(record.key, **record.fields)

    def grouped(self) -> AbstractContextManager[None]:
        """The journal rows written inside go to disk in one commit, on the way out."""
        return nullcontext() if self.journal is None else self.journal.group()

    def step(self, now: float) -> list[Request[S]]:
        """The requests to send now, after the rows before them are committed."""
        with self.grouped():
            return self.carry_out(self.engine.start(now))

    def carry_out(self, effects: Iterable[Effect[S]]) -> list[Request[S]]:
        """Write the rows, report the progress; the requests to send, in order."""
        requests: list[Request[S]] = []
        stopped: BaseException | None = None
        for effect in effects:
            if isinstance(effect, Record):
                self.write(effect)  # even after a callback stopped the batch: ids are kept
            elif stopped is not None:
                continue  # nothing more is reported or sent
            elif isinstance(effect, Report):
                try:
                    if self.progress is not None:
                        call_progress(self.progress, effect.progress)
                except BaseException as exc:
                    stopped = exc
            else:
                requests.append(effect)
        if stopped is not None:
            raise stopped
        return requests

    def complete(self, request: Request[S], answer: Answer[S], now: float) -> None:
        """Feed one answer to the engine and carry out what follows (it sends nothing)."""
        effects = self.engine.complete(request, answer, now=now, wall_time=self.wall_clock())
        self.carry_out(effects)

    def stopped(self) -> None:
        """The batch is being stopped: no more reports."""
        self.engine.stop_reporting()

    def submission(self, create: Create[S]) -> Answer[S] | None:
        """Write ``create``'s row; an :class:`Answer` if that failed (nothing is sent then)."""
        try:
            if create.row is not None:
                self.write(create.row)
        except Exception as exc:
            return Answer(error=exc, sent=False)
        return None


def run_sync(
    batch: Batch[S],
    create: Callable[[dict[str, Any]], Snapshot[S]],
    fetch: Callable[[str, float | None], Snapshot[S]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], object],
) -> None:
    """Drive a batch to its end with blocking calls (see :func:`drive_sync`)."""
    for _ in drive_sync(batch, create, fetch, clock=clock, sleep=sleep):
        pass


def drive_sync(
    batch: Batch[S],
    create: Callable[[dict[str, Any]], Snapshot[S]],
    fetch: Callable[[str, float | None], Snapshot[S]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], object],
) -> Iterator[None]:
    """Drive a batch with blocking calls, yielding after each step that took answers in
    (the inputs that ended are then at ``engine.take_done()``): creations on
    ``engine.max_creates`` threads, status looks on ``engine.max_fetches`` others,
    so neither holds up the other.

    A worker thread writes a creation's journal row and sends it, so an interruption
    of this thread never leaves a row for an input that was not sent. On an
    interruption (closing the generator too) the creations in flight are waited for
    and recorded (no response id is lost), then the exception goes on.
    """
    engine = batch.engine

    def send(request: Request[S]) -> Answer[S]:
        if isinstance(request, Create):
            refused = batch.submission(request)
            if refused is not None:
                return refused
        try:
            if isinstance(request, Create):
                return Answer(create(request.item.params))
            assert request.item.run_id is not None
            return Answer(fetch(request.item.run_id, request.timeout))
        except Exception as exc:
            return Answer(error=exc)

    prefix = "yc-responses-batch"
    creations = futures.ThreadPoolExecutor(engine.max_creates, thread_name_prefix=prefix)
    looks = futures.ThreadPoolExecutor(engine.max_fetches, thread_name_prefix=prefix)
    in_flight: dict[futures.Future[Answer[S]], Request[S]] = {}
    try:
        while not engine.finished:
            for request in batch.step(clock()):
                pool = creations if isinstance(request, Create) else looks
                in_flight[pool.submit(send, request)] = request
            delay = engine.next_wake(clock())
            if engine.finished:  # lazy inputs that all ended when taken in
                break
            if in_flight:
                done, _ = futures.wait(
                    in_flight, timeout=delay, return_when=futures.FIRST_COMPLETED
                )
                with batch.grouped():  # one commit for the step, before more requests go
                    for future in done:
                        batch.complete(in_flight.pop(future), future.result(), clock())
                yield
            elif delay is not None:
                sleep(delay)
                yield
            else:
                raise RuntimeError("the batch has nothing left to wait for, yet is not done")
    except BaseException as exc:
        batch.stopped()
        sent = [f for f, request in in_flight.items() if isinstance(request, Create)]
        for future in futures.as_completed(sent):  # status looks are not waited for
            batch.complete(in_flight[future], future.result(), clock())
        engine.leave_note(exc)
        raise
    finally:
        for pool in (creations, looks):
            pool.shutdown(wait=False, cancel_futures=True)


async def run_async(
    batch: Batch[S],
    create: Callable[[dict[str, Any]], Awaitable[Snapshot[S]]],
    fetch: Callable[[str, float | None], Awaitable[Snapshot[S]]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[object]],
    follow: Callable[[str, float | None], Awaitable[Snapshot[S]]] | None = None,
) -> None:
    """Drive a batch to its end on the running event loop (see :func:`drive_async`)."""
    async for _ in drive_async(batch, create, fetch, clock=clock, sleep=sleep, follow=follow):
        pass


async def drive_async(
    batch: Batch[S],
    create: Callable[[dict[str, Any]], Awaitable[Snapshot[S]]],
    fetch: Callable[[str, float | None], Awaitable[Snapshot[S]]],
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[object]],
    follow: Callable[[str, float | None], Awaitable[Snapshot[S]]] | None = None,
) -> AsyncIterator[None]:
    """Drive a batch with tasks on the running event loop (the engine bounds how many
    creations and how many looks are open at once).

    Tasks only make requests; the engine is fed in this task. A creation is
    recorded and sent in a task shielded from cancellation, so that stopping the
    batch never loses a response id. Errors come out as they are, not in a group.
    It yields after each step that took answers in (as :func:`drive_sync`); iterate
    it from one task, to its end or until it is closed. ``follow`` carries out the
    engine's :class:`~.effects.Follow` requests (a run's event stream to its end).
    """
    engine = batch.engine
    answers: deque[tuple[Request[S], Answer[S]]] = deque()
    woken = anyio.Event()

    async def send(request: Request[S]) -> None:
        if isinstance(request, Create):
            with anyio.CancelScope(shield=True):
                answer = batch.submission(request) or await _attempt(create(request.item.params))
        else:
            run_id = request.item.run_id
            assert run_id is not None
            if isinstance(request, Follow):
                assert follow is not None
                answer = await _attempt(follow(run_id, request.timeout))
            else:
                answer = await _attempt(fetch(run_id, request.timeout))
        answers.append((request, answer))
        woken.set()

    def take_answers() -> None:
        with batch.grouped():  # one commit for the step, before more requests go
            while answers:
                request, answer = answers.popleft()
                batch.complete(request, answer, clock())

    failure: BaseException | None = None
    try:
        async with anyio.create_task_group() as tasks:
            try:
                while not engine.finished:
                    for request in batch.step(clock()):
                        tasks.start_soon(send, request)
                    delay = engine.next_wake(clock())
                    if engine.finished:  # lazy inputs that all ended when taken in
                        break
                    if engine.in_flight:
                        if not answers:
                            with anyio.move_on_after(math.inf if delay is None else delay):
                                await woken.wait()
                        woken = anyio.Event()
                        take_answers()
                        yield
                    elif delay is not None:
                        await sleep(delay)
                        yield
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
        batch.stopped()
        take_answers()
        engine.leave_note(exc)
        raise
    if failure is not None:
        batch.stopped()
        take_answers()
        engine.leave_note(failure)
        raise failure


async def _attempt(call: Awaitable[Snapshot[S]]) -> Answer[S]:
    try:
        return Answer(await call)
    except Exception as exc:
        return Answer(error=exc)


@contextmanager
def batch_engine(
    source: BatchSource[S],
    inputs: Iterable[str | Mapping[str, Any]],
    *,
    defaults: Mapping[str, Any],
    keys: Sequence[str] | None,
    concurrency: int | None,
    journal: str | os.PathLike[str] | Journal | None,
    progress: bool | ProgressCallback | None,
    quotas: Quotas | None,
    policy: PollPolicy,
    resubmit_ambiguous: bool,
    run_timeout: float | None,
    now: float,
    wall_clock: Callable[[], float],
    lazy: bool = False,
    stream: bool = False,
) -> Iterator[Batch[S]]:
    """A ready batch for ``map``: inputs checked (nothing is sent if one is bad), the
    journal opened and read, progress set up; closed again on the way out.

    ``lazy`` (for ``imap``): inputs are taken and checked one by one as there is room
    for them, each looked up in the journal then."""
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise ValueError(
            f"concurrency must be a positive int (or None to adapt), not {concurrency!r}"
        )
    total = len(inputs) if isinstance(inputs, Sized) else None
    if lazy:
        pairs: Any = prepare_lazily(source, inputs, defaults, keys)
        keys = None
    else:
        pairs, keys = prepare(source, inputs, defaults, keys)
        total = len(pairs)
    with ExitStack() as stack:
        opened: Journal | None = None
        if isinstance(journal, Journal):
            opened = journal
        elif journal is not None:
            opened = stack.enter_context(Journal(journal))
        report, close_progress = progress_reporter(progress, total)
        stack.callback(close_progress)
        entries: Any = None
        if opened is not None:
            entries = opened.entry if lazy else list(opened.entries())
        engine = BatchEngine(
            source,
            pairs,
            keys,
            entries=entries,
            total=total,
            stream=stream,
            now=now,
            concurrency=concurrency,
            quotas=quotas if quotas is not None else Quotas.documented(),
            policy=policy,
            resubmit_ambiguous=resubmit_ambiguous,
            run_timeout=run_timeout,
            journal_path=None if opened is None else opened.path,
        )
        yield Batch(engine, opened, report, wall_clock)


def finish(batch: Batch[S], return_exceptions: bool) -> list[AnyRunResult[S] | Exception]:
    """The results, or :class:`BatchError` if some inputs have none and that was not asked for."""
    engine = batch.engine
    if engine.fatal is not None:
        engine.leave_note(engine.fatal)
        raise engine.fatal
    results = engine.results()
    errors = {i: r for i, r in enumerate(results) if isinstance(r, Exception)}
    if errors and not return_exceptions:
        raise BatchError(results, errors)
    return results


def ended(batch: Batch[S]) -> list[tuple[int, AnyRunResult[S] | Exception]]:
    """The inputs of a lazy batch that ended since the last call, as ``(position, result
    or exception)``; the engine keeps nothing of them. A fatal error is raised."""
    engine = batch.engine
    out: list[tuple[int, AnyRunResult[S] | Exception]] = []
    for item in engine.take_done():
        outcome = item.result if item.result is not None else item.error
        assert outcome is not None
        out.append((item.position, outcome))
    if not out and engine.fatal is not None and engine.finished:
        engine.leave_note(engine.fatal)
        raise engine.fatal
    return out
