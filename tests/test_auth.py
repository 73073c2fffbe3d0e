"""Credentials: providers, the token cache, the 401 retry, request headers, no secret shown."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.test_client import FOLDER, KEY, Wire, make_async, make_sync
from yc_responses import AsyncYandexOpenAI, ConfigurationError, YandexOpenAI
from yc_responses import auth as auth_module
from yc_responses.auth import (
    ApiKey,
    CredentialsError,
    EnvToken,
    IamToken,
    MetadataService,
    ServiceAccountKey,
    YandexCLI,
    parse_rfc3339,
)
from yc_responses.clock import ManualClock
from yc_responses.results import Completed
from yc_responses.testing import Emulator, Outcome

LIFETIME = 600.0
"""Token lifetime in the emulator for these tests: a run of 30 min outlives three tokens."""


@pytest.fixture
def env_clock(monkeypatch: pytest.MonkeyPatch, yc_clock: ManualClock) -> ManualClock:
    """Providers built from the environment read the emulator's manual clock."""
    monkeypatch.setattr(auth_module, "_default_clock", yc_clock)
    return yc_clock


@pytest.fixture(params=["service account key", "metadata service"])
def configured(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    yc_emulator: Emulator,
    yc_service_account_key: Path,
    env_clock: ManualClock,
) -> str:
    """The environment of a client with exchanged tokens only (no key, no token)."""
    yc_emulator.iam.token_lifetime = LIFETIME
    monkeypatch.setenv("YC_FOLDER_ID", yc_emulator.folder_id)
    monkeypatch.setenv("YC_BASE_URL", yc_emulator.base_url)
    monkeypatch.setenv("YC_LLM_BASE_URL", yc_emulator.llm_base_url)
    monkeypatch.setenv("YC_OPERATION_BASE_URL", yc_emulator.operation_base_url)
    if request.param == "service account key":
        monkeypatch.setenv("YC_SERVICE_ACCOUNT_KEY_FILE", str(yc_service_account_key))
        monkeypatch.setenv("YC_IAM_ENDPOINT", yc_emulator.iam_endpoint)
    else:
        monkeypatch.setenv("YC_METADATA_ADDR", yc_emulator.metadata_addr)
    return str(request.param)


@pytest.fixture(name="wire")
def fake_service() -> Wire:
    """A fake service that records every request (headers included)."""
    return Wire()


def tokens_issued(emulator: Emulator) -> int:
    return emulator.iam.exchanges + emulator.iam.metadata_requests


def test_exchanged_tokens_are_renewed_before_they_expire(
    configured: str, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    client = YandexOpenAI(max_retries=0)
    assert client.yandex.auth == "iam_token"
    assert client.responses.create(model="yandexgpt", input="Hi").output_text
    assert client.chat.completions.create(
        model="yandexgpt", messages=[{"role": "user", "content": "Hi"}]
    ).choices
    vectors = client.embeddings.create(model="text-search-doc", input=["a", "b"]).data
    assert [len(vector.embedding) > 0 for vector in vectors] == [True, True]
    assert tokens_issued(yc_emulator) == 1

    yc_emulator.script(Outcome.completed("late", after=3 * LIFETIME))
    background = client.background.with_options(clock=yc_clock, sleep=yc_clock.sleep)
    assert background.run(model="yandexgpt", input="slow").unwrap() == "late"
    yc_emulator.script(Outcome.completed("later", after=3 * LIFETIME))
    deferred = client.deferred.with_options(clock=yc_clock, sleep=yc_clock.sleep)
    result = deferred.run(model="yandexgpt", messages="slow too")
    assert isinstance(result, Completed)
    assert result.output_text == "later"

    # 6 lifetimes of polling: renewed every 3/4 of a lifetime, never refused
    assert tokens_issued(yc_emulator) >= 8
    assert yc_emulator.stats.statuses[401] == 0


@pytest.mark.anyio
async def test_async_clients_renew_tokens_too(
    configured: str, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    async with AsyncYandexOpenAI(max_retries=0) as client:
        assert (await client.responses.create(model="yandexgpt", input="Hi")).output_text
        assert (
            await client.chat.completions.create(
                model="yandexgpt", messages=[{"role": "user", "content": "Hi"}]
            )
        ).choices
        assert (await client.embeddings.create(model="text-search-doc", input="a")).data
        yc_emulator.script(Outcome.completed("late", after=3 * LIFETIME))
        background = client.background.with_options(clock=yc_clock, sleep=yc_clock.async_sleep)
        assert (await background.run(model="yandexgpt", input="slow")).unwrap() == "late"
        deferred = client.deferred.with_options(clock=yc_clock, sleep=yc_clock.async_sleep)
        yc_emulator.script(Outcome.completed("later", after=3 * LIFETIME))
        assert (await deferred.run(model="yandexgpt", messages="slow")).unwrap() == "later"
        assert tokens_issued(yc_emulator) >= 8
        assert yc_emulator.stats.statuses[401] == 0


def test_sixteen_threads_on_a_cold_cache_make_one_exchange(
    configured: str, yc_emulator: Emulator
) -> None:
    client = YandexOpenAI(max_retries=0)
    start = threading.Barrier(16)

    def ask(index: int) -> str:
        start.wait()
        return client.responses.create(model="yandexgpt", input=f"q{index}").output_text

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(16)))
    assert len(answers) == 16
    assert all(answers)
    assert tokens_issued(yc_emulator) == 1


@pytest.mark.anyio
async def test_sixteen_tasks_on_a_cold_cache_make_one_exchange(
    configured: str, yc_emulator: Emulator
) -> None:
    async with AsyncYandexOpenAI(max_retries=0) as client:
        replies = await asyncio.gather(
            *(client.responses.create(model="yandexgpt", input=f"q{i}") for i in range(16))
        )
        assert all(reply.output_text for reply in replies)
        assert tokens_issued(yc_emulator) == 1


def test_a_revoked_token_heals_with_one_retry(configured: str, yc_emulator: Emulator) -> None:
    client = YandexOpenAI(max_retries=0)
    client.models.list()
    yc_emulator.iam.revoke_all()
    assert client.responses.create(model="yandexgpt", input="again").output_text
    assert yc_emulator.stats.statuses[401] == 1
    assert tokens_issued(yc_emulator) == 2


@pytest.mark.anyio
async def test_a_revoked_token_heals_on_async_clients(
    configured: str, yc_emulator: Emulator
) -> None:
    async with AsyncYandexOpenAI(max_retries=0) as client:
        await client.models.list()
        yc_emulator.iam.revoke_all()
        assert (await client.responses.create(model="yandexgpt", input="again")).output_text
        assert (yc_emulator.stats.statuses[401], tokens_issued(yc_emulator)) == (1, 2)


def test_a_refused_fresh_token_is_not_retried_forever(
    configured: str, yc_emulator: Emulator
) -> None:
    client = YandexOpenAI(max_retries=0)
    client.models.list()
    yc_emulator.iam.token_lifetime = 0.0  # every new token is dead on arrival
    yc_emulator.iam.revoke_all()
    with pytest.raises(CredentialsError, match="already expired"):
        client.models.list()
    assert yc_emulator.stats.statuses[401] == 1


def test_no_secret_in_reprs_logs_or_error_chains(
    configured: str,
    yc_emulator: Emulator,
    yc_service_account_key: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="yc_responses")
    client = YandexOpenAI(max_retries=0)
    client.models.list()
    yc_emulator.iam.revoke_all()
    client.models.list()
    credentials = client.yandex.credentials
    secrets = [*yc_emulator.iam.issued]
    private_key = json.loads(yc_service_account_key.read_text())["private_key"]
    if isinstance(credentials, ServiceAccountKey):
        secrets += [private_key, credentials.jwt()]
    assert len(secrets) >= 2
    assert any("new IAM token" in record.getMessage() for record in caplog.records)
    shown = [repr(client), repr(client.yandex), repr(credentials), client.api_key]
    shown += [record.getMessage() for record in caplog.records]

    yc_emulator.stop()  # the next renewal fails
    assert credentials.invalidate(f"Bearer {yc_emulator.iam.issued[-1]}")
    with pytest.raises(CredentialsError) as caught:
        client.with_options(max_retries=0).models.list()
    error: BaseException | None = caught.value
    assert repr(credentials) in str(error)
    while error is not None:
        shown += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_a_key_the_service_does_not_know_says_what_to_check(
    yc_emulator: Emulator, tmp_path: Path
) -> None:
    key = yc_emulator.iam.new_key()
    key["id"] = "ajkunknownkey"
    credentials = ServiceAccountKey(key, iam_endpoint=yc_emulator.iam_endpoint)
    with pytest.raises(CredentialsError) as caught:
        credentials.authorization()
    message = str(caught.value)
    assert "ajkunknownkey" in message
    assert "HTTP 401" in message
    assert "YC_IAM_ENDPOINT" in message
    assert key["private_key"] not in message
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_bad_key_files_name_the_file_not_the_key(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"id": "ajk1", "service_account_id": "aje1"}))
    with pytest.raises(ConfigurationError, match="no private_key"):
        ServiceAccountKey(path)
    secret = "-----BEGIN PRIVATE KEY-----\nnot-a-key-but-secret\n-----END PRIVATE KEY-----"
    path.write_text(json.dumps({"id": "ajk1", "service_account_id": "aje1", "private_key": secret}))
    with pytest.raises(ConfigurationError, match="not a PEM private key") as caught:
        ServiceAccountKey(path)
    assert str(path) in str(caught.value)
    assert "not-a-key-but-secret" not in str(caught.value)
    assert caught.value.__cause__ is None
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ServiceAccountKey(tmp_path / "missing.json")


def test_without_the_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, yc_emulator: Emulator
) -> None:
    key = yc_emulator.iam.new_key()
    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'yc-responses\[auth\]'"):
        ServiceAccountKey(key)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"YC_API_KEY": KEY, "YC_SERVICE_ACCOUNT_KEY_FILE": "key.json"}, ApiKey),
        ({"YC_IAM_TOKEN": KEY, "YC_METADATA_ADDR": "127.0.0.1:9"}, IamToken),
        ({"YC_SERVICE_ACCOUNT_KEY_FILE": "key.json", "YC_METADATA_ADDR": "x:1"}, ServiceAccountKey),
        ({"YC_METADATA_ADDR": "127.0.0.1:9", "YC_TOKEN": KEY}, MetadataService),
        ({"YC_TOKEN": KEY}, EnvToken),
    ],
)
def test_the_order_of_resolution(
    monkeypatch: pytest.MonkeyPatch,
    yc_emulator: Emulator,
    variables: dict[str, str],
    expected: type[object],
) -> None:
    Path("key.json").write_text(json.dumps(yc_emulator.iam.new_key()))
    for name, value in {"YC_FOLDER_ID": FOLDER, **variables}.items():
        monkeypatch.setenv(name, value)
    credentials = YandexOpenAI().yandex.credentials
    assert type(credentials) is expected
    assert KEY not in repr(credentials)


def test_no_credentials_lists_every_way_and_never_asks_the_metadata_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YC_FOLDER_ID", FOLDER)
    with pytest.raises(ConfigurationError) as caught:
        YandexOpenAI()
    message = str(caught.value)
    for way in ("YC_API_KEY", "YC_IAM_TOKEN", "YC_SERVICE_ACCOUNT_KEY_FILE", "YC_METADATA_ADDR"):
        assert way in message
    for way in ("YC_TOKEN", "credentials=", "api_key=", "iam_token="):
        assert way in message


def test_only_one_credential_may_be_given() -> None:
    with pytest.raises(ConfigurationError, match="credentials= were given"):
        YandexOpenAI(api_key=KEY, credentials=EnvToken(), folder_id=FOLDER)


def test_client_api_key_holds_no_secret_for_third_party_code(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    # openai-agents' set_default_openai_client() hands client.api_key to an exporter
    # that posts to api.openai.com: it must find nothing there
    monkeypatch.setenv("YC_TOKEN", "t1.from-the-platform-0123456789")
    for client in (
        make_sync(wire, api_key=KEY, folder_id=FOLDER),
        make_sync(wire, iam_token=lambda: "t1.from-a-callable-0123456789", folder_id=FOLDER),
        make_sync(wire, credentials=EnvToken(), folder_id=FOLDER),
    ):
        client.models.list()
        assert wire.last.headers["Authorization"].startswith("Bearer ")
        assert client.api_key == ""
        secret = wire.last.headers["Authorization"].removeprefix("Bearer ")
        assert all(secret not in str(value) for value in vars(client).values())


def test_env_token_is_read_again_before_every_request(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_sync(wire, credentials=EnvToken(), folder_id=FOLDER)
    seen = []
    for token in ("t1.first-token-0123456789", "t1.second-token-0123456789"):
        monkeypatch.setenv("YC_TOKEN", token)
        client.models.list()
        seen.append(wire.last.headers["Authorization"])
    assert seen == ["Bearer t1.first-token-0123456789", "Bearer t1.second-token-0123456789"]
    monkeypatch.delenv("YC_TOKEN")
    with pytest.raises(CredentialsError, match="YC_TOKEN is not set"):
        client.models.list()


def test_every_request_has_its_own_id_and_may_opt_out_of_data_logging(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    client.models.list()
    client.models.list()
    ids = [request.headers["x-client-request-id"] for request in wire.requests]
    assert len(set(ids)) == 2
    assert "x-data-logging-enabled" not in wire.last.headers
    quiet = client.copy(data_logging=False)
    quiet.responses.create(model="yandexgpt", input="Hi")
    assert wire.last.headers["x-data-logging-enabled"] == "false"
    assert quiet.yandex.data_logging is False


@pytest.mark.anyio
async def test_data_logging_from_the_environment(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YC_DATA_LOGGING", "false")
    client = make_async(wire, api_key=KEY, folder_id=FOLDER)
    await client.models.list()
    assert wire.last.headers["x-data-logging-enabled"] == "false"
    assert wire.last.headers["x-client-request-id"]


def test_embeddings_ask_for_floats_unless_told_otherwise(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    client.embeddings.create(model="text-search-doc", input="Hi")
    assert wire.body()["encoding_format"] == "float"
    client.embeddings.create(model="text-search-doc", input="Hi", encoding_format="base64")
    assert wire.body()["encoding_format"] == "base64"


def test_yandex_cli_tokens_are_renewed_hourly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "yc"
    calls = tmp_path / "calls"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\necho t1.cli-token-$(wc -l < {calls})\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path), prepend=":")
    clock = ManualClock()
    credentials = YandexCLI(profile="prod", clock=clock)
    first = credentials.authorization()
    clock.advance(3599)
    assert credentials.authorization() == first
    clock.advance(2)
    assert credentials.authorization() != first
    assert calls.read_text().splitlines() == ["iam create-token --profile prod"] * 2


def test_a_missing_yc_command_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = YandexCLI(executable="yc-not-installed-here")
    with pytest.raises(CredentialsError, match="Install the Yandex Cloud CLI"):
        credentials.authorization()


@pytest.mark.parametrize(
    ("text", "same_time"),
    [
        ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00+00:00"),
        ("2026-12-01T10:00:00.5Z", "2026-12-01T10:00:00.500000+00:00"),
        ("2026-12-01T10:00:00.123456789Z", "2026-12-01T10:00:00.123456+00:00"),
        ("2026-12-01T13:30:00.000001+03:30", "2026-12-01T13:30:00.000001+03:30"),
        ("2026-12-01t05:00:00.25-05:00", "2026-12-01T05:00:00.250000-05:00"),
    ],
)
def test_rfc3339_times_with_any_fraction(text: str, same_time: str) -> None:
    expected = datetime.fromisoformat(same_time).timestamp()
    assert parse_rfc3339(text) == pytest.approx(expected, abs=1e-6)


def test_rfc3339_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_rfc3339("tomorrow")


def test_metadata_service_asks_only_where_told(yc_emulator: Emulator) -> None:
    clock = ManualClock()
    credentials = MetadataService(yc_emulator.metadata_addr, clock=clock)
    assert credentials.authorization().startswith("Bearer t1.")
    assert yc_emulator.iam.metadata_requests == 1
    assert repr(credentials) == f"MetadataService(address={yc_emulator.metadata_addr!r})"


def test_a_failed_renewal_keeps_the_token_in_hand_while_it_is_good(yc_emulator: Emulator) -> None:
    yc_emulator.iam.token_lifetime = LIFETIME
    clock = ManualClock()
    key = yc_emulator.iam.new_key()
    credentials = ServiceAccountKey(key, iam_endpoint=yc_emulator.iam_endpoint, clock=clock)
    first = credentials.authorization()
    clock.advance(0.8 * LIFETIME)  # renewal is due
    yc_emulator.stop()  # and IAM cannot be reached
    assert credentials.authorization() == first
    clock.advance(0.15 * LIFETIME)  # too close to expiry to be sent
    with pytest.raises(CredentialsError, match="could not be reached"):
        credentials.authorization()


def test_iam_endpoint_keyword_and_copy_with_other_credentials(
    monkeypatch: pytest.MonkeyPatch, yc_emulator: Emulator, yc_service_account_key: Path
) -> None:
    monkeypatch.setenv("YC_SERVICE_ACCOUNT_KEY_FILE", str(yc_service_account_key))
    client = yc_emulator.client(api_key=None, iam_endpoint=yc_emulator.iam_endpoint)
    assert client.models.list().data
    assert yc_emulator.iam.exchanges == 1
    with_key = client.copy(credentials=ApiKey(yc_emulator.api_key))
    assert with_key.models.list().data
    assert (with_key.yandex.auth, client.yandex.auth) == ("api_key", "iam_token")
    assert yc_emulator.iam.exchanges == 1


def test_the_emulator_accepts_only_tokens_it_issued(yc_emulator: Emulator) -> None:
    made_up = yc_emulator.client(api_key=None, iam_token="t1.emulator.made-up", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        made_up.models.list()
    issued = MetadataService(yc_emulator.metadata_addr).authorization().removeprefix("Bearer ")
    assert yc_emulator.client(api_key=None, iam_token=issued).models.list().data


@pytest.mark.parametrize(("lifetime", "renewed_after"), [(600.0, 450.0), (12 * 3600.0, 3600.0)])
def test_renewal_after_three_quarters_of_the_lifetime_and_at_least_hourly(
    yc_emulator: Emulator, lifetime: float, renewed_after: float
) -> None:
    yc_emulator.iam.token_lifetime = lifetime
    clock = yc_emulator.clock
    assert isinstance(clock, ManualClock)
    credentials = ServiceAccountKey(
        yc_emulator.iam.new_key(), iam_endpoint=yc_emulator.iam_endpoint, clock=clock
    )
    first = credentials.authorization()
    clock.advance(renewed_after - 1)
    assert credentials.authorization() == first
    clock.advance(2)
    assert credentials.authorization() != first
    assert yc_emulator.iam.exchanges == 2


def test_openai_agents_default_client_hands_its_tracing_no_yandex_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agents = pytest.importorskip("agents")
    from agents.models import _openai_shared
    from agents.tracing.processors import default_exporter

    exporter = default_exporter()
    monkeypatch.setattr(exporter, "_api_key", exporter._api_key)
    monkeypatch.setattr(_openai_shared, "_default_openai_client", None)
    client = AsyncYandexOpenAI(api_key=KEY, folder_id=FOLDER)
    agents.set_default_openai_client(client)  # use_for_tracing=True: copies client.api_key
    assert _openai_shared.get_default_openai_client() is client
    assert not exporter.api_key  # nothing to post to api.openai.com (OPENAI_API_KEY unset)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"exp_after": 3601}, "more than an hour"),
        ({"iat_shift": 3600}, "issued in the future"),
        ({"iat_shift": -7200}, "has expired"),
        ({"aud": "https://example.com/"}, "InvalidAudienceError"),
        ({"iss": "aje-someone-else"}, "InvalidIssuerError"),
        ({"signed_by": "other key"}, "InvalidSignatureError"),
    ],
)
def test_the_emulator_checks_the_jwt_as_iam_does(
    yc_emulator: Emulator, change: dict[str, Any], refusal: str
) -> None:
    import httpx2
    import jwt

    key, other = yc_emulator.iam.new_key(), yc_emulator.iam.new_key()
    now = int(time.time()) + change.get("iat_shift", 0)
    claims = {
        "iss": change.get("iss", key["service_account_id"]),
        "aud": change.get("aud", "https://iam.api.cloud.yandex.net/iam/v1/tokens"),
        "iat": now,
        "exp": now + change.get("exp_after", 3600),
    }
    signer = other if change.get("signed_by") else key
    assertion = jwt.encode(
        claims, signer["private_key"], algorithm="PS256", headers={"kid": key["id"]}
    )
    answer = httpx2.post(yc_emulator.iam_endpoint, json={"jwt": assertion})
    assert answer.status_code == 401
    assert refusal in answer.json()["message"]
    assert yc_emulator.iam.exchanges == 0


def test_a_setting_that_cannot_be_used_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YC_DATA_LOGGING", "maybe")
    with pytest.raises(ConfigurationError, match="YC_DATA_LOGGING") as caught:
        YandexOpenAI(api_key=KEY, folder_id=FOLDER)
    assert "maybe" not in str(caught.value)
    assert caught.value.__context__ is None
