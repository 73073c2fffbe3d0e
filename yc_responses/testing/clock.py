"""The manual clock of the emulator and tests (it lives in :mod:`yc_responses.clock`)."""

from __future__ import annotations

from yc_responses.clock import Clock, ManualClock

__all__ = ["Clock", "ManualClock"]
