"""The files of the ``batch`` command: reading and checking IN.jsonl, writing OUT.jsonl.

Whether an input can be sent is the library's call (``client.background.prepare_input``,
``client.deferred.prepare_input``, the checks ``map`` makes); this module adds what
belongs to the file: JSON lines, keys, line numbers, and OUT written whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import openai

from yc_responses.client import YandexOpenAI
from yc_responses.deferred import Operation
from yc_responses.results import Cancelled, Completed, Failed, Incomplete

from .arguments import DEFAULT_MODEL
from .errors import server_message

__all__ = [
    "BatchLine",
    "Check",
    "Spool",
    "library_check",
    "output_record",
    "parse_batch_lines",
    "unwritable_output",
    "write_atomically",
]

Check = Callable[[Mapping[str, Any]], object]
"""Tells whether one line's keywords can be sent: raises ``ValueError``/``TypeError`` if not."""


@dataclass(frozen=True)
class BatchLine:
    """One non-blank line of a batch input: where it is, its key, and what to send.

    ``request`` holds the create keywords (``None`` when the line is invalid, and
    then ``problem`` says why).
    """

    line: int
    key: str
    request: dict[str, Any] | None = None
    problem: str | None = None


def library_check(*, deferred: bool = False, model: str = DEFAULT_MODEL) -> Check:
    """The library's check of one input, on a client that never sends anything.

    The ``batch`` command checks with its own client; this one serves
    :func:`parse_batch_lines` when no ``check`` is given (no credentials needed).

    >>> library_check()({"input": "Hi", "temperature": 3})
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a number from 0 to 1, not 3
    """
    # explicit settings: no environment read, and the address is never used
    with YandexOpenAI(
        api_key="unused",
        folder_id="folder",
        base_url="http://127.0.0.1:9/v1",
        llm_base_url="http://127.0.0.1:9",
        operation_base_url="http://127.0.0.1:9",
    ) as offline:
        resource = offline.deferred if deferred else offline.background
    return lambda item: resource.prepare_input(item, model=model)


def parse_batch_lines(
    lines: Iterable[str | bytes], *, check: Check | None = None, deferred: bool = False
) -> list[BatchLine]:
    """Check every line of a batch input; blank lines are skipped, line numbers start at 1.

    ``check`` says whether a line's keywords can be sent (default: the library's
    own check, :func:`library_check`); ``deferred`` reads lines of the older API
    (``messages``, or an ``input`` string).

    >>> [b.key for b in parse_batch_lines(['{"input": "Hi"}', "", '{"input": "Yo", "key": "b"}'])]
    ['1', 'b']
    >>> parse_batch_lines(['{"instructions": "Hi"}'])[0].problem
    'no "input": give the prompt text, or a list of messages'
    """
    checked = check if check is not None else library_check(deferred=deferred)
    parsed: list[BatchLine] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        text: str | None
        if isinstance(raw, bytes):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                text = None
        else:
            text = raw.removeprefix("\ufeff") if number == 1 else raw
        if text is not None and not text.strip():
            continue
        key, request, problem = str(number), None, None
        try:
            if text is None:
                raise ValueError("not UTF-8 text")
            key, request = _check_line(text, number, checked, deferred=deferred)
        except ValueError as exc:
            problem = str(exc)
            key = getattr(exc, "key", key)
        earlier = first_seen.setdefault(key, number)
        if earlier != number and problem is None:
            request, problem = None, f"duplicate key {key!r} (first on line {earlier})"
        parsed.append(BatchLine(number, key, request, problem))
    return parsed


class _LineError(ValueError):
    """A problem with a line whose key is known."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def _check_line(
    text: str, number: int, check: Check, *, deferred: bool
) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply to read: flatten the line") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python reads
        raise ValueError(f"not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f'not a JSON object but {_json_type(data)}: write {{"input": ...}}')
    if not _is_text(text, data):
        raise ValueError(
            "holds a lone surrogate (a \\ud800-\\udfff escape without its pair): not text "
            "that can be sent; fix the escape"
        )
    key = data.pop("key", str(number))
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a non-empty string, not {_json_type(key)}")
    try:
        if deferred:
            data = _messages_of_input(data)
        check(data)
    except (ValueError, TypeError) as exc:
        raise _LineError(str(exc), key) from None
    except Exception as exc:  # one odd line is that line's problem, never the batch's
        raise _LineError(f"cannot be sent ({type(exc).__name__}: {exc})", key) from None
    return key, data


def _is_text(text: str, data: object) -> bool:
    """Whether the parsed line is Unicode text throughout (no lone surrogate)."""
    try:
        text.encode("utf-8")
        if "\\u" not in text:  # else a surrogate can only come from an escape
            return True
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    except RecursionError:
        return True  # deep but valid: the check that follows says what is wrong
    return True


def _messages_of_input(data: dict[str, Any]) -> dict[str, Any]:
    """``--deferred`` lines may give ``input``, a string sent as one user message."""
    if ("messages" in data) == ("input" in data):
        raise ValueError('give either "messages" (a list) or "input" (a string), not both')
    if "input" in data:
        prompt = data.pop("input")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("with --deferred, input must be a non-empty string")
        data["messages"] = [{"role": "user", "text": prompt}]
    return data


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def output_record(line: BatchLine, outcome: object = None) -> dict[str, Any]:
    """The OUT.jsonl object of ``line``: from its result, its exception, or its problem.

    >>> output_record(BatchLine(3, "a", problem="not JSON"))["status"]
    'invalid'
    """
    record: dict[str, Any] = {
        "key": line.key,
        "line": line.line,
        "status": "invalid",
        "response_id": None,
        "output_text": None,
        "error": None,
        "usage": None,
    }
    if line.problem is not None:
        record["error"] = {"code": "invalid_input", "message": line.problem}
        return record
    if isinstance(outcome, BaseException):
        record["status"] = "error"
        record["response_id"] = getattr(outcome, "response_id", None)
        record["error"] = {"code": type(outcome).__name__, "message": _exception_text(outcome)}
        return record
    if not isinstance(outcome, Completed | Failed | Cancelled | Incomplete):
        record["status"] = "error"
        record["error"] = {
            "code": "UnexpectedResult",
            "message": f"the batch returned {type(outcome).__name__}, not a result",
        }
        return record
    record["status"] = outcome.status.value
    record["response_id"] = outcome.response_id
    record["usage"] = _usage(outcome.response)
    if isinstance(outcome, Completed):
        record["output_text"] = outcome.output_text
    elif isinstance(outcome, Failed):
        record["error"] = {"code": outcome.error.code, "message": outcome.error.message}
    elif isinstance(outcome, Incomplete):
        record["output_text"] = outcome.output_text
        record["error"] = {
            "code": outcome.reason,
            "message": f"the run stopped early ({outcome.reason}): output_text is partial",
        }
    else:
        record["error"] = {"code": "cancelled", "message": "the run was cancelled"}
    return record


def _exception_text(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {server_message(exc)}"
    return str(exc)


def _usage(response: object) -> dict[str, int] | None:
    """Token counts as ``input_tokens``, ``output_tokens``, ``total_tokens``, if known."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    if isinstance(response, Operation):
        names = ("input_text_tokens", "completion_tokens", "total_tokens")
    else:
        names = ("input_tokens", "output_tokens", "total_tokens")
    values = [getattr(usage, name, None) for name in names]
    counts = [value for value in values if isinstance(value, int)]
    if len(counts) != len(names):
        return None
    return dict(zip(("input_tokens", "output_tokens", "total_tokens"), counts, strict=True))


def unwritable_output(path: str) -> str | None:
    """Why OUT cannot be replaced by a new version of itself, else ``None``.

    A symbolic link is followed (its target is written); a folder, a device, a pipe
    or a socket is never replaced.
    """
    target = os.path.realpath(path)
    if os.path.isdir(target):
        return f"{path} is a folder: give the path of a file"
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot look at {path} ({exc.strerror or exc}): pick another path"
    if not stat.S_ISREG(mode):
        return (
            f"{path} is not a regular file (a device, a pipe or a socket): OUT.jsonl is "
            "written as a whole new file, so give the path of a file"
        )
    return None


def write_atomically(path: str, records: Iterable[dict[str, Any]]) -> None:
    """Write JSON lines to a temporary file beside ``path``, then rename it into place.

    Through a symbolic link the target is written; an existing file keeps its mode
    (a new one gets the usual ``0666`` less the umask); a file that is not a regular
    one is refused (``IsADirectoryError``/``OSError``) and left as it is.
    """
    target = os.path.realpath(path)
    problem = unwritable_output(path)
    if problem is not None:
        raise OSError(problem)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        "w",
        encoding="utf-8",
        errors="backslashreplace",  # a lone surrogate becomes its JSON escape, never a crash
        dir=os.path.dirname(target),
        prefix=f".{os.path.basename(target)}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


class Spool:
    """OUT.jsonl's records kept in a temporary file as runs end, handed back in line
    order: memory holds one offset a line, not the records.

    >>> with Spool(2) as spool:
    ...     spool.put(1, {"line": 2}); spool.put(0, {"line": 1})
    ...     [record["line"] for record in spool.records()]
    [1, 2]
    """

    def __init__(self, count: int, folder: str | None = None) -> None:
        self._file = tempfile.TemporaryFile("w+b", dir=folder)  # noqa: SIM115 - see close()
        self._offsets = array("q", [-1]) * count

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._file.close()

    def put(self, index: int, record: dict[str, Any]) -> None:
        """Keep the record of the ``index``-th line."""
        self._file.seek(0, os.SEEK_END)
        self._offsets[index] = self._file.tell()
        text = json.dumps(record, ensure_ascii=False) + "\n"
        self._file.write(text.encode("utf-8", "backslashreplace"))

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record kept, in line order."""
        for offset in self._offsets:
            if offset >= 0:
                self._file.seek(offset)
                yield json.loads(self._file.readline())


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
