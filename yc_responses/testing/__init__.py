"""A local Yandex AI Studio for tests: an emulator, a manual clock, pytest fixtures.

::

    from yc_responses.testing import Emulator, ManualClock, Outcome

    clock = ManualClock()
    with Emulator(clock=clock) as emu:
        emu.script(Outcome.completed("Paris", after=300))
        client = emu.client()
        job = client.responses.create(model="yandexgpt", input="Capital?", background=True)
        clock.advance(300)
        assert client.responses.retrieve(job.id).output_text == "Paris"

With the package installed, pytest gets the fixtures ``yc_emulator``,
``yc_client``, ``async_yc_client`` and ``yc_clock``. From a shell::

    python -m yc_responses.testing --port 8080
"""

from __future__ import annotations

from yc_responses.clock import Clock, ManualClock

from .core import EmulatorStats
from .demo import demo_async_client, demo_client, demo_clients, has_credentials
from .scenarios import ROUTES, Fault, InputMatcher, Outcome, Quotas, Route
from .server import DEFAULT_FOLDER_ID, Emulator

__all__ = [
    "DEFAULT_FOLDER_ID",
    "ROUTES",
    "Clock",
    "Emulator",
    "EmulatorStats",
    "Fault",
    "InputMatcher",
    "ManualClock",
    "Outcome",
    "Quotas",
    "Route",
    "demo_async_client",
    "demo_client",
    "demo_clients",
    "has_credentials",
]
