"""Each way of talking to a run written once, as steps; two thin drivers perform them.

A *step generator* decides everything and performs nothing: it yields a
:class:`Request` (make one HTTP request), a :class:`Sleep`, or a stream effect
(:class:`NextEvent`, :class:`Close`), and is sent back what the request returned
(or has the exception thrown in). :func:`drive_sync` performs the steps with
blocking calls, :func:`drive_async` with ``await``; nothing else differs between
the sync and the async clients::

    def look_twice(kind):
        first = yield kind.fetch("resp_1")
        yield Sleep(1.0)
        return (yield kind.fetch("resp_1"))

    drive_sync(look_twice(kind), sleep=time.sleep)            # on openai.OpenAI
    await drive_async(look_twice(kind), sleep=anyio.sleep)    # on openai.AsyncOpenAI

A :class:`Request`'s ``send`` is one call of the official client: it returns the
answer on a sync client and an awaitable of it on an async one, so a kind of job
builds its requests once for both.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar, cast

import anyio
import httpx2
import openai

from .errors import AmbiguousSubmissionError
from .faults import is_transient, may_have_started, was_not_sent
from .polling import Deadline, FaultBudget, PollLoop, PollPolicy, Snapshot

__all__ = [
    "END",
    "Close",
    "NextEvent",
    "Request",
    "Sleep",
    "Steps",
    "drive_async",
    "drive_sync",
    "perform_async",
    "perform_sync",
    "retry",
    "submit",
    "wait",
]

T = TypeVar("T")
S = TypeVar("S")


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Request(Generic[T]):
    """One HTTP request: ``send()`` makes it (an awaitable on an async client),
    ``parse`` turns the answer into what the step wants."""

    send: Callable[[], Any]
    parse: Callable[[Any], T] = _same
    limit: float | None = None
    """The most seconds the whole request may take, however the server drips its answer;
    past it, ``openai.APITimeoutError`` (``None``: only the HTTP client's own timeouts)."""

    def within(self, limit: float | None) -> Request[T]:
        """The same request with a time limit."""
        return replace(self, limit=limit)


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds."""

    seconds: float


@dataclass(frozen=True)
class NextEvent:
    """The next event of an open stream, or :data:`END` when it closed; past ``limit``
    seconds (keep-alive comments do not count), ``openai.APITimeoutError``."""

    stream: Any
    limit: float | None = None


@dataclass(frozen=True)
class Close:
    """Close an open stream (the driver closes any left open when the steps end)."""

    stream: Any


END: Any = object()
"""What :class:`NextEvent` gives back once a stream has no more events."""

Effect = Request[Any] | Sleep | NextEvent | Close
Steps = Generator[Effect, Any, T]
"""A step generator that ends with a ``T``."""


# --- the two drivers --------------------------------------------------------------


def perform_sync(request: Request[T]) -> T:
    """Make one request on a sync client, within its :attr:`~Request.limit`."""
    return request.parse(_within(request.limit, request.send))


async def perform_async(request: Request[T]) -> T:
    """Make one request on an async client, within its :attr:`~Request.limit`."""
    return request.parse(await _within_async(request.limit, request.send))


def _late() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=httpx2.Request("GET", "http://request.deadline"))


def _within(limit: float | None, call: Callable[[], T]) -> T:
    """``call()``, or ``APITimeoutError`` once ``limit`` seconds have passed.

    A blocking read cannot be interrupted, so the call runs in a thread of its own
    that is left to finish (or fail) on its own when it is late.
    """
    if limit is None:
        return call()
    outcome: list[Any] = []
    done = threading.Event()
    lock = threading.Lock()
    abandoned = False

    def run() -> None:
        try:
            value = call()
        except BaseException as exc:  # handed over to the waiting thread
            outcome.append((False, exc))
        else:
            with lock:
                late = abandoned
                outcome.append((True, value))
            close = getattr(value, "close", None)
            if late and callable(close):
                close()  # a stream opened too late: nobody will read it
        finally:
            done.set()

    threading.Thread(target=run, name="yc-responses-request", daemon=True).start()
    if not done.wait(max(limit, 0.0)):
        with lock:
            abandoned = not outcome
        if abandoned:
            raise _late()
        done.wait()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return cast("T", value)


class _EventReader:
    """Reads a sync stream's events in a thread of its own, so that waiting for the
    next one can stop at a time limit; one thread a stream, not one an event."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._events: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        threading.Thread(target=self._read, name="yc-responses-events", daemon=True).start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self._events.put((True, event))
            self._events.put((True, END))
        except BaseException as exc:  # handed over to the waiting thread
            self._events.put((False, exc))

    def next(self, limit: float | None) -> Any:
        """The next event, :data:`END`, or ``APITimeoutError`` past ``limit`` seconds."""
        try:
            readable, value = self._events.get(timeout=None if limit is None else max(limit, 0.0))
        except queue.Empty:
            self._stream.close()
            raise _late() from None
        if not readable:
            raise value
        return value


async def _within_async(limit: float | None, call: Callable[[], Awaitable[T]]) -> T:
    if limit is None:
        return await call()
    try:
        with anyio.fail_after(max(limit, 0.0)):
            return await call()
    except TimeoutError:
        raise _late() from None


class _Driving(Generic[T]):
    """The bookkeeping both drivers share: advance the steps, keep open streams."""

    def __init__(self, steps: Steps[T]) -> None:
        self._steps = steps
        self._answer: Any = None
        self._error: Exception | None = None
        self.streams: list[Any] = []
        self.result: T

    def __iter__(self) -> Iterator[Effect]:
        while True:
            try:
                if self._error is None:
                    effect = self._steps.send(self._answer)
                else:
                    effect = self._steps.throw(self._error)
            except StopIteration as stop:
                self.result = cast("T", stop.value)
                return
            self._answer, self._error = None, None
            if isinstance(effect, Close) and effect.stream in self.streams:
                self.streams.remove(effect.stream)
            yield effect

    def answer(self, effect: Effect, value: Any) -> None:
        """What performing ``effect`` gave: sent into the steps."""
        if isinstance(effect, _StreamRequest):
            self.streams.append(value)
        self._answer = value

    def fail(self, exc: Exception) -> None:
        """Performing the effect raised ``exc``: thrown into the steps."""
        self._error = exc

    def left_open(self) -> list[Any]:
        """The streams the steps did not close; the steps themselves are closed."""
        self._steps.close()
        return self.streams


def drive_sync(steps: Steps[T], *, sleep: Callable[[float], object]) -> T:
    """Perform ``steps`` with blocking calls and return what they end with."""
    driving = _Driving(steps)
    readers: dict[int, _EventReader] = {}
    try:
        for effect in driving:
            try:
                if isinstance(effect, Sleep):
                    driving.answer(effect, sleep(effect.seconds))
                elif isinstance(effect, Request):
                    driving.answer(effect, perform_sync(effect))
                elif isinstance(effect, NextEvent):
                    if id(effect.stream) not in readers:
                        readers[id(effect.stream)] = _EventReader(effect.stream)
                    driving.answer(effect, readers[id(effect.stream)].next(effect.limit))
                else:
                    readers.pop(id(effect.stream), None)
                    driving.answer(effect, effect.stream.close())
            except Exception as exc:
                driving.fail(exc)
        return driving.result
    finally:
        for stream in driving.left_open():
            stream.close()


async def drive_async(steps: Steps[T], *, sleep: Callable[[float], Awaitable[object]]) -> T:
    """Perform ``steps`` with ``await`` and return what they end with."""
    driving = _Driving(steps)
    try:
        for effect in driving:
            try:
                if isinstance(effect, Sleep):
                    driving.answer(effect, await sleep(effect.seconds))
                elif isinstance(effect, Request):
                    driving.answer(effect, await perform_async(effect))
                elif isinstance(effect, NextEvent):
                    event = await _within_async(effect.limit, partial(anext, effect.stream, END))
                    driving.answer(effect, event)
                else:
                    driving.answer(effect, await effect.stream.close())
            except Exception as exc:
                driving.fail(exc)
        return driving.result
    finally:
        for stream in driving.left_open():
            await stream.close()


@dataclass(frozen=True)
class _StreamRequest(Request[T]):
    """A request that opens a stream: the driver closes it if the steps do not."""


def stream_request(send: Callable[[], Any]) -> Request[Any]:
    """A :class:`Request` that opens an event stream (closed by the driver at the latest)."""
    return _StreamRequest(send)


# --- the steps every kind of run shares -------------------------------------------


def retry(
    request: Callable[[], Request[T]],
    policy: PollPolicy,
    *,
    retryable: Callable[[BaseException], bool] = is_transient,
    submission: bool = False,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    deadline: Deadline | None = None,
) -> Steps[T]:
    """Make ``request()`` (one attempt each) until it succeeds or a fault is not
    ``retryable``; for a ``submission``, a fault that may hide a started run raises
    :class:`~yc_responses.AmbiguousSubmissionError`. With a ``deadline``, each attempt
    is cut to the time left (a second at least) and none starts after it."""
    faults = FaultBudget(policy, retryable=retryable)
    while True:
        remaining = None if deadline is None else deadline.remaining()
        try:
            answer: T = yield request().within(None if remaining is None else max(remaining, 1.0))
        except Exception as exc:
            delay = faults.retry_after(exc, now=clock(), wall_time=wall_clock())
            left = None if deadline is None else deadline.remaining()
            if delay is not None and left is not None and delay >= left:
                delay = None  # the next attempt would start past the deadline
            if delay is None:
                if submission and may_have_started(exc):
                    raise AmbiguousSubmissionError(exc) from exc
                raise
        else:
            return answer
        yield Sleep(delay)


def submit(
    request: Callable[[], Request[T]],
    policy: PollPolicy,
    *,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    deadline: Deadline | None = None,
) -> Steps[T]:
    """Send a paid submission at most once as far as the server can tell.

    ``request()`` must make one attempt (the client's own retries off). It is made
    again only when the server provably did not take it (429, no connection); any
    other transient failure raises :class:`~yc_responses.AmbiguousSubmissionError`.
    """
    return retry(
        request,
        policy,
        retryable=was_not_sent,
        submission=True,
        clock=clock,
        wall_clock=wall_clock,
        deadline=deadline,
    )


def wait(
    loop: PollLoop[S],
    look: Callable[[float | None], Request[Snapshot[S]]],
    *,
    clock: Callable[[], float],
    wall_clock: Callable[[], float],
    first: Snapshot[S] | None = None,
) -> Steps[Any]:
    """Look at a run until it ends and return its result; ``look(request_timeout)``
    is one look. ``first`` is a snapshot already in hand, used instead of a first look."""
    pending = first
    while True:
        if pending is None:
            limit = loop.request_timeout(clock())
            try:
                pending = yield look(limit).within(limit)
            except Exception as exc:
                if not loop.fault(exc, now=clock(), wall_time=wall_clock()):
                    raise
        if pending is not None:
            result = loop.observe(pending, now=clock())
            pending = None
            if result is not None:
                return result
        yield Sleep(loop.next_delay(now=clock()))
