"""The command's messages: exit codes, and one line for every way a command can fail.

Every failure a user can act on becomes one line on stderr and a documented exit code
(:func:`describe`); ``--debug`` adds the traceback. Nothing here sends a request.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from typing import Any

import openai

from yc_responses.auth import CredentialsError
from yc_responses.batch.journal import JournalError
from yc_responses.client import YandexOpenAI
from yc_responses.errors import ServiceUnreachableError, YCResponsesError
from yc_responses.faults import is_folder_mismatch, unreachable_reason

EXIT_OK = 0
"""Every run (every line of a batch) completed."""
EXIT_NOT_COMPLETED = 1
"""A run did not complete (failed, cancelled, incomplete, still going), or the service refused."""
EXIT_USAGE = 2
"""Bad usage, configuration, an unreachable host, or an input file that cannot be used."""
EXIT_INTERRUPTED = 130
"""Ctrl+C."""

_BASE_URL_VARIABLES = (
    ("/operations/", "YC_OPERATION_BASE_URL"),
    ("/foundationModels/", "YC_LLM_BASE_URL"),
)
"""Which setting names the host of a request, by its path (else ``YC_BASE_URL``)."""


class CommandError(Exception):
    """An error the user can act on: one line on stderr and an exit code, no traceback."""

    def __init__(self, message: str, code: int = EXIT_NOT_COMPLETED) -> None:
        super().__init__(message)
        self.code = code


class Context:
    """What error messages need to know: the command, the secrets to hide, how to resume."""

    def __init__(self, args: argparse.Namespace | None = None) -> None:
        self.args = args
        self.client: YandexOpenAI | None = None
        self.on_interrupt = ""
        """What to tell the user if Ctrl+C comes now."""

    def redact(self, text: str) -> str:
        """``text`` with the client's credentials blanked out."""
        return text if self.client is None else self.client.yandex.redact(text)

    def option(self, name: str) -> Any:
        """The value of option ``name`` of the command line, ``None`` before it is parsed."""
        return getattr(self.args, name, None)


def say(text: str) -> None:
    """Print one line for the user on stderr."""
    print(text, file=sys.stderr, flush=True)


def describe(exc: BaseException, context: Context) -> tuple[str, int]:
    """The one line (without the ``yc-responses:`` prefix) and the exit code of ``exc``."""
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted. {context.on_interrupt}".rstrip(), EXIT_INTERRUPTED
    if isinstance(exc, CommandError):
        return f"error: {exc}", exc.code
    if isinstance(exc, ServiceUnreachableError) and exc.__cause__ is not None:
        exc = exc.__cause__  # named below with the setting it came from
    if isinstance(exc, openai.APIConnectionError) and (line := _unreachable(exc)) is not None:
        return f"error: {line}", EXIT_USAGE
    if isinstance(exc, openai.APIError):
        return f"error: {explain(exc, context)}", EXIT_NOT_COMPLETED
    if isinstance(exc, CredentialsError):  # no token could be had: configuration
        return f"error: {exc}", EXIT_USAGE
    if isinstance(exc, JournalError):  # mismatch, in use, not a journal, unusable
        return f"error: {exc}", EXIT_USAGE
    if isinstance(exc, sqlite3.Error):
        output = context.option("output")
        journal = context.option("journal") or (output and f"{output}.journal") or "journal"
        return (
            f"error: the journal {journal} cannot be used ({exc}): check that it is a batch "
            "journal you may write, or name another with --journal"
        ), EXIT_USAGE
    if isinstance(exc, ValueError | TypeError):  # refused before any request, configuration
        return f"error: {exc}", EXIT_USAGE
    if isinstance(exc, YCResponsesError):
        return f"error: {exc}", EXIT_NOT_COMPLETED
    return (
        f"error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
        EXIT_NOT_COMPLETED,
    )


def _unreachable(exc: openai.APIConnectionError) -> str | None:
    """One line naming the host and its setting when it refused us or has no address."""
    why = unreachable_reason(exc)
    if why is None:
        return None
    url = exc.request.url
    host = f"{url.host}:{url.port}" if url.port else url.host
    variable = next((name for part, name in _BASE_URL_VARIABLES if part in url.path), "YC_BASE_URL")
    return f"cannot reach {host} ({why}); check {variable} if you set it, and your network"


def explain(exc: openai.APIError, context: Context) -> str:
    """One line saying what went wrong with a request and what to do next."""
    command = context.option("command")
    if isinstance(exc, openai.APITimeoutError):
        hint = " (try run --background for long generations)" if command == "run" else ""
        return f"no answer in time{hint}; check your network, or try again"
    if isinstance(exc, openai.APIConnectionError):
        variable = "YC_BASE_URL"
        if context.option("deferred"):
            variable = "YC_LLM_BASE_URL and YC_OPERATION_BASE_URL"
        return (
            f"could not reach the service ({exc}); check your network, and {variable} if you set it"
        )
    if not isinstance(exc, openai.APIStatusError):
        return str(exc)
    message = server_message(exc)
    code = exc.status_code
    if code == 401:
        return (
            f"the service refused the credentials (HTTP 401: {message}); check YC_API_KEY or "
            "YC_IAM_TOKEN (an IAM token expires after 12 hours at most)"
        )
    if code == 403:
        return (
            f"access denied (HTTP 403: {message}); check YC_FOLDER_ID and that the account "
            "has the ai.languageModels.user role in that folder"
        )
    if code == 404:
        return f"not found (HTTP 404: {message}); {_not_found_hint(context)}"
    if code == 429:
        return f"rate limited (HTTP 429: {message}); wait a little and try again"
    if code == 400:
        hint = ""
        if is_folder_mismatch(exc):
            hint = "; check YC_FOLDER_ID: it must be the folder of the key or the token"
        elif "model" in message.lower():
            hint = "; check --model (e.g. yandexgpt, yandexgpt-lite, yandexgpt/rc)"
        return f"the request was rejected (HTTP 400: {message}){hint}"
    return f"the service answered HTTP {code}: {message}"


def _not_found_hint(context: Context) -> str:
    if context.option("command") in ("status", "cancel"):
        if context.option("deferred"):
            hint = "check the operation id (a response id needs no --deferred)"
        else:
            hint = "check the response id (an operation id of completionAsync needs --deferred)"
        if context.option("emulator"):
            hint += "; the built-in emulator starts empty for every command"
        return hint
    return "check --model (e.g. yandexgpt, yandexgpt-lite, yandexgpt/rc)"


def server_message(exc: openai.APIStatusError) -> str:
    """The server's own words, without the raw body the official client prints."""
    body: Any = exc.body
    for _ in range(2):
        if isinstance(body, dict):
            message = body.get("message")
            if isinstance(message, str) and message:
                return message
            body = body.get("error")
    return exc.message
