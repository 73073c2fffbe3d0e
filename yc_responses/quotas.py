"""The service's request quotas, as one value both sides agree on.

The batch scheduler keeps under them on the client side; the emulator enforces
them on the server side::

    client.background.map(prompts, model="yandexgpt", quotas=Quotas.documented())
    emu.set_quotas(Quotas.documented())
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Quotas"]


@dataclass(frozen=True)
class Quotas:
    """Request quotas; ``None`` is no limit.

    Creations are background ``responses.create`` and ``completionAsync``; fetches
    are ``responses.retrieve`` (and its event stream) and ``GET /operations/{id}``.

    >>> Quotas.documented().creates_per_second
    10
    >>> Quotas().creates_per_second is None   # no limits
    True
    """

    creates_per_second: int | None = None
    fetches_per_second: int | None = None
    creates_per_hour: int | None = None

    def __post_init__(self) -> None:
        for name in ("creates_per_second", "fetches_per_second", "creates_per_hour"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"Quotas.{name} must be a positive int or None, not {value!r}")

    def create_windows(self) -> list[tuple[int, float]]:
        """The creation limits as ``(requests, window seconds)`` pairs.

        >>> Quotas.documented().create_windows()
        [(10, 1.0), (5000, 3600.0)]
        """
        return _windows((self.creates_per_second, 1.0), (self.creates_per_hour, 3600.0))

    def fetch_windows(self) -> list[tuple[int, float]]:
        """The status-fetch limits as ``(requests, window seconds)`` pairs."""
        return _windows((self.fetches_per_second, 1.0))

    @classmethod
    def documented(cls) -> Quotas:
        """The documented limits: 10 creations/s, 5,000 creations/hour, 50 fetches/s."""
        return cls(creates_per_second=10, fetches_per_second=50, creates_per_hour=5000)


def _windows(*limits: tuple[int | None, float]) -> list[tuple[int, float]]:
    return [(limit, seconds) for limit, seconds in limits if limit is not None]
