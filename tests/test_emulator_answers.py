"""What the emulator answers: tool calls, structured output, scripts on every API, and the
service's own answers where the emulator used to differ (through the official client)."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any, Literal

import httpx2
import openai
import pytest
from pydantic import BaseModel, Field

from yc_responses import YandexOpenAI
from yc_responses.testing import DEFAULT_FOLDER_ID, Emulator, Fault, ManualClock, Outcome
from yc_responses.testing.schema_json import value_for_schema

MODEL = f"gpt://{DEFAULT_FOLDER_ID}/yandexgpt/latest"
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "days", "unit"],
    "additionalProperties": False,
}


class Forecast(BaseModel):
    city: str
    days: int
    unit: str


class Person(BaseModel):
    name: str
    age: int | None
    tags: list[str]
    friend: Forecast


@pytest.fixture
def client(yc_emulator: Emulator) -> YandexOpenAI:
    return yc_emulator.client(max_retries=0)


def _response_tool() -> Any:
    return {"type": "function", "name": "get_weather", "parameters": WEATHER}


def _chat_tool() -> Any:
    return {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}


# --- tool calls ----------------------------------------------------------------------------------


def test_a_scripted_tool_call_is_a_function_call_item(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.tool_call("get_weather", {"city": "Paris", "days": 2}))

    reply = client.responses.create(model="yandexgpt", input="Weather?", tools=[_response_tool()])

    (item,) = reply.output
    assert item.type == "function_call"
    assert (item.name, json.loads(item.arguments)) == ("get_weather", {"city": "Paris", "days": 2})
    assert item.call_id
    assert reply.output_text == ""


def test_a_forced_tool_choice_gets_arguments_valid_for_the_schema_then_a_text(
    client: YandexOpenAI,
) -> None:
    tools: Any = [_response_tool()]
    first = client.responses.create(
        model="yandexgpt", input="Weather in Paris?", tools=tools, tool_choice="required"
    )
    call = first.output[0]
    assert call.type == "function_call"
    arguments = Forecast.model_validate_json(call.arguments)
    assert 1 <= arguments.days <= 7
    assert arguments.unit in ("celsius", "fahrenheit")

    # the input now ends with the tool's output: a text, though the choice still forces
    second = client.responses.create(
        model="yandexgpt",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=tools,
        tool_choice="required",
    )
    assert second.output_text == "Emulated answer to: Weather in Paris?"


def test_a_named_tool_choice_calls_that_tool_and_unforced_tools_get_text(
    client: YandexOpenAI,
) -> None:
    other = {"type": "function", "name": "other", "parameters": {"type": "object"}}
    tools: Any = [other, _response_tool()]

    named = client.responses.create(
        model="yandexgpt",
        input="x",
        tools=tools,
        tool_choice={"type": "function", "name": "get_weather"},
    )
    unforced = client.responses.create(model="yandexgpt", input="x", tools=tools)

    assert named.output[0].type == "function_call"
    assert named.output[0].name == "get_weather"
    assert unforced.output_text == "Emulated answer to: x"


def test_a_streamed_tool_call_is_parsed_by_the_official_client(client: YandexOpenAI) -> None:
    with client.responses.stream(
        model="yandexgpt", input="Weather?", tools=[_response_tool()], tool_choice="required"
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()

    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    assert final.output[0].type == "function_call"
    Forecast.model_validate_json(final.output[0].arguments)


def test_chat_tool_calls_scripted_forced_and_streamed(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    messages: Any = [{"role": "user", "content": "Weather?"}]
    yc_emulator.script(Outcome.tool_call("get_weather", {"city": "Oslo"}))
    scripted = client.chat.completions.create(
        model="yandexgpt", messages=messages, tools=[_chat_tool()]
    )
    forced = client.chat.completions.create(
        model="yandexgpt", messages=messages, tools=[_chat_tool()], tool_choice="required"
    )
    chunks = list(
        client.chat.completions.create(
            model="yandexgpt",
            messages=messages,
            tools=[_chat_tool()],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
    )
    call: Any = forced.choices[0].message.tool_calls
    assert call is not None
    history: Any = [
        *messages,
        forced.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call[0].id, "content": "sunny"},
    ]
    answered = client.chat.completions.create(
        model="yandexgpt",
        messages=history,
        tools=[_chat_tool()],
        tool_choice="required",
    )

    assert scripted.choices[0].finish_reason == "tool_calls"
    scripted_calls: Any = scripted.choices[0].message.tool_calls
    assert scripted_calls is not None
    assert json.loads(scripted_calls[0].function.arguments) == {"city": "Oslo"}
    Forecast.model_validate_json(call[0].function.arguments)
    streamed = [c.choices[0].delta.tool_calls for c in chunks if c.choices]
    assert any(streamed)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert answered.choices[0].message.content == "Emulated answer to: Weather?"


# --- structured output ---------------------------------------------------------------------------


def test_a_json_schema_format_gets_valid_json_the_same_for_the_same_seed(
    client: YandexOpenAI,
) -> None:
    def ask() -> Person:
        reply = client.responses.parse(model="yandexgpt", input="Who?", text_format=Person)
        assert reply.output_parsed is not None
        return reply.output_parsed

    assert ask() == ask()
    chat = client.chat.completions.parse(
        model="yandexgpt", messages=[{"role": "user", "content": "Who?"}], response_format=Person
    )
    assert isinstance(chat.choices[0].message.parsed, Person)


def test_json_object_and_scripted_dict_answers(client: YandexOpenAI, yc_emulator: Emulator) -> None:
    loose = client.chat.completions.create(
        model="yandexgpt",
        messages=[{"role": "user", "content": "Give JSON"}],
        response_format={"type": "json_object"},
    )
    yc_emulator.script(Outcome.completed({"city": "Paris", "days": 3, "unit": "celsius"}))
    scripted = client.responses.parse(model="yandexgpt", input="x", text_format=Forecast)

    assert isinstance(json.loads(loose.choices[0].message.content or ""), dict)
    assert scripted.output_parsed == Forecast(city="Paris", days=3, unit="celsius")


# --- scripts, rules and faults on chat completions and completionAsync ---------------------------


def test_scripts_rules_and_faults_apply_to_chat_completions(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    def ask(text: str) -> Any:
        return client.chat.completions.create(
            model="yandexgpt", messages=[{"role": "user", "content": text}]
        )

    yc_emulator.script(Outcome.completed("scripted"))
    yc_emulator.on_input("cut", Outcome.incomplete("max_output_tokens", "partial"))
    yc_emulator.on_input("boom", Outcome.failed("server_error", "exploded"))

    assert ask("a").choices[0].message.content == "scripted"
    cut = ask("cut").choices[0]
    assert (cut.message.content, cut.finish_reason) == ("partial", "length")
    with pytest.raises(openai.InternalServerError, match="exploded"):
        ask("boom")
    yc_emulator.inject(Fault.rate_limit(retry_after=1), route="chat.completions.create", times=1)
    with pytest.raises(openai.RateLimitError):
        ask("a")


def _completion_async(emu: Emulator, **body: Any) -> dict[str, Any]:
    reply = httpx2.post(
        f"{emu.llm_base_url}/foundationModels/v1/completionAsync",
        json={
            "modelUri": f"gpt://{emu.folder_id}/yandexgpt",
            "messages": [{"role": "user", "text": "Weather?"}],
            **body,
        },
        headers={"Authorization": f"Api-Key {emu.api_key}"},
    )
    result: dict[str, Any] = reply.json()
    result["status"] = reply.status_code
    return result


def _done(emu: Emulator, operation_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Api-Key {emu.api_key}"}
    result: dict[str, Any] = httpx2.get(
        f"{emu.operation_base_url}/operations/{operation_id}", headers=headers
    ).json()
    return result


def test_completion_async_tool_calls_scripted_and_forced(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    tools = [{"function": {"name": "get_weather", "parameters": WEATHER}}]
    yc_emulator.script(Outcome.tool_call("get_weather", {"city": "Rome"}))
    scripted = _completion_async(yc_emulator, tools=tools)["id"]
    forced = _completion_async(yc_emulator, tools=tools, toolChoice={"mode": "REQUIRED"})["id"]
    yc_emulator.on_input("rule", Outcome.completed("by a rule"))
    ruled = _completion_async(yc_emulator, messages=[{"role": "user", "text": "rule"}])["id"]
    yc_clock.advance(1.0)

    alternative = _done(yc_emulator, scripted)["response"]["alternatives"][0]
    assert alternative["status"] == "ALTERNATIVE_STATUS_TOOL_CALLS"
    call = alternative["message"]["toolCallList"]["toolCalls"][0]["functionCall"]
    assert call == {"name": "get_weather", "arguments": {"city": "Rome"}}
    forced_call = _done(yc_emulator, forced)["response"]["alternatives"][0]["message"]
    Forecast.model_validate(
        forced_call["toolCallList"]["toolCalls"][0]["functionCall"]["arguments"]
    )
    ruled_text = _done(yc_emulator, ruled)["response"]["alternatives"][0]["message"]["text"]
    assert ruled_text == "by a rule"


# --- the service's own answers -------------------------------------------------------------------


def test_refusals_of_the_service_are_400s_when_asked_for() -> None:
    with Emulator(service_refusals=True) as emu:
        client = emu.client(max_retries=0)
        other = emu.client(folder_id="b1gother", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="invalid model URI"):
            client.responses.create(model=f"gpt://{emu.folder_id}/retired-model", input="x")
        with pytest.raises(openai.BadRequestError, match="Specified folder ID 'b1gother'"):
            other.responses.create(model="yandexgpt", input="x")


def test_a_response_has_output_text_and_no_completed_at(yc_emulator: Emulator) -> None:
    headers = {"Authorization": f"Bearer {yc_emulator.api_key}"}
    raw = httpx2.post(
        f"{yc_emulator.base_url}/responses",
        json={"model": MODEL, "input": "Hi"},
        headers=headers,
    ).json()

    assert raw["output_text"] == "Emulated answer to: Hi"
    assert "completed_at" not in raw
    assert raw["usage"]["input_tokens_details"]["cached_tokens"] == 0


def test_answers_carry_request_and_trace_ids(yc_emulator: Emulator) -> None:
    reply = httpx2.get(
        f"{yc_emulator.base_url}/models",
        headers={"Authorization": f"Bearer {yc_emulator.api_key}", "x-client-request-id": "c-1"},
    )
    missing = httpx2.get(f"{yc_emulator.base_url}/models")

    assert reply.headers["x-request-id"] != missing.headers["x-request-id"]
    assert len(reply.headers["x-server-trace-id"].split(":")) == 4
    assert reply.headers["x-client-request-id"] == "c-1"


def test_responses_expire_after_30_days_and_operations_after_3(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    response = client.responses.create(model="yandexgpt", input="x")
    operation = _completion_async(yc_emulator)["id"]
    yc_clock.advance(3 * 86400.0)

    assert "error" in _done(yc_emulator, operation)
    assert client.responses.retrieve(response.id).status == "completed"
    yc_clock.advance(27 * 86400.0)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_completion_async_refuses_models_of_the_openai_compatible_api_only(
    yc_emulator: Emulator,
) -> None:
    for name in ("qwen3-235b-a22b-fp8", "gpt-oss-120b", "gemma-3-27b-it", "deepseek-v32"):
        refused = _completion_async(yc_emulator, modelUri=f"gpt://{yc_emulator.folder_id}/{name}")
        assert refused["status"] == 400
        assert "OpenAI-compatible API" in refused["error"]["message"]
    assert _completion_async(yc_emulator)["status"] == 200


def test_temperature_above_1_is_refused_everywhere(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    with pytest.raises(openai.BadRequestError, match="from 0 to 1"):
        client.responses.create(model="yandexgpt", input="x", temperature=1.5)
    with pytest.raises(openai.BadRequestError, match="from 0 to 1"):
        client.chat.completions.create(
            model="yandexgpt", messages=[{"role": "user", "content": "x"}], temperature=2
        )
    hot = _completion_async(yc_emulator, completionOptions={"temperature": 1.2})
    assert hot["status"] == 400
    assert client.responses.create(model="yandexgpt", input="x", temperature=1).status


def test_a_stored_prompt_needs_no_model(yc_emulator: Emulator) -> None:
    raw = openai.OpenAI(api_key=yc_emulator.api_key, base_url=yc_emulator.base_url, max_retries=0)
    reply = raw.responses.create(prompt={"id": "fvt-prompt-1"}, input="Hi")
    raw.close()

    assert reply.status == "completed"
    assert reply.prompt is not None
    assert reply.prompt.id == "fvt-prompt-1"


def test_input_items_list_the_input_of_a_response(client: YandexOpenAI) -> None:
    reply = client.responses.create(
        model="yandexgpt",
        input=[
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        ],
    )

    items = client.responses.input_items.list(reply.id, order="asc")
    newest = client.responses.input_items.list(reply.id, limit=1)

    assert [item.type for item in items.data] == ["message", "message"]
    assert [getattr(item, "role", None) for item in items.data] == ["system", "user"]
    assert [getattr(item, "role", None) for item in newest.data] == ["user"]
    assert newest.has_more
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("no-such-response")


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    sku: str = Field(min_length=3, max_length=8)
    quantity: int = Field(ge=1, le=5)
    price: float = Field(gt=0, lt=10)


class Order(BaseModel):
    kind: Literal["order"]
    color: Color
    placed: datetime.datetime
    email: str | None
    lines: list[Line] = Field(min_length=2, max_length=3)
    notes: dict[str, int]
    parent: Order | None = None


@pytest.mark.parametrize("model", [Order, Person, Forecast])
def test_schema_valid_json_covers_what_pydantic_schemas_use(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()

    values = [value_for_schema(schema, seed=seed) for seed in range(5)]

    for value in values:
        model.model_validate(value)
    assert value_for_schema(schema, seed=1) == values[1]


def test_ids_of_runs_do_not_depend_on_the_requests_between_them() -> None:
    def ids(polls: int) -> list[str]:
        with Emulator(seed=5) as emu, emu.client(max_retries=0) as client:
            first = client.responses.create(model="yandexgpt", input="a").id
            for _ in range(polls):
                client.responses.retrieve(first)
            return [first, client.responses.create(model="yandexgpt", input="b").id]

    assert ids(0) == ids(3)
