"""create / run / attach / map written once; ``Background`` and ``Deferred`` bind a kind.

:class:`Resource` holds what the sync and async resources share (the client, the
kind of job, the polling policy, the clocks, batch options); :class:`SyncResource`
and :class:`AsyncResource` only drive the steps, blocking or with ``await``::

    run = client.background.create(model="yandexgpt", input="Long task ...")
    results = client.background.map(prompts, model="yandexgpt", journal="batch.sqlite")
    again = client.background.with_options(policy=PollPolicy.fixed(2.0))
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

import anyio
import openai
from typing_extensions import Self

from . import logs, steps
from .batch import ProgressCallback, batch_engine, finish, run_async, run_sync
from .batch.drivers import drive_async, drive_sync, ended
from .batch.effects import NotStreamed
from .batch.inputs import refuse_single
from .journal import Journal
from .kinds import Kind
from .polling import Deadline, PollLoop, PollPolicy, Snapshot
from .quotas import Quotas
from .runs import AsyncRun, Run, RunContext, WaitStrategy

__all__ = ["AsyncResource", "BatchInput", "Resource", "SyncResource"]

ClientT = TypeVar("ClientT", bound="openai.OpenAI | openai.AsyncOpenAI")
S = TypeVar("S")
RunT = TypeVar("RunT", bound="Run[Any] | AsyncRun[Any]")
ResultsT = TypeVar("ResultsT")
ResultsOrErrorsT = TypeVar("ResultsOrErrorsT")

BatchInput = str | Mapping[str, Any]
"""One input of a batch: a prompt's text, or a dict of creation keywords."""


class Resource(Generic[ClientT, S, RunT, ResultsT, ResultsOrErrorsT]):
    """A kind of job on one client: what the sync and async resources share.

    ``policy`` sets the polling schedule (:class:`~yc_responses.PollPolicy`);
    ``clock``, ``sleep`` and ``wall_clock`` can be replaced (tests use a
    :class:`~yc_responses.clock.ManualClock`).
    """

    _kind_type: ClassVar[Callable[..., Any]]
    """The kind of job, built as ``_kind_type(client, wall_clock=...)``."""
    _run_type: ClassVar[Callable[..., Any]]
    """The class of the runs :meth:`attach` and ``create`` return."""

    def __init__(
        self,
        client: ClientT,
        *,
        policy: PollPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client: ClientT = client
        self.policy = policy if policy is not None else PollPolicy()
        self._clock = clock
        if sleep is None:
            sleep = anyio.sleep if isinstance(client, openai.AsyncOpenAI) else time.sleep
        self._sleep: Callable[[float], Any] = sleep
        self._wall_clock = wall_clock
        self.kind: Kind[S] = self._kind_type(client, wall_clock=wall_clock)
        """What is particular to this kind of job: its wire, status and results."""

    @property
    def _context(self) -> RunContext[S]:
        return RunContext(self.kind, self.policy, self._clock, self._wall_clock)

    def with_options(
        self,
        *,
        policy: PollPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Any] | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> Self:
        """A copy with some settings replaced: ``client.background.with_options(policy=...)``."""
        return type(self)(
            self.client,
            policy=policy or self.policy,
            clock=clock or self._clock,
            sleep=sleep or self._sleep,
            wall_clock=wall_clock or self._wall_clock,
        )

    def attach(self, run_id: str) -> RunT:
        """The run ``run_id``, e.g. after a restart; no request is made until it is used.

        >>> client.background.attach("resp_123").wait()  # doctest: +SKIP
        """
        run: RunT = self._run_type(self._context, run_id, sleep=self._sleep)
        return run

    def prepare_input(self, item: BatchInput, **defaults: Any) -> dict[str, Any]:
        """The creation keywords of one batch input, checked as ``map`` checks every
        input before sending anything.

        Raises ``ValueError`` or ``TypeError`` saying what is wrong::

            >>> client.background.prepare_input("Hi", model="yandexgpt")  # doctest: +SKIP
            {'model': 'yandexgpt', 'input': 'Hi', 'background': True}
        """
        if not isinstance(item, str | Mapping):
            raise TypeError(
                f"an input is a string or a dict of creation keywords, not {type(item).__name__}"
            )
        return self.kind.prepare(item, defaults)

    def _submit_steps(
        self, params: dict[str, Any], limit: float | None
    ) -> steps.Steps[Snapshot[S]]:
        return steps.submit(
            lambda: self.kind.create(params),
            self.policy,
            clock=self._clock,
            wall_clock=self._wall_clock,
            deadline=None if limit is None else Deadline(limit, clock=self._clock),
        )

    def _created(self, snapshot: Snapshot[S]) -> RunT:
        run_id = self.kind.run_id(snapshot.value)
        shown = self.kind.describe(snapshot.value)
        logs.run_created(self.kind.resource, run_id, shown, snapshot.request_id)
        run: RunT = self._run_type(self._context, run_id, snapshot.value, sleep=self._sleep)
        return run

    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[False] = False,
        **options: Any,
    ) -> ResultsT: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[True],
        **options: Any,
    ) -> ResultsOrErrorsT: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: bool,
        **options: Any,
    ) -> ResultsT | ResultsOrErrorsT: ...
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | Journal | None = None,
        progress: bool | ProgressCallback | None = None,
        keys: Sequence[str] | None = None,
        quotas: Quotas | None = None,
        policy: PollPolicy | None = None,
        return_exceptions: bool = False,
        resubmit_ambiguous: bool = False,
        run_timeout: float | None = None,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        **create_kwargs: Any,
    ) -> Any:
        """Run many jobs; their results in input order (awaitable on an async client).

        ::

            results = client.background.map(
                ["Summarise: ...", {"input": "Translate: ...", "temperature": 0.1}],
                model="yandexgpt",
                journal="batch.sqlite",      # the same call again resumes after a crash
            )

        An input is the prompt's text, or a dict of creation keywords (its own
        ``model`` wins); ``create_kwargs`` apply to every input. Every input is
        checked (:meth:`prepare_input`) before anything is sent.

        * ``concurrency``: at most this many runs going on the server at once. By
          default (``None``) as many as the creation quota and the durations seen
          call for (creations per second x seconds a run lasts, up to 5,000); fewer
          when creations sent under the quota are refused with a 429 (the sign of
          a limit on runs at once).
        * ``quotas``: the client keeps under them (default ``Quotas.documented()``:
          10 creations/s, 5,000/hour, 50 fetches/s); a 429 that still comes is
          honoured (``Retry-After``) and retried.
        * ``journal``: a SQLite file (or :class:`~yc_responses.journal.Journal`)
          recording every input's run id, status and result, each change
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
        * ``strategy``: ``"poll"`` looks at each run from time to time; ``"stream"``
          (async clients) follows each run over its event stream, one request a run
          after its creation, looking at it instead when the stream breaks off or
          the service does not stream it.

        A run that fails is a :class:`~yc_responses.Failed` result, not an error.
        Inputs with no result at all raise :class:`~yc_responses.BatchError` at the
        end, with every other result on it (``return_exceptions=True`` puts the
        exceptions in the list instead): rejected with a 4xx, maybe submitted but
        with no id (:class:`~yc_responses.AmbiguousSubmissionError`), a run that
        could not be followed (:class:`~yc_responses.RunLookupError`) or is past
        ``run_timeout`` (:class:`~yc_responses.RunTimeoutError`), both with the
        id. Bad credentials or no access to the folder stop the batch at once, as
        do creations refused for longer than ``policy.max_outage``. One scheduler
        serves every run, on at most 16 connections; on an async client the runs
        are tasks of the running event loop, and cancelling the call leaves them
        going on the server (a creation already sent is still recorded).
        """
        batch = self._batch_options(
            model=model,
            concurrency=concurrency,
            journal=journal,
            progress=progress,
            keys=keys,
            quotas=quotas,
            policy=policy,
            resubmit_ambiguous=resubmit_ambiguous,
            run_timeout=run_timeout,
            strategy=strategy,
            **create_kwargs,
        )
        return self._map(inputs, batch, return_exceptions)

    def imap(self, inputs: Iterable[BatchInput], *, model: str, **options: Any) -> Any:
        """Run many jobs; ``(index, result)`` pairs as runs end, in the order they end
        (an async iterator on an async client).

        ::

            for index, result in client.background.imap(prompts, model="yandexgpt"):
                print(index, result)

        ``inputs`` is any iterable, read as there is room for more runs (about as
        many as are going at once): a generator of a million prompts is fine, and
        nothing is kept of a result once it is handed out. The options are
        :meth:`map`'s; an input with no result comes as its exception in place of
        the result (as ``return_exceptions=True``), and a bad input raises when it
        is reached. Stopping the iteration (``break``, or ``aclose()`` on an async
        client) waits for the creations in flight and records them in the journal;
        the same call with the same journal resumes, handing out again what was not
        handed out before (and what was, read from the journal).
        """
        if "return_exceptions" in options:
            raise TypeError(
                "imap() hands out exceptions in place of results: drop return_exceptions="
            )
        refuse_single(inputs)
        return self._imap(inputs, self._batch_options(model=model, **options))

    def _batch_options(
        self,
        *,
        model: str,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | Journal | None = None,
        progress: bool | ProgressCallback | None = None,
        keys: Sequence[str] | None = None,
        quotas: Quotas | None = None,
        policy: PollPolicy | None = None,
        resubmit_ambiguous: bool = False,
        run_timeout: float | None = None,
        strategy: WaitStrategy | str = WaitStrategy.POLL,
        **create_kwargs: Any,
    ) -> dict[str, Any]:
        stream = WaitStrategy(strategy) is WaitStrategy.STREAM
        if stream and not (isinstance(self.client, openai.AsyncOpenAI) and self.kind.streams):
            raise ValueError(
                "strategy='stream' follows runs of background responses on an async client: "
                "use AsyncYandexOpenAI, or the default strategy='poll'"
            )
        return {
            "stream": stream,
            "defaults": {"model": model, **create_kwargs},
            "keys": keys,
            "concurrency": concurrency,
            "journal": journal,
            "progress": progress,
            "quotas": quotas,
            "policy": policy or self.policy,
            "resubmit_ambiguous": resubmit_ambiguous,
            "run_timeout": run_timeout,
            "wall_clock": self._wall_clock,
        }

    def _map(self, inputs: Iterable[BatchInput], batch: dict[str, Any], errors: bool) -> Any:
        raise NotImplementedError

    def _imap(self, inputs: Iterable[BatchInput], batch: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _requests(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """The creation and the status look of a batch, as the kind builds them."""
        kind = self.kind
        # a look is bounded as a whole, however slowly its answer comes (run_timeout holds)
        return kind.create, lambda run_id, timeout: kind.fetch(run_id, timeout).within(timeout)


class SyncResource(Resource[ClientT, S, RunT, ResultsT, ResultsOrErrorsT]):
    """A kind of job on a sync client: blocking calls."""

    def _start(self, params: dict[str, Any], limit: float | None = None) -> RunT:
        created = steps.drive_sync(self._submit_steps(params, limit), sleep=self._sleep)
        return self._created(created)

    def _senders(self) -> tuple[Callable[..., Snapshot[S]], Callable[..., Snapshot[S]]]:
        create, fetch = self._requests()
        return (
            lambda params: steps.perform_sync(create(params)),
            lambda run_id, timeout: steps.perform_sync(fetch(run_id, timeout)),
        )

    def _map(self, inputs: Iterable[BatchInput], batch: dict[str, Any], errors: bool) -> Any:
        create, fetch = self._senders()
        with batch_engine(self.kind, inputs, now=self._clock(), **batch) as engine:
            run_sync(engine, create, fetch, clock=self._clock, sleep=self._sleep)
            return finish(engine, errors)

    def _imap(
        self, inputs: Iterable[BatchInput], batch: dict[str, Any]
    ) -> Iterator[tuple[int, Any]]:
        create, fetch = self._senders()
        with batch_engine(self.kind, inputs, now=self._clock(), lazy=True, **batch) as engine:
            for _ in drive_sync(engine, create, fetch, clock=self._clock, sleep=self._sleep):
                yield from ended(engine)
            yield from ended(engine)


class AsyncResource(Resource[ClientT, S, RunT, ResultsT, ResultsOrErrorsT]):
    """A kind of job on an async client: ``await``, tasks on the running event loop."""

    async def _start(self, params: dict[str, Any], limit: float | None = None) -> RunT:
        created = await steps.drive_async(self._submit_steps(params, limit), sleep=self._sleep)
        return self._created(created)

    def _map(self, inputs: Iterable[BatchInput], batch: dict[str, Any], errors: bool) -> Any:
        return self._map_async(inputs, batch, errors)

    def _senders(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        create, fetch = self._requests()

        async def send(params: dict[str, Any]) -> Snapshot[S]:
            return await steps.perform_async(create(params))

        async def look(run_id: str, request_timeout: float | None) -> Snapshot[S]:
            return await steps.perform_async(fetch(run_id, request_timeout))

        return send, look

    async def _follow(self, run_id: str, time_left: float | None) -> Snapshot[S]:
        """Follow a run's event stream to its end (as ``wait(strategy="stream")``): its
        last snapshot; :class:`NotStreamed` when the service does not stream it."""
        run: Any = self.attach(run_id)
        loop = PollLoop(
            run_id,
            self.kind,
            self.policy,
            now=self._clock(),
            timeout=time_left,
            resource=self.kind.resource,
        )
        result = await steps.drive_async(run._listen_steps(loop), sleep=self._sleep)
        if result is None or run.snapshot is None:
            raise NotStreamed(run_id)
        return Snapshot(run.snapshot)

    async def _map_async(
        self, inputs: Iterable[BatchInput], batch: dict[str, Any], errors: bool
    ) -> Any:
        create, fetch = self._senders()
        with batch_engine(self.kind, inputs, now=self._clock(), **batch) as engine:
            await run_async(
                engine, create, fetch, clock=self._clock, sleep=self._sleep, follow=self._follow
            )
            return finish(engine, errors)

    async def _imap(
        self, inputs: Iterable[BatchInput], batch: dict[str, Any]
    ) -> AsyncIterator[tuple[int, Any]]:
        create, fetch = self._senders()
        with batch_engine(self.kind, inputs, now=self._clock(), lazy=True, **batch) as engine:
            steps_ = drive_async(
                engine, create, fetch, clock=self._clock, sleep=self._sleep, follow=self._follow
            )
            async for _ in steps_:
                for pair in ended(engine):
                    yield pair
            for pair in ended(engine):
                yield pair
