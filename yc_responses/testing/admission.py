"""What happens to a request before the service sees it: injected faults and quotas.

:class:`FaultRules` picks the fault (if any) that breaks a request of a route;
:class:`QuotaWindows` counts requests on the emulator's clock and refuses those
over a quota with a 429.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Literal

from .scenarios import ROUTES, Fault, Quotas, Route
from .wire import ServiceError

__all__ = ["FaultRules", "QuotaWindows", "fault_message"]

_CREATE_ROUTES: frozenset[str] = frozenset({"responses.create", "operations.create"})
_FETCH_ROUTES: frozenset[str] = frozenset(
    {"responses.retrieve", "responses.stream", "operations.get"}
)


@dataclass
class _FaultRule:
    fault: Fault
    route: str
    times: int | None
    rate: float | None
    skip: int


class FaultRules:
    """Faults injected per route, by count (after a skip) or by a seeded rate."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 (determinism, not security)
        self._rules: list[_FaultRule] = []

    def add(
        self,
        fault: Fault,
        *,
        route: Route | Literal["*"] = "*",
        times: int | None = None,
        rate: float | None = None,
        skip: int = 0,
    ) -> None:
        """Break requests of ``route`` with ``fault`` (see ``Emulator.inject``)."""
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: expected '*' or one of {ROUTES}")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
        self._rules.append(_FaultRule(fault, route, times, rate, skip))

    def clear(self) -> None:
        """Remove every rule."""
        self._rules.clear()

    def pick(self, route: str) -> Fault | None:
        """The fault that breaks this request of ``route``, counting it against the rules."""
        for rule in self._rules:
            if rule.route not in ("*", route):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            if rule.times is not None:
                if rule.times <= 0:
                    continue
                rule.times -= 1
                return rule.fault
            if rule.rate is not None:
                if self._rng.random() < rule.rate:
                    return rule.fault
                continue
            return rule.fault
        return None


class _Window:
    """A sliding-window counter on the emulator's clock."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.hits: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self.hits and self.hits[0] <= now - self.seconds:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return False
        self.hits.append(now)
        return True


class QuotaWindows:
    """The quotas of creations and of status fetches, as sliding windows."""

    def __init__(self, quotas: Quotas | None = None) -> None:
        quotas = quotas if quotas is not None else Quotas()
        self._windows = {
            "create": [_Window(n, seconds) for n, seconds in quotas.create_windows()],
            "fetch": [_Window(n, seconds) for n, seconds in quotas.fetch_windows()],
        }

    def check(self, route: str, now: float) -> None:
        """Count a request of ``route``; a 429 :class:`ServiceError` when over a quota."""
        group = "create" if route in _CREATE_ROUTES else "fetch" if route in _FETCH_ROUTES else None
        if group is None:
            return
        for window in self._windows[group]:
            if not window.admit(now):
                per = "second" if window.seconds == 1.0 else "hour"
                raise ServiceError(
                    429, f"quota exceeded: at most {window.limit} requests of this kind per {per}"
                )


def fault_message(status: int) -> str:
    """The message of an injected error status."""
    if status == 429:
        return "too many requests: the rate limit is exceeded, retry later"
    if status == 503:
        return "the service is temporarily unavailable"
    if status >= 500:
        return "internal server error"
    return "the request was rejected"
