"""openai-agents on Yandex AI Studio: a plain answer, a tool call and a typed answer.

Talks to Yandex AI Studio when YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID are set,
else to the built-in emulator::

    pip install "openai-agents>=0.24"
    python examples/frameworks/with_openai_agents.py
"""

from __future__ import annotations

import asyncio

from agents import (
    Agent,
    ModelSettings,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from pydantic import BaseModel

from yc_responses import AsyncYandexOpenAI
from yc_responses.testing import demo_async_client

# traces go to OpenAI's servers with OPENAI_API_KEY; off, or set_tracing_export_api_key(...)
set_tracing_disabled(True)


class City(BaseModel):
    name: str
    country: str


@function_tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 21 degrees in {city}"


async def main(client: AsyncYandexOpenAI) -> None:
    model = OpenAIResponsesModel(model="yandexgpt", openai_client=client)

    plain = await Runner.run(Agent(name="assistant", model=model), "Say hello in one sentence.")
    print("Plain:", plain.final_output)

    forecaster = Agent(
        name="forecaster",
        model=model,
        tools=[get_weather],
        model_settings=ModelSettings(tool_choice="required"),  # call a tool first
    )
    result = await Runner.run(forecaster, "What is the weather in Paris?")
    called = [item.raw_item for item in result.new_items if item.type == "tool_call_item"]
    print("Tools called:", [getattr(call, "name", "?") for call in called])
    print("After the tool:", result.final_output)

    extractor = Agent(name="extractor", model=model, output_type=City)
    typed = await Runner.run(extractor, "Paris is the capital of France.")
    print("Typed:", repr(typed.final_output))


async def _demo() -> None:
    async with demo_async_client() as client:
        await main(client)


if __name__ == "__main__":
    asyncio.run(_demo())
