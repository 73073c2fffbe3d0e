"""The fixtures work in a user's own project once the package is installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TEST = """
from yc_responses.testing import Outcome


def test_my_code_against_the_emulator(yc_client, yc_emulator, yc_clock):
    yc_emulator.script(Outcome.completed("Paris", after=120))
    job = yc_client.responses.create(model="yandexgpt", input="Capital?", background=True)
    while yc_client.responses.retrieve(job.id).status != "completed":
        yc_clock.sleep(10)
    assert yc_client.responses.retrieve(job.id).output_text == "Paris"
    assert yc_emulator.stats.requests["responses.create"] == 1
"""


ASYNC_USER_TEST = """
import gc

import pytest

from yc_responses.testing import Outcome


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_my_async_code(async_yc_client, yc_emulator):
    yc_emulator.script(Outcome.completed("Paris"))
    reply = await async_yc_client.responses.create(model="yandexgpt", input="Capital?")
    assert reply.output_text == "Paris"


def test_nothing_was_left_open():
    gc.collect()  # an unclosed transport would warn here, and -W error fail the run
"""


def _run_pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_async_client_fixture_closes_its_client(tmp_path: Path) -> None:
    project = tmp_path / "user_project"
    project.mkdir()
    (project / "test_mine.py").write_text(textwrap.dedent(ASYNC_USER_TEST))

    result = _run_pytest(
        project,
        "-W",
        "error::ResourceWarning",
        "-W",
        "error::pytest.PytestUnraisableExceptionWarning",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "ResourceWarning" not in result.stdout + result.stderr


def test_fixtures_run_in_a_fresh_project(tmp_path: Path) -> None:
    project = tmp_path / "user_project"
    project.mkdir()
    (project / "test_mine.py").write_text(textwrap.dedent(USER_TEST))

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
