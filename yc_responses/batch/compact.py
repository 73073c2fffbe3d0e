"""Finished results kept small while a ``map`` holds them: a result's payload is kept as
its JSON text (what the journal saves) and built again each time it is read.

A compact result is an instance of its result class (``Completed``, ``Failed``, ...)
with every field as it was; only ``response`` is read from the text on access, and
it compares equal to the original::

    small = compact(result, kind.dump(result.response), kind.load)
    small == result, isinstance(small, Completed)    # True, True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from yc_responses.results import AnyRunResult, Cancelled, Completed, Failed, Incomplete

__all__ = ["compact"]

S = TypeVar("S")


class _Compact:
    """What the compact classes add: ``response`` built from ``_text``."""

    _base: type
    _text: str
    _load: Callable[[str], Any]

    @property
    def response(self) -> Any:
        """The run's final payload, built from its JSON text."""
        return self._load(self._text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, self._base):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(self._base)]
        return all(getattr(self, name) == getattr(other, name) for name in names)

    __hash__ = None  # type: ignore[assignment]  # as the results: their payloads are unhashable

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the plain result, payload and all."""
        fields = dataclasses.fields(self._base)
        return (self._base, tuple(getattr(self, f.name) for f in fields if f.init))


_CLASSES: dict[type, type] = {
    base: type(base.__name__, (_Compact, base), {"_base": base, "__module__": base.__module__})
    for base in (Completed, Failed, Cancelled, Incomplete)
}


def compact(result: AnyRunResult[S], text: str, load: Callable[[str], S]) -> AnyRunResult[S]:
    """``result`` with its payload kept as ``text`` (``load`` builds it back); a result of
    another class, as it is."""
    kind = _CLASSES.get(type(result))
    if kind is None:
        return result
    small: Any = object.__new__(kind)
    for field in dataclasses.fields(result):
        if field.name != "response":
            object.__setattr__(small, field.name, getattr(result, field.name))
    object.__setattr__(small, "_text", text)
    object.__setattr__(small, "_load", load)
    out: AnyRunResult[S] = small
    return out
