"""Every body the emulator sends validates against the official client's own models."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pydantic
import pytest
from openai import BaseModel
from openai.types import CreateEmbeddingResponse, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseItemList, ResponseStreamEvent

from yc_responses.testing import DEFAULT_FOLDER_ID, ManualClock, Outcome
from yc_responses.testing.core import EmulatorCore, Request

KEY = "emulator-test-key"
HEADERS = {"authorization": f"Bearer {KEY}", "openai-project": DEFAULT_FOLDER_ID}
MODEL = f"gpt://{DEFAULT_FOLDER_ID}/yandexgpt/latest"
EVENTS: pydantic.TypeAdapter[ResponseStreamEvent] = pydantic.TypeAdapter(ResponseStreamEvent)


DOCUMENTED_EXTRAS = {"store", "output_text"}
"""In Yandex's Response schema, though the official model does not declare them as fields
(``output_text`` is a property there, computed from ``output``: both must agree)."""


def _no_extra_fields(model: object, where: str = "") -> None:
    """Fail if the official model kept a field it does not declare (a misspelt or made-up one)."""
    if isinstance(model, BaseModel):
        extra = set(model.model_extra or {}) - DOCUMENTED_EXTRAS
        assert not extra, f"{where}: undeclared fields {sorted(extra)}"
        for name in type(model).model_fields:
            _no_extra_fields(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            _no_extra_fields(item, f"{where}[{index}]")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def core(clock: ManualClock) -> EmulatorCore:
    return EmulatorCore(
        api_key=KEY, folder_id=DEFAULT_FOLDER_ID, clock=clock, background_duration=4.0
    )


def _call(core: EmulatorCore, method: str, target: str, body: object = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    reply = core.handle(Request.from_target(method, target, HEADERS, raw))
    assert reply.status == 200, reply.body
    return reply.body


def _events(core: EmulatorCore, target: str) -> list[dict[str, Any]]:
    reply = core.handle(Request.from_target("GET", target, HEADERS))
    assert reply.stream is not None
    chunks, finished = reply.stream.poll()
    assert finished
    events = []
    for chunk in chunks:
        event_line, data_line = chunk.decode().strip().split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {event['type']}"
        events.append(event)
    return events


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.completed("A full answer."),
        Outcome.failed("rate_limit_exceeded", "try later"),
        Outcome.incomplete("max_output_tokens", "A partial"),
        Outcome.incomplete("content_filter"),
    ],
    ids=["completed", "failed", "incomplete", "content_filter"],
)
def test_responses_and_their_events_validate_strictly(
    core: EmulatorCore, clock: ManualClock, outcome: Outcome
) -> None:
    core.script(outcome)
    created = _call(
        core, "POST", "/v1/responses", {"model": MODEL, "input": "Hi", "background": True}
    )
    snapshots = [created, _call(core, "GET", f"/v1/responses/{created['id']}")]
    clock.advance(1.0)
    snapshots.append(_call(core, "GET", f"/v1/responses/{created['id']}"))
    clock.advance(3.0)
    snapshots.append(_call(core, "GET", f"/v1/responses/{created['id']}"))
    events = _events(core, f"/v1/responses/{created['id']}?stream=true")

    statuses = [Response.model_validate(s, strict=True).status for s in snapshots]
    assert statuses == ["queued", "queued", "in_progress", outcome.kind]
    for snapshot in snapshots:
        response = Response.model_validate(snapshot)
        _no_extra_fields(response, "response")
        assert snapshot["output_text"] == response.output_text
        assert "completed_at" not in snapshot
    for event in events:
        parsed = EVENTS.validate_python(event, strict=True)
        _no_extra_fields(parsed, event["type"])
    assert events[-1]["type"] == f"response.{outcome.kind}"
    assert events[-1]["response"] == snapshots[-1]


def test_cancelled_and_plain_responses_validate(core: EmulatorCore) -> None:
    core.script(Outcome.never())
    job = _call(core, "POST", "/v1/responses", {"model": MODEL, "input": "x", "background": True})
    cancelled = _call(core, "POST", f"/v1/responses/{job['id']}/cancel")
    plain = _call(
        core,
        "POST",
        "/v1/responses",
        {"model": MODEL, "input": [{"role": "user", "content": "Hi"}], "instructions": "Be brief"},
    )

    for payload in (cancelled, plain):
        _no_extra_fields(Response.model_validate(payload, strict=True), "response")
    assert Response.model_validate(cancelled).status == "cancelled"
    assert Response.model_validate(plain).output_text == "Emulated answer to: Hi"


def test_chat_completions_embeddings_and_models_validate(core: EmulatorCore) -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}
    completion = _call(core, "POST", "/v1/chat/completions", chat)
    stream = core.handle(
        Request.from_target(
            "POST", "/v1/chat/completions", HEADERS, json.dumps({**chat, "stream": True}).encode()
        )
    )
    assert stream.stream is not None
    chunks, _ = stream.stream.poll()
    embeddings = [
        _call(
            core,
            "POST",
            "/v1/embeddings",
            {
                "model": f"emb://{DEFAULT_FOLDER_ID}/text-search-doc/latest",
                "input": ["a", "b"],
                "encoding_format": encoding,
            },
        )
        for encoding in ("float", "base64")
    ]
    models = _call(core, "GET", "/v1/models")

    _no_extra_fields(ChatCompletion.model_validate(completion, strict=True), "chat")
    datas = [chunk.decode().removeprefix("data: ").strip() for chunk in chunks]
    assert datas[-1] == "[DONE]"
    for data in datas[:-1]:
        _no_extra_fields(ChatCompletionChunk.model_validate_json(data, strict=True), "chunk")
    floats = CreateEmbeddingResponse.model_validate(embeddings[0], strict=True)
    _no_extra_fields(floats, "embeddings")
    # base64 is little-endian float32, decoded by the client before validation
    packed = base64.b64decode(embeddings[1]["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == floats.data[0].embedding
    for model in models["data"]:
        _no_extra_fields(Model.model_validate(model, strict=True), "model")


def test_operations_follow_the_documented_examples_field_for_field(
    core: EmulatorCore, clock: ManualClock
) -> None:
    body = {
        "modelUri": f"gpt://{DEFAULT_FOLDER_ID}/yandexgpt",
        "completionOptions": {"stream": False, "temperature": 0.1, "maxTokens": "2000"},
        "messages": [{"role": "user", "text": "To be, or not to be"}],
    }
    headers = {"authorization": f"Api-Key {KEY}", "x-folder-id": DEFAULT_FOLDER_ID}
    reply = core.handle(
        Request.from_target(
            "POST", "/foundationModels/v1/completionAsync", headers, json.dumps(body).encode()
        )
    )
    assert reply.body is not None
    clock.advance(4.0)
    done = _call(core, "GET", f"/operations/{reply.body['id']}")

    # the documented examples, with their values replaced by types
    assert {k: type(v) for k, v in reply.body.items()} == {
        "id": str,
        "description": str,
        "createdAt": str,
        "createdBy": str,
        "modifiedAt": str,
        "done": bool,
        "metadata": type(None),
    }
    assert list(done) == [
        "done",
        "response",
        "id",
        "description",
        "createdAt",
        "createdBy",
        "modifiedAt",
    ]
    usage = done["response"]["usage"]
    assert list(usage) == ["inputTextTokens", "completionTokens", "totalTokens"]
    assert int(usage["totalTokens"]) == int(usage["inputTextTokens"]) + int(
        usage["completionTokens"]
    )


def test_tool_calls_and_input_items_validate_strictly(
    core: EmulatorCore, clock: ManualClock
) -> None:
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    core.script(Outcome.tool_call("f", {"a": 1}))
    job = _call(
        core,
        "POST",
        "/v1/responses",
        {"model": MODEL, "input": "x", "background": True, "tools": [tool]},
    )
    clock.advance(4.0)
    done = _call(core, "GET", f"/v1/responses/{job['id']}")
    events = _events(core, f"/v1/responses/{job['id']}?stream=true")
    items = _call(core, "GET", f"/v1/responses/{job['id']}/input_items")
    chat_tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    chat = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [chat_tool],
        "tool_choice": "required",
    }
    completion = _call(core, "POST", "/v1/chat/completions", chat)
    stream = core.handle(
        Request.from_target(
            "POST", "/v1/chat/completions", HEADERS, json.dumps({**chat, "stream": True}).encode()
        )
    )
    assert stream.stream is not None
    chunks, _ = stream.stream.poll()

    response = Response.model_validate(done, strict=True)
    _no_extra_fields(response, "response")
    assert response.output[0].type == "function_call"
    for event in events:
        _no_extra_fields(EVENTS.validate_python(event, strict=True), event["type"])
    _no_extra_fields(ResponseItemList.model_validate(items, strict=True), "input_items")
    parsed = ChatCompletion.model_validate(completion, strict=True)
    _no_extra_fields(parsed, "chat")
    assert parsed.choices[0].finish_reason == "tool_calls"
    for data in [c.decode().removeprefix("data: ").strip() for c in chunks][:-1]:
        _no_extra_fields(ChatCompletionChunk.model_validate_json(data, strict=True), "chunk")
