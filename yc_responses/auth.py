"""Credentials: where a client's ``Authorization`` header comes from, and when it is renewed.

Pass a provider as ``credentials=`` to either client::

    from yc_responses import YandexOpenAI
    from yc_responses.auth import ServiceAccountKey

    client = YandexOpenAI(credentials=ServiceAccountKey("key.json"), folder_id="b1g...")

Providers that exchange something for an IAM token (:class:`ServiceAccountKey`,
:class:`MetadataService`, :class:`YandexCLI`) cache it and get a new one before it
expires: after three quarters of the token's own lifetime, and at least every hour.
One refresh runs at a time, across threads and asyncio tasks; requests keep using the
old token while it is still far from expiry, and while renewing it fails (IAM down),
until 90 % of its lifetime has passed. After a ``401`` the client asks for a
new token once and sends the request again.

No provider shows a secret: not in its repr, not in an error, not in a log record.
Token refreshes are logged at DEBUG on the ``yc_responses`` logger.
"""

from __future__ import annotations

import calendar
import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
import httpx2

from .clock import Clock
from .errors import ConfigurationError
from .settings import DEFAULT_IAM_ENDPOINT

__all__ = [
    "DEFAULT_IAM_ENDPOINT",
    "DEFAULT_METADATA_ADDR",
    "ApiKey",
    "Credentials",
    "CredentialsError",
    "EnvToken",
    "IamToken",
    "MetadataService",
    "RefreshingCredentials",
    "ServiceAccountKey",
    "TokenFunction",
    "YandexCLI",
    "parse_rfc3339",
]

logger = logging.getLogger("yc_responses")


DEFAULT_METADATA_ADDR = "169.254.169.254"
"""The metadata service of VMs and serverless functions (``YC_METADATA_ADDR``)."""

METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105

JWT_AUDIENCE = DEFAULT_IAM_ENDPOINT
"""The ``aud`` claim IAM expects, whatever endpoint the JWT is sent to."""

HOUR = 3600.0
"""Tokens are renewed at least this often, as Yandex recommends."""

_REFRESH_SHARE = 0.75
"""A token is renewed after this share of its lifetime (at the latest after an hour)."""

_NEAR_EXPIRY_SHARE = 0.9
"""Past this share of its lifetime a token is not used while another thread renews it."""

_RETRY_SECONDS = 60.0
"""After a failed renewal, the token in hand is used this long before the next try."""

_ASSUMED_LIFETIME = 12 * HOUR
"""The lifetime of a token that came with none (``yc iam create-token``)."""

_REMEMBERED = 8
"""How many past tokens a provider still redacts."""

_SHORTEST_REDACTED = 4

_EXTRA_HINT = "pip install 'yc-responses[auth]'"

AuthKind = Literal["api_key", "iam_token"]


class CredentialsError(ConfigurationError):
    """A provider could not get a token; the message names it and what to check.

    It never holds the key or the token, and it chains no lower-level exception.
    """


class Credentials:
    """The base of every provider: the ``Authorization`` header of the next request.

    Subclass it to bring your own source; override :meth:`authorization` (and
    :meth:`async_authorization` if it does I/O), and :meth:`invalidate` if a new
    value can be had after a ``401``.
    """

    kind: AuthKind = "iam_token"
    """``"api_key"`` or ``"iam_token"``: what the header carries."""

    def authorization(self) -> str:
        """The header's value, such as ``"Bearer t1.9eu..."``."""
        raise NotImplementedError

    async def async_authorization(self) -> str:
        """:meth:`authorization` for async clients; by default the same call."""
        return self.authorization()

    def invalidate(self, authorization: str) -> bool:
        """The service refused ``authorization`` (a 401): forget it.

        Returns ``True`` when asking again may give another value (worth one retry).
        """
        return False

    def gave(self, authorization: str) -> bool:
        """Whether ``authorization`` is a header value this provider gave (not the caller's)."""
        secret = authorization.partition(" ")[2]
        return bool(secret) and secret in self._secrets()

    def foundation_models_authorization(self) -> str | None:
        """The ``completionAsync`` API's own header value, if it differs (API keys)."""
        return None

    def _secrets(self) -> Iterable[str]:
        """Every secret this provider knows, so that text can be cleaned of them."""
        return ()

    def redact(self, text: str) -> str:
        """``text`` with every secret of this provider replaced by ``***``."""
        for secret in self._secrets():
            if len(secret) >= _SHORTEST_REDACTED:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _header_safe(value: str, source: str) -> str:
    """``value`` stripped, refused (naming ``source``, never the value) if not header-safe."""
    value = value.strip()
    if not (value.isascii() and value.isprintable()):
        raise ConfigurationError(
            f"{source} cannot be sent in an HTTP header: it holds a control or non-ASCII "
            "character. Copy the secret again, whole and with nothing around it"
        )
    return value


class ApiKey(Credentials):
    """A service account's API key, sent as ``Bearer <key>`` (``YC_API_KEY``).

    >>> ApiKey("AQVN-secret")
    ApiKey()
    """

    kind: AuthKind = "api_key"

    def __init__(self, key: str) -> None:
        self._key = _header_safe(key, "the API key")
        if not self._key:
            raise ConfigurationError("the API key is empty: pass the key itself")

    def authorization(self) -> str:
        return f"Bearer {self._key}"

    def _secrets(self) -> Iterable[str]:
        return (self._key,)

    def foundation_models_authorization(self) -> str | None:
        return f"Api-Key {self._key}"


class IamToken(Credentials):
    """A fixed IAM token (``YC_IAM_TOKEN``); it is never renewed: it expires within 12 h."""

    def __init__(self, token: str) -> None:
        self._token = _header_safe(token, "the IAM token")
        if not self._token:
            raise ConfigurationError("the IAM token is empty: pass the token itself")

    def authorization(self) -> str:
        return f"Bearer {self._token}"

    def _secrets(self) -> Iterable[str]:
        return (self._token,)


class TokenFunction(Credentials):
    """A function returning an IAM token, called before every request attempt.

    It may be ``async`` on :class:`~yc_responses.AsyncYandexOpenAI`. This is what
    ``iam_token=<callable>`` becomes.
    """

    def __init__(self, function: Callable[[], str | Awaitable[str]]) -> None:
        self._function = function
        self._issued: deque[str] = deque(maxlen=_REMEMBERED)

    def authorization(self) -> str:
        value = self._function()
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()
            raise ConfigurationError(
                "the iam_token callable is async: use AsyncYandexOpenAI, "
                "or pass a plain function to YandexOpenAI"
            )
        return f"Bearer {self._accept(value)}"

    async def async_authorization(self) -> str:
        value = self._function()
        if inspect.isawaitable(value):
            value = await value
        return f"Bearer {self._accept(value)}"

    def invalidate(self, authorization: str) -> bool:
        return True

    def _secrets(self) -> Iterable[str]:
        return tuple(self._issued)

    def _accept(self, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(
                f"the iam_token callable returned {type(value).__name__}, not a token: "
                "it must return the IAM token as a non-empty str"
            )
        token = _header_safe(value, "the token returned by the iam_token callable")
        self._issued.append(token)
        return token


class EnvToken(Credentials):
    """An IAM token re-read from the environment (``YC_TOKEN``) before every request.

    DataSphere keeps ``YC_TOKEN`` fresh; this provider only reads it.
    """

    def __init__(self, variable: str = "YC_TOKEN") -> None:
        self.variable = variable
        self._issued: deque[str] = deque(maxlen=_REMEMBERED)

    def authorization(self) -> str:
        value = os.environ.get(self.variable, "").strip()
        if not value:
            raise CredentialsError(
                f"EnvToken: {self.variable} is not set or empty: set it to an IAM token, "
                "or choose other credentials"
            )
        token = _header_safe(value, self.variable)
        if token not in self._issued:
            self._issued.append(token)
        return f"Bearer {token}"

    def invalidate(self, authorization: str) -> bool:
        return True

    def _secrets(self) -> Iterable[str]:
        return tuple(self._issued)

    def __repr__(self) -> str:
        return f"EnvToken(variable={self.variable!r})"


# --- tokens that are fetched, cached and renewed ------------------------------------------


@dataclass(frozen=True, repr=False)
class _Cached:
    token: str
    refresh_at: float
    unusable_at: float
    expires_at: float


def _schedule(token: str, sent: float, lifetime: float) -> _Cached:
    """When a token fetched at ``sent`` (clock seconds) is renewed, and when it expires."""
    return _Cached(
        token,
        refresh_at=sent + min(HOUR, lifetime * _REFRESH_SHARE),
        unusable_at=sent + lifetime * _NEAR_EXPIRY_SHARE,
        expires_at=sent + lifetime,
    )


_Due = Literal["fresh", "renew", "renew and wait"]


def _due(cached: _Cached | None, now: float) -> _Due:
    """What a request must do about the cached token at ``now``.

    ``"fresh"``: send it. ``"renew"``: renew it, unless another thread is already at
    it (then send it). ``"renew and wait"``: there is none fit to send; wait for one.
    """
    if cached is not None and now < cached.refresh_at:
        return "fresh"
    if cached is not None and now < cached.unusable_at:
        return "renew"
    return "renew and wait"


class RefreshingCredentials(Credentials):
    """A provider whose tokens are fetched, cached and renewed before they expire.

    Subclasses implement :meth:`fetch`; this class decides when to call it, one call
    at a time (a lock shared by threads; async clients wait for it in a worker thread).

    ``clock``: monotonic seconds (default :func:`time.monotonic`); tests pass the
    emulator's :class:`~yc_responses.clock.ManualClock`. :meth:`wall_time` follows it.
    """

    def __init__(self, *, clock: Clock | None = None, timeout: float = 30.0) -> None:
        self._clock: Clock = clock if clock is not None else _default_clock
        self._t0 = self._clock()
        self._wall0 = time.time()
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cached: _Cached | None = None
        self._issued: deque[str] = deque(maxlen=_REMEMBERED)
        self.refreshes = 0
        """How many tokens this provider fetched."""

    def fetch(self) -> tuple[str, float]:
        """Get a new token: ``(token, lifetime in seconds from now)``."""
        raise NotImplementedError

    def wall_time(self) -> float:
        """Seconds since the epoch, moving with ``clock``."""
        return self._wall0 + (self._clock() - self._t0)

    def token(self) -> str:
        """The cached token, renewed first when :func:`_due` says so (blocking)."""
        cached = self._cached
        due = _due(cached, self._clock())
        if due == "fresh":
            assert cached is not None
            return cached.token
        if not self._lock.acquire(blocking=due == "renew and wait"):
            assert cached is not None
            return cached.token  # another thread is renewing it; this one is still good
        try:
            cached = self._cached
            if _due(cached, self._clock()) == "fresh":
                assert cached is not None
                return cached.token
            sent = self._clock()
            try:
                token, lifetime = self.fetch()
            except CredentialsError:
                if cached is None or sent >= cached.unusable_at:
                    raise
                # the token in hand is still good: keep it, and try again in a while
                retry_at = min(cached.unusable_at, sent + _RETRY_SECONDS)
                self._cached = replace(cached, refresh_at=retry_at)
                logger.debug("%r: renewing the IAM token failed; keeping the current one", self)
                return cached.token
            if lifetime <= 0:
                raise CredentialsError(
                    f"{self!r} got a token that has already expired: check this machine's "
                    "clock (it must be in sync with the real time)"
                )
            token = _header_safe(token, f"the token from {self!r}")
            self._issued.append(token)
            self._cached = _schedule(token, sent, lifetime)
            self.refreshes += 1
            logger.debug(
                "%r: got a new IAM token, valid for %.0f s, renewed in %.0f s",
                self,
                lifetime,
                self._cached.refresh_at - sent,
            )
            return token
        finally:
            self._lock.release()

    def authorization(self) -> str:
        return f"Bearer {self.token()}"

    async def async_authorization(self) -> str:
        cached = self._cached
        if cached is not None and _due(cached, self._clock()) == "fresh":
            return f"Bearer {cached.token}"
        # the renewal does blocking I/O under a lock shared with threads: run it in one
        # abandoned on cancellation, so that a time limit holds while IAM does not answer
        token = await anyio.to_thread.run_sync(self.token, abandon_on_cancel=True)
        return f"Bearer {token}"

    def invalidate(self, authorization: str) -> bool:
        with self._lock:
            cached = self._cached
            if cached is not None and authorization == f"Bearer {cached.token}":
                self._cached = None
                logger.debug("%r: the service refused the IAM token; getting a new one", self)
        return True

    def _secrets(self) -> Iterable[str]:
        return tuple(self._issued)

    def _failure(self, what: str, check: str) -> CredentialsError:
        return CredentialsError(
            self.redact(f"{self!r} could not get an IAM token: {what}. {check}")
        )

    def _http(self, request: httpx2.Request, check: str) -> Mapping[str, Any]:
        """Send ``request``; the JSON answer, or a :class:`CredentialsError` that says why."""
        failure: str
        try:
            with httpx2.Client(timeout=self.timeout) as http:
                response = http.send(request)
            if response.status_code == 200:
                body = response.json()
                if isinstance(body, dict):
                    return body
                failure = "the answer is not a JSON object"
            else:
                failure = f"{request.url} answered HTTP {response.status_code} {_message(response)}"
        except httpx2.HTTPError as error:
            failure = f"{request.url} could not be reached ({type(error).__name__})"
        except ValueError:
            failure = f"{request.url} answered something that is not JSON"
        raise self._failure(failure, check)


def _default_clock() -> float:
    return time.monotonic()


def _message(response: httpx2.Response) -> str:
    """The service's own ``message``, short, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f"({str(message)[:200]})" if message else ""


_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):?(\d\d))"
)


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time, with any number of fraction digits.

    IAM writes nanoseconds, which :meth:`datetime.fromisoformat` of Python 3.10 refuses:

    >>> parse_rfc3339("2026-12-01T10:00:00.123456789Z")
    1796119200.1234567
    >>> parse_rfc3339("2026-12-01T13:00:00+03:00")
    1796119200.0
    """
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, _, sign, offset_hours, offset_minutes = match.groups()[6:]
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    if sign:
        offset = int(offset_hours) * 3600 + int(offset_minutes) * 60
        seconds -= offset if sign == "+" else -offset
    return float(seconds)


def _load_key(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The key's fields and how to name it in errors (its file, never its content)."""
    if isinstance(source, Mapping):
        return dict(source), "the key mapping"
    path = Path(source).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        problem = f"cannot be read ({error.strerror or type(error).__name__})"
    except ValueError:
        problem = "is not JSON"
    else:
        if isinstance(data, dict):
            return data, str(path)
        problem = "is not a JSON object"
    raise ConfigurationError(
        f"the service account key file {path} {problem}: give the authorized key's JSON "
        "file (yc iam key create --service-account-name <name> --output key.json)"
    )


class ServiceAccountKey(RefreshingCredentials):
    """A service account's authorized key, exchanged for IAM tokens.

    ``key``: the path of the key's JSON file (``YC_SERVICE_ACCOUNT_KEY_FILE``) or its
    content as a mapping, with ``id``, ``service_account_id`` and ``private_key``.
    A PS256 JWT signed with the key (``kid`` = key id, ``iss`` = service account,
    valid one hour) is posted to ``iam_endpoint`` (``YC_IAM_ENDPOINT``). Needs
    ``pip install 'yc-responses[auth]'``::

        client = YandexOpenAI(credentials=ServiceAccountKey("key.json"), folder_id="b1g...")
    """

    def __init__(
        self,
        key: str | os.PathLike[str] | Mapping[str, Any],
        *,
        iam_endpoint: str | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(clock=clock, timeout=timeout)
        data, self._source = _load_key(key)
        missing = [
            name for name in ("id", "service_account_id", "private_key") if not data.get(name)
        ]
        if missing:
            raise ConfigurationError(
                f"{self._source} is not an authorized key: it has no {', '.join(missing)}. "
                "Create one with yc iam key create --service-account-name <name> --output key.json"
            )
        self.key_id = str(data["id"])
        self.service_account_id = str(data["service_account_id"])
        self.iam_endpoint = iam_endpoint or DEFAULT_IAM_ENDPOINT
        self._private_key = _signing_key(str(data["private_key"]), self._source)

    def jwt(self) -> str:
        """A fresh signed JWT for the exchange (valid for one hour)."""
        import jwt

        now = int(self.wall_time())
        claims = {
            "iss": self.service_account_id,
            "aud": JWT_AUDIENCE,
            "iat": now,
            "exp": now + 3600,
        }
        return jwt.encode(
            claims, self._private_key, algorithm="PS256", headers={"kid": self.key_id}
        )

    def fetch(self) -> tuple[str, float]:
        sent = self.wall_time()
        check = (
            "Check that the key is not deleted, that the service account exists, and that "
            f"{self.iam_endpoint} is the IAM endpoint (YC_IAM_ENDPOINT)"
        )
        request = httpx2.Request("POST", self.iam_endpoint, json={"jwt": self.jwt()})
        body = self._http(request, check)
        token, expires_at = body.get("iamToken"), body.get("expiresAt")
        if not isinstance(token, str) or not isinstance(expires_at, str):
            raise self._failure("the answer has no iamToken or expiresAt", check)
        try:
            lifetime = parse_rfc3339(expires_at) - sent
        except ValueError:
            raise self._failure("the answer's expiresAt is not a time", check) from None
        return token, lifetime

    def __repr__(self) -> str:
        return (
            f"ServiceAccountKey(key_id={self.key_id!r}, "
            f"service_account_id={self.service_account_id!r})"
        )


def _signing_key(pem: str, source: str) -> Any:
    """The private key, loaded once; errors name the file, never the key."""
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise ConfigurationError(
            f"service account keys need PyJWT and cryptography: {_EXTRA_HINT}"
        ) from None
    try:
        return load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        problem = "is not a PEM private key"
    raise ConfigurationError(
        f"the private_key of {source} {problem}: download the authorized key again"
    )


class MetadataService(RefreshingCredentials):
    """The service account of a VM or a serverless function, from its metadata service.

    ``address``: ``host[:port]``; default ``YC_METADATA_ADDR``, else 169.254.169.254.
    The library asks the metadata service only when it is chosen: by this class, or
    by ``YC_METADATA_ADDR`` being set; it never probes the address on its own.
    """

    def __init__(
        self, address: str | None = None, *, clock: Clock | None = None, timeout: float = 10.0
    ) -> None:
        super().__init__(clock=clock, timeout=timeout)
        self.address = (
            address or os.environ.get("YC_METADATA_ADDR") or DEFAULT_METADATA_ADDR
        ).strip()
        if not self.address or "/" in self.address:
            raise ConfigurationError(
                f"the metadata address must be host[:port], such as {DEFAULT_METADATA_ADDR}"
            )

    def fetch(self) -> tuple[str, float]:
        check = (
            "Check that this runs on a VM or function with a service account, and that "
            f"YC_METADATA_ADDR ({self.address}) is right"
        )
        url = f"http://{self.address}{METADATA_TOKEN_PATH}"
        request = httpx2.Request("GET", url, headers={"Metadata-Flavor": "Google"})
        body = self._http(request, check)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not isinstance(expires_in, (int, float)):
            raise self._failure("the answer has no access_token or expires_in", check)
        return token, float(expires_in)

    def __repr__(self) -> str:
        return f"MetadataService(address={self.address!r})"


class YandexCLI(RefreshingCredentials):
    """IAM tokens from the ``yc`` command line tool (``yc iam create-token``).

    ``profile``: a ``yc`` profile (``--profile``); default the active one.
    """

    def __init__(
        self,
        profile: str | None = None,
        *,
        executable: str = "yc",
        clock: Clock | None = None,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(clock=clock, timeout=timeout)
        self.profile = profile
        self.executable = executable

    def fetch(self) -> tuple[str, float]:
        command = shutil.which(self.executable)
        if command is None:
            raise self._failure(
                f"{self.executable} is not on PATH",
                "Install the Yandex Cloud CLI and run yc init, or choose other credentials",
            )
        arguments = [command, "iam", "create-token"]
        if self.profile:
            arguments += ["--profile", self.profile]
        try:
            done = subprocess.run(  # noqa: S603 (a fixed command, no shell)
                arguments, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failure = f"yc iam create-token did not run ({type(error).__name__})"
        else:
            token = done.stdout.strip()
            if done.returncode == 0 and token:
                return token, _ASSUMED_LIFETIME
            failure = f"yc iam create-token exited with {done.returncode}"
        raise self._failure(failure, "Run yc iam create-token yourself to see why")

    def __repr__(self) -> str:
        return f"YandexCLI(profile={self.profile!r})"
