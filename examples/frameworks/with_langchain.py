"""LangChain (langchain-openai) on Yandex AI Studio: a plain answer, a tool call, a typed answer.

``ChatOpenAI`` takes all four client hooks (``client``, ``async_client``,
``root_client``, ``root_async_client``); given fewer, it builds plain OpenAI clients
that do not expand short model names. Talks to Yandex AI Studio when YC_API_KEY
(or YC_IAM_TOKEN) and YC_FOLDER_ID are set, else to the built-in emulator::

    pip install "langchain-openai>=1.7"
    python examples/frameworks/with_langchain.py
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from yc_responses import AsyncYandexOpenAI, YandexOpenAI
from yc_responses.testing import demo_clients


class City(BaseModel):
    name: str
    country: str


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny and 21 degrees in {city}"


def chat_model(client: YandexOpenAI, async_client: AsyncYandexOpenAI) -> ChatOpenAI:
    """A ``ChatOpenAI`` whose every request goes through the Yandex clients."""
    return ChatOpenAI(
        model="yandexgpt",
        client=client.chat.completions,
        async_client=async_client.chat.completions,
        root_client=client,
        root_async_client=async_client,
    )


def main(client: YandexOpenAI, async_client: AsyncYandexOpenAI) -> None:
    llm = chat_model(client, async_client)

    print("Plain:", llm.invoke("Say hello in one sentence.").content)

    with_tools = llm.bind_tools([get_weather], tool_choice="required")
    question = HumanMessage("What is the weather in Paris?")
    asked = with_tools.invoke([question])
    print("Tools called:", [call["name"] for call in asked.tool_calls])
    history: list[BaseMessage] = [question, asked]
    history += [get_weather.invoke(call) for call in asked.tool_calls]
    print("After the tool:", with_tools.invoke(history).content)

    typed = llm.with_structured_output(City).invoke("Paris is the capital of France.")
    print("Typed:", repr(typed))


if __name__ == "__main__":
    with demo_clients() as (client, async_client):
        main(client, async_client)
