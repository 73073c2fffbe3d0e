"""The yc_responses logger: a run's creation and end at INFO, each look at DEBUG, with ids."""

from __future__ import annotations

import logging

import pytest

from yc_responses import Completed, Deferred
from yc_responses.testing import Emulator, ManualClock, Outcome

PROMPT = "a prompt that must not be logged"


def _messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "yc_responses"]


def test_a_background_run_is_logged_with_its_id_and_request_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    with Emulator(clock=clock) as emulator, emulator.client() as client:
        emulator.script(Outcome.completed("Paris", after=3))
        background = client.background.with_options(clock=clock, sleep=clock.sleep)
        with caplog.at_level(logging.DEBUG, logger="yc_responses"):
            result = background.run(model="yandexgpt", input=PROMPT)
    assert isinstance(result, Completed)
    records = _messages(caplog)
    info = [message for level, message in records if level == logging.INFO]
    debug = [message for level, message in records if level == logging.DEBUG]
    assert len(info) == 2
    assert info[0].startswith(f"created background response {result.response_id}: status=")
    assert info[1].startswith(f"background response {result.response_id} ended: completed")
    assert all("x-request-id None" not in message for message in info + debug)
    assert debug
    assert all(result.response_id in message for message in debug)
    assert all(PROMPT not in message and "Paris" not in message for _, message in records)


def test_an_operation_is_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    with Emulator(clock=clock) as emulator, emulator.client() as client:
        emulator.script(Outcome.completed("Paris", after=3))
        deferred = Deferred(client, clock=clock, sleep=clock.sleep)
        with caplog.at_level(logging.INFO, logger="yc_responses"):
            result = deferred.run(model="yandexgpt", messages=PROMPT)
    info = [message for level, message in _messages(caplog) if level == logging.INFO]
    assert [message.split(":")[0] for message in info] == [
        f"created operation {result.response_id}",
        f"operation {result.response_id} ended",
    ]
