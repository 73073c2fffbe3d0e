"""``map(strategy="stream")`` on an async client: each run followed over its event stream.

The emulator streams on the real clock only, so these batches are short ones."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from yc_responses import Completed
from yc_responses.testing import Emulator


def test_every_run_is_followed_over_one_stream_after_its_creation() -> None:
    with Emulator(background_duration=(0.1, 0.4), seed=2) as emulator:

        async def main() -> list[Any]:
            async with emulator.async_client() as client:
                prompts = [f"prompt {i}" for i in range(20)]
                return list(
                    await client.background.map(prompts, model="yandexgpt", strategy="stream")
                )

        results = anyio.run(main)
        assert all(isinstance(r, Completed) for r in results)
        requests = emulator.stats.requests
        assert requests["responses.create"] == 20
        assert requests["responses.stream"] == 20
        assert requests["responses.retrieve"] == 0


def test_streaming_is_for_async_clients() -> None:
    with (
        Emulator() as emulator,
        emulator.client() as client,
        pytest.raises(ValueError, match="async client"),
    ):
        client.background.map(["a"], model="yandexgpt", strategy="stream")
