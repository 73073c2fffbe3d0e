"""The one classification of failed requests: transient, provably not sent, a refusal.

Every decision about an exception of the official client (retry it, give up,
report a submission as ambiguous, stop a whole batch) asks these functions, so
the rules are written once:

>>> import httpx2, openai
>>> unreachable = openai.APIConnectionError(request=httpx2.Request("GET", "http://x"))
>>> is_transient(unreachable), is_refusal(unreachable)
(True, False)
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any

import httpx2
import openai

from .errors import ConfigurationError, UnexpectedStatusError

__all__ = [
    "cancel_refused",
    "cancel_retryable",
    "headers_of",
    "is_folder_mismatch",
    "is_refusal",
    "is_transient",
    "is_unreachable",
    "may_have_started",
    "never_sent",
    "stops_everything",
    "unreachable_reason",
    "was_not_sent",
]

_TRANSIENT_STATUS = frozenset({408, 409, 429})
_UNSENT_CAUSES = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def headers_of(exc: BaseException) -> Mapping[str, str] | None:
    """The response headers carried by an official client exception, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers if isinstance(headers, Mapping) else None


def is_transient(exc: BaseException) -> bool:
    """Whether a failed look is worth repeating: rate limits (429), server errors
    (5xx), 408/409, timeouts and connection errors. 400, 401, 403, 404 are not.

    >>> is_transient(openai.APIConnectionError(request=httpx2.Request("GET", "http://x")))
    True
    """
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _TRANSIENT_STATUS or exc.status_code >= 500
    return isinstance(exc, httpx2.TransportError)


def is_refusal(exc: BaseException) -> bool:
    """A 4xx answer other than a timeout, a conflict or a rate limit: the service
    understood the request and took nothing; sending it again changes nothing."""
    return isinstance(exc, openai.APIStatusError) and (
        400 <= exc.status_code < 500 and not is_transient(exc)
    )


def is_unreachable(exc: BaseException) -> bool:
    """No connection could be made at all: it was refused, or the host name did not resolve.

    At a first request that is a configuration error (a wrong base URL), not a fault
    to sit out.
    """
    return unreachable_reason(exc) is not None


def unreachable_reason(exc: BaseException) -> str | None:
    """Why no connection could be made, in words, or ``None`` when one could."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(link, socket.gaierror):
            return "its name does not resolve"
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


def stops_everything(exc: BaseException) -> bool:
    """Bad credentials, no access to the folder, or a folder that does not match the
    credentials' (a 400 "Specified folder ID ... does not match"): every other request
    would fail alike."""
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return True
    if isinstance(exc, ConfigurationError):  # no token could be had, a setting is wrong
        return True
    return is_folder_mismatch(exc)


_FOLDER_MISMATCH = re.compile(r"Specified folder ID .* does not match", re.IGNORECASE)


def is_folder_mismatch(exc: BaseException) -> bool:
    """A 400 saying the folder of the request is not the credentials' folder."""
    if not isinstance(exc, openai.BadRequestError):
        return False
    body: Any = exc.body
    for _ in range(2):  # {"error": {"message": ...}} or {"message": ...}
        if isinstance(body, Mapping) and not isinstance(body.get("message"), str):
            body = body.get("error")
    message = body.get("message") if isinstance(body, Mapping) else None
    return bool(_FOLDER_MISMATCH.search(message if isinstance(message, str) else exc.message))


def was_not_sent(exc: BaseException) -> bool:
    """Whether a failed submission provably did not start anything on the server.

    True for 429 (the server refused it) and for failures to connect at all
    (connection refused, connect or pool timeout); false for 5xx, read timeouts
    and connections dropped after the request went out, which may hide a run.
    """
    if isinstance(exc, openai.RateLimitError):
        return True
    if isinstance(exc, openai.APIConnectionError):
        return isinstance(exc.__cause__, _UNSENT_CAUSES)
    return isinstance(exc, _UNSENT_CAUSES)


def may_have_started(exc: BaseException) -> bool:
    """Whether a failed submission may hide a run the server started (and bills): a 5xx,
    a timeout, a connection dropped after sending, or an answer that cannot be read."""
    if isinstance(exc, UnexpectedStatusError):
        return True
    return is_transient(exc) and not was_not_sent(exc)


def never_sent(exc: BaseException) -> bool:
    """Whether a submission failed before anything went out: not an error of the official
    client or its transport (those may come after sending), but a refused configuration,
    credentials that gave no token, a body that could not be encoded."""
    if isinstance(exc, openai.APIError | httpx2.TransportError):
        return False
    return not may_have_started(exc)


def cancel_retryable(exc: BaseException) -> bool:
    """Whether to send a cancel again: it is idempotent, so after any transient fault,
    but not after a 409, the server's refusal to cancel a run that already ended."""
    return is_transient(exc) and getattr(exc, "status_code", None) != 409


def cancel_refused(exc: BaseException) -> bool:
    """A 400 or 409 answer to a cancel: the run may have ended already (look before raising)."""
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (400, 409)
