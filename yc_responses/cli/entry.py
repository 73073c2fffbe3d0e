"""The entry point: parse the command line, connect, run one command, turn errors into lines.

Every exception ends here as one line on stderr and an exit code (see
:mod:`yc_responses.cli.errors`); ``--debug`` adds its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence

from yc_responses.client import YandexOpenAI
from yc_responses.errors import ConfigurationError

from . import batch_command, commands
from .arguments import parser
from .errors import EXIT_USAGE, CommandError, Context, describe, say

EMULATOR_DURATION = (0.2, 1.5)
"""How long background runs take on the emulator ``--emulator`` starts, in seconds."""

_COMMANDS: dict[str, Callable[[argparse.Namespace, YandexOpenAI, Context], int]] = {
    "run": commands.run,
    "status": commands.status,
    "cancel": commands.cancel,
    "batch": batch_command.batch,
}

_TOP_OPTIONS = frozenset({"--emulator", "--debug"})
"""The options given before the command that take no value."""


def main(argv: Sequence[str] | None = None, *, client: YandexOpenAI | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    ``client`` replaces the client the command would build (from ``YC_*`` settings,
    or the emulator's with ``--emulator``): for embedding and tests.

    >>> main(["--emulator", "run", "Hi"])  # doctest: +SKIP
    0
    """
    words = list(sys.argv[1:] if argv is None else argv)
    context = Context()
    try:
        return _main(words, client, context)
    except (Exception, KeyboardInterrupt) as exc:  # every error ends as one line
        return _fail(exc, context, debug=_before_command(words, "--debug"))


def _main(words: list[str], client: YandexOpenAI | None, context: Context) -> int:
    delegated = _emulator_arguments(words)
    if delegated is not None:
        from yc_responses.testing.__main__ import main as emulator_main

        try:
            return emulator_main(delegated)
        except SystemExit as exc:  # its own usage errors, already said in one line
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        except (OSError, OverflowError, ValueError) as exc:  # a port in use, out of range
            raise CommandError(f"cannot start the emulator: {exc}", EXIT_USAGE) from exc
    args = parser().parse_args(words)
    context.args = args
    with _connect(args, client) as connected:
        context.client = connected
        return _COMMANDS[args.command](args, connected, context)


def _fail(exc: BaseException, context: Context, *, debug: bool) -> int:
    message, code = describe(exc, context)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    say(f"yc-responses: {context.redact(message)}")
    return code


def _before_command(argv: list[str], option: str) -> bool:
    """Whether ``option`` is among the options given before the command."""
    for word in argv:
        if word == option:
            return True
        if word not in _TOP_OPTIONS:
            return False
    return False


def _emulator_arguments(argv: list[str]) -> list[str] | None:
    """The emulator's own arguments when the command is ``emulator``, else ``None``."""
    for index, word in enumerate(argv):
        if word == "emulator":
            return argv[index + 1 :]
        if word not in _TOP_OPTIONS:
            return None
    return None


@contextlib.contextmanager
def _connect(args: argparse.Namespace, client: YandexOpenAI | None) -> Iterator[YandexOpenAI]:
    if client is not None:
        yield client
        return
    if args.emulator:
        from yc_responses.testing import Emulator

        with Emulator(background_duration=EMULATOR_DURATION) as emulator:
            say(
                f"yc-responses: using a built-in emulator at {emulator.base_url}, started for "
                "this command only (nothing is sent to Yandex AI Studio)"
            )
            with emulator.client() as emulated:
                yield emulated
        return
    try:
        real = YandexOpenAI()
    except ConfigurationError as exc:
        raise CommandError(
            f"{exc}, or pass --emulator to try the built-in emulator", EXIT_USAGE
        ) from None
    with real:
        yield real
