"""Background responses: start a long generation, wait for it well, get a typed result.

::

    from yc_responses import Completed, YandexOpenAI

    client = YandexOpenAI()
    run = client.background.create(model="yandexgpt", input="Summarise ...")
    print(run.id)                          # keep it: attach(run.id) resumes after a restart
    result = run.wait(timeout=600)         # Completed | Failed | Cancelled | Incomplete
    print(result.unwrap())                 # the text, or a typed exception

    print(client.background.run(model="yandexgpt", input="Hi").unwrap())  # create + wait

The same works on any ``openai.OpenAI`` / ``openai.AsyncOpenAI`` client through
:func:`background`. Waiting looks at the run with ``responses.retrieve`` on a
backoff schedule (:class:`~yc_responses.PollPolicy`), or listens to its event
stream (``wait(strategy="stream")``); transient faults are sat out, permanent
ones raised at once, and the run id is never lost.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from enum import Enum
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar, cast, overload

import anyio
import openai
from openai import NOT_GIVEN, NotGiven
from openai.resources.responses import Responses
from openai.types.responses import Response

from .batch import ProgressCallback, batch_engine, finish, run_async, run_sync
from .errors import YCResponsesError, add_note_once
from .faults import is_refusal
from .journal import Journal
from .polling import (
    PollLoop,
    PollPolicy,
    Snapshot,
    cancel_retryable,
    retry_async,
    retry_sync,
    server_hint,
    submit_async,
    submit_sync,
    wait_async,
    wait_sync,
)
from .quotas import Quotas
from .results import RunResult
from .status import RunStatus, result_of_response, status_of_response
from .uris import model_uri

__all__ = [
    "AsyncBackground",
    "AsyncBackgroundRun",
    "Background",
    "BackgroundRun",
    "StatusCallback",
    "WaitStrategy",
    "background",
]

StatusCallback = Callable[[RunStatus, Response], object]
"""Called with the new status and the response whenever a wait sees the status change."""

Clock = Callable[[], float]
SyncSleep = Callable[[float], object]
AsyncSleep = Callable[[float], Awaitable[object]]

ClientT = TypeVar("ClientT", openai.OpenAI, openai.AsyncOpenAI)


class WaitStrategy(str, Enum):
    """How ``wait()`` learns that a run ended.

    ``POLL`` looks with ``GET /responses/{id}`` on the policy's schedule.
    ``STREAM`` listens to ``GET /responses/{id}?stream=true`` (one request, no lag),
    resumes after a dropped connection from the last event seen, and falls back
    to polling when the server does not stream the run.
    """

    POLL = "poll"
    STREAM = "stream"


class _ResponseReader:
    """Reads ``Response`` snapshots for the polling engine."""

    def status(self, snapshot: Response, /) -> RunStatus:
        return status_of_response(snapshot)

    def result(self, snapshot: Response, /) -> RunResult:
        return result_of_response(snapshot)


_READER = _ResponseReader()

_STATUS_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
        "response.cancelled",
    }
)


def _event_response(event: object) -> Response | None:
    """The response carried by a status event of the stream, else ``None``."""
    if getattr(event, "type", None) not in _STATUS_EVENTS:
        return None
    response = getattr(event, "response", None)
    if isinstance(response, dict):  # event types the official client does not model
        return Response.construct(**response)
    return response if isinstance(response, Response) else None


def _is_event_stream(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "text/event-stream"


def _seconds(value: float | None) -> float | NotGiven:
    return NOT_GIVEN if value is None else value


def _create_params(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("stream"):
        raise ValueError(
            "stream=True is not supported by background.create(): create the run, then "
            "wait(strategy='stream') to follow it"
        )
    if params.get("background", True) is not True:
        raise ValueError("background.create() always sets background=True; drop background=")
    return {**params, "background": True}


_CREATE_KEYWORDS = frozenset(inspect.signature(Responses.create).parameters) - {"self"}


def _check_request(params: Mapping[str, Any], folder_id: str) -> None:
    """Refuse, before anything is sent, a request that is invalid on its face."""
    prompt = params.get("input")
    if prompt is None and params.get("prompt") is None:
        raise ValueError('no "input": give the prompt text, or a list of messages')
    if prompt is not None:
        if not isinstance(prompt, str | list):
            raise ValueError(
                f"input must be a string or a list of messages, not {type(prompt).__name__}"
            )
        if not prompt or (isinstance(prompt, str) and not prompt.strip()):
            raise ValueError("input is empty: give the prompt text")
    model = params.get("model")
    if model is None:
        if params.get("prompt") is None:
            raise ValueError("no model: give model= (a name such as yandexgpt, or a URI)")
    else:
        model_uri(model, folder_id or "folder")  # ValueError naming the accepted forms
    temperature = params.get("temperature")
    if temperature is not None and not (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and 0 <= temperature <= 1
    ):
        raise ValueError(f"temperature must be a number from 0 to 1, not {temperature!r}")
    tokens = params.get("max_output_tokens")
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
    ):
        raise ValueError(f"max_output_tokens must be a positive int, not {tokens!r}")


BatchInput = str | Mapping[str, Any]
"""One input of a batch: the ``input`` text, or a dict of ``responses.create`` keywords."""


class _ResponsesSource:
    """Background responses as the batch engine sees them (pure: no requests)."""

    reader = _READER
    resource = "background"

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def prepare(self, item: BatchInput, defaults: Mapping[str, Any]) -> dict[str, Any]:
        params = _create_params(
            {**defaults, **({"input": item} if isinstance(item, str) else item)}
        )
        unknown = sorted(set(params) - _CREATE_KEYWORDS)
        if unknown:
            raise TypeError(
                f"responses.create() takes no {', '.join(map(repr, unknown))}: give only its "
                "keywords (input, instructions, max_output_tokens, temperature, tools, ...)"
            )
        _check_request(params, self.scope)
        return params

    def run_id(self, snapshot: Response, /) -> str:
        return snapshot.id

    def dump(self, snapshot: Response, /) -> str:
        return snapshot.to_json(indent=None, warnings=False)

    def load(self, text: str, /) -> Response:
        return Response.construct(**json.loads(text))


def _leave_note(exc: BaseException, run_id: str) -> None:
    """Put the run id on an exception that interrupted a wait (Python 3.11+ notes)."""
    if isinstance(exc, YCResponsesError) and getattr(exc, "response_id", None) == run_id:
        return
    add_note_once(
        exc,
        f"background response {run_id} may still be running on the server: "
        f"resume with client.background.attach({run_id!r}).wait()",
    )


class _StreamFollower:
    """The decisions of a streaming wait, shared by the sync and async drivers.

    The drivers open ``GET /responses/{id}?stream=true`` with :meth:`request_options`,
    feed it every event (:meth:`on_event`) and every failure (:meth:`open_failed`,
    :meth:`broken`), and sleep ``loop.next_delay()`` between connections.
    """

    def __init__(
        self,
        run: BackgroundRun | AsyncBackgroundRun,
        loop: PollLoop[Response],
        clock: Clock,
        wall_clock: Clock,
    ) -> None:
        self._run = run
        self._loop = loop
        self._clock = clock
        self._wall_clock = wall_clock
        self._after: int | None = None
        self._events = 0

    def request_options(self) -> dict[str, Any]:
        """Where to resume, and how long the connection may stay silent."""
        self._events = 0
        return {
            "starting_after": self._after if self._after is not None else openai.omit,
            "timeout": _seconds(self._loop.request_timeout(self._clock())),
        }

    def open_failed(self, exc: Exception) -> bool:
        """``True``: the server refuses to stream, poll instead; ``False``: try again later."""
        if is_refusal(exc):  # a 4xx to the stream request: the server will not stream
            return True
        self._fault(exc)
        return False

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """Whether the answer is an event stream at all."""
        return _is_event_stream(headers.get("content-type"))

    def on_event(self, event: Any) -> RunResult | None:
        """Take in one event: the result once the run ends, else ``None``."""
        self._events += 1
        self._after = event.sequence_number
        response = _event_response(event)
        if response is not None:
            self._run.response = response
            result = self._loop.observe(Snapshot(response), now=self._clock())
            if result is not None:
                return result
        self._loop.check_deadline(now=self._clock())
        return None

    def broken(self, exc: Exception) -> None:
        """The stream broke off: listen again from the last event, or raise."""
        if isinstance(exc, openai.APITimeoutError):
            return  # a silent stream is not a fault: listen again from the last event
        if not isinstance(exc, (openai.APIConnectionError, openai.APIStatusError)):
            raise exc
        self._fault(exc)

    def ended(self) -> bool:
        """The stream closed: ``True`` when it said nothing at all (poll instead)."""
        return self._events == 0

    def _fault(self, exc: Exception) -> None:
        if not self._loop.fault(exc, now=self._clock(), wall_time=self._wall_clock()):
            raise exc


class _Resource(Generic[ClientT]):
    """What the sync and async resources share: the client, the policy, the clocks."""

    def __init__(
        self,
        client: ClientT,
        *,
        policy: PollPolicy | None,
        clock: Clock,
        wall_clock: Clock,
    ) -> None:
        self.client: ClientT = client
        self.policy = policy if policy is not None else PollPolicy()
        self._clock = clock
        self._wall_clock = wall_clock

    @cached_property
    def _quiet(self) -> ClientT:
        """The client without its own retries: the engine owns the retry schedule."""
        return self.client.with_options(max_retries=0)

    def _hint(self, headers: Any) -> float | None:
        return server_hint(headers, wall_time=self._wall_clock())

    def prepare_input(self, item: BatchInput, **defaults: Any) -> dict[str, Any]:
        """The ``responses.create`` keywords of one batch input, checked as ``map`` checks
        every input before sending anything.

        Raises ``ValueError`` or ``TypeError`` saying what is wrong::

            >>> client.background.prepare_input("Hi", model="yandexgpt")  # doctest: +SKIP
            {'model': 'yandexgpt', 'input': 'Hi', 'background': True}
        """
        if not isinstance(item, str | Mapping):
            raise TypeError(
                f"an input is a string or a dict of creation keywords, not {type(item).__name__}"
            )
        return self._source().prepare(item, defaults)

    def _source(self) -> _ResponsesSource:
        """Inputs of a batch in this client's folder (``project`` for a plain client)."""
        folder = getattr(self.client, "folder_id", None) or self.client.project or ""
        return _ResponsesSource(scope=str(folder))

    def _loop(
        self,
        run_id: str,
        *,
        timeout: float | None,
        policy: PollPolicy | None,
        on_status: StatusCallback | None,
    ) -> PollLoop[Response]:
        return PollLoop(
            run_id,
            _READER,
            policy if policy is not None else self.policy,
            now=self._clock(),
            timeout=timeout,
            on_status=on_status,
        )


class Background(_Resource[openai.OpenAI]):
    """Background responses on a sync client: ``client.background``.

    ::

        run = client.background.create(model="yandexgpt", input="Long task ...")
        result = run.wait(timeout=600)

    ``policy`` sets the polling schedule (:class:`PollPolicy`); ``clock``, ``sleep``
    and ``wall_clock`` can be replaced (tests use fake ones).
    """

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        policy: PollPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: SyncSleep = time.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        super().__init__(client, policy=policy, clock=clock, wall_clock=wall_clock)
        self._sleep = sleep

    def with_options(
        self,
        *,
        policy: PollPolicy | None = None,
        clock: Clock | None = None,
        sleep: SyncSleep | None = None,
        wall_clock: Clock | None = None,
    ) -> Background:
        """A copy with some settings replaced: ``client.background.with_options(policy=...)``."""
        return Background(
            self.client,
            policy=policy or self.policy,
            clock=clock or self._clock,
            sleep=sleep or self._sleep,
            wall_clock=wall_clock or self._wall_clock,
        )

    def create(self, **params: Any) -> BackgroundRun:
        """Start a background response; takes the keywords of ``responses.create``.

        ``background=True`` is set for you and short model names are expanded by
        :class:`~yc_responses.YandexOpenAI`::

            run = client.background.create(model="yandexgpt", input="Hi")

        The request is sent without the official client's automatic retries,
        which would resend it without an idempotency key and could start two paid
        runs. It is retried only when the server provably did not take it (429, or
        no connection could be made); after a 5xx, a timeout or a connection
        dropped mid-request it raises :class:`~yc_responses.AmbiguousSubmissionError`
        (the original error as ``__cause__``): the run may or may not exist.
        """
        params = _create_params(params)
        created = submit_sync(
            lambda: self._create_once(params),
            self.policy,
            clock=self._clock,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
        )
        return BackgroundRun(self, created.value.id, created.value)

    def run(
        self,
        *,
        timeout: float | None = None,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        **params: Any,
    ) -> RunResult:
        """Create a background response and wait for its result (``timeout`` in seconds).

        ::

            text = client.background.run(model="yandexgpt", input="Hi", timeout=120).unwrap()

        On :class:`~yc_responses.RunTimeoutError` the run keeps going; its id is on the error.
        """
        return self.create(**params).wait(timeout, strategy=strategy, on_status=on_status)

    def attach(self, response_id: str) -> BackgroundRun:
        """The run ``response_id``, e.g. after a restart; no request is made until it is used.

        >>> client.background.attach("resp_123").wait()  # doctest: +SKIP
        """
        if not response_id:
            raise ValueError("attach() needs the id of a background response")
        return BackgroundRun(self, response_id)

    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[False] = False,
        **options: Any,
    ) -> list[RunResult]: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[True],
        **options: Any,
    ) -> list[RunResult | Exception]: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: bool,
        **options: Any,
    ) -> list[RunResult] | list[RunResult | Exception]: ...
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        concurrency: int = 100,
        journal: str | os.PathLike[str] | Journal | None = None,
        progress: bool | ProgressCallback | None = None,
        keys: Sequence[str] | None = None,
        quotas: Quotas | None = None,
        policy: PollPolicy | None = None,
        return_exceptions: bool = False,
        resubmit_ambiguous: bool = False,
        run_timeout: float | None = None,
        **create_kwargs: Any,
    ) -> list[RunResult] | list[RunResult | Exception]:
        """Run many background responses; their results in input order.

        ::

            results = client.background.map(
                ["Summarise: ...", {"input": "Translate: ...", "temperature": 0.1}],
                model="yandexgpt",
                journal="batch.sqlite",      # the same call again resumes after a crash
            )

        An input is the ``input`` text, or a dict of ``responses.create`` keywords
        (its own ``model`` wins); ``create_kwargs`` apply to every input.

        * ``concurrency``: runs going on the server at once.
        * ``quotas``: the client keeps under them (default ``Quotas.documented()``:
          10 creations/s, 5,000/hour, 50 fetches/s); a 429 that still comes is
          honoured (``Retry-After``) and retried.
        * ``journal``: a SQLite file (or :class:`~yc_responses.journal.Journal`)
          recording every input's response id, status and result, each change
          committed before the next request. Run again with the same journal and
          inputs: finished inputs are read from it, submitted ones are attached,
          never submitted twice. An input whose submission was cut off with no id
          coming back is reported, not resent, unless ``resubmit_ambiguous=True``.
        * ``progress``: ``None`` draws a tqdm bar on a terminal; ``True`` always;
          ``False`` never; a callable gets every :class:`~yc_responses.BatchProgress`.
        * ``keys``: names of the inputs in the journal (default: their positions).
        * ``run_timeout``: seconds to wait for each run from its creation (or from the
          resume); a run still going then gets a :class:`~yc_responses.RunTimeoutError`
          in its place. It is not cancelled, and the journal keeps its id.

        A run that fails is a :class:`~yc_responses.Failed` result, not an error.
        Inputs with no result at all raise :class:`~yc_responses.BatchError` at the
        end, with every other result on it (``return_exceptions=True`` puts the
        exceptions in the list instead): rejected with a 4xx, maybe submitted but
        with no id (:class:`~yc_responses.AmbiguousSubmissionError`), a run that
        could not be followed (:class:`~yc_responses.RunLookupError`) or is past
        ``run_timeout`` (:class:`~yc_responses.RunTimeoutError`), both with the
        ``response_id``. Bad credentials or no access to the folder stop the batch
        at once, as do creations refused for longer than ``policy.max_outage``.
        One scheduler serves every run, on at most 16 connections.
        """
        with batch_engine(
            self._source(),
            inputs,
            defaults={"model": model, **create_kwargs},
            keys=keys,
            concurrency=concurrency,
            journal=journal,
            progress=progress,
            quotas=quotas,
            policy=policy or self.policy,
            resubmit_ambiguous=resubmit_ambiguous,
            run_timeout=run_timeout,
            now=self._clock(),
            wall_clock=self._wall_clock,
        ) as engine:
            run_sync(engine, self._create_once, self._fetch, clock=self._clock, sleep=self._sleep)
            return cast("list[RunResult | Exception]", finish(engine, return_exceptions))

    def _create_once(self, params: dict[str, Any]) -> Snapshot[Response]:
        """One creation attempt, the client's own retries off."""
        response = self._quiet.responses.create(**params)
        assert isinstance(response, Response)
        return Snapshot(response)

    def _fetch(self, response_id: str, request_timeout: float | None) -> Snapshot[Response]:
        """One look at a run, with the delay the server suggests."""
        raw = self._quiet.responses.with_raw_response.retrieve(
            response_id, timeout=_seconds(request_timeout)
        )
        return Snapshot(raw.parse(), self._hint(raw.headers))


class BackgroundRun:
    """One background response: ``id``, last known ``status``, ``wait()``, ``cancel()``."""

    def __init__(
        self, background: Background, response_id: str, response: Response | None = None
    ) -> None:
        self._background = background
        self.id = response_id
        """The response id: keep it to resume with ``client.background.attach(id)``."""
        self.response = response
        """The last response seen from the server (``None`` before the first look)."""

    @property
    def status(self) -> RunStatus | None:
        """The last status seen (no request); ``None`` if the run was never looked at."""
        return None if self.response is None else status_of_response(self.response)

    def refresh(self) -> RunStatus:
        """Look at the run once (with the client's usual retries) and return its status."""
        self.response = self._background.client.responses.retrieve(self.id)
        return status_of_response(self.response)

    def wait(
        self,
        timeout: float | None = None,
        *,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        policy: PollPolicy | None = None,
    ) -> RunResult:
        """Wait until the run ends and return its typed result.

        ::

            match run.wait(timeout=300, on_status=lambda s, _: print(s)):
                case Completed(output_text=text): ...
                case Failed(error=error): ...

        ``timeout`` (seconds, ``None`` for no limit) raises
        :class:`~yc_responses.RunTimeoutError` with the id and last status; the
        run is not cancelled. Transient faults (429, 5xx, dropped connections,
        timeouts) are retried; permanent errors (400, 401, 403, 404) are raised as
        the official client's exceptions.
        """
        background = self._background
        loop = background._loop(self.id, timeout=timeout, policy=policy, on_status=on_status)
        try:
            if WaitStrategy(strategy) is WaitStrategy.STREAM:
                result = self._listen(loop)
                if result is not None:
                    return result
            first = None if self.response is None else Snapshot(self.response)
            return wait_sync(
                loop,
                self._look,
                clock=background._clock,
                sleep=background._sleep,
                wall_clock=background._wall_clock,
                first=first,
            )
        except BaseException as exc:
            _leave_note(exc, self.id)
            raise

    def cancel(self, *, timeout: float | None = None) -> RunResult:
        """Cancel the run and return the terminal state the server reports.

        A queued or running run ends as :class:`~yc_responses.Cancelled` (waiting up
        to ``timeout`` seconds if the server finishes the cancellation later); a run
        that already finished keeps its result (e.g. :class:`~yc_responses.Completed`).
        """
        background = self._background
        try:
            self.response = retry_sync(
                lambda: background._quiet.responses.cancel(self.id),
                background.policy,
                retryable=cancel_retryable,
                clock=background._clock,
                sleep=background._sleep,
                wall_clock=background._wall_clock,
            )
        except openai.APIStatusError as exc:
            # 400/409 for a run that already finished: the server refuses to cancel it
            if exc.status_code not in (400, 409) or not self.refresh().is_terminal:
                raise
        return self.wait(timeout)

    def _look(self, request_timeout: float | None) -> Snapshot[Response]:
        snapshot = self._background._fetch(self.id, request_timeout)
        self.response = snapshot.value
        return snapshot

    def _listen(self, loop: PollLoop[Response]) -> RunResult | None:
        """Follow the run's event stream; ``None``: the server does not stream it, poll."""
        background = self._background
        follower = _StreamFollower(self, loop, background._clock, background._wall_clock)
        while True:
            try:
                stream = background._quiet.responses.retrieve(
                    self.id, stream=True, **follower.request_options()
                )
            except Exception as exc:
                if follower.open_failed(exc):
                    return None
            else:
                with stream:
                    if not follower.accepts(stream.response.headers):
                        return None
                    try:
                        for event in stream:
                            if (result := follower.on_event(event)) is not None:
                                return result
                    except Exception as exc:
                        follower.broken(exc)
                    else:
                        if follower.ended():
                            return None
            background._sleep(loop.next_delay(now=background._clock()))

    def __repr__(self) -> str:
        status = "unknown" if self.response is None else self.response.status
        return f"BackgroundRun(id={self.id!r}, status={status!r})"


class AsyncBackground(_Resource[openai.AsyncOpenAI]):
    """Background responses on an async client: ``client.background``.

    ::

        run = await client.background.create(model="yandexgpt", input="Long task ...")
        result = await run          # same as: await run.wait()
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        policy: PollPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: AsyncSleep = anyio.sleep,
        wall_clock: Clock = time.time,
    ) -> None:
        super().__init__(client, policy=policy, clock=clock, wall_clock=wall_clock)
        self._sleep = sleep

    def with_options(
        self,
        *,
        policy: PollPolicy | None = None,
        clock: Clock | None = None,
        sleep: AsyncSleep | None = None,
        wall_clock: Clock | None = None,
    ) -> AsyncBackground:
        """A copy with some settings replaced (see :meth:`Background.with_options`)."""
        return AsyncBackground(
            self.client,
            policy=policy or self.policy,
            clock=clock or self._clock,
            sleep=sleep or self._sleep,
            wall_clock=wall_clock or self._wall_clock,
        )

    async def create(self, **params: Any) -> AsyncBackgroundRun:
        """Start a background response (see :meth:`Background.create` for the retry policy)."""
        params = _create_params(params)
        created = await submit_async(
            lambda: self._create_once(params),
            self.policy,
            clock=self._clock,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
        )
        return AsyncBackgroundRun(self, created.value.id, created.value)

    async def run(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        **params: Any,
    ) -> RunResult:
        """Create a background response and wait for its result (see :meth:`Background.run`)."""
        run = await self.create(**params)
        return await run.wait(timeout, strategy=strategy, on_status=on_status)

    def attach(self, response_id: str) -> AsyncBackgroundRun:
        """The run ``response_id``; no request is made until it is used."""
        if not response_id:
            raise ValueError("attach() needs the id of a background response")
        return AsyncBackgroundRun(self, response_id)

    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[False] = False,
        **options: Any,
    ) -> list[RunResult]: ...
    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[True],
        **options: Any,
    ) -> list[RunResult | Exception]: ...
    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: bool,
        **options: Any,
    ) -> list[RunResult] | list[RunResult | Exception]: ...
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        concurrency: int = 100,
        journal: str | os.PathLike[str] | Journal | None = None,
        progress: bool | ProgressCallback | None = None,
        keys: Sequence[str] | None = None,
        quotas: Quotas | None = None,
        policy: PollPolicy | None = None,
        return_exceptions: bool = False,
        resubmit_ambiguous: bool = False,
        run_timeout: float | None = None,
        **create_kwargs: Any,
    ) -> list[RunResult] | list[RunResult | Exception]:
        """Run many background responses as tasks of this event loop (see :meth:`Background.map`).

        ::

            results = await client.background.map(prompts, model="yandexgpt", journal="b.sqlite")

        Cancelling the call leaves the runs going on the server; a creation
        already sent is still recorded in the journal.
        """
        with batch_engine(
            self._source(),
            inputs,
            defaults={"model": model, **create_kwargs},
            keys=keys,
            concurrency=concurrency,
            journal=journal,
            progress=progress,
            quotas=quotas,
            policy=policy or self.policy,
            resubmit_ambiguous=resubmit_ambiguous,
            run_timeout=run_timeout,
            now=self._clock(),
            wall_clock=self._wall_clock,
        ) as engine:
            await run_async(
                engine, self._create_once, self._fetch, clock=self._clock, sleep=self._sleep
            )
            return cast("list[RunResult | Exception]", finish(engine, return_exceptions))

    async def _create_once(self, params: dict[str, Any]) -> Snapshot[Response]:
        """One creation attempt, the client's own retries off."""
        response = await self._quiet.responses.create(**params)
        assert isinstance(response, Response)
        return Snapshot(response)

    async def _fetch(self, response_id: str, request_timeout: float | None) -> Snapshot[Response]:
        """One look at a run, with the delay the server suggests."""
        raw = await self._quiet.responses.with_raw_response.retrieve(
            response_id, timeout=_seconds(request_timeout)
        )
        return Snapshot(raw.parse(), self._hint(raw.headers))


class AsyncBackgroundRun:
    """One background response on an async client; ``await run`` waits for its result."""

    def __init__(
        self, background: AsyncBackground, response_id: str, response: Response | None = None
    ) -> None:
        self._background = background
        self.id = response_id
        """The response id: keep it to resume with ``client.background.attach(id)``."""
        self.response = response
        """The last response seen from the server (``None`` before the first look)."""

    @property
    def status(self) -> RunStatus | None:
        """The last status seen (no request); ``None`` if the run was never looked at."""
        return None if self.response is None else status_of_response(self.response)

    async def refresh(self) -> RunStatus:
        """Look at the run once (with the client's usual retries) and return its status."""
        self.response = await self._background.client.responses.retrieve(self.id)
        return status_of_response(self.response)

    def __await__(self) -> Generator[Any, None, RunResult]:
        return self.wait().__await__()

    async def wait(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
        *,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        policy: PollPolicy | None = None,
    ) -> RunResult:
        """Wait until the run ends and return its typed result (see :meth:`BackgroundRun.wait`).

        Cancelling the waiting task leaves the run going on the server.
        """
        background = self._background
        loop = background._loop(self.id, timeout=timeout, policy=policy, on_status=on_status)
        try:
            if WaitStrategy(strategy) is WaitStrategy.STREAM:
                result = await self._listen(loop)
                if result is not None:
                    return result
            first = None if self.response is None else Snapshot(self.response)
            return await wait_async(
                loop,
                self._look,
                clock=background._clock,
                sleep=background._sleep,
                wall_clock=background._wall_clock,
                first=first,
            )
        except BaseException as exc:
            _leave_note(exc, self.id)
            raise

    async def cancel(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
    ) -> RunResult:
        """Cancel the run and return the terminal state (see :meth:`BackgroundRun.cancel`)."""
        background = self._background

        async def cancel() -> Response:
            return await background._quiet.responses.cancel(self.id)

        try:
            self.response = await retry_async(
                cancel,
                background.policy,
                retryable=cancel_retryable,
                clock=background._clock,
                sleep=background._sleep,
                wall_clock=background._wall_clock,
            )
        except openai.APIStatusError as exc:
            if exc.status_code not in (400, 409) or not (await self.refresh()).is_terminal:
                raise
        return await self.wait(timeout)

    async def _look(self, request_timeout: float | None) -> Snapshot[Response]:
        snapshot = await self._background._fetch(self.id, request_timeout)
        self.response = snapshot.value
        return snapshot

    async def _listen(self, loop: PollLoop[Response]) -> RunResult | None:
        """Follow the run's event stream; ``None``: the server does not stream it, poll."""
        background = self._background
        follower = _StreamFollower(self, loop, background._clock, background._wall_clock)
        while True:
            try:
                stream = await background._quiet.responses.retrieve(
                    self.id, stream=True, **follower.request_options()
                )
            except Exception as exc:
                if follower.open_failed(exc):
                    return None
            else:
                async with stream:
                    if not follower.accepts(stream.response.headers):
                        return None
                    try:
                        async for event in stream:
                            if (result := follower.on_event(event)) is not None:
                                return result
                    except Exception as exc:
                        follower.broken(exc)
                    else:
                        if follower.ended():
                            return None
            await background._sleep(loop.next_delay(now=background._clock()))

    def __repr__(self) -> str:
        status = "unknown" if self.response is None else self.response.status
        return f"AsyncBackgroundRun(id={self.id!r}, status={status!r})"


@overload
def background(
    client: openai.AsyncOpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Clock = ...,
    sleep: AsyncSleep = ...,
    wall_clock: Clock = ...,
) -> AsyncBackground: ...
@overload
def background(
    client: openai.OpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Clock = ...,
    sleep: SyncSleep = ...,
    wall_clock: Clock = ...,
) -> Background: ...
def background(
    client: openai.OpenAI | openai.AsyncOpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Clock = time.monotonic,
    sleep: Any = None,
    wall_clock: Clock = time.time,
) -> Background | AsyncBackground:
    """Background responses over any official client, not only :class:`YandexOpenAI`.

    ::

        import openai, yc_responses

        client = openai.OpenAI(base_url=..., api_key=...)
        result = yc_responses.background(client).run(model="gpt://b1g.../yandexgpt", input="Hi")

    Returns :class:`Background` for ``openai.OpenAI`` and :class:`AsyncBackground`
    for ``openai.AsyncOpenAI``.
    """
    if isinstance(client, openai.AsyncOpenAI):
        return AsyncBackground(
            client, policy=policy, clock=clock, sleep=sleep or anyio.sleep, wall_clock=wall_clock
        )
    if isinstance(client, openai.OpenAI):
        return Background(
            client, policy=policy, clock=clock, sleep=sleep or time.sleep, wall_clock=wall_clock
        )
    raise TypeError(
        f"background() needs an openai.OpenAI or openai.AsyncOpenAI client, not {client!r}"
    )
