"""``YandexOpenAI`` and ``AsyncYandexOpenAI``: the official clients, set up for Yandex AI Studio.

Both are real subclasses of ``openai.OpenAI`` / ``openai.AsyncOpenAI``: every resource
of the official client (responses, chat.completions, embeddings, models, ...) works
unchanged, and HTTP errors keep the official classes. What changes:

* base URL, folder (sent as ``OpenAI-Project``) and credentials come from arguments,
  ``YC_*`` variables or a ``.env`` file, never from ``OPENAI_*`` variables;
* a short model name is expanded to a ``gpt://<folder>/...`` URI in every request;
* the ``Authorization`` header comes from a credentials provider
  (:mod:`yc_responses.auth`), asked before every request attempt; a ``401`` makes it
  renew its token once and the request is sent again. ``client.api_key`` stays
  empty: code that copies it elsewhere (tracing exporters) gets no Yandex secret;
* every request carries a fresh ``x-client-request-id`` (and
  ``x-data-logging-enabled: false`` with ``data_logging=False``);
* ``embeddings.create`` asks for ``encoding_format="float"`` unless told otherwise.

The Yandex part is written once, in ``_YandexClient`` (as the official package writes
its Azure part once in ``BaseAzureClient``); the two classes add only what differs
between sync and async: how the provider is asked, and how a request is sent again.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx2
import openai
from openai import DEFAULT_MAX_RETRIES, NOT_GIVEN, NotGiven, Omit, Timeout
from openai._models import FinalRequestOptions
from openai._types import HttpxSendArgs
from openai.resources.embeddings import AsyncEmbeddings, Embeddings
from openai.types import CreateEmbeddingResponse
from typing_extensions import Self, TypedDict, Unpack, override

from .auth import Credentials
from .config import YandexConfig, given_credentials, resolve_config
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


def _needs_authorization(options: FinalRequestOptions) -> bool:
    """Whether the caller left ``Authorization`` to the client (no header of its own)."""
    headers = options.headers if isinstance(options.headers, Mapping) else {}
    return not any(name.lower() == "authorization" for name in headers)


def _add_headers(
    options: FinalRequestOptions, config: YandexConfig, authorization: str | None
) -> None:
    """The request hook's headers: the provider's ``Authorization`` and the request id.

    The caller's own headers win; a new mapping replaces the old one, so that retries
    and the caller's dict stay untouched.
    """
    given = options.headers if isinstance(options.headers, Mapping) else {}
    added: dict[str, Any] = config.request_headers()
    if authorization is not None:
        added["Authorization"] = authorization
    lowered = {name.lower() for name in given}
    options.headers = {
        **{name: value for name, value in added.items() if name.lower() not in lowered},
        **given,
    }


def _should_retry(
    response: httpx2.Response, request: httpx2.Request, credentials: Credentials
) -> bool:
    """After a ``401`` to a header of the provider: forget it; whether to try once more."""
    if response.status_code != 401:
        return False
    authorization = request.headers.get("Authorization")
    if authorization is None or not isinstance(request.stream, httpx2.ByteStream):
        return False
    return credentials.gave(authorization) and credentials.invalidate(authorization)


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
    credentials: Credentials | None
    data_logging: bool | None
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
        credentials: Credentials | None = None,
        folder_id: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        iam_endpoint: str | None = None,
        data_logging: bool | None = None,
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
            token = cast("str | Callable[[], Any] | None", iam_token)
            _config = resolve_config(
                credentials=given_credentials(api_key, token, credentials),
                folder_id=folder_id,
                project=project,
                base_url=base_url,
                llm_base_url=llm_base_url,
                operation_base_url=operation_base_url,
                settings=settings,
                iam_endpoint=iam_endpoint,
                data_logging=data_logging,
            )
        self._config = _config
        self.folder_id = _config.folder_id
        official = self._official
        # No secret for the official client: the provider writes each request's
        # Authorization header, and ``client.api_key`` stays empty.
        cast(Any, super()).__init__(
            api_key="",
            _enforce_credentials=False,
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

    def _yandex_options(self, options: FinalRequestOptions, authorization: str | None) -> None:
        """The request hook, both clients: expand the model name, add the headers."""
        _expand_model(options, self.folder_id)
        _add_headers(options, self._config, authorization)

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
                "leave it out (credentials are credentials=, api_key= or iam_token=)"
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
    attempt) or ``credentials=`` (a provider of :mod:`yc_responses.auth`, such as
    ``ServiceAccountKey("key.json")``), ``folder_id=`` (``project=`` is accepted too,
    as in the official client) and optionally ``base_url=``, ``iam_endpoint=`` (for
    ``YC_SERVICE_ACCOUNT_KEY_FILE``) and ``data_logging=False``. Every other keyword
    is the official client's. ``client.yandex`` is the resolved configuration.
    """

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

    @cached_property
    def embeddings(self) -> Embeddings:
        """The official embeddings, asking for float vectors unless told otherwise."""
        return _FloatEmbeddings(self)

    @override
    def _prepare_options(self, options: FinalRequestOptions) -> FinalRequestOptions:
        needed = _needs_authorization(options)
        self._yandex_options(options, self._config.credentials.authorization() if needed else None)
        return super()._prepare_options(options)

    @override
    def _send_request(
        self, request: httpx2.Request, *, stream: bool, **kwargs: Unpack[HttpxSendArgs]
    ) -> httpx2.Response:
        response = super()._send_request(request, stream=stream, **kwargs)
        credentials = self._config.credentials
        if not _should_retry(response, request, credentials):
            return response
        response.close()
        request.headers["Authorization"] = credentials.authorization()
        return super()._send_request(request, stream=stream, **kwargs)


class AsyncYandexOpenAI(  # type: ignore[misc]
    _YandexClient[httpx2.AsyncClient, AsyncTokenProvider], openai.AsyncOpenAI
):
    """``openai.AsyncOpenAI`` for Yandex AI Studio; see :class:`YandexOpenAI`.

    ``iam_token=`` may also be an ``async`` function::

        client = AsyncYandexOpenAI(iam_token=fetch_token, folder_id="b1g...")
        response = await client.responses.create(model="yandexgpt", input="Hi")
    """

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
        authorization = None
        if _needs_authorization(options):
            authorization = await self._config.credentials.async_authorization()
        self._yandex_options(options, authorization)
        return await super()._prepare_options(options)

    @override
    async def _send_request(
        self, request: httpx2.Request, *, stream: bool, **kwargs: Unpack[HttpxSendArgs]
    ) -> httpx2.Response:
        response = await super()._send_request(request, stream=stream, **kwargs)
        credentials = self._config.credentials
        if not _should_retry(response, request, credentials):
            return response
        await response.aclose()
        request.headers["Authorization"] = await credentials.async_authorization()
        return await super()._send_request(request, stream=stream, **kwargs)

    @cached_property
    def embeddings(self) -> AsyncEmbeddings:
        """The official embeddings, asking for float vectors unless told otherwise."""
        return _AsyncFloatEmbeddings(self)


def _float_by_default(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Yandex documents float vectors only; the official default asks for base64."""
    if isinstance(kwargs.get("encoding_format", NOT_GIVEN), (NotGiven, Omit)):
        kwargs["encoding_format"] = "float"
    return kwargs


class _FloatEmbeddings(Embeddings):
    @override
    def create(self, *args: Any, **kwargs: Any) -> CreateEmbeddingResponse:
        return super().create(*args, **_float_by_default(kwargs))


class _AsyncFloatEmbeddings(AsyncEmbeddings):
    @override
    async def create(self, *args: Any, **kwargs: Any) -> CreateEmbeddingResponse:
        return await super().create(*args, **_float_by_default(kwargs))
