"""A batch of background runs with a progress bar and a journal that survives a crash.

The batch stops halfway (as a crash or Ctrl+C would stop it), then the same call
runs again with the same journal: finished runs are read back, started ones are
attached, and nothing is submitted twice::

    python examples/batch.py

In your own code, keep the journal somewhere lasting (``journal="batch.sqlite"``)
and run the same call again after a crash to resume.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from yc_responses import BatchProgress, Completed, Failed, Incomplete, Journal, YandexOpenAI
from yc_responses.testing import demo_client

CITIES = ["Moscow", "Kazan", "Novosibirsk", "Yekaterinburg", "Sochi", "Murmansk", "Irkutsk", "Omsk"]
PROMPTS = [f"In one sentence: what is {city} known for?" for city in CITIES]


class StopHalfway(Exception):
    """Stands for a crash in the middle of the batch."""


def stop_halfway(progress: BatchProgress) -> None:
    if progress.counts.get("completed", 0) >= len(PROMPTS) // 2:
        raise StopHalfway


def main(client: YandexOpenAI, journal: Path) -> None:
    try:
        client.background.map(PROMPTS, model="yandexgpt", journal=journal, progress=stop_halfway)
    except StopHalfway:
        with Journal(journal) as saved:
            print("Stopped halfway; the journal holds:", saved.counts())

    # the same call again: a progress bar on a terminal (progress=True: always)
    results = client.background.map(PROMPTS, model="yandexgpt", journal=journal, concurrency=4)
    for city, result in zip(CITIES, results, strict=True):
        match result:
            case Completed(output_text=text):
                print(f"{city:>14}: {text}")
            case Incomplete(reason=reason, output_text=text):
                print(f"{city:>14}: (cut short: {reason}) {text}")
            case Failed(error=error):
                print(f"{city:>14}: failed: {error}")
            case other:
                print(f"{city:>14}: {other.status}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder, demo_client() as client:
        main(client, Path(folder) / "batch.sqlite")
