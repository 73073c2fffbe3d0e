"""Replays of recorded traffic: what the live service guarantees, checked without a network.

``make record`` re-records these cassettes against the live service when
``YC_API_KEY`` and ``YC_FOLDER_ID`` are set, else against the emulator; ends that
only a script brings about (a failure, a content filter, a run that never ends)
are always recorded against the emulator (the ``emulated_session`` fixture). CI
replays them with record mode ``none``: every interaction must be played, once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from yc_responses import (
    DEFAULT_BASE_URL,
    Cancelled,
    Completed,
    Deferred,
    Failed,
    Incomplete,
    RunStatus,
    YandexOpenAI,
)
from yc_responses.testing import Emulator, ManualClock, Outcome
from yc_responses.testing.vcr import FOLDER_PLACEHOLDER, find_secrets

# read when the module is imported, before each test's environment is cleaned
_LIVE_KEY = os.environ.get("YC_API_KEY")
_LIVE_FOLDER = os.environ.get("YC_FOLDER_ID")

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
REPLAY_FOLDER = "b1greplayfolder00000"
"""Any folder works on replay: requests match ignoring it."""


@dataclass
class Session:
    """A client for a cassette test, how to wait between polls, and what the client sent."""

    client: YandexOpenAI
    sleep: Callable[[float], None]
    api_key: str
    folder_id: str
    emulator: Emulator | None = None
    sent: list[httpx2.Request] = field(default_factory=list)
    """Every request as the client sent it, before the cassette scrubbed it."""

    def script(self, *outcomes: Outcome) -> None:
        """How the emulator ends the next runs; on replay the cassette already holds the ends."""
        if self.emulator is not None:
            self.emulator.script(*outcomes)


def _open_session(vcr: Any, record_mode: str, *, live: bool) -> Iterator[Session]:
    assert vcr is not None, "mark the test with @pytest.mark.vcr"
    sent: list[httpx2.Request] = []
    http_client = httpx2.Client(event_hooks={"request": [sent.append]})
    emulator: Emulator | None = None
    if record_mode == "none":
        key, folder = "replay-key", REPLAY_FOLDER
        client = YandexOpenAI(
            api_key=key,
            folder_id=folder,
            base_url=DEFAULT_BASE_URL,
            max_retries=0,
            http_client=http_client,
        )
        sleep: Callable[[float], None] = lambda _: None  # noqa: E731 (replay must not sleep)
    elif live and _LIVE_KEY and _LIVE_FOLDER:
        key, folder = _LIVE_KEY, _LIVE_FOLDER
        client = YandexOpenAI(api_key=key, folder_id=folder, max_retries=0, http_client=http_client)
        sleep = time.sleep
        _stamp(vcr, f"the live service ({DEFAULT_BASE_URL})")
    else:
        clock = ManualClock()
        emulator = Emulator(clock=clock, background_duration=2.0).start()
        key, folder = emulator.api_key, emulator.folder_id
        client = emulator.client(max_retries=0, http_client=http_client)
        sleep = clock.sleep
        _stamp(vcr, "the yc-responses emulator")
    yield Session(client, sleep, key, folder, emulator, sent)
    client.close()
    if emulator is not None:
        emulator.stop()
    if record_mode == "none":
        assert vcr.all_played, "the test made fewer requests than the cassette holds"


@pytest.fixture
def session(vcr: Any, record_mode: str) -> Iterator[Session]:
    """Records against the live service when YC_API_KEY and YC_FOLDER_ID are set."""
    yield from _open_session(vcr, record_mode, live=True)


@pytest.fixture
def emulated_session(vcr: Any, record_mode: str) -> Iterator[Session]:
    """Always records against the emulator: for ends only a script can bring about
    (a failure, a content filter, a run that never ends)."""
    yield from _open_session(vcr, record_mode, live=False)


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
    assert_documented_deferred_wire(session, max_tokens="200")


TRANSLATE = [
    {"role": "system", "text": "Translate the text into French"},
    {"role": "user", "text": "To be, or not to be: that is the question."},
]


def assert_documented_deferred_wire(session: Session, *, max_tokens: str) -> None:
    """Every request of the deferred API, as sent: ``Authorization: Api-Key <key>``,
    ``x-folder-id``, no ``OpenAI-Project``; ``maxTokens`` a string in the body."""
    assert session.sent, "the client sent nothing"
    for request in session.sent:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        assert scheme == "Api-Key", request.url.path
        same_key = credential == session.api_key
        assert same_key, f"{request.url.path} did not carry the client's key"  # value not shown
        assert request.headers.get("x-folder-id") == session.folder_id, request.url.path
        assert "openai-project" not in request.headers, request.url.path
    create = session.sent[0]
    assert (create.method, create.url.path) == ("POST", "/foundationModels/v1/completionAsync")
    body = json.loads(create.content)
    assert body["modelUri"] == f"gpt://{session.folder_id}/yandexgpt-lite/latest"
    assert body["completionOptions"]["maxTokens"] == max_tokens
    assert {message["role"] for message in body["messages"]} <= {"system", "user", "assistant"}


@pytest.mark.vcr
def test_deferred_operation_failed(emulated_session: Session) -> None:
    session = emulated_session
    session.script(Outcome.failed("invalid_prompt", "The prompt was rejected: rephrase it."))
    deferred = Deferred(session.client, sleep=session.sleep)

    result = deferred.run(model="yandexgpt-lite", messages=TRANSLATE, max_tokens=200)

    assert isinstance(result, Failed)
    assert (result.error.code, result.error.message) == (
        "invalid_argument",
        "The prompt was rejected: rephrase it.",
    )
    operation = result.response
    assert operation.done is True
    assert operation.response is None
    assert operation.error is not None
    assert operation.error.code == 3  # google.rpc.Code INVALID_ARGUMENT, a number on the wire
    assert result.response_id == operation.id
    assert_documented_deferred_wire(session, max_tokens="200")


@pytest.mark.vcr
def test_deferred_operation_truncated(session: Session) -> None:
    # no script: the emulator, like the service, stops at maxTokens
    deferred = Deferred(session.client, sleep=session.sleep)

    result = deferred.run(
        model="yandexgpt-lite",
        messages=[
            {"role": "system", "text": "Answer in detail, in at least three paragraphs"},
            {"role": "user", "text": "How do rivers shape the land they flow through?"},
        ],
        max_tokens=5,
    )

    assert isinstance(result, Incomplete)
    assert result.reason == "max_output_tokens"
    assert result.output_text.strip()
    operation = result.response
    assert operation.alternatives[0].status == "ALTERNATIVE_STATUS_TRUNCATED_FINAL"
    assert operation.usage is not None
    assert 0 < operation.usage.completion_tokens <= 5
    assert_documented_deferred_wire(session, max_tokens="5")


@pytest.mark.vcr
def test_deferred_operation_content_filtered(emulated_session: Session) -> None:
    session = emulated_session
    session.script(Outcome.incomplete("content_filter"))
    deferred = Deferred(session.client, sleep=session.sleep)

    result = deferred.run(model="yandexgpt-lite", messages=TRANSLATE, max_tokens=200)

    assert isinstance(result, Incomplete)
    assert result.reason == "content_filter"
    assert result.response.alternatives[0].status == "ALTERNATIVE_STATUS_CONTENT_FILTER"
    assert result.response.error is None
    assert_documented_deferred_wire(session, max_tokens="200")


@pytest.mark.vcr
def test_deferred_operation_cancelled(emulated_session: Session) -> None:
    session = emulated_session
    session.script(Outcome.never())
    deferred = Deferred(session.client, sleep=session.sleep)
    run = deferred.create(model="yandexgpt-lite", messages=TRANSLATE, max_tokens=200)
    assert run.refresh() is RunStatus.IN_PROGRESS

    result = run.cancel()

    assert isinstance(result, Cancelled)
    assert result.response_id == run.id
    assert result.response.error is not None
    assert result.response.error.code == 1  # google.rpc.Code CANCELLED
    again = deferred.attach(run.id).wait()  # the end is kept: attaching later sees it too
    assert isinstance(again, Cancelled)
    assert [f"{r.method} {r.url.path}" for r in session.sent] == [
        "POST /foundationModels/v1/completionAsync",
        f"GET /operations/{run.id}",
        f"GET /operations/{run.id}:cancel",
        f"GET /operations/{run.id}",
    ]
    assert_documented_deferred_wire(session, max_tokens="200")


def test_deferred_cassettes_keep_the_documented_wire_scrubbed() -> None:
    cassettes = sorted(CASSETTES.glob("test_deferred_*.yaml"))
    assert len(cassettes) == 5, [path.name for path in cassettes]

    for cassette in cassettes:
        interactions = yaml.safe_load(cassette.read_text())["interactions"]
        requests = [interaction["request"] for interaction in interactions]
        for request in requests:
            headers = {name.lower(): value for name, value in request["headers"].items()}
            assert "authorization" not in headers, cassette.name
            assert headers["x-folder-id"] == [FOLDER_PLACEHOLDER], cassette.name
        create = requests[0]
        assert create["method"] == "POST", cassette.name
        assert create["uri"].endswith("/foundationModels/v1/completionAsync"), cassette.name
        body = create["body"]["json"]
        assert isinstance(body["completionOptions"]["maxTokens"], str), cassette.name
        assert body["modelUri"] == f"gpt://{FOLDER_PLACEHOLDER}/yandexgpt-lite/latest"


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
