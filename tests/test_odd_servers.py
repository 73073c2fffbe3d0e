"""Single runs against a service that misbehaves: typed errors, time limits that hold.

These tests use a real loopback server (tests/misbehaving.py) and real time, bounded
to a few seconds each: a time limit is only worth something against a real socket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    AsyncYandexOpenAI,
    BackgroundRun,
    Completed,
    Journal,
    PollPolicy,
    RunTimeoutError,
    ServiceUnreachableError,
    UnexpectedStatusError,
    YandexOpenAI,
)
from yc_responses.auth import CredentialsError, EnvToken
from yc_responses.testing import Emulator, Fault, Outcome

from .misbehaving import RUN_ID, MisbehavingServer


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[MisbehavingServer]:
    with MisbehavingServer(**request.param) as running:
        yield running


def _within(seconds: float, started: float) -> None:
    took = time.monotonic() - started
    assert took < seconds, f"took {took:.1f} s"


@pytest.mark.parametrize("server", [{"stream": "ping"}], indirect=True)
def test_a_stream_of_keep_alive_comments_does_not_outlast_the_timeout(
    server: MisbehavingServer,
) -> None:
    with server.client() as client:
        started = time.monotonic()
        with pytest.raises(RunTimeoutError) as caught:
            client.background.attach(RUN_ID).wait(timeout=3, strategy="stream")
        _within(4.0, started)
    assert caught.value.response_id == RUN_ID


@pytest.mark.parametrize("server", [{"stream": "ping"}], indirect=True)
@pytest.mark.anyio
async def test_an_async_stream_of_keep_alive_comments_does_not_outlast_the_timeout(
    server: MisbehavingServer,
) -> None:
    client = AsyncYandexOpenAI(api_key="test-key", folder_id="b1gtest", base_url=server.base_url)
    async with client:
        started = time.monotonic()
        with pytest.raises(RunTimeoutError):
            await client.background.attach(RUN_ID).wait(timeout=2, strategy="stream")
        _within(3.0, started)


@pytest.mark.parametrize("server", [{"retrieve": "drip"}], indirect=True)
def test_a_status_body_dripped_byte_by_byte_does_not_outlast_the_timeout(
    server: MisbehavingServer,
) -> None:
    with server.client() as client:
        started = time.monotonic()
        with pytest.raises(RunTimeoutError):
            client.background.attach(RUN_ID).wait(timeout=2)
        _within(3.0, started)


@pytest.mark.parametrize("server", [{"retrieve": "drip"}], indirect=True)
def test_each_look_is_cut_at_the_policy_request_timeout(server: MisbehavingServer) -> None:
    policy = PollPolicy(request_timeout=1.0, max_outage=0)
    with server.client() as client:
        started = time.monotonic()
        with pytest.raises(Exception, match="timed out"):
            client.background.attach(RUN_ID).wait(policy=policy)
        _within(2.5, started)


@pytest.mark.parametrize("server", [{"create": "hang"}], indirect=True)
def test_run_timeout_covers_a_creation_that_never_answers(server: MisbehavingServer) -> None:
    with server.client() as client:
        started = time.monotonic()
        with pytest.raises(AmbiguousSubmissionError):
            client.background.run(model="yandexgpt", input="Hi", timeout=1.5)
        _within(3.0, started)
    assert server.requests["create"] == 1


@pytest.mark.parametrize(
    "server",
    [{"retrieve": "html"}, {"retrieve": "array"}, {"retrieve": "other-id"}],
    indirect=True,
)
def test_a_status_answer_that_is_not_this_run_is_a_typed_error(
    server: MisbehavingServer,
) -> None:
    with server.client() as client, pytest.raises(UnexpectedStatusError) as caught:
        client.background.attach(RUN_ID).wait(timeout=5)
    assert caught.value.response_id == RUN_ID
    assert caught.value.raw is not None


@pytest.mark.parametrize("server", [{"retrieve": "null-output"}], indirect=True)
def test_a_completed_run_without_a_readable_output_is_a_typed_error(
    server: MisbehavingServer,
) -> None:
    with server.client() as client, pytest.raises(UnexpectedStatusError) as caught:
        client.background.attach(RUN_ID).wait(timeout=5)
    assert caught.value.response_id == RUN_ID


@pytest.mark.parametrize(
    "server", [{"create": "no-id"}, {"create": "html"}, {"create": "array"}], indirect=True
)
def test_a_creation_answer_without_a_run_id_may_hide_a_run(server: MisbehavingServer) -> None:
    with server.client() as client, pytest.raises(AmbiguousSubmissionError) as caught:
        client.background.create(model="yandexgpt", input="Hi")
    assert isinstance(caught.value.__cause__, UnexpectedStatusError)
    assert server.requests["create"] == 1


@pytest.mark.parametrize("server", [{"stream": "garbage", "retrieve": "completed"}], indirect=True)
def test_an_event_stream_of_garbage_falls_back_to_polling(server: MisbehavingServer) -> None:
    with server.client() as client:
        result = client.background.attach(RUN_ID).wait(timeout=5, strategy="stream")
    assert isinstance(result, Completed)
    assert server.requests["stream"] == 1
    assert server.requests["retrieve"] >= 1


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:1/v1", "http://no-such-host.invalid/v1"])
def test_an_unreachable_service_is_reported_at_once_naming_the_host(base_url: str) -> None:
    with YandexOpenAI(api_key="test-key", folder_id="b1gtest", base_url=base_url) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnreachableError) as caught:
            client.background.run(model="yandexgpt", input="Hi")
        _within(5.0, started)
    host = base_url.removesuffix("/v1")
    assert host in str(caught.value)
    assert "YC_BASE_URL" in str(caught.value)


@pytest.mark.parametrize("timeout", [-1, math.nan, math.inf])
def test_a_bad_timeout_is_refused_before_anything_is_sent(timeout: float) -> None:
    with MisbehavingServer() as server, server.client() as client:
        with pytest.raises(ValueError, match="timeout"):
            client.background.run(model="yandexgpt", input="Hi", timeout=timeout)
        assert server.requests["create"] == 0


@pytest.mark.parametrize(
    "options",
    [
        {"cap": 0.0},
        {"initial": math.nan},
        {"max_outage": -1.0},
        {"request_timeout": 0.0},
        {"request_timeout": -1.0},
    ],
)
def test_a_policy_that_cannot_work_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="PollPolicy"):
        PollPolicy(**options)


def test_cancel_timeout_holds_against_a_slow_cancel() -> None:
    with Emulator() as emulator, emulator.client() as client:
        emulator.script(Outcome.never())
        run = client.background.create(model="yandexgpt", input="Hi")
        emulator.inject(Fault.slow(5), route="responses.cancel")
        started = time.monotonic()
        with pytest.raises(RunTimeoutError) as caught:
            run.cancel(timeout=1)
        _within(2.5, started)
    assert caught.value.response_id == run.id


def test_attach_takes_the_names_it_always_took() -> None:
    with Emulator() as emulator, emulator.client() as client:
        assert client.background.attach(response_id="resp_1").id == "resp_1"
        assert client.deferred.attach(operation_id="op_1").id == "op_1"


def test_a_run_is_made_by_its_resource_only() -> None:
    with Emulator() as emulator, emulator.client() as client, pytest.raises(TypeError):
        BackgroundRun(client.background, "resp_1")  # type: ignore[arg-type]


def test_a_misspelt_strategy_is_refused_before_a_paid_run() -> None:
    with Emulator() as emulator, emulator.client() as client:
        with pytest.raises(ValueError, match="sttream"):
            client.background.run(model="yandexgpt", input="Hi", strategy="sttream")
        assert emulator.stats.creations == 0


def test_the_callers_own_authorization_is_not_replaced_after_a_401() -> None:
    with Emulator() as emulator:
        token = emulator.api_key
        client = emulator.client(api_key=None, iam_token=lambda: token)
        with client, pytest.raises(openai.AuthenticationError):
            client.responses.create(
                model="yandexgpt", input="x", extra_headers={"Authorization": "Bearer not-mine"}
            )
        assert emulator.stats.requests["responses.create"] == 1


@pytest.mark.parametrize("server", [{"retrieve": "drip"}], indirect=True)
def test_a_batch_run_timeout_holds_against_a_dripped_status_body(
    server: MisbehavingServer,
) -> None:
    with server.client() as client:
        started = time.monotonic()
        results = client.background.map(
            ["Hi"], model="yandexgpt", run_timeout=2, return_exceptions=True, progress=False
        )
        _within(3.5, started)
    assert isinstance(results[0], RunTimeoutError)


def test_credentials_that_give_no_token_stop_a_batch_and_leave_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YC_TOKEN", raising=False)
    journal = tmp_path / "batch.sqlite"
    with Emulator() as emulator:
        client = emulator.client(api_key=None, credentials=EnvToken())
        with client, pytest.raises(CredentialsError):
            client.background.map(["a", "b", "c"], model="yandexgpt", journal=journal)
        assert emulator.stats.creations == 0
    with Journal(journal) as opened:
        assert list(opened.entries()) == []  # nothing that "may have started"
