"""pytest fixtures for code that talks to Yandex AI Studio; loaded when the package is installed.

::

    def test_answer(yc_client, yc_emulator):
        yc_emulator.script(Outcome.completed("Paris"))
        reply = yc_client.responses.create(model="yandexgpt", input="Capital of France?")
        assert reply.output_text == "Paris"

Fixtures (fresh for every test):

* ``yc_clock``: the :class:`~yc_responses.testing.ManualClock` the emulator reads;
  pass ``sleep=yc_clock.sleep`` to waiting code and 300 s pass at once.
* ``yc_emulator``: a started :class:`~yc_responses.testing.Emulator` on that clock.
  Unscripted background runs finish as soon as the clock is read again
  (``background_duration=0``); script ``Outcome.completed(after=...)`` for longer runs.
* ``yc_client`` / ``async_yc_client``: clients bound to the emulator, closed after
  the test. Async tests need an async runner: ``@pytest.mark.anyio`` (anyio's
  plugin, with an ``anyio_backend`` fixture returning ``"asyncio"``) or pytest-asyncio.
* ``yc_emulator_options``: override it to pass other arguments to the emulator.
* ``yc_service_account_key``: the path of an authorized key's JSON file that
  ``yc_emulator`` accepts (with ``YC_IAM_ENDPOINT=yc_emulator.iam_endpoint``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from yc_responses.client import AsyncYandexOpenAI, YandexOpenAI
    from yc_responses.clock import ManualClock
    from yc_responses.testing.server import Emulator

__all__ = [
    "async_yc_client",
    "yc_client",
    "yc_clock",
    "yc_emulator",
    "yc_emulator_options",
    "yc_service_account_key",
]


@pytest.fixture
def yc_clock() -> ManualClock:
    """The manual clock of ``yc_emulator``: ``yc_clock.advance(60)``, ``sleep=yc_clock.sleep``."""
    from yc_responses.clock import ManualClock

    return ManualClock()


@pytest.fixture
def yc_emulator_options() -> dict[str, Any]:
    """Extra arguments of ``yc_emulator``; override in a conftest.py::

    @pytest.fixture
    def yc_emulator_options():
        return {"background_duration": 30.0, "quotas": Quotas.documented()}
    """
    return {}


@pytest.fixture
def yc_emulator(yc_clock: ManualClock, yc_emulator_options: dict[str, Any]) -> Iterator[Emulator]:
    """A started emulator on ``yc_clock``, stopped after the test."""
    from yc_responses.testing.server import Emulator

    options: dict[str, Any] = {"clock": yc_clock, "background_duration": 0.0}
    with Emulator(**{**options, **yc_emulator_options}) as emulator:
        yield emulator


@pytest.fixture
def yc_client(yc_emulator: Emulator) -> Iterator[YandexOpenAI]:
    """A :class:`~yc_responses.YandexOpenAI` bound to ``yc_emulator``."""
    client = yc_emulator.client()
    yield client
    client.close()


@pytest.fixture
async def async_yc_client(yc_emulator: Emulator) -> AsyncIterator[AsyncYandexOpenAI]:
    """An :class:`~yc_responses.AsyncYandexOpenAI` bound to ``yc_emulator``, closed after the
    test (use it from a test marked ``@pytest.mark.anyio`` or run by pytest-asyncio)."""
    client = yc_emulator.async_client()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def yc_service_account_key(yc_emulator: Emulator, tmp_path: Path) -> Path:
    """An authorized key's JSON file, registered with ``yc_emulator`` (needs ``[auth]``)::

    def test_key(yc_service_account_key, yc_emulator, monkeypatch):
        monkeypatch.setenv("YC_SERVICE_ACCOUNT_KEY_FILE", str(yc_service_account_key))
        monkeypatch.setenv("YC_IAM_ENDPOINT", yc_emulator.iam_endpoint)
    """
    path = tmp_path / "authorized_key.json"
    path.write_text(json.dumps(yc_emulator.iam.new_key()), encoding="utf-8")
    return path
