"""The emulator's request pipeline, apart from any socket: route, fault, key, quota, answer.

:class:`EmulatorCore` takes a parsed :class:`Request` and gives back a :class:`Reply`;
the HTTP layer (``server.py``) only moves bytes, and the route modules
(:mod:`.responses_api`, :mod:`.chat`, :mod:`.operations`) answer on the shared
:class:`~yc_responses.testing.service.Service`. All public methods are thread-safe.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from . import chat, operations, payloads, responses_api
from .admission import FaultRules, QuotaWindows, fault_message
from .iam import IamEmulator
from .payloads import Status
from .scenarios import Fault, InputMatcher, Outcome, Quotas, Route
from .service import Service
from .wire import EventSource, Reply, Request, ServiceError, format_retry_after, route_of

__all__ = ["EmulatorCore", "EmulatorStats", "EventSource", "Reply", "Request"]

_HANDLERS: dict[Route, Callable[[Service, Request], Reply]] = {
    "responses.create": responses_api.create_response,
    "responses.retrieve": responses_api.retrieve_response,
    "responses.stream": responses_api.stream_response,
    "responses.cancel": responses_api.cancel_response,
    "responses.delete": responses_api.delete_response,
    "responses.input_items.list": responses_api.input_items,
    "models.list": chat.models,
    "chat.completions.create": chat.chat_completion,
    "embeddings.create": chat.embeddings,
    "operations.create": operations.create_operation,
    "operations.get": operations.get_operation,
    "operations.cancel": operations.cancel_operation,
}


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
        self.service = Service(
            folder_id=folder_id,
            clock=clock,
            seed=seed,
            background_duration=background_duration,
            wall_start=wall_start,
        )
        self._lock = self.service.lock
        self._credentials = frozenset({api_key, *iam_tokens})
        self._faults = FaultRules(seed + 1)
        self._quotas = QuotaWindows(quotas)
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._dropped = 0
        self.iam = IamEmulator(seed=seed)
        """Service account keys, the exchange and the metadata service: tokens it issues work."""

    @property
    def background_duration(self) -> float | tuple[float, float]:
        """Seconds an unscripted background run takes (or a range drawn from)."""
        return self.service.background_duration

    @background_duration.setter
    def background_duration(self, value: float | tuple[float, float]) -> None:
        self.service.background_duration = value

    # --- scripting -------------------------------------------------------------------------

    def script(self, *outcomes: Outcome, input: InputMatcher | None = None) -> None:
        """Queue outcomes for the next creations, one each, in order.

        With ``input=``, each is kept for the next creation whose input text
        matches (an equal string, a compiled regex, or a predicate).
        """
        with self._lock:
            self.service.script.extend((input, outcome) for outcome in outcomes)

    def on_input(self, matcher: InputMatcher, outcome: Outcome) -> None:
        """A lasting rule: every creation whose input matches ends with ``outcome``."""
        with self._lock:
            self.service.rules.append((matcher, outcome))

    def set_default(self, outcome: Outcome | None) -> None:
        """The outcome of creations nothing else decides (``None``: derived from the request)."""
        with self._lock:
            self.service.default = outcome

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
        with self._lock:
            self._faults.add(fault, route=route, times=times, rate=rate, skip=skip)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def set_quotas(self, quotas: Quotas | None) -> None:
        """Apply request quotas (``None``: no limits) from now on."""
        with self._lock:
            self._quotas = QuotaWindows(quotas)

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters."""
        with self._lock:
            return EmulatorStats(
                Counter(self._requests),
                Counter(self._statuses),
                self._dropped,
                Counter(self.service.creations),
            )

    def status_of(self, run_id: str) -> Status | None:
        """The current status of a response or operation, ``None`` if unknown."""
        with self._lock:
            run = self.service.runs.get(run_id)
            return None if run is None else run.status(self.clock())

    # --- requests --------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request.

        >>> core = EmulatorCore(api_key="k", folder_id="b1g")
        >>> core.handle(Request("GET", "/v1/models")).status
        401
        """
        with self._lock:
            reply = self._answer(request)
            if not reply.drop:
                self._statuses[reply.status] += 1
                reply.headers.setdefault("x-request-id", self.service.request_id())
                reply.headers.setdefault("x-server-trace-id", self.service.trace_id())
                client_id = request.headers.get("x-client-request-id")
                if client_id:
                    reply.headers.setdefault("x-client-request-id", client_id)
            return reply

    def _answer(self, request: Request) -> Reply:
        now = self.clock()
        answer = self.iam.handle(request, now=now, wall=self.service.wall(now))
        if answer is not None:
            return Reply(status=answer[0], body=answer[1])
        route = route_of(request)
        if route is None:
            return error_reply(request, 404, f"no route for {request.method} {request.path}")
        self._requests[route] += 1
        fault = self._faults.pick(route)
        if fault is not None and fault.kind == "status":
            reply = error_reply(request, fault.status, fault_message(fault.status))
            if fault.retry_after is not None:
                reply.headers["Retry-After"] = format_retry_after(fault.retry_after)
            return reply
        if fault is not None and fault.kind == "drop" and not fault.after_processing:
            self._dropped += 1
            return Reply(drop=True)
        try:
            self._authenticate(request)
            self._quotas.check(route, self.clock())
            reply = _HANDLERS[route](self.service, request)
        except ServiceError as error:
            reply = error_reply(request, error.status, error.message)
        except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as error:
            # a body of the wrong shape somewhere the checks did not look
            message = f"the request body is malformed ({type(error).__name__}): check its fields"
            reply = error_reply(request, 400, message)
        if fault is not None and fault.kind == "slow":
            reply.delay = fault.seconds
        if fault is not None and fault.kind == "drop":
            if fault.after_events is not None and reply.stream is not None:
                reply.drop_after_events = fault.after_events
            else:
                self._dropped += 1
                return Reply(drop=True)
        return reply

    def _authenticate(self, request: Request) -> None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "api-key") or not (
            credential.strip() in self._credentials
            or self.iam.accepts(credential.strip(), self.clock())
        ):
            raise ServiceError(401, "the API key or IAM token is missing, unknown or expired")


def error_reply(request: Request, status: int, message: str) -> Reply:
    """The service's error body for ``status``, in the shape of the API the path belongs to."""
    if request.path.startswith(("/foundationModels/", "/operations/")):
        return Reply(status, payloads.fm_error(status, message))
    return Reply(status, payloads.openai_error(status, message))
