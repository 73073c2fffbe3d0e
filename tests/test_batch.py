"""Many runs at once: ``background.map`` and ``deferred.map`` against the emulator.

Most tests run on the emulator's manual clock, so hundreds of runs of many
seconds take no real time; both drivers (sync and async) and both APIs
(Responses in background mode, and completionAsync operations) go through the
same checks.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import openai
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    BatchError,
    BatchProgress,
    Cancelled,
    Completed,
    Failed,
    Incomplete,
    Journal,
    JournalError,
    JournalInUseError,
    JournalMismatchError,
    PollPolicy,
    Quotas,
    RunLookupError,
    RunTimeoutError,
    YandexOpenAI,
    YCResponsesError,
)
from yc_responses.batch import WINDOW_MARGIN, RateLimiter, UnreadableAnswerError, fingerprint
from yc_responses.testing import Emulator, Fault, ManualClock, Outcome, Route

Mapper = Callable[..., list[Any]]
"""Calls ``map`` of one API on one driver with the given arguments."""


def _resource(client: Any, clock: ManualClock, api: str) -> Any:
    sleep = clock.sleep if isinstance(client, openai.OpenAI) else clock.async_sleep
    resource = client.background if api == "background" else client.deferred
    return type(resource)(client, clock=clock, sleep=sleep, wall_clock=clock)


def make_mapper(
    emulator: Emulator, clock: ManualClock, api: str, driver: str, **client: Any
) -> Mapper:
    """``map`` of ``api`` on a fresh client of the ``driver`` kind, on the manual clock."""

    def call(inputs: Any, **options: Any) -> list[Any]:
        options.setdefault("model", "yandexgpt")
        if driver == "sync":
            with emulator.client(**client) as sync_client:
                return list(_resource(sync_client, clock, api).map(inputs, **options))

        async def main() -> list[Any]:
            async with emulator.async_client(**client) as async_client:
                return list(await _resource(async_client, clock, api).map(inputs, **options))

        return anyio.run(main)

    return call


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(clock=clock, background_duration=(2.0, 40.0), seed=7) as emu:
        yield emu


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["background", "deferred"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run_map(emulator: Emulator, clock: ManualClock, api: str, driver: str) -> Mapper:
    return make_mapper(emulator, clock, api, driver)


def _text(api: str, prompt: str) -> Any:
    """What an input of ``prompt`` looks like for each API (a string works for both)."""
    if api == "background":
        return {"input": prompt}
    return {"messages": [{"role": "user", "text": prompt}]}


# --- results ------------------------------------------------------------------------


def test_results_come_in_input_order_with_every_outcome(
    emulator: Emulator, run_map: Mapper, api: str
) -> None:
    emulator.on_input(re.compile("^fail"), Outcome.failed("server_error", "boom", after=5))
    emulator.on_input(re.compile("^long"), Outcome.incomplete("max_output_tokens", "Par"))
    emulator.on_input(re.compile("^rude"), Outcome.incomplete("content_filter", after=50))
    kinds = ["ok", "fail", "ok", "long", "rude", "ok"] * 10
    prompts = [f"{kind} {i}" for i, kind in enumerate(kinds)]
    inputs = [p if i % 2 else _text(api, p) for i, p in enumerate(prompts)]

    results = run_map(inputs)

    assert len(results) == len(prompts)
    for prompt, result in zip(prompts, results, strict=True):
        if prompt.startswith("ok"):
            assert isinstance(result, Completed)
            assert result.output_text == f"Emulated answer to: {prompt}"
        elif prompt.startswith("fail"):
            assert isinstance(result, Failed)
            assert result.error.message == "boom"
        elif prompt.startswith("long"):
            assert isinstance(result, Incomplete)
            assert result.reason == "max_output_tokens"
        else:
            assert isinstance(result, Incomplete)
            assert result.reason == "content_filter"
    assert emulator.stats.creations == len(prompts)
    assert emulator.stats.duplicates() == {}


def test_create_keywords_reach_every_run(emulator: Emulator, clock: ManualClock) -> None:
    mapper = make_mapper(emulator, clock, "background", "sync")
    results = mapper(
        ["a", {"input": "b", "max_output_tokens": 3, "model": "yandexgpt-lite"}],
        instructions="Be brief",
    )
    first, second = (r.response for r in results)
    assert first.instructions == "Be brief"
    assert first.model.endswith("/yandexgpt/latest")
    assert second.max_output_tokens == 3
    assert second.model.endswith("/yandexgpt-lite/latest")


def test_a_run_cancelled_elsewhere_is_a_cancelled_result(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    emulator.on_input("stuck", Outcome.never())
    client = emulator.client()
    journal = Journal(tmp_path / "j.sqlite")

    def cancel_the_stuck_one(progress: BatchProgress) -> None:
        entry = journal.entry("1")
        if entry is not None and entry.run_id and entry.status == "in_progress":
            client.responses.cancel(entry.run_id)

    mapper = make_mapper(emulator, clock, "background", "sync")
    with journal:
        results = mapper(["fine", "stuck"], journal=journal, progress=cancel_the_stuck_one)
    assert isinstance(results[0], Completed)
    assert isinstance(results[1], Cancelled)


# --- quotas and concurrency -----------------------------------------------------------


def test_the_default_limits_cause_no_429(emulator: Emulator, run_map: Mapper) -> None:
    emulator.set_quotas(Quotas.documented())
    results = run_map([f"prompt {i}" for i in range(150)])
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.rate_limited == 0
    assert emulator.stats.creations == 150


def test_creations_keep_to_the_quota_in_every_second(
    emulator: Emulator, clock: ManualClock
) -> None:
    created_at: list[float] = []
    original = emulator.core.handle

    def spy(request: Any) -> Any:
        if request.method == "POST" and request.path == "/v1/responses":
            created_at.append(clock())
        return original(request)

    emulator.core.handle = spy  # type: ignore[method-assign]
    make_mapper(emulator, clock, "background", "sync")([f"p{i}" for i in range(60)])
    assert len(created_at) == 60
    for start in created_at:
        assert sum(start <= t < start + 1.0 for t in created_at) <= 10
    # and not much slower than the quota allows: 60 creations at 10 per second
    assert created_at[-1] - created_at[0] < 6.5


def test_a_429_that_still_comes_is_honoured_and_retried(
    emulator: Emulator, run_map: Mapper
) -> None:
    emulator.set_quotas(Quotas.documented())
    results = run_map([f"prompt {i}" for i in range(120)], quotas=Quotas())  # no client limits
    assert emulator.stats.rate_limited > 0
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.creations == 120
    assert emulator.stats.duplicates() == {}


def test_retry_after_is_waited_out_before_the_next_creation(
    emulator: Emulator, clock: ManualClock, run_map: Mapper, api: str
) -> None:
    route: Route = "responses.create" if api == "background" else "operations.create"
    emulator.inject(Fault.rate_limit(retry_after=7), route=route, times=1)
    emulator.script(Outcome.completed("done", after=1))
    results = run_map(["only one"])
    assert isinstance(results[0], Completed)
    assert emulator.stats.requests[route] == 2
    assert clock() >= 7 + 1


def test_no_more_runs_than_the_concurrency_are_on_the_server(
    emulator: Emulator, run_map: Mapper
) -> None:
    seen: list[BatchProgress] = []
    run_map([f"prompt {i}" for i in range(60)], concurrency=4, progress=seen.append)
    busiest = max(
        sum(p.counts.get(s, 0) for s in ("submitting", "queued", "in_progress")) for p in seen
    )
    assert busiest == 4
    assert seen[-1].done == seen[-1].total == 60


def test_the_rate_limiter_counts_requests_as_the_server_may_see_them() -> None:
    limiter = RateLimiter(3, 1.0)
    late = 1.0 + WINDOW_MARGIN  # an answer leaves the window this long after it came
    for _ in range(3):
        assert limiter.wait_time(0.0) == 0.0
        limiter.sent()
    assert limiter.wait_time(0.0) == math.inf  # unanswered: they may arrive any moment
    limiter.answered(0.2)
    assert limiter.wait_time(0.5) == pytest.approx(0.2 + late - 0.5)
    limiter.answered(0.4)
    assert limiter.wait_time(0.5) == pytest.approx(0.2 + late - 0.5)
    assert limiter.wait_time(0.2 + late) == 0.0
    limiter.sent()
    assert limiter.wait_time(0.2 + late) == pytest.approx(0.2)  # then the one at 0.4 must leave


def test_a_window_edge_on_an_uneven_clock_causes_no_429() -> None:
    """Rounding of ``3.1 + 1.0`` must not let a creation in a hair before the server's window
    lets it: the emulator counts with other arithmetic on the same clock."""
    clock = ManualClock(start=0.1)
    with Emulator(clock=clock, background_duration=0.5, quotas=Quotas.documented()) as emu:
        results = make_mapper(emu, clock, "background", "sync")([f"p{i}" for i in range(60)])
        assert all(isinstance(r, Completed) for r in results)
        assert emu.stats.rate_limited == 0


# --- faults -------------------------------------------------------------------------


def test_a_create_whose_answer_was_lost_is_reported_not_resent(
    emulator: Emulator, clock: ManualClock, tmp_path: Path, api: str, driver: str
) -> None:
    route: Route = "responses.create" if api == "background" else "operations.create"
    emulator.inject(Fault.drop(after_processing=True), route=route, times=1, skip=2)
    journal = tmp_path / "batch.sqlite"
    inputs = [f"prompt {i}" for i in range(5)]
    run = make_mapper(emulator, clock, api, driver, max_retries=0)

    results = run(inputs, journal=journal, return_exceptions=True)

    lost = [i for i, r in enumerate(results) if isinstance(r, AmbiguousSubmissionError)]
    assert len(lost) == 1  # the third creation to arrive (in any order, on the async driver)
    error = results[lost[0]]
    assert error.key == str(lost[0])
    assert "resubmit_ambiguous=True" in str(error)
    assert all(isinstance(r, Completed) for i, r in enumerate(results) if i not in lost)
    assert emulator.stats.creations == 5  # the lost one was created once, and not resent
    with pytest.raises(BatchError) as raised:
        run(inputs, journal=journal)  # resuming does not resend it either
    assert list(raised.value.errors) == lost
    assert emulator.stats.creations == 5

    again = run(inputs, journal=journal, resubmit_ambiguous=True)
    assert all(isinstance(r, Completed) for r in again)
    assert emulator.stats.creations == 6  # the one deliberate second submission


def test_a_rejected_input_gets_its_error_and_the_others_run(
    emulator: Emulator, run_map: Mapper, api: str, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    inputs: list[Any] = ["first", {"model": "no-such-model", **_text(api, "x")}, "third"]
    with pytest.raises(BatchError) as raised:
        run_map(inputs, journal=journal)
    error = raised.value
    assert list(error.errors) == [1]
    assert isinstance(error.errors[1], openai.NotFoundError)
    assert "1 of 3 inputs got no result (1 NotFoundError)" in str(error)
    assert isinstance(error.results[0], Completed)
    assert isinstance(error.results[2], Completed)
    with Journal(journal) as opened:
        assert opened.entry("1") is None  # never created: a later run may send it


def test_bad_credentials_stop_the_batch_at_once(emulator: Emulator, clock: ManualClock) -> None:
    run = make_mapper(emulator, clock, "background", "sync", api_key="wrong-key")
    with pytest.raises(openai.AuthenticationError):
        run([f"prompt {i}" for i in range(200)])
    assert emulator.stats.requests["responses.create"] <= 16
    assert emulator.stats.creations == 0


def test_no_access_to_the_folder_stops_the_batch_at_once(
    emulator: Emulator, clock: ManualClock
) -> None:
    run = make_mapper(emulator, clock, "background", "sync", folder_id="b1gnotmyfolder")
    with pytest.raises(openai.PermissionDeniedError):
        run([f"prompt {i}" for i in range(200)])
    assert emulator.stats.requests["responses.create"] <= 16


def test_a_created_run_whose_answer_cannot_be_read_is_followed_not_resent(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    original = emulator.core.handle
    garbled: list[str] = []

    def garble(request: Any) -> Any:  # the operation is created, its answer is unreadable
        reply = original(request)
        if request.path.endswith("completionAsync") and b"prompt 2" in request.body:
            assert reply.body is not None
            garbled.append(reply.body["id"])
            reply.body = {"id": reply.body["id"], "done": "not a boolean"}
        return reply

    emulator.core.handle = garble  # type: ignore[method-assign]
    journal = tmp_path / "batch.sqlite"
    run = make_mapper(emulator, clock, "deferred", "sync")
    results = run(["prompt 1", "prompt 2", "prompt 3"], journal=journal)
    assert len(garbled) == 1
    assert results[1].response_id == garbled[0]
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.creations == 3
    assert emulator.stats.duplicates() == {}


def test_lost_sight_of_a_run_keeps_its_id(emulator: Emulator, clock: ManualClock) -> None:
    emulator.inject(Fault.error(503), route="responses.retrieve")
    resource = _resource(emulator.client(), clock, "background")
    results = resource.map(
        ["a", "b"],
        model="yandexgpt",
        policy=PollPolicy(max_outage=20),
        return_exceptions=True,
    )
    for result in results:
        assert isinstance(result, RunLookupError)
        assert emulator.status_of(result.response_id) is not None
        assert isinstance(result.__cause__, openai.InternalServerError)
        assert f"client.background.attach({result.response_id!r})" in str(result)


def test_creations_refused_for_too_long_stop_the_batch_for_a_later_resume(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    emulator.set_quotas(Quotas(creates_per_hour=20))  # used up by someone else, say
    journal = tmp_path / "batch.sqlite"
    inputs = [f"prompt {i}" for i in range(50)]
    resource = _resource(emulator.client(), clock, "background")
    with pytest.raises(openai.RateLimitError) as raised:
        resource.map(inputs, model="yandexgpt", journal=journal, policy=PollPolicy(max_outage=60))
    assert any("run the same call again" in n for n in getattr(raised.value, "__notes__", [""]))
    assert emulator.stats.creations == 20
    with Journal(journal) as saved:
        assert sorted(e.key for e in saved.entries()) == sorted(str(i) for i in range(20))

    emulator.set_quotas(None)  # the hour has passed
    results = resource.map(inputs, model="yandexgpt", journal=journal)
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.creations == 50
    assert emulator.stats.duplicates() == {}


def test_faults_while_polling_are_sat_out(emulator: Emulator, run_map: Mapper, api: str) -> None:
    route: Route = "responses.retrieve" if api == "background" else "operations.get"
    emulator.inject(Fault.error(503), route=route, rate=0.3)
    emulator.inject(Fault.drop(), route=route, rate=0.1)
    results = run_map([f"prompt {i}" for i in range(30)])
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.statuses[503] > 0


def test_a_run_past_its_timeout_is_left_going_and_kept(
    emulator: Emulator, clock: ManualClock, run_map: Mapper, tmp_path: Path
) -> None:
    emulator.on_input("stuck", Outcome.never())
    journal = tmp_path / "batch.sqlite"
    results = run_map(["fine", "stuck"], journal=journal, run_timeout=600, return_exceptions=True)
    assert isinstance(results[0], Completed)
    late = results[1]
    assert isinstance(late, RunTimeoutError)
    assert emulator.status_of(late.response_id) == "in_progress"  # not cancelled
    assert 600 <= clock() < 610
    with Journal(journal) as saved:
        entry = saved.entry("1")
    assert entry is not None
    assert entry.run_id == late.response_id  # a later run of the batch attaches to it


@pytest.mark.parametrize(
    ("inputs", "options", "message"),
    [
        (["a", 3], {}, "input 1 is a int"),
        (
            ["a", {"input": "b", "strem": True}],
            {},
            r"input 1: responses.create\(\) takes no 'strem'",
        ),
        (["a"], {"stream": True}, "input 0: stream=True is not supported"),
        (["a", "b"], {"keys": ["k", "k"]}, "keys= repeats 'k'"),
        (["a", "b"], {"keys": ["k"]}, "keys= has 1 keys for 2 inputs"),
        (["a"], {"concurrency": 0}, "concurrency must be a positive int"),
        (["a"], {"run_timeout": -1}, "run_timeout must be >= 0 seconds"),
        ("one text", {}, "takes a list of inputs, not one str"),
        ({"input": "a"}, {}, "takes a list of inputs, not one dict"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    emulator: Emulator,
    clock: ManualClock,
    inputs: Any,
    options: dict[str, Any],
    message: str,
) -> None:
    run = make_mapper(emulator, clock, "background", "sync")
    with pytest.raises((TypeError, ValueError), match=message):
        run(inputs, **options)
    assert sum(emulator.stats.requests.values()) == 0


def test_bad_deferred_input_is_refused_before_anything_is_sent(
    emulator: Emulator, clock: ManualClock
) -> None:
    run = make_mapper(emulator, clock, "deferred", "sync")
    with pytest.raises(ValueError, match="input 1: temperature must be between 0 and 1"):
        run(["a", {"messages": "b", "temperature": 3}])
    with pytest.raises(TypeError, match=r"input 0: deferred.create\(\) takes no 'input'"):
        run([{"input": "b"}])
    assert sum(emulator.stats.requests.values()) == 0


# --- the journal ------------------------------------------------------------------------


class Interrupt(Exception):
    """Stands for Ctrl+C in the middle of a batch."""


def test_an_interrupted_batch_resumes_without_resubmitting(
    emulator: Emulator, clock: ManualClock, run_map: Mapper, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    inputs = [f"prompt {i}" for i in range(50)]

    def stop_midway(progress: BatchProgress) -> None:
        if progress.counts.get("completed", 0) >= 20:
            raise Interrupt

    with pytest.raises(Interrupt) as raised:
        run_map(inputs, journal=journal, concurrency=10, progress=stop_midway)
    assert any(str(journal) in note for note in getattr(raised.value, "__notes__", [""]))
    created_before = emulator.stats.creations
    assert 20 <= created_before < 50

    seen: list[BatchProgress] = []
    results = run_map(inputs, journal=journal, concurrency=10, progress=seen.append)

    assert [r.output_text for r in results] == [f"Emulated answer to: {p}" for p in inputs]
    assert emulator.stats.creations == 50
    assert emulator.stats.duplicates() == {}
    assert seen[0].resumed == created_before
    assert seen[0].counts["completed"] >= 20


def test_finished_inputs_are_read_from_the_journal(
    emulator: Emulator, run_map: Mapper, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    inputs = ["a", "b", "c"]
    first = run_map(inputs, journal=journal)
    requests = sum(emulator.stats.requests.values())
    again = run_map(inputs, journal=journal)
    assert sum(emulator.stats.requests.values()) == requests  # not one request
    assert [(r.response_id, r.status, r.output_text) for r in again] == [
        (r.response_id, r.status, r.output_text) for r in first
    ]
    assert again[0].response.id == first[0].response.id


class Stop(BaseException):
    """Not an Exception: the async driver must still raise it as itself."""


def test_a_stop_while_inputs_are_handed_out_leaves_none_ambiguous(
    emulator: Emulator, run_map: Mapper, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    inputs = [f"prompt {i}" for i in range(30)]

    def stop_while_submitting(progress: BatchProgress) -> None:
        if progress.counts.get("submitting", 0) >= 3:
            raise Stop

    with pytest.raises(Stop):
        run_map(inputs, journal=journal, progress=stop_while_submitting)
    assert emulator.stats.creations < 30
    with Journal(journal) as saved:
        assert not [e.key for e in saved.entries() if e.is_ambiguous]
    results = run_map(inputs, journal=journal)
    assert all(isinstance(r, Completed) for r in results)
    assert emulator.stats.creations == 30
    assert emulator.stats.duplicates() == {}


def test_a_refused_resume_leaves_the_journal_as_it_was(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    emulator.inject(Fault.drop(after_processing=True), route="responses.create", times=1)
    journal = tmp_path / "batch.sqlite"
    run = make_mapper(emulator, clock, "background", "sync", max_retries=0)
    first = run(["a", "b", "c"], journal=journal, return_exceptions=True)
    lost = next(str(i) for i, r in enumerate(first) if isinstance(r, AmbiguousSubmissionError))
    with pytest.raises(JournalMismatchError):
        run(["a", "b", "c"], journal=journal, resubmit_ambiguous=True, keys=["2", "1", "0"])
    with Journal(journal) as saved:
        entry = saved.entry(lost)
    assert entry is not None
    assert entry.is_ambiguous  # not forgotten by the call that was refused


def test_a_journal_of_other_inputs_is_refused(
    emulator: Emulator, run_map: Mapper, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    run_map(["a", "b"], journal=journal)
    with pytest.raises(JournalMismatchError, match=r"input 1.*new journal file"):
        run_map(["a", "changed"], journal=journal)


def test_keys_name_the_journal_rows(emulator: Emulator, clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "batch.sqlite"
    make_mapper(emulator, clock, "background", "sync")(
        ["a", "b"], keys=["alpha", "beta"], journal=path
    )
    with Journal(path) as journal:
        entries = list(journal.entries())
    assert [(e.key, e.status) for e in entries] == [("alpha", "completed"), ("beta", "completed")]
    assert all(e.run_id and e.result for e in entries)


# --- progress ---------------------------------------------------------------------------


def test_progress_counts_every_state(emulator: Emulator, run_map: Mapper, api: str) -> None:
    emulator.on_input("bad", Outcome.failed())
    seen: list[BatchProgress] = []
    run_map(["good", "bad", "good again"], progress=seen.append)
    states = {state for progress in seen for state in progress.counts}
    waiting = "queued" if api == "background" else "in_progress"  # operations are never queued
    assert {"pending", "submitting", waiting, "completed", "failed"} <= states
    assert str(seen[-1]) == "3/3 done: completed=2 failed=1"
    assert all(sum(p.counts.values()) == 3 for p in seen)


def test_a_progress_bar_is_drawn_when_asked(
    emulator: Emulator, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    make_mapper(emulator, clock, "background", "sync")(["a", "b"], progress=True)
    assert re.search(r"runs: 100%.*2/2.*completed=2", err.getvalue())


def test_no_bar_by_default_off_a_terminal(
    emulator: Emulator, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    make_mapper(emulator, clock, "background", "sync")(["a", "b"])
    assert capsys.readouterr().err == ""


def test_a_batch_with_the_pytest_fixtures_as_the_readme_shows(
    yc_client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.on_input("bad", Outcome.failed("invalid_prompt", "no"))
    background = yc_client.background.with_options(clock=yc_clock, sleep=yc_clock.sleep)
    results = background.map(["good", "bad"] * 100, model="yandexgpt")
    assert [r.status for r in results[:2]] == ["completed", "failed"]
    assert yc_clock() >= 19  # 200 creations at 10 per second, in no real time
    assert yc_emulator.stats.creations == 200


# --- a batch killed with SIGKILL ------------------------------------------------------------

CHILD = """
import json, sys
from yc_responses import YandexOpenAI
base_url, api_key, folder, journal, out = sys.argv[1:]
client = YandexOpenAI(api_key=api_key, folder_id=folder, base_url=base_url)
inputs = [f"fast {i}" for i in range(5)] + [f"slow {i}" for i in range(5, 30)]
results = client.background.map(inputs, model="yandexgpt", journal=journal, concurrency=10)
with open(out, "w") as f:
    json.dump([[r.status.value, r.output_text] for r in results], f)
"""


def _journal_rows(path: Path) -> list[tuple[str | None, str | None]]:
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            return db.execute("SELECT run_id, result FROM runs").fetchall()
        except sqlite3.OperationalError:  # the schema is not written yet
            return []


def test_a_killed_batch_resumes_without_a_single_duplicate(tmp_path: Path) -> None:
    """Real processes on a real clock: SIGKILL lands while ten runs are on the server."""
    journal, out = tmp_path / "batch.sqlite", tmp_path / "results.json"
    with Emulator(quotas=Quotas.documented()) as emulator:
        emulator.on_input(re.compile("^fast"), Outcome.completed(after=0.2))
        emulator.on_input(re.compile("^slow"), Outcome.completed(after=2.0))
        command = [
            sys.executable,
            "-c",
            CHILD,
            emulator.base_url,
            emulator.api_key,
            emulator.folder_id,
            str(journal),
            str(out),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("YC_", "OPENAI_"))}
        child = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 30
        try:
            # wait until 5 runs finished and 15 are known (10 on the server: concurrency is
            # full, so no creation is in flight), then kill the process without warning
            while time.monotonic() < deadline:
                rows = _journal_rows(journal)
                if (
                    sum(r[0] is not None for r in rows) == 15
                    and sum(r[1] is not None for r in rows) == 5
                ):
                    break
                assert child.poll() is None, "the batch ended before it could be killed"
                time.sleep(0.02)
            else:
                pytest.fail(f"the batch never reached the point to kill it: {rows}")
            child.kill()
        finally:
            child.wait(timeout=30)
        assert child.returncode == -9
        assert not out.exists()
        assert emulator.stats.creations == 15

        resumed = subprocess.run(command, env=env, timeout=60, check=False)

        assert resumed.returncode == 0
        assert emulator.stats.creations == 30  # every input created exactly once
        assert emulator.stats.duplicates() == {}
        assert emulator.stats.rate_limited == 0
    results = json.loads(out.read_text())
    expected = [f"fast {i}" for i in range(5)] + [f"slow {i}" for i in range(5, 30)]
    assert results == [["completed", f"Emulated answer to: {p}"] for p in expected]


# --- odd answers and odd inputs -------------------------------------------------------

POISONED_STATUS: dict[str, Callable[[str], Any]] = {
    "no output": lambda run_id: {
        "id": run_id,
        "object": "response",
        "status": "completed",
        "output": None,
    },
    "html": lambda run_id: "<html><body>502 Bad Gateway</body></html>",
    "json array": lambda run_id: [{"id": run_id}],
    "another run": lambda run_id: {"id": "resp_someone_else", "status": "completed", "output": []},
}


def _poison(emulator: Emulator, marker: bytes, answer: Callable[[Any, str], Any]) -> list[str]:
    """Replace the emulator's answers about the run of the input holding ``marker``:
    ``answer(reply, run_id)`` gives the new body (``reply.body`` as is: no change)."""
    original = emulator.core.handle
    poisoned: list[str] = []

    def handle(request: Any) -> Any:
        reply = original(request)
        if request.method == "POST" and marker in request.body and isinstance(reply.body, dict):
            poisoned.append(reply.body["id"])
        run_id = next((p for p in poisoned if request.path.endswith(p)), None)
        if (request.method == "POST" and marker in request.body) or run_id is not None:
            reply.body = answer(reply, run_id or "")
        return reply

    emulator.core.handle = handle  # type: ignore[method-assign]
    return poisoned


@pytest.mark.parametrize("kind", sorted(POISONED_STATUS))
def test_a_status_answer_that_cannot_be_read_is_that_inputs_error(
    emulator: Emulator, clock: ManualClock, driver: str, tmp_path: Path, kind: str
) -> None:
    make = POISONED_STATUS[kind]
    poisoned = _poison(
        emulator, b"poison", lambda reply, run_id: make(run_id) if run_id else reply.body
    )
    inputs = [f"prompt {i}" for i in range(30)]
    inputs[17] = "poison 17"
    journal = tmp_path / "batch.sqlite"
    run = make_mapper(emulator, clock, "background", driver)

    results = run(inputs, journal=journal, return_exceptions=True)

    error = results[17]
    assert isinstance(error, UnreadableAnswerError)
    assert isinstance(error, YCResponsesError)
    assert (error.key, error.response_id) == ("17", poisoned[0])
    assert error.raw is not None
    assert all(isinstance(r, Completed) for i, r in enumerate(results) if i != 17)
    requests = sum(emulator.stats.requests.values())

    again = run(inputs, journal=journal, return_exceptions=True)  # a rerun ends the same way

    assert isinstance(again[17], UnreadableAnswerError)
    assert again[17].response_id == poisoned[0]
    assert [r.output_text for i, r in enumerate(again) if i != 17] == [
        r.output_text for i, r in enumerate(results) if i != 17
    ]
    assert sum(emulator.stats.requests.values()) == requests  # all read from the journal


def test_a_creation_answer_without_an_id_is_that_inputs_error_and_not_resent(
    emulator: Emulator, clock: ManualClock, driver: str, tmp_path: Path
) -> None:
    def without_id(reply: Any, run_id: str) -> Any:
        if run_id or not isinstance(reply.body, dict):
            return reply.body
        return {k: v for k, v in reply.body.items() if k != "id"}

    _poison(emulator, b"poison", without_id)
    inputs = ["first", "poison", "third"]
    journal = tmp_path / "batch.sqlite"
    run = make_mapper(emulator, clock, "background", driver)

    with pytest.raises(BatchError) as raised:
        run(inputs, journal=journal)
    error = raised.value.errors[1]
    assert isinstance(error, UnreadableAnswerError)
    assert error.response_id is None
    assert "the creation answer cannot be read" in str(error)
    assert isinstance(raised.value.results[0], Completed)
    assert isinstance(raised.value.results[2], Completed)

    again = run(inputs, journal=journal, return_exceptions=True, resubmit_ambiguous=True)
    assert isinstance(again[1], UnreadableAnswerError)
    assert emulator.stats.creations == 3  # answered once: never sent again


def test_an_operation_the_library_cannot_read_is_that_inputs_error(
    emulator: Emulator, clock: ManualClock, driver: str, tmp_path: Path
) -> None:
    _poison(
        emulator,
        b"poison",
        lambda reply, run_id: {"id": run_id, "done": "maybe"} if run_id else reply.body,
    )
    journal = tmp_path / "batch.sqlite"
    run = make_mapper(emulator, clock, "deferred", driver)
    inputs = ["one", "poison", "three"]
    results = run(inputs, journal=journal, return_exceptions=True)
    assert isinstance(results[1], UnreadableAnswerError)
    assert results[1].raw == {"id": results[1].response_id, "done": "maybe"}
    assert isinstance(results[0], Completed)
    assert isinstance(results[2], Completed)
    with Journal(journal) as saved:
        entry = saved.entry("1")
    assert entry is not None
    assert entry.status == "error"  # recorded as finished: a rerun does not ask again
    looks = emulator.stats.requests["operations.get"]
    again = run(inputs, journal=journal, return_exceptions=True)
    assert isinstance(again[1], UnreadableAnswerError)
    assert emulator.stats.requests["operations.get"] == looks


class TickingClock(ManualClock):
    """A manual clock that moves on a little at every reading: time passes while the
    sync driver waits for requests that do not answer (it never sleeps then)."""

    def __call__(self) -> float:
        return self.advance(0.01)


def test_hung_creations_do_not_hold_up_the_looks_at_runs_going() -> None:
    clock = TickingClock()
    released = threading.Event()
    timed_out: list[str] = []

    with Emulator(clock=clock, background_duration=0.0) as emulator:
        original = emulator.core.handle

        def handle(request: Any) -> Any:
            hangs = request.method == "POST" and b"hang" in request.body
            if hangs and not released.wait(timeout=10):  # a creation that does not answer
                timed_out.append(request.body.decode())
            return original(request)

        emulator.core.handle = handle  # type: ignore[method-assign]

        def release_when_the_others_are_done(progress: BatchProgress) -> None:
            if progress.counts.get("completed", 0) == 8:
                released.set()

        inputs = [f"ok {i}" for i in range(8)] + [f"hang {i}" for i in range(16)]
        results = make_mapper(emulator, clock, "background", "sync")(
            inputs,
            concurrency=len(inputs),
            policy=PollPolicy.fixed(0.01),
            quotas=Quotas(),  # no client-side pacing of creations: every slot fills at once
            progress=release_when_the_others_are_done,
        )
    assert timed_out == []  # the 8 finished while the creations after them hung
    assert all(isinstance(r, Completed) for r in results)


def test_an_input_with_a_lone_surrogate_has_a_fingerprint() -> None:
    assert fingerprint({"input": "\ud800"}) != fingerprint({"input": "\ud801"})
    assert fingerprint({"input": "Hi", "model": "yandexgpt"}) == (  # unchanged by the fix
        hashlib.sha256(b'{"input": "Hi", "model": "yandexgpt"}').hexdigest()
    )


def test_a_journal_in_a_read_only_folder_is_refused_before_anything_is_sent(
    emulator: Emulator, run_map: Mapper, tmp_path: Path
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(JournalError, match="writable folder"):
            run_map(["a"], journal=folder / "batch.sqlite")
    finally:
        folder.chmod(0o755)
    assert emulator.stats.creations == 0


def test_a_journal_in_use_by_another_batch_is_refused(
    emulator: Emulator, run_map: Mapper, tmp_path: Path
) -> None:
    journal = tmp_path / "batch.sqlite"
    with Journal(journal), pytest.raises(JournalInUseError) as raised:
        run_map(["a"], journal=journal)
    assert raised.value.pid == os.getpid()
    assert emulator.stats.creations == 0


def test_a_key_no_journal_can_store_is_refused_before_anything_is_sent(
    emulator: Emulator, run_map: Mapper
) -> None:
    with pytest.raises(ValueError, match="lone surrogate at input 1"):
        run_map(["a", "b"], keys=["fine", "bad \ud800"])
    assert emulator.stats.creations == 0
