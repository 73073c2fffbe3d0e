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

This module only binds the operations kind (:mod:`yc_responses.kinds.operations`,
where the wire is) to the generic runs and resources.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .kinds import Kind
from .kinds.operations import (
    Alternative,
    CompletionResponse,
    CompletionUsage,
    FunctionCall,
    Operation,
    OperationError,
    OperationResult,
    OperationsKind,
    ReasoningMode,
    completion_body,
    parse_operation,
    result_of_operation,
    status_of_operation,
    yandex_messages,
)
from .polling import Deadline
from .resources import AsyncResource, SyncResource
from .runs import AsyncRun, Run
from .status import RunStatus

if TYPE_CHECKING:  # named in strings below: the client module imports this one
    from .client import AsyncYandexOpenAI, YandexOpenAI  # noqa: F401

__all__ = [
    "Alternative",
    "AsyncDeferred",
    "AsyncOperationRun",
    "CompletionResponse",
    "CompletionUsage",
    "Deferred",
    "FunctionCall",
    "Operation",
    "OperationError",
    "OperationResult",
    "OperationRun",
    "completion_body",
    "parse_operation",
    "result_of_operation",
    "status_of_operation",
    "yandex_messages",
]

OperationCallback = Callable[[RunStatus, Operation], object]


class OperationRun(Run[Operation]):
    """One operation: ``id``, last known ``status``, ``refresh()``, ``wait()``, ``cancel()``."""

    @property
    def operation(self) -> Operation | None:
        """The last operation seen (``None`` before the first look)."""
        return self.snapshot


class AsyncOperationRun(AsyncRun[Operation]):
    """One operation on an async client; ``await run`` waits for its result."""

    @property
    def operation(self) -> Operation | None:
        """The last operation seen (``None`` before the first look)."""
        return self.snapshot


class Deferred(
    SyncResource[
        "YandexOpenAI",
        Operation,
        OperationRun,
        list[OperationResult],
        list[OperationResult | Exception],
    ]
):
    """The asynchronous API on a sync client: ``client.deferred``.

    ::

        run = client.deferred.create(model="yandexgpt", messages="Hello")
        print(run.id)            # an operation id: client.deferred.attach(id) resumes
        print(run.wait(timeout=300).unwrap())
    """

    _kind_type = OperationsKind
    _run_type = OperationRun

    def attach(self, operation_id: str) -> OperationRun:
        """The operation ``operation_id``; no request until it is used."""
        return super().attach(operation_id)

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
        return self._start(_body(self.kind, locals()))

    def run(
        self,
        *,
        timeout: float | None = None,
        on_status: OperationCallback | None = None,
        **create: Any,
    ) -> OperationResult:
        """:meth:`create`, then :meth:`OperationRun.wait`; ``timeout`` covers both
        (see :meth:`Background.run <yc_responses.Background.run>`)."""
        deadline = Deadline(timeout, clock=self._clock)
        run = self._start(_body(self.kind, create), deadline.remaining())
        return run.wait(deadline.remaining(), on_status=on_status)


class AsyncDeferred(
    AsyncResource[
        "AsyncYandexOpenAI",
        Operation,
        AsyncOperationRun,
        Coroutine[Any, Any, list[OperationResult]],
        Coroutine[Any, Any, list[OperationResult | Exception]],
    ]
):
    """The asynchronous API on an async client: ``client.deferred`` (see :class:`Deferred`)."""

    _kind_type = OperationsKind
    _run_type = AsyncOperationRun

    def attach(self, operation_id: str) -> AsyncOperationRun:
        """The operation ``operation_id``; no request until it is used."""
        return super().attach(operation_id)

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
        return await self._start(_body(self.kind, locals()))

    async def run(
        self,
        *,
        timeout: float | None = None,
        on_status: OperationCallback | None = None,
        **create: Any,
    ) -> OperationResult:
        """:meth:`create`, then :meth:`AsyncOperationRun.wait`; ``timeout`` covers both."""
        deadline = Deadline(timeout, clock=self._clock)
        run = await self._start(_body(self.kind, create), deadline.remaining())
        return await run.wait(deadline.remaining(), on_status=on_status)


def _body(kind: Kind[Operation], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The ``completionAsync`` body of ``create``'s keywords, checked as batch inputs are."""
    given = {
        name: value
        for name, value in arguments.items()
        if name not in ("self", "__class__") and value is not None
    }
    item = {"messages": given.pop("messages")} if "messages" in given else {}
    return kind.prepare(item, given)
