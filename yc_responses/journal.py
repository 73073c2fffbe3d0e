"""The batch journal under its first import path (it lives in :mod:`yc_responses.batch.journal`)."""

from __future__ import annotations

from .batch.journal import (
    SUBMITTING,
    Journal,
    JournalEntry,
    JournalError,
    JournalInUseError,
    JournalMismatchError,
)

__all__ = [
    "SUBMITTING",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalInUseError",
    "JournalMismatchError",
]
