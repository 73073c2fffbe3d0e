"""``RunStatus`` and the pure mapping from a response to its status and result.

No I/O here: these functions read a ``Response`` the server sent and decide.
A status the library does not know, or a terminal response missing what its
status needs (``failed`` without ``error``), raises
:class:`~yc_responses.UnexpectedStatusError`: never a guess.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from .errors import UnexpectedStatusError

if TYPE_CHECKING:
    from openai.types.responses import Response

    from .results import RunResult

__all__ = ["RunStatus", "result_of_response", "status_of_response"]


class RunStatus(str, Enum):
    """The status of a background run, as the server reports it.

    >>> RunStatus("in_progress").is_running
    True
    >>> RunStatus.COMPLETED.is_terminal
    True
    """

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"

    @property
    def is_running(self) -> bool:
        """Queued or in progress: the run may still change."""
        return self in (RunStatus.QUEUED, RunStatus.IN_PROGRESS)

    @property
    def is_terminal(self) -> bool:
        """Completed, failed, cancelled or incomplete: the run will not change any more."""
        return not self.is_running

    @property
    def is_succeeded(self) -> bool:
        """Completed: the output is all there."""
        return self is RunStatus.COMPLETED

    @property
    def is_failed(self) -> bool:
        """Failed, cancelled or incomplete: finished without a complete output."""
        return self.is_terminal and not self.is_succeeded

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, raw: object, *, response_id: str | None = None) -> RunStatus:
        """The status named ``raw``; :class:`UnexpectedStatusError` for anything else.

        >>> RunStatus.parse("queued")
        <RunStatus.QUEUED: 'queued'>
        """
        try:
            return cls(raw)
        except ValueError:
            raise UnexpectedStatusError(
                f"the server reported status {raw!r}, which is not one of "
                f"{', '.join(s.value for s in cls)}",
                raw=raw,
                response_id=response_id,
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
    from .results import Cancelled, Completed, ErrorDetails, Failed, Incomplete

    status = status_of_response(response)
    if status is RunStatus.COMPLETED:
        return Completed(response.id, response.output_text, response)
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
        return Incomplete(response.id, str(reason), response.output_text, response)
    raise UnexpectedStatusError(
        f"response {response.id} is still {status.value}: it has no result yet",
        raw=status.value,
        response_id=response.id,
    )
