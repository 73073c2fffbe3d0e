"""Inputs invalid on their face are refused before any request, with the reason."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from yc_responses import Completed, YandexOpenAI
from yc_responses.testing import Emulator, Outcome


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> Iterator[YandexOpenAI]:
    with emulator.client() as client:
        yield client


@pytest.mark.parametrize(
    ("item", "options", "reason"),
    [
        ("Hi", {"model": "yandex gpt"}, "model"),
        ("Hi", {"model": "yandexgpt", "temperature": math.nan}, "temperature"),
        ("Hi", {"model": "yandexgpt", "temperature": 1.5}, "temperature"),
        ("Hi", {"model": "yandexgpt", "max_output_tokens": 0}, "max_output_tokens"),
        ("   ", {"model": "yandexgpt"}, "empty"),
        ({"instructions": "Be brief"}, {"model": "yandexgpt"}, "input"),
        ({"input": 3}, {"model": "yandexgpt"}, "input"),
        ("Hi", {}, "model"),
        ("Hi", {"model": "yandexgpt", "extra_headers": {"x-note": "a\nb"}}, "extra_headers"),
        ("Hi", {"model": "yandexgpt", "extra_headers": {"bad name": "x"}}, "extra_headers"),
        ("Hi", {"model": "yandexgpt", "metadata": {"a": math.nan}}, "JSON"),
        ("Hi", {"model": "yandexgpt", "extra_body": {"temperature": math.nan}}, "JSON"),
        ("Hi", {"model": "yandexgpt", "timeout": -1}, "timeout"),
    ],
)
def test_a_responses_input_invalid_on_its_face_is_refused_with_the_reason(
    client: YandexOpenAI, item: Any, options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        client.background.prepare_input(item, **options)


def test_a_valid_responses_input_gives_its_creation_keywords(client: YandexOpenAI) -> None:
    params = client.background.prepare_input(
        {"input": "Hi", "temperature": 0.2}, model="yandexgpt/rc"
    )
    assert params == {
        "model": "yandexgpt/rc",
        "input": "Hi",
        "temperature": 0.2,
        "background": True,
    }


@pytest.mark.parametrize(
    ("item", "options", "reason"),
    [
        ("Hi", {"model": "yandex gpt"}, "model"),
        ("Hi", {"model": "yandexgpt", "temperature": math.nan}, "temperature"),
        ("Hi", {"model": "yandexgpt", "temperature": "hot"}, "temperature"),
        ({"messages": []}, {"model": "yandexgpt"}, "empty"),
        ({"messages": 7}, {"model": "yandexgpt"}, "messages"),
        ("Hi", {"model": "yandexgpt", "reasoning_mode": 1}, "reasoning_mode"),
        ("Hi", {"model": "qwen3-235b-a22b-fp8"}, "OpenAI-compatible API"),
        ("Hi", {"model": "gpt-oss-120b/latest"}, "OpenAI-compatible API"),
        ("Hi", {"model": "yandexgpt", "extra_body": {"x": math.inf}}, "JSON"),
        ("Hi", {}, "model"),
    ],
)
def test_a_deferred_input_invalid_on_its_face_is_refused_with_the_reason(
    client: YandexOpenAI, item: Any, options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        client.deferred.prepare_input(item, **options)


def test_a_malformed_model_in_map_sends_nothing(emulator: Emulator, client: YandexOpenAI) -> None:
    with pytest.raises(ValueError, match="input 1"):
        client.background.map(["Hi", {"input": "Yo", "model": "yandex gpt"}], model="yandexgpt")
    assert sum(emulator.stats.requests.values()) == 0


def test_a_deferred_tool_call_is_on_the_result(emulator: Emulator, client: YandexOpenAI) -> None:
    emulator.script(Outcome.tool_call("get_weather", {"city": "Kazan"}))
    tool = {"function": {"name": "get_weather", "parameters": {"type": "object"}}}
    result = client.deferred.run(
        model="yandexgpt", messages="Weather in Kazan?", extra_body={"tools": [tool]}
    )
    assert isinstance(result, Completed)
    calls = result.response.tool_calls
    assert [(call.name, call.arguments) for call in calls] == [("get_weather", {"city": "Kazan"})]
