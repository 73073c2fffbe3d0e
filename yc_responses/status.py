"""``RunStatus``: the six statuses of a run, and the questions they answer.

A status the library does not know raises
:class:`~yc_responses.UnexpectedStatusError` (:meth:`RunStatus.parse`): never a guess.
How a kind of job's payload maps to a status lives with the kind
(:mod:`yc_responses.kinds`).
"""

from __future__ import annotations

from enum import Enum

from .errors import UnexpectedStatusError

__all__ = ["RunStatus"]


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
