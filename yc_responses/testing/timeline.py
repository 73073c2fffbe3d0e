"""The server-sent events of a Responses run, each at the clock time it happens.

A run's timeline is computed once from its times and answer; a stream sends the
events whose time has come (and none after a cancellation), so resuming with
``starting_after`` and streaming on a manual clock behave as the service does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import payloads
from .payloads import JSON, Status
from .runs import TERMINAL, Run
from .wire import EventSource, sse

__all__ = ["event_source", "timeline"]

Snapshot = Callable[[Run, Status, float], JSON]
"""The ``Response`` object of a run with a status at a clock time."""


def timeline(run: Run, snapshot: Snapshot) -> list[tuple[float, JSON]]:
    """Every event of a run, with the clock time it happens, in order (kept on the run)."""
    if run.events is not None:
        return run.events
    events: list[tuple[float, JSON]] = []

    def add(at: float, kind: str, **fields: Any) -> None:
        events.append((at, {"type": kind, **fields}))

    first: Status = "queued" if run.background else "in_progress"
    add(run.created, "response.created", response=snapshot(run, first, run.created))
    if run.background:
        add(run.created, "response.queued", response=snapshot(run, "queued", run.created))
    add(run.started, "response.in_progress", response=snapshot(run, "in_progress", run.started))
    ends, kind = run.ends, run.outcome.kind
    if ends is not None and kind in ("completed", "incomplete"):
        status: Status = "completed" if kind == "completed" else "incomplete"
        if run.answer.is_tool_call:
            _tool_call_events(run, ends, add)
        else:
            _text_events(run, ends, status, add)
        add(ends, f"response.{status}", response=snapshot(run, status, ends))
    elif ends is not None:
        add(ends, "response.failed", response=snapshot(run, "failed", ends))
    for number, (_, event) in enumerate(events):
        event["sequence_number"] = number
    run.events = events
    return events


def _text_events(run: Run, ends: float, status: Status, add: Callable[..., None]) -> None:
    item = run.item_id
    where = {"item_id": item, "output_index": 0, "content_index": 0}
    add(
        run.started,
        "response.output_item.added",
        output_index=0,
        item=payloads.output_message(item, "", "in_progress"),
    )
    add(run.started, "response.content_part.added", **where, part=payloads.output_text_part(""))
    pieces = payloads.split_deltas(run.text)
    for index, piece in enumerate(pieces):
        at = run.started + (ends - run.started) * (index + 1) / (len(pieces) + 1)
        add(at, "response.output_text.delta", **where, delta=piece, logprobs=[])
    add(ends, "response.output_text.done", **where, text=run.text, logprobs=[])
    add(ends, "response.content_part.done", **where, part=payloads.output_text_part(run.text))
    add(
        ends,
        "response.output_item.done",
        output_index=0,
        item=payloads.output_message(item, run.text, status),
    )


def _tool_call_events(run: Run, ends: float, add: Callable[..., None]) -> None:
    item, name, arguments = run.item_id, run.answer.tool_name or "", run.answer.arguments
    where = {"item_id": item, "output_index": 0}
    added = payloads.function_call_item(item, name, arguments, "in_progress")
    add(run.started, "response.output_item.added", output_index=0, item=added)
    add(
        (run.started + ends) / 2, "response.function_call_arguments.delta", **where, delta=arguments
    )
    add(ends, "response.function_call_arguments.done", **where, arguments=arguments)
    done = payloads.function_call_item(item, name, arguments, "completed")
    add(ends, "response.output_item.done", output_index=0, item=done)


def event_source(
    run: Run,
    starting_after: int | None,
    *,
    clock: Callable[[], float],
    lock: Any,
    snapshot: Snapshot,
) -> EventSource:
    """The events of ``run`` after sequence number ``starting_after``, as the clock reaches them."""
    sent = -1 if starting_after is None else starting_after

    def poll() -> tuple[list[bytes], bool]:
        nonlocal sent
        with lock:
            now = clock()
            horizon = now if run.cancelled is None else min(now, run.cancelled)
            chunks: list[bytes] = []
            for at, event in timeline(run, snapshot):
                number = event["sequence_number"]
                if number > sent and at <= horizon:
                    chunks.append(sse(event["type"], event))
                    sent = number
            return chunks, run.status(now) in TERMINAL

    return EventSource(poll)
