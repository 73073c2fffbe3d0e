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

The modules, one concern each: ``arguments`` (the parser), ``entry`` (``main``),
``commands`` (run, status, cancel), ``batch_command`` and ``batch_files`` (the batch
and its files), ``errors`` (exit codes and messages).
"""

from __future__ import annotations

from .arguments import DEFAULT_MODEL, parser
from .batch_files import BatchLine, output_record, parse_batch_lines
from .entry import main

__all__ = [
    "DEFAULT_MODEL",
    "BatchLine",
    "main",
    "output_record",
    "parse_batch_lines",
    "parser",
]
