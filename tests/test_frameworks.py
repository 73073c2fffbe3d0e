"""openai-agents, langchain-openai and pydantic-ai run on the emulator, unscripted.

Plain answers, tool calls (the framework runs the tool and gets a final answer) and
structured output, through ``YandexOpenAI`` / ``AsyncYandexOpenAI``. The frameworks are
the optional ``frameworks`` dependencies (``pip install -e '.[frameworks]'``).
"""

from __future__ import annotations

import asyncio
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from yc_responses import AsyncYandexOpenAI, YandexOpenAI
from yc_responses.testing import Emulator

agents = pytest.importorskip("agents")
langchain_openai = pytest.importorskip("langchain_openai")
pydantic_ai = pytest.importorskip("pydantic_ai")

from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool  # noqa: E402
from langchain_core.messages import BaseMessage, HumanMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from pydantic_ai import Agent as PaiAgent  # noqa: E402
from pydantic_ai.models.openai import OpenAIChatModel  # noqa: E402
from pydantic_ai.models.openai import OpenAIResponsesModel as PaiResponsesModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "frameworks"

agents.set_tracing_disabled(True)


class City(BaseModel):
    name: str
    population: int
    landmarks: list[str]


# --- openai-agents -------------------------------------------------------------------------------


def _agents_model(client: AsyncYandexOpenAI) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(model="yandexgpt", openai_client=client)


@pytest.mark.anyio
async def test_agents_plain_answer(async_yc_client: AsyncYandexOpenAI) -> None:
    result = await Runner.run(Agent(name="a", model=_agents_model(async_yc_client)), "Hi")

    assert result.final_output == "Emulated answer to: Hi"


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
async def test_agents_call_a_tool_then_answer(
    async_yc_client: AsyncYandexOpenAI, streamed: bool
) -> None:
    cities: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        cities.append(city)
        return "sunny"

    agent = Agent(
        name="forecaster",
        model=_agents_model(async_yc_client),
        tools=[get_weather],
        model_settings=ModelSettings(tool_choice="required"),
    )
    if streamed:
        result: Any = Runner.run_streamed(agent, "Weather in Paris?")
        kinds = [event.type async for event in result.stream_events()]
        assert "raw_response_event" in kinds
    else:
        result = await Runner.run(agent, "Weather in Paris?")

    assert len(cities) == 1
    assert isinstance(cities[0], str)
    assert result.final_output == "Emulated answer to: Weather in Paris?"


@pytest.mark.anyio
async def test_agents_structured_output(async_yc_client: AsyncYandexOpenAI) -> None:
    agent = Agent(name="x", model=_agents_model(async_yc_client), output_type=City)

    first = await Runner.run(agent, "Describe Paris")
    again = await Runner.run(agent, "Describe Paris")

    assert isinstance(first.final_output, City)
    assert first.final_output == again.final_output  # deterministic for the emulator's seed


# --- langchain-openai ----------------------------------------------------------------------------


@pytest.fixture
def chat_model(yc_emulator: Emulator) -> Any:
    client: YandexOpenAI = yc_emulator.client()
    async_client = yc_emulator.async_client()
    yield langchain_openai.ChatOpenAI(
        model="yandexgpt",
        client=client.chat.completions,
        async_client=async_client.chat.completions,
        root_client=client,
        root_async_client=async_client,
    )
    client.close()
    asyncio.run(async_client.close())


def test_langchain_plain_and_streamed_answers(chat_model: Any) -> None:
    assert chat_model.invoke("Hi").content == "Emulated answer to: Hi"
    assert "".join(str(chunk.content) for chunk in chat_model.stream("Hi")) == (
        "Emulated answer to: Hi"
    )


def test_langchain_calls_a_tool_then_answers(chat_model: Any) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        return f"sunny in {city}"

    bound = chat_model.bind_tools([get_weather], tool_choice="required")
    question = HumanMessage("Weather in Paris?")
    asked = bound.invoke([question])
    history: list[BaseMessage] = [
        question,
        asked,
        *(get_weather.invoke(c) for c in asked.tool_calls),
    ]
    answer = bound.invoke(history)

    assert [call["name"] for call in asked.tool_calls] == ["get_weather"]
    assert isinstance(asked.tool_calls[0]["args"]["city"], str)
    assert answer.content == "Emulated answer to: Weather in Paris?"


def test_langchain_structured_output(chat_model: Any) -> None:
    for method in ("json_schema", "function_calling"):
        city = chat_model.with_structured_output(City, method=method).invoke("Describe Paris")
        assert isinstance(city, City)


# --- pydantic-ai ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("api", [OpenAIChatModel, PaiResponsesModel], ids=["chat", "responses"])
async def test_pydantic_ai_plain_tool_and_structured(
    async_yc_client: AsyncYandexOpenAI, api: type[OpenAIChatModel] | type[PaiResponsesModel]
) -> None:
    model = api("yandexgpt", provider=OpenAIProvider(openai_client=async_yc_client))
    plain = await PaiAgent(model).run("Hi")

    agent = PaiAgent(model, output_type=City)
    cities: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        cities.append(city)
        return "sunny"

    with_tool = await agent.run("Weather in Paris?")
    typed = await PaiAgent(model, output_type=City).run("Describe Paris")

    assert plain.output == "Emulated answer to: Hi"
    assert len(cities) == 1
    assert isinstance(with_tool.output, City)
    assert isinstance(typed.output, City)


# --- the examples and the README's code ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_framework_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    out = capsys.readouterr().out

    assert "Plain: Emulated answer to: Say hello in one sentence." in out
    assert re.search(r"Tools called: \[.*get_weather", out)
    assert "After the tool:" in out
    assert re.search(r"Typed: City\(name='.+', country='.+'\)", out)


def _readme_blocks(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


def test_the_readme_framework_code_runs_on_the_emulator(
    yc_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "YC_API_KEY": yc_emulator.api_key,
        "YC_FOLDER_ID": yc_emulator.folder_id,
        "YC_BASE_URL": yc_emulator.base_url,
    }.items():
        monkeypatch.setenv(name, value)
    blocks = _readme_blocks("With agent frameworks")

    assert len(blocks) == 3
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    out = capsys.readouterr().out
    assert out.count("Emulated answer to:") >= 3
