"""Many runs at once: bounded concurrency, client-side quotas, progress, a crash-safe journal.

``client.background.map`` (and ``client.deferred.map``) hand a list of inputs to
one scheduler, whose decisions are pure (:mod:`.engine`), carried out by a sync or
an async driver (:mod:`.drivers`)::

    results = client.background.map(prompts, model="yandexgpt", journal="batch.sqlite")
    for result in results:           # in input order
        print(result.status, result.unwrap() if result.status.is_succeeded else "")

``imap`` hands results out as runs end and reads its inputs lazily. The same call
with the same journal after a crash (even ``kill -9``) resumes: inputs already
submitted are attached, never submitted again; finished ones are read from the
journal (:mod:`.journal`). How many runs go at once is :mod:`.pace`; progress is
:mod:`.progress`; input checks, keys and fingerprints :mod:`.inputs`; the rate
limiter lives with ``Quotas`` in :mod:`yc_responses.quotas`.
"""

from __future__ import annotations

from yc_responses.quotas import WINDOW_MARGIN, RateLimiter

from .drivers import Batch, batch_engine, finish, run_async, run_sync
from .engine import BatchEngine
from .errors import BatchError, UnreadableAnswerError
from .inputs import BatchSource, fingerprint, prepare
from .journal import (
    SUBMITTING,
    Journal,
    JournalEntry,
    JournalError,
    JournalInUseError,
    JournalMismatchError,
)
from .progress import STATE_ORDER, BatchProgress, ProgressCallback, progress_reporter

__all__ = [
    "STATE_ORDER",
    "SUBMITTING",
    "WINDOW_MARGIN",
    "Batch",
    "BatchEngine",
    "BatchError",
    "BatchProgress",
    "BatchSource",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalInUseError",
    "JournalMismatchError",
    "ProgressCallback",
    "RateLimiter",
    "UnreadableAnswerError",
    "batch_engine",
    "fingerprint",
    "finish",
    "prepare",
    "progress_reporter",
    "run_async",
    "run_sync",
]
