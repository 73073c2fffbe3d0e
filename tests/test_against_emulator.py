"""Background runs and deferred operations against the emulator, a separate implementation
of the documented API, on its manual clock: a 300 s job takes no real time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    AsyncBackground,
    AsyncDeferred,
    Background,
    Cancelled,
    Completed,
    Deferred,
    Failed,
    Incomplete,
    PollPolicy,
    RunStatus,
    RunTimeoutError,
)
from yc_responses.testing import Emulator, Fault, ManualClock, Outcome

Check = Callable[[Any], bool]

OUTCOMES: list[tuple[Outcome, Check]] = [
    (
        Outcome.completed("Paris", after=30),
        lambda r: isinstance(r, Completed) and r.output_text == "Paris",
    ),
    (
        Outcome.failed("server_error", "boom", after=12),
        lambda r: isinstance(r, Failed) and r.error.message == "boom",
    ),
    (
        Outcome.incomplete("max_output_tokens", "Par", after=3),
        lambda r: isinstance(r, Incomplete) and r.reason == "max_output_tokens",
    ),
    (
        Outcome.incomplete("content_filter", after=300),
        lambda r: isinstance(r, Incomplete) and r.reason == "content_filter",
    ),
]


def sync_background(emulator: Emulator, clock: ManualClock, **client: Any) -> Background:
    return emulator.client(max_retries=0, **client).background.with_options(
        clock=clock, sleep=clock.sleep, wall_clock=clock
    )


@asynccontextmanager
async def async_background(
    emulator: Emulator, clock: ManualClock
) -> AsyncIterator[AsyncBackground]:
    async with emulator.async_client(max_retries=0) as client:
        yield client.background.with_options(clock=clock, sleep=clock.async_sleep, wall_clock=clock)


def sync_deferred(emulator: Emulator, clock: ManualClock) -> Deferred:
    client = emulator.client(max_retries=0)
    return Deferred(client, clock=clock, sleep=clock.sleep, wall_clock=clock)


@asynccontextmanager
async def async_deferred(emulator: Emulator, clock: ManualClock) -> AsyncIterator[AsyncDeferred]:
    async with emulator.async_client(max_retries=0) as client:
        yield AsyncDeferred(client, clock=clock, sleep=clock.async_sleep, wall_clock=clock)


# --- background responses -------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "check"), OUTCOMES)
def test_background_outcomes(
    yc_emulator: Emulator, yc_clock: ManualClock, outcome: Outcome, check: Check
) -> None:
    yc_emulator.script(outcome)
    seen: list[RunStatus] = []
    result = sync_background(yc_emulator, yc_clock).run(
        model="yandexgpt", input="Capital of France?", on_status=lambda s, _: seen.append(s)
    )
    assert check(result), result
    assert seen[-1] is result.status
    assert yc_emulator.stats.duplicates() == {}


@pytest.mark.anyio
@pytest.mark.parametrize(("outcome", "check"), OUTCOMES)
async def test_async_background_outcomes(
    yc_emulator: Emulator, yc_clock: ManualClock, outcome: Outcome, check: Check
) -> None:
    yc_emulator.script(outcome)
    async with async_background(yc_emulator, yc_clock) as background:
        run = await background.create(model="yandexgpt", input="Hi")
        result = await run
    assert check(result), result
    assert result.response_id == run.id


def test_the_default_policy_is_cheap_on_long_jobs(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("done", after=300))
    result = sync_background(yc_emulator, yc_clock).run(model="yandexgpt", input="x")
    assert isinstance(result, Completed)
    looks = yc_emulator.stats.requests["responses.retrieve"]
    assert looks <= 300 / 5 + 15  # about one look per 5 s once the schedule reaches its cap
    assert yc_clock() - 300 <= PollPolicy().cap


@pytest.mark.parametrize("started", [False, True])
def test_cancelling_a_queued_or_running_run(
    yc_emulator: Emulator, yc_clock: ManualClock, started: bool
) -> None:
    yc_emulator.script(Outcome.completed(after=60, queued=5))
    background = sync_background(yc_emulator, yc_clock)
    run = background.create(model="yandexgpt", input="x")
    if started:
        yc_clock.advance(10)
        assert run.refresh() is RunStatus.IN_PROGRESS
    assert isinstance(run.cancel(), Cancelled)
    assert yc_emulator.status_of(run.id) == "cancelled"


@pytest.mark.anyio
async def test_cancelling_a_finished_run_keeps_its_result(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("kept", after=1))
    async with async_background(yc_emulator, yc_clock) as background:
        run = await background.create(model="yandexgpt", input="x")
        assert isinstance(await run, Completed)
        result = await background.attach(run.id).cancel()
    assert isinstance(result, Completed)
    assert result.output_text == "kept"


def test_a_wait_past_its_timeout_leaves_the_run_going(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.never())
    run = sync_background(yc_emulator, yc_clock).create(model="yandexgpt", input="x")
    with pytest.raises(RunTimeoutError) as caught:
        run.wait(timeout=45)
    assert caught.value.response_id == run.id
    assert yc_emulator.status_of(run.id) in ("queued", "in_progress")
    assert yc_emulator.stats.requests.get("responses.cancel", 0) == 0


def test_attach_from_a_new_client(yc_emulator: Emulator, yc_clock: ManualClock) -> None:
    yc_emulator.script(Outcome.completed("later", after=100))
    run_id = sync_background(yc_emulator, yc_clock).create(model="yandexgpt", input="x").id
    fresh = sync_background(yc_emulator, yc_clock)
    assert fresh.attach(run_id).wait().unwrap() == "later"


@pytest.mark.parametrize(
    "fault", [Fault.rate_limit(retry_after=2), Fault.error(503), Fault.error(500), Fault.drop()]
)
def test_storms_while_polling_never_lose_the_run(
    yc_emulator: Emulator, yc_clock: ManualClock, fault: Fault
) -> None:
    yc_emulator.script(Outcome.completed("survived", after=20))
    yc_emulator.inject(fault, route="responses.retrieve", times=6)
    result = sync_background(yc_emulator, yc_clock).run(model="yandexgpt", input="x")
    assert result.unwrap() == "survived"
    assert yc_emulator.stats.requests["responses.retrieve"] >= 7


@pytest.mark.parametrize("fault", [Fault.drop(after_processing=True), Fault.error(503)])
def test_an_ambiguous_create_is_never_resent(
    yc_emulator: Emulator, yc_clock: ManualClock, fault: Fault
) -> None:
    yc_emulator.inject(fault, route="responses.create", times=1)
    with pytest.raises(AmbiguousSubmissionError):
        sync_background(yc_emulator, yc_clock).create(model="yandexgpt", input="once")
    assert yc_emulator.stats.requests["responses.create"] == 1
    assert yc_emulator.stats.duplicates() == {}


def test_a_rate_limited_create_is_retried_once_taken(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.inject(Fault.rate_limit(retry_after=3), route="responses.create", times=2)
    run = sync_background(yc_emulator, yc_clock).create(model="yandexgpt", input="x")
    assert run.id
    assert yc_emulator.stats.requests["responses.create"] == 3
    assert yc_emulator.stats.creations == 1
    assert yc_clock() >= 6  # the server's Retry-After was honoured twice


def test_the_streaming_wait_resumes_after_a_dropped_connection() -> None:
    # the stream is served as the emulator's clock moves: a real clock and a short run
    with Emulator(background_duration=0.3) as emulator:
        emulator.inject(Fault.drop(after_events=2), route="responses.stream", times=1)
        background = emulator.client(max_retries=0).background
        run = background.create(model="yandexgpt", input="Stream me")
        result = run.wait(timeout=30, strategy="stream")
        assert isinstance(result, Completed)
        assert result.output_text
        assert emulator.stats.requests["responses.stream"] == 2
        assert emulator.stats.requests.get("responses.retrieve", 0) == 0


# --- deferred operations --------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "check"), OUTCOMES)
def test_deferred_outcomes(
    yc_emulator: Emulator, yc_clock: ManualClock, outcome: Outcome, check: Check
) -> None:
    yc_emulator.script(outcome)
    result = sync_deferred(yc_emulator, yc_clock).run(
        model="yandexgpt", messages=[{"role": "user", "content": "Capital of France?"}]
    )
    assert check(result), result
    assert yc_emulator.stats.requests["operations.create"] == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("outcome", "check"), OUTCOMES)
async def test_async_deferred_outcomes(
    yc_emulator: Emulator, yc_clock: ManualClock, outcome: Outcome, check: Check
) -> None:
    yc_emulator.script(outcome)
    async with async_deferred(yc_emulator, yc_clock) as deferred:
        run = await deferred.create(model="yandexgpt", messages="Hi")
        assert check(await run)


def test_deferred_cancel_and_usage(yc_emulator: Emulator, yc_clock: ManualClock) -> None:
    yc_emulator.script(Outcome.never(), Outcome.completed("Le lac", after=5))
    deferred = sync_deferred(yc_emulator, yc_clock)
    assert isinstance(deferred.create(model="yandexgpt", messages="a").cancel(), Cancelled)
    completed = deferred.run(model="yandexgpt", messages="b", max_tokens=100)
    assert isinstance(completed, Completed)
    usage = completed.response.usage
    assert usage is not None
    assert usage.total_tokens == usage.input_text_tokens + usage.completion_tokens > 0


def test_cancelling_a_done_operation_keeps_its_result(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("Done", after=5))
    deferred = sync_deferred(yc_emulator, yc_clock)
    run = deferred.create(model="yandexgpt", messages="a")
    yc_clock.advance(10)
    result = run.cancel()
    assert isinstance(result, Completed)
    assert result.output_text == "Done"
    assert yc_emulator.stats.requests["operations.cancel"] == 1  # refused with 409, not retried
    assert yc_clock.slept == []


@pytest.mark.anyio
async def test_async_cancelling_a_done_operation_keeps_its_result(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("Done", after=5))
    async with async_deferred(yc_emulator, yc_clock) as deferred:
        run = await deferred.create(model="yandexgpt", messages="a")
        yc_clock.advance(10)
        result = await run.cancel()
    assert isinstance(result, Completed)
    assert yc_emulator.stats.requests["operations.cancel"] == 1


@pytest.fixture
def other_folder_emulator(yc_clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(clock=yc_clock, folder_id="b1gotherfolder") as emulator:
        yield emulator


def test_a_model_in_another_folder_is_refused(other_folder_emulator: Emulator) -> None:
    import openai

    client = other_folder_emulator.client(max_retries=0)
    with pytest.raises((openai.BadRequestError, openai.PermissionDeniedError)):
        client.responses.create(model="gpt://b1gsomeoneelse/yandexgpt/latest", input="x")
