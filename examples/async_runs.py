"""Several background runs at once with AsyncYandexOpenAI.

``await run`` waits for a run like ``await run.wait()``::

    python examples/async_runs.py
"""

from __future__ import annotations

import asyncio

from yc_responses import AsyncYandexOpenAI
from yc_responses.testing import demo_async_client

QUESTIONS = [
    "Name the longest river of Europe.",
    "Name the highest mountain of the Caucasus.",
    "Name the deepest lake in the world.",
]


async def main(client: AsyncYandexOpenAI) -> None:
    runs = [await client.background.create(model="yandexgpt", input=q) for q in QUESTIONS]
    results = await asyncio.gather(*(run.wait(timeout=600) for run in runs))
    for question, result in zip(QUESTIONS, results, strict=True):
        print(f"{question} -> {result.status}: {result.unwrap()}")


async def _demo() -> None:
    async with demo_async_client() as client:
        await main(client)


if __name__ == "__main__":
    asyncio.run(_demo())
