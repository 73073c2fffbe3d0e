"""The pure engine: policy schedules, server hints, fault classes, deadlines, statuses."""

from __future__ import annotations

import email.utils
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
import pytest
from openai.types.responses import Response

from yc_responses import (
    Cancelled,
    Completed,
    Failed,
    Incomplete,
    PollPolicy,
    RunStatus,
    RunTimeoutError,
    UnexpectedStatusError,
)
from yc_responses.kinds.responses import result_of_response, status_of_response
from yc_responses.polling import (
    FaultBudget,
    PollLoop,
    Snapshot,
    is_transient,
    server_hint,
    was_not_sent,
)
from yc_responses.results import AnyRunResult
from yc_responses.steps import Request, Steps, drive_sync, wait


def _rng(seed: int) -> random.Random:
    """Seeded randomness for jitter and property tests (not for secrets)."""
    return random.Random(seed)  # noqa: S311


def _full_jitter(rng: random.Random) -> Callable[[float], float]:
    """``backoff.full_jitter`` with a seeded generator."""
    return lambda value: rng.uniform(0, value)


_REQUEST = httpx2.Request("GET", "http://test/v1/responses/r")


def _status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(code, request=_REQUEST, headers=headers, json={"error": {}})
    return openai.OpenAI(api_key="k", base_url="http://test")._make_status_error_from_response(
        response
    )


def _connection_error(cause: Exception) -> openai.APIConnectionError:
    error_class = openai.APITimeoutError if isinstance(cause, httpx2.TimeoutException) else None
    try:
        raise cause
    except Exception as exc:
        try:
            if error_class is not None:
                raise openai.APITimeoutError(request=_REQUEST) from exc
            raise openai.APIConnectionError(request=_REQUEST) from exc
        except openai.APIConnectionError as wrapped:
            return wrapped


# --- PollPolicy -----------------------------------------------------------------


def test_default_schedule_doubles_from_half_a_second_to_five() -> None:
    delays = PollPolicy(jitter=0).delays()
    assert list(itertools.islice(delays, 7)) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jitter_takes_only_the_jittered_fraction_of_each_delay() -> None:
    lowest = list(itertools.islice(PollPolicy().delays(jitter=lambda _: 0.0), 5))
    highest = list(itertools.islice(PollPolicy().delays(jitter=lambda value: value), 5))
    assert lowest == [0.375, 0.75, 1.5, 3.0, 3.75]
    assert highest == [0.5, 1.0, 2.0, 4.0, 5.0]


def test_fixed_policy_is_every_interval_exactly() -> None:
    policy = PollPolicy.fixed(2.0)
    assert list(itertools.islice(policy.delays(), 4)) == [2.0, 2.0, 2.0, 2.0]
    assert policy.max_outage == 300.0


@pytest.mark.parametrize(
    "options",
    [{"initial": -1.0}, {"cap": -1.0}, {"factor": 0.5}, {"jitter": 1.5}, {"jitter": -0.1}],
)
def test_policy_rejects_nonsense(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**options)


def _random_policy(rng: random.Random) -> PollPolicy:
    return PollPolicy(
        initial=rng.uniform(0, 5),
        cap=rng.uniform(0, 30),
        factor=rng.uniform(1, 4),
        jitter=rng.uniform(0, 1),
    )


def test_property_every_delay_lies_within_its_jitter_band_and_the_cap() -> None:
    rng = _rng(4)
    for _ in range(300):
        policy = _random_policy(rng)
        plain = itertools.islice(PollPolicy(**{**policy.__dict__, "jitter": 0.0}).delays(), 40)
        jittered = itertools.islice(policy.delays(jitter=_full_jitter(rng)), 40)
        for base, delay in zip(plain, jittered, strict=True):
            assert 0 <= delay <= policy.cap
            assert base * (1 - policy.jitter) - 1e-9 <= delay <= base + 1e-9
        for delay in itertools.islice(policy.retry_delays(), 40):
            assert 0 <= delay <= policy.cap


# --- server hints and fault classes ---------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"openai-poll-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "100000"}, 120.0),
        ({"retry-after": "nan"}, None),
    ],
)
def test_server_hint(headers: dict[str, str], expected: float | None) -> None:
    assert server_hint(headers, wall_time=1_000_000.0) == expected


def test_server_hint_reads_an_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert server_hint({"retry-after": date}, wall_time=now) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("error", "transient", "unsent"),
    [
        (_status_error(429), True, True),
        (_status_error(500), True, False),
        (_status_error(503), True, False),
        (_status_error(408), True, False),
        (_status_error(400), False, False),
        (_status_error(401), False, False),
        (_status_error(403), False, False),
        (_status_error(404), False, False),
        (_connection_error(httpx2.ConnectError("refused")), True, True),
        (_connection_error(httpx2.ConnectTimeout("slow")), True, True),
        (_connection_error(httpx2.RemoteProtocolError("dropped")), True, False),
        (_connection_error(httpx2.ReadTimeout("silent")), True, False),
        (ValueError("bug"), False, False),
    ],
)
def test_fault_classes(error: Exception, transient: bool, unsent: bool) -> None:
    assert is_transient(error) is transient
    assert was_not_sent(error) is unsent


def test_fault_budget_gives_up_after_max_outage_and_resets_on_success() -> None:
    budget = FaultBudget(PollPolicy(max_outage=10.0), jitter=lambda v: v)
    error = _status_error(503)
    assert budget.retry_after(error, now=0.0, wall_time=0.0) == 0.5
    assert budget.retry_after(error, now=9.0, wall_time=0.0) == 1.0
    assert budget.retry_after(error, now=10.0, wall_time=0.0) is None
    budget.reset()
    assert budget.retry_after(error, now=50.0, wall_time=0.0) == 0.5
    assert budget.retry_after(_status_error(404), now=50.0, wall_time=0.0) is None


def test_fault_budget_prefers_the_servers_retry_after() -> None:
    budget = FaultBudget(PollPolicy())
    assert budget.retry_after(_status_error(429, {"retry-after": "7"}), now=0, wall_time=0) == 7


# --- statuses and results -------------------------------------------------------------


def _response(status: str, **fields: object) -> Response:
    body: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt://b1g/yandexgpt/latest",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "status": status,
        **fields,
    }
    return Response.construct(**body)


def _message(text: str) -> list[dict[str, object]]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return [
        {
            "type": "message",
            "id": "m",
            "role": "assistant",
            "status": "completed",
            "content": content,
        }
    ]


def test_status_predicates() -> None:
    assert {s for s in RunStatus if s.is_running} == {RunStatus.QUEUED, RunStatus.IN_PROGRESS}
    assert {s for s in RunStatus if s.is_terminal} == {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.INCOMPLETE,
    }
    assert RunStatus.COMPLETED.is_succeeded
    assert RunStatus.INCOMPLETE.is_failed
    assert not RunStatus.QUEUED.is_failed
    assert str(RunStatus.IN_PROGRESS) == "in_progress"


@pytest.mark.parametrize("raw", ["paused", None, "COMPLETED", 3])
def test_unknown_status_is_an_error_with_the_raw_value(raw: object) -> None:
    with pytest.raises(UnexpectedStatusError) as caught:
        RunStatus.parse(raw, response_id="resp_1")
    assert caught.value.raw == raw
    assert caught.value.response_id == "resp_1"
    assert "resp_1" in str(caught.value)


def test_result_of_each_terminal_status() -> None:
    completed = result_of_response(_response("completed", output=_message("hi")))
    assert completed == Completed("resp_1", "hi", completed.response)
    failed = result_of_response(
        _response("failed", error={"code": "server_error", "message": "boom"})
    )
    assert isinstance(failed, Failed)
    assert (failed.error.code, failed.error.message) == ("server_error", "boom")
    incomplete = result_of_response(
        _response(
            "incomplete", incomplete_details={"reason": "max_output_tokens"}, output=_message("ha")
        )
    )
    assert isinstance(incomplete, Incomplete)
    assert (incomplete.reason, incomplete.output_text) == ("max_output_tokens", "ha")
    assert isinstance(result_of_response(_response("cancelled")), Cancelled)
    assert status_of_response(_response("queued")) is RunStatus.QUEUED


@pytest.mark.parametrize(
    "response",
    [
        _response("failed"),
        _response("failed", error={"message": "no code"}),
        _response("incomplete"),
        _response("incomplete", incomplete_details={}),
        _response("in_progress"),
        _response("mystery"),
    ],
)
def test_terminal_status_without_its_fields_is_an_error(response: Response) -> None:
    with pytest.raises(UnexpectedStatusError):
        result_of_response(response)


# --- the loop with a fake clock ----------------------------------------------------------


class _ResponseReader:
    def status(self, snapshot: Response, /) -> RunStatus:
        return status_of_response(snapshot)

    def result(self, snapshot: Response, /) -> AnyRunResult[Response]:
        return result_of_response(snapshot)


@dataclass
class _Job:
    """A run that completes ``duration`` seconds after the clock's start."""

    duration: float
    now: float = 0.0
    looks: int = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def fetch(self, _timeout: float | None) -> Snapshot[Response]:
        self.looks += 1
        if self.now >= self.duration:
            return Snapshot(_response("completed", output=_message("done")))
        return Snapshot(_response("in_progress"))


def _wait(job: _Job, policy: PollPolicy, jitter: Callable[[float], float], timeout: float | None):  # type: ignore[no-untyped-def]
    loop = PollLoop(
        "resp_1", _ResponseReader(), policy, now=job.now, timeout=timeout, jitter=jitter
    )
    return drive_sync(_steps(loop, job), sleep=job.sleep)


def _steps(loop: PollLoop[Response], job: _Job) -> Steps[AnyRunResult[Response]]:
    def look(timeout: float | None) -> Request[Snapshot[Response]]:
        return Request(lambda: job.fetch(timeout))

    return wait(loop, look, clock=job.clock, wall_clock=job.clock)


def test_property_a_wait_never_sleeps_past_its_deadline() -> None:
    rng = _rng(7)
    for _ in range(200):
        policy = _random_policy(rng)
        if policy.cap == 0:
            continue
        timeout = rng.uniform(0, 60)
        job = _Job(duration=rng.uniform(0, 120))
        if job.duration > timeout:
            with pytest.raises(RunTimeoutError) as caught:
                _wait(job, policy, _full_jitter(rng), timeout)
            assert job.now == pytest.approx(timeout)
            assert caught.value.status is RunStatus.IN_PROGRESS
        else:
            result = _wait(job, policy, _full_jitter(rng), timeout)
            assert isinstance(result, Completed)
            assert job.duration <= job.now <= timeout + 1e-9


def test_the_last_look_is_taken_at_the_deadline() -> None:
    job = _Job(duration=10.0)
    result = _wait(job, PollPolicy.fixed(4.0), lambda v: v, timeout=10.0)
    assert isinstance(result, Completed)
    assert job.now == 10.0
    assert job.looks == 4  # at 0, 4, 8 and the deadline


def test_status_callback_sees_each_change_once() -> None:
    seen: list[RunStatus] = []
    job = _Job(duration=3.0)
    loop = PollLoop(
        "resp_1",
        _ResponseReader(),
        PollPolicy(jitter=0),
        now=0.0,
        on_status=lambda status, _response: seen.append(status),
    )
    drive_sync(_steps(loop, job), sleep=job.sleep)
    assert seen == [RunStatus.IN_PROGRESS, RunStatus.COMPLETED]


def test_negative_timeout_is_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):
        PollLoop("r", _ResponseReader(), PollPolicy(), now=0.0, timeout=-1)


def test_request_timeout_is_cut_to_the_time_left() -> None:
    loop = PollLoop("r", _ResponseReader(), PollPolicy(), now=0.0, timeout=12.0)
    assert loop.request_timeout(0.0) == 12.0
    assert loop.request_timeout(11.9) == 1.0
    assert PollLoop("r", _ResponseReader(), PollPolicy(), now=0.0).request_timeout(5.0) == 30.0


# --- what the default policy costs ------------------------------------------------------


def average_looks(policy: PollPolicy, duration: float, seeds: int = 200) -> tuple[float, float]:
    """Mean status requests and mean detection lag for a run of ``duration`` seconds.

    The first look happens at once (as after ``attach``); jitter is seeded.
    """
    looks = lags = 0.0
    for seed in range(seeds):
        rng = _rng(seed)
        job = _Job(duration=duration)
        _wait(job, policy, _full_jitter(rng), timeout=None)
        looks += job.looks
        lags += job.now - duration
    return looks / seeds, lags / seeds


@pytest.mark.parametrize(
    ("duration", "expected_looks"),
    [(3.0, (4, 5)), (30.0, (10, 12)), (300.0, (68, 76))],
)
def test_default_policy_request_counts(duration: float, expected_looks: tuple[int, int]) -> None:
    looks, lag = average_looks(PollPolicy(), duration)
    low, high = expected_looks
    assert low <= looks <= high
    assert 0 <= lag <= PollPolicy().cap
    fixed_looks, _ = average_looks(PollPolicy.fixed(2.0), duration, seeds=1)
    if duration >= 30:
        assert looks < fixed_looks  # fewer requests than a 2 s loop on long runs


def test_a_first_delay_replaces_the_schedules_early_steps_and_the_schedule_goes_on() -> None:
    policy = PollPolicy(jitter=0.0)  # 0.5, 1, 2, 4, 5, 5, ...
    loop = PollLoop("resp_1", _ResponseReader(), policy, now=0.0, first_delay=3.0)
    assert loop.observe(Snapshot(_response("queued")), now=0.0) is None  # the creation
    assert loop.next_delay(now=0.0) == 3.0
    assert loop.observe(Snapshot(_response("in_progress")), now=3.0) is None
    assert loop.next_delay(now=3.0) == 4.0  # 0.5 + 1 + 2 covered the first 3 s
