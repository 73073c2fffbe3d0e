from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from yc_responses.testing import vcr as yc_vcr

_YC_AND_OPENAI_VARIABLES = (
    "YC_API_KEY",
    "YC_IAM_TOKEN",
    "YC_FOLDER_ID",
    "YC_BASE_URL",
    "YC_SERVICE_ACCOUNT_KEY_FILE",
    "YC_IAM_ENDPOINT",
    "YC_METADATA_ADDR",
    "YC_TOKEN",
    "YC_DATA_LOGGING",
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_PROJECT_ID",
    "OPENAI_ORG_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_WEBHOOK_SECRET",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test starts with no YC_*/OPENAI_* variables and no .env in the working directory."""
    for name in _YC_AND_OPENAI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


# --- cassettes: readable, scrubbed, replayed with the network blocked ---------------------------

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return yc_vcr.vcr_config()


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    yc_vcr.register(vcr)
