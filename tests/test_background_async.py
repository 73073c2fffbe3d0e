"""Background runs on the async client: the same engine, awaited."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import deque

import httpx2
import openai
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    AsyncBackground,
    AsyncYandexOpenAI,
    Cancelled,
    Completed,
    Failed,
    Incomplete,
    RunStatus,
    RunTimeoutError,
    UnexpectedStatusError,
    background,
)
from yc_responses.clock import ManualClock

from .test_background import (
    BASE_URL,
    RUN_ID,
    FakeServer,
    event,
    notes_of,
    response_body,
    status_error,
)

pytestmark = pytest.mark.anyio


def make_client(server: FakeServer) -> AsyncYandexOpenAI:
    server.asynchronous = True
    return AsyncYandexOpenAI(
        api_key="test-key",
        folder_id="b1g",
        base_url=BASE_URL,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server.handler)),
        max_retries=0,
    )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(asynchronous=True)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def bg(server: FakeServer, clock: ManualClock) -> AsyncBackground:
    return make_client(server).background.with_options(
        sleep=clock.async_sleep, clock=clock, wall_clock=clock
    )


async def test_create_and_await_the_run(bg: AsyncBackground, server: FakeServer) -> None:
    server.retrieves = deque(["in_progress", "completed"])
    run = await bg.create(model="yandexgpt", input="Hi")
    assert json.loads(server.requests[0].content)["model"] == "gpt://b1g/yandexgpt/latest"
    assert run.status is RunStatus.QUEUED
    result = await run
    assert isinstance(result, Completed)
    assert result.unwrap() == "Hello from the background"
    assert server.count("GET") == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [("failed", Failed), ("incomplete", Incomplete), ("cancelled", Cancelled)],
)
async def test_every_ending(
    bg: AsyncBackground, server: FakeServer, status: str, kind: type[object]
) -> None:
    server.retrieves = deque(["queued", status])
    result = await bg.run(model="yandexgpt", input="Hi", timeout=60)
    assert isinstance(result, kind)


async def test_unknown_status(bg: AsyncBackground, server: FakeServer) -> None:
    server.retrieves = deque([response_body("thinking")])
    with pytest.raises(UnexpectedStatusError) as caught:
        await bg.attach(RUN_ID).wait()
    assert caught.value.raw == "thinking"


async def test_timeout(bg: AsyncBackground, server: FakeServer, clock: ManualClock) -> None:
    server.retrieves = deque(["in_progress"])
    with pytest.raises(RunTimeoutError) as caught:
        await bg.attach(RUN_ID).wait(timeout=15)
    assert caught.value.response_id == RUN_ID
    assert caught.value.status is RunStatus.IN_PROGRESS
    assert clock() == 15.0
    assert server.count("POST", "/cancel") == 0


async def test_storm_of_faults(bg: AsyncBackground, server: FakeServer) -> None:
    server.retrieves = deque(
        [
            status_error(429),
            status_error(502),
            httpx2.ConnectError("refused"),
            httpx2.RemoteProtocolError("dropped"),
            "completed",
        ]
    )
    assert isinstance(await bg.attach(RUN_ID).wait(), Completed)
    assert server.count("GET") == 5


async def test_permanent_error(bg: AsyncBackground, server: FakeServer) -> None:
    server.retrieves = deque([status_error(404)])
    with pytest.raises(openai.NotFoundError):
        await bg.attach(RUN_ID).wait()


async def test_create_fault_policy(bg: AsyncBackground, server: FakeServer) -> None:
    server.creates = deque([status_error(429), "queued"])
    assert (await bg.create(model="yandexgpt", input="Hi")).id == RUN_ID
    assert server.count("POST", "/responses") == 2

    server.creates = deque([status_error(500), "queued"])
    with pytest.raises(AmbiguousSubmissionError):
        await bg.create(model="yandexgpt", input="Hi")
    assert server.count("POST", "/responses") == 3


async def test_cancel_queued_running_and_finished(bg: AsyncBackground, server: FakeServer) -> None:
    run = await bg.create(model="yandexgpt", input="Hi")
    assert isinstance(await run.cancel(), Cancelled)

    server.cancels = deque(["in_progress"])
    server.retrieves = deque(["cancelled"])
    assert isinstance(await bg.attach(RUN_ID).cancel(), Cancelled)

    server.cancels = deque([status_error(409)])
    server.retrieves = deque(["completed"])
    assert isinstance(await bg.attach(RUN_ID).cancel(), Completed)


async def test_attach_from_a_new_client(server: FakeServer) -> None:
    run = make_client(server).background.attach(RUN_ID)
    assert server.requests == []
    assert await run.refresh() is RunStatus.COMPLETED
    assert (await run).unwrap() == "Hello from the background"


async def test_stream_resumes_after_a_drop(bg: AsyncBackground, server: FakeServer) -> None:
    server.streams = deque(
        [
            [event("response.in_progress", 1, "in_progress"), httpx2.ReadError("reset")],
            [event("response.completed", 2, "completed")],
        ]
    )
    result = await bg.attach(RUN_ID).wait(strategy="stream")
    assert isinstance(result, Completed)
    streams = [r for r in server.requests if r.url.params.get("stream") == "true"]
    assert [r.url.params.get("starting_after") for r in streams] == [None, "1"]


async def test_stream_falls_back_to_polling(bg: AsyncBackground, server: FakeServer) -> None:
    server.streams = deque([status_error(400)])
    server.retrieves = deque(["completed"])
    assert isinstance(await bg.attach(RUN_ID).wait(strategy="stream"), Completed)
    assert server.count("GET", stream=False) == 1


async def test_plain_async_client(server: FakeServer, clock: ManualClock) -> None:
    client = openai.AsyncOpenAI(
        api_key="test-key",
        base_url=BASE_URL,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server.handler)),
    )
    resource = background(client, sleep=clock.async_sleep, clock=clock)
    result = await resource.run(model="gpt://b1g/yandexgpt/latest", input="Hi")
    assert result.unwrap() == "Hello from the background"


async def test_a_cancelled_wait_leaves_the_run_reachable(server: FakeServer) -> None:
    sleeping, never = asyncio.Event(), asyncio.Event()

    async def sleep_until_cancelled(_seconds: float) -> None:
        sleeping.set()
        await never.wait()

    server.retrieves = deque(["in_progress"])
    resource = make_client(server).background.with_options(sleep=sleep_until_cancelled)
    run = resource.attach(RUN_ID)
    task = asyncio.ensure_future(run.wait())
    await sleeping.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    if sys.version_info >= (3, 11):
        assert any("attach('resp_1')" in note for note in notes_of(caught.value))
    assert run.id == RUN_ID
    assert run.status is RunStatus.IN_PROGRESS
