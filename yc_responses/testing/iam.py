"""The emulator's IAM: service account keys exchanged for tokens, and the metadata service.

Pure: a request's method, path, headers and body in, a status and a JSON body out, on the
emulator's clock. :class:`IamEmulator` checks a JWT's PS256 signature and claims against
keys a test registered, issues IAM tokens whose lifetime a test sets, and says which
tokens are still good, so that a client's refresh is really exercised::

    key = emulator.iam.new_key()             # an authorized key's JSON, registered
    emulator.iam.token_lifetime = 600        # tokens issued from now on last 10 min
    emulator.iam.revoke_all()                # every token issued so far is refused

The exchange needs PyJWT and cryptography (``pip install 'yc-responses[auth]'``).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EXCHANGE_PATH", "METADATA_PATH", "IamEmulator"]

EXCHANGE_PATH = "/iam/v1/tokens"
"""Where the emulator exchanges JWTs: ``YC_IAM_ENDPOINT=<emulator root>/iam/v1/tokens``."""

METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
"""The metadata service's token route: ``YC_METADATA_ADDR=<emulator host:port>``."""

_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
_MAX_JWT_SECONDS = 3600
_CLOCK_LEEWAY = 60
"""Seconds a JWT's ``iat`` may be ahead of the emulator's time."""

_EXTRA = "PyJWT and cryptography: pip install 'yc-responses[auth]'"

Answer = tuple[int, dict[str, Any]]
"""An HTTP status and a JSON body."""


class HTTPRequest(Protocol):
    """What :meth:`IamEmulator.handle` reads of a request (header names lower-case)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class _Key:
    service_account_id: str
    public_key: Any


def _rfc3339(wall: float) -> str:
    """``2026-12-01T10:00:00.123456789Z``: nanoseconds, as IAM writes them."""
    seconds = int(wall)
    nanos = round((wall - seconds) * 1e9)
    if nanos >= 1_000_000_000:
        seconds, nanos = seconds + 1, nanos - 1_000_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def _error(status: int, message: str) -> Answer:
    return status, {"code": status, "message": message}


class IamEmulator:
    """Keys, tokens and their lifetimes; thread-safe.

    ``token_lifetime``: seconds an issued token is good for (12 h, as the service;
    set it shorter to see a client renew). ``exchanges`` and ``metadata_requests``
    count the tokens given out by each route.
    """

    def __init__(self, *, seed: int = 0, token_lifetime: float = 12 * 3600.0) -> None:
        self.token_lifetime = token_lifetime
        self.exchanges = 0
        self.metadata_requests = 0
        self.issued: list[str] = []
        """Every token given out, in order: a test checks that none of them leaks."""
        self._keys: dict[str, _Key] = {}
        self._tokens: dict[str, float] = {}
        self._rng = random.Random(seed)  # noqa: S311 (ids, not security)
        self._lock = threading.Lock()

    # --- what a test does

    def register_key(self, key_id: str, service_account_id: str, public_key_pem: str) -> None:
        """Accept JWTs signed by this key (``kid`` = ``key_id``, ``iss`` = the account)."""
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        public_key = load_pem_public_key(public_key_pem.encode())
        with self._lock:
            self._keys[key_id] = _Key(service_account_id, public_key)

    def new_key(self, service_account_id: str | None = None) -> dict[str, str]:
        """A new RSA key, registered; its authorized key JSON, as ``yc iam key create`` writes.

        >>> key = IamEmulator().new_key()
        >>> sorted(key)
        ['id', 'key_algorithm', 'private_key', 'public_key', 'service_account_id']
        """
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError:
            raise ImportError(f"service account keys need {_EXTRA}") from None

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        with self._lock:
            key_id = "ajk" + self._token(17)
            account = service_account_id or "aje" + self._token(17)
        self.register_key(key_id, account, public_pem)
        return {
            "id": key_id,
            "service_account_id": account,
            "key_algorithm": "RSA_2048",
            "public_key": public_pem,
            "private_key": private_pem,
        }

    def revoke_all(self) -> None:
        """Refuse every token issued so far (a key deleted, a token leaked)."""
        with self._lock:
            self._tokens.clear()

    # --- what the emulator's HTTP layer does

    def accepts(self, token: str, now: float) -> bool:
        """Whether ``token`` was issued here and has not expired or been revoked."""
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and now < expires

    def handle(self, request: HTTPRequest, *, now: float, wall: float) -> Answer | None:
        """The answer to an IAM or metadata request; ``None`` for any other path.

        ``now`` is the emulator's clock, ``wall`` the same moment in seconds since the epoch.
        """
        path, method = request.path.rstrip("/"), request.method
        if path == EXCHANGE_PATH and method == "POST":
            return self._exchange(request.body, now, wall)
        if path == METADATA_PATH and method == "GET":
            if request.headers.get("metadata-flavor") != "Google":
                return _error(403, "missing the header Metadata-Flavor: Google")
            token = self._issue(now)
            with self._lock:
                self.metadata_requests += 1
            lifetime = int(self.token_lifetime)
            return 200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}
        return None

    def _exchange(self, body: bytes, now: float, wall: float) -> Answer:
        try:
            import jwt
        except ImportError:
            return _error(501, f"the emulator's token exchange needs {_EXTRA}")

        try:
            assertion = json.loads(body)["jwt"]
            header = jwt.get_unverified_header(assertion)
        except (ValueError, KeyError, TypeError, jwt.PyJWTError):
            return _error(400, 'the body must be {"jwt": "<a signed JWT>"}')
        with self._lock:
            key = self._keys.get(str(header.get("kid")))
        if key is None or header.get("alg") != "PS256":
            return _error(401, "unknown key id (kid), or not a PS256 JWT")
        try:
            claims = jwt.decode(
                assertion,
                key.public_key,
                algorithms=["PS256"],
                audience=_AUDIENCE,
                issuer=key.service_account_id,
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
                leeway=_CLOCK_LEEWAY,
            )
        except jwt.PyJWTError as error:
            return _error(401, f"the JWT was refused: {type(error).__name__}")
        problem = _claims_problem(claims, wall)
        if problem is not None:
            return _error(401, problem)
        token = self._issue(now)
        with self._lock:
            self.exchanges += 1
        return 200, {"iamToken": token, "expiresAt": _rfc3339(wall + self.token_lifetime)}

    def _issue(self, now: float) -> str:
        with self._lock:
            token = "t1.emulator." + self._token(40)
            self._tokens[token] = now + self.token_lifetime
            self.issued.append(token)
        return token

    def _token(self, length: int) -> str:
        return "".join(
            self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length)
        )


def _claims_problem(claims: Mapping[str, Any], wall: float) -> str | None:
    """Why IAM would refuse the JWT's times (on the emulator's clock), or ``None``."""
    issued, expires = claims["iat"], claims["exp"]
    if not isinstance(issued, int) or not isinstance(expires, int):
        return "iat and exp must be whole seconds"
    if expires - issued > _MAX_JWT_SECONDS:
        return "the JWT is valid for more than an hour (exp - iat > 3600)"
    if issued > wall + _CLOCK_LEEWAY:
        return "the JWT was issued in the future (iat): check the clock"
    if expires <= wall:
        return "the JWT has expired (exp)"
    return None
