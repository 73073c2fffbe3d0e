"""The command's arguments: the parser, its help texts and the types of its options."""

from __future__ import annotations

import argparse
import math

__all__ = ["DEFAULT_MODEL", "parser", "positive_int", "positive_seconds", "run_id"]

DEFAULT_MODEL = "yandexgpt"
"""The model of ``run`` and ``batch`` unless ``--model`` names another."""

_EPILOG = """\
credentials: YC_API_KEY (or YC_IAM_TOKEN) and YC_FOLDER_ID, from the environment or a
.env file in the working directory. Without them, put --emulator before the command
to try it on a built-in emulator (no key, no bill; it starts empty for every command).

exit status: 0 done (the run completed; every line of a batch completed), 1 a run did
not complete (failed, cancelled, incomplete, still going) or the service refused the
request, 2 bad usage, configuration, an unreachable host, or an input file that cannot
be used (a batch of which no line is valid), 130 interrupted. --debug (before the
command) shows the traceback behind an error.

examples:
  yc-responses run "Write a haiku about the Volga"
  yc-responses run --background --timeout 600 "Summarise: ..."
  yc-responses status RESPONSE_ID --wait
  yc-responses batch prompts.jsonl answers.jsonl
  yc-responses --emulator batch examples/prompts.jsonl answers.jsonl
"""

_STATUS_EPILOG = """\
exit status: 0 the run completed (its text is printed), 1 it has not completed: it is
still going (see --wait) or it ended failed, cancelled or incomplete, 2 bad usage or
configuration.
"""

_BATCH_DESCRIPTION = """\
Run every line of IN.jsonl as a background run and write one result line per
input line to OUT.jsonl, in input order.

IN.jsonl holds one JSON object per line (blank lines are skipped):
  input   required: a string, or a list of messages as responses.create takes
  key     optional: a string naming the line in OUT.jsonl (default: its line number)
  model   optional: overrides --model for this line
  ...     any other keyword of responses.create: instructions, max_output_tokens,
          temperature, text, tools, ... (not stream)
With --deferred (the older completionAsync API): messages (a list of {"role",
"text"} or {"role", "content"}, or a string) or input (a string, sent as one user
message), plus temperature, max_tokens, reasoning_mode.

Every line is checked before anything is sent, by the same checks as
client.background.map (client.deferred.map). A line that is not valid is reported
as IN.jsonl:LINE: <reason> and gets status "invalid"; the others run.

OUT.jsonl, written at the end in one piece (a crash never leaves half a file; a
symbolic link is followed, and an existing file keeps its permissions):
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

Exit status: 0 when every line completed, 1 when some did not, 2 when the files
cannot be used or no line is valid."""


def parser() -> argparse.ArgumentParser:
    """The command's arguments (``yc-responses --help``).

    >>> parser().parse_args(["run", "Hi"]).model
    'yandexgpt'
    """
    from yc_responses import __version__

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
    top.add_argument(
        "--debug", action="store_true", help="show the traceback behind an error message"
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
        type=positive_seconds,
        metavar="S",
        help="give up waiting after S seconds (a background run keeps going on the server)",
    )

    status = commands.add_parser(
        "status",
        help="look at a background run",
        description="Look at a background run once and print its status, and its result "
        "when it has ended.",
        epilog=_STATUS_EPILOG,
    )
    status.add_argument(
        "id", metavar="ID", type=run_id, help="a response id (an operation id with --deferred)"
    )
    status.add_argument("--wait", action="store_true", help="wait until the run ends")
    status.add_argument(
        "--deferred", action="store_true", help="ID is an operation of the completionAsync API"
    )

    cancel = commands.add_parser(
        "cancel",
        help="cancel a background run",
        description="Cancel a background run and print the state it ended in.",
    )
    cancel.add_argument(
        "id", metavar="ID", type=run_id, help="a response id (an operation id with --deferred)"
    )
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
        type=positive_int,
        default=None,
        metavar="N",
        help="at most N runs in flight at once (default: as many as the quota and the "
        "durations seen call for)",
    )
    batch.add_argument(
        "--journal",
        metavar="PATH",
        help="the journal that makes the batch resumable (default: OUT.jsonl.journal)",
    )
    batch.add_argument(
        "--run-timeout",
        type=positive_seconds,
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


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above 0.

    >>> positive_seconds("2.5")
    2.5
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not {text}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1.

    >>> positive_int("16")
    16
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run_id(text: str) -> str:
    """An argparse type: the id of a run, not blank.

    >>> run_id(" resp_123 ")
    'resp_123'
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("the id is empty: give the id the run was printed with")
    return text.strip()
