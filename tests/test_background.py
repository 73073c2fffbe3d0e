"""Background runs on the sync client, against a scripted server (httpx2.MockTransport)."""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    AsyncBackground,
    Background,
    Cancelled,
    Completed,
    Failed,
    Incomplete,
    PollPolicy,
    RunCancelledError,
    RunFailedError,
    RunIncompleteError,
    RunResult,
    RunStatus,
    RunTimeoutError,
    UnexpectedStatusError,
    YandexOpenAI,
    background,
)
from yc_responses.clock import ManualClock

BASE_URL = "http://ai.test/v1"
RUN_ID = "resp_1"

Step = Any
"""A scripted answer: a status name, a response dict, an httpx2.Response, an exception,
or a list of stream events (dicts; an exception in the list drops the connection)."""


def response_body(status: str, **fields: Any) -> dict[str, Any]:
    """A Responses API body with ``status``; completed/incomplete ones carry text."""
    body: dict[str, Any] = {
        "id": RUN_ID,
        "object": "response",
        "created_at": 1,
        "model": "gpt://b1g/yandexgpt/latest",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "background": True,
        "status": status,
    }
    if status in ("completed", "incomplete"):
        text = "Hello from the background" if status == "completed" else "Hello fr"
        content = [{"type": "output_text", "text": text, "annotations": []}]
        message = {"type": "message", "id": "m", "role": "assistant", "status": "completed"}
        body["output"] = [{**message, "content": content}]
    if status == "failed":
        body["error"] = {"code": "server_error", "message": "the model fell over"}
    if status == "incomplete":
        body["incomplete_details"] = {"reason": "max_output_tokens"}
    body.update(fields)
    return body


def event(kind: str, sequence_number: int, status: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "sequence_number": sequence_number}
    if status is not None:
        data["response"] = response_body(status)
    else:
        data.update(delta="x", item_id="m", output_index=0, content_index=0, logprobs=[])
    return data


@dataclass
class FakeServer:
    """Answers each route from its own script; the last step repeats."""

    creates: deque[Step] = field(default_factory=lambda: deque(["queued"]))
    retrieves: deque[Step] = field(default_factory=lambda: deque(["completed"]))
    cancels: deque[Step] = field(default_factory=lambda: deque(["cancelled"]))
    streams: deque[Step] = field(default_factory=deque)
    requests: list[httpx2.Request] = field(default_factory=list)
    asynchronous: bool = False

    def count(self, method: str, suffix: str = "", *, stream: bool | None = None) -> int:
        return sum(
            1
            for request in self.requests
            if request.method == method
            and request.url.path.endswith(suffix)
            and (stream is None or (request.url.params.get("stream") == "true") is stream)
        )

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "POST" and path.endswith("/responses"):
            script = self.creates
        elif request.method == "POST" and path.endswith("/cancel"):
            script = self.cancels
        elif request.url.params.get("stream") == "true":
            script = self.streams
        else:
            script = self.retrieves
        step = script.popleft() if len(script) > 1 else script[0]
        return self._answer(step)

    def _answer(self, step: Step) -> httpx2.Response:
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, httpx2.Response):
            return step
        if isinstance(step, str):
            return httpx2.Response(200, json=response_body(step))
        if isinstance(step, dict):
            return httpx2.Response(200, json=step)
        assert isinstance(step, list)
        headers = {"content-type": "text/event-stream"}
        if self.asynchronous:
            return httpx2.Response(200, headers=headers, content=_async_sse(step))
        return httpx2.Response(200, headers=headers, content=_sse(step))


def _sse_bytes(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _sse(events: list[Any]) -> Iterator[bytes]:
    for item in events:
        if isinstance(item, BaseException):
            raise item
        yield _sse_bytes(item)


async def _async_sse(events: list[Any]) -> AsyncIterator[bytes]:
    for item in events:
        if isinstance(item, BaseException):
            raise item
        yield _sse_bytes(item)


def status_error(code: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(code, headers=headers, json={"error": {"message": f"HTTP {code}"}})


def notes_of(error: BaseException) -> list[str]:
    notes: list[str] = getattr(error, "__notes__", [])
    return notes


def make_client(server: FakeServer) -> YandexOpenAI:
    transport = httpx2.MockTransport(server.handler)
    return YandexOpenAI(
        api_key="test-key",
        folder_id="b1g",
        base_url=BASE_URL,
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def bg(server: FakeServer, clock: ManualClock) -> Background:
    return make_client(server).background.with_options(
        sleep=clock.sleep, clock=clock, wall_clock=clock
    )


# --- create ---------------------------------------------------------------------------


def test_create_sets_background_and_expands_the_model(bg: Background, server: FakeServer) -> None:
    run = bg.create(model="yandexgpt", input="Hi")
    body = json.loads(server.requests[0].content)
    assert body["background"] is True
    assert body["model"] == "gpt://b1g/yandexgpt/latest"
    assert run.id == RUN_ID
    assert run.status is RunStatus.QUEUED
    assert repr(run) == "BackgroundRun(id='resp_1', status='queued')"


def test_create_refuses_stream_and_background_false(bg: Background) -> None:
    with pytest.raises(ValueError, match="stream"):
        bg.create(model="yandexgpt", input="Hi", stream=True)
    with pytest.raises(ValueError, match="background"):
        bg.create(model="yandexgpt", input="Hi", background=False)


def test_client_background_is_cached(server: FakeServer) -> None:
    client = make_client(server)
    assert client.background is client.background


def test_create_retries_a_rate_limit(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.creates = deque([status_error(429, {"retry-after": "3"}), "queued"])
    run = bg.create(model="yandexgpt", input="Hi")
    assert run.id == RUN_ID
    assert server.count("POST", "/responses") == 2
    assert clock.slept == [3.0]


def test_create_retries_when_it_could_not_connect(bg: Background, server: FakeServer) -> None:
    server.creates = deque([httpx2.ConnectError("refused"), "queued"])
    assert bg.create(model="yandexgpt", input="Hi").id == RUN_ID
    assert server.count("POST", "/responses") == 2


@pytest.mark.parametrize(
    "fault",
    [
        status_error(500),
        status_error(503),
        httpx2.ReadTimeout("no answer"),
        httpx2.RemoteProtocolError("dropped after sending"),
    ],
)
def test_create_never_resends_an_ambiguous_submission(
    bg: Background, server: FakeServer, fault: Step
) -> None:
    server.creates = deque([fault, "queued"])
    with pytest.raises(AmbiguousSubmissionError, match="may or may not have started") as caught:
        bg.create(model="yandexgpt", input="Hi")
    assert server.count("POST", "/responses") == 1
    assert isinstance(caught.value.__cause__, openai.APIError)
    assert "test-key" not in str(caught.value)


def test_create_raises_permanent_errors_as_is(bg: Background, server: FakeServer) -> None:
    server.creates = deque([status_error(400)])
    with pytest.raises(openai.BadRequestError):
        bg.create(model="yandexgpt", input="Hi")
    assert server.count("POST", "/responses") == 1


# --- wait: every ending ------------------------------------------------------------------


def test_wait_until_completed(bg: Background, server: FakeServer, clock: ManualClock) -> None:
    server.retrieves = deque(["queued", "in_progress", "in_progress", "completed"])
    seen: list[RunStatus] = []
    run = bg.create(model="yandexgpt", input="Hi")
    result = run.wait(on_status=lambda status, response: seen.append(status))
    assert isinstance(result, Completed)
    assert result.output_text == "Hello from the background"
    assert result.unwrap() == "Hello from the background"
    assert result.response.id == RUN_ID
    assert seen == [RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.COMPLETED]
    assert server.count("GET") == 4
    assert len(clock.slept) == 4
    assert all(0 < delay <= 5.0 for delay in clock.slept)
    assert run.status is RunStatus.COMPLETED


def test_polls_go_out_without_the_clients_own_retries(bg: Background, server: FakeServer) -> None:
    server.retrieves = deque([status_error(500), "completed"])
    bg.client.max_retries = 2
    bg.attach(RUN_ID).wait()
    assert server.count("GET") == 2  # one per engine attempt, none hidden inside the client


def test_run_creates_and_waits(bg: Background, server: FakeServer) -> None:
    result = bg.run(model="yandexgpt", input="Hi", timeout=60)
    assert result.unwrap() == "Hello from the background"
    assert server.count("POST", "/responses") == 1


def test_a_run_finished_at_creation_needs_no_look(bg: Background, server: FakeServer) -> None:
    server.creates = deque(["completed"])
    assert isinstance(bg.run(model="yandexgpt", input="Hi"), Completed)
    assert server.count("GET") == 0


def test_wait_until_failed(bg: Background, server: FakeServer) -> None:
    server.retrieves = deque(["in_progress", "failed"])
    result = bg.create(model="yandexgpt", input="Hi").wait()
    assert isinstance(result, Failed)
    assert (result.error.code, result.error.message) == ("server_error", "the model fell over")
    with pytest.raises(RunFailedError, match="the model fell over") as caught:
        result.unwrap()
    assert caught.value.response_id == RUN_ID
    assert caught.value.result is result
    assert caught.value.error.code == "server_error"


def test_wait_until_incomplete(bg: Background, server: FakeServer) -> None:
    server.retrieves = deque(["incomplete"])
    result = bg.create(model="yandexgpt", input="Hi").wait()
    assert isinstance(result, Incomplete)
    assert (result.reason, result.output_text) == ("max_output_tokens", "Hello fr")
    with pytest.raises(RunIncompleteError, match="max_output_tokens") as caught:
        result.unwrap()
    assert caught.value.reason == "max_output_tokens"


def test_wait_until_cancelled_elsewhere(bg: Background, server: FakeServer) -> None:
    server.retrieves = deque(["cancelled"])
    result = bg.create(model="yandexgpt", input="Hi").wait()
    assert isinstance(result, Cancelled)
    with pytest.raises(RunCancelledError) as caught:
        result.unwrap()
    assert caught.value.response_id == RUN_ID


def describe(result: RunResult) -> str:
    match result:
        case Completed(output_text=text):
            return f"ok: {text}"
        case Failed(error=error):
            return f"failed: {error.code}"
        case Incomplete(reason=reason):
            return f"incomplete: {reason}"
        case Cancelled():
            return "cancelled"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", "ok: Hello from the background"),
        ("failed", "failed: server_error"),
        ("incomplete", "incomplete: max_output_tokens"),
        ("cancelled", "cancelled"),
    ],
)
def test_results_can_be_matched(
    bg: Background, server: FakeServer, status: str, expected: str
) -> None:
    server.retrieves = deque([status])
    assert describe(bg.attach(RUN_ID).wait()) == expected


@pytest.mark.parametrize(
    "body",
    [
        response_body("paused"),
        response_body("failed", error=None),
        response_body("incomplete", incomplete_details=None),
    ],
)
def test_unexpected_statuses_raise_instead_of_hanging(
    bg: Background, server: FakeServer, body: dict[str, Any]
) -> None:
    server.retrieves = deque([body])
    with pytest.raises(UnexpectedStatusError) as caught:
        bg.attach(RUN_ID).wait(timeout=60)
    assert caught.value.response_id == RUN_ID
    assert caught.value.raw == body["status"]
    assert server.count("GET") == 1


# --- wait: time limits and interruptions ----------------------------------------------------


def test_timeout_raises_with_the_id_and_leaves_the_run_alone(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.retrieves = deque(["in_progress"])
    run = bg.create(model="yandexgpt", input="Hi")
    with pytest.raises(RunTimeoutError) as caught:
        run.wait(timeout=30)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.response_id == RUN_ID
    assert caught.value.status is RunStatus.IN_PROGRESS
    assert "attach('resp_1')" in str(caught.value)
    assert clock() == 30.0
    assert server.count("POST", "/cancel") == 0
    assert 8 <= server.count("GET") <= 12


def test_zero_timeout_looks_once(bg: Background, server: FakeServer, clock: ManualClock) -> None:
    server.retrieves = deque(["queued"])
    with pytest.raises(RunTimeoutError):
        bg.attach(RUN_ID).wait(timeout=0)
    assert server.count("GET") == 1
    assert clock() == 0.0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are new in 3.11")
def test_an_interrupted_wait_names_the_run(bg: Background, server: FakeServer) -> None:
    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    server.retrieves = deque(["in_progress"])
    run = bg.with_options(sleep=interrupted).create(model="yandexgpt", input="Hi")
    with pytest.raises(KeyboardInterrupt) as caught:
        run.wait()
    assert any("attach('resp_1')" in note for note in notes_of(caught.value))
    assert run.id == RUN_ID


# --- wait: faults while polling --------------------------------------------------------------


def test_a_storm_of_transient_faults_does_not_lose_the_run(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.retrieves = deque(
        [
            status_error(429),
            status_error(500),
            status_error(502),
            status_error(503),
            status_error(504),
            httpx2.ConnectError("refused"),
            httpx2.RemoteProtocolError("dropped"),
            httpx2.ReadTimeout("silent"),
            "in_progress",
            status_error(503),
            "completed",
        ]
    )
    result = bg.attach(RUN_ID).wait(timeout=600)
    assert result.unwrap() == "Hello from the background"
    assert server.count("GET") == 11
    assert all(delay <= 5.0 for delay in clock.slept)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
    ],
)
def test_permanent_errors_surface_at_once(
    bg: Background, server: FakeServer, code: int, error: type[Exception]
) -> None:
    server.retrieves = deque([status_error(code)])
    with pytest.raises(error) as caught:
        bg.attach(RUN_ID).wait()
    assert server.count("GET") == 1
    if sys.version_info >= (3, 11):
        assert any(RUN_ID in note for note in notes_of(caught.value))


def test_a_long_outage_is_raised_after_max_outage(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.retrieves = deque([status_error(503)])
    with pytest.raises(openai.InternalServerError):
        bg.attach(RUN_ID).wait(policy=PollPolicy(max_outage=60))
    assert 60 <= clock() <= 70


def test_server_hints_set_the_pace(bg: Background, server: FakeServer, clock: ManualClock) -> None:
    server.retrieves = deque(
        [
            httpx2.Response(
                200, json=response_body("in_progress"), headers={"openai-poll-after-ms": "1500"}
            ),
            status_error(429, {"retry-after": "7"}),
            "completed",
        ]
    )
    bg.attach(RUN_ID).wait()
    assert clock.slept == [1.5, 7.0]


def test_a_fixed_policy_polls_like_a_hand_written_loop(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.retrieves = deque(["in_progress", "in_progress", "completed"])
    bg.with_options(policy=PollPolicy.fixed(2.0)).attach(RUN_ID).wait()
    assert clock.slept == [2.0, 2.0]


# --- attach and refresh ------------------------------------------------------------------------


def test_attach_from_a_new_client_makes_no_request_until_used(server: FakeServer) -> None:
    client = make_client(server)
    run = client.background.attach(RUN_ID)
    assert server.requests == []
    assert run.status is None
    assert repr(run) == "BackgroundRun(id='resp_1', status='unknown')"
    assert run.refresh() is RunStatus.COMPLETED
    assert run.status is RunStatus.COMPLETED
    assert run.wait().unwrap() == "Hello from the background"
    assert server.count("GET") == 1  # the wait used the fresh, terminal snapshot


def test_attach_needs_an_id(bg: Background) -> None:
    with pytest.raises(ValueError, match="id"):
        bg.attach("")


def test_background_works_on_a_plain_openai_client(server: FakeServer, clock: ManualClock) -> None:
    client = openai.OpenAI(
        api_key="test-key",
        base_url=BASE_URL,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server.handler)),
    )
    resource = background(client, sleep=clock.sleep, clock=clock)
    assert isinstance(resource, Background)
    result = resource.run(model="gpt://b1g/yandexgpt/latest", input="Hi")
    assert result.unwrap() == "Hello from the background"
    assert isinstance(background(openai.AsyncOpenAI(api_key="k")), AsyncBackground)
    with pytest.raises(TypeError):
        background(object())  # type: ignore[call-overload]


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_a_queued_run(bg: Background, server: FakeServer) -> None:
    run = bg.create(model="yandexgpt", input="Hi")
    result = run.cancel()
    assert isinstance(result, Cancelled)
    assert server.count("POST", "/cancel") == 1
    assert server.count("GET") == 0


def test_cancel_a_running_run_waits_for_the_cancellation(
    bg: Background, server: FakeServer
) -> None:
    server.cancels = deque(["in_progress"])
    server.retrieves = deque(["in_progress", "cancelled"])
    result = bg.create(model="yandexgpt", input="Hi").cancel(timeout=60)
    assert isinstance(result, Cancelled)
    assert server.count("GET") == 2


def test_cancel_a_finished_run_keeps_its_result(bg: Background, server: FakeServer) -> None:
    server.cancels = deque([status_error(400)])
    server.retrieves = deque(["completed"])
    result = bg.attach(RUN_ID).cancel()
    assert isinstance(result, Completed)


def test_cancel_that_the_server_refuses_for_a_running_run_is_raised(
    bg: Background, server: FakeServer
) -> None:
    server.cancels = deque([status_error(400)])
    server.retrieves = deque(["in_progress"])
    with pytest.raises(openai.BadRequestError):
        bg.attach(RUN_ID).cancel()


def test_cancel_retries_transient_faults(bg: Background, server: FakeServer) -> None:
    server.cancels = deque([status_error(503), httpx2.ConnectError("refused"), "cancelled"])
    assert isinstance(bg.attach(RUN_ID).cancel(), Cancelled)
    assert server.count("POST", "/cancel") == 3


# --- the streaming wait ---------------------------------------------------------------------------


def test_stream_wait_follows_events(bg: Background, server: FakeServer) -> None:
    server.streams = deque(
        [
            [
                event("response.queued", 1, "queued"),
                event("response.in_progress", 2, "in_progress"),
                event("response.output_text.delta", 3),
                event("response.completed", 4, "completed"),
            ]
        ]
    )
    seen: list[RunStatus] = []
    result = bg.create(model="yandexgpt", input="Hi").wait(
        strategy="stream", on_status=lambda status, _: seen.append(status)
    )
    assert result.unwrap() == "Hello from the background"
    assert seen == [RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.COMPLETED]
    assert server.count("GET", stream=True) == 1
    assert server.count("GET", stream=False) == 0


def test_stream_wait_resumes_after_a_dropped_connection(bg: Background, server: FakeServer) -> None:
    server.streams = deque(
        [
            [
                event("response.in_progress", 1, "in_progress"),
                event("response.output_text.delta", 2),
                event("response.output_text.delta", 3),
                httpx2.RemoteProtocolError("peer closed connection"),
            ],
            httpx2.ConnectError("refused"),
            [event("response.output_text.delta", 4), event("response.cancelled", 5, "cancelled")],
        ]
    )
    result = bg.attach(RUN_ID).wait(strategy="stream")
    assert isinstance(result, Cancelled)
    streams = [r for r in server.requests if r.url.params.get("stream") == "true"]
    assert [r.url.params.get("starting_after") for r in streams] == [None, "3", "3"]


@pytest.mark.parametrize(
    "refusal",
    [
        status_error(400),
        status_error(405),
        httpx2.Response(200, json=response_body("in_progress")),
        httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b""),
    ],
)
def test_stream_wait_falls_back_to_polling(
    bg: Background, server: FakeServer, refusal: httpx2.Response
) -> None:
    server.streams = deque([refusal])
    server.retrieves = deque(["in_progress", "completed"])
    result = bg.attach(RUN_ID).wait(strategy="stream")
    assert isinstance(result, Completed)
    assert server.count("GET", stream=True) == 1
    assert server.count("GET", stream=False) == 2


def test_a_silent_stream_is_resumed_without_counting_as_a_fault(
    bg: Background, server: FakeServer
) -> None:
    server.streams = deque(
        [
            [event("response.queued", 1, "queued"), httpx2.ReadTimeout("silence")],
            [httpx2.ReadTimeout("more silence")],
            [event("response.completed", 2, "completed")],
        ]
    )
    result = bg.attach(RUN_ID).wait(strategy="stream", policy=PollPolicy(max_outage=0))
    assert isinstance(result, Completed)
    assert server.count("GET", stream=True) == 3


def test_stream_wait_times_out_on_a_silent_run(
    bg: Background, server: FakeServer, clock: ManualClock
) -> None:
    server.streams = deque([[event("response.in_progress", 1, "in_progress")]])
    with pytest.raises(RunTimeoutError) as caught:
        bg.attach(RUN_ID).wait(timeout=20, strategy="stream")
    assert caught.value.status is RunStatus.IN_PROGRESS
    assert clock() == 20.0
