"""Background responses as a kind of job: their wire, their status, their result.

``POST /v1/responses`` with ``background=True`` creates a run;
``GET /v1/responses/{id}`` looks at it (``?stream=true&starting_after=N`` follows
its events); ``POST /v1/responses/{id}/cancel`` cancels it. The snapshot is the
official ``openai.types.responses.Response``::

    kind = ResponsesKind(client)
    status_of_response(response)     # RunStatus.COMPLETED
    result_of_response(response)     # Completed(response_id, output_text, response)
"""

from __future__ import annotations

import inspect
import json
import re
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

import openai
from openai import NOT_GIVEN, NotGiven
from openai.resources.responses import Responses
from openai.types.responses import Response

from yc_responses.errors import UnexpectedStatusError
from yc_responses.kinds import check_sendable
from yc_responses.polling import Snapshot, server_hint
from yc_responses.results import Cancelled, Completed, ErrorDetails, Failed, Incomplete, RunResult
from yc_responses.status import RunStatus
from yc_responses.steps import Request, stream_request
from yc_responses.uris import model_uri

__all__ = [
    "ResponsesKind",
    "check_request",
    "create_params",
    "read_response",
    "result_of_response",
    "status_of_response",
]

Client = openai.OpenAI | openai.AsyncOpenAI

_CREATE_KEYWORDS = frozenset(inspect.signature(Responses.create).parameters) - {"self"}

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")

_RUNNING = frozenset({"queued", "in_progress"})
"""The statuses of a run still going."""

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


# --- reading a response (pure) ------------------------------------------------------


def read_response(value: object, *, expected_id: str | None = None) -> Response:
    """``value`` as a response with an id (the one asked for, when ``expected_id`` is given).

    Anything else the service may send (an HTML page, a JSON array, a response
    without an id, another run's response) raises :class:`UnexpectedStatusError`
    carrying the raw value.
    """
    if not isinstance(value, Response):
        raw = value[:2000] if isinstance(value, str) else value
        raise UnexpectedStatusError(
            f"the service answered with {type(value).__name__} {_glimpse(value)}, not a response",
            raw=raw,
            response_id=expected_id,
        )
    run_id = getattr(value, "id", None)
    if not isinstance(run_id, str) or not run_id:
        raise UnexpectedStatusError(
            "the service answered with a response without an id",
            raw=value.to_dict(warnings=False),
            response_id=expected_id,
        )
    if expected_id is not None and run_id != expected_id:
        raise UnexpectedStatusError(
            f"the service answered a look at {expected_id} with response {run_id}",
            raw=value.to_dict(warnings=False),
            response_id=expected_id,
        )
    return value


def _glimpse(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _output_text(response: Response) -> str:
    try:
        return response.output_text
    except (TypeError, AttributeError, ValueError):
        raise UnexpectedStatusError(
            f"the service reported status {response.status!r} with an output that cannot be read",
            raw=response.to_dict(warnings=False),
            response_id=response.id,
        ) from None


def status_of_response(response: Response) -> RunStatus:
    """The status of ``response``; raises :class:`UnexpectedStatusError` if unknown or missing."""
    return RunStatus.parse(response.status, response_id=response.id)


def result_of_response(response: Response) -> RunResult:
    """The typed result of a terminal ``response``.

    Raises :class:`UnexpectedStatusError` when the response is still running, has an
    unknown status, or lacks what its status needs (an ``error`` for ``failed``, an
    ``incomplete_details.reason`` for ``incomplete``).
    """
    status = status_of_response(response)
    if status is RunStatus.COMPLETED:
        return Completed(response.id, _output_text(response), response)
    if status is RunStatus.CANCELLED:
        return Cancelled(response.id, response)
    if status is RunStatus.FAILED:
        error = response.error
        code = getattr(error, "code", None)
        if error is None or not code:
            raise UnexpectedStatusError(
                "the server reported status 'failed' without an error code",
                raw=status.value,
                response_id=response.id,
            )
        return Failed(response.id, ErrorDetails(str(code), str(error.message or "")), response)
    if status is RunStatus.INCOMPLETE:
        reason = getattr(response.incomplete_details, "reason", None)
        if not reason:
            raise UnexpectedStatusError(
                "the server reported status 'incomplete' without incomplete_details.reason",
                raw=status.value,
                response_id=response.id,
            )
        return Incomplete(response.id, str(reason), _output_text(response), response)
    raise UnexpectedStatusError(
        f"response {response.id} is still {status.value}: it has no result yet",
        raw=status.value,
        response_id=response.id,
    )


# --- checking a creation (pure) -----------------------------------------------------


def create_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with ``background=True``; refuses ``stream`` and ``background=False``."""
    if params.get("stream"):
        raise ValueError(
            "stream=True is not supported by background.create(): create the run, then "
            "wait(strategy='stream') to follow it"
        )
    if params.get("background", True) is not True:
        raise ValueError("background.create() always sets background=True; drop background=")
    return {**params, "background": True}


def check_request(params: Mapping[str, Any], folder_id: str) -> None:
    """Refuse, before anything is sent, a creation that is invalid on its face."""
    unknown = sorted(set(params) - _CREATE_KEYWORDS)
    if unknown:
        raise TypeError(
            f"responses.create() takes no {', '.join(map(repr, unknown))}: give only its "
            "keywords (input, instructions, max_output_tokens, temperature, tools, ...)"
        )
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
    headers = params.get("extra_headers")
    if headers is not None:
        if not isinstance(headers, Mapping):
            raise ValueError(f"extra_headers must be a dict, not {type(headers).__name__}")
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(str(name)) or (
                isinstance(value, str) and not _HEADER_VALUE.fullmatch(value)
            ):
                raise ValueError(
                    f"extra_headers[{name!r}] cannot be sent as an HTTP header: use printable "
                    "ASCII, with no line breaks"
                )
    check_sendable(params)
    tokens = params.get("max_output_tokens")
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
    ):
        raise ValueError(f"max_output_tokens must be a positive int, not {tokens!r}")


def _timeout(seconds: float | None) -> float | NotGiven:
    """An HTTP timeout for the official client: ``None`` keeps the client's own."""
    return NOT_GIVEN if seconds is None else seconds


def _is_event_stream(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "text/event-stream"


# --- the kind -------------------------------------------------------------------------


class ResponsesKind:
    """Background responses on one client (sync or async)."""

    resource = "background"
    streams = True

    def __init__(self, client: Client, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self._wall_clock = wall_clock
        folder = getattr(client, "folder_id", None) or client.project or ""
        self.scope = str(folder)

    @cached_property
    def _quiet(self) -> Client:
        """The client without its own retries: the caller owns the retry schedule."""
        return self.client.with_options(max_retries=0)

    # --- reading

    def status(self, snapshot: Response, /) -> RunStatus:
        return status_of_response(snapshot)

    def result(self, snapshot: Response, /) -> RunResult:
        return result_of_response(snapshot)

    def run_id(self, snapshot: Response, /) -> str:
        return snapshot.id

    def describe(self, snapshot: Response | None, /) -> str:
        return f"status={'unknown' if snapshot is None else snapshot.status!r}"

    def dump(self, snapshot: Response, /) -> str:
        return snapshot.to_json(indent=None, warnings=False)

    def load(self, text: str, /) -> Response:
        return Response.construct(**json.loads(text))

    def prepare(self, item: str | Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        params = create_params({**defaults, **({"input": item} if isinstance(item, str) else item)})
        check_request(params, self.scope)
        return params

    def stream_snapshot(self, event: Any, /) -> Response | None:
        if getattr(event, "type", None) not in _STATUS_EVENTS:
            return None
        response = getattr(event, "response", None)
        if isinstance(response, dict):  # event types the official client does not model
            return Response.construct(**response)
        return response if isinstance(response, Response) else None

    # --- requests

    def create(self, params: dict[str, Any], /) -> Request[Snapshot[Response]]:
        return Request(
            lambda: self._quiet.responses.with_raw_response.create(**params), self._created
        )

    def fetch(
        self, run_id: str, /, timeout: float | None = None, *, retries: bool = False
    ) -> Request[Snapshot[Response]]:
        client = self.client if retries else self._quiet
        return Request(
            lambda: client.responses.with_raw_response.retrieve(run_id, timeout=_timeout(timeout)),
            lambda raw: self._fetched(raw, run_id),
        )

    def cancel(self, run_id: str, /) -> Request[Response]:
        return Request(
            lambda: self._quiet.responses.cancel(run_id),
            lambda answer: read_response(answer, expected_id=run_id),
        )

    def open_stream(
        self, run_id: str, /, *, starting_after: int | None, timeout: float | None
    ) -> Request[Any]:
        after = openai.omit if starting_after is None else starting_after
        return stream_request(
            lambda: self._quiet.responses.retrieve(
                run_id, stream=True, starting_after=after, timeout=_timeout(timeout)
            )
        )

    def is_event_stream(self, stream: Any) -> bool:
        """Whether an opened stream is an event stream at all."""
        return _is_event_stream(stream.response.headers.get("content-type"))

    def _created(self, raw: Any) -> Snapshot[Response]:
        return self._fetched(raw, None)

    def _fetched(self, raw: Any, run_id: str | None) -> Snapshot[Response]:
        response = read_response(_parsed(raw), expected_id=run_id)
        headers = raw.headers
        hint = server_hint(headers, wall_time=self._wall_clock())
        return Snapshot(response, hint, headers.get("x-request-id"))


def _parsed(raw: Any) -> object:
    """The answer's body as the official client reads it; an unreadable one as its text.

    A run still going is read without the official client's validation of every
    field (most looks at a run only need its status): the same ``Response``, its
    nested values left as plain JSON."""
    try:
        body = json.loads(raw.text)
    except (ValueError, TypeError):
        body = None
    if (
        isinstance(body, dict)
        and body.get("status") in _RUNNING
        and isinstance(body.get("id"), str)
    ):
        return Response.construct(**body)
    try:
        return raw.parse()
    except ValueError:
        return raw.text
