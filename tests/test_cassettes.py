"""Replays of recorded traffic: what the live service guarantees, checked without a network.

``make record`` re-records these cassettes against the live service when
``YC_API_KEY`` and ``YC_FOLDER_ID`` are set, else against the emulator. CI
replays them with record mode ``none``: every interaction must be played, once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from yc_responses import DEFAULT_BASE_URL, Completed, Deferred, RunStatus, YandexOpenAI
from yc_responses.testing import Emulator, ManualClock
from yc_responses.testing.vcr import find_secrets

# read when the module is imported, before each test's environment is cleaned
_LIVE_KEY = os.environ.get("YC_API_KEY")
_LIVE_FOLDER = os.environ.get("YC_FOLDER_ID")

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
REPLAY_FOLDER = "b1greplayfolder00000"
"""Any folder works on replay: requests match ignoring it."""


@dataclass
class Session:
    """A client for a cassette test, and how to wait between polls."""

    client: YandexOpenAI
    sleep: Callable[[float], None]


@pytest.fixture
def session(vcr: Any, record_mode: str) -> Iterator[Session]:
    assert vcr is not None, "mark the test with @pytest.mark.vcr"
    emulator: Emulator | None = None
    if record_mode == "none":
        client = YandexOpenAI(
            api_key="replay-key", folder_id=REPLAY_FOLDER, base_url=DEFAULT_BASE_URL, max_retries=0
        )
        sleep: Callable[[float], None] = lambda _: None  # noqa: E731 (replay must not sleep)
    elif _LIVE_KEY and _LIVE_FOLDER:
        client = YandexOpenAI(api_key=_LIVE_KEY, folder_id=_LIVE_FOLDER, max_retries=0)
        sleep = time.sleep
        _stamp(vcr, f"the live service ({DEFAULT_BASE_URL})")
    else:
        clock = ManualClock()
        emulator = Emulator(clock=clock, background_duration=2.0).start()
        client = emulator.client(max_retries=0)
        sleep = clock.sleep
        _stamp(vcr, "the yc-responses emulator")
    yield Session(client, sleep)
    client.close()
    if emulator is not None:
        emulator.stop()
    if record_mode == "none":
        assert vcr.all_played, "the test made fewer requests than the cassette holds"


def _stamp(cassette: Any, against: str) -> None:
    at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cassette.get_metadata("recorded", {"against": against, "at": at})  # saved as a header


@pytest.mark.vcr
def test_plain_response(session: Session) -> None:
    reply = session.client.responses.create(model="yandexgpt", input="Say hello in one word.")

    assert reply.status == "completed"
    assert reply.output_text.strip()
    assert reply.usage is not None
    assert reply.usage.output_tokens > 0


@pytest.mark.vcr
def test_background_response_until_completed(session: Session) -> None:
    client = session.client
    job = client.responses.create(
        model="yandexgpt", input="Name three rivers of Europe.", background=True
    )
    assert job.status in ("queued", "in_progress", "completed")

    seen = client.responses.retrieve(job.id)
    while seen.status in ("queued", "in_progress"):
        session.sleep(1.0)
        seen = client.responses.retrieve(job.id)

    assert seen.id == job.id
    assert seen.status == "completed"
    assert seen.output_text.strip()


@pytest.mark.vcr
def test_background_run_through_its_whole_lifecycle(session: Session) -> None:
    background = session.client.background.with_options(sleep=session.sleep)
    seen: list[RunStatus] = []

    result = background.run(
        model="yandexgpt",
        input="Name three rivers of Europe.",
        on_status=lambda status, _: seen.append(status),
    )

    assert isinstance(result, Completed)
    assert result.output_text.strip()
    assert seen[0] in (RunStatus.QUEUED, RunStatus.IN_PROGRESS)
    assert seen[-1] is RunStatus.COMPLETED


@pytest.mark.vcr
def test_deferred_operation_through_its_whole_lifecycle(session: Session) -> None:
    deferred = Deferred(session.client, sleep=session.sleep)

    result = deferred.run(
        model="yandexgpt-lite",
        messages=[
            {"role": "system", "text": "Translate the text into French"},
            {"role": "user", "text": "To be, or not to be: that is the question."},
        ],
        temperature=0.1,
        max_tokens=200,
    )

    assert isinstance(result, Completed)
    assert result.output_text.strip()
    assert result.response.usage is not None
    assert result.response.usage.total_tokens > 0


@pytest.mark.vcr
def test_chat_completion(session: Session) -> None:
    reply = session.client.chat.completions.create(
        model="yandexgpt", messages=[{"role": "user", "content": "Say hello in one word."}]
    )

    assert reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"


@pytest.mark.vcr
def test_embeddings(session: Session) -> None:
    reply = session.client.embeddings.create(
        model="text-search-doc", input=["hello", "world"], encoding_format="float"
    )

    assert [item.index for item in reply.data] == [0, 1]
    assert len(reply.data[0].embedding) == len(reply.data[1].embedding) > 0


@pytest.mark.vcr
def test_models_list(session: Session) -> None:
    names = {model.id.split("/")[3] for model in session.client.models.list()}

    assert {"yandexgpt", "yandexgpt-lite"} <= names


def test_cassettes_hold_no_secret_and_say_where_they_were_recorded() -> None:
    cassettes = sorted(CASSETTES.glob("*.yaml"))
    assert cassettes, "no cassettes: run `make record`"
    folders = [_LIVE_FOLDER] if _LIVE_FOLDER else []

    for cassette in cassettes:
        text = cassette.read_text()
        assert find_secrets(text, folders) == [], cassette.name
        assert "authorization" not in text.lower(), cassette.name
        assert text.startswith("# Recorded against "), cassette.name
