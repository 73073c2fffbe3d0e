"""A client's Yandex configuration: resolved from arguments and ``YC_*`` settings, checked once.

:class:`YandexConfig` is the read-only view every client offers as ``client.yandex``::

    client = YandexOpenAI()
    client.yandex.folder_id                     # 'b1g...'
    client.yandex.foundation_models_headers()   # for completionAsync / operations
    client.yandex.redact(str(error))            # the same text, with no secret in it

It holds the client's credentials but never shows them: not in its repr, not in any
error raised while checking them (a bad value is named by its variable or keyword).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx2
from pydantic import SecretStr, ValidationError

from .auth import (
    DEFAULT_IAM_ENDPOINT,
    ApiKey,
    AuthKind,
    Credentials,
    EnvToken,
    IamToken,
    MetadataService,
    ServiceAccountKey,
    TokenFunction,
    _header_safe,
)
from .errors import ConfigurationError
from .settings import YandexSettings

__all__ = ["AuthKind", "YandexConfig", "given_credentials", "resolve_config"]


_FOLDER_ID = re.compile(r"[a-z0-9]{1,50}")
"""Folder ids are lowercase letters and digits (``b1g...``), at most 50 of them."""

_NO_CREDENTIALS = Credentials()


@dataclass(frozen=True, repr=False)
class YandexConfig:
    """What a client was configured with; ``client.yandex`` (read-only, prints no secret).

    >>> config = YandexOpenAI(api_key="AQVN-key", folder_id="b1g").yandex
    >>> config.folder_id, config.auth
    ('b1g', 'api_key')
    >>> config.foundation_models_headers()
    {'x-folder-id': 'b1g', 'Authorization': 'Api-Key AQVN-key'}
    >>> config.redact("Illegal header value b'Api-Key AQVN-key'")
    "Illegal header value b'Api-Key ***'"
    """

    folder_id: str
    """The folder requests are billed to, as sent in ``OpenAI-Project`` and ``x-folder-id``."""
    base_url: str
    """The OpenAI-compatible endpoint (``YC_BASE_URL``)."""
    llm_base_url: str
    """The host of the ``completionAsync`` API (``YC_LLM_BASE_URL``)."""
    operation_base_url: str
    """The host polled for operations (``YC_OPERATION_BASE_URL``)."""
    data_logging: bool = True
    """``False``: every request asks the service not to log its data (``YC_DATA_LOGGING``)."""
    _credentials: Credentials = field(default_factory=lambda: _NO_CREDENTIALS)

    @property
    def auth(self) -> AuthKind:
        """``"api_key"`` or ``"iam_token"`` (fixed, from a callable or from a provider)."""
        return self._credentials.kind

    @property
    def credentials(self) -> Credentials:
        """The provider of the ``Authorization`` header (its repr shows no secret)."""
        return self._credentials

    def foundation_models_headers(self) -> dict[str, str]:
        """Headers of the ``completionAsync`` and operations APIs.

        ``x-folder-id``, and ``Authorization: Api-Key <key>`` for an API key; with an
        IAM token nothing more, so that the client's own ``Bearer`` header applies.
        """
        headers = {"x-folder-id": self.folder_id}
        authorization = self._credentials.foundation_models_authorization()
        if authorization is not None:
            headers["Authorization"] = authorization
        return headers

    def request_headers(self) -> dict[str, str]:
        """The headers every request gets: a fresh ``x-client-request-id``, and
        ``x-data-logging-enabled: false`` when data logging is off."""
        headers = {"x-client-request-id": str(uuid.uuid4())}
        if not self.data_logging:
            headers["x-data-logging-enabled"] = "false"
        return headers

    def redact(self, text: str) -> str:
        """``text`` with every secret of the client replaced by ``***``.

        Use it on anything shown to a user: error messages, server answers, logs.
        """
        return self._credentials.redact(text)

    def _updated(
        self,
        *,
        api_key: str | None = None,
        iam_token: str | Callable[[], Any] | None = None,
        credentials: Credentials | None = None,
        folder_id: str | None = None,
        project: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
        data_logging: bool | None = None,
    ) -> YandexConfig:
        """This configuration with the given values in place of its own, checked alike.

        A new credential (either kind) replaces the old one; nothing is read from the
        environment.
        """
        if folder_id is None and project is None:
            folder_id = self.folder_id
        place = _place(
            folder_id=folder_id,
            project=project,
            base_url=self.base_url if base_url is None else base_url,
            llm_base_url=self.llm_base_url if llm_base_url is None else llm_base_url,
            operation_base_url=(
                self.operation_base_url if operation_base_url is None else operation_base_url
            ),
            settings=None,
        )
        logging_on = self.data_logging if data_logging is None else data_logging
        if api_key is None and iam_token is None and credentials is None:
            return place.config(self._credentials, logging_on)
        given = given_credentials(api_key, iam_token, credentials)
        assert given is not None
        return place.config(given, logging_on)

    def __repr__(self) -> str:
        return (
            f"YandexConfig(folder_id={self.folder_id!r}, base_url={self.base_url!r}, "
            f"llm_base_url={self.llm_base_url!r}, "
            f"operation_base_url={self.operation_base_url!r}, auth={self.auth!r}, "
            f"credentials={self._credentials!r})"
        )


def _folder(value: str, source: str) -> str:
    value = value.strip()
    if not _FOLDER_ID.fullmatch(value):
        raise ConfigurationError(
            f"{source} {value!r} is not a folder id: a folder id is lowercase letters and "
            "digits (b1g...), as shown on the folder's page in the Yandex Cloud console"
        )
    return value


def _url(value: str | httpx2.URL, source: str, example: str) -> str:
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not host:
        shown = "" if "@" in text else f" (got {text!r})"
        raise ConfigurationError(
            f"{source} must be an http:// or https:// URL with a host, such as {example}{shown}"
        )
    return text


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def resolve_config(
    *,
    api_key: str | None = None,
    iam_token: str | Callable[[], Any] | None = None,
    folder_id: str | None,
    project: str | None,
    base_url: str | httpx2.URL | None,
    llm_base_url: str | None,
    operation_base_url: str | None,
    settings: YandexSettings | None,
    credentials: Credentials | None = None,
    iam_endpoint: str | None = None,
    data_logging: bool | None = None,
) -> YandexConfig:
    """Explicit arguments first, then ``settings`` (environment, then ``.env``).

    ``settings`` is read from the environment when it is ``None`` and a value is missing.
    """
    given = given_credentials(api_key, iam_token, credentials)
    if settings is None and (
        given is None
        or data_logging is None
        or (folder_id is None and project is None)
        or None in (base_url, llm_base_url, operation_base_url)
    ):
        settings = _read_settings()
    if given is None:
        assert settings is not None
        given = _from_settings(settings, iam_endpoint)
    if data_logging is None:
        data_logging = True if settings is None else settings.data_logging
    place = _place(
        folder_id=folder_id,
        project=project,
        base_url=base_url,
        llm_base_url=llm_base_url,
        operation_base_url=operation_base_url,
        settings=settings,
    )
    return place.config(given, data_logging)


def _read_settings() -> YandexSettings:
    """``YC_*`` settings; a value that cannot be used is named, and never shown."""
    try:
        return YandexSettings()
    except ValidationError as error:
        problems = [
            f"YC_{'_'.join(map(str, detail['loc'])).upper()} ({detail['msg'].lower()})"
            for detail in error.errors()
        ]
    raise ConfigurationError(
        f"cannot use {', '.join(problems)}, in the environment or .env: correct or unset it "
        "(YC_DATA_LOGGING takes true or false)"
    )


_WAYS = (
    "set YC_API_KEY or YC_IAM_TOKEN, or YC_SERVICE_ACCOUNT_KEY_FILE (an authorized key's "
    "JSON file), or YC_METADATA_ADDR (the metadata service of a VM or function, such as "
    "169.254.169.254), or YC_TOKEN (in the environment or a .env file); or pass "
    "credentials= (a provider of yc_responses.auth), api_key= or iam_token="
)
"""Every way to give a client credentials, for error messages."""


def given_credentials(
    api_key: str | None,
    iam_token: str | Callable[[], Any] | None,
    credentials: Credentials | None,
) -> Credentials | None:
    """The one credential given as an argument, as a provider; ``None`` if none was."""
    given = [
        name
        for name, value in (
            ("api_key", api_key),
            ("iam_token", iam_token),
            ("credentials", credentials),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigurationError(
            f"{' and '.join(f'{name}=' for name in given)} were given: pass only one of them "
            "(an API key, an IAM token, or a provider)"
        )
    if credentials is not None:
        if not isinstance(credentials, Credentials):
            raise ConfigurationError(
                f"credentials= must be a provider of yc_responses.auth (ServiceAccountKey, "
                f"MetadataService, ...), not {type(credentials).__name__}"
            )
        return credentials
    if callable(iam_token):
        return TokenFunction(iam_token)
    if isinstance(api_key, str):
        return _or_nothing(ApiKey, _header_safe(api_key, "api_key="))
    if isinstance(iam_token, str):
        return _or_nothing(IamToken, _header_safe(iam_token, "iam_token="))
    return None


def _or_nothing(make: Callable[[str], Credentials], value: str) -> Credentials:
    if not value:
        raise ConfigurationError(f"no credentials for Yandex AI Studio: {_WAYS}")
    return make(value)


def _from_settings(settings: YandexSettings, iam_endpoint: str | None) -> Credentials:
    """Credentials from ``YC_*`` settings, in the documented order.

    ``YC_API_KEY`` or ``YC_IAM_TOKEN``, then ``YC_SERVICE_ACCOUNT_KEY_FILE``, then the
    metadata service (only when ``YC_METADATA_ADDR`` is set), then ``YC_TOKEN``.
    """
    api_key, iam_token = _secret(settings.api_key), _secret(settings.iam_token)
    if api_key and iam_token:
        raise ConfigurationError(
            "both YC_API_KEY and YC_IAM_TOKEN are set (in the environment or .env): "
            "unset one of them, or pass api_key= or iam_token= explicitly"
        )
    if api_key:
        return ApiKey(_header_safe(api_key, "YC_API_KEY"))
    if iam_token:
        return IamToken(_header_safe(iam_token, "YC_IAM_TOKEN"))
    endpoint = iam_endpoint or settings.iam_endpoint
    _url(endpoint, "iam_endpoint=" if iam_endpoint else "YC_IAM_ENDPOINT", DEFAULT_IAM_ENDPOINT)
    if settings.service_account_key_file:
        return ServiceAccountKey(settings.service_account_key_file, iam_endpoint=endpoint)
    if settings.metadata_addr:
        return MetadataService(settings.metadata_addr)
    if settings.token is not None and settings.token.get_secret_value():
        return EnvToken()
    raise ConfigurationError(f"no credentials for Yandex AI Studio: {_WAYS}")


def _place(
    *,
    folder_id: str | None,
    project: str | None,
    base_url: str | httpx2.URL | None,
    llm_base_url: str | None,
    operation_base_url: str | None,
    settings: YandexSettings | None,
) -> _Place:
    """Where requests go: the folder and the three base URLs, checked."""
    if folder_id is not None and project is not None and folder_id != project:
        raise ConfigurationError(
            "folder_id= and project= name different folders: pass only folder_id="
        )
    folder_source = "folder_id="
    if folder_id is None:
        folder_id, folder_source = project, "project="
    if folder_id is None and settings is not None:
        folder_id, folder_source = settings.folder_id, "YC_FOLDER_ID"
    if not folder_id or not folder_id.strip():
        raise ConfigurationError(
            "no folder for Yandex AI Studio: set YC_FOLDER_ID "
            "(in the environment or a .env file), or pass folder_id="
        )
    urls: dict[str, str] = {}
    given = {"base_url": base_url, "llm_base_url": llm_base_url}
    given["operation_base_url"] = operation_base_url
    for name, value in given.items():
        source = f"{name}="
        if value is None and settings is not None:
            value, source = getattr(settings, name), f"YC_{name.upper()}"
        if value is None:
            raise ConfigurationError(f"no {name}: pass {name}= or set YC_{name.upper()}")
        urls[name] = _url(value, source, YandexSettings.model_fields[name].default)
    return _Place(_folder(folder_id, folder_source), **urls)


class _Place(NamedTuple):
    folder_id: str
    base_url: str
    llm_base_url: str
    operation_base_url: str

    def config(self, credentials: Credentials, data_logging: bool) -> YandexConfig:
        return YandexConfig(*self, data_logging=data_logging, _credentials=credentials)
