"""``YandexOpenAI`` and ``AsyncYandexOpenAI``: the official clients, set up for Yandex AI Studio.

Both are real subclasses of ``openai.OpenAI`` / ``openai.AsyncOpenAI``: every resource
of the official client (responses, chat.completions, embeddings, models, ...) works
unchanged, and HTTP errors keep the official classes. What changes:

* base URL, folder (sent as ``OpenAI-Project``) and credentials come from arguments,
  ``YC_*`` variables or a ``.env`` file, never from ``OPENAI_*`` variables;
* a short model name is expanded to a ``gpt://<folder>/...`` URI in every request;
* an IAM token may be a callable, asked for a fresh token on every request attempt.

The Yandex part is written once, in ``_YandexClient`` (as the official package writes
its Azure part once in ``BaseAzureClient``); the two classes add only what differs
between sync and async: how a token callable is called and the request hook.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx2
import openai
from openai import DEFAULT_MAX_RETRIES, NOT_GIVEN, NotGiven, Timeout
from openai._models import FinalRequestOptions
from typing_extensions import Self, TypedDict, Unpack, override

from .config import YandexConfig, resolve_config
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

_HttpClientT = TypeVar("_HttpClientT", httpx2.Client, httpx2.AsyncClient)
_TokenProviderT = TypeVar("_TokenProviderT")

_EMBEDDINGS_PATH = "/embeddings"


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


class _Changes(TypedDict, Generic[_HttpClientT, _TokenProviderT], total=False):
    """The keywords of ``copy()`` / ``with_options()``."""

    api_key: str | None
    iam_token: str | _TokenProviderT | None
    folder_id: str | None
    project: str | None
    base_url: str | httpx2.URL | None
    llm_base_url: str | None
    operation_base_url: str | None
    organization: str | None
    webhook_secret: str | None
    websocket_base_url: str | httpx2.URL | None
    timeout: float | Timeout | NotGiven | None
    http_client: _HttpClientT | None
    max_retries: int | NotGiven
    default_headers: Mapping[str, str] | None
    set_default_headers: Mapping[str, str] | None
    default_query: Mapping[str, object] | None
    set_default_query: Mapping[str, object] | None


_YANDEX_CHANGES = frozenset(inspect.signature(YandexConfig._updated).parameters) - {"self"}
"""The keywords of ``copy()`` that make a new :class:`YandexConfig`; the rest are official."""


class _YandexClient(Generic[_HttpClientT, _TokenProviderT]):
    """The Yandex half of both clients, written once; the official half comes second.

    ``YandexOpenAI(_YandexClient[...], openai.OpenAI)``: the constructor resolves and
    checks a :class:`YandexConfig`, hands the official constructor its credential,
    folder and base URL, then forgets what the official one read from ``OPENAI_*``.
    ``copy()`` goes through the official ``copy()``, passing the new configuration on.
    """

    folder_id: str
    """The folder every request is billed to; also expands short model names."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        iam_token: str | _TokenProviderT | None = None,
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
        http_client: _HttpClientT | None = None,
        _strict_response_validation: bool = False,
        admin_api_key: None = None,
        workload_identity: None = None,
        _enforce_credentials: bool = True,
        _config: YandexConfig | None = None,
    ) -> None:
        # The last four come from the official copy(), which passes its own view of the
        # credential, folder and base URL too: ``_config``, made by copy(), replaces them.
        _refuse_openai_only(admin_api_key=admin_api_key, workload_identity=workload_identity)
        if _config is None:
            _config = resolve_config(
                api_key=api_key,
                iam_token=cast("str | Callable[[], Any] | None", iam_token),
                folder_id=folder_id,
                project=project,
                base_url=base_url,
                llm_base_url=llm_base_url,
                operation_base_url=operation_base_url,
                settings=settings,
            )
        self._config = _config
        self.folder_id = _config.folder_id
        official = self._official
        cast(Any, super()).__init__(
            api_key=self._credential(_config),
            project=_config.folder_id,
            base_url=_config.base_url,
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
        # Undo what the official constructor read from ``OPENAI_*``: none of it is for Yandex.
        official.organization = organization
        official.webhook_secret = webhook_secret
        official.admin_api_key = None
        official._custom_headers = dict(default_headers or {})
        official._ambient_authorizations = frozenset()

    @property
    def yandex(self) -> YandexConfig:
        """This client's Yandex configuration, read-only; its repr shows no secret.

        >>> client = YandexOpenAI(api_key="AQVN-key", folder_id="b1g")
        >>> client.yandex.folder_id, client.yandex.auth
        ('b1g', 'api_key')
        >>> client.yandex.redact("rejected: AQVN-key")
        'rejected: ***'
        """
        return self._config

    @property
    def _official(self) -> openai.OpenAI | openai.AsyncOpenAI:
        assert isinstance(self, (openai.OpenAI, openai.AsyncOpenAI))
        return self

    def _credential(self, config: YandexConfig) -> str | Callable[[], Any]:
        """What the official client sends as its Bearer: a string, or a token callable."""
        raise NotImplementedError

    def model_uri(self, name: str, *, kind: ModelKind | None = None) -> str:
        """The full URI of ``name`` in this client's folder.

        >>> YandexOpenAI(api_key="k", folder_id="b1g").model_uri("yandexgpt/rc")
        'gpt://b1g/yandexgpt/rc'
        """
        return model_uri(name, self.folder_id, kind=kind)

    def copy(self, **changes: Unpack[_Changes[_HttpClientT, _TokenProviderT]]) -> Self:
        """A new client with this one's settings, the given ones replacing them.

        Takes every keyword of the constructor but ``settings=``, and the official
        ``set_default_headers=`` / ``set_default_query=`` (replace rather than add).
        The original is left unchanged; the HTTP connection pool is shared::

            slow = client.with_options(timeout=600)
            other = client.copy(folder_id="b1gother")
        """
        official: dict[str, Any] = dict(changes)
        yandex = {name: official.pop(name) for name in _YANDEX_CHANGES if name in official}
        config = self._config._updated(**yandex)
        copied: Self = cast(Any, super()).copy(**official, _extra_kwargs={"_config": config})
        return copied

    with_options = copy

    def __repr__(self) -> str:
        config = self._config
        return (
            f"{type(self).__name__}(folder_id={config.folder_id!r}, "
            f"base_url={config.base_url!r}, auth={config.auth!r})"
        )


def _refuse_openai_only(**settings: object) -> None:
    for name, value in settings.items():
        if value is not None:
            raise ConfigurationError(
                f"{name}= is an OpenAI setting with no meaning for Yandex AI Studio: "
                "leave it out (credentials are api_key= or iam_token=)"
            )


class YandexOpenAI(  # type: ignore[misc]
    _YandexClient[httpx2.Client, TokenProvider], openai.OpenAI
):
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
    client's. ``client.yandex`` is the resolved configuration.
    """

    @override
    def _credential(self, config: YandexConfig) -> str | Callable[[], str]:
        static = config._static_credential()
        if static is not None:
            return static
        source = config._token_source()

        def fresh_token() -> str:
            value = source()
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise ConfigurationError(
                    "the iam_token callable is async: use AsyncYandexOpenAI, "
                    "or pass a plain function to YandexOpenAI"
                )
            return config._accept_token(value)

        return fresh_token

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


class AsyncYandexOpenAI(  # type: ignore[misc]
    _YandexClient[httpx2.AsyncClient, AsyncTokenProvider], openai.AsyncOpenAI
):
    """``openai.AsyncOpenAI`` for Yandex AI Studio; see :class:`YandexOpenAI`.

    ``iam_token=`` may also be an ``async`` function::

        client = AsyncYandexOpenAI(iam_token=fetch_token, folder_id="b1g...")
        response = await client.responses.create(model="yandexgpt", input="Hi")
    """

    @override
    def _credential(self, config: YandexConfig) -> str | Callable[[], Awaitable[str]]:
        static = config._static_credential()
        if static is not None:
            return static
        source = config._token_source()

        async def fresh_token() -> str:
            value = source()
            if inspect.isawaitable(value):
                value = await value
            return config._accept_token(value)

        return fresh_token

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
