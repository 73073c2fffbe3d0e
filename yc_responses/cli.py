"""The ``yc-responses`` command: one prompt, a run's status, a cancel, a resumable batch.

::

    $ yc-responses run "Write a haiku about the Volga"
    $ yc-responses run --background "Summarise ..."          # waits well, Ctrl+C is safe
    $ yc-responses status resp_123 --wait
    $ yc-responses batch prompts.jsonl answers.jsonl         # run it again to resume
    $ yc-responses --emulator batch prompts.jsonl answers.jsonl   # no key, no bill
    $ yc-responses emulator --port 8080

Credentials come from ``YC_API_KEY`` (or ``YC_IAM_TOKEN``) and ``YC_FOLDER_ID``, in the
environment or a ``.env`` file. From Python, :func:`main` takes the arguments and,
for embedding and tests, a ready ``client=``::

    from yc_responses.cli import main
    exit_code = main(["run", "Hi"], client=my_client)
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import openai
from openai.resources.responses import Responses

from .background import BackgroundRun
from .client import YandexOpenAI
from .deferred import Operation, OperationRun, completion_body, result_of_operation
from .errors import (
    AmbiguousSubmissionError,
    ConfigurationError,
    RunTimeoutError,
    UnexpectedStatusError,
    YCResponsesError,
)
from .journal import Journal
from .kinds.responses import result_of_response
from .results import Cancelled, Completed, Failed, Incomplete
from .status import RunStatus

__all__ = [
    "DEFAULT_MODEL",
    "BatchLine",
    "main",
    "output_record",
    "parse_batch_lines",
    "parser",
]

DEFAULT_MODEL = "yandexgpt"
"""The model of ``run`` and ``batch`` unless ``--model`` names another."""

EMULATOR_DURATION = (0.2, 1.5)
"""How long background runs take on the emulator ``--emulator`` starts, in seconds."""

EXIT_OK = 0
EXIT_NOT_COMPLETED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_EPILOG = """\
credentials: YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID, from the environment or a
.env file in the working directory. Without them, put --emulator before the command
to try it on a built-in emulator (no key, no bill; it starts empty for every command).

exit status: 0 done (the run completed), 1 a run did not complete or the service
refused the request, 2 bad usage, configuration or input file, 130 interrupted.

examples:
  yc-responses run "Write a haiku about the Volga"
  yc-responses run --background --timeout 600 "Summarise: ..."
  yc-responses status RESPONSE_ID --wait
  yc-responses batch prompts.jsonl answers.jsonl
  yc-responses --emulator batch examples/prompts.jsonl answers.jsonl
"""

_BATCH_DESCRIPTION = """\
Run every line of IN.jsonl as a background run and write one result line per
input line to OUT.jsonl, in input order.

IN.jsonl holds one JSON object per line (blank lines are skipped):
  input   required: a string, or a list of messages as responses.create takes
  key     optional: a string naming the line in OUT.jsonl (default: its line number)
  model   optional: overrides --model for this line
  ...     any other keyword of responses.create: instructions, max_output_tokens,
          temperature, text, tools, ... (not stream or background)
With --deferred (the older completionAsync API): messages (a list of {"role",
"text"} or {"role", "content"}) or input (a string, sent as one user message),
plus temperature, max_tokens, reasoning_mode.

Every line is checked before anything is sent. A line that is not valid is
reported as IN.jsonl:LINE: <reason> and gets status "invalid"; the others run.

OUT.jsonl, written at the end in one piece (a crash never leaves half a file):
  {"key", "line", "status", "response_id", "output_text",
   "error": null | {"code", "message"},
   "usage": null | {"input_tokens", "output_tokens", "total_tokens"}}
status is completed, failed, cancelled, incomplete (error.code holds the reason),
invalid or error (error.code names what went wrong).

Resuming: every submission is recorded in a journal (OUT.jsonl.journal unless
--journal says otherwise) before it is sent. Run the same command again after an
interruption or a crash: finished lines are read from the journal and runs
already submitted are attached, never sent twice. Lines are matched by key: give
keys if the file may change between runs. Delete the journal to start over.

Exit status: 0 when every line completed, 1 otherwise."""


class _CommandError(Exception):
    """An error the user can act on: one line on stderr and an exit code, no traceback."""

    def __init__(self, message: str, code: int = EXIT_NOT_COMPLETED) -> None:
        super().__init__(message)
        self.code = code


# --- the arguments ------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command's arguments (``yc-responses --help``)."""
    from . import __version__

    top = argparse.ArgumentParser(
        prog="yc-responses",
        description="Yandex AI Studio from the command line: answers, background runs, "
        "resumable batches and a local emulator.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument(
        "--emulator",
        action="store_true",
        help="run the command against a built-in emulator started for it (no credentials "
        "needed, nothing billed); give it before the command",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        help="answer one prompt",
        description="Answer one prompt and print the text. With --background the run goes "
        "on the server and is waited for; its id is printed first, so it is never lost.",
    )
    run.add_argument("prompt", metavar="PROMPT", help="the prompt ('-' reads it from stdin)")
    run.add_argument("--model", default=DEFAULT_MODEL, help="default: %(default)s")
    run.add_argument(
        "--background",
        action="store_true",
        help="start a background run and wait for it, printing statuses on stderr",
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="give up waiting after S seconds (a background run keeps going on the server)",
    )

    status = commands.add_parser(
        "status",
        help="look at a background run",
        description="Look at a background run once and print its status, and its result "
        "when it has ended.",
    )
    status.add_argument("id", metavar="ID", help="a response id (an operation id with --deferred)")
    status.add_argument("--wait", action="store_true", help="wait until the run ends")
    status.add_argument(
        "--deferred", action="store_true", help="ID is an operation of the completionAsync API"
    )

    cancel = commands.add_parser(
        "cancel",
        help="cancel a background run",
        description="Cancel a background run and print the state it ended in.",
    )
    cancel.add_argument("id", metavar="ID", help="a response id (an operation id with --deferred)")
    cancel.add_argument(
        "--deferred", action="store_true", help="ID is an operation of the completionAsync API"
    )

    batch = commands.add_parser(
        "batch",
        help="run a JSONL file of prompts, resumably",
        description=_BATCH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    batch.add_argument("input", metavar="IN.jsonl", help="the prompts, one JSON object a line")
    batch.add_argument("output", metavar="OUT.jsonl", help="where the results are written")
    batch.add_argument("--model", default=DEFAULT_MODEL, help="default: %(default)s")
    batch.add_argument(
        "--concurrency",
        type=_positive_int,
        default=100,
        metavar="N",
        help="runs in flight at once (default: %(default)s)",
    )
    batch.add_argument(
        "--journal",
        metavar="PATH",
        help="the journal that makes the batch resumable (default: OUT.jsonl.journal)",
    )
    batch.add_argument(
        "--run-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up waiting for a run this long after its creation: its line gets status "
        "error (RunTimeoutError); it is not cancelled, and running the command again "
        "attaches to it (default: wait until every run ends)",
    )
    batch.add_argument(
        "--deferred",
        action="store_true",
        help="use the older completionAsync API (lines hold messages, see above)",
    )
    batch.add_argument(
        "--resubmit-ambiguous",
        action="store_true",
        help="send again the lines whose earlier submission may or may not have started "
        "(no id came back); without it they stay errors, never sent twice",
    )
    batch.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none is shown off a terminal)"
    )

    commands.add_parser(
        "emulator",
        help="serve a local emulator of Yandex AI Studio (see: yc-responses emulator --help)",
        add_help=False,
    ).add_argument("options", nargs=argparse.REMAINDER)
    return top


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


# --- the entry point ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, client: YandexOpenAI | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    ``client`` replaces the client the command would build (from ``YC_*`` settings,
    or the emulator's with ``--emulator``): for embedding and tests.

    >>> main(["--emulator", "run", "Hi"])  # doctest: +SKIP
    0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    delegated = _emulator_arguments(args_list)
    if delegated is not None:
        from .testing.__main__ import main as emulator_main

        return emulator_main(delegated)
    args = parser().parse_args(args_list)
    context = _Context(args)
    try:
        with _connect(args, client) as connected:
            context.client = connected
            return _COMMANDS[args.command](args, connected, context)
    except _CommandError as exc:
        _say(f"yc-responses: error: {context.redact(str(exc))}")
        return exc.code
    except KeyboardInterrupt:
        _say(f"yc-responses: interrupted. {context.on_interrupt}".rstrip())
        return EXIT_INTERRUPTED
    except openai.APIError as exc:
        _say(f"yc-responses: error: {context.redact(_explain(exc, args))}")
        return EXIT_NOT_COMPLETED
    except YCResponsesError as exc:
        _say(f"yc-responses: error: {context.redact(str(exc))}")
        return EXIT_NOT_COMPLETED


def _emulator_arguments(argv: list[str]) -> list[str] | None:
    """The emulator's own arguments when the command is ``emulator``, else ``None``."""
    for index, word in enumerate(argv):
        if word == "emulator":
            return argv[index + 1 :]
        if word != "--emulator":
            return None
    return None


class _Context:
    """What error messages need to know: the secrets to hide, how to resume."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client: YandexOpenAI | None = None
        self.on_interrupt = ""
        """What to tell the user if Ctrl+C comes now."""

    def redact(self, text: str) -> str:
        """``text`` with the client's credentials blanked out."""
        return text if self.client is None else self.client.yandex.redact(text)


@contextlib.contextmanager
def _connect(args: argparse.Namespace, client: YandexOpenAI | None) -> Iterator[YandexOpenAI]:
    if client is not None:
        yield client
        return
    if args.emulator:
        from .testing import Emulator

        with Emulator(background_duration=EMULATOR_DURATION) as emulator:
            _say(
                f"yc-responses: using a built-in emulator at {emulator.base_url}, started for "
                "this command only (nothing is sent to Yandex AI Studio)"
            )
            with emulator.client() as emulated:
                yield emulated
        return
    try:
        real = YandexOpenAI()
    except ConfigurationError as exc:
        raise _CommandError(
            f"{exc}, or pass --emulator to try the built-in emulator", EXIT_USAGE
        ) from None
    with real:
        yield real


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _explain(exc: openai.APIError, args: argparse.Namespace) -> str:
    """One line saying what went wrong and what to do next."""
    if isinstance(exc, openai.APITimeoutError):
        hint = " (try run --background for long generations)" if args.command == "run" else ""
        return f"no answer in time{hint}; check your network, or try again"
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"could not reach the service ({exc}); check your network, and YC_BASE_URL "
            "if you set it"
        )
    if not isinstance(exc, openai.APIStatusError):
        return str(exc)
    message = _server_message(exc)
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
        return f"not found (HTTP 404: {message}); {_not_found_hint(args)}"
    if code == 429:
        return f"rate limited (HTTP 429: {message}); wait a little and try again"
    if code == 400:
        return f"the request was rejected (HTTP 400: {message})"
    return f"the service answered HTTP {code}: {message}"


def _not_found_hint(args: argparse.Namespace) -> str:
    if args.command in ("status", "cancel"):
        if args.deferred:
            hint = "check the operation id (a response id needs no --deferred)"
        else:
            hint = "check the response id (an operation id of completionAsync needs --deferred)"
        if args.emulator:
            hint += "; the built-in emulator starts empty for every command"
        return hint
    return "check --model (e.g. yandexgpt, yandexgpt-lite, yandexgpt/rc)"


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own words, without the raw body the official client prints."""
    body: Any = exc.body
    for _ in range(2):
        if isinstance(body, dict):
            message = body.get("message")
            if isinstance(message, str) and message:
                return message
            body = body.get("error")
    return exc.message


# --- run, status, cancel ------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace, client: YandexOpenAI, context: _Context) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise _CommandError("the prompt is empty: give the text to answer", EXIT_USAGE)
    if not args.background:
        options: dict[str, Any] = {} if args.timeout is None else {"timeout": args.timeout}
        response = client.responses.create(model=args.model, input=prompt, **options)
        _say(f"response id: {response.id}")
        try:
            result = result_of_response(response)
        except UnexpectedStatusError:  # no status on a plain answer: take the text as it is
            print(response.output_text)
            return EXIT_OK
        return _print_result(result, details=sys.stderr)

    context.on_interrupt = (
        "The run may or may not have started: check the AI Studio console before trying again."
    )
    run = client.background.create(model=args.model, input=prompt)
    _say(f"response id: {run.id}")
    context.on_interrupt = (
        f"The run {run.id} keeps going on the server: see it with "
        f"`yc-responses status {run.id}`, or wait for it with `yc-responses status {run.id} "
        "--wait`."
    )
    try:
        result = run.wait(args.timeout, on_status=lambda status, _: _say(f"status: {status}"))
    except RunTimeoutError as exc:
        last = f"still {exc.status}" if exc.status is not None else "not finished"
        raise _CommandError(
            f"run {run.id} is {last} after {args.timeout:g} s; it keeps going on the server: "
            f"wait again with `yc-responses status {run.id} --wait`, or stop it with "
            f"`yc-responses cancel {run.id}`"
        ) from None
    return _print_result(result, details=sys.stderr)


def _cmd_status(args: argparse.Namespace, client: YandexOpenAI, context: _Context) -> int:
    flag = " --deferred" if args.deferred else ""
    context.on_interrupt = (
        f"Stopped waiting; the run keeps going: `yc-responses status {args.id}{flag} --wait`."
    )
    run: BackgroundRun | OperationRun
    run = client.deferred.attach(args.id) if args.deferred else client.background.attach(args.id)
    status = run.refresh()
    result = run.wait(on_status=_progress) if args.wait or status.is_terminal else None
    if result is None:
        print(f"status: {status}")
        _say(f"it is still running: wait for it with `yc-responses status {args.id}{flag} --wait`")
        return EXIT_OK
    print(f"status: {result.status}")
    return _print_result(result, details=sys.stdout)


def _cmd_cancel(args: argparse.Namespace, client: YandexOpenAI, context: _Context) -> int:
    flag = " --deferred" if args.deferred else ""
    context.on_interrupt = (
        f"The cancel may or may not have been sent: `yc-responses status {args.id}{flag}`."
    )
    result: Any
    if args.deferred:
        # a done operation cannot be cancelled (409, which the client retries): look first
        operation = client.deferred.attach(args.id)
        result = None
        if not operation.refresh().is_terminal:
            try:
                result = operation.cancel()
            except (openai.ConflictError, openai.BadRequestError):  # it ended in between
                if not operation.refresh().is_terminal:
                    raise
        if result is None:
            assert operation.operation is not None
            result = result_of_operation(operation.operation)
    else:
        result = client.background.attach(args.id).cancel()
    print(f"status: {result.status}")
    if not isinstance(result, Cancelled):
        _say(f"the run had already ended as {result.status} before the cancel")
    _print_result(result, details=sys.stdout)
    return EXIT_OK


def _progress(status: RunStatus, _: object) -> None:
    if not status.is_terminal:
        _say(f"status: {status}")


def _print_result(result: Any, *, details: TextIO) -> int:
    """Print a typed result: the text on stdout, the rest on ``details``; the exit status.

    On stdout (``status`` and ``cancel``) the ``status:`` line was printed already.
    """
    if isinstance(result, Completed):
        print(result.output_text)
        return EXIT_OK
    if isinstance(result, Failed):
        print(f"error: {result.error.code}: {result.error.message}", file=details)
    elif isinstance(result, Incomplete):
        hint = " (raise max_output_tokens for the whole answer)"
        hint = hint if result.reason == "max_output_tokens" else ""
        print(f"incomplete: {result.reason}{hint}; the text below is partial", file=details)
        details.flush()
        if result.output_text:
            print(result.output_text)
    elif isinstance(result, Cancelled) and details is not sys.stdout:
        print("cancelled: the run was cancelled before it finished", file=details)
    return EXIT_NOT_COMPLETED


# --- batch: reading and checking the input --------------------------------------------------


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line of a batch input: where it is, its key, and what to send.

    ``request`` holds the create keywords (``None`` when the line is invalid, and
    then ``problem`` says why).
    """

    line: int
    key: str
    request: dict[str, Any] | None = None
    problem: str | None = None


_NOT_IN_BATCH = {
    "stream": "every line runs in background mode: drop it",
    "stream_options": "every line runs in background mode: drop it",
    "background": "every line runs in background mode: drop it",
    "extra_headers": "request options cannot be set per line",
    "extra_query": "request options cannot be set per line",
    "timeout": "request options cannot be set per line",
}

_DEFERRED_FIELDS = frozenset({"messages", "input", "temperature", "max_tokens", "reasoning_mode"})


def _create_keywords() -> frozenset[str]:
    """The keywords of the official ``responses.create``."""
    parameters = inspect.signature(Responses.create).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


def parse_batch_lines(lines: Iterable[str | bytes], *, deferred: bool = False) -> list[BatchLine]:
    """Check every line of a batch input; blank lines are skipped, line numbers start at 1.

    >>> [b.key for b in parse_batch_lines(['{"input": "Hi"}', "", '{"input": "Yo", "key": "b"}'])]
    ['1', 'b']
    >>> parse_batch_lines(['{"inptu": "Hi"}'])[0].problem
    'no "input": every line needs the prompt as "input"'
    """
    keywords = _create_keywords()
    parsed: list[BatchLine] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text: str | None
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                text = None
        else:
            text = raw.removeprefix("\ufeff") if number == 1 else raw
        if text is not None and not text.strip():
            continue
        key, request, problem = str(number), None, None
        try:
            if text is None:
                raise ValueError("not UTF-8 text")
            key, request = _check_line(text, number, keywords, deferred=deferred)
        except ValueError as exc:
            problem = str(exc)
            key = getattr(exc, "key", key)
        earlier = first_seen.setdefault(key, number)
        if earlier != number and problem is None:
            request, problem = None, f"duplicate key {key!r} (first on line {earlier})"
        parsed.append(BatchLine(number, key, request, problem))
    return parsed


class _LineError(ValueError):
    """A problem with a line whose key is known."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def _check_line(
    text: str, number: int, keywords: frozenset[str], *, deferred: bool
) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f'not a JSON object but {_json_type(data)}: write {{"input": ...}}')
    key = data.pop("key", str(number))
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string, not {_json_type(key)}")
    try:
        model = data.get("model")
        if "model" in data and (not isinstance(model, str) or not model.strip()):
            raise ValueError(f"model must be a model name, not {_json_type(model)}")
        request = _deferred_request(data) if deferred else _responses_request(data, keywords)
    except ValueError as exc:
        raise _LineError(str(exc), key) from None
    return key, request


def _responses_request(data: dict[str, Any], keywords: frozenset[str]) -> dict[str, Any]:
    for name in data:
        if name in _NOT_IN_BATCH:
            raise ValueError(f"{name!r} is not allowed in a batch: {_NOT_IN_BATCH[name]}")
        if name not in keywords:
            raise ValueError(
                f"unknown field {name!r}: a line holds input, key, model and the keywords "
                "of responses.create"
            )
    if "input" not in data:
        raise ValueError('no "input": every line needs the prompt as "input"')
    prompt = data["input"]
    if not isinstance(prompt, (str, list)):
        raise ValueError(f"input must be a string or a list of messages, not {_json_type(prompt)}")
    if not prompt or (isinstance(prompt, str) and not prompt.strip()):
        raise ValueError("input is empty")
    return data


def _deferred_request(data: dict[str, Any]) -> dict[str, Any]:
    for name in data:
        if name not in _DEFERRED_FIELDS and name != "model":
            raise ValueError(
                f"unknown field {name!r}: with --deferred a line holds messages (or input), "
                "key, model, temperature, max_tokens and reasoning_mode"
            )
    if ("messages" in data) == ("input" in data):
        raise ValueError('give either "messages" (a list) or "input" (a string), not both')
    if "input" in data:
        prompt = data.pop("input")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("with --deferred, input must be a non-empty string")
        data["messages"] = [{"role": "user", "text": prompt}]
    if not isinstance(data["messages"], list):
        raise ValueError(f"messages must be a list, not {_json_type(data['messages'])}")
    temperature = data.get("temperature")
    if temperature is not None and _json_type(temperature) != "a number":
        raise ValueError(f"temperature must be a number, not {_json_type(temperature)}")
    if not isinstance(data.get("reasoning_mode", ""), str):
        raise ValueError('reasoning_mode must be a string such as "DISABLED" or "ENABLED_HIDDEN"')
    # the same checks the create call makes, before anything is sent
    completion_body(
        "gpt://folder/model",
        data["messages"],
        temperature=data.get("temperature"),
        max_tokens=data.get("max_tokens"),
        reasoning_mode=data.get("reasoning_mode"),
    )
    return data


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


# --- batch: writing the results ----------------------------------------------------------


def output_record(line: BatchLine, outcome: object = None) -> dict[str, Any]:
    """The OUT.jsonl object of ``line``: from its result, its exception, or its problem.

    >>> output_record(BatchLine(3, "a", problem="not JSON"))["status"]
    'invalid'
    """
    record: dict[str, Any] = {
        "key": line.key,
        "line": line.line,
        "status": "invalid",
        "response_id": None,
        "output_text": None,
        "error": None,
        "usage": None,
    }
    if line.problem is not None:
        record["error"] = {"code": "invalid_input", "message": line.problem}
        return record
    if isinstance(outcome, BaseException):
        record["status"] = "error"
        record["response_id"] = getattr(outcome, "response_id", None)
        record["error"] = {"code": type(outcome).__name__, "message": _exception_text(outcome)}
        return record
    if not isinstance(outcome, (Completed, Failed, Cancelled, Incomplete)):
        record["status"] = "error"
        record["error"] = {
            "code": "UnexpectedResult",
            "message": f"the batch returned {type(outcome).__name__}, not a result",
        }
        return record
    record["status"] = outcome.status.value
    record["response_id"] = outcome.response_id
    record["usage"] = _usage(outcome.response)
    if isinstance(outcome, Completed):
        record["output_text"] = outcome.output_text
    elif isinstance(outcome, Failed):
        record["error"] = {"code": outcome.error.code, "message": outcome.error.message}
    elif isinstance(outcome, Incomplete):
        record["output_text"] = outcome.output_text
        record["error"] = {
            "code": outcome.reason,
            "message": f"the run stopped early ({outcome.reason}): output_text is partial",
        }
    else:
        record["error"] = {"code": "cancelled", "message": "the run was cancelled"}
    return record


def _exception_text(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_server_message(exc)}"
    return str(exc)


def _usage(response: object) -> dict[str, int] | None:
    """Token counts as ``input_tokens``, ``output_tokens``, ``total_tokens``, if known."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    if isinstance(response, Operation):
        names = ("input_text_tokens", "completion_tokens", "total_tokens")
    else:
        names = ("input_tokens", "output_tokens", "total_tokens")
    values = [getattr(usage, name, None) for name in names]
    counts = [value for value in values if isinstance(value, int)]
    if len(counts) != len(names):
        return None
    return dict(zip(("input_tokens", "output_tokens", "total_tokens"), counts, strict=True))


def _write_atomically(path: str, records: Iterable[dict[str, Any]]) -> None:
    """Write JSON lines to a temporary file beside ``path``, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        "w",
        encoding="utf-8",
        dir=directory,
        prefix=f".{os.path.basename(path)}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


# --- batch: the command -------------------------------------------------------------------


def _cmd_batch(args: argparse.Namespace, client: YandexOpenAI, context: _Context) -> int:
    started = time.monotonic()
    lines = _read_batch(args.input, deferred=args.deferred)
    journal = args.journal or args.output + ".journal"
    _check_output(args.input, args.output, journal)
    valid = [line for line in lines if line.request is not None]
    for line in lines:
        if line.problem is not None:
            _say(f"{args.input}:{line.line}: {line.problem}")
    if os.path.exists(journal):
        _say(
            f"resuming from the journal {journal}: finished lines are read from it and runs "
            "already submitted are attached, none is sent twice (delete it to start over)"
        )
        if args.emulator:
            _say(
                "note: --emulator starts a new emulator, which knows none of the runs an "
                "earlier command submitted: those lines end as errors (not found)"
            )
    outcomes: list[object] = []
    if valid:
        context.on_interrupt = (
            f"Nothing is lost: run the same command again to resume from the journal {journal} "
            "(runs already submitted are attached, not sent again)."
        )
        requests = [line.request for line in valid if line.request is not None]
        try:
            opened = Journal(journal)
        except sqlite3.DatabaseError as exc:
            raise _CommandError(
                f"{journal} is not a batch journal ({exc}): name another with --journal",
                EXIT_USAGE,
            ) from None
        options: dict[str, Any] = {
            "model": args.model,
            "keys": [line.key for line in valid],
            "concurrency": args.concurrency,
            "journal": opened,
            "progress": False if args.no_progress else None,
            "resubmit_ambiguous": args.resubmit_ambiguous,
            "run_timeout": args.run_timeout,
        }
        with opened:
            if args.deferred:
                outcomes = list(client.deferred.map(requests, return_exceptions=True, **options))
            else:
                outcomes = list(client.background.map(requests, return_exceptions=True, **options))
    by_line = dict(zip((line.line for line in valid), outcomes, strict=True))
    records = [output_record(line, by_line.get(line.line)) for line in lines]
    for record in records:
        if record["error"] is not None:
            record["error"]["message"] = context.redact(record["error"]["message"])
    try:
        _write_atomically(args.output, records)
    except OSError as exc:
        raise _CommandError(
            f"cannot write {args.output} ({exc.strerror or exc}); the results are kept in "
            f"the journal {journal}: fix the path and run the same command again"
        ) from None
    _summarise(records, args.output, journal, time.monotonic() - started)
    done = all(record["status"] == "completed" for record in records)
    return EXIT_OK if done else EXIT_NOT_COMPLETED


def _read_batch(path: str, *, deferred: bool) -> list[BatchLine]:
    try:
        with open(path, "rb") as source:
            lines = parse_batch_lines(source.read().splitlines(), deferred=deferred)
    except OSError as exc:
        raise _CommandError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    if not lines:
        raise _CommandError(f"{path} holds no prompts: write one JSON object a line", EXIT_USAGE)
    return lines


def _check_output(source: str, output: str, journal: str) -> None:
    """Fail before anything is sent if the results could not be written."""
    if os.path.isdir(output):
        raise _CommandError(f"{output} is a folder: give the path of a file", EXIT_USAGE)
    if os.path.abspath(output) == os.path.abspath(journal):
        raise _CommandError(
            f"the journal and OUT.jsonl are both {output}: name another --journal", EXIT_USAGE
        )
    for path, what in ((output, "OUT.jsonl"), (journal, "the journal")):
        if os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
            raise _CommandError(f"{what} is the input file {source}: name another", EXIT_USAGE)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise _CommandError(
                f"the folder of {path} does not exist: create {directory} first", EXIT_USAGE
            )
        if not os.access(directory, os.W_OK):
            raise _CommandError(f"cannot write to {directory}: pick another path", EXIT_USAGE)


_ORDER = ("completed", "failed", "cancelled", "incomplete", "invalid", "error")


def _summarise(records: list[dict[str, Any]], output: str, journal: str, seconds: float) -> None:
    counts = Counter(record["status"] for record in records)
    parts = ", ".join(f"{counts[status]} {status}" for status in _ORDER if counts[status])
    tokens = [record["usage"] for record in records if record["usage"] is not None]
    usage = ""
    if tokens:
        total_in = sum(u["input_tokens"] for u in tokens)
        total_out = sum(u["output_tokens"] for u in tokens)
        usage = f"; tokens: {total_in} in, {total_out} out"
    _say(f"{len(records)} lines in {seconds:.1f} s: {parts}{usage}; wrote {output}")
    ambiguous = sum(
        1
        for record in records
        if record["error"] is not None
        and record["error"]["code"] == AmbiguousSubmissionError.__name__
    )
    if ambiguous:
        _say(
            f"{ambiguous} line(s) may have been started without an id coming back: check the "
            "AI Studio console, then send them again with --resubmit-ambiguous if needed"
        )
    if counts["completed"] < len(records):
        _say(
            f"the journal {journal} keeps every finished run: running the same command again "
            "reads them from it instead of paying for them twice"
        )


_COMMANDS = {
    "run": _cmd_run,
    "status": _cmd_status,
    "cancel": _cmd_cancel,
    "batch": _cmd_batch,
}


if __name__ == "__main__":
    raise SystemExit(main())
