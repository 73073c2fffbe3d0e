"""The asynchronous Foundation Models API (``completionAsync`` + Operation), same results.

Many scripts still use the older API: ``POST /foundationModels/v1/completionAsync``
returns an Operation, and ``GET /operations/{id}`` is polled until ``done``. The
client wraps it with the waiting engine and the result classes of background
responses::

    client = YandexOpenAI()
    result = client.deferred.run(
        model="yandexgpt",
        messages=[{"role": "system", "text": "Translate the text"},
                  {"role": "user", "text": "To be, or not to be"}],
        max_tokens=2000,
    )
    match result:
        case Completed(output_text=text):
            print(text, result.response.usage)
        case Incomplete(reason=reason):          # "max_output_tokens" or "content_filter"
            print("cut short:", reason)

On the wire: an API key goes as ``Authorization: Api-Key <key>``, an IAM token as
``Bearer``, the folder as ``x-folder-id``; ``maxTokens`` is sent as a string.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

import anyio
import httpx2
import openai
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from .batch import ProgressCallback, batch_engine, finish, run_async, run_sync
from .errors import UnexpectedStatusError
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
from .results import AnyRunResult, Cancelled, Completed, ErrorDetails, Failed, Incomplete
from .status import RunStatus

if TYPE_CHECKING:
    from .client import AsyncYandexOpenAI, YandexOpenAI

__all__ = [
    "Alternative",
    "AsyncDeferred",
    "AsyncOperationRun",
    "CompletionResponse",
    "CompletionUsage",
    "Deferred",
    "Operation",
    "OperationError",
    "OperationResult",
    "OperationRun",
    "yandex_messages",
]

CANCELLED_CODE = 1
"""``google.rpc.Code.CANCELLED``: how a cancelled operation reports its end."""

_RPC_CODES = {
    1: "cancelled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}

_COMPLETE = frozenset({"ALTERNATIVE_STATUS_FINAL", "ALTERNATIVE_STATUS_TOOL_CALLS"})
_CUT_SHORT = {
    "ALTERNATIVE_STATUS_TRUNCATED_FINAL": "max_output_tokens",
    "ALTERNATIVE_STATUS_CONTENT_FILTER": "content_filter",
}

ReasoningMode = Literal["DISABLED", "ENABLED_HIDDEN"]

T = TypeVar("T")


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class AlternativeMessage(_Wire):
    role: str
    text: str = ""


class Alternative(_Wire):
    """One generated alternative and its status (``ALTERNATIVE_STATUS_FINAL``, ...)."""

    message: AlternativeMessage
    status: str


class CompletionUsage(_Wire):
    """Token counts, as integers (the wire sends them as strings)."""

    input_text_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class CompletionResponse(_Wire):
    alternatives: list[Alternative]
    usage: CompletionUsage | None = None
    model_version: str | None = None


class OperationError(_Wire):
    """``google.rpc.Status``: a numeric ``code`` and a ``message``."""

    code: int
    message: str = ""
    details: list[Any] | None = None


class Operation(_Wire):
    """An operation of the asynchronous API, as ``GET /operations/{id}`` returns it.

    ``usage``, ``alternatives`` and ``model_version`` read through to ``response``.
    """

    id: str
    description: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    modified_at: str | None = None
    done: bool | None = False
    metadata: Any = None
    response: CompletionResponse | None = None
    error: OperationError | None = None

    @property
    def alternatives(self) -> list[Alternative]:
        return [] if self.response is None else self.response.alternatives

    @property
    def usage(self) -> CompletionUsage | None:
        return None if self.response is None else self.response.usage

    @property
    def model_version(self) -> str | None:
        return None if self.response is None else self.response.model_version


OperationResult = AnyRunResult[Operation]
"""``Completed | Failed | Cancelled | Incomplete`` with the :class:`Operation` as payload."""


# --- pure: messages in, status and result out ---------------------------------------


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        parts = [part.get("text") for part in content if isinstance(part, Mapping)]
        if parts and all(isinstance(text, str) for text in parts):
            return "".join(str(text) for text in parts)
    raise ValueError(
        f"cannot turn message content {content!r} into text: give a string, or a list of "
        "{'type': 'text', 'text': ...} parts"
    )


def yandex_messages(messages: str | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages in the API's ``{"role", "text"}`` form; OpenAI's ``content`` is converted.

    >>> yandex_messages([{"role": "developer", "content": "Be brief"}])
    [{'role': 'system', 'text': 'Be brief'}]
    >>> yandex_messages("Hi")
    [{'role': 'user', 'text': 'Hi'}]
    """
    if isinstance(messages, str):
        return [{"role": "user", "text": messages}]
    converted: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise ValueError(f"message {index} needs a 'role' and a 'text' (or 'content')")
        role = "system" if message["role"] == "developer" else message["role"]
        native = {
            k: v for k, v in message.items() if k in ("text", "toolCallList", "toolResultList")
        }
        if native:
            converted.append({"role": role, **native})
        elif "content" in message:
            converted.append({"role": role, "text": _text_of(message["content"])})
        else:
            raise ValueError(f"message {index} has neither 'text' nor 'content'")
    if not converted:
        raise ValueError("messages is empty: give at least one message")
    return converted


def completion_body(
    model_uri: str,
    messages: str | Iterable[Mapping[str, Any]],
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    reasoning_mode: ReasoningMode | str | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``completionAsync``, as documented."""
    options: dict[str, Any] = {"stream": False}
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise ValueError(f"temperature must be a number from 0 to 1, not {temperature!r}")
        if not 0 <= temperature <= 1:
            raise ValueError(f"temperature must be between 0 and 1, not {temperature}")
        options["temperature"] = temperature
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
            raise ValueError(f"max_tokens must be a positive int, not {max_tokens!r}")
        options["maxTokens"] = str(max_tokens)
    if reasoning_mode is not None:
        options["reasoningOptions"] = {"mode": reasoning_mode.upper()}
    body: dict[str, Any] = {
        "modelUri": model_uri,
        "completionOptions": options,
        "messages": yandex_messages(messages),
    }
    return {**body, **(extra_body or {})}


def parse_operation(data: object) -> Operation:
    """An :class:`Operation` from JSON; :class:`UnexpectedStatusError` if it is none."""
    try:
        return Operation.model_validate(data)
    except ValidationError as exc:
        raise UnexpectedStatusError(
            f"the server sent an operation the library cannot read ({exc.error_count()} problems)",
            raw=data,
            response_id=data.get("id") if isinstance(data, dict) else None,
        ) from None


def _unexpected(operation: Operation, why: str) -> UnexpectedStatusError:
    return UnexpectedStatusError(
        why, raw=operation.model_dump(by_alias=True), response_id=operation.id
    )


def status_of_operation(operation: Operation) -> RunStatus:
    """Not done: in progress. Done: cancelled (error code 1), failed (any other error),
    incomplete (truncated or filtered), or completed."""
    if not operation.done:
        return RunStatus.IN_PROGRESS
    if (operation.error is None) == (operation.response is None):
        raise _unexpected(operation, "a done operation needs exactly one of response and error")
    if operation.error is not None:
        return RunStatus.CANCELLED if operation.error.code == CANCELLED_CODE else RunStatus.FAILED
    if not operation.alternatives:
        raise _unexpected(operation, "a done operation's response has no alternatives")
    alternative_status = operation.alternatives[0].status
    if alternative_status in _CUT_SHORT:
        return RunStatus.INCOMPLETE
    if alternative_status in _COMPLETE:
        return RunStatus.COMPLETED
    raise _unexpected(operation, f"unknown alternative status {alternative_status!r}")


def result_of_operation(operation: Operation) -> OperationResult:
    """The typed result of a done operation (see :func:`status_of_operation`)."""
    status = status_of_operation(operation)
    text = operation.alternatives[0].message.text if operation.alternatives else ""
    if status is RunStatus.COMPLETED:
        return Completed(operation.id, text, operation)
    if status is RunStatus.INCOMPLETE:
        return Incomplete(
            operation.id, _CUT_SHORT[operation.alternatives[0].status], text, operation
        )
    if status is RunStatus.CANCELLED:
        return Cancelled(operation.id, operation)
    if status is RunStatus.FAILED:
        assert operation.error is not None
        code = _RPC_CODES.get(operation.error.code, str(operation.error.code))
        return Failed(operation.id, ErrorDetails(code, operation.error.message), operation)
    raise _unexpected(operation, f"operation {operation.id} is still running: no result yet")


class _OperationReader:
    def status(self, snapshot: Operation, /) -> RunStatus:
        return status_of_operation(snapshot)

    def result(self, snapshot: Operation, /) -> OperationResult:
        return result_of_operation(snapshot)


_READER = _OperationReader()

_CREATE_KEYWORDS = frozenset(
    {"model", "messages", "temperature", "max_tokens", "reasoning_mode", "extra_body"}
)

BatchInput = str | Mapping[str, Any]
"""One input of a batch: a user message's text, or a dict of ``deferred.create`` keywords."""


class _OperationsSource:
    """Operations as the batch engine sees them: an input becomes a ``completionAsync`` body."""

    reader = _READER
    resource = "deferred"

    def __init__(self, model_uri: Callable[[str], str], scope: str) -> None:
        self._model_uri = model_uri
        self.scope = scope

    def prepare(self, item: BatchInput, defaults: Mapping[str, Any]) -> dict[str, Any]:
        given = {"messages": item} if isinstance(item, str) else item
        params = {**defaults, **given}
        unknown = sorted(set(params) - _CREATE_KEYWORDS)
        if unknown:
            raise TypeError(
                f"deferred.create() takes no {', '.join(map(repr, unknown))}: give only "
                f"{', '.join(sorted(_CREATE_KEYWORDS))}"
            )
        if "messages" not in params:
            raise ValueError("no messages: give the text, or a dict with 'messages'")
        model = params.pop("model", None)
        if not isinstance(model, str):
            raise ValueError("no model: give model= (a name such as yandexgpt, or a URI)")
        messages = params.pop("messages")
        return completion_body(self._model_uri(model), messages, **params)

    def run_id(self, snapshot: Operation, /) -> str:
        return snapshot.id

    def dump(self, snapshot: Operation, /) -> str:
        return snapshot.model_dump_json(by_alias=True)

    def load(self, text: str, /) -> Operation:
        return parse_operation(json.loads(text))


# --- the two resources: requests are built once, sent by a sync or an async client ---


class _Endpoints:
    """URLs and headers of the asynchronous API for one client."""

    def __init__(self, client: YandexOpenAI | AsyncYandexOpenAI) -> None:
        config = client._yandex
        self.llm = config.llm_base_url.rstrip("/")
        self.operations = config.operation_base_url.rstrip("/")
        self.folder_id = client.folder_id
        self._api_key = config.api_key

    def headers(self) -> dict[str, Any]:
        """``x-folder-id``, ``Api-Key`` auth for keys (IAM tokens stay the client's Bearer)."""
        headers: dict[str, Any] = {"x-folder-id": self.folder_id, "OpenAI-Project": openai.Omit()}
        if self._api_key is not None:
            headers["Authorization"] = f"Api-Key {self._api_key}"
        return headers

    def create_url(self) -> str:
        return f"{self.llm}/foundationModels/v1/completionAsync"

    def operation_url(self, operation_id: str) -> str:
        return f"{self.operations}/operations/{operation_id}"

    def cancel_url(self, operation_id: str) -> str:
        return f"{self.operations}/operations/{operation_id}:cancel"


def _snapshot(raw: httpx2.Response, hint: Callable[[Any], float | None]) -> Snapshot[Operation]:
    return Snapshot(parse_operation(raw.json()), hint(raw.headers))


class _DeferredBase:
    def __init__(
        self,
        client: Any,
        *,
        policy: PollPolicy | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.policy = policy if policy is not None else PollPolicy()
        self._clock = clock
        self._wall_clock = wall_clock
        self._endpoints = _Endpoints(client)

    def _options(self, *, max_retries: int | None = None, timeout: float | None = None) -> Any:
        options: dict[str, Any] = {"headers": self._endpoints.headers()}
        if max_retries is not None:
            options["max_retries"] = max_retries
        if timeout is not None:
            options["timeout"] = timeout
        return options

    def _hint(self, headers: Any) -> float | None:
        return server_hint(headers, wall_time=self._wall_clock())

    def prepare_input(self, item: BatchInput, **defaults: Any) -> dict[str, Any]:
        """The ``completionAsync`` body of one batch input, checked as ``map`` checks every
        input before sending anything.

        Raises ``ValueError`` or ``TypeError`` saying what is wrong::

            >>> client.deferred.prepare_input("Hi", model="yandexgpt")["modelUri"]  # doctest: +SKIP
            'gpt://b1g.../yandexgpt/latest'
        """
        if not isinstance(item, str | Mapping):
            raise TypeError(
                f"an input is a string or a dict of create() keywords, not {type(item).__name__}"
            )
        return self._source().prepare(item, defaults)

    def _source(self) -> _OperationsSource:
        return _OperationsSource(
            lambda name: self.client.model_uri(name, kind="gpt"), scope=self.client.folder_id
        )

    def _loop(
        self,
        operation_id: str,
        timeout: float | None,
        policy: PollPolicy | None,
        on_status: Callable[[RunStatus, Operation], object] | None,
    ) -> PollLoop[Operation]:
        return PollLoop(
            operation_id,
            _READER,
            policy or self.policy,
            now=self._clock(),
            timeout=timeout,
            on_status=on_status,
            resource="deferred",
        )


class Deferred(_DeferredBase):
    """The asynchronous API on a sync client: ``client.deferred``.

    ::

        run = client.deferred.create(model="yandexgpt", messages="Hello")
        print(run.id)            # an operation id: client.deferred.attach(id) resumes
        print(run.wait(timeout=300).unwrap())
    """

    client: YandexOpenAI

    def __init__(
        self,
        client: YandexOpenAI,
        *,
        policy: PollPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, policy=policy, clock=clock, wall_clock=wall_clock)
        self._sleep = sleep

    def create(
        self,
        *,
        model: str,
        messages: str | Iterable[Mapping[str, Any]],
        temperature: float | None = None,
        max_tokens: int | None = None,
        reasoning_mode: ReasoningMode | str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> OperationRun:
        """Submit a completion; returns at once with the operation.

        ``model`` is a short name or a URI; ``messages`` take ``{"role", "text"}``
        or OpenAI's ``{"role", "content"}``. Sent at most once, as
        :meth:`Background.create <yc_responses.Background.create>` is.
        """
        body = completion_body(
            self.client.model_uri(model, kind="gpt"),
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            reasoning_mode=reasoning_mode,
            extra_body=extra_body,
        )
        created = submit_sync(
            lambda: self._send(body),
            self.policy,
            clock=self._clock,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
        )
        return OperationRun(self, created.value.id, created.value)

    def run(
        self,
        *,
        timeout: float | None = None,
        on_status: Callable[[RunStatus, Operation], object] | None = None,
        **create: Any,
    ) -> OperationResult:
        """:meth:`create`, then :meth:`OperationRun.wait`."""
        return self.create(**create).wait(timeout, on_status=on_status)

    def attach(self, operation_id: str) -> OperationRun:
        """The operation ``operation_id``; no request until it is used."""
        if not operation_id:
            raise ValueError("attach() needs an operation id")
        return OperationRun(self, operation_id)

    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[False] = False,
        **options: Any,
    ) -> list[OperationResult]: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[True],
        **options: Any,
    ) -> list[OperationResult | Exception]: ...
    @overload
    def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: bool,
        **options: Any,
    ) -> list[OperationResult] | list[OperationResult | Exception]: ...
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
    ) -> list[OperationResult] | list[OperationResult | Exception]:
        """Run many operations; their results in input order.

        ::

            results = client.deferred.map(
                ["Translate: ...", {"messages": [...], "temperature": 0.1}],
                model="yandexgpt-lite",
                journal="batch.sqlite",
            )

        An input is a user message's text, or a dict of :meth:`create` keywords;
        ``create_kwargs`` (``temperature``, ``max_tokens``, ...) apply to every
        input. Concurrency, quotas, the journal, progress and errors work as in
        :meth:`Background.map <yc_responses.Background.map>`.
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
            run_sync(engine, self._send, self._fetch, clock=self._clock, sleep=self._sleep)
            return cast("list[OperationResult | Exception]", finish(engine, return_exceptions))

    def _send(self, body: dict[str, Any]) -> Snapshot[Operation]:
        """One ``completionAsync`` attempt, the client's own retries off."""
        raw: httpx2.Response = self.client.post(
            self._endpoints.create_url(),
            body=body,
            cast_to=httpx2.Response,
            options=self._options(max_retries=0),
        )
        return _snapshot(raw, self._hint)

    def _fetch(self, operation_id: str, request_timeout: float | None) -> Snapshot[Operation]:
        """One look at an operation."""
        raw = self._get(self._endpoints.operation_url(operation_id), request_timeout, 0)
        return _snapshot(raw, self._hint)

    def _get(
        self, url: str, request_timeout: float | None, max_retries: int | None
    ) -> httpx2.Response:
        raw: httpx2.Response = self.client.get(
            url,
            cast_to=httpx2.Response,
            options=self._options(max_retries=max_retries, timeout=request_timeout),
        )
        return raw


class OperationRun:
    """One operation: ``id``, last known ``status``, ``refresh()``, ``wait()``, ``cancel()``."""

    def __init__(
        self, deferred: Deferred, operation_id: str, operation: Operation | None = None
    ) -> None:
        self._deferred = deferred
        self.id = operation_id
        """The operation id: keep it to resume with ``client.deferred.attach(id)``."""
        self.operation = operation
        """The last operation seen (``None`` before the first look)."""

    @property
    def status(self) -> RunStatus | None:
        """The last status seen, without a request."""
        return None if self.operation is None else status_of_operation(self.operation)

    def refresh(self) -> RunStatus:
        """Look once (with the client's retries) and return the status."""
        self.operation = self._look(None, retries=None).value
        return status_of_operation(self.operation)

    def wait(
        self,
        timeout: float | None = None,
        *,
        on_status: Callable[[RunStatus, Operation], object] | None = None,
        policy: PollPolicy | None = None,
    ) -> OperationResult:
        """Poll until the operation is done and return its typed result.

        Past ``timeout`` seconds, :class:`~yc_responses.RunTimeoutError` (the
        operation is left running); transient faults are sat out.
        """
        deferred = self._deferred
        first = None if self.operation is None else Snapshot(self.operation)
        return wait_sync(
            deferred._loop(self.id, timeout, policy, on_status),
            lambda request_timeout: self._look(request_timeout, retries=0),
            clock=deferred._clock,
            sleep=deferred._sleep,
            wall_clock=deferred._wall_clock,
            first=first,
        )

    def cancel(self, *, timeout: float | None = None) -> OperationResult:
        """Cancel (``GET /operations/{id}:cancel``) and return the terminal state reported.

        An operation that is not done ends as :class:`~yc_responses.Cancelled`; one
        that already ended keeps its result (e.g. :class:`~yc_responses.Completed`).
        """
        deferred = self._deferred
        try:
            raw = retry_sync(
                lambda: deferred._get(deferred._endpoints.cancel_url(self.id), None, 0),
                deferred.policy,
                retryable=cancel_retryable,
                clock=deferred._clock,
                sleep=deferred._sleep,
                wall_clock=deferred._wall_clock,
            )
            self.operation = parse_operation(raw.json())
        except openai.APIStatusError as exc:
            # 400/409 for an operation that is already done: the server refuses to cancel it
            if exc.status_code not in (400, 409) or not self.refresh().is_terminal:
                raise
        return self.wait(timeout)

    def _look(self, request_timeout: float | None, *, retries: int | None) -> Snapshot[Operation]:
        deferred = self._deferred
        raw = deferred._get(deferred._endpoints.operation_url(self.id), request_timeout, retries)
        snapshot = _snapshot(raw, deferred._hint)
        self.operation = snapshot.value
        return snapshot

    def __repr__(self) -> str:
        done = None if self.operation is None else bool(self.operation.done)
        return f"OperationRun(id={self.id!r}, done={done!r})"


class AsyncDeferred(_DeferredBase):
    """The asynchronous API on an async client: ``client.deferred`` (see :class:`Deferred`)."""

    client: AsyncYandexOpenAI

    def __init__(
        self,
        client: AsyncYandexOpenAI,
        *,
        policy: PollPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, policy=policy, clock=clock, wall_clock=wall_clock)
        self._sleep = sleep

    async def create(
        self,
        *,
        model: str,
        messages: str | Iterable[Mapping[str, Any]],
        temperature: float | None = None,
        max_tokens: int | None = None,
        reasoning_mode: ReasoningMode | str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> AsyncOperationRun:
        """Submit a completion (see :meth:`Deferred.create`)."""
        body = completion_body(
            self.client.model_uri(model, kind="gpt"),
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            reasoning_mode=reasoning_mode,
            extra_body=extra_body,
        )

        created = await submit_async(
            lambda: self._send(body),
            self.policy,
            clock=self._clock,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
        )
        return AsyncOperationRun(self, created.value.id, created.value)

    async def run(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the operation
        on_status: Callable[[RunStatus, Operation], object] | None = None,
        **create: Any,
    ) -> OperationResult:
        """:meth:`create`, then :meth:`AsyncOperationRun.wait`."""
        run = await self.create(**create)
        return await run.wait(timeout, on_status=on_status)

    def attach(self, operation_id: str) -> AsyncOperationRun:
        """The operation ``operation_id``; no request until it is used."""
        if not operation_id:
            raise ValueError("attach() needs an operation id")
        return AsyncOperationRun(self, operation_id)

    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[False] = False,
        **options: Any,
    ) -> list[OperationResult]: ...
    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: Literal[True],
        **options: Any,
    ) -> list[OperationResult | Exception]: ...
    @overload
    async def map(
        self,
        inputs: Iterable[BatchInput],
        *,
        model: str,
        return_exceptions: bool,
        **options: Any,
    ) -> list[OperationResult] | list[OperationResult | Exception]: ...
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
    ) -> list[OperationResult] | list[OperationResult | Exception]:
        """Run many operations as tasks of this event loop (see :meth:`Deferred.map`)."""
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
            await run_async(engine, self._send, self._fetch, clock=self._clock, sleep=self._sleep)
            return cast("list[OperationResult | Exception]", finish(engine, return_exceptions))

    async def _send(self, body: dict[str, Any]) -> Snapshot[Operation]:
        """One ``completionAsync`` attempt, the client's own retries off."""
        raw: httpx2.Response = await self.client.post(
            self._endpoints.create_url(),
            body=body,
            cast_to=httpx2.Response,
            options=self._options(max_retries=0),
        )
        return _snapshot(raw, self._hint)

    async def _fetch(self, operation_id: str, request_timeout: float | None) -> Snapshot[Operation]:
        """One look at an operation."""
        raw = await self._get(self._endpoints.operation_url(operation_id), request_timeout, 0)
        return _snapshot(raw, self._hint)

    async def _get(
        self, url: str, request_timeout: float | None, max_retries: int | None
    ) -> httpx2.Response:
        raw: httpx2.Response = await self.client.get(
            url,
            cast_to=httpx2.Response,
            options=self._options(max_retries=max_retries, timeout=request_timeout),
        )
        return raw


class AsyncOperationRun:
    """One operation on an async client; ``await run`` waits for its result."""

    def __init__(
        self, deferred: AsyncDeferred, operation_id: str, operation: Operation | None = None
    ) -> None:
        self._deferred = deferred
        self.id = operation_id
        """The operation id: keep it to resume with ``client.deferred.attach(id)``."""
        self.operation = operation
        """The last operation seen (``None`` before the first look)."""

    @property
    def status(self) -> RunStatus | None:
        """The last status seen, without a request."""
        return None if self.operation is None else status_of_operation(self.operation)

    async def refresh(self) -> RunStatus:
        """Look once (with the client's retries) and return the status."""
        self.operation = (await self._look(None, retries=None)).value
        return status_of_operation(self.operation)

    def __await__(self) -> Generator[Any, None, OperationResult]:
        return self.wait().__await__()

    async def wait(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the operation
        *,
        on_status: Callable[[RunStatus, Operation], object] | None = None,
        policy: PollPolicy | None = None,
    ) -> OperationResult:
        """Poll until the operation is done (see :meth:`OperationRun.wait`)."""
        deferred = self._deferred
        first = None if self.operation is None else Snapshot(self.operation)

        async def look(request_timeout: float | None) -> Snapshot[Operation]:
            return await self._look(request_timeout, retries=0)

        return await wait_async(
            deferred._loop(self.id, timeout, policy, on_status),
            look,
            clock=deferred._clock,
            sleep=deferred._sleep,
            wall_clock=deferred._wall_clock,
            first=first,
        )

    async def cancel(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - how long to wait for the operation
    ) -> OperationResult:
        """Cancel and return the terminal state reported (see :meth:`OperationRun.cancel`)."""
        deferred = self._deferred

        async def cancel() -> httpx2.Response:
            return await deferred._get(deferred._endpoints.cancel_url(self.id), None, 0)

        try:
            raw = await retry_async(
                cancel,
                deferred.policy,
                retryable=cancel_retryable,
                clock=deferred._clock,
                sleep=deferred._sleep,
                wall_clock=deferred._wall_clock,
            )
            self.operation = parse_operation(raw.json())
        except openai.APIStatusError as exc:
            if exc.status_code not in (400, 409) or not (await self.refresh()).is_terminal:
                raise
        return await self.wait(timeout)

    async def _look(
        self, request_timeout: float | None, *, retries: int | None
    ) -> Snapshot[Operation]:
        deferred = self._deferred
        raw = await deferred._get(
            deferred._endpoints.operation_url(self.id), request_timeout, retries
        )
        snapshot = _snapshot(raw, deferred._hint)
        self.operation = snapshot.value
        return snapshot

    def __repr__(self) -> str:
        done = None if self.operation is None else bool(self.operation.done)
        return f"AsyncOperationRun(id={self.id!r}, done={done!r})"
