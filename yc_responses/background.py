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
ones raised at once, and the run id is never lost. This module only binds the
Responses kind (:mod:`yc_responses.kinds.responses`) to the generic runs and
resources.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any, overload

import anyio
import openai
from openai.types.responses import Response

from .kinds.responses import ResponsesKind, create_params
from .polling import Deadline, PollPolicy
from .resources import AsyncResource, SyncResource
from .results import RunResult
from .runs import AsyncRun, Run, StatusCallback, WaitStrategy

__all__ = [
    "AsyncBackground",
    "AsyncBackgroundRun",
    "Background",
    "BackgroundRun",
    "StatusCallback",
    "WaitStrategy",
    "background",
]


class BackgroundRun(Run[Response]):
    """One background response: ``id``, last known ``status``, ``wait()``, ``cancel()``."""

    @property
    def response(self) -> Response | None:
        """The last response seen from the server (``None`` before the first look)."""
        return self.snapshot


class AsyncBackgroundRun(AsyncRun[Response]):
    """One background response on an async client; ``await run`` waits for its result."""

    @property
    def response(self) -> Response | None:
        """The last response seen from the server (``None`` before the first look)."""
        return self.snapshot


class Background(
    SyncResource[
        openai.OpenAI, Response, BackgroundRun, list[RunResult], list[RunResult | Exception]
    ]
):
    """Background responses on a sync client: ``client.background``.

    ::

        run = client.background.create(model="yandexgpt", input="Long task ...")
        result = run.wait(timeout=600)
    """

    _kind_type = ResponsesKind
    _run_type = BackgroundRun

    def attach(self, response_id: str) -> BackgroundRun:
        """The run ``response_id``, e.g. after a restart; no request until it is used."""
        return super().attach(response_id)

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
        return self._start(create_params(params))

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

        ``timeout`` covers the creation too: a creation that does not answer in time
        raises :class:`~yc_responses.AmbiguousSubmissionError`. On
        :class:`~yc_responses.RunTimeoutError` the run keeps going; its id is on the error.
        """
        deadline = Deadline(timeout, clock=self._clock)
        strategy = WaitStrategy(strategy)  # a misspelt strategy is refused before a paid run
        run = self._start(create_params(params), deadline.remaining())
        return run.wait(deadline.remaining(), strategy=strategy, on_status=on_status)


class AsyncBackground(
    AsyncResource[
        openai.AsyncOpenAI,
        Response,
        AsyncBackgroundRun,
        Coroutine[Any, Any, list[RunResult]],
        Coroutine[Any, Any, list[RunResult | Exception]],
    ]
):
    """Background responses on an async client: ``client.background``.

    ::

        run = await client.background.create(model="yandexgpt", input="Long task ...")
        result = await run          # same as: await run.wait()
    """

    _kind_type = ResponsesKind
    _run_type = AsyncBackgroundRun

    def attach(self, response_id: str) -> AsyncBackgroundRun:
        """The run ``response_id``; no request until it is used."""
        return super().attach(response_id)

    async def create(self, **params: Any) -> AsyncBackgroundRun:
        """Start a background response (see :meth:`Background.create` for the retry policy)."""
        return await self._start(create_params(params))

    async def run(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the server's run
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        on_status: StatusCallback | None = None,
        **params: Any,
    ) -> RunResult:
        """Create a background response and wait for its result (see :meth:`Background.run`)."""
        deadline = Deadline(timeout, clock=self._clock)
        strategy = WaitStrategy(strategy)  # a misspelt strategy is refused before a paid run
        run = await self._start(create_params(params), deadline.remaining())
        return await run.wait(deadline.remaining(), strategy=strategy, on_status=on_status)


@overload
def background(
    client: openai.AsyncOpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = ...,
    sleep: Any = ...,
    wall_clock: Callable[[], float] = ...,
) -> AsyncBackground: ...
@overload
def background(
    client: openai.OpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = ...,
    sleep: Any = ...,
    wall_clock: Callable[[], float] = ...,
) -> Background: ...
def background(
    client: openai.OpenAI | openai.AsyncOpenAI,
    *,
    policy: PollPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Any = None,
    wall_clock: Callable[[], float] = time.time,
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
