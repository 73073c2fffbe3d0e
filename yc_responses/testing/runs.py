"""A run's life on the emulator's clock: when it was made, how it ends, its status at any time.

A :class:`Run` is a response or a ``completionAsync`` operation. It stores the
clock times of its creation, start and end; its status is computed from the clock,
so a manual clock drives a long job in no time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .answers import Answer
from .payloads import JSON, Status
from .scenarios import Outcome

__all__ = ["TERMINAL", "Run", "RunKind"]

RunKind = Literal["response", "operation"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "incomplete", "cancelled"})


@dataclass
class Run:
    """A response or an operation: when it was made and how it will end."""

    id: str
    kind: RunKind
    created: float
    outcome: Outcome
    started: float
    ends: float | None
    answer: Answer
    input_text: str
    input_tokens: int
    model: str
    request: dict[str, Any]
    item_id: str
    background: bool
    cancelled: float | None = None
    events: list[tuple[float, JSON]] | None = None

    @property
    def text(self) -> str:
        """The answer's text (empty for a tool call)."""
        return self.answer.text

    def status(self, now: float) -> Status:
        """The status at clock time ``now``."""
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
