"""What a finished run hands back: ``Completed | Failed | Cancelled | Incomplete``.

Each result is a frozen dataclass carrying the ``response_id``, the terminal
``status`` and the final ``response`` payload, so it can be matched on::

    match client.background.run(model="yandexgpt", input="Hi!"):
        case Completed(output_text=text):
            print(text)
        case Failed(error=error):
            print("failed:", error.code, error.message)
        case Incomplete(reason=reason):
            print("cut short:", reason)
        case Cancelled():
            print("cancelled")

or turned into text at once with ``result.unwrap()``, which raises
:class:`~yc_responses.RunFailedError`, :class:`~yc_responses.RunCancelledError` or
:class:`~yc_responses.RunIncompleteError` when the run did not complete.

The payload type is a parameter: for background responses it is the official
``openai.types.responses.Response`` (see :data:`RunResult`); other kinds of runs
reuse the same classes with their own payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from openai.types.responses import Response

from .errors import RunCancelledError, RunFailedError, RunIncompleteError
from .status import RunStatus

__all__ = [
    "AnyRunResult",
    "Cancelled",
    "Completed",
    "ErrorDetails",
    "Failed",
    "Incomplete",
    "RunResult",
]

P = TypeVar("P")
"""The final payload of a run (``Response`` for background responses)."""


@dataclass(frozen=True)
class ErrorDetails:
    """Why a run failed, as the server said it: ``code`` (e.g. ``server_error``) and ``message``."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Completed(Generic[P]):
    """The run completed; ``output_text`` is its text (empty when it only called tools).

    >>> result.unwrap() == result.output_text  # doctest: +SKIP
    True
    """

    response_id: str
    output_text: str
    response: P = field(repr=False)
    status: RunStatus = field(default=RunStatus.COMPLETED, init=False)

    def unwrap(self) -> str:
        """The output text."""
        return self.output_text


@dataclass(frozen=True)
class Failed(Generic[P]):
    """The run failed on the server; ``error.code`` and ``error.message`` say why."""

    response_id: str
    error: ErrorDetails
    response: P = field(repr=False)
    status: RunStatus = field(default=RunStatus.FAILED, init=False)

    def unwrap(self) -> str:
        """Raise :class:`~yc_responses.RunFailedError` (the run has no text)."""
        raise RunFailedError(self)


@dataclass(frozen=True)
class Cancelled(Generic[P]):
    """The run was cancelled before it finished."""

    response_id: str
    response: P = field(repr=False)
    status: RunStatus = field(default=RunStatus.CANCELLED, init=False)

    def unwrap(self) -> str:
        """Raise :class:`~yc_responses.RunCancelledError` (the run has no text)."""
        raise RunCancelledError(self)


@dataclass(frozen=True)
class Incomplete(Generic[P]):
    """The run stopped early; ``reason`` is e.g. ``max_output_tokens`` or ``content_filter``.

    ``output_text`` holds what was generated before it stopped.
    """

    response_id: str
    reason: str
    output_text: str
    response: P = field(repr=False)
    status: RunStatus = field(default=RunStatus.INCOMPLETE, init=False)

    def unwrap(self) -> str:
        """Raise :class:`~yc_responses.RunIncompleteError`; the partial text is on the result."""
        raise RunIncompleteError(self)


AnyRunResult = Completed[P] | Failed[P] | Cancelled[P] | Incomplete[P]
"""The result of any kind of run, with payload type ``P``."""

RunResult = Completed[Response] | Failed[Response] | Cancelled[Response] | Incomplete[Response]
"""The result of a background response: one of the four classes, payload ``Response``."""
