"""The emulator's state and rules, apart from any socket.

:class:`EmulatorCore` takes a parsed request and gives back a :class:`Reply`;
the HTTP layer (``server.py``) only moves bytes. Runs are stored with the clock
time they were created and their :class:`~yc_responses.testing.scenarios.Outcome`;
their status at any moment is computed from the clock, so a manual clock drives
a long job in no time. All public methods are thread-safe.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

from yc_responses.uris import ModelURI, parse_model_uri

from . import payloads
from .iam import IamEmulator
from .payloads import JSON, Status
from .scenarios import ROUTES, Fault, InputMatcher, Outcome, Quotas, Route, input_matches

__all__ = ["EmulatorCore", "EmulatorStats", "EventSource", "Reply", "Request"]

_TERMINAL: frozenset[str] = frozenset({"completed", "failed", "incomplete", "cancelled"})
_CREATE_ROUTES: frozenset[str] = frozenset({"responses.create", "operations.create"})
_FETCH_ROUTES: frozenset[str] = frozenset(
    {"responses.retrieve", "responses.stream", "operations.get"}
)
_KNOWN_MODELS = {(scheme, name) for scheme, name, _, _ in payloads.MODELS}


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
        """Build from a request line's target (``/v1/responses/x?stream=true``)."""
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


@dataclass(frozen=True)
class EmulatorStats:
    """Counters a test reads to see what its code did on the wire.

    >>> stats = EmulatorStats()
    >>> stats.requests["responses.create"]
    0
    """

    requests: Counter[str] = field(default_factory=Counter)
    """Requests received, by route (``"responses.create"``, ``"operations.get"``, ...)."""
    statuses: Counter[int] = field(default_factory=Counter)
    """Answers sent, by HTTP status."""
    dropped: int = 0
    """Connections dropped by a fault."""
    creations_by_input: Counter[str] = field(default_factory=Counter)
    """Runs created (responses and operations), by input text: duplicates show as counts > 1."""

    @property
    def rate_limited(self) -> int:
        """How many 429 answers were sent (faults and quotas)."""
        return self.statuses[429]

    @property
    def creations(self) -> int:
        """How many runs were created."""
        return sum(self.creations_by_input.values())

    def duplicates(self) -> dict[str, int]:
        """Inputs for which more than one run was created, with their counts."""
        return {text: n for text, n in self.creations_by_input.items() if n > 1}


@dataclass
class _Run:
    """A response or an operation: when it was made and how it will end."""

    id: str
    kind: Literal["response", "operation"]
    created: float
    outcome: Outcome
    started: float
    ends: float | None
    text: str
    input_text: str
    input_tokens: int
    model: str
    request: dict[str, Any]
    item_id: str
    background: bool
    cancelled: float | None = None
    events: list[tuple[float, JSON]] | None = None

    def status(self, now: float) -> Status:
        if self.cancelled is not None and (self.ends is None or self.cancelled < self.ends):
            return "cancelled"
        if now < self.started and (self.ends is None or now < self.ends):
            return "queued"
        if self.ends is None or now < self.ends:
            return "in_progress"
        kind = self.outcome.kind
        assert kind != "never"
        return kind

    def changed_at(self, now: float) -> float:
        """When the status last changed, as of ``now``."""
        status = self.status(now)
        if status == "cancelled":
            assert self.cancelled is not None
            return self.cancelled
        if status == "queued":
            return self.created
        if status == "in_progress":
            return self.started
        assert self.ends is not None
        return self.ends


@dataclass
class _FaultRule:
    fault: Fault
    route: str
    times: int | None
    rate: float | None
    skip: int


class _Window:
    """A sliding-window counter on the emulator's clock."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.hits: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return False
        self.hits.append(now)
        return True


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_RESPONSE_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)")
_CANCEL_PATH = re.compile(r"/v1/responses/(?P<id>[^/]+)/cancel")
_OPERATION_PATH = re.compile(r"/operations/(?P<id>[^/:]+)")
_OPERATION_CANCEL_PATH = re.compile(r"/operations/(?P<id>[^/:]+):cancel")


def route_of(request: Request) -> Route | None:
    """The route name of a request, or ``None`` for an unknown path.

    >>> route_of(Request("GET", "/v1/responses/abc", {"stream": "true"}))
    'responses.stream'
    """
    method, path = request.method, request.path.rstrip("/")
    if method == "POST" and path == "/v1/responses":
        return "responses.create"
    if method == "GET" and path == "/v1/models":
        return "models.list"
    if method == "POST" and path == "/v1/chat/completions":
        return "chat.completions.create"
    if method == "POST" and path == "/v1/embeddings":
        return "embeddings.create"
    if method == "POST" and path == "/foundationModels/v1/completionAsync":
        return "operations.create"
    if method == "POST" and _CANCEL_PATH.fullmatch(path):
        return "responses.cancel"
    if _RESPONSE_PATH.fullmatch(path):
        if method == "GET":
            return (
                "responses.stream" if _truthy(request.query.get("stream")) else "responses.retrieve"
            )
        if method == "DELETE":
            return "responses.delete"
    if method in ("GET", "POST") and _OPERATION_CANCEL_PATH.fullmatch(path):
        return "operations.cancel"
    if method == "GET" and _OPERATION_PATH.fullmatch(path):
        return "operations.get"
    return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def input_text_of(value: object) -> str:
    """The text rules match: a string input, or the user messages' texts, one per line."""
    if isinstance(value, str):
        return value
    texts: list[str] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or item.get("role", "user") != "user":
                continue
            content = item.get("content", item.get("text"))
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                ]
    return "\n".join(texts)


def _all_text(value: object) -> str:
    """Every text of an input, for counting its tokens."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_all_text(item) for item in value)
    if isinstance(value, dict):
        return "\n".join(_all_text(value[key]) for key in ("content", "text") if key in value)
    return ""


class EmulatorCore:
    """The service's state and behaviour, driven by requests and a clock.

    Use it through :class:`~yc_responses.testing.Emulator`, which serves it
    over HTTP; its scripting methods are the emulator's.
    """

    def __init__(
        self,
        *,
        api_key: str,
        folder_id: str,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        background_duration: float | tuple[float, float] = 1.0,
        quotas: Quotas | None = None,
        iam_tokens: tuple[str, ...] = (),
        wall_start: float | None = None,
    ) -> None:
        self.api_key = api_key
        self.folder_id = folder_id
        self.clock = clock
        self.background_duration = background_duration
        self._credentials = frozenset({api_key, *iam_tokens})
        self._lock = threading.RLock()
        self._rng = random.Random(seed)  # noqa: S311 (determinism, not security)
        self._fault_rng = random.Random(seed + 1)  # noqa: S311
        self._t0 = clock()
        self._wall0 = time.time() if wall_start is None else wall_start
        self._runs: dict[str, _Run] = {}
        self._script: deque[tuple[InputMatcher | None, Outcome]] = deque()
        self._rules: list[tuple[InputMatcher, Outcome]] = []
        self._default: Outcome | None = None
        self._faults: list[_FaultRule] = []
        self._quota_windows: dict[str, list[_Window]] = {}
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._creations: Counter[str] = Counter()
        self._dropped = 0
        self._created_by = "aje" + self._rng_token(17)
        self.set_quotas(quotas)
        self.iam = IamEmulator(seed=seed)
        """Service account keys, the exchange and the metadata service: tokens it issues work."""

    # --- scripting -------------------------------------------------------------------------

    def script(self, *outcomes: Outcome, input: InputMatcher | None = None) -> None:
        """Queue outcomes for the next creations, one each, in order.

        With ``input=``, each is kept for the next creation whose input text
        matches (an equal string, a compiled regex, or a predicate).
        """
        with self._lock:
            self._script.extend((input, outcome) for outcome in outcomes)

    def on_input(self, matcher: InputMatcher, outcome: Outcome) -> None:
        """A lasting rule: every creation whose input matches ends with ``outcome``."""
        with self._lock:
            self._rules.append((matcher, outcome))

    def set_default(self, outcome: Outcome | None) -> None:
        """The outcome of creations nothing else decides (``None``: completed, derived text)."""
        with self._lock:
            self._default = outcome

    def inject(
        self,
        fault: Fault,
        *,
        route: Route | Literal["*"] = "*",
        times: int | None = None,
        rate: float | None = None,
        skip: int = 0,
    ) -> None:
        """Break requests of ``route`` (``"*"``: every route) with ``fault``.

        ``times=N`` breaks the next N matching requests (after skipping ``skip``);
        ``rate=p`` breaks each with probability ``p``, drawn from the seeded
        generator; with neither, every matching request breaks.
        """
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: expected '*' or one of {ROUTES}")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
        with self._lock:
            self._faults.append(_FaultRule(fault, route, times, rate, skip))

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def set_quotas(self, quotas: Quotas | None) -> None:
        """Apply request quotas (``None``: no limits) from now on."""
        with self._lock:
            quotas = quotas if quotas is not None else Quotas()
            self._quota_windows = {
                "create": [_Window(n, seconds) for n, seconds in quotas.create_windows()],
                "fetch": [_Window(n, seconds) for n, seconds in quotas.fetch_windows()],
            }

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters."""
        with self._lock:
            return EmulatorStats(
                Counter(self._requests),
                Counter(self._statuses),
                self._dropped,
                Counter(self._creations),
            )

    def status_of(self, run_id: str) -> Status | None:
        """The current status of a response or operation, ``None`` if unknown."""
        with self._lock:
            run = self._runs.get(run_id)
            return None if run is None else run.status(self.clock())

    # --- requests --------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request."""
        with self._lock:
            now = self.clock()
            answer = self.iam.handle(request, now=now, wall=self._wall(now))
            if answer is not None:
                return self._count(Reply(status=answer[0], body=answer[1]))
            route = route_of(request)
            if route is None:
                return self._count(self._error(request, 404, f"no route for {request.path}"))
            self._requests[route] += 1
            fault = self._fault_for(route)
            if fault is not None and fault.kind == "status":
                reply = self._error(request, fault.status, _fault_message(fault.status))
                if fault.retry_after is not None:
                    reply.headers["Retry-After"] = _seconds(fault.retry_after)
                return self._count(reply)
            if fault is not None and fault.kind == "drop" and not fault.after_processing:
                self._stats_dropped()
                return Reply(drop=True)
            try:
                self._authenticate(request)
                self._check_quota(route)
                reply = self._dispatch(route, request)
            except _HTTPError as error:
                reply = self._error(request, error.status, error.message)
            if fault is not None and fault.kind == "slow":
                reply.delay = fault.seconds
            if fault is not None and fault.kind == "drop":
                if fault.after_events is not None and reply.stream is not None:
                    reply.drop_after_events = fault.after_events
                else:
                    self._stats_dropped()
                    return Reply(drop=True)
            return self._count(reply)

    def _count(self, reply: Reply) -> Reply:
        self._statuses[reply.status] += 1
        return reply

    def _stats_dropped(self) -> None:
        self._dropped += 1

    def _fault_for(self, route: str) -> Fault | None:
        for rule in self._faults:
            if rule.route not in ("*", route):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            if rule.times is not None:
                if rule.times <= 0:
                    continue
                rule.times -= 1
                return rule.fault
            if rule.rate is not None:
                if self._fault_rng.random() < rule.rate:
                    return rule.fault
                continue
            return rule.fault
        return None

    def _authenticate(self, request: Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "api-key") or not (
            credential.strip() in self._credentials
            or self.iam.accepts(credential.strip(), self.clock())
        ):
            raise _HTTPError(401, "the API key or IAM token is missing, unknown or expired")

    def _check_quota(self, route: str) -> None:
        group = "create" if route in _CREATE_ROUTES else "fetch" if route in _FETCH_ROUTES else None
        if group is None:
            return
        now = self.clock()
        for window in self._quota_windows.get(group, []):
            if not window.admit(now):
                per = "second" if window.seconds == 1.0 else "hour"
                raise _HTTPError(
                    429,
                    f"quota exceeded: at most {window.limit} requests of this kind per {per}",
                )

    def _error(self, request: Request, status: int, message: str) -> Reply:
        if request.path.startswith(("/foundationModels/", "/operations/")):
            return Reply(status, payloads.fm_error(status, message))
        return Reply(status, payloads.openai_error(status, message))

    def _dispatch(self, route: Route, request: Request) -> Reply:
        if route == "responses.create":
            return self._create_response(request)
        if route == "responses.retrieve":
            return Reply(body=self._response_body(self._response(request)))
        if route == "responses.stream":
            run = self._response(request)
            if not run.background:
                raise _HTTPError(400, "only background responses can be streamed again")
            after = _int(request.query.get("starting_after"), "starting_after")
            return Reply(stream=self._event_source(run, after))
        if route == "responses.cancel":
            return self._cancel_response(request)
        if route == "responses.delete":
            run = self._response(request)
            del self._runs[run.id]
            return Reply(body={"id": run.id, "object": "response.deleted", "deleted": True})
        if route == "models.list":
            folder = request.headers.get("openai-project") or self.folder_id
            return Reply(body=payloads.models_list(folder))
        if route == "chat.completions.create":
            return self._chat(request)
        if route == "embeddings.create":
            return self._embeddings(request)
        if route == "operations.create":
            return self._create_operation(request)
        if route == "operations.get":
            return Reply(body=self._operation_body(self._operation(request)))
        return self._cancel_operation(request)

    # --- helpers -----------------------------------------------------------------------------

    def _rng_token(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuv0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _wall(self, t: float) -> float:
        return self._wall0 + (t - self._t0)

    def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            raise _HTTPError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _HTTPError(400, "the request body must be a JSON object")
        return body

    def _model(self, value: object, header_folder: str | None, scheme: str) -> ModelURI:
        """Check a model URI the way the service does."""
        if not isinstance(value, str) or not value:
            raise _HTTPError(400, "model is required: a URI like gpt://<folder>/yandexgpt/latest")
        if "://" not in value:
            raise _HTTPError(
                400,
                f"invalid model URI {value!r}: expected {scheme}://<folder>/<model>[/<version>]",
            )
        try:
            uri = parse_model_uri(value)
        except ValueError:
            raise _HTTPError(
                400,
                f"malformed model URI {value!r}: expected {scheme}://<folder>/<model>[/<version>]",
            ) from None
        if uri.scheme != scheme:
            raise _HTTPError(400, f"model URI {value!r} is not a {scheme}:// model")
        if header_folder and header_folder != uri.folder_id:
            raise _HTTPError(
                400, "the folder of the model URI does not match the folder of the request"
            )
        if uri.folder_id != self.folder_id:
            raise _HTTPError(403, "permission denied: no access to the folder of the model URI")
        if (uri.scheme, uri.name) not in _KNOWN_MODELS:
            raise _HTTPError(404, f"model {uri.name!r} not found")
        return uri

    def _choose(self, input_text: str) -> Outcome | None:
        for index, (matcher, outcome) in enumerate(self._script):
            if matcher is None or input_matches(matcher, input_text):
                del self._script[index]
                return outcome
        for matcher, outcome in self._rules:
            if input_matches(matcher, input_text):
                return outcome
        return self._default

    def _new_run(
        self,
        *,
        kind: Literal["response", "operation"],
        run_id: str,
        input_text: str,
        input_tokens: int,
        model: str,
        request: dict[str, Any],
        background: bool,
        max_tokens: int | None,
    ) -> _Run:
        outcome = self._choose(input_text)
        text = default_text = payloads.default_answer(input_text)
        if outcome is None:
            outcome = Outcome.completed()
            if max_tokens is not None and payloads.count_tokens(default_text) > max_tokens:
                outcome = Outcome.incomplete("max_output_tokens")
        if outcome.text is not None:
            text = outcome.text
        if outcome.kind == "incomplete" and outcome.text is None:
            limit = max_tokens if max_tokens is not None else payloads.count_tokens(text) // 2
            text = payloads.truncate_tokens(text, limit)
        now = self.clock()
        duration = 0.0
        if background:
            if outcome.after is not None:
                duration = outcome.after
            elif isinstance(self.background_duration, tuple):
                duration = self._rng.uniform(*self.background_duration)
            else:
                duration = self.background_duration
        queued = outcome.queued if outcome.queued is not None else duration / 4
        if not background:
            queued = 0.0
        ends = None if outcome.kind == "never" else now + max(duration, queued)
        run = _Run(
            id=run_id,
            kind=kind,
            created=now,
            outcome=outcome,
            started=now + queued,
            ends=ends,
            text=text,
            input_text=input_text,
            input_tokens=input_tokens,
            model=model,
            request=request,
            item_id="msg_" + self._uuid().replace("-", ""),
            background=background,
        )
        self._runs[run_id] = run
        self._creations[input_text] += 1
        return run

    # --- Responses -------------------------------------------------------------------------

    def _create_response(self, request: Request) -> Reply:
        body = self._json(request)
        uri = self._model(body.get("model"), request.headers.get("openai-project"), "gpt")
        if "input" not in body and "previous_response_id" not in body:
            raise _HTTPError(400, "input is required")
        background = bool(body.get("background", False))
        if background and body.get("store") is False:
            raise _HTTPError(400, "background responses must be stored: drop store=false")
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self._runs:
            raise _HTTPError(404, f"previous response {previous!r} not found")
        max_tokens = body.get("max_output_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise _HTTPError(400, "max_output_tokens must be a positive integer")
        source = body.get("input", "")
        input_text = input_text_of(source)
        tokens = payloads.count_tokens(
            _all_text(source) + " " + str(body.get("instructions") or "")
        )
        run = self._new_run(
            kind="response",
            run_id=self._uuid(),
            input_text=input_text,
            input_tokens=tokens,
            model=str(uri),
            request=body,
            background=background,
            max_tokens=max_tokens,
        )
        if _truthy(str(body.get("stream", "")).lower()):
            return Reply(stream=self._event_source(run, None))
        if not background and run.outcome.kind == "never":
            del self._runs[run.id]
            raise _HTTPError(504, "the model did not answer in time")
        if not background and run.outcome.kind == "failed":
            del self._runs[run.id]
            raise _HTTPError(500, run.outcome.error_message)
        # a background creation always answers "queued", however short the run
        status = "queued" if background else run.status(run.created)
        snapshot = self._snapshot(run, status, run.created)
        if body.get("store") is False:
            del self._runs[run.id]
        return Reply(body=snapshot)

    def _response(self, request: Request) -> _Run:
        match = _RESPONSE_PATH.match(request.path)
        assert match is not None
        run = self._runs.get(match["id"])
        if run is None or run.kind != "response":
            raise _HTTPError(404, f"response with id {match['id']!r} not found")
        return run

    def _response_body(self, run: _Run, at: float | None = None) -> JSON:
        now = self.clock() if at is None else at
        return self._snapshot(run, run.status(now), now)

    def _snapshot(self, run: _Run, status: Status, now: float) -> JSON:
        outcome = run.outcome
        return payloads.response_object(
            response_id=run.id,
            request=run.request,
            model=run.model,
            status=status,
            created_at=self._wall(run.created),
            completed_at=self._wall(run.ends) if run.ends is not None else None,
            item_id=run.item_id,
            text=run.text,
            input_tokens=run.input_tokens,
            error=(outcome.error_code, outcome.error_message),
            incomplete_reason=outcome.reason,
        )

    def _cancel_response(self, request: Request) -> Reply:
        match = _CANCEL_PATH.fullmatch(request.path.rstrip("/"))
        assert match is not None
        run = self._runs.get(match["id"])
        if run is None or run.kind != "response":
            raise _HTTPError(404, f"response with id {match['id']!r} not found")
        if not run.background:
            raise _HTTPError(400, "only responses created with background=true can be cancelled")
        now = self.clock()
        status = run.status(now)
        if status in ("queued", "in_progress"):
            run.cancelled = now
        elif status != "cancelled":
            raise _HTTPError(400, f"cannot cancel a response with status {status!r}")
        return Reply(body=self._response_body(run))

    def _timeline(self, run: _Run) -> list[tuple[float, JSON]]:
        """Every event of a run, with the clock time it happens, in order."""
        if run.events is not None:
            return run.events
        outcome, item = run.outcome, run.item_id
        events: list[tuple[float, JSON]] = []

        def add(at: float, kind: str, **fields: Any) -> None:
            events.append((at, {"type": kind, **fields}))

        def snapshot(status: Status, at: float) -> JSON:
            return self._snapshot(run, status, at)

        first: Status = "queued" if run.background else "in_progress"
        add(run.created, "response.created", response=snapshot(first, run.created))
        if run.background:
            add(run.created, "response.queued", response=snapshot("queued", run.created))
        add(run.started, "response.in_progress", response=snapshot("in_progress", run.started))
        ends = run.ends
        if ends is not None and outcome.kind in ("completed", "incomplete"):
            status: Status = "completed" if outcome.kind == "completed" else "incomplete"
            where = {"item_id": item, "output_index": 0, "content_index": 0}
            add(
                run.started,
                "response.output_item.added",
                output_index=0,
                item=payloads.output_message(item, "", "in_progress"),
            )
            add(run.started, "response.content_part.added", **where, part=_part(""))
            pieces = payloads.split_deltas(run.text)
            for index, piece in enumerate(pieces):
                at = run.started + (ends - run.started) * (index + 1) / (len(pieces) + 1)
                add(at, "response.output_text.delta", **where, delta=piece, logprobs=[])
            add(ends, "response.output_text.done", **where, text=run.text, logprobs=[])
            add(ends, "response.content_part.done", **where, part=_part(run.text))
            add(
                ends,
                "response.output_item.done",
                output_index=0,
                item=payloads.output_message(item, run.text, status),
            )
            add(ends, f"response.{status}", response=snapshot(status, ends))
        elif ends is not None:
            add(ends, "response.failed", response=snapshot("failed", ends))
        for number, (_, event) in enumerate(events):
            event["sequence_number"] = number
        run.events = events
        return events

    def _event_source(self, run: _Run, starting_after: int | None) -> EventSource:
        sent = -1 if starting_after is None else starting_after

        def poll() -> tuple[list[bytes], bool]:
            nonlocal sent
            with self._lock:
                now = self.clock()
                horizon = now if run.cancelled is None else min(now, run.cancelled)
                chunks: list[bytes] = []
                for at, event in self._timeline(run):
                    number = event["sequence_number"]
                    if number > sent and at <= horizon:
                        chunks.append(_sse(event["type"], event))
                        sent = number
                finished = run.status(now) in _TERMINAL
                return chunks, finished

        return EventSource(poll)

    # --- chat completions, embeddings --------------------------------------------------------

    def _chat(self, request: Request) -> Reply:
        body = self._json(request)
        uri = self._model(body.get("model"), request.headers.get("openai-project"), "gpt")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HTTPError(400, "messages must be a non-empty list")
        text = payloads.default_answer(input_text_of(messages))
        arguments: dict[str, Any] = {
            "completion_id": "chatcmpl-" + self._uuid(),
            # the service echoes the model URI without the folder
            "model": f"gpt://{uri.name}/{uri.version}" + (f"@{uri.suffix}" if uri.suffix else ""),
            "created": self._wall(self.clock()),
            "text": text,
            "prompt_tokens": payloads.count_tokens(_all_text(messages)),
        }
        if body.get("stream"):
            chunks = [_sse(None, chunk) for chunk in payloads.chat_chunks(**arguments)]
            chunks.append(b"data: [DONE]\n\n")
            return Reply(stream=EventSource(lambda: (chunks, True)))
        return Reply(body=payloads.chat_completion(**arguments))

    def _embeddings(self, request: Request) -> Reply:
        body = self._json(request)
        uri = self._model(body.get("model"), request.headers.get("openai-project"), "emb")
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise _HTTPError(400, "input must be a string or a non-empty list of strings")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise _HTTPError(400, f"encoding_format must be 'float' or 'base64', not {encoding!r}")
        return Reply(
            body=payloads.embeddings_list(
                model=str(uri), model_name=uri.name, texts=texts, encoding_format=encoding
            )
        )

    # --- the deferred API --------------------------------------------------------------------

    def _create_operation(self, request: Request) -> Reply:
        body = self._json(request)
        uri = self._model(body.get("modelUri"), request.headers.get("x-folder-id"), "gpt")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HTTPError(400, "messages must be a non-empty list")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in (
                "system",
                "user",
                "assistant",
            ):
                raise _HTTPError(400, "each message needs a role: system, user or assistant")
        options = body.get("completionOptions") or {}
        max_tokens = _int(options.get("maxTokens"), "completionOptions.maxTokens")
        run = self._new_run(
            kind="operation",
            run_id="d7q" + self._rng_token(17),
            input_text=input_text_of(messages),
            input_tokens=payloads.count_tokens(_all_text(messages)),
            model=str(uri),
            request=body,
            background=True,
            max_tokens=max_tokens,
        )
        return Reply(body=self._operation_body(run, at=run.created, pending=True))

    def _operation(self, request: Request) -> _Run:
        match = _OPERATION_PATH.match(request.path)
        assert match is not None
        run = self._runs.get(match["id"])
        if run is None or run.kind != "operation":
            raise _HTTPError(404, f"operation {match['id']!r} not found")
        return run

    def _operation_body(self, run: _Run, at: float | None = None, pending: bool = False) -> JSON:
        now = self.clock() if at is None else at
        status: Status = "in_progress" if pending else run.status(now)
        return payloads.operation(
            operation_id=run.id,
            created_by=self._created_by,
            created_at=self._wall(run.created),
            modified_at=self._wall(run.changed_at(now)),
            status=status,
            text=run.text,
            input_tokens=run.input_tokens,
            incomplete_reason=run.outcome.reason,
            error=(run.outcome.error_code, run.outcome.error_message),
        )

    def _cancel_operation(self, request: Request) -> Reply:
        run = self._operation(request)
        now = self.clock()
        status = run.status(now)
        if status in ("queued", "in_progress"):
            run.cancelled = now
        elif status != "cancelled":
            raise _HTTPError(409, f"operation {run.id!r} is already done")
        return Reply(body=self._operation_body(run))


def _part(text: str) -> JSON:
    return payloads.output_text_part(text)


def _sse(event: str | None, data: JSON) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _int(value: object, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise _HTTPError(400, f"{name} must be an integer, not {value!r}") from None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _fault_message(status: int) -> str:
    if status == 429:
        return "too many requests: the rate limit is exceeded, retry later"
    if status == 503:
        return "the service is temporarily unavailable"
    if status >= 500:
        return "internal server error"
    return "the request was rejected"
