"""The ``batch`` command: check the files, run the valid lines through ``imap``, summarise."""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from yc_responses.batch.progress import FINAL_STATES, STATE_ORDER
from yc_responses.client import YandexOpenAI
from yc_responses.errors import AmbiguousSubmissionError
from yc_responses.journal import Journal, JournalError

from .batch_files import (
    BatchLine,
    Spool,
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
    """``yc-responses batch IN OUT``: every line of IN run once, OUT written whole (its
    records kept in a temporary file as runs end, not in memory)."""
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
    where = {line.line: index for index, line in enumerate(lines)}
    spool = Spool(len(lines), os.path.dirname(os.path.realpath(args.output)))
    for index, line in enumerate(lines):
        if line.request is None:
            spool.put(index, output_record(line))
    with spool:
        if valid:
            _run_valid(args, client, context, valid, journal, spool, where)
        summary = Summary()
        try:
            write_atomically(args.output, summary.tally(spool.records()))
        except OSError as exc:
            raise CommandError(
                f"cannot write {args.output} ({exc.strerror or exc}); the results are kept in "
                f"the journal {journal}: fix the path and run the same command again"
            ) from None
    summary.say(args.output, journal, time.monotonic() - started)
    if not valid:
        say(f"no line of {args.input} is valid: fix the lines above and run the command again")
        return EXIT_USAGE
    return EXIT_OK if summary.all_completed else EXIT_NOT_COMPLETED


def _run_valid(
    args: argparse.Namespace,
    client: YandexOpenAI,
    context: Context,
    valid: list[BatchLine],
    journal: str,
    spool: Spool,
    where: dict[int, int],
) -> None:
    """Run the valid lines, keeping each one's record in ``spool`` as its run ends."""
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
            for index, outcome in _run(args, client, valid, opened):
                line = valid[index]
                record = output_record(line, outcome)
                if record["error"] is not None:
                    record["error"]["message"] = context.redact(record["error"]["message"])
                spool.put(where[line.line], record)


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
) -> Iterator[tuple[int, object]]:
    """``(index in valid, outcome)`` of every valid line as its run ends, through the
    library's ``imap``."""
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
    resource = client.deferred if args.deferred else client.background
    pairs: Iterator[tuple[int, object]] = resource.imap(requests, **options)
    return pairs


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


class Summary:
    """What the closing lines say, counted as OUT's records go by."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lines = 0
        self.tokens: list[int] | None = None
        self.ambiguous = 0

    @property
    def all_completed(self) -> bool:
        """Every line's run completed."""
        return self.counts["completed"] == self.lines

    def tally(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``records`` as they are, each one counted."""
        for record in records:
            self.lines += 1
            self.counts[record["status"]] += 1
            usage = record["usage"]
            if usage is not None:
                totals = self.tokens or [0, 0]
                self.tokens = [
                    totals[0] + usage["input_tokens"],
                    totals[1] + usage["output_tokens"],
                ]
            error = record["error"]
            if error is not None and error["code"] == AmbiguousSubmissionError.__name__:
                self.ambiguous += 1
            yield record

    def say(self, output: str, journal: str, seconds: float) -> None:
        """Print the summary lines."""
        counts = self.counts
        parts = ", ".join(
            f"{counts[status]} {status}" for status in _SUMMARY_ORDER if counts[status]
        )
        usage = ""
        if self.tokens is not None:
            usage = f"; tokens: {self.tokens[0]} in, {self.tokens[1]} out"
        say(f"{self.lines} lines in {seconds:.1f} s: {parts}{usage}; wrote {output}")
        if self.ambiguous:
            say(
                f"{self.ambiguous} line(s) may have been started without an id coming back: "
                "check the AI Studio console, then send them again with --resubmit-ambiguous "
                "if needed"
            )
        if counts["completed"] < self.lines and counts["invalid"] < self.lines:
            say(
                f"the journal {journal} keeps every finished run: running the same command "
                "again reads them from it instead of paying for them twice"
            )
