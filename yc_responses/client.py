"""``YandexOpenAI`` and ``AsyncYandexOpenAI``: the official clients, set up for Yandex AI Studio.

Both are real subclasses of ``openai.OpenAI`` / ``openai.AsyncOpenAI``: every resource
of the official client (responses, chat.completions, embeddings, models, ...) works
unchanged, and HTTP errors keep the official classes. What changes:

* base URL, folder (sent as ``OpenAI-Project``) and credentials come from arguments,
  ``YC_*`` variables or a ``.env`` file, never from ``OPENAI_*`` variables;
* a short model name is expanded to a ``gpt://<folder>/...`` URI in every request;
* an IAM token may be a callable, asked for a fresh token on every request attempt.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import httpx2
import openai
from openai import DEFAULT_MAX_RETRIES, NOT_GIVEN, NotGiven, Timeout
from openai._models import FinalRequestOptions
from typing_extensions import Self, override

from .errors import ConfigurationError
from .settings import YandexSettings
from .uris import ModelKind, model_uri

if TYPE_CHECKING:
    from .background import AsyncBackground, Background
    from .deferred import AsyncDeferred, Deferred

__all__ = ["AsyncYandexOpenAI", "YandexOpenAI"]

TokenProvider = Callable[[], str]
"""Returns a fresh IAM token; called before every request attempt."""

AsyncTokenProvider = Callable[[], "str | Awaitable[str]"]
"""Like :data:`TokenProvider`, and may also be ``async``."""

AuthKind = Literal["api_key", "iam_token"]


_EMBEDDINGS_PATH = "/embeddings"


@dataclass(frozen=True, repr=False)
class _YandexConfig:
    """What a client was resolved to. Holds secrets, so it prints none of them."""

    folder_id: str
    base_url: str
    llm_base_url: str
    operation_base_url: str
    api_key: str | None
    iam_token: str | Callable[[], Any] | None

    @property
    def auth(self) -> AuthKind:
        return "api_key" if self.api_key is not None else "iam_token"

    def __repr__(self) -> str:
        return f"folder_id={self.folder_id!r}, base_url={self.base_url!r}, auth={self.auth!r}"


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def _resolve(
    *,
    api_key: str | None,
    iam_token: str | Callable[[], Any] | None,
    folder_id: str | None,
    project: str | None,
    base_url: str | httpx2.URL | None,
    llm_base_url: str | None,
    operation_base_url: str | None,
    settings: YandexSettings | None,
) -> _YandexConfig:
    """Explicit arguments first, then ``settings`` (environment, then ``.env``)."""
    if api_key is not None and iam_token is not None:
        raise ConfigurationError(
            "both api_key= and iam_token= were given: pass only one of them "
            "(an API key, or an IAM token)"
        )
    if folder_id is not None and project is not None and folder_id != project:
        raise ConfigurationError(
            "folder_id= and project= name different folders: pass only folder_id="
        )
    folder_id = folder_id if folder_id is not None else project
    needs_settings = (api_key is None and iam_token is None) or None in (
        folder_id,
        base_url,
        llm_base_url,
        operation_base_url,
    )
    if settings is None and needs_settings:
        settings = YandexSettings()
    if api_key is None and iam_token is None and settings is not None:
        api_key, iam_token = _secret(settings.api_key), _secret(settings.iam_token)
        if api_key is not None and iam_token is not None:
            raise ConfigurationError(
                "both YC_API_KEY and YC_IAM_TOKEN are set (in the environment or .env): "
                "unset one of them, or pass api_key= or iam_token= explicitly"
            )
    if not api_key and not iam_token:
        raise ConfigurationError(
            "no credentials for Yandex AI Studio: set YC_API_KEY or YC_IAM_TOKEN "
            "(in the environment or a .env file), or pass api_key= or iam_token="
        )
    if folder_id is None and settings is not None:
        folder_id = settings.folder_id
    if not folder_id or not folder_id.strip():
        raise ConfigurationError(
            "no folder for Yandex AI Studio: set YC_FOLDER_ID "
            "(in the environment or a .env file), or pass folder_id="
        )
    if settings is not None:
        base_url = base_url or settings.base_url
        llm_base_url = llm_base_url or settings.llm_base_url
        operation_base_url = operation_base_url or settings.operation_base_url
    return _YandexConfig(
        folder_id=folder_id.strip(),
        base_url=str(base_url),
        llm_base_url=str(llm_base_url),
        operation_base_url=str(operation_base_url),
        api_key=api_key or None,
        iam_token=iam_token or None,
    )


def _checked_token(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"the iam_token callable returned {type(value).__name__}, not a token: "
            "it must return the IAM token as a non-empty str"
        )
    return value


def _sync_credential(config: _YandexConfig) -> str | Callable[[], str]:
    token = config.iam_token
    if config.api_key is not None:
        return config.api_key
    if isinstance(token, str):
        return token
    assert token is not None

    def fresh_token() -> str:
        value = token()
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise ConfigurationError(
                "the iam_token callable is async: use AsyncYandexOpenAI, "
                "or pass a plain function to YandexOpenAI"
            )
        return _checked_token(value)

    return fresh_token


def _async_credential(config: _YandexConfig) -> str | Callable[[], Awaitable[str]]:
    token = config.iam_token
    if config.api_key is not None:
        return config.api_key
    if isinstance(token, str):
        return token
    assert token is not None

    async def fresh_token() -> str:
        value = token()
        if inspect.isawaitable(value):
            value = await value
        return _checked_token(value)

    return fresh_token


def _expand_model(options: FinalRequestOptions, folder_id: str) -> None:
    """The request hook: expand a short model name in any JSON body that has one."""
    body = options.json_data
    if not isinstance(body, Mapping):
        return
    model = body.get("model")
    if not isinstance(model, str):
        return
    kind: ModelKind | None = "emb" if options.url.rstrip("/") == _EMBEDDINGS_PATH else None
    expanded = model_uri(model, folder_id, kind=kind)
    if expanded != model:
        options.json_data = {**body, "model": expanded}


def _forget_openai_environment(
    client: openai.OpenAI | openai.AsyncOpenAI,
    *,
    organization: str | None,
    webhook_secret: str | None,
    default_headers: Mapping[str, str] | None,
) -> None:
    """Undo what the parent read from ``OPENAI_*`` variables: none of it is for Yandex."""
    client.organization = organization
    client.webhook_secret = webhook_secret
    client.admin_api_key = None
    client._custom_headers = dict(default_headers or {})
    client._ambient_authorizations = frozenset()


def _copy_arguments(
    client: YandexOpenAI | AsyncYandexOpenAI,
    *,
    api_key: str | None,
    iam_token: str | Callable[[], Any] | None,
    folder_id: str | None,
    project: str | None,
    base_url: str | httpx2.URL | None,
    llm_base_url: str | None,
    operation_base_url: str | None,
    organization: str | None,
    webhook_secret: str | None,
    websocket_base_url: str | httpx2.URL | None,
    timeout: float | Timeout | NotGiven | None,
    http_client: Any,
    max_retries: int | NotGiven,
    default_headers: Mapping[str, str] | None,
    set_default_headers: Mapping[str, str] | None,
    default_query: Mapping[str, object] | None,
    set_default_query: Mapping[str, object] | None,
) -> dict[str, Any]:
    """The constructor arguments of a copy: the client's own, with the given ones on top."""
    if default_headers is not None and set_default_headers is not None:
        raise ValueError("default_headers= and set_default_headers= are mutually exclusive")
    if default_query is not None and set_default_query is not None:
        raise ValueError("default_query= and set_default_query= are mutually exclusive")
    config = client._yandex
    if api_key is None and iam_token is None:
        api_key, iam_token = config.api_key, config.iam_token
    headers: Mapping[str, str] = client._custom_headers
    if default_headers is not None:
        headers = {**headers, **default_headers}
    elif set_default_headers is not None:
        headers = set_default_headers
    query: Mapping[str, object] = client._custom_query
    if default_query is not None:
        query = {**query, **default_query}
    elif set_default_query is not None:
        query = set_default_query
    return {
        "api_key": api_key,
        "iam_token": iam_token,
        "folder_id": folder_id or project or config.folder_id,
        "base_url": base_url or config.base_url,
        "llm_base_url": llm_base_url or config.llm_base_url,
        "operation_base_url": operation_base_url or config.operation_base_url,
        "organization": organization or client.organization,
        "webhook_secret": webhook_secret or client.webhook_secret,
        "websocket_base_url": websocket_base_url or client.websocket_base_url,
        "timeout": client.timeout if isinstance(timeout, NotGiven) else timeout,
        "http_client": http_client or client._client,
        "max_retries": client.max_retries if isinstance(max_retries, NotGiven) else max_retries,
        "default_headers": headers,
        "default_query": query,
    }


class YandexOpenAI(openai.OpenAI):
    """``openai.OpenAI`` for Yandex AI Studio: change one line, keep the rest.

    ::

        from yc_responses import YandexOpenAI

        client = YandexOpenAI()  # YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID
        response = client.responses.create(model="yandexgpt", input="Hello!")
        print(response.output_text)

    Arguments win over ``YC_*`` environment variables, which win over a ``.env``
    file; ``OPENAI_*`` variables are never read. Pass ``api_key=`` or ``iam_token=``
    (a string, or a function returning a fresh token, called on every request
    attempt), ``folder_id=`` (``project=`` is accepted too, as in the official
    client) and optionally ``base_url=``. Every other keyword is the official
    client's.
    """

    folder_id: str
    """The folder every request is billed to; also expands short model names."""

    _yandex: _YandexConfig

    def __init__(
        self,
        *,
        api_key: str | None = None,
        iam_token: str | TokenProvider | None = None,
        folder_id: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        settings: YandexSettings | None = None,
        project: str | None = None,
        organization: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.Client | None = None,
        _strict_response_validation: bool = False,
    ) -> None:
        config = _resolve(
            api_key=api_key,
            iam_token=iam_token,
            folder_id=folder_id,
            project=project,
            base_url=base_url,
            llm_base_url=llm_base_url,
            operation_base_url=operation_base_url,
            settings=settings,
        )
        self._yandex = config
        self.folder_id = config.folder_id
        super().__init__(
            api_key=_sync_credential(config),
            project=config.folder_id,
            base_url=config.base_url,
            organization=organization,
            webhook_secret=webhook_secret,
            websocket_base_url=websocket_base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            http_client=http_client,
            _strict_response_validation=_strict_response_validation,
        )
        _forget_openai_environment(
            self,
            organization=organization,
            webhook_secret=webhook_secret,
            default_headers=default_headers,
        )

    def model_uri(self, name: str, *, kind: ModelKind | None = None) -> str:
        """The full URI of ``name`` in this client's folder.

        >>> YandexOpenAI(api_key="k", folder_id="b1g").model_uri("yandexgpt/rc")
        'gpt://b1g/yandexgpt/rc'
        """
        return model_uri(name, self.folder_id, kind=kind)

    @cached_property
    def background(self) -> Background:
        """Background responses: ``client.background.run(model="yandexgpt", input=...)``."""
        from .background import Background

        return Background(self)

    @cached_property
    def deferred(self) -> Deferred:
        """The asynchronous API (``completionAsync`` + operations), with the same results."""
        from .deferred import Deferred

        return Deferred(self)

    @override
    def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        _expand_model(options, self.folder_id)
        return super()._prepare_options(options)

    @override
    def copy(  # type: ignore[override]
        self,
        *,
        api_key: str | None = None,
        iam_token: str | TokenProvider | None = None,
        folder_id: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        project: str | None = None,
        organization: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        http_client: httpx2.Client | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
    ) -> Self:
        """A new client with this one's settings, the given ones replacing them.

        The original is left unchanged; the HTTP connection pool is shared::

            slow = client.with_options(timeout=600)
        """
        return self.__class__(**_copy_arguments(self, **_own_arguments(locals())))

    with_options = copy  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._yandex!r})"


class AsyncYandexOpenAI(openai.AsyncOpenAI):
    """``openai.AsyncOpenAI`` for Yandex AI Studio; see :class:`YandexOpenAI`.

    ``iam_token=`` may also be an ``async`` function::

        client = AsyncYandexOpenAI(iam_token=fetch_token, folder_id="b1g...")
        response = await client.responses.create(model="yandexgpt", input="Hi")
    """

    folder_id: str
    """The folder every request is billed to; also expands short model names."""

    _yandex: _YandexConfig

    def __init__(
        self,
        *,
        api_key: str | None = None,
        iam_token: str | AsyncTokenProvider | None = None,
        folder_id: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        settings: YandexSettings | None = None,
        project: str | None = None,
        organization: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        http_client: httpx2.AsyncClient | None = None,
        _strict_response_validation: bool = False,
    ) -> None:
        config = _resolve(
            api_key=api_key,
            iam_token=iam_token,
            folder_id=folder_id,
            project=project,
            base_url=base_url,
            llm_base_url=llm_base_url,
            operation_base_url=operation_base_url,
            settings=settings,
        )
        self._yandex = config
        self.folder_id = config.folder_id
        super().__init__(
            api_key=_async_credential(config),
            project=config.folder_id,
            base_url=config.base_url,
            organization=organization,
            webhook_secret=webhook_secret,
            websocket_base_url=websocket_base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            default_query=default_query,
            http_client=http_client,
            _strict_response_validation=_strict_response_validation,
        )
        _forget_openai_environment(
            self,
            organization=organization,
            webhook_secret=webhook_secret,
            default_headers=default_headers,
        )

    def model_uri(self, name: str, *, kind: ModelKind | None = None) -> str:
        """The full URI of ``name`` in this client's folder (see :meth:`YandexOpenAI.model_uri`)."""
        return model_uri(name, self.folder_id, kind=kind)

    @cached_property
    def background(self) -> AsyncBackground:
        """Background responses: ``await client.background.run(model="yandexgpt", input=...)``."""
        from .background import AsyncBackground

        return AsyncBackground(self)

    @cached_property
    def deferred(self) -> AsyncDeferred:
        """The asynchronous API (``completionAsync`` + operations), with the same results."""
        from .deferred import AsyncDeferred

        return AsyncDeferred(self)

    @override
    async def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        _expand_model(options, self.folder_id)
        return await super()._prepare_options(options)

    @override
    def copy(  # type: ignore[override]
        self,
        *,
        api_key: str | None = None,
        iam_token: str | AsyncTokenProvider | None = None,
        folder_id: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        project: str | None = None,
        organization: str | None = None,
        webhook_secret: str | None = None,
        websocket_base_url: str | httpx2.URL | None = None,
        timeout: float | Timeout | NotGiven | None = NOT_GIVEN,
        http_client: httpx2.AsyncClient | None = None,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | None = None,
        set_default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, object] | None = None,
        set_default_query: Mapping[str, object] | None = None,
    ) -> Self:
        """A new client with this one's settings, the given ones replacing them."""
        return self.__class__(**_copy_arguments(self, **_own_arguments(locals())))

    with_options = copy  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._yandex!r})"


def _own_arguments(frame_locals: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value for name, value in frame_locals.items() if name not in ("self", "__class__")
    }
