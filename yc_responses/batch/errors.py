"""What a batch raises: the whole batch's :class:`BatchError`, one input's unreadable answer
(and how that is kept in the journal)."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx2
import openai
from pydantic_core import to_jsonable_python

from yc_responses.errors import UnexpectedStatusError, YCResponsesError

if TYPE_CHECKING:
    from .journal import JournalEntry

__all__ = [
    "BatchError",
    "UnreadableAnswerError",
    "error_from_journal",
    "error_to_journal",
    "unreadable_answer",
]


class BatchError(YCResponsesError):
    """Some inputs of a batch got no result; every other result is on :attr:`results`.

    ``results[i]`` is the typed result of input ``i`` or the exception that kept it
    from having one; :attr:`errors` maps those positions to their exceptions. Pass
    ``return_exceptions=True`` to ``map`` to get the list instead of this error.
    """

    def __init__(self, results: list[Any], errors: dict[int, Exception]) -> None:
        self.results = results
        self.errors = errors
        kinds = Counter(type(exc).__name__ for exc in errors.values())
        position, first = next(iter(errors.items()))
        described = ", ".join(f"{n} {name}" for name, n in kinds.most_common())
        super().__init__(
            f"{len(errors)} of {len(results)} inputs got no result ({described}); input "
            f"{position}: {first}. The results of the others are on .results"
        )


class UnreadableAnswerError(UnexpectedStatusError):
    """The service answered one input of a batch with something the library cannot read
    (no id, a malformed response, another run's id): that input's error, the others go on.

    ``raw`` is the answer as received (or its text, when read back from the journal),
    ``response_id`` the run's id where there is one, ``key`` the input's key. The
    journal records it as finished, so running the batch again does not fail on it.

    >>> error = UnreadableAnswerError("the creation answer has no id", raw=[], key="3")
    >>> error.key, error.response_id
    ('3', None)
    """

    def __init__(
        self, message: str, *, raw: object, response_id: str | None = None, key: str | None = None
    ) -> None:
        self.key = key
        self.reason = message
        where = f"input {key!r}: " if key is not None else ""
        super().__init__(f"{where}{message}", raw=raw, response_id=response_id)


def unreadable_answer(exc: Exception) -> bool:
    """Whether a failed look failed on the answer itself (a malformed body, a status the
    library cannot read), not on the way to the server."""
    if isinstance(exc, UnexpectedStatusError):
        return True
    return not isinstance(exc, openai.OpenAIError | httpx2.HTTPError | OSError)


def error_to_journal(error: UnreadableAnswerError) -> str:
    """``error`` as the journal keeps it: JSON text of its reason and raw answer."""
    raw = to_jsonable_python(error.raw, fallback=repr)
    return json.dumps({"error": error.reason, "raw": raw}, ensure_ascii=True, default=repr)


def error_from_journal(entry: JournalEntry) -> UnreadableAnswerError:
    """The error :func:`error_to_journal` kept in ``entry``."""
    assert entry.result is not None
    try:
        saved = json.loads(entry.result)
        reason, raw = str(saved["error"]), saved.get("raw")
    except (ValueError, TypeError, KeyError):
        reason, raw = "an answer of an earlier run of this batch cannot be read", entry.result
    return UnreadableAnswerError(reason, raw=raw, response_id=entry.run_id, key=entry.key)
