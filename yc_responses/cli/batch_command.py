"""The ``batch`` command: check the files, run the valid lines through ``map``, summarise."""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections import Counter
from typing import Any

from yc_responses.batch.progress import FINAL_STATES, STATE_ORDER
from yc_responses.client import YandexOpenAI
from yc_responses.errors import AmbiguousSubmissionError
from yc_responses.journal import Journal, JournalError

from .batch_files import (
    BatchLine,
    output_record,
    parse_batch_lines,
    unwritable_output,
    write_atomically,
)
from .errors import EXIT_NOT_COMPLETED, EXIT_OK, EXIT_USAGE, CommandError, Context, say

_FINISHED = tuple(state for state in STATE_ORDER if state in FINAL_STATES)
_SUMMARY_ORDER = (*_FINISHED[:-1], "invalid", *_FINISHED[-1:])
"""OUT.jsonl's statuses: the batch's final states, with a line that was never sent before
the errors."""


def batch(args: argparse.Namespace, client: YandexOpenAI, context: Context) -> int:
    """``yc-responses batch IN OUT``: every line of IN run once, OUT written whole."""
    started = time.monotonic()
    resource = client.deferred if args.deferred else client.background
    lines = _read_batch(
        args.input,
        check=lambda item: resource.prepare_input(item, model=args.model),
        deferred=args.deferred,
    )
    journal = args.journal or args.output + ".journal"
    _check_output(args.input, args.output, journal)
    valid = [line for line in lines if line.request is not None]
    for line in lines:
        if line.problem is not None:
            say(f"{args.input}:{line.line}: {line.problem}")
    outcomes: list[object] = []
    if valid:
        resuming = os.path.exists(journal)
        with _open_journal(journal) as opened:
            if resuming:
                say(
                    f"resuming from the journal {journal}: finished lines are read from it and "
                    "runs already submitted are attached, none is sent twice (delete it to "
                    "start over)"
                )
                if args.emulator:
                    say(
                        "note: --emulator starts a new emulator, which knows none of the runs "
                        "an earlier command submitted: those lines end as errors (not found)"
                    )
            context.on_interrupt = (
                "Nothing is lost: run the same command again to resume from the journal "
                f"{journal} (runs already submitted are attached, not sent again)."
            )
            outcomes = _run(args, client, valid, opened)
    by_line = dict(zip((line.line for line in valid), outcomes, strict=True))
    records = [output_record(line, by_line.get(line.line)) for line in lines]
    for record in records:
        if record["error"] is not None:
            record["error"]["message"] = context.redact(record["error"]["message"])
    try:
        write_atomically(args.output, records)
    except OSError as exc:
        raise CommandError(
            f"cannot write {args.output} ({exc.strerror or exc}); the results are kept in "
            f"the journal {journal}: fix the path and run the same command again"
        ) from None
    _summarise(records, args.output, journal, time.monotonic() - started)
    if not valid:
        say(f"no line of {args.input} is valid: fix the lines above and run the command again")
        return EXIT_USAGE
    done = all(record["status"] == "completed" for record in records)
    return EXIT_OK if done else EXIT_NOT_COMPLETED


def _open_journal(journal: str) -> Journal:
    try:
        return Journal(journal)
    except (JournalError, sqlite3.OperationalError):
        raise  # in use, not a journal, read-only: the command's error line says so
    except sqlite3.DatabaseError as exc:
        raise CommandError(
            f"{journal} is not a batch journal ({exc}): name another with --journal",
            EXIT_USAGE,
        ) from None


def _run(
    args: argparse.Namespace, client: YandexOpenAI, valid: list[BatchLine], opened: Journal
) -> list[object]:
    """The outcome of every valid line, in order, through the library's ``map``."""
    requests = [line.request for line in valid if line.request is not None]
    options: dict[str, Any] = {
        "model": args.model,
        "keys": [line.key for line in valid],
        "concurrency": args.concurrency,
        "journal": opened,
        "progress": False if args.no_progress else None,
        "resubmit_ambiguous": args.resubmit_ambiguous,
        "run_timeout": args.run_timeout,
    }
    if args.deferred:
        return list(client.deferred.map(requests, return_exceptions=True, **options))
    return list(client.background.map(requests, return_exceptions=True, **options))


def _read_batch(path: str, **parse: Any) -> list[BatchLine]:
    try:
        with open(path, "rb") as source:
            lines = parse_batch_lines(source.read().splitlines(), **parse)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}", EXIT_USAGE) from None
    if not lines:
        raise CommandError(f"{path} holds no prompts: write one JSON object a line", EXIT_USAGE)
    return lines


def _check_output(source: str, output: str, journal: str) -> None:
    """Fail before anything is sent if the results could not be written."""
    problem = unwritable_output(output)
    if problem is not None:
        raise CommandError(problem, EXIT_USAGE)
    if os.path.realpath(output) == os.path.realpath(journal):
        raise CommandError(
            f"the journal and OUT.jsonl are both {output}: name another --journal", EXIT_USAGE
        )
    for path, what in ((output, "OUT.jsonl"), (journal, "the journal")):
        if os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
            raise CommandError(f"{what} is the input file {source}: name another", EXIT_USAGE)
        directory = os.path.dirname(os.path.realpath(path))
        if not os.path.isdir(directory):
            raise CommandError(
                f"the folder of {path} does not exist: create {directory} first", EXIT_USAGE
            )
        if not os.access(directory, os.W_OK):
            raise CommandError(f"cannot write to {directory}: pick another path", EXIT_USAGE)


def _summarise(records: list[dict[str, Any]], output: str, journal: str, seconds: float) -> None:
    counts = Counter(record["status"] for record in records)
    parts = ", ".join(f"{counts[status]} {status}" for status in _SUMMARY_ORDER if counts[status])
    tokens = [record["usage"] for record in records if record["usage"] is not None]
    usage = ""
    if tokens:
        total_in = sum(u["input_tokens"] for u in tokens)
        total_out = sum(u["output_tokens"] for u in tokens)
        usage = f"; tokens: {total_in} in, {total_out} out"
    say(f"{len(records)} lines in {seconds:.1f} s: {parts}{usage}; wrote {output}")
    ambiguous = sum(
        1
        for record in records
        if record["error"] is not None
        and record["error"]["code"] == AmbiguousSubmissionError.__name__
    )
    if ambiguous:
        say(
            f"{ambiguous} line(s) may have been started without an id coming back: check the "
            "AI Studio console, then send them again with --resubmit-ambiguous if needed"
        )
    if counts["completed"] < len(records) and counts["invalid"] < len(records):
        say(
            f"the journal {journal} keeps every finished run: running the same command again "
            "reads them from it instead of paying for them twice"
        )
