"""completionAsync operations as a kind of job: their wire, their status, their result.

``POST {llm}/foundationModels/v1/completionAsync`` returns an :class:`Operation`;
``GET {operations}/operations/{id}`` is looked at until ``done``;
``GET {operations}/operations/{id}:cancel`` cancels it. An API key goes as
``Authorization: Api-Key <key>``, an IAM token as ``Bearer``, the folder as
``x-folder-id``; ``maxTokens`` is sent as a string::

    completion_body("gpt://b1g/yandexgpt/latest", "Hi", max_tokens=100)
    status_of_operation(operation)     # RunStatus.COMPLETED
    result_of_operation(operation)     # Completed(operation_id, text, operation)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import httpx2
import openai
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from yc_responses.errors import UnexpectedStatusError
from yc_responses.kinds import check_sendable
from yc_responses.polling import Snapshot, server_hint
from yc_responses.results import (
    AnyRunResult,
    Cancelled,
    Completed,
    ErrorDetails,
    Failed,
    Incomplete,
)
from yc_responses.status import RunStatus
from yc_responses.steps import Request
from yc_responses.uris import parse_model_uri

if TYPE_CHECKING:
    from yc_responses.client import AsyncYandexOpenAI, YandexOpenAI

__all__ = [
    "Alternative",
    "CompletionResponse",
    "CompletionUsage",
    "FunctionCall",
    "Operation",
    "OperationError",
    "OperationResult",
    "OperationsKind",
    "completion_body",
    "parse_operation",
    "read_operation",
    "result_of_operation",
    "status_of_operation",
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


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )


class FunctionCall(_Wire):
    """A call of one of the request's tools: its ``name`` and ``arguments``."""

    name: str
    arguments: dict[str, Any] | None = None


class ToolCall(_Wire):
    function_call: FunctionCall | None = None


class ToolCallList(_Wire):
    tool_calls: list[ToolCall] = []


class AlternativeMessage(_Wire):
    role: str
    text: str = ""
    tool_call_list: ToolCallList | None = None


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
    def tool_calls(self) -> list[FunctionCall]:
        """The calls of tools the model asked for (``ALTERNATIVE_STATUS_TOOL_CALLS``).

        >>> [call.name for call in result.response.tool_calls]  # doctest: +SKIP
        ['get_weather']
        """
        if not self.alternatives or self.alternatives[0].message.tool_call_list is None:
            return []
        calls = self.alternatives[0].message.tool_call_list.tool_calls
        return [call.function_call for call in calls if call.function_call is not None]

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
    if not isinstance(messages, Iterable) or isinstance(messages, Mapping | bytes):
        raise ValueError(
            f"messages must be a string or a list of messages, not {type(messages).__name__}"
        )
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
        if not isinstance(reasoning_mode, str):
            raise ValueError(
                f"reasoning_mode must be DISABLED or ENABLED_HIDDEN, not {reasoning_mode!r}"
            )
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


def read_operation(raw: httpx2.Response, *, expected_id: str | None = None) -> Operation:
    """The operation in an answer's JSON body (the one asked for, with ``expected_id``);
    :class:`UnexpectedStatusError` with the raw body for anything else."""
    try:
        data = raw.json()
    except ValueError:
        raise UnexpectedStatusError(
            f"the service answered with {raw.headers.get('content-type', 'no type')!r} "
            "that is not JSON, not an operation",
            raw=raw.text[:2000],
            response_id=expected_id,
        ) from None
    operation = parse_operation(data)
    if expected_id is not None and operation.id != expected_id:
        raise UnexpectedStatusError(
            f"the service answered a look at {expected_id} with operation {operation.id}",
            raw=data,
            response_id=expected_id,
        )
    return operation


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


OPENAI_API_ONLY = ("qwen", "gpt-oss", "gemma", "deepseek")
"""Families of models the service serves only through the OpenAI-compatible API."""

_CREATE_KEYWORDS = frozenset(
    {"model", "messages", "temperature", "max_tokens", "reasoning_mode", "extra_body"}
)


# --- the kind -------------------------------------------------------------------------


class OperationsKind:
    """completionAsync operations on one :class:`~yc_responses.YandexOpenAI` (sync or async)."""

    resource = "deferred"
    streams = False

    def __init__(
        self,
        client: YandexOpenAI | AsyncYandexOpenAI,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self._wall_clock = wall_clock
        config = client.yandex
        self._llm = config.llm_base_url.rstrip("/")
        self._operations = config.operation_base_url.rstrip("/")
        self._headers: dict[str, Any] = {
            **config.foundation_models_headers(),
            "OpenAI-Project": openai.Omit(),
        }
        self.scope = config.folder_id

    # --- reading

    def status(self, snapshot: Operation, /) -> RunStatus:
        return status_of_operation(snapshot)

    def result(self, snapshot: Operation, /) -> OperationResult:
        return result_of_operation(snapshot)

    def run_id(self, snapshot: Operation, /) -> str:
        return snapshot.id

    def describe(self, snapshot: Operation | None, /) -> str:
        return f"done={None if snapshot is None else bool(snapshot.done)!r}"

    def dump(self, snapshot: Operation, /) -> str:
        return snapshot.model_dump_json(by_alias=True)

    def load(self, text: str, /) -> Operation:
        return parse_operation(json.loads(text))

    def prepare(self, item: str | Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
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
        uri = self.client.model_uri(model, kind="gpt")
        name = parse_model_uri(uri).name if uri.startswith("gpt://") else ""
        if name.startswith(OPENAI_API_ONLY):
            raise ValueError(
                f"{name} is served only through the OpenAI-compatible API, not completionAsync: "
                "use client.background or client.chat.completions for it"
            )
        body = completion_body(uri, messages, **params)
        check_sendable(body)
        return body

    def is_event_stream(self, stream: Any, /) -> bool:
        return False

    def stream_snapshot(self, event: Any, /) -> Operation | None:
        return None

    # --- requests

    def create(self, params: dict[str, Any], /) -> Request[Snapshot[Operation]]:
        url = f"{self._llm}/foundationModels/v1/completionAsync"
        return Request(
            lambda: self.client.post(
                url, body=params, cast_to=httpx2.Response, options=self._options(retries=False)
            ),
            self._snapshot,
        )

    def fetch(
        self, run_id: str, /, timeout: float | None = None, *, retries: bool = False
    ) -> Request[Snapshot[Operation]]:
        return Request(
            self._get(f"{self._operations}/operations/{run_id}", timeout, retries),
            lambda raw: self._snapshot(raw, run_id),
        )

    def cancel(self, run_id: str, /) -> Request[Operation]:
        return Request(
            self._get(f"{self._operations}/operations/{run_id}:cancel", None, False),
            lambda raw: read_operation(raw, expected_id=run_id),
        )

    def open_stream(
        self, run_id: str, /, *, starting_after: int | None, timeout: float | None
    ) -> Request[Any]:
        raise TypeError("operations of the completionAsync API have no event stream: poll them")

    def _get(self, url: str, timeout: float | None, retries: bool) -> Callable[[], Any]:
        options = self._options(retries=retries, timeout=timeout)
        return lambda: self.client.get(url, cast_to=httpx2.Response, options=options)

    def _options(self, *, retries: bool, timeout: float | None = None) -> Any:
        options: dict[str, Any] = {"headers": self._headers}
        if not retries:
            options["max_retries"] = 0
        if timeout is not None:
            options["timeout"] = timeout
        return options

    def _snapshot(self, raw: httpx2.Response, run_id: str | None = None) -> Snapshot[Operation]:
        operation = read_operation(raw, expected_id=run_id)
        hint = server_hint(raw.headers, wall_time=self._wall_clock())
        return Snapshot(operation, hint, raw.headers.get("x-request-id"))
