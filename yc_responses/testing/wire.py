"""The emulator's HTTP vocabulary: parsed requests, replies, route names, event encoding.

Nothing here knows the service's rules; :mod:`.core` decides what a :class:`Request`
gets, and :mod:`.server` turns a :class:`Reply` into bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .scenarios import Route

__all__ = [
    "JSON",
    "EventSource",
    "Reply",
    "Request",
    "ServiceError",
    "check_shapes",
    "format_retry_after",
    "integer_field",
    "is_true",
    "json_body",
    "route_of",
    "sse",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One HTTP request, as the HTTP layer read it. Header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def from_target(
        cls, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Request:
        """Build from a request line's target (``/v1/responses/x?stream=true``).

        >>> Request.from_target("get", "/v1/responses/x?stream=true", {}).query
        {'stream': 'true'}
        """
        path, _, query = target.partition("?")
        parsed = {name: values[-1] for name, values in parse_qs(query).items()}
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(method.upper(), path, parsed, lowered, body)


class EventSource:
    """Server-sent events that become available as the clock moves.

    :meth:`poll` returns the encoded events not sent yet and whether the stream
    is over; the HTTP layer calls it until it is.
    """

    def __init__(self, poll: Callable[[], tuple[list[bytes], bool]]) -> None:
        self.poll = poll


@dataclass
class Reply:
    """What to answer: a JSON body, or a stream of events; maybe late or dropped."""

    status: int = 200
    body: JSON | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: EventSource | None = None
    delay: float = 0.0
    """Seconds of real time to wait before answering (a slow-answer fault)."""
    drop: bool = False
    """Close the connection instead of answering."""
    drop_after_events: int | None = None
    """On a stream: close the connection after this many events."""


class ServiceError(Exception):
    """A refusal the service answers with an error status and body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


RESPONSE_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)")
CANCEL_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)/cancel")
INPUT_ITEMS_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)/input_items")
OPERATION_PATH = re.compile(r"/operations/(?P<id>[^/:]+)")
OPERATION_CANCEL_PATH = re.compile(r"/operations/(?P<id>[^/:]+):cancel")


def route_of(request: Request) -> Route | None:
    """The route name of a request, or ``None`` for an unknown path.

    >>> route_of(Request("GET", "/v1/responses/abc", {"stream": "true"}))
    'responses.stream'
    """
    method, path = request.method, request.path.rstrip("/")
    simple: dict[tuple[str, str], Route] = {
        ("POST", "/v1/responses"): "responses.create",
        ("GET", "/v1/models"): "models.list",
        ("POST", "/v1/chat/completions"): "chat.completions.create",
        ("POST", "/v1/embeddings"): "embeddings.create",
        ("POST", "/foundationModels/v1/completionAsync"): "operations.create",
    }
    if (method, path) in simple:
        return simple[method, path]
    if method == "POST" and CANCEL_PATH.fullmatch(path):
        return "responses.cancel"
    if method == "GET" and INPUT_ITEMS_PATH.fullmatch(path):
        return "responses.input_items.list"
    if RESPONSE_PATH.fullmatch(path):
        if method == "GET":
            return (
                "responses.stream" if is_true(request.query.get("stream")) else "responses.retrieve"
            )
        if method == "DELETE":
            return "responses.delete"
    if method in ("GET", "POST") and OPERATION_CANCEL_PATH.fullmatch(path):
        return "operations.cancel"
    if method == "GET" and OPERATION_PATH.fullmatch(path):
        return "operations.get"
    return None


def path_id(pattern: re.Pattern[str], request: Request) -> str:
    """The ``id`` group of a route's path (the route is known to match)."""
    match = pattern.match(request.path)
    assert match is not None
    return match["id"]


def is_true(value: object) -> bool:
    """A query or body flag: ``true``, ``1`` or the JSON ``true``.

    >>> is_true("True"), is_true(None), is_true(True)
    (True, False, True)
    """
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def integer_field(value: object, name: str) -> int | None:
    """An optional integer field, given as a number or a string (int64 in proto JSON)."""
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ServiceError(400, f"{name} must be an integer, not {value!r}")
    try:
        return int(str(value)) if not isinstance(value, float) else int(value)
    except ValueError:
        raise ServiceError(400, f"{name} must be an integer, not {value!r}") from None


def json_body(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):
        raise ServiceError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "the request body must be a JSON object")
    return body


def check_shapes(body: Mapping[str, Any], shapes: Mapping[str, tuple[type, ...]]) -> None:
    """Refuse with a 400 a field present with a JSON type it cannot have; lists hold objects
    when ``dict`` is among the types of their members' field (``name[]``)."""
    for name, types in shapes.items():
        field_name = name.removesuffix("[]")
        value = body.get(field_name)
        if value is None:
            continue
        if name.endswith("[]"):
            if not isinstance(value, list) or not all(isinstance(v, types) for v in value):
                expected = " or ".join(_JSON_TYPE_NAMES[t] for t in types)
                raise ServiceError(400, f"{field_name} must be a list of {expected}s")
        elif not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join(_JSON_TYPE_NAMES[t] for t in types)
            raise ServiceError(400, f"{field_name} must be a {expected}, not {value!r:.40}")


_JSON_TYPE_NAMES = {str: "string", dict: "object", list: "list", int: "integer", bool: "boolean"}


def sse(event: str | None, data: JSON) -> bytes:
    """One server-sent event: an ``event:`` line when named, then the JSON ``data:`` line.

    >>> sse("response.created", {"a": 1})
    b'event: response.created\\ndata: {"a": 1}\\n\\n'
    """
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def format_retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds without a decimal point.

    >>> format_retry_after(2.0), format_retry_after(0.5)
    ('2', '0.5')
    """
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
