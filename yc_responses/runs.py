"""One run on the server, written once over a kind of job: wait, cancel, refresh.

:class:`Run` (sync) and :class:`AsyncRun` (async) share every decision through
:class:`RunCore`, which builds the steps (:mod:`yc_responses.steps`) of each
operation; the two classes only drive them::

    run = client.background.create(model="yandexgpt", input="Long task ...")
    run.id                        # keep it: client.background.attach(run.id) resumes
    result = run.wait(timeout=600, strategy="stream")
    result = run.cancel()         # Cancelled, or the result of a run that had ended

A run knows the :class:`RunContext` it was made in (kind, policy, clocks), never
the private parts of the resource that made it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import anyio
import openai

from . import logs, steps
from .errors import RunTimeoutError, YCResponsesError, add_note_once
from .faults import cancel_refused, cancel_retryable, is_refusal
from .kinds import Kind
from .polling import Deadline, PollLoop, PollPolicy, Snapshot
from .results import AnyRunResult
from .status import RunStatus
from .steps import END, Close, NextEvent, Request, Sleep, Steps

__all__ = ["AsyncRun", "Run", "RunContext", "RunCore", "StatusCallback", "WaitStrategy"]

S = TypeVar("S")

StatusCallback = Callable[[RunStatus, Any], object]
"""Called with the new status and the snapshot whenever a wait sees the status change."""


class WaitStrategy(str, Enum):
    """How ``wait()`` learns that a run ended.

    ``POLL`` looks with ``GET /responses/{id}`` on the policy's schedule.
    ``STREAM`` listens to ``GET /responses/{id}?stream=true`` (one request, no lag),
    resumes after a dropped connection from the last event seen, and falls back
    to polling when the server does not stream the run.
    """

    POLL = "poll"
    STREAM = "stream"


@dataclass(frozen=True)
class RunContext(Generic[S]):
    """What a run needs from the resource that made it."""

    kind: Kind[S]
    policy: PollPolicy = field(default_factory=PollPolicy)
    clock: Callable[[], float] = time.monotonic
    """Monotonic seconds: deadlines and delays."""
    wall_clock: Callable[[], float] = time.time
    """Wall-clock seconds: dates in ``Retry-After`` headers."""


class RunCore(Generic[S]):
    """What :class:`Run` and :class:`AsyncRun` share: the run's id, its last snapshot,
    and the steps of every operation on it."""

    def __init__(self, context: RunContext[S], run_id: str, snapshot: S | None = None) -> None:
        if not isinstance(context, RunContext):
            raise TypeError(
                f"a run is made by its resource, not from {type(context).__name__}: use "
                "client.background.attach(id) or client.deferred.attach(id)"
            )
        if not run_id:
            raise ValueError(f"attach() needs the id of a run of client.{context.kind.resource}")
        self._context = context
        self.id = run_id
        """The run's id: keep it to resume with ``attach(id)``."""
        self.snapshot = snapshot
        """The last snapshot seen from the server (``None`` before the first look)."""
        self._request_id: str | None = None

    @property
    def status(self) -> RunStatus | None:
        """The last status seen (no request); ``None`` if the run was never looked at."""
        return None if self.snapshot is None else self._context.kind.status(self.snapshot)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self.id!r}, {self._context.kind.describe(self.snapshot)})"
        )

    # --- the steps

    def _refresh_steps(self) -> Steps[RunStatus]:
        snapshot: Snapshot[S] = yield self._context.kind.fetch(self.id, retries=True)
        self.snapshot = snapshot.value
        return self._context.kind.status(snapshot.value)

    def _wait_steps(
        self,
        timeout: float | None,
        strategy: WaitStrategy | str,
        on_status: StatusCallback | None,
        policy: PollPolicy | None,
    ) -> Steps[AnyRunResult[S]]:
        context = self._context
        loop = PollLoop(
            self.id,
            context.kind,
            policy if policy is not None else context.policy,
            now=context.clock(),
            timeout=timeout,
            on_status=on_status,
            resource=context.kind.resource,
        )
        result = None
        if WaitStrategy(strategy) is WaitStrategy.STREAM and context.kind.streams:
            result = yield from self._listen_steps(loop)
        if result is None:
            first = None if self.snapshot is None else Snapshot(self.snapshot)
            result = yield from steps.wait(
                loop, self._look, clock=context.clock, wall_clock=context.wall_clock, first=first
            )
        logs.run_ended(context.kind.resource, self.id, result.status, self._request_id)
        return result

    def _cancel_steps(self, timeout: float | None) -> Steps[AnyRunResult[S]]:
        context = self._context
        deadline = Deadline(timeout, clock=context.clock)
        try:
            try:
                self.snapshot = yield from steps.retry(
                    lambda: context.kind.cancel(self.id),
                    context.policy,
                    retryable=cancel_retryable,
                    clock=context.clock,
                    wall_clock=context.wall_clock,
                    deadline=deadline,
                )
            except openai.APIStatusError as exc:
                # 400/409 for a run that already ended: the server refuses to cancel it
                if not cancel_refused(exc) or not (yield from self._refresh_steps()).is_terminal:
                    raise
        except Exception as exc:
            if deadline.remaining() == 0 and timeout is not None:
                raise RunTimeoutError(
                    self.id, self.status, timeout, resource=context.kind.resource
                ) from exc
            raise
        result = yield from self._wait_steps(deadline.remaining(), WaitStrategy.POLL, None, None)
        return result

    def _look(self, request_timeout: float | None) -> Request[Snapshot[S]]:
        request = self._context.kind.fetch(self.id, request_timeout)

        def parse(raw: Any) -> Snapshot[S]:
            snapshot = request.parse(raw)
            self.snapshot, self._request_id = snapshot.value, snapshot.request_id
            shown = self._context.kind.describe(snapshot.value)
            logs.run_looked(self._context.kind.resource, self.id, shown, snapshot.request_id)
            return snapshot

        return Request(request.send, parse, request.limit)

    def _listen_steps(self, loop: PollLoop[S]) -> Steps[AnyRunResult[S] | None]:
        """Follow the run's event stream; ``None``: the server does not stream it, poll."""
        context = self._context
        kind = context.kind
        after: int | None = None

        def fault(exc: Exception) -> None:
            if not loop.fault(exc, now=context.clock(), wall_time=context.wall_clock()):
                raise exc

        while True:
            limit = loop.request_timeout(context.clock())
            try:
                opening = kind.open_stream(self.id, starting_after=after, timeout=limit)
                stream = yield opening.within(limit)
            except Exception as exc:
                if is_refusal(exc):  # a 4xx to the stream request: the server will not stream
                    return None
                fault(exc)
            else:
                if not kind.is_event_stream(stream):
                    yield Close(stream)
                    return None
                events = 0
                while True:
                    try:
                        event = yield NextEvent(stream, loop.request_timeout(context.clock()))
                    except openai.APITimeoutError:
                        break  # a silent stream is not a fault: listen again from the last event
                    except (openai.APIConnectionError, openai.APIStatusError) as exc:
                        fault(exc)
                        break
                    except Exception:  # events that cannot be read: poll instead
                        event = None
                    if event is END and events:
                        break
                    sequence = getattr(event, "sequence_number", None)
                    if not isinstance(sequence, int):  # closed without a word, or unreadable
                        yield Close(stream)
                        return None  # poll instead
                    events += 1
                    after = sequence
                    snapshot = kind.stream_snapshot(event)
                    if snapshot is not None:
                        self.snapshot = snapshot
                        result = loop.observe(Snapshot(snapshot), now=context.clock())
                        if result is not None:
                            return result
                    loop.check_deadline(now=context.clock())
                yield Close(stream)
            yield Sleep(loop.next_delay(now=context.clock()))


def _leave_note(exc: BaseException, run: RunCore[Any]) -> None:
    """Put the run id on an exception that interrupted a wait (Python 3.11+ notes)."""
    if isinstance(exc, YCResponsesError) and getattr(exc, "response_id", None) == run.id:
        return
    resource = run._context.kind.resource
    what = "background response" if resource == "background" else "operation"
    add_note_once(
        exc,
        f"{what} {run.id} may still be running on the server: "
        f"resume with client.{resource}.attach({run.id!r}).wait()",
    )


class Run(RunCore[S]):
    """One run on a sync client: ``wait()``, ``cancel()``, ``refresh()``."""

    def __init__(
        self,
        context: RunContext[S],
        run_id: str,
        snapshot: S | None = None,
        *,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        super().__init__(context, run_id, snapshot)
        self._sleep = sleep

    def refresh(self) -> RunStatus:
        """Look at the run once (with the client's usual retries) and return its status."""
        return steps.drive_sync(self._refresh_steps(), sleep=self._sleep)

    def wait(
        self,
        timeout: float | None = None,
        *,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        policy: PollPolicy | None = None,
    ) -> AnyRunResult[S]:
        """Wait until the run ends and return its typed result.

        ::

            match run.wait(timeout=300, on_status=lambda s, _: print(s)):
                case Completed(output_text=text): ...
                case Failed(error=error): ...

        ``timeout`` (seconds, ``None`` for no limit) raises
        :class:`~yc_responses.RunTimeoutError` with the id and last status; the
        run is not cancelled. Transient faults (429, 5xx, dropped connections,
        timeouts) are retried; permanent errors (400, 401, 403, 404) are raised as
        the official client's exceptions. ``strategy="stream"`` follows the run's
        event stream where the kind has one.
        """
        try:
            return steps.drive_sync(
                self._wait_steps(timeout, strategy, on_status, policy), sleep=self._sleep
            )
        except BaseException as exc:
            _leave_note(exc, self)
            raise

    def cancel(self, *, timeout: float | None = None) -> AnyRunResult[S]:
        """Cancel the run and return the terminal state the server reports.

        A queued or running run ends as :class:`~yc_responses.Cancelled` (waiting up
        to ``timeout`` seconds if the server finishes the cancellation later); a run
        that already finished keeps its result (e.g. :class:`~yc_responses.Completed`).
        """
        try:
            return steps.drive_sync(self._cancel_steps(timeout), sleep=self._sleep)
        except BaseException as exc:
            _leave_note(exc, self)
            raise


class AsyncRun(RunCore[S]):
    """One run on an async client; ``await run`` waits for its result."""

    def __init__(
        self,
        context: RunContext[S],
        run_id: str,
        snapshot: S | None = None,
        *,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ) -> None:
        super().__init__(context, run_id, snapshot)
        self._sleep = sleep

    async def refresh(self) -> RunStatus:
        """Look at the run once (with the client's usual retries) and return its status."""
        return await steps.drive_async(self._refresh_steps(), sleep=self._sleep)

    def __await__(self) -> Generator[Any, None, AnyRunResult[S]]:
        return self.wait().__await__()

    async def wait(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
        *,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        policy: PollPolicy | None = None,
    ) -> AnyRunResult[S]:
        """Wait until the run ends and return its typed result (see :meth:`Run.wait`).

        Cancelling the waiting task leaves the run going on the server.
        """
        try:
            return await steps.drive_async(
                self._wait_steps(timeout, strategy, on_status, policy), sleep=self._sleep
            )
        except BaseException as exc:
            _leave_note(exc, self)
            raise

    async def cancel(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
    ) -> AnyRunResult[S]:
        """Cancel the run and return the terminal state (see :meth:`Run.cancel`)."""
        try:
            return await steps.drive_async(self._cancel_steps(timeout), sleep=self._sleep)
        except BaseException as exc:
            _leave_note(exc, self)
            raise
