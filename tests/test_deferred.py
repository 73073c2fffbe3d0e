"""The asynchronous API (completionAsync + Operation) against a scripted server, on the sync
and the async client."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    AsyncYandexOpenAI,
    Cancelled,
    Completed,
    Failed,
    Incomplete,
    RunStatus,
    RunTimeoutError,
    UnexpectedStatusError,
    YandexOpenAI,
)
from yc_responses.clock import ManualClock
from yc_responses.deferred import AsyncDeferred, Deferred, OperationResult, yandex_messages

KEY = "AQVNdeferred-key-0123456789"
FOLDER = "b1gdeferred"
LLM = "https://llm.api.cloud.yandex.net"
OPERATIONS = "https://operation.api.cloud.yandex.net"

PENDING = {
    "id": "op1",
    "description": "Async GPT Completion",
    "createdAt": "2024-05-12T18:46:54Z",
    "createdBy": "ajes08feato8",
    "modifiedAt": "2024-05-12T18:46:54Z",
    "done": False,
    "metadata": None,
}


def done_with(alternative_status: str, text: str = "To be, or not to be.") -> dict[str, Any]:
    return {
        "id": "op1",
        "done": True,
        "response": {
            "@type": "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.CompletionResponse",
            "alternatives": [
                {"message": {"role": "assistant", "text": text}, "status": alternative_status}
            ],
            "usage": {"inputTextTokens": "31", "completionTokens": "10", "totalTokens": "41"},
            "modelVersion": "18.01.2024",
        },
    }


def done_with_error(code: int, message: str) -> dict[str, Any]:
    return {"id": "op1", "done": True, "error": {"code": code, "message": message, "details": []}}


@dataclass
class OperationServer:
    """Answers completionAsync with ``created`` and each poll with the next of ``polls``."""

    polls: list[tuple[int, dict[str, Any]]]
    created: list[tuple[int, dict[str, Any]]] = field(default_factory=lambda: [(200, PENDING)])
    cancelled: dict[str, Any] = field(default_factory=lambda: done_with_error(1, "cancelled"))
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        url = str(request.url)
        if url == f"{LLM}/foundationModels/v1/completionAsync":
            status, body = self.created.pop(0) if len(self.created) > 1 else self.created[0]
        elif url == f"{OPERATIONS}/operations/op1:cancel":
            status, body = 200, self.cancelled
        elif url == f"{OPERATIONS}/operations/op1":
            status, body = self.polls.pop(0) if len(self.polls) > 1 else self.polls[0]
        else:
            status, body = 404, {"error": {"message": f"no route {url}"}}
        return httpx2.Response(status, json=body)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def sync_deferred(server: OperationServer, time: ManualClock, **client: Any) -> Deferred:
    client.setdefault("api_key", KEY)
    yandex = YandexOpenAI(
        folder_id=FOLDER,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server)),
        **client,
    )
    return Deferred(yandex, clock=time, sleep=time.sleep, wall_clock=time)


def async_deferred(server: OperationServer, time: ManualClock, **client: Any) -> AsyncDeferred:
    client.setdefault("api_key", KEY)
    yandex = AsyncYandexOpenAI(
        folder_id=FOLDER,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
        **client,
    )
    return AsyncDeferred(yandex, clock=time, sleep=time.async_sleep, wall_clock=time)


MESSAGES = [
    {"role": "system", "text": "Translate the text"},
    {"role": "user", "content": "To be, or not to be: that is the question."},
]


def test_the_create_request_is_the_documented_one() -> None:
    server = OperationServer(polls=[(200, PENDING)])
    deferred = sync_deferred(server, ManualClock())
    run = deferred.create(
        model="yandexgpt", messages=MESSAGES, temperature=0.1, max_tokens=2000,
        reasoning_mode="disabled",
    )  # fmt: skip
    assert run.id == "op1"
    assert run.status is RunStatus.IN_PROGRESS
    request = server.requests[0]
    assert str(request.url) == f"{LLM}/foundationModels/v1/completionAsync"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.headers["x-folder-id"] == FOLDER
    assert "OpenAI-Project" not in request.headers
    assert json.loads(request.content) == {
        "modelUri": f"gpt://{FOLDER}/yandexgpt/latest",
        "completionOptions": {
            "stream": False,
            "temperature": 0.1,
            "maxTokens": "2000",
            "reasoningOptions": {"mode": "DISABLED"},
        },
        "messages": [
            {"role": "system", "text": "Translate the text"},
            {"role": "user", "text": "To be, or not to be: that is the question."},
        ],
    }


def test_an_iam_token_goes_as_bearer_and_hosts_are_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=done_with("ALTERNATIVE_STATUS_FINAL"))

    monkeypatch.setenv("YC_LLM_BASE_URL", "http://127.0.0.1:9/llm")
    client = YandexOpenAI(
        iam_token=lambda: "t1.fresh",
        folder_id=FOLDER,
        operation_base_url="http://127.0.0.1:9/ops",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    result = client.deferred.run(model="gpt://b1gdeferred/yandexgpt-lite", messages="Hi")
    assert isinstance(result, Completed)
    assert [str(r.url) for r in seen] == [
        "http://127.0.0.1:9/llm/foundationModels/v1/completionAsync",
    ]
    assert seen[0].headers["Authorization"] == "Bearer t1.fresh"
    assert json.loads(seen[0].content)["modelUri"] == "gpt://b1gdeferred/yandexgpt-lite"
    assert client.with_options(timeout=3).yandex.operation_base_url == "http://127.0.0.1:9/ops"
    client.deferred.attach("op1").refresh()
    assert str(seen[-1].url) == "http://127.0.0.1:9/ops/operations/op1"


OUTCOMES = [
    pytest.param(
        done_with("ALTERNATIVE_STATUS_FINAL"),
        lambda r: isinstance(r, Completed) and r.output_text == "To be, or not to be.",
        id="final",
    ),
    pytest.param(
        done_with("ALTERNATIVE_STATUS_TOOL_CALLS", text=""),
        lambda r: isinstance(r, Completed) and r.output_text == "",
        id="tool-calls",
    ),
    pytest.param(
        done_with("ALTERNATIVE_STATUS_TRUNCATED_FINAL"),
        lambda r: (
            isinstance(r, Incomplete)
            and r.reason == "max_output_tokens"
            and r.output_text == "To be, or not to be."
        ),
        id="truncated",
    ),
    pytest.param(
        done_with("ALTERNATIVE_STATUS_CONTENT_FILTER"),
        lambda r: isinstance(r, Incomplete) and r.reason == "content_filter",
        id="content-filter",
    ),
    pytest.param(
        done_with_error(3, "bad model uri"),
        lambda r: (
            isinstance(r, Failed)
            and (r.error.code, r.error.message) == ("invalid_argument", "bad model uri")
        ),
        id="failed",
    ),
    pytest.param(
        done_with_error(13, "internal"),
        lambda r: (
            isinstance(r, Failed) and (r.error.code, r.error.message) == ("internal", "internal")
        ),
        id="failed-internal",
    ),
    pytest.param(
        done_with_error(1, "operation cancelled"),
        lambda r: isinstance(r, Cancelled),
        id="cancelled",
    ),
]
"""Every way an operation ends, and how its typed result must look."""


@pytest.mark.parametrize(("final", "check"), OUTCOMES)
def test_every_outcome_maps_to_its_result(
    final: dict[str, Any], check: Callable[[OperationResult], bool]
) -> None:
    # the first look at a pending operation may have no "done" key at all
    server = OperationServer(polls=[(200, {"id": "op1"}), (200, PENDING), (200, final)])
    time = ManualClock()
    result = sync_deferred(server, time).run(model="yandexgpt", messages="Hi")
    assert check(result), result
    assert result.response_id == "op1"
    assert server.paths() == [
        "POST /foundationModels/v1/completionAsync",
        "GET /operations/op1",
        "GET /operations/op1",
        "GET /operations/op1",
    ]
    assert len(time.slept) == 3


def test_a_completed_operation_keeps_usage_as_integers_and_the_model_version() -> None:
    server = OperationServer(polls=[(200, done_with("ALTERNATIVE_STATUS_FINAL"))])
    result = sync_deferred(server, ManualClock()).run(model="yandexgpt", messages="Hi")
    assert isinstance(result, Completed)
    operation = result.response
    assert operation.usage is not None
    assert (operation.usage.input_text_tokens, operation.usage.total_tokens) == (31, 41)
    assert operation.model_version == "18.01.2024"
    assert operation.alternatives[0].status == "ALTERNATIVE_STATUS_FINAL"
    assert result.unwrap() == "To be, or not to be."


@pytest.mark.anyio
@pytest.mark.parametrize(("final", "check"), OUTCOMES)
async def test_async_outcomes_map_to_the_same_results(
    final: dict[str, Any], check: Callable[[OperationResult], bool]
) -> None:
    server = OperationServer(polls=[(200, {"id": "op1"}), (200, PENDING), (200, final)])
    time = ManualClock()
    deferred = async_deferred(server, time)
    run = await deferred.create(model="yandexgpt", messages=MESSAGES, max_tokens=5)
    assert run.status is RunStatus.IN_PROGRESS
    assert json.loads(server.requests[0].content)["completionOptions"]["maxTokens"] == "5"

    result = await run

    assert check(result), result
    assert result.response_id == "op1"
    assert server.paths() == [
        "POST /foundationModels/v1/completionAsync",
        "GET /operations/op1",
        "GET /operations/op1",
        "GET /operations/op1",
    ]
    assert len(time.slept) == 3
    # the client's own resource, attached later: the first look is final, so no sleep
    client = deferred.client
    assert isinstance(client.deferred, AsyncDeferred)
    again = await client.deferred.attach("op1")
    assert check(again), again
    assert type(again) is type(result)


@pytest.mark.anyio
async def test_async_requests_are_the_documented_ones() -> None:
    server = OperationServer(polls=[(200, PENDING), (200, done_with("ALTERNATIVE_STATUS_FINAL"))])
    client = AsyncYandexOpenAI(
        api_key=KEY,
        folder_id=FOLDER,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
    )
    assert isinstance(client.deferred, AsyncDeferred)

    run = await client.deferred.create(
        model="yandexgpt", messages=MESSAGES, temperature=0.1, max_tokens=2000,
        reasoning_mode="disabled",
    )  # fmt: skip
    assert await run.refresh() is RunStatus.IN_PROGRESS
    assert isinstance(await client.deferred.attach(run.id), Completed)
    assert isinstance(await client.deferred.attach(run.id).cancel(), Cancelled)

    assert [f"{r.method} {r.url}" for r in server.requests] == [
        f"POST {LLM}/foundationModels/v1/completionAsync",
        f"GET {OPERATIONS}/operations/op1",
        f"GET {OPERATIONS}/operations/op1",
        f"GET {OPERATIONS}/operations/op1:cancel",
    ]
    for request in server.requests:
        assert request.headers["Authorization"] == f"Api-Key {KEY}"
        assert request.headers["x-folder-id"] == FOLDER
        assert "OpenAI-Project" not in request.headers
    assert json.loads(server.requests[0].content) == {
        "modelUri": f"gpt://{FOLDER}/yandexgpt/latest",
        "completionOptions": {
            "stream": False,
            "temperature": 0.1,
            "maxTokens": "2000",
            "reasoningOptions": {"mode": "DISABLED"},
        },
        "messages": [
            {"role": "system", "text": "Translate the text"},
            {"role": "user", "text": "To be, or not to be: that is the question."},
        ],
    }
    await client.close()


@pytest.mark.anyio
async def test_async_iam_token_goes_as_bearer_with_the_folder() -> None:
    tokens = iter(["t1.first", "t1.second"])

    async def fetch_token() -> str:
        return next(tokens)

    server = OperationServer(polls=[(200, done_with("ALTERNATIVE_STATUS_FINAL"))])
    client = AsyncYandexOpenAI(
        iam_token=fetch_token,
        folder_id=FOLDER,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
    )

    run = await client.deferred.create(model="yandexgpt-lite", messages="Hi")
    assert await run.refresh() is RunStatus.COMPLETED

    assert [r.headers["Authorization"] for r in server.requests] == [
        "Bearer t1.first",
        "Bearer t1.second",
    ]
    assert [r.headers["x-folder-id"] for r in server.requests] == [FOLDER, FOLDER]
    await client.close()


@pytest.mark.anyio
async def test_async_wait_past_its_timeout_leaves_the_operation_running() -> None:
    server = OperationServer(polls=[(200, PENDING)])
    time = ManualClock()
    with pytest.raises(RunTimeoutError) as caught:
        await async_deferred(server, time).attach("op1").wait(timeout=20)
    assert caught.value.response_id == "op1"
    assert time() == pytest.approx(20)
    assert ":cancel" not in " ".join(server.paths())


def test_cancel_returns_the_cancelled_state() -> None:
    server = OperationServer(polls=[(200, PENDING)])
    deferred = sync_deferred(server, ManualClock())
    run = deferred.create(model="yandexgpt", messages="Hi")
    result = run.cancel()
    assert isinstance(result, Cancelled)
    assert server.paths()[-1] == "GET /operations/op1:cancel"
    assert server.requests[-1].headers["x-folder-id"] == FOLDER


@pytest.mark.anyio
async def test_async_cancel_of_a_finished_operation_keeps_its_result() -> None:
    finished = done_with("ALTERNATIVE_STATUS_FINAL")
    server = OperationServer(polls=[(200, finished)], cancelled=finished)
    result = await async_deferred(server, ManualClock()).attach("op1").cancel()
    assert isinstance(result, Completed)


def test_transient_faults_while_polling_are_sat_out() -> None:
    busy = {"error": {"message": "busy"}}
    server = OperationServer(
        polls=[(503, busy), (429, busy), (500, busy), (200, done_with("ALTERNATIVE_STATUS_FINAL"))]
    )
    result = sync_deferred(server, ManualClock()).attach("op1").wait()
    assert isinstance(result, Completed)
    assert server.paths().count("GET /operations/op1") == 4


def test_a_failed_create_is_not_resent() -> None:
    server = OperationServer(polls=[(200, PENDING)], created=[(500, {"error": {"message": "x"}})])
    with pytest.raises(AmbiguousSubmissionError, match="may or may not have started"):
        sync_deferred(server, ManualClock()).create(model="yandexgpt", messages="Hi")
    assert server.paths() == ["POST /foundationModels/v1/completionAsync"]


def test_a_rate_limited_create_is_retried() -> None:
    limited = (429, {"error": {"message": "quota"}})
    server = OperationServer(polls=[(200, PENDING)], created=[limited, (200, PENDING)])
    time = ManualClock()
    assert sync_deferred(server, time).create(model="yandexgpt", messages="Hi").id == "op1"
    assert server.paths().count("POST /foundationModels/v1/completionAsync") == 2
    assert len(time.slept) == 1


def test_a_wait_past_its_timeout_leaves_the_operation_running() -> None:
    server = OperationServer(polls=[(200, PENDING)])
    time = ManualClock()
    with pytest.raises(RunTimeoutError) as caught:
        sync_deferred(server, time).attach("op1").wait(timeout=20)
    assert caught.value.response_id == "op1"
    assert time() == pytest.approx(20)
    assert ":cancel" not in " ".join(server.paths())


@pytest.mark.parametrize(
    "operation",
    [
        {"id": "op1", "done": True},
        {"id": "op1", "done": True, "response": {"alternatives": []}},
        {"id": "op1", "done": True, "response": {"alternatives": [
            {"message": {"role": "assistant", "text": ""}, "status": "ALTERNATIVE_STATUS_NEW"}
        ]}},
        {"done": True},
    ],
)  # fmt: skip
def test_an_operation_the_library_cannot_read_is_an_error(operation: dict[str, Any]) -> None:
    server = OperationServer(polls=[(200, operation)])
    with pytest.raises(UnexpectedStatusError):
        sync_deferred(server, ManualClock()).attach("op1").wait()


def test_messages_convert_from_openai_form() -> None:
    assert yandex_messages(
        [
            {"role": "developer", "content": "Be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "toolCallList": {"toolCalls": []}},
        ]
    ) == [
        {"role": "system", "text": "Be brief"},
        {"role": "user", "text": "ab"},
        {"role": "assistant", "toolCallList": {"toolCalls": []}},
    ]
    with pytest.raises(ValueError, match="neither 'text' nor 'content'"):
        yandex_messages([{"role": "user"}])
    with pytest.raises(ValueError, match="at least one message"):
        yandex_messages([])
    with pytest.raises(ValueError, match="cannot turn message content"):
        yandex_messages([{"role": "user", "content": [{"type": "image_url"}]}])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"temperature": 1.5}, "between 0 and 1"),
        ({"max_tokens": 0}, "positive int"),
        ({"max_tokens": "100"}, "positive int"),
    ],
)
def test_bad_options_fail_before_any_request(options: dict[str, Any], message: str) -> None:
    server = OperationServer(polls=[(200, PENDING)])
    with pytest.raises(ValueError, match=message):
        sync_deferred(server, ManualClock()).create(model="yandexgpt", messages="Hi", **options)
    assert server.requests == []
