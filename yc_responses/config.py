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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

import httpx2
from pydantic import SecretStr

from .errors import ConfigurationError
from .settings import YandexSettings

__all__ = ["AuthKind", "YandexConfig", "resolve_config"]

AuthKind = Literal["api_key", "iam_token"]
"""How a client authenticates: ``Api-Key`` / ``Bearer`` with a key, or an IAM token."""

_FOLDER_ID = re.compile(r"[a-z0-9]{1,50}")
"""Folder ids are lowercase letters and digits (``b1g...``), at most 50 of them."""

_SHORTEST_REDACTED = 4
"""Shorter values are not blanked out of text: they would blank ordinary words."""

_TOKENS_REMEMBERED = 8
"""How many tokens of an ``iam_token`` callable :meth:`YandexConfig.redact` still knows."""


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
    _api_key: str | None = None
    _iam_token: str | Callable[[], Any] | None = None
    _issued: deque[str] = field(
        default_factory=lambda: deque(maxlen=_TOKENS_REMEMBERED), compare=False
    )
    """The last tokens an ``iam_token`` callable returned, so that they can be redacted."""

    @property
    def auth(self) -> AuthKind:
        """``"api_key"`` or ``"iam_token"`` (a string or a callable)."""
        return "api_key" if self._api_key is not None else "iam_token"

    def foundation_models_headers(self) -> dict[str, str]:
        """Headers of the ``completionAsync`` and operations APIs.

        ``x-folder-id``, and ``Authorization: Api-Key <key>`` for an API key; with an
        IAM token nothing more, so that the client's own ``Bearer`` header applies.
        """
        headers = {"x-folder-id": self.folder_id}
        if self._api_key is not None:
            headers["Authorization"] = f"Api-Key {self._api_key}"
        return headers

    def redact(self, text: str) -> str:
        """``text`` with every secret of the client replaced by ``***``.

        Use it on anything shown to a user: error messages, server answers, logs.
        """
        secrets = [self._api_key, self._iam_token, *self._issued]
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= _SHORTEST_REDACTED:
                text = text.replace(secret, "***")
        return text

    def _static_credential(self) -> str | None:
        """The API key or the IAM token string; ``None`` when the token is a callable."""
        if self._api_key is not None:
            return self._api_key
        return self._iam_token if isinstance(self._iam_token, str) else None

    def _token_source(self) -> Callable[[], Any]:
        """The ``iam_token`` callable (only when :meth:`_static_credential` is ``None``)."""
        assert callable(self._iam_token)
        return self._iam_token

    def _accept_token(self, value: object) -> str:
        """Check a token an ``iam_token`` callable returned; remember it for :meth:`redact`."""
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"the iam_token callable returned {type(value).__name__}, not a token: "
                "it must return the IAM token as a non-empty str"
            )
        token = _header_safe(value, "the token returned by the iam_token callable")
        self._issued.append(token)
        return token

    def _updated(
        self,
        *,
        api_key: str | None = None,
        iam_token: str | Callable[[], Any] | None = None,
        folder_id: str | None = None,
        project: str | None = None,
        base_url: str | httpx2.URL | None = None,
        llm_base_url: str | None = None,
        operation_base_url: str | None = None,
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
        if api_key is None and iam_token is None:
            return place.config(self._api_key, self._iam_token, self._issued)
        return place.config(*_credential(api_key=api_key, iam_token=iam_token, settings=None))

    def __repr__(self) -> str:
        return (
            f"YandexConfig(folder_id={self.folder_id!r}, base_url={self.base_url!r}, "
            f"llm_base_url={self.llm_base_url!r}, "
            f"operation_base_url={self.operation_base_url!r}, auth={self.auth!r})"
        )


def _header_safe(value: str, source: str) -> str:
    """``value`` without surrounding whitespace, refused if it cannot go into a header.

    The message names ``source`` and never the value; no exception is chained to it.
    """
    value = value.strip()
    if not (value.isascii() and value.isprintable()):
        raise ConfigurationError(
            f"{source} cannot be sent in an HTTP header: it holds a control or non-ASCII "
            "character. Copy the secret again, whole and with nothing around it"
        )
    return value


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
    api_key: str | None,
    iam_token: str | Callable[[], Any] | None,
    folder_id: str | None,
    project: str | None,
    base_url: str | httpx2.URL | None,
    llm_base_url: str | None,
    operation_base_url: str | None,
    settings: YandexSettings | None,
) -> YandexConfig:
    """Explicit arguments first, then ``settings`` (environment, then ``.env``).

    ``settings`` is read from the environment when it is ``None`` and a value is missing.
    """
    if settings is None and (
        (api_key is None and iam_token is None)
        or (folder_id is None and project is None)
        or None in (base_url, llm_base_url, operation_base_url)
    ):
        settings = YandexSettings()
    api_key, iam_token = _credential(api_key=api_key, iam_token=iam_token, settings=settings)
    place = _place(
        folder_id=folder_id,
        project=project,
        base_url=base_url,
        llm_base_url=llm_base_url,
        operation_base_url=operation_base_url,
        settings=settings,
    )
    return place.config(api_key, iam_token)


def _credential(
    *,
    api_key: str | None,
    iam_token: str | Callable[[], Any] | None,
    settings: YandexSettings | None,
) -> tuple[str | None, str | Callable[[], Any] | None]:
    """The one credential, cleaned: ``(api_key, None)`` or ``(None, iam_token)``."""
    if api_key is not None and iam_token is not None:
        raise ConfigurationError(
            "both api_key= and iam_token= were given: pass only one of them "
            "(an API key, or an IAM token)"
        )
    key_source, token_source = "api_key=", "iam_token="
    if api_key is None and iam_token is None and settings is not None:
        api_key, iam_token = _secret(settings.api_key), _secret(settings.iam_token)
        key_source, token_source = "YC_API_KEY", "YC_IAM_TOKEN"
        if api_key is not None and iam_token is not None:
            raise ConfigurationError(
                "both YC_API_KEY and YC_IAM_TOKEN are set (in the environment or .env): "
                "unset one of them, or pass api_key= or iam_token= explicitly"
            )
    if isinstance(api_key, str):
        api_key = _header_safe(api_key, key_source) or None
    if isinstance(iam_token, str):
        iam_token = _header_safe(iam_token, token_source) or None
    if not api_key and not iam_token:
        raise ConfigurationError(
            "no credentials for Yandex AI Studio: set YC_API_KEY or YC_IAM_TOKEN "
            "(in the environment or a .env file), or pass api_key= or iam_token="
        )
    return api_key, iam_token


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

    def config(
        self,
        api_key: str | None,
        iam_token: str | Callable[[], Any] | None,
        issued: deque[str] | None = None,
    ) -> YandexConfig:
        return YandexConfig(
            *self,
            _api_key=api_key,
            _iam_token=iam_token,
            _issued=deque(maxlen=_TOKENS_REMEMBERED) if issued is None else issued,
        )
