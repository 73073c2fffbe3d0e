"""What the emulator does with a request: outcomes of runs, injected faults, quotas.

Outcomes decide how a created response (or deferred operation) ends and when::

    emu.script(Outcome.completed(text="Paris", after=3.0))         # the next creation
    emu.script(Outcome.failed(code="server_error", message="boom"))
    emu.on_input("summarise", Outcome.incomplete(reason="max_output_tokens"))
    emu.script(Outcome.never())                                    # stays in progress
    emu.script(Outcome.tool_call("get_weather", {"city": "Paris"}))  # a function call
    emu.script(Outcome.completed({"city": "Paris"}))               # an answer in JSON

They apply alike to Responses, chat completions and ``completionAsync``.

Faults break the HTTP exchange itself, per route, by exact count or by rate::

    emu.inject(Fault.rate_limit(retry_after=2), route="responses.retrieve", times=2)
    emu.inject(Fault.error(503), route="*", rate=0.1)
    emu.inject(Fault.drop(after_processing=True), route="responses.create", times=1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, Union, get_args

from yc_responses.quotas import Quotas

__all__ = [
    "ROUTES",
    "Fault",
    "InputMatcher",
    "Outcome",
    "OutcomeKind",
    "Quotas",
    "Route",
]

OutcomeKind = Literal["completed", "failed", "incomplete", "never"]

Route = Literal[
    "responses.create",
    "responses.retrieve",
    "responses.stream",
    "responses.cancel",
    "responses.delete",
    "responses.input_items.list",
    "models.list",
    "chat.completions.create",
    "embeddings.create",
    "operations.create",
    "operations.get",
    "operations.cancel",
]

ROUTES: tuple[Route, ...] = get_args(Route)
"""Route names, as the official client's methods are named.

``responses.stream`` is ``GET /v1/responses/{id}?stream=true``;
``operations.create`` is ``POST /foundationModels/v1/completionAsync``.
"""

InputMatcher: TypeAlias = Union[str, "re.Pattern[str]", Callable[[str], bool]]
"""Chooses inputs for a rule: an equal string, a compiled regex (searched) or a predicate."""


@dataclass(frozen=True)
class Outcome:
    """How one run ends, and after how many seconds of the emulator's clock.

    Build one with :meth:`completed`, :meth:`tool_call`, :meth:`failed`,
    :meth:`incomplete` or :meth:`never`. ``after`` is the whole duration from creation to the end
    (``None``: the emulator's default); ``queued`` is how long of it the run
    stays ``queued`` before ``in_progress`` (``None``: a quarter of ``after``).
    """

    kind: OutcomeKind
    text: str | None = None
    after: float | None = None
    queued: float | None = None
    error_code: str = "server_error"
    error_message: str = "The model failed to generate a response."
    reason: Literal["max_output_tokens", "content_filter"] = "max_output_tokens"
    tool_name: str | None = None
    """With :meth:`tool_call`: the function the answer calls."""
    tool_arguments: str = "{}"
    """With :meth:`tool_call`: the call's arguments, as JSON text."""

    @classmethod
    def completed(
        cls,
        text: str | Mapping[str, Any] | list[Any] | None = None,
        *,
        after: float | None = None,
        queued: float | None = None,
    ) -> Outcome:
        """Ends ``completed``; ``text`` is the answer (default: derived from the request).

        A dict or a list is answered as its JSON text (for structured output).
        Unscripted, a request for JSON gets JSON valid against its schema.

        >>> Outcome.completed("Paris", after=3.0).kind
        'completed'
        >>> Outcome.completed({"city": "Paris"}).text
        '{"city": "Paris"}'
        """
        if text is not None and not isinstance(text, str):
            text = json.dumps(text, ensure_ascii=False)
        return cls("completed", text=text, after=after, queued=queued)

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        after: float | None = None,
        queued: float | None = None,
    ) -> Outcome:
        """Ends ``completed`` with a call of the function ``name`` instead of a text.

        Responses answer a ``function_call`` output item, chat completions
        ``message.tool_calls`` with ``finish_reason="tool_calls"``, ``completionAsync``
        a ``toolCallList`` alternative.

        >>> Outcome.tool_call("get_weather", {"city": "Paris"}).tool_arguments
        '{"city": "Paris"}'
        """
        return cls(
            "completed",
            after=after,
            queued=queued,
            tool_name=name,
            tool_arguments=json.dumps(dict(arguments or {}), ensure_ascii=False),
        )

    @classmethod
    def failed(
        cls,
        code: str = "server_error",
        message: str = "The model failed to generate a response.",
        *,
        after: float | None = None,
        queued: float | None = None,
    ) -> Outcome:
        """Ends ``failed`` with ``error: {code, message}``.

        Codes the official client knows include ``server_error``,
        ``rate_limit_exceeded`` and ``invalid_prompt``.

        >>> Outcome.failed("invalid_prompt", "too long").error_code
        'invalid_prompt'
        """
        return cls("failed", after=after, queued=queued, error_code=code, error_message=message)

    @classmethod
    def incomplete(
        cls,
        reason: Literal["max_output_tokens", "content_filter"] = "max_output_tokens",
        text: str | None = None,
        *,
        after: float | None = None,
        queued: float | None = None,
    ) -> Outcome:
        """Ends ``incomplete`` with ``incomplete_details.reason`` and the partial answer ``text``.

        Without ``text``, the derived answer is cut at ``max_output_tokens``, or halved.

        >>> Outcome.incomplete("content_filter").reason
        'content_filter'
        """
        return cls("incomplete", text=text, after=after, queued=queued, reason=reason)

    @classmethod
    def never(cls, *, queued: float | None = None) -> Outcome:
        """Never finishes: ``queued``, then ``in_progress`` until cancelled.

        >>> Outcome.never().kind
        'never'
        """
        return cls("never", queued=queued)


FaultKind = Literal["status", "drop", "slow"]


@dataclass(frozen=True)
class Fault:
    """A broken HTTP exchange: an error status, a dropped connection or a slow answer.

    Build one with :meth:`rate_limit`, :meth:`error`, :meth:`drop` or :meth:`slow`
    and pass it to ``Emulator.inject``.
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    after_processing: bool = False
    after_events: int | None = None
    seconds: float = 0.0

    @classmethod
    def rate_limit(cls, retry_after: float | None = 1.0) -> Fault:
        """HTTP 429 with a ``Retry-After`` header (omitted when ``None``).

        >>> Fault.rate_limit(retry_after=2).status
        429
        """
        return cls("status", status=429, retry_after=retry_after)

    @classmethod
    def error(cls, status: int = 500, *, retry_after: float | None = None) -> Fault:
        """An error status (500, 503, 504, ...) with the service's error body.

        >>> Fault.error(503).status
        503
        """
        if not 400 <= status <= 599:
            raise ValueError(f"an error fault needs a 4xx or 5xx status, not {status}")
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def drop(cls, *, after_processing: bool = False, after_events: int | None = None) -> Fault:
        """Close the connection without an answer.

        ``after_processing=True`` handles the request first (a creation really
        creates a run) and then drops the answer: what makes a client's retry
        start a second job. ``after_events=N`` is for streams: send N events,
        then drop the stream (it implies ``after_processing``).

        >>> Fault.drop(after_processing=True).after_processing
        True
        """
        after_processing = after_processing or after_events is not None
        return cls("drop", after_processing=after_processing, after_events=after_events)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, after ``seconds`` of real time (to trip client timeouts).

        >>> Fault.slow(0.5).seconds
        0.5
        """
        return cls("slow", seconds=seconds)


def input_matches(matcher: InputMatcher, text: str) -> bool:
    """Whether an input text is chosen by a rule: equal string, regex search or predicate."""
    if isinstance(matcher, str):
        return matcher == text
    if isinstance(matcher, re.Pattern):
        return matcher.search(text) is not None
    return bool(matcher(text))
