"""What YandexOpenAI / AsyncYandexOpenAI put on the wire, checked at the transport."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from pydantic import SecretStr

from yc_responses import (
    DEFAULT_BASE_URL,
    AsyncYandexOpenAI,
    ConfigurationError,
    YandexConfig,
    YandexOpenAI,
    YandexSettings,
)
from yc_responses.settings import DEFAULT_LLM_BASE_URL, DEFAULT_OPERATION_BASE_URL
from yc_responses.testing import Emulator
from yc_responses.testing.server import DEFAULT_FOLDER_ID

KEY = "AQVNkey-for-tests-0123456789"
TOKEN = "t1.token-for-tests-0123456789abcdef"
FOLDER = "b1gtestfolder"

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "gpt://b1gtestfolder/yandexgpt/latest",
    "status": "completed",
    "output": [],
    "parallel_tool_calls": False,
    "tool_choice": "auto",
    "tools": [],
}
CHAT = {
    "id": "chat_1",
    "object": "chat.completion",
    "created": 1,
    "model": "yandexgpt",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "hi"},
        }
    ],
}
EMBEDDINGS = {
    "object": "list",
    "model": "text-search-doc",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
}
MODELS = {
    "object": "list",
    "data": [{"id": "yandexgpt", "object": "model", "created": 0, "owned_by": "x"}],
}


@dataclass
class Wire:
    """A fake server behind httpx2.MockTransport that records every request."""

    requests: list[httpx2.Request] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.failures:
            return httpx2.Response(self.failures.pop(0), json={"error": {"message": "nope"}})
        path = request.url.path
        for suffix, body in (
            ("/responses", RESPONSE),
            ("/chat/completions", CHAT),
            ("/embeddings", EMBEDDINGS),
            ("/models", MODELS),
        ):
            if path.endswith(suffix):
                return httpx2.Response(200, json=body)
        return httpx2.Response(404, json={"error": {"message": "not found"}})

    @property
    def last(self) -> httpx2.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[index].content)  # type: ignore[no-any-return]

    def sync_client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self))

    def async_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self))


@pytest.fixture
def wire() -> Wire:
    return Wire()


def make_sync(wire: Wire, **kwargs: Any) -> YandexOpenAI:
    kwargs.setdefault("max_retries", 0)
    return YandexOpenAI(http_client=wire.sync_client(), **kwargs)


def make_async(wire: Wire, **kwargs: Any) -> AsyncYandexOpenAI:
    kwargs.setdefault("max_retries", 0)
    return AsyncYandexOpenAI(http_client=wire.async_client(), **kwargs)


def assert_yandex_request(request: httpx2.Request, *, secret: str = KEY) -> None:
    assert str(request.url).startswith(DEFAULT_BASE_URL + "/")
    assert request.headers["Authorization"] == f"Bearer {secret}"
    assert request.headers["OpenAI-Project"] == FOLDER
    assert "OpenAI-Organization" not in request.headers


# --- the three model-carrying endpoints, sync and async ------------------------------------


def test_sync_requests_carry_auth_folder_and_expanded_model(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)

    assert client.responses.create(model="yandexgpt", input="Hi").id == "resp_1"
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/latest"

    client.chat.completions.create(
        model="yandexgpt/rc", messages=[{"role": "user", "content": "Hi"}]
    )
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/rc"

    client.embeddings.create(model="text-search-doc", input="Hi", encoding_format="float")
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "emb://b1gtestfolder/text-search-doc/latest"

    assert [model.id for model in client.models.list()] == ["yandexgpt"]
    assert_yandex_request(wire.last)


@pytest.mark.anyio
async def test_async_requests_carry_auth_folder_and_expanded_model(wire: Wire) -> None:
    client = make_async(wire, api_key=KEY, folder_id=FOLDER)

    await client.responses.create(model="yandexgpt", input="Hi")
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/latest"

    await client.chat.completions.create(
        model="yandexgpt", messages=[{"role": "user", "content": "Hi"}]
    )
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/latest"

    await client.embeddings.create(model="text-search-query", input="Hi", encoding_format="float")
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "emb://b1gtestfolder/text-search-query/latest"


def test_an_unknown_name_on_the_embeddings_endpoint_becomes_an_emb_uri(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    client.embeddings.create(model="my-embedder", input="x", encoding_format="float")
    assert wire.body()["model"] == "emb://b1gtestfolder/my-embedder/latest"


def test_full_uris_reach_the_wire_unchanged(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    uri = "gpt://b1gtestfolder/yandexgpt-lite/latest@ft123"
    client.responses.create(model=uri, input="Hi")
    assert wire.body()["model"] == uri


def test_a_malformed_model_fails_before_any_request(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    with pytest.raises(ValueError, match=r"malformed model name 'yandex gpt'.*gpt://<folder>"):
        client.responses.create(model="yandex gpt", input="Hi")
    assert wire.requests == []


def test_the_callers_request_body_is_not_mutated(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    extra = {"model": "yandexgpt"}
    client.responses.create(model="yandexgpt", input="Hi", extra_body=extra)
    assert extra == {"model": "yandexgpt"}


def test_model_uri_method_uses_the_client_folder() -> None:
    client = YandexOpenAI(api_key=KEY, folder_id=FOLDER)
    assert client.model_uri("yandexgpt") == "gpt://b1gtestfolder/yandexgpt/latest"
    assert client.model_uri("text-search-doc") == "emb://b1gtestfolder/text-search-doc/latest"
    assert client.model_uri("custom", kind="emb") == "emb://b1gtestfolder/custom/latest"
    async_client = AsyncYandexOpenAI(api_key=KEY, folder_id=FOLDER)
    assert async_client.model_uri("yandexgpt/rc") == "gpt://b1gtestfolder/yandexgpt/rc"


# --- credentials -----------------------------------------------------------------------------


def test_an_iam_token_is_sent_as_bearer(wire: Wire) -> None:
    client = make_sync(wire, iam_token=TOKEN, folder_id=FOLDER)
    client.models.list()
    assert_yandex_request(wire.last, secret=TOKEN)


def test_a_token_callable_is_asked_on_every_attempt(wire: Wire) -> None:
    tokens = iter(["t1.first", "t1.second", "t1.third"])
    client = make_sync(wire, iam_token=lambda: next(tokens), folder_id=FOLDER, max_retries=1)
    wire.failures = [500]
    client.models.list()
    assert [r.headers["Authorization"] for r in wire.requests] == [
        "Bearer t1.first",
        "Bearer t1.second",
    ]
    client.models.list()
    assert wire.last.headers["Authorization"] == "Bearer t1.third"


@pytest.mark.anyio
async def test_the_async_client_takes_async_and_plain_token_callables(wire: Wire) -> None:
    async def fetch() -> str:
        return "t1.from-async"

    await make_async(wire, iam_token=fetch, folder_id=FOLDER).models.list()
    assert wire.last.headers["Authorization"] == "Bearer t1.from-async"

    await make_async(wire, iam_token=lambda: "t1.from-plain", folder_id=FOLDER).models.list()
    assert wire.last.headers["Authorization"] == "Bearer t1.from-plain"


def test_a_token_callable_must_return_a_token(wire: Wire) -> None:
    client = make_sync(wire, iam_token=lambda: "", folder_id=FOLDER)
    with pytest.raises(ConfigurationError, match="non-empty str"):
        client.models.list()
    assert wire.requests == []


def test_an_async_token_callable_on_the_sync_client_says_what_to_use(wire: Wire) -> None:
    async def fetch() -> str:
        return "t1.x"

    client = make_sync(wire, iam_token=fetch, folder_id=FOLDER)
    with pytest.raises(ConfigurationError, match="use AsyncYandexOpenAI"):
        client.models.list()


# --- settings: arguments > environment > .env -------------------------------------------------


def test_settings_come_from_yc_variables(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YC_API_KEY", KEY)
    monkeypatch.setenv("YC_FOLDER_ID", FOLDER)
    client = make_sync(wire)
    client.responses.create(model="yandexgpt", input="Hi")
    assert_yandex_request(wire.last)
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/latest"


@pytest.mark.anyio
async def test_async_settings_come_from_yc_variables(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YC_IAM_TOKEN", TOKEN)
    monkeypatch.setenv("YC_FOLDER_ID", FOLDER)
    await make_async(wire).responses.create(model="yandexgpt", input="Hi")
    assert_yandex_request(wire.last, secret=TOKEN)


def test_arguments_win_over_environment_which_wins_over_dotenv(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".env").write_text(
        "YC_API_KEY=AQVNfrom-dotenv-0000000\nYC_FOLDER_ID=dotenvfolder\n"
        "YC_BASE_URL=https://dotenv.example/v1\n"
    )
    from_dotenv = YandexSettings()
    assert from_dotenv.folder_id == "dotenvfolder"
    assert from_dotenv.base_url == "https://dotenv.example/v1"

    monkeypatch.setenv("YC_FOLDER_ID", "envfolder")
    client = make_sync(wire)
    assert client.folder_id == "envfolder"
    assert str(client.base_url) == "https://dotenv.example/v1/"
    client.models.list()
    assert wire.last.headers["Authorization"] == "Bearer AQVNfrom-dotenv-0000000"

    explicit = make_sync(wire, api_key=KEY, folder_id=FOLDER, base_url=DEFAULT_BASE_URL)
    explicit.models.list()
    assert_yandex_request(wire.last)


def test_an_explicit_settings_object_is_used(wire: Wire) -> None:
    settings = YandexSettings(api_key=SecretStr(KEY), folder_id=FOLDER)
    make_sync(wire, settings=settings).models.list()
    assert_yandex_request(wire.last)


def test_project_is_accepted_as_the_folder(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, project=FOLDER)
    assert client.folder_id == FOLDER
    with pytest.raises(ConfigurationError, match="different folders"):
        YandexOpenAI(api_key=KEY, project=FOLDER, folder_id="other")


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigurationError, match="YC_API_KEY or YC_IAM_TOKEN") as caught:
        YandexOpenAI(folder_id=FOLDER)
    assert "api_key=" in str(caught.value)
    with pytest.raises(ConfigurationError, match="YC_API_KEY or YC_IAM_TOKEN"):
        AsyncYandexOpenAI(folder_id=FOLDER)


def test_missing_folder_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="YC_FOLDER_ID"):
        YandexOpenAI(api_key=KEY)
    with pytest.raises(ConfigurationError, match="YC_FOLDER_ID"):
        YandexOpenAI(api_key=KEY, folder_id="  ")


def test_a_key_and_a_token_together_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="only one"):
        YandexOpenAI(api_key=KEY, iam_token=TOKEN, folder_id=FOLDER)
    monkeypatch.setenv("YC_API_KEY", KEY)
    monkeypatch.setenv("YC_IAM_TOKEN", TOKEN)
    with pytest.raises(ConfigurationError, match="both YC_API_KEY and YC_IAM_TOKEN"):
        YandexOpenAI(folder_id=FOLDER)
    # an explicit credential settles it
    assert YandexOpenAI(iam_token=TOKEN, folder_id=FOLDER).folder_id == FOLDER


def test_configuration_errors_are_openai_errors_and_value_errors() -> None:
    with pytest.raises(openai.OpenAIError):
        YandexOpenAI()
    with pytest.raises(ValueError, match="YC_"):
        YandexOpenAI()


# --- OpenAI's own variables never reach a Yandex client ---------------------------------------

OPENAI_ENVIRONMENT = {
    "OPENAI_API_KEY": "sk-openai-secret-key",
    "OPENAI_ADMIN_KEY": "sk-admin-openai-secret",
    "OPENAI_BASE_URL": "https://api.openai.example/v1",
    "OPENAI_PROJECT_ID": "proj_openai",
    "OPENAI_ORG_ID": "org_openai",
    "OPENAI_WEBHOOK_SECRET": "whsec_openai",
    "OPENAI_CUSTOM_HEADERS": "Authorization: Bearer sk-from-custom\nX-Leaked: yes",
}


@pytest.fixture
def openai_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in OPENAI_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def assert_nothing_from_openai_environment(request: httpx2.Request) -> None:
    assert_yandex_request(request)
    wire_text = str(request.url) + repr(request.headers.raw) + request.content.decode()
    for value in (
        "sk-openai",
        "sk-admin",
        "sk-from-custom",
        "proj_openai",
        "org_openai",
        "openai.example",
    ):
        assert value not in wire_text
    assert "X-Leaked" not in request.headers


@pytest.mark.usefixtures("openai_environment")
def test_openai_variables_never_reach_the_wire(wire: Wire) -> None:
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    assert client.webhook_secret is None
    client.responses.create(model="yandexgpt", input="Hi")
    assert_nothing_from_openai_environment(wire.last)
    client.with_options(timeout=3).models.list()
    assert_nothing_from_openai_environment(wire.last)


@pytest.mark.anyio
@pytest.mark.usefixtures("openai_environment")
async def test_openai_variables_never_reach_the_async_wire(wire: Wire) -> None:
    client = make_async(wire, api_key=KEY, folder_id=FOLDER)
    await client.responses.create(model="yandexgpt", input="Hi")
    assert_nothing_from_openai_environment(wire.last)


@pytest.mark.usefixtures("openai_environment")
def test_an_openai_key_is_no_yandex_credential() -> None:
    with pytest.raises(ConfigurationError, match="YC_API_KEY"):
        YandexOpenAI(folder_id=FOLDER)


def test_a_yandex_key_is_not_picked_up_by_a_plain_openai_client(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YC_API_KEY", KEY)
    plain = openai.OpenAI(api_key="sk-mine", http_client=wire.sync_client(), max_retries=0)
    plain.models.list()
    assert wire.last.headers["Authorization"] == "Bearer sk-mine"
    assert KEY not in repr(wire.last.headers.raw)


def test_a_redirect_to_another_host_drops_the_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.host == "ai.api.cloud.yandex.net":
            return httpx2.Response(302, headers={"Location": "https://elsewhere.example/v1/models"})
        return httpx2.Response(200, json=MODELS)

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler), follow_redirects=True)
    YandexOpenAI(api_key=KEY, folder_id=FOLDER, http_client=http_client).models.list()
    assert [r.url.host for r in seen] == ["ai.api.cloud.yandex.net", "elsewhere.example"]
    assert "Authorization" not in seen[1].headers


# --- copy() / with_options() ----------------------------------------------------------------


def test_copy_keeps_the_yandex_configuration_and_leaves_the_original(wire: Wire) -> None:
    tokens: list[str] = []

    def token() -> str:
        tokens.append(f"t1.n{len(tokens)}")
        return tokens[-1]

    original = make_sync(wire, iam_token=token, folder_id=FOLDER, default_headers={"X-A": "1"})
    copied = original.copy(timeout=7, default_headers={"X-B": "2"})
    assert copied is not original
    assert copied.timeout == 7
    assert copied.folder_id == FOLDER
    copied.responses.create(model="yandexgpt", input="Hi")
    assert_yandex_request(wire.last, secret="t1.n0")
    assert wire.last.headers["X-A"] == "1"
    assert wire.last.headers["X-B"] == "2"
    assert wire.body()["model"] == "gpt://b1gtestfolder/yandexgpt/latest"

    other = original.with_options(folder_id="b1gother", max_retries=5)
    assert other.max_retries == 5
    other.responses.create(model="yandexgpt", input="Hi")
    assert wire.last.headers["OpenAI-Project"] == "b1gother"
    assert wire.body()["model"] == "gpt://b1gother/yandexgpt/latest"

    original.responses.create(model="yandexgpt", input="Hi")
    assert_yandex_request(wire.last, secret="t1.n2")
    assert "X-B" not in wire.last.headers
    assert original.max_retries == 0
    assert original.timeout != 7


def test_copy_can_switch_the_credential(wire: Wire) -> None:
    original = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    original.copy(iam_token=TOKEN).models.list()
    assert wire.last.headers["Authorization"] == f"Bearer {TOKEN}"
    original.models.list()
    assert wire.last.headers["Authorization"] == f"Bearer {KEY}"
    with pytest.raises(ValueError, match="mutually exclusive"):
        original.copy(default_headers={"a": "b"}, set_default_headers={"c": "d"})


@pytest.mark.anyio
async def test_async_copy_keeps_the_yandex_configuration(wire: Wire) -> None:
    async def token() -> str:
        return TOKEN

    original = make_async(wire, iam_token=token, folder_id=FOLDER)
    copied = original.with_options(timeout=9)
    assert isinstance(copied, AsyncYandexOpenAI)
    await copied.embeddings.create(model="text-search-doc", input="x", encoding_format="float")
    assert_yandex_request(wire.last, secret=TOKEN)
    assert wire.body()["model"] == "emb://b1gtestfolder/text-search-doc/latest"


# --- errors stay the official classes --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_http_errors_keep_the_official_classes(
    wire: Wire, status: int, error: type[openai.APIStatusError]
) -> None:
    wire.failures = [status]
    with pytest.raises(error):
        make_sync(wire, api_key=KEY, folder_id=FOLDER).models.list()


# --- secrets never show --------------------------------------------------------------------


def secrets_in(text: str) -> list[str]:
    return [secret for secret in (KEY, TOKEN, "AQVNfrom-dotenv") if secret in text]


def test_reprs_show_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for client in (
        YandexOpenAI(api_key=KEY, folder_id=FOLDER),
        AsyncYandexOpenAI(iam_token=TOKEN, folder_id=FOLDER),
        YandexOpenAI(api_key=KEY, folder_id=FOLDER).copy(timeout=1),
    ):
        assert secrets_in(repr(client) + str(client)) == []
        assert FOLDER in repr(client)
    monkeypatch.setenv("YC_API_KEY", KEY)
    settings = YandexSettings()
    assert secrets_in(repr(settings) + str(settings) + repr(settings.model_dump())) == []


def test_errors_show_no_secret(wire: Wire) -> None:
    wire.failures = [401]
    client = make_sync(wire, api_key=KEY, folder_id=FOLDER)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert secrets_in(str(caught.value) + repr(caught.value)) == []
    with pytest.raises(ConfigurationError) as configuration:
        YandexOpenAI(api_key=KEY, iam_token=TOKEN, folder_id=FOLDER)
    assert secrets_in(str(configuration.value)) == []


def test_debug_logs_show_no_secret(wire: Wire, caplog: pytest.LogCaptureFixture) -> None:
    tokens: Callable[[], str] = lambda: TOKEN  # noqa: E731
    with caplog.at_level(logging.DEBUG):
        make_sync(wire, api_key=KEY, folder_id=FOLDER).responses.create(
            model="yandexgpt", input="x"
        )
        make_sync(wire, iam_token=tokens, folder_id=FOLDER).models.list()
    assert caplog.records, "the official client logs requests at DEBUG"
    logged = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert secrets_in(logged) == []


# --- client.yandex: the read-only configuration ----------------------------------------------


def test_the_yandex_view_shows_where_requests_go_and_how_they_authenticate() -> None:
    config = YandexOpenAI(api_key=KEY, folder_id=FOLDER, llm_base_url="http://127.0.0.1:9").yandex
    assert isinstance(config, YandexConfig)
    assert (config.folder_id, config.base_url, config.auth) == (FOLDER, DEFAULT_BASE_URL, "api_key")
    assert config.llm_base_url == "http://127.0.0.1:9"
    assert config.operation_base_url == "https://operation.api.cloud.yandex.net"
    assert config.foundation_models_headers() == {
        "x-folder-id": FOLDER,
        "Authorization": f"Api-Key {KEY}",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.folder_id = "b1gother"  # type: ignore[misc]

    token_config = AsyncYandexOpenAI(iam_token=TOKEN, folder_id=FOLDER).yandex
    assert token_config.auth == "iam_token"
    # an IAM token stays the client's own Bearer header
    assert token_config.foundation_models_headers() == {"x-folder-id": FOLDER}
    assert secrets_in(repr(config) + str(config) + repr(token_config)) == []


def test_the_yandex_view_redacts_every_secret_the_client_holds(wire: Wire) -> None:
    key_client = YandexOpenAI(api_key=KEY, folder_id=FOLDER)
    assert key_client.yandex.redact(f"Illegal header value b'Bearer {KEY}'") == (
        "Illegal header value b'Bearer ***'"
    )
    token_client = YandexOpenAI(iam_token=TOKEN, folder_id=FOLDER)
    assert token_client.yandex.redact(f"{TOKEN} and {TOKEN}") == "*** and ***"
    assert token_client.yandex.redact("nothing secret here") == "nothing secret here"

    issued = "t1.issued-by-a-callable-0123456789"
    client = make_sync(wire, iam_token=lambda: issued, folder_id=FOLDER)
    client.models.list()
    assert client.yandex.redact(f"token {issued} refused") == "token *** refused"


def test_copy_makes_a_new_configuration_and_leaves_the_original(wire: Wire) -> None:
    original = make_sync(
        wire, api_key=KEY, folder_id=FOLDER, webhook_secret="whsec_mine", timeout=5
    )
    before = original.yandex
    copied = original.with_options(
        folder_id="b1gother", operation_base_url="http://127.0.0.1:9/ops", max_retries=3
    )
    assert original.yandex == before
    assert original.yandex is before
    assert (original.folder_id, original.max_retries) == (FOLDER, 0)
    assert copied.yandex.folder_id == copied.folder_id == "b1gother"
    assert copied.yandex.operation_base_url == "http://127.0.0.1:9/ops"
    assert copied.yandex.base_url == before.base_url
    assert copied.yandex.foundation_models_headers()["Authorization"] == f"Api-Key {KEY}"
    # what only the official client knows is carried by the official copy()
    assert (copied.webhook_secret, copied.timeout, copied.max_retries) == ("whsec_mine", 5, 3)
    copied.models.list()
    assert wire.last.headers["OpenAI-Project"] == "b1gother"

    switched = original.copy(iam_token=TOKEN)
    assert (switched.yandex.auth, original.yandex.auth) == ("iam_token", "api_key")
    with pytest.raises(ConfigurationError, match="base_url="):
        original.copy(base_url="ftp://elsewhere.example/v1")


@pytest.mark.anyio
async def test_async_copy_carries_the_token_callable(wire: Wire) -> None:
    async def token() -> str:
        return TOKEN

    original = make_async(wire, iam_token=token, folder_id=FOLDER)
    copied = original.copy(folder_id="b1gother")
    await copied.models.list()
    assert wire.last.headers["Authorization"] == f"Bearer {TOKEN}"
    assert wire.last.headers["OpenAI-Project"] == "b1gother"
    assert original.folder_id == FOLDER


def test_openai_only_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="admin_api_key= is an OpenAI setting"):
        YandexOpenAI(api_key=KEY, folder_id=FOLDER, admin_api_key="sk-admin")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="workload_identity= is an OpenAI setting"):
        AsyncYandexOpenAI(api_key=KEY, folder_id=FOLDER, workload_identity=object())  # type: ignore[arg-type]


# --- secrets and settings that cannot work are refused at once -------------------------------

BAD_SECRETS = {
    "a control character": "AQVNkey-with-a\x01control",
    "an inner newline": "AQVNkey-split\nin-two",
    "a non-ASCII letter": "AQVNkey-\u0441-\u043a\u0438\u0440",
}


def chain_of(error: BaseException) -> str:
    """Every text an exception and its causes and contexts show."""
    texts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


def assert_refused_without_the_secret(
    caught: pytest.ExceptionInfo[ConfigurationError], secret: str, name: str
) -> None:
    assert name in str(caught.value)
    assert secret not in chain_of(caught.value)
    assert secret.strip() not in chain_of(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_whitespace_around_a_secret_is_dropped(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    make_sync(wire, api_key=f"  {KEY}\n", folder_id=FOLDER).models.list()
    assert_yandex_request(wire.last)
    make_sync(wire, iam_token=f"{TOKEN}\r\n", folder_id=f" {FOLDER}\n").models.list()
    assert_yandex_request(wire.last, secret=TOKEN)
    make_sync(wire, iam_token=lambda: f"{TOKEN}\n", folder_id=FOLDER).models.list()
    assert_yandex_request(wire.last, secret=TOKEN)

    monkeypatch.setenv("YC_API_KEY", f"{KEY}\n")  # as a file-mounted secret ends
    monkeypatch.setenv("YC_FOLDER_ID", f"{FOLDER}\n")
    client = make_sync(wire)
    client.models.list()
    assert_yandex_request(wire.last)
    assert client.yandex.foundation_models_headers()["Authorization"] == f"Api-Key {KEY}"


@pytest.mark.parametrize("secret", list(BAD_SECRETS.values()), ids=list(BAD_SECRETS))
def test_a_secret_that_cannot_go_into_a_header_is_refused_by_name(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for keyword, name in (("api_key", "api_key="), ("iam_token", "iam_token=")):
        credential: dict[str, Any] = {keyword: secret}
        with pytest.raises(ConfigurationError) as caught:
            YandexOpenAI(folder_id=FOLDER, **credential)
        assert_refused_without_the_secret(caught, secret, name)
        with pytest.raises(ConfigurationError) as caught:
            AsyncYandexOpenAI(folder_id=FOLDER, **credential)
        assert_refused_without_the_secret(caught, secret, name)
    monkeypatch.setenv("YC_FOLDER_ID", FOLDER)
    for variable in ("YC_API_KEY", "YC_IAM_TOKEN"):
        with monkeypatch.context() as environment:
            environment.setenv(variable, secret)
            with pytest.raises(ConfigurationError) as caught:
                YandexOpenAI()
            assert_refused_without_the_secret(caught, secret, variable)
    original = YandexOpenAI(api_key=KEY, folder_id=FOLDER)
    with pytest.raises(ConfigurationError) as caught:
        original.copy(iam_token=secret)
    assert_refused_without_the_secret(caught, secret, "iam_token=")


@pytest.mark.parametrize("secret", list(BAD_SECRETS.values()), ids=list(BAD_SECRETS))
def test_a_bad_token_from_a_callable_is_refused_on_every_request(
    wire: Wire, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = iter([TOKEN, secret, TOKEN])
    client = make_sync(wire, iam_token=lambda: next(tokens), folder_id=FOLDER)
    with caplog.at_level(logging.DEBUG):
        client.models.list()
        with pytest.raises(ConfigurationError) as caught:
            client.models.list()
        client.models.list()
    assert_refused_without_the_secret(caught, secret, "iam_token callable")
    assert len(wire.requests) == 2
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in wire.requests)
    assert secret not in "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)


@pytest.mark.anyio
@pytest.mark.parametrize("secret", list(BAD_SECRETS.values()), ids=list(BAD_SECRETS))
async def test_a_bad_token_from_an_async_callable_is_refused(wire: Wire, secret: str) -> None:
    async def token() -> str:
        return secret

    with pytest.raises(ConfigurationError) as caught:
        await make_async(wire, iam_token=token, folder_id=FOLDER).models.list()
    assert_refused_without_the_secret(caught, secret, "iam_token callable")
    assert wire.requests == []


@pytest.mark.parametrize(
    "folder", ["b1g folder", "B1GFOLDER", "b1g-folder", "b1g/x", "\u0431\u0433"]
)
def test_a_folder_id_no_folder_can_have_is_refused(
    folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"folder_id=.*lowercase letters and digits"):
        YandexOpenAI(api_key=KEY, folder_id=folder)
    with pytest.raises(ConfigurationError, match="project="):
        AsyncYandexOpenAI(api_key=KEY, project=folder)
    monkeypatch.setenv("YC_FOLDER_ID", folder)
    with pytest.raises(ConfigurationError, match="YC_FOLDER_ID"):
        YandexOpenAI(api_key=KEY)


def test_the_emulators_folder_is_a_folder_id() -> None:
    assert YandexOpenAI(api_key=KEY, folder_id=DEFAULT_FOLDER_ID).folder_id == DEFAULT_FOLDER_ID


DEFAULT_URLS = {
    "base_url": DEFAULT_BASE_URL,
    "llm_base_url": DEFAULT_LLM_BASE_URL,
    "operation_base_url": DEFAULT_OPERATION_BASE_URL,
}


@pytest.mark.parametrize(
    "url", ["", "   ", "ai.api.cloud.yandex.net/v1", "ftp://ai.api.cloud.yandex.net/v1", "https://"]
)
@pytest.mark.parametrize("name", ["base_url", "llm_base_url", "operation_base_url"])
def test_a_base_url_that_cannot_work_is_refused_by_name(
    url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url_setting: dict[str, Any] = {name: url}
    with pytest.raises(ConfigurationError, match=f"{name}= must be an http:// or https:// URL"):
        YandexOpenAI(api_key=KEY, folder_id=FOLDER, **url_setting)
    with pytest.raises(ConfigurationError, match=f"{name}="):
        AsyncYandexOpenAI(api_key=KEY, folder_id=FOLDER, **url_setting)
    with pytest.raises(ConfigurationError, match=re.escape(DEFAULT_URLS[name])):
        YandexOpenAI(api_key=KEY, folder_id=FOLDER, **url_setting)  # the default as an example
    variable = f"YC_{name.upper()}"
    monkeypatch.setenv(variable, url)
    with pytest.raises(ConfigurationError, match=f"{variable} must be an http"):
        YandexOpenAI(api_key=KEY, folder_id=FOLDER)


def test_no_secret_is_logged_at_any_level_on_the_wire(caplog: pytest.LogCaptureFixture) -> None:
    key = "AQVNemulator-key-0123456789abcdef"
    with contextlib.ExitStack() as stack:
        for logger in (None, "openai", "httpx2", "httpcore2", "httpx", "httpcore"):
            stack.enter_context(caplog.at_level(logging.DEBUG, logger=logger))
        emulator = stack.enter_context(Emulator(api_key=key))
        client = emulator.client(api_key=f"{key}\n", max_retries=0)
        assert client.responses.create(model="yandexgpt", input="Hi").status == "completed"
        client.with_options(timeout=5).models.list()
        with pytest.raises(ConfigurationError) as caught:
            emulator.client(api_key=f"{key}\x00")
    assert caplog.records, "the official client and the transport log at DEBUG"
    logged = "\n".join(
        record.getMessage() + repr(record.args) + repr(record.__dict__) for record in caplog.records
    )
    assert key not in logged
    assert key not in chain_of(caught.value) + repr(client) + repr(client.yandex)
