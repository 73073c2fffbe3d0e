"""The single-run commands: ``run`` a prompt, look at a run's ``status``, ``cancel`` it."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from yc_responses.background import BackgroundRun
from yc_responses.client import YandexOpenAI
from yc_responses.deferred import OperationRun
from yc_responses.errors import RunTimeoutError, UnexpectedStatusError
from yc_responses.kinds.responses import result_of_response
from yc_responses.results import Cancelled, Completed, Failed, Incomplete
from yc_responses.status import RunStatus

from .errors import EXIT_NOT_COMPLETED, EXIT_OK, EXIT_USAGE, CommandError, Context, say


def run(args: argparse.Namespace, client: YandexOpenAI, context: Context) -> int:
    """``yc-responses run PROMPT``: print the answer (with ``--background``, wait for it)."""
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise CommandError("the prompt is empty: give the text to answer", EXIT_USAGE)
    try:  # the library's own check, before anything is sent
        client.background.prepare_input(prompt, model=args.model)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{exc}; check --model", EXIT_USAGE) from None
    if not args.background:
        options: dict[str, Any] = {} if args.timeout is None else {"timeout": args.timeout}
        response = client.responses.create(model=args.model, input=prompt, **options)
        say(f"response id: {response.id}")
        try:
            result = result_of_response(response)
        except UnexpectedStatusError:  # no status on a plain answer: take the text as it is
            print(response.output_text)
            return EXIT_OK
        return print_result(result, details=sys.stderr)

    context.on_interrupt = (
        "The run may or may not have started: check the AI Studio console before trying again."
    )
    background = client.background.create(model=args.model, input=prompt)
    say(f"response id: {background.id}")
    context.on_interrupt = (
        f"The run {background.id} keeps going on the server: see it with "
        f"`yc-responses status {background.id}`, or wait for it with "
        f"`yc-responses status {background.id} --wait`."
    )
    try:
        result = background.wait(args.timeout, on_status=lambda status, _: say(f"status: {status}"))
    except RunTimeoutError as exc:
        last = f"still {exc.status}" if exc.status is not None else "not finished"
        raise CommandError(
            f"run {background.id} is {last} after {args.timeout:g} s; it keeps going on the "
            f"server: wait again with `yc-responses status {background.id} --wait`, or stop it "
            f"with `yc-responses cancel {background.id}`"
        ) from None
    return print_result(result, details=sys.stderr)


def status(args: argparse.Namespace, client: YandexOpenAI, context: Context) -> int:
    """``yc-responses status ID``: the status, and the result once the run has ended."""
    flag = _flag(args)
    context.on_interrupt = (
        f"Stopped waiting; the run keeps going: `yc-responses status {args.id}{flag} --wait`."
    )
    attached = _attach(args, client)
    now = attached.refresh()
    result = attached.wait(on_status=_progress) if args.wait or now.is_terminal else None
    if result is None:
        print(f"status: {now}")
        say(f"it is still running: wait for it with `yc-responses status {args.id}{flag} --wait`")
        return EXIT_NOT_COMPLETED
    print(f"status: {result.status}")
    return print_result(result, details=sys.stdout)


def cancel(args: argparse.Namespace, client: YandexOpenAI, context: Context) -> int:
    """``yc-responses cancel ID``: cancel the run and print the state it ended in."""
    context.on_interrupt = (
        f"The cancel may or may not have been sent: `yc-responses status {args.id}{_flag(args)}`."
    )
    result = _attach(args, client).cancel()  # a run that had ended keeps its result
    print(f"status: {result.status}")
    if not isinstance(result, Cancelled):
        say(f"the run had already ended as {result.status} before the cancel")
    print_result(result, details=sys.stdout)
    return EXIT_OK


def _flag(args: argparse.Namespace) -> str:
    return " --deferred" if args.deferred else ""


def _attach(args: argparse.Namespace, client: YandexOpenAI) -> BackgroundRun | OperationRun:
    """The run ``ID`` names: a background response, or an operation with ``--deferred``."""
    if args.deferred:
        return client.deferred.attach(args.id)
    return client.background.attach(args.id)


def _progress(status: RunStatus, _: object) -> None:
    if not status.is_terminal:
        say(f"status: {status}")


def print_result(result: Any, *, details: TextIO) -> int:
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
