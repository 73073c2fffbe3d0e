"""The batch engine on its own: it returns what to do and does none of it.

No server, no journal file, no clock: the test plays the driver, carrying the
effects back and forth by hand.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from yc_responses import PollPolicy, Quotas, RunStatus
from yc_responses.batch import UnreadableAnswerError
from yc_responses.batch.engine import (
    Answer,
    BatchEngine,
    Create,
    Effect,
    Fetch,
    Phase,
    Record,
    Report,
)
from yc_responses.batch.journal import JournalEntry
from yc_responses.polling import Snapshot


class Source:
    """Runs as plain dicts: ``{"id": ..., "status": ..., "text": ...}``."""

    resource = "background"
    scope = "folder"

    def prepare(self, item: Any, defaults: Any) -> dict[str, Any]:
        return {"input": item, **defaults}

    def status(self, snapshot: Any, /) -> RunStatus:
        return RunStatus(snapshot["status"])

    def result(self, snapshot: Any, /) -> Any:
        return SimpleNamespace(status=RunStatus(snapshot["status"]), text=snapshot["text"])

    def run_id(self, snapshot: Any, /) -> str:
        return str(snapshot["id"])

    def dump(self, snapshot: Any, /) -> str:
        return repr(snapshot)

    def load(self, text: str, /) -> Any:
        raise AssertionError("not read back in these tests")


def _engine(count: int = 1, entries: list[JournalEntry] | None = None) -> BatchEngine[Any]:
    return BatchEngine(
        Source(),
        [{"input": f"p{i}"} for i in range(count)],
        [str(i) for i in range(count)],
        entries=entries if entries is not None else [],
        now=0.0,
        concurrency=count,
        quotas=Quotas(),
        policy=PollPolicy.fixed(1.0),
        resubmit_ambiguous=False,
        journal_path="batch.sqlite",
    )


def _only(effects: list[Effect[Any]], kind: type) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, kind)]


def test_one_input_from_start_to_finish_as_effects() -> None:
    engine = _engine()
    started = engine.start(0.0)
    (create,) = _only(started, Create)
    assert create.row == Record(
        "submitting", "0", {"position": 0, "fingerprint": create.item.fingerprint}
    )
    assert [r.progress.counts for r in _only(started, Report)] == [
        {"pending": 1},
        {"submitting": 1},
    ]

    created = engine.complete(
        create, Answer(Snapshot({"id": "r1", "status": "queued"})), now=0.1, wall_time=0.0
    )
    assert _only(created, Record) == [
        Record("submitted", "0", {"run_id": "r1", "status": "queued"})
    ]
    assert engine.next_wake(0.1) == pytest.approx(1.0)  # the policy's fixed interval
    assert engine.start(0.5) == []  # not due yet

    (fetch,) = _only(engine.start(1.1), Fetch)
    answer = Answer(Snapshot({"id": "r1", "status": "completed", "text": "hi"}))
    done = engine.complete(fetch, answer, now=1.2, wall_time=0.0)
    (finished,) = [r for r in _only(done, Record) if r.method == "finished"]
    assert finished.fields["status"] == "completed"
    assert _only(done, Report)[-1].progress.done == 1
    assert engine.finished
    assert [r.text for r in engine.results()] == ["hi"]  # type: ignore[union-attr]


def test_an_unreadable_status_is_that_inputs_error_written_as_finished() -> None:
    engine = _engine(2)
    first, second = _only(engine.start(0.0), Create)
    for create, run_id in ((first, "r1"), (second, "r2")):
        snapshot = Snapshot({"id": run_id, "status": "queued"})
        engine.complete(create, Answer(snapshot), now=0.0, wall_time=0.0)
    looks = _only(engine.start(1.0), Fetch)
    odd = engine.complete(looks[0], Answer(Snapshot(["not", "a", "run"])), now=1.0, wall_time=0.0)
    (row,) = [r for r in _only(odd, Record) if r.method == "finished"]
    assert row.fields["status"] == "error"
    assert looks[0].item.phase is Phase.DONE
    assert isinstance(looks[0].item.error, UnreadableAnswerError)
    assert looks[1].item.phase is Phase.WATCHING  # the other goes on


def test_an_input_that_was_being_sent_when_a_batch_died_is_not_resent() -> None:
    fingerprint = _engine().items[0].fingerprint
    engine = _engine(entries=[JournalEntry("0", 0, fingerprint, None, "submitting", None)])
    assert _only(engine.start(0.0), Create) == []
    assert engine.finished
    assert type(engine.results()[0]).__name__ == "AmbiguousSubmissionError"


def test_the_engine_refuses_a_move_its_table_does_not_allow() -> None:
    engine = _engine()
    (create,) = _only(engine.start(0.0), Create)
    engine.complete(create, Answer(error=ValueError("not sent")), now=0.0, wall_time=0.0)
    assert create.item.phase is Phase.DONE
    with pytest.raises(RuntimeError, match="cannot go from"):
        engine._move(create.item, Phase.SUBMITTING)
