"""Pydantic AI on Yandex AI Studio: a plain answer, a tool call and a typed answer.

Talks to Yandex AI Studio when YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID are set,
else to the built-in emulator::

    pip install "pydantic-ai-slim[openai]>=2.68"
    python examples/frameworks/with_pydantic_ai.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from yc_responses import AsyncYandexOpenAI
from yc_responses.testing import demo_async_client


class Forecast(BaseModel):
    city: str
    summary: str


class City(BaseModel):
    name: str
    country: str


async def main(client: AsyncYandexOpenAI) -> None:
    provider = OpenAIProvider(openai_client=client)
    # chat completions; OpenAIResponsesModel("yandexgpt", provider=provider) speaks Responses
    model = OpenAIChatModel("yandexgpt", provider=provider)

    plain = await Agent(model).run("Say hello in one sentence.")
    print("Plain:", plain.output)

    forecaster = Agent(model, output_type=Forecast)
    called: list[str] = []

    @forecaster.tool_plain
    def get_weather(city: str) -> str:
        """Today's weather in a city."""
        called.append(city)
        return f"Sunny and 21 degrees in {city}"

    forecast = await forecaster.run("What is the weather in Paris?")
    print("Tools called:", [f"get_weather({city!r})" for city in called])
    print("After the tool:", repr(forecast.output))

    responses_model = OpenAIResponsesModel("yandexgpt", provider=provider)
    typed = await Agent(responses_model, output_type=City).run("Paris is the capital of France.")
    print("Typed:", repr(typed.output))


async def _demo() -> None:
    async with demo_async_client() as client:
        await main(client)


if __name__ == "__main__":
    asyncio.run(_demo())
