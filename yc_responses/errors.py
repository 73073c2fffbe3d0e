"""The exception family of yc-responses.

HTTP errors are not wrapped: they stay the official client's classes
(``openai.AuthenticationError``, ``openai.RateLimitError``, ...), so existing
``except`` clauses keep working. The classes here are for what the library itself
decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import openai

if TYPE_CHECKING:
    from .status import RunStatus

__all__ = [
    "AmbiguousSubmissionError",
    "ConfigurationError",
    "RunCancelledError",
    "RunFailedError",
    "RunIncompleteError",
    "RunLookupError",
    "RunNotCompletedError",
    "RunTimeoutError",
    "ServiceUnreachableError",
    "UnexpectedStatusError",
    "YCResponsesError",
    "add_note_once",
]


def _seconds_text(seconds: float) -> str:
    """``1.99655`` as ``2``, ``0.25`` as ``0.25``: seconds as a person reads them."""
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def add_note_once(exc: BaseException, note: str) -> None:
    """Add ``note`` to ``exc`` (shown under its traceback, Python 3.11+) unless it is there."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None and note not in getattr(exc, "__notes__", ()):
        add_note(note)


class YCResponsesError(openai.OpenAIError):
    """Base class of every error raised by yc-responses itself."""


class ConfigurationError(YCResponsesError, ValueError):
    """The client is missing a setting, or was given contradictory ones.

    The message names what to pass or which ``YC_*`` variable to set.
    """


class ServiceUnreachableError(ConfigurationError):
    """The first request could not connect at all (refused, or the host name did not
    resolve): most likely a wrong base URL. ``url`` is where it went; the connection
    error is ``__cause__``."""

    def __init__(self, url: str, cause: BaseException, *, reason: str) -> None:
        self.url = url
        super().__init__(
            f"cannot connect to {url} ({reason}): check the base URL the client was given "
            "(YC_BASE_URL, YC_LLM_BASE_URL or YC_OPERATION_BASE_URL, or base_url=) and that "
            "the service can be reached from here"
        )
        self.__cause__ = cause


class RunNotCompletedError(YCResponsesError):
    """``result.unwrap()`` on a run that finished without completing.

    ``response_id`` names the run and ``result`` is the full typed result.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        self.response_id: str = result.response_id
        self.status: RunStatus = result.status
        super().__init__(self._describe())

    def _describe(self) -> str:
        return f"run {self.response_id} finished as {self.status.value}"


class RunFailedError(RunNotCompletedError):
    """The run failed; ``error`` holds the server's ``code`` and ``message``."""

    def __init__(self, result: Any) -> None:
        self.error = result.error
        super().__init__(result)

    def _describe(self) -> str:
        return f"run {self.response_id} failed: {self.error}"


class RunCancelledError(RunNotCompletedError):
    """The run was cancelled before it finished."""

    def _describe(self) -> str:
        return f"run {self.response_id} was cancelled"


class RunIncompleteError(RunNotCompletedError):
    """The run stopped early; ``reason`` says why, the partial text is on ``result``."""

    def __init__(self, result: Any) -> None:
        self.reason: str = result.reason
        super().__init__(result)

    def _describe(self) -> str:
        hint = ""
        if self.reason == "max_output_tokens":
            hint = " (raise max_output_tokens to get the whole answer)"
        return (
            f"run {self.response_id} is incomplete: {self.reason}{hint}; "
            "the partial text is in .result.output_text"
        )


class RunTimeoutError(YCResponsesError, TimeoutError):
    """``wait()`` gave up before the run finished. The run is NOT cancelled.

    ``response_id`` and ``status`` (the last one seen) say where it stands; wait
    again with ``client.background.attach(error.response_id).wait()``.
    """

    def __init__(
        self,
        response_id: str,
        status: RunStatus | None,
        timeout: float,
        *,
        resource: str = "background",
    ) -> None:
        self.response_id = response_id
        self.status = status
        self.timeout = timeout
        seen = f"still {status.value}" if status is not None else "not seen finished"
        super().__init__(
            f"run {response_id} is {seen} after waiting {_seconds_text(timeout)} s; it keeps "
            "running on "
            f"the server: wait again with client.{resource}.attach({response_id!r}).wait(), "
            "or cancel it with .cancel()"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class RunLookupError(YCResponsesError):
    """A batch could not follow one of its runs (it was not found, access was refused,
    or the service failed for longer than ``PollPolicy.max_outage``).

    The run may still be going: ``response_id`` names it, the official client's
    error is ``__cause__``.
    """

    def __init__(self, response_id: str, cause: BaseException, *, resource: str) -> None:
        self.response_id = response_id
        super().__init__(
            f"run {response_id} could not be followed ({type(cause).__name__}: {cause}); it "
            f"may still be going: look again with client.{resource}.attach({response_id!r})"
        )
        self.__cause__ = cause


class UnexpectedStatusError(YCResponsesError):
    """The server reported a status the library does not know, or a terminal
    response without what its status needs (``failed`` without ``error``).

    ``raw`` is the value as received; ``response_id`` names the run.
    """

    def __init__(self, message: str, *, raw: object, response_id: str | None = None) -> None:
        self.raw = raw
        self.response_id = response_id
        where = f" (response {response_id})" if response_id else ""
        super().__init__(
            f"{message}{where}; the library will not guess what it means: please report "
            "it, and read the response yourself with client.responses.retrieve(...)"
        )


class AmbiguousSubmissionError(YCResponsesError):
    """A submission failed in a way that does not tell whether the server took it.

    A 5xx answer, a timeout or a connection dropped after the request was sent
    may hide a run that started (and is billed). The library does not resend it
    on its own, so no second paid run is started behind your back. Check whether
    it exists (the AI Studio console, or your own records) before submitting
    again, or submit again knowingly. The original error is ``__cause__``.

    In a batch, ``key`` names the input; ``cause`` is ``None`` when an earlier run
    of the batch stopped while sending it. Run the batch again with
    ``resubmit_ambiguous=True`` to send such inputs once more.
    """

    def __init__(self, cause: BaseException | None, *, key: str | None = None) -> None:
        self.key = key
        if key is None:
            assert cause is not None
            message = (
                f"the request may or may not have started ({type(cause).__name__}: "
                f"{cause}). It was not resent, to avoid paying for two runs: check the AI "
                "Studio console before submitting again, or submit again if a duplicate is "
                "acceptable"
            )
        else:
            what = (
                f"failed with {type(cause).__name__}: {cause}"
                if cause is not None
                else "was being sent when an earlier run of this batch stopped"
            )
            message = (
                f"input {key!r} {what}, and no response id came back: it may or may not have "
                "started. It was not resent, to avoid paying for two runs: check the AI Studio "
                "console, then run the batch again with resubmit_ambiguous=True (the command: "
                "--resubmit-ambiguous) to send it once more"
            )
        super().__init__(message)
        if cause is not None:
            self.__cause__ = cause
