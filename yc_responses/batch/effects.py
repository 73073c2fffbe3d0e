"""What the batch engine hands a driver and gets back: the life of one input (:class:`Phase`,
:class:`Item`), the effects to carry out (:class:`Create`, :class:`Fetch`,
:class:`Record`, :class:`Report`) and the answer to a request (:class:`Answer`)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from .progress import BatchProgress

if TYPE_CHECKING:
    from yc_responses.polling import PollLoop, Snapshot
    from yc_responses.results import AnyRunResult

__all__ = [
    "TRANSITIONS",
    "Answer",
    "Create",
    "Effect",
    "Fetch",
    "Follow",
    "Item",
    "NotStreamed",
    "Phase",
    "Record",
    "Report",
    "Request",
]

S = TypeVar("S")
"""A snapshot of one run: a ``Response``, or an ``Operation`` of the older API."""


class Phase(enum.Enum):
    """Where one input is in its life (its server status is kept beside it)."""

    PENDING = "pending"
    """Not sent yet (or sent and provably refused: to be sent again)."""
    SUBMITTING = "submitting"
    """Its creation is in flight."""
    WATCHING = "watching"
    """It has a run on the server, looked at from time to time."""
    DONE = "done"
    """It has its result or its error."""


TRANSITIONS: Mapping[Phase, frozenset[Phase]] = {
    Phase.PENDING: frozenset({Phase.SUBMITTING, Phase.WATCHING, Phase.DONE}),
    Phase.SUBMITTING: frozenset({Phase.PENDING, Phase.WATCHING, Phase.DONE}),
    Phase.WATCHING: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}
"""The moves an input may make; anything else is a bug of the engine."""


@dataclass(eq=False)
class Item(Generic[S]):
    """One input of the batch as the engine follows it."""

    position: int
    key: str
    params: dict[str, Any]
    fingerprint: str
    phase: Phase = Phase.PENDING
    state: str = ""
    """What progress shows: pending, submitting, a server status, or error."""
    run_id: str | None = None
    followed: bool = False
    """Its run's event stream was followed already (it is looked at from then on)."""
    started: float | None = None
    """When its run was created by this batch (not known for runs resumed from a journal)."""
    loop: PollLoop[S] | None = None
    result: AnyRunResult[S] | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class Record:
    """Write a journal row: call ``Journal.<method>(key, **fields)``."""

    method: Literal["submitting", "submitted", "status_changed", "finished", "forget"]
    key: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Create(Generic[S]):
    """Submit ``item``: one attempt, the client's own retries off.

    ``row`` is the journal row to write right before sending, from where the
    sending cannot be interrupted any more (a worker thread, a shielded task): so
    a row never says "submitting" for an input that was not sent.
    """

    item: Item[S]
    row: Record | None


@dataclass(frozen=True)
class Fetch(Generic[S]):
    """Look at ``item``'s run once, with this HTTP timeout."""

    item: Item[S]
    timeout: float | None


@dataclass(frozen=True)
class Follow(Generic[S]):
    """Follow ``item``'s run over its event stream until it ends (``timeout``: the time
    left to wait for it); the answer is the last snapshot the stream carried, or
    :class:`NotStreamed` when the service does not stream the run."""

    item: Item[S]
    timeout: float | None


class NotStreamed(Exception):
    """The service does not stream this run: look at it instead."""


@dataclass(frozen=True)
class Report:
    """Tell the progress callback where the batch stands."""

    progress: BatchProgress


Request = Create[S] | Fetch[S] | Follow[S]
Effect = Create[S] | Fetch[S] | Follow[S] | Record | Report


@dataclass(frozen=True)
class Answer(Generic[S]):
    """What one request gave: a snapshot, or the exception it raised.

    ``sent`` is false when a creation failed before it was sent (its journal row
    could not be written).
    """

    snapshot: Snapshot[S] | None = None
    error: Exception | None = None
    sent: bool = True
