"""What a kind of job is: the :class:`Kind` protocol that runs, resources and batches use.

A kind knows its wire and its payloads, and nothing about waiting: how to create
a run, look at it, cancel it and (maybe) stream it, each as a
:class:`~yc_responses.steps.Request` built once for sync and async clients; how to
read a snapshot's status and result; how a snapshot is kept in a batch journal;
how a batch input becomes a creation. Two kinds ship:

* :class:`~yc_responses.kinds.responses.ResponsesKind`: background responses
  (``POST /v1/responses`` with ``background=True``);
* :class:`~yc_responses.kinds.operations.OperationsKind`: the older
  ``completionAsync`` API and its operations.

A new kind of job with the same life cycle is one new module here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from pydantic_core import to_jsonable_python

from yc_responses.polling import Snapshot, check_timeout
from yc_responses.results import AnyRunResult
from yc_responses.status import RunStatus
from yc_responses.steps import Request

__all__ = ["Kind", "check_sendable"]

S = TypeVar("S")


class Kind(Protocol[S]):
    """One kind of job on one client; ``S`` is its snapshot type (``Response``, ``Operation``)."""

    resource: str
    """The client attribute that attaches to a run again: ``background`` or ``deferred``."""

    scope: str
    """What else makes two equal inputs different runs (the folder), for batch fingerprints."""

    streams: bool
    """Whether :meth:`open_stream` can follow a run's events."""

    # --- reading snapshots (pure)

    def status(self, snapshot: S, /) -> RunStatus:
        """The run's status; ``UnexpectedStatusError`` when it cannot tell."""
        ...

    def result(self, snapshot: S, /) -> AnyRunResult[S]:
        """The typed result of a terminal snapshot."""
        ...

    def run_id(self, snapshot: S, /) -> str:
        """The id of a created run."""
        ...

    def describe(self, snapshot: S | None, /) -> str:
        """What a run's ``repr`` shows of its last snapshot."""
        ...

    def dump(self, snapshot: S, /) -> str:
        """A snapshot as JSON text, for the journal."""
        ...

    def load(self, text: str, /) -> S:
        """A snapshot back from :meth:`dump`'s text."""
        ...

    def prepare(self, item: str | Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The creation keywords of one batch input; ``ValueError``/``TypeError`` if bad."""
        ...

    # --- requests (each one attempt, built for sync and async clients alike)

    def create(self, params: dict[str, Any], /) -> Request[Snapshot[S]]:
        """Create a run from :meth:`prepare`'s keywords, the client's own retries off."""
        ...

    def fetch(
        self, run_id: str, /, timeout: float | None = None, *, retries: bool = False
    ) -> Request[Snapshot[S]]:
        """Look at a run once (``retries``: with the client's own retries)."""
        ...

    def cancel(self, run_id: str, /) -> Request[S]:
        """Ask the service to cancel a run."""
        ...

    def open_stream(
        self, run_id: str, /, *, starting_after: int | None, timeout: float | None
    ) -> Request[Any]:
        """Open the run's event stream (only when :attr:`streams`)."""
        ...

    def is_event_stream(self, stream: Any, /) -> bool:
        """Whether an opened stream answers with events at all."""
        ...

    def stream_snapshot(self, event: Any, /) -> S | None:
        """The snapshot an event of the stream carries, if any."""
        ...


def check_sendable(params: Mapping[str, Any]) -> None:
    """Refuse creation keywords that cannot go on the wire: a body that is not JSON (NaN,
    objects JSON has no form for) or a per-request ``timeout`` that is no time limit.

    >>> check_sendable({"metadata": {"score": float("nan")}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the request cannot be sent as JSON (...)
    """
    body = {name: value for name, value in params.items() if not name.startswith("extra_")}
    body.update(params.get("extra_body") or {})
    try:
        json.dumps(to_jsonable_python(body), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the request cannot be sent as JSON ({exc})") from None
    timeout = params.get("timeout")
    if timeout is not None and isinstance(timeout, int | float):
        check_timeout(timeout)
