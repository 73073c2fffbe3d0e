"""Preparing a batch's inputs: the kind of job's protocol, checks, keys, fingerprints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic_core import to_jsonable_python

if TYPE_CHECKING:
    from yc_responses.results import AnyRunResult
    from yc_responses.status import RunStatus

__all__ = ["BatchSource", "fingerprint", "prepare", "prepare_lazily", "refuse_single"]

S = TypeVar("S")
"""A snapshot of one run: a ``Response``, or an ``Operation`` of the older API."""


class BatchSource(Protocol[S]):
    """What the engine needs to know of one kind of run (pure: no requests)."""

    def status(self, snapshot: S, /) -> RunStatus:
        """A snapshot's status; ``UnexpectedStatusError`` when it cannot tell."""
        ...

    def result(self, snapshot: S, /) -> AnyRunResult[S]:
        """The typed result of a terminal snapshot."""
        ...

    @property
    def resource(self) -> str:
        """Where a run is attached to again: ``background`` or ``deferred``."""
        ...

    @property
    def scope(self) -> str:
        """What else makes two equal inputs different runs (the folder): part of the
        fingerprint, so a journal is not resumed against another folder."""
        ...

    def prepare(self, item: str | Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
        """The keywords of one creation; raises ``ValueError``/``TypeError`` for bad input."""
        ...

    def run_id(self, snapshot: S, /) -> str:
        """The id of a created run."""
        ...

    def dump(self, snapshot: S, /) -> str:
        """A snapshot as JSON text, for the journal."""
        ...

    def load(self, text: str, /) -> S:
        """A snapshot back from :meth:`dump`'s text."""
        ...


def fingerprint(params: Mapping[str, Any]) -> str:
    """A stable digest of one input's creation keywords.

    Text that cannot be encoded as it is (a lone surrogate such as ``"\\ud800"``)
    is digested by its code points, so no input makes it fail; every other input
    keeps the digest of its UTF-8 JSON text.

    >>> fingerprint({"input": "Hi", "model": "yandexgpt"}) == fingerprint(
    ...     {"model": "yandexgpt", "input": "Hi"})
    True
    >>> len(fingerprint({"input": "\\ud800"}))
    64
    """
    text = json.dumps(params, sort_keys=True, default=to_jsonable_python, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def prepare(
    source: BatchSource[S],
    inputs: Iterable[str | Mapping[str, Any]],
    defaults: Mapping[str, Any],
    keys: Sequence[str] | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every input's creation keywords and key; nothing is sent if any input is bad."""
    refuse_single(inputs)
    params = [_prepared(source, position, item, defaults) for position, item in enumerate(inputs)]
    if keys is None:
        return params, [str(position) for position in range(len(params))]
    keys = [str(key) for key in keys]
    if len(keys) != len(params):
        raise ValueError(f"keys= has {len(keys)} keys for {len(params)} inputs: give one each")
    seen: dict[str, int] = {}
    for position, key in enumerate(keys):
        _check_key(key, position, seen)
    return params, keys


def prepare_lazily(
    source: BatchSource[S],
    inputs: Iterable[str | Mapping[str, Any]],
    defaults: Mapping[str, Any],
    keys: Iterable[str] | None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each input's key and creation keywords, checked as it is taken (for ``imap``):
    a bad input raises when it is reached, after the ones before it were sent."""
    refuse_single(inputs)
    given = None if keys is None else iter(keys)
    seen: dict[str, int] = {}
    for position, item in enumerate(inputs):
        params = _prepared(source, position, item, defaults)
        if given is None:
            yield str(position), params
            continue
        key = next(given, None)
        if key is None:
            raise ValueError(f"keys= has {position} keys for more inputs: give one each")
        _check_key(str(key), position, seen)
        yield str(key), params


def refuse_single(inputs: object) -> None:
    """Refuse one input given where a list of them belongs."""
    if isinstance(inputs, str | bytes | Mapping):
        raise TypeError(
            f"map() takes a list of inputs, not one {type(inputs).__name__}: "
            "write map([text], ...) for a single input"
        )


def _prepared(
    source: BatchSource[S], position: int, item: object, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    if not isinstance(item, str | Mapping):
        raise TypeError(
            f"input {position} is a {type(item).__name__}: give a string, or a dict of "
            "creation keywords"
        )
    try:
        return source.prepare(item, defaults)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"input {position}: {exc}") from None


def _check_key(key: str, position: int, seen: dict[str, int]) -> None:
    if _unencodable(key):
        raise ValueError(
            f"keys= has a key with a lone surrogate at input {position} ({key!r}): "
            "a journal cannot store it; give keys of plain text"
        )
    if key in seen:
        raise ValueError(f"keys= repeats {key!r} (inputs {seen[key]} and {position})")
    seen[key] = position


def _unencodable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, which no file or database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
