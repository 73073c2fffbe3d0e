"""The ``yc-responses`` command, run in-process through ``main([...])`` against the emulator.

The emulator reads the manual clock ``yc_clock`` and the client the command gets
sleeps on it, so background runs of minutes end at once, with no real sleeping.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sysconfig
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from yc_responses import (
    AmbiguousSubmissionError,
    Deferred,
    Journal,
    YandexOpenAI,
)
from yc_responses.cli import BatchLine, main, output_record, parse_batch_lines
from yc_responses.testing import Emulator, Fault, ManualClock, Outcome

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def client(yc_emulator: Emulator, yc_clock: ManualClock) -> Iterator[YandexOpenAI]:
    """A client of ``yc_emulator`` whose waits sleep on ``yc_clock`` (no real sleeping)."""
    with yc_emulator.client() as bound:
        _sleep_on(bound, yc_clock, yc_clock.sleep)
        yield bound


def _sleep_on(client: YandexOpenAI, clock: ManualClock, sleep: Callable[[float], None]) -> None:
    client.__dict__["background"] = client.background.with_options(clock=clock, sleep=sleep)
    client.__dict__["deferred"] = Deferred(client, clock=clock, sleep=sleep)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(client: YandexOpenAI, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("run", "Hi")`` -> (exit status, stdout, stderr), on the emulator's client."""

    def run(*argv: str, bound: YandexOpenAI | None = client) -> tuple[int, str, str]:
        code = main(list(argv), client=bound)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return code, captured.out, captured.err

    return run


# --- help --------------------------------------------------------------------------------


def test_help_lists_the_commands_and_the_emulator_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for word in ("run", "status", "cancel", "batch", "emulator", "--emulator", "YC_API_KEY"):
        assert word in out


def test_batch_help_explains_the_format_and_resuming(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    out = capsys.readouterr().out
    for text in ("IN.jsonl", "OUT.jsonl.journal", "same command again", "invalid", "--deferred"):
        assert text in out


# --- run -----------------------------------------------------------------------------------


def test_run_prints_the_answer_and_the_id(cli: Run, yc_emulator: Emulator) -> None:
    yc_emulator.script(Outcome.completed("Paris"))
    code, out, err = cli("run", "Capital of France?")
    assert (code, out) == (0, "Paris\n")
    assert "response id: " in err


def test_run_reads_the_prompt_from_stdin(
    cli: Run, yc_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    yc_emulator.on_input("from a pipe", Outcome.completed("piped"))
    monkeypatch.setattr("sys.stdin", io.StringIO("from a pipe"))
    assert cli("run", "-")[:2] == (0, "piped\n")


def test_an_empty_prompt_is_refused(cli: Run, yc_emulator: Emulator) -> None:
    code, _, err = cli("run", "  ")
    assert code == 2
    assert "the prompt is empty" in err
    assert yc_emulator.stats.creations == 0


def test_a_plain_answer_cut_short_prints_the_partial_text(cli: Run, yc_emulator: Emulator) -> None:
    yc_emulator.script(Outcome.incomplete("max_output_tokens", "Once upon"))
    code, out, err = cli("run", "Tell a story")
    assert (code, out) == (1, "Once upon\n")
    assert "incomplete: max_output_tokens" in err


def test_run_in_the_background_prints_statuses_then_the_text(
    cli: Run, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("A long essay.", after=120))
    code, out, err = cli("run", "--background", "Write an essay")
    assert (code, out) == (0, "A long essay.\n")
    lines = err.splitlines()
    assert lines[0].startswith("response id: ")
    assert lines[1:] == ["status: queued", "status: in_progress", "status: completed"]
    assert yc_clock() >= 120  # two minutes passed on the manual clock, none for real


def test_a_failed_background_run_prints_code_and_message(cli: Run, yc_emulator: Emulator) -> None:
    yc_emulator.script(Outcome.failed("invalid_prompt", "the prompt is too long", after=5))
    code, out, err = cli("run", "--background", "Hi")
    assert (code, out) == (1, "")
    assert "error: invalid_prompt: the prompt is too long" in err


def test_an_incomplete_background_run_prints_reason_and_partial_text(
    cli: Run, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.incomplete("content_filter", "Well,", after=5))
    code, out, err = cli("run", "--background", "Hi")
    assert (code, out) == (1, "Well,\n")
    assert "incomplete: content_filter" in err


def test_a_background_run_past_its_timeout_says_how_to_come_back(
    cli: Run, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.never())
    code, out, err = cli("run", "--background", "--timeout", "30", "Hi")
    run_id = err.splitlines()[0].removeprefix("response id: ")
    assert (code, out) == (1, "")
    assert f"yc-responses status {run_id} --wait" in err
    assert f"yc-responses cancel {run_id}" in err
    assert yc_emulator.status_of(run_id) == "in_progress"  # not cancelled behind the user's back


def test_ctrl_c_during_a_background_wait_says_how_to_resume(
    yc_emulator: Emulator, yc_clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    yc_emulator.script(Outcome.completed("late", after=60))
    with yc_emulator.client() as client:
        _sleep_on(client, yc_clock, interrupted)
        code = main(["run", "--background", "Hi"], client=client)
    err = capsys.readouterr().err
    run_id = err.splitlines()[0].removeprefix("response id: ")
    assert code == 130
    assert f"yc-responses status {run_id}`" in err
    assert f"yc-responses status {run_id} --wait" in err
    assert "Traceback" not in err


# --- status and cancel ---------------------------------------------------------------------


def test_status_looks_once_at_a_running_run(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.never())
    run = client.background.create(model="yandexgpt", input="Hi")
    code, out, err = cli("status", run.id)
    assert (code, out) == (1, "status: in_progress\n")
    assert f"yc-responses status {run.id} --wait" in err
    assert yc_emulator.stats.requests["responses.retrieve"] == 1


def test_status_of_an_ended_run_prints_its_result(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.completed("done"), Outcome.failed("server_error", "boom"))
    completed = client.background.create(model="yandexgpt", input="one")
    failed = client.background.create(model="yandexgpt", input="two")
    assert cli("status", completed.id)[:2] == (0, "status: completed\ndone\n")
    assert cli("status", failed.id)[:2] == (1, "status: failed\nerror: server_error: boom\n")


def test_status_wait_waits_for_the_end(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.completed("finally", after=300, queued=0))
    run = client.background.create(model="yandexgpt", input="Hi")
    code, out, err = cli("status", run.id, "--wait")
    assert (code, out) == (0, "status: completed\nfinally\n")
    assert "status: in_progress" in err


def test_status_of_an_operation_of_the_older_api(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.completed("Быть или не быть", after=30))
    operation = client.deferred.create(model="yandexgpt-lite", messages="To be, or not to be")
    assert cli("status", operation.id, "--deferred")[:2] == (1, "status: in_progress\n")
    code, out, _ = cli("status", operation.id, "--deferred", "--wait")
    assert (code, out) == (0, "status: completed\nБыть или не быть\n")


def test_cancel_prints_the_terminal_state(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.never())
    run = client.background.create(model="yandexgpt", input="Hi")
    code, out, _ = cli("cancel", run.id)
    assert code == 0
    assert out.startswith("status: cancelled\n")
    assert yc_emulator.status_of(run.id) == "cancelled"


def test_cancel_of_a_finished_run_shows_how_it_ended(
    cli: Run, client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.completed("too late"), Outcome.completed("also late"))
    run = client.background.create(model="yandexgpt", input="Hi")
    operation = client.deferred.create(model="yandexgpt", messages="Hi")
    for argv in (["cancel", run.id], ["cancel", operation.id, "--deferred"]):
        code, out, err = cli(*argv)
        assert code == 0
        assert out.startswith("status: completed\n")
        assert "already ended as completed" in err


def test_cancel_an_operation(cli: Run, client: YandexOpenAI, yc_emulator: Emulator) -> None:
    yc_emulator.script(Outcome.never())
    operation = client.deferred.create(model="yandexgpt", messages="Hi")
    assert cli("cancel", operation.id, "--deferred")[:2] == (
        0,
        "status: cancelled\n",
    )


# --- errors the user can act on -------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["status", "resp_nope"], "needs --deferred"),
        (["status", "d7qnope", "--deferred"], "needs no --deferred"),
        (["cancel", "resp_nope"], "check the response id"),
    ],
)
def test_an_unknown_id_is_one_clear_line(cli: Run, argv: list[str], hint: str) -> None:
    code, out, err = cli(*argv)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert "not found (HTTP 404" in err
    assert hint in err


def test_refused_credentials_are_one_line_without_the_secret(
    cli: Run, yc_emulator: Emulator
) -> None:
    with yc_emulator.client(api_key="not-the-right-key-1234", max_retries=0) as wrong:
        code, out, err = cli("run", "Hi", bound=wrong)
    assert (code, out) == (1, "")
    assert "refused the credentials (HTTP 401" in err
    assert "YC_API_KEY" in err
    assert "not-the-right-key-1234" not in err


def test_an_unknown_model_is_one_clear_line(cli: Run) -> None:
    code, _, err = cli("run", "--model", "no-such-model", "Hi")
    assert code == 1
    assert "check --model" in err


def test_missing_credentials_suggest_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "Hi"])
    err = capsys.readouterr().err
    assert code == 2
    assert "YC_API_KEY" in err
    assert "or pass --emulator to try the built-in emulator" in err
    assert "Traceback" not in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--timeout", "soon", "Hi"])
    assert exited.value.code == 2
    assert "not a number of seconds" in capsys.readouterr().err


# --- where the client comes from -------------------------------------------------------------


def test_without_a_client_the_yc_settings_are_used(
    yc_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("YC_API_KEY", yc_emulator.api_key)
    monkeypatch.setenv("YC_FOLDER_ID", yc_emulator.folder_id)
    monkeypatch.setenv("YC_BASE_URL", yc_emulator.base_url)
    yc_emulator.script(Outcome.completed("from the settings"))
    assert main(["run", "Hi"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "from the settings\n"
    assert yc_emulator.api_key not in captured.err


def test_the_emulator_option_needs_no_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "run", "Hi"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "Emulated answer to: Hi\n"
    assert "using a built-in emulator" in captured.err


def test_the_emulator_command_is_the_emulators_own(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def serve(argv: list[str]) -> int:
        seen.append(argv)
        return 0

    monkeypatch.setattr("yc_responses.testing.__main__.main", serve)
    assert main(["emulator", "--port", "8080", "--seed", "3", "--quotas"]) == 0
    assert seen == [["--port", "8080", "--seed", "3", "--quotas"]]


def test_the_emulator_command_has_the_emulators_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    out = capsys.readouterr().out
    assert "yc-responses emulator" in out
    assert "--background-duration" in out


# --- batch input: every line is checked before anything is sent -----------------------------


def _problems(lines: list[str], *, deferred: bool = False) -> dict[int, str | None]:
    return {b.line: b.problem for b in parse_batch_lines(lines, deferred=deferred)}


def test_valid_lines_keep_their_keywords_and_get_keys() -> None:
    parsed = parse_batch_lines(
        [
            '{"input": "Hi"}',
            "",
            '{"key": "b", "input": [{"role": "user", "content": "Yo"}], "model": "yandexgpt-lite",'
            ' "instructions": "Be brief", "max_output_tokens": 50, "temperature": 0.3}',
        ]
    )
    assert parsed == [
        BatchLine(1, "1", {"input": "Hi"}),
        BatchLine(
            3,
            "b",
            {
                "input": [{"role": "user", "content": "Yo"}],
                "model": "yandexgpt-lite",
                "instructions": "Be brief",
                "max_output_tokens": 50,
                "temperature": 0.3,
            },
        ),
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ('["Hi"]', "not a JSON object but a list"),
        ('{"question": "Hi"}', "takes no 'question'"),
        ('{"instructions": "Be brief"}', 'no "input"'),
        ('{"input": 42}', "input must be a string or a list of messages, not int"),
        ('{"input": ""}', "input is empty"),
        ('{"input": "Hi", "stream": true}', "stream=True is not supported"),
        ('{"input": "Hi", "background": false}', "always sets background=True"),
        ('{"input": "Hi", "temperature": 3}', "temperature must be a number from 0 to 1"),
        ('{"input": "Hi", "model": "yandex gpt"}', "malformed model name 'yandex gpt'"),
        ('{"input": "Hi", "key": 7}', "key must be a non-empty string, not a number"),
        ('{"input": "Hi", "model": ""}', "malformed model name ''"),
    ],
)
def test_invalid_lines_say_why(line: str, problem: str) -> None:
    reason = _problems([line])[1]
    assert reason is not None
    assert problem in reason


def test_a_duplicate_key_invalidates_the_later_line_only() -> None:
    problems = _problems(
        ['{"key": "a", "input": "1"}', '{"input": "2"}', '{"key": "a", "input": "3"}']
    )
    assert problems == {1: None, 2: None, 3: "duplicate key 'a' (first on line 1)"}


def test_a_key_may_not_repeat_another_lines_number() -> None:
    problems = _problems(['{"input": "1"}', '{"key": "1", "input": "2"}'])
    assert problems[2] == "duplicate key '1' (first on line 1)"


def test_bytes_lines_bom_and_bad_utf8() -> None:
    parsed = parse_batch_lines([b'\xef\xbb\xbf{"input": "Hi"}', b"\xff\xfe", b"   "])
    assert [(b.line, b.key, b.problem) for b in parsed] == [
        (1, "1", None),
        (2, "2", "not UTF-8 text"),
    ]


def test_deferred_lines_take_messages_or_an_input_string() -> None:
    parsed = parse_batch_lines(
        [
            '{"messages": [{"role": "system", "text": "Translate"}, {"role": "user", '
            '"content": "Hi"}], "temperature": 0.1, "max_tokens": 100}',
            '{"input": "Hello", "reasoning_mode": "DISABLED", "model": "yandexgpt-lite"}',
        ],
        deferred=True,
    )
    assert [b.request for b in parsed] == [
        {
            "messages": [
                {"role": "system", "text": "Translate"},
                {"role": "user", "content": "Hi"},
            ],
            "temperature": 0.1,
            "max_tokens": 100,
        },
        {
            "messages": [{"role": "user", "text": "Hello"}],
            "reasoning_mode": "DISABLED",
            "model": "yandexgpt-lite",
        },
    ]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"input": "Hi", "instructions": "x"}', "takes no 'instructions'"),
        ('{"input": "Hi", "messages": []}', "not both"),
        ('{"temperature": 0.1}', "not both"),
        ('{"input": ["Hi"]}', "input must be a non-empty string"),
        ('{"messages": 7}', "a string or a list of messages"),
        ('{"messages": [{"text": "Hi"}]}', "needs a 'role'"),
        ('{"input": "Hi", "temperature": 3}', "temperature must be between 0 and 1"),
        ('{"input": "Hi", "temperature": "hot"}', "temperature must be a number"),
        ('{"input": "Hi", "max_tokens": 0}', "max_tokens must be a positive int"),
        ('{"input": "Hi", "reasoning_mode": 1}', "reasoning_mode must be"),
    ],
)
def test_invalid_deferred_lines_say_why(line: str, problem: str) -> None:
    reason = _problems([line], deferred=True)[1]
    assert reason is not None
    assert problem in reason


def test_the_example_batch_is_valid() -> None:
    lines = (EXAMPLES / "prompts.jsonl").read_text(encoding="utf-8").splitlines()
    parsed = parse_batch_lines(lines)
    assert 6 <= len(parsed) <= 10
    assert all(b.problem is None for b in parsed)


# --- batch output: one object per line, from results, exceptions and problems -------------------


def test_records_of_every_kind_of_result(client: YandexOpenAI, yc_emulator: Emulator) -> None:
    yc_emulator.script(
        Outcome.completed("Paris"),
        Outcome.failed("server_error", "boom"),
        Outcome.incomplete("max_output_tokens", "Once"),
        Outcome.never(),
    )
    completed = client.background.run(model="yandexgpt", input="a")
    failed = client.background.run(model="yandexgpt", input="b")
    incomplete = client.background.run(model="yandexgpt", input="c")
    cancelled = client.background.create(model="yandexgpt", input="d").cancel()
    line = BatchLine(4, "k", {"input": "x"})

    record = output_record(line, completed)
    assert record == {
        "key": "k",
        "line": 4,
        "status": "completed",
        "response_id": completed.response_id,
        "output_text": "Paris",
        "error": None,
        "usage": record["usage"],
    }
    usage = completed.response.usage
    assert usage is not None
    assert record["usage"] == {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    assert output_record(line, failed)["error"] == {"code": "server_error", "message": "boom"}
    assert output_record(line, failed)["output_text"] is None
    cut = output_record(line, incomplete)
    assert (cut["status"], cut["output_text"], cut["error"]["code"]) == (
        "incomplete",
        "Once",
        "max_output_tokens",
    )
    stopped = output_record(line, cancelled)
    assert (stopped["status"], stopped["error"]["code"]) == ("cancelled", "cancelled")


def test_deferred_usage_gets_the_same_names(client: YandexOpenAI) -> None:
    result = client.deferred.run(model="yandexgpt", messages="Hi")
    record = output_record(BatchLine(1, "1", {"messages": "Hi"}), result)
    usage = result.response.usage
    assert usage is not None
    assert record["status"] == "completed"
    assert record["usage"] == {
        "input_tokens": usage.input_text_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def test_records_of_exceptions_and_invalid_lines() -> None:
    line = BatchLine(2, "two", {"input": "x"})
    ambiguous = output_record(line, AmbiguousSubmissionError(TimeoutError("read timed out")))
    assert ambiguous["status"] == "error"
    assert ambiguous["error"]["code"] == "AmbiguousSubmissionError"
    assert "read timed out" in ambiguous["error"]["message"]
    request = httpx2.Request("POST", "http://ai.test/v1/responses")
    rejected = openai.BadRequestError(
        "Error code: 400",
        response=httpx2.Response(400, request=request),
        body={"message": "tools[0] is not supported", "type": "invalid_request_error"},
    )
    assert output_record(line, rejected)["error"] == {
        "code": "BadRequestError",
        "message": "HTTP 400: tools[0] is not supported",
    }
    invalid = output_record(BatchLine(3, "3", problem="not JSON"))
    assert invalid == {
        "key": "3",
        "line": 3,
        "status": "invalid",
        "response_id": None,
        "output_text": None,
        "error": {"code": "invalid_input", "message": "not JSON"},
        "usage": None,
    }


# --- the batch command, before anything is sent --------------------------------------------


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_batch_of_invalid_lines_sends_nothing(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", "{oops", "", '{"input": "Hi", "stream": true}')
    code, out, err = cli("batch", str(source), str(tmp_path / "out.jsonl"))
    assert (code, out) == (2, "")
    assert f"{source}:1: not JSON" in err
    assert f"{source}:3: stream=True is not supported" in err
    assert "2 lines in" in err
    assert "2 invalid" in err
    assert [(r["line"], r["status"]) for r in _read(tmp_path / "out.jsonl")] == [
        (1, "invalid"),
        (3, "invalid"),
    ]
    assert yc_emulator.stats.creations == 0


@pytest.mark.parametrize(
    ("make_args", "problem"),
    [
        (lambda d: [str(d / "missing.jsonl"), str(d / "out.jsonl")], "cannot read"),
        (lambda d: [str(d / "in.jsonl"), str(d / "no" / "out.jsonl")], "does not exist"),
        (lambda d: [str(d / "in.jsonl"), str(d / "in.jsonl")], "is the input file"),
        (lambda d: [str(d / "empty.jsonl"), str(d / "out.jsonl")], "holds no prompts"),
        (lambda d: [str(d / "in.jsonl"), str(d)], "is a folder"),
        (
            lambda d: [str(d / "in.jsonl"), str(d / "o.jsonl"), "--journal", str(d / "o.jsonl")],
            "the journal and OUT.jsonl are both",
        ),
    ],
)
def test_a_batch_that_cannot_finish_well_sends_nothing(
    cli: Run,
    tmp_path: Path,
    yc_emulator: Emulator,
    make_args: Callable[[Path], list[str]],
    problem: str,
) -> None:
    _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    _write(tmp_path / "empty.jsonl", "", "  ")
    code, _, err = cli("batch", *make_args(tmp_path))
    assert code == 2
    assert problem in err
    assert yc_emulator.stats.creations == 0
    assert not (tmp_path / "out.jsonl").exists()


def test_output_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    from yc_responses.cli.batch_files import write_atomically

    target = tmp_path / "out.jsonl"

    def records() -> Iterator[dict[str, Any]]:
        yield {"key": "1"}
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(str(target), records())
    assert list(tmp_path.iterdir()) == []
    write_atomically(str(target), [{"key": "1"}, {"key": "2"}])
    assert _read(target) == [{"key": "1"}, {"key": "2"}]
    assert list(tmp_path.iterdir()) == [target]


# --- the batch command, end to end on the emulator ---------------------------------------------


MIXED = (
    '{"key": "ok", "input": "Name a river"}',
    '{"key": "bad", "input": "fail me", "instructions": "Be brief"}',
    "",
    '{"key": "short", "input": "Tell a long story about a lighthouse", "max_output_tokens": 3}',
    '{"key": "filtered", "input": "filter me", "model": "yandexgpt-lite"}',
    '{"key": "typo", "inptu": "Hi"}',
    '{"key": "nomodel", "input": "Hi", "model": "no-such-model"}',
    '{"input": [{"role": "user", "content": "Hi from a list"}], "temperature": 0.2}',
)


def _script_mixed(emulator: Emulator) -> None:
    emulator.on_input("fail me", Outcome.failed("invalid_prompt", "the prompt breaks a rule"))
    emulator.on_input("filter me", Outcome.incomplete("content_filter", "Sorry,", after=90))


def test_a_batch_of_mixed_outcomes(cli: Run, tmp_path: Path, yc_emulator: Emulator) -> None:
    _script_mixed(yc_emulator)
    source = _write(tmp_path / "in.jsonl", *MIXED)
    output = tmp_path / "out.jsonl"
    code, out, err = cli("batch", str(source), str(output))
    assert (code, out) == (1, "")
    records = {r["key"]: r for r in _read(output)}
    assert [r["line"] for r in _read(output)] == [1, 2, 4, 5, 6, 7, 8]
    assert {key: r["status"] for key, r in records.items()} == {
        "ok": "completed",
        "bad": "failed",
        "short": "incomplete",
        "filtered": "incomplete",
        "typo": "invalid",
        "nomodel": "error",
        "8": "completed",
    }
    assert records["ok"]["output_text"] == "Emulated answer to: Name a river"
    assert records["ok"]["usage"]["total_tokens"] > 0
    assert records["bad"]["error"] == {
        "code": "invalid_prompt",
        "message": "the prompt breaks a rule",
    }
    assert records["short"]["error"]["code"] == "max_output_tokens"
    assert records["filtered"]["error"]["code"] == "content_filter"
    assert records["filtered"]["output_text"] == "Sorry,"
    assert records["nomodel"]["error"]["code"] == "BadRequestError"  # the service's 400
    assert records["nomodel"]["response_id"] is None
    assert records["8"]["output_text"] == "Emulated answer to: Hi from a list"
    assert f"{source}:6: responses.create() takes no 'inptu'" in err
    assert "7 lines in" in err
    assert "2 completed, 1 failed, 2 incomplete, 1 invalid, 1 error" in err
    assert f"wrote {output}" in err
    assert yc_emulator.stats.creations == 5  # the invalid line and the unknown model: none


def test_a_batch_that_all_completes_exits_0(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "one"}', '{"input": "two"}')
    journal = tmp_path / "elsewhere.sqlite"
    code, _, err = cli(
        "batch",
        str(source),
        str(tmp_path / "out.jsonl"),
        "--journal",
        str(journal),
        "--no-progress",
    )
    assert code == 0
    assert "2 completed" in err
    assert journal.exists()
    assert not (tmp_path / "out.jsonl.journal").exists()


def test_a_batch_resumes_from_its_journal_without_new_creations(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    _script_mixed(yc_emulator)
    source = _write(tmp_path / "in.jsonl", *MIXED)
    output = tmp_path / "out.jsonl"
    first = cli("batch", str(source), str(output))
    written = output.read_text(encoding="utf-8")
    created = yc_emulator.stats.creations
    output.unlink()

    second = cli("batch", str(source), str(output))
    assert second[0] == first[0] == 1
    assert "resuming from the journal" in second[2]
    assert "resuming" not in first[2]
    assert yc_emulator.stats.creations == created
    assert output.read_text(encoding="utf-8") == written


def test_an_interrupted_batch_resumes_without_sending_anything_twice(
    tmp_path: Path,
    yc_emulator: Emulator,
    yc_clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    yc_emulator.set_default(Outcome.completed(after=60))
    source = _write(tmp_path / "in.jsonl", *(f'{{"input": "prompt {n}"}}' for n in range(5)))
    output = tmp_path / "out.jsonl"
    argv = ["batch", str(source), str(output), "--concurrency", "2"]
    with yc_emulator.client() as client:
        _sleep_on(client, yc_clock, interrupted)
        assert main(argv, client=client) == 130
    err = capsys.readouterr().err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    assert not output.exists()
    assert yc_emulator.stats.creations == 2

    with yc_emulator.client() as client:
        _sleep_on(client, yc_clock, yc_clock.sleep)
        assert main(argv, client=client) == 0
    assert "resuming from the journal" in capsys.readouterr().err
    assert yc_emulator.stats.creations == 5
    assert yc_emulator.stats.duplicates() == {}
    assert [r["status"] for r in _read(output)] == ["completed"] * 5


def test_a_submission_that_may_have_started_is_reported_not_resent(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    yc_emulator.inject(Fault.drop(after_processing=True), route="responses.create", times=1)
    source = _write(tmp_path / "in.jsonl", '{"input": "only once"}')
    output = tmp_path / "out.jsonl"
    for _ in range(2):
        code, _, err = cli("batch", str(source), str(output))
        assert code == 1
        assert _read(output)[0]["error"]["code"] == "AmbiguousSubmissionError"
        assert "check the AI Studio console" in err
    assert yc_emulator.stats.creations == 1

    assert cli("batch", str(source), str(output), "--resubmit-ambiguous")[0] == 0
    assert _read(output)[0]["status"] == "completed"
    assert yc_emulator.stats.creations == 2


def test_refused_credentials_stop_a_batch_with_one_line(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "one"}', '{"input": "two"}')
    with yc_emulator.client(api_key="not-the-right-key-1234") as wrong:
        code, _, err = cli("batch", str(source), str(tmp_path / "out.jsonl"), bound=wrong)
    assert code == 1
    assert err.count("\n") == 1
    assert "refused the credentials (HTTP 401" in err
    assert "not-the-right-key-1234" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_changed_input_under_the_same_journal_is_refused(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    output = tmp_path / "out.jsonl"
    cli("batch", str(_write(tmp_path / "in.jsonl", '{"input": "first"}')), str(output))
    code, _, err = cli(
        "batch", str(_write(tmp_path / "in.jsonl", '{"input": "other"}')), str(output)
    )
    assert code == 2
    assert "holds another input under key '1'" in err
    assert yc_emulator.stats.creations == 1


def test_a_file_that_is_not_a_journal_is_refused(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    (tmp_path / "out.jsonl.journal").write_text("not a database " * 20, encoding="utf-8")
    code, _, err = cli("batch", str(source), str(tmp_path / "out.jsonl"))
    assert code == 2
    assert re.search(r"is not a (batch|readable) journal", err)
    assert yc_emulator.stats.creations == 0


def test_a_run_past_the_run_timeout_is_an_error_line_and_kept(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    yc_emulator.on_input("stuck", Outcome.never())
    source = _write(tmp_path / "in.jsonl", '{"input": "fine"}', '{"input": "stuck"}')
    code, _, _ = cli("batch", str(source), str(tmp_path / "out.jsonl"), "--run-timeout", "600")
    assert code == 1
    fine, stuck = _read(tmp_path / "out.jsonl")
    assert fine["status"] == "completed"
    assert (stuck["status"], stuck["error"]["code"]) == ("error", "RunTimeoutError")
    assert yc_emulator.status_of(stuck["response_id"] or "") == "in_progress"


def test_a_deferred_batch(cli: Run, tmp_path: Path, yc_emulator: Emulator) -> None:
    yc_emulator.on_input("fail me", Outcome.failed("server_error", "boom", after=10))
    source = _write(
        tmp_path / "in.jsonl",
        '{"key": "a", "messages": [{"role": "system", "text": "Translate"}, '
        '{"role": "user", "text": "To be"}], "temperature": 0.1}',
        '{"key": "b", "input": "fail me", "max_tokens": 100}',
        '{"key": "c", "input": "Hi", "instructions": "no such field here"}',
        '{"key": "d", "input": "Hello", "model": "yandexgpt-lite", "reasoning_mode": "DISABLED"}',
    )
    output = tmp_path / "out.jsonl"
    code, _, err = cli("batch", str(source), str(output), "--deferred", "--model", "yandexgpt")
    assert code == 1
    records = {r["key"]: r for r in _read(output)}
    assert {key: r["status"] for key, r in records.items()} == {
        "a": "completed",
        "b": "failed",
        "c": "invalid",
        "d": "completed",
    }
    usage = records["a"]["usage"]
    assert set(usage) == {"input_tokens", "output_tokens", "total_tokens"}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert records["a"]["response_id"].startswith("d7q")
    assert records["b"]["error"]["code"] in ("internal", "unknown", "server_error")
    assert yc_emulator.stats.requests["operations.create"] == 3
    assert "2 completed, 1 failed, 1 invalid" in err


def test_the_installed_command_runs_the_example_batch_on_its_emulator(tmp_path: Path) -> None:
    command = Path(sysconfig.get_path("scripts")) / "yc-responses"
    output = tmp_path / "answers.jsonl"
    done = subprocess.run(
        [str(command), "--emulator", "batch", str(EXAMPLES / "prompts.jsonl"), str(output)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "using a built-in emulator" in done.stderr
    records = _read(output)
    assert len(records) == len(parse_batch_lines(EXAMPLES.joinpath("prompts.jsonl").open()))
    assert {r["status"] for r in records} == {"completed"}
    assert (tmp_path / "answers.jsonl.journal").exists()


# --- odd input and odd places: one line and the documented exit code, never a traceback -----


def test_a_malformed_model_name_is_one_line_and_sends_nothing(
    cli: Run, yc_emulator: Emulator
) -> None:
    for argv in (["run"], ["run", "--background"]):
        code, out, err = cli(*argv, "--model", "yandex gpt", "hi")
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert "malformed model name 'yandex gpt'" in err
    assert yc_emulator.stats.creations == 0


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["status", ""], "the id is empty"),
        (["cancel", "  ", "--deferred"], "the id is empty"),
        (["run", "--timeout", "inf", "hi"], "must be a finite number of seconds"),
        (["run", "--timeout", "nan", "hi"], "must be a finite number of seconds"),
        (["batch", "in.jsonl", "out.jsonl", "--run-timeout=inf"], "finite"),
    ],
)
def test_unusable_arguments_are_usage_errors(
    argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert problem in err
    assert "Traceback" not in err


def test_the_status_help_says_what_each_exit_code_means(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["status", "--help"])
    out = capsys.readouterr().out
    assert "0 the run completed" in out
    assert "still going" in out


def test_an_emulator_that_cannot_start_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for bad, said in (("99999", "99999 is not a port"), (str(port), "cannot listen")):
            assert main(["emulator", "--port", bad]) == 2
            err = capsys.readouterr().err
            assert said in err
            assert err.strip().splitlines()[-1].startswith("yc-responses emulator:")
            assert "Traceback" not in err


def test_ctrl_c_while_starting_up_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("yc_responses.testing.Emulator.start", interrupted)
    assert main(["--emulator", "run", "Hi"]) == 130
    err = capsys.readouterr().err
    assert err == "yc-responses: interrupted.\n"


def test_debug_shows_the_traceback_behind_the_line(
    client: YandexOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--debug", "status", "resp_nope"], client=client) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("yc-responses: error: not found (HTTP 404")


@pytest.mark.parametrize(
    ("settings", "argv", "host", "variable"),
    [
        (
            {"base_url": "http://127.0.0.1:1/v1"},
            ["run", "--background", "Hi"],
            "127.0.0.1:1",
            "YC_BASE_URL",
        ),
        (
            {"base_url": "http://no-such-host.invalid/v1"},
            ["run", "Hi"],
            "no-such-host.invalid",
            "YC_BASE_URL",
        ),
        (
            {"operation_base_url": "http://127.0.0.1:1"},
            ["status", "d7qsomething", "--deferred"],
            "127.0.0.1:1",
            "YC_OPERATION_BASE_URL",
        ),
    ],
)
def test_an_unreachable_host_is_named_at_once(
    cli: Run,
    yc_emulator: Emulator,
    yc_clock: ManualClock,
    settings: dict[str, str],
    argv: list[str],
    host: str,
    variable: str,
) -> None:
    with yc_emulator.client(max_retries=0, **settings) as unreachable:
        _sleep_on(unreachable, yc_clock, yc_clock.sleep)
        code, out, err = cli(*argv, bound=unreachable)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert f"cannot reach {host}" in err
    assert variable in err


@pytest.mark.parametrize(
    ("settings", "flags", "variable"),
    [
        ({"base_url": "http://127.0.0.1:1/v1"}, [], "YC_BASE_URL"),
        ({"llm_base_url": "http://127.0.0.1:1"}, ["--deferred"], "YC_LLM_BASE_URL"),
    ],
)
def test_an_unreachable_host_stops_a_batch_naming_its_variable(
    cli: Run,
    tmp_path: Path,
    yc_emulator: Emulator,
    yc_clock: ManualClock,
    settings: dict[str, str],
    flags: list[str],
    variable: str,
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    with yc_emulator.client(max_retries=0, **settings) as unreachable:
        _sleep_on(unreachable, yc_clock, yc_clock.sleep)
        code, _, err = cli(
            "batch", str(source), str(tmp_path / "out.jsonl"), *flags, bound=unreachable
        )
    assert code == 2
    assert "cannot reach 127.0.0.1:1" in err
    assert variable in err


def test_out_is_written_through_a_symlink_and_keeps_its_mode(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    target = tmp_path / "kept" / "answers.jsonl"
    target.parent.mkdir()
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "out.jsonl"
    link.symlink_to(target)
    assert cli("batch", str(source), str(link))[0] == 0
    assert link.is_symlink()
    assert [r["status"] for r in _read(target)] == ["completed"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["answers.jsonl"]


def test_a_new_out_gets_the_usual_mode(cli: Run, tmp_path: Path, yc_emulator: Emulator) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    umask = os.umask(0o022)
    try:
        assert cli("batch", str(source), str(tmp_path / "out.jsonl"))[0] == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.jsonl").stat().st_mode) == 0o644


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_an_out_that_is_not_a_regular_file_is_never_replaced(
    cli: Run, tmp_path: Path, yc_emulator: Emulator, kind: str
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    if kind == "fifo":
        output = tmp_path / "out.fifo"
        os.mkfifo(output)
    else:
        output = Path(os.devnull)
    journal = tmp_path / "journal"
    code, _, err = cli("batch", str(source), str(output), "--journal", str(journal))
    assert code == 2
    assert err.count("\n") == 1
    assert "is not a regular file" in err
    assert not stat.S_ISREG(output.stat().st_mode)
    assert yc_emulator.stats.creations == 0


def test_a_corrupted_journal_is_one_line_exit_2(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    journal = tmp_path / "out.jsonl.journal"
    journal.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    code, _, err = cli("batch", str(source), str(tmp_path / "out.jsonl"))
    assert code == 2
    assert "journal" in err
    assert "Traceback" not in err
    assert yc_emulator.stats.creations == 0


def test_a_journal_that_cannot_be_written_is_one_line_exit_2(
    cli: Run, tmp_path: Path, yc_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(path: object) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr("yc_responses.cli.batch_command.Journal", read_only)
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    code, _, err = cli("batch", str(source), str(tmp_path / "out.jsonl"))
    assert code == 2
    assert err.count("\n") == 1
    assert f"the journal {tmp_path / 'out.jsonl.journal'} cannot be used" in err
    assert "attempt to write a readonly database" in err
    assert yc_emulator.stats.creations == 0


def test_a_journal_in_use_is_one_line_exit_2(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    source = _write(tmp_path / "in.jsonl", '{"input": "Hi"}')
    output = tmp_path / "out.jsonl"
    with Journal(f"{output}.journal"):  # another batch holds it
        code, _, err = cli("batch", str(source), str(output))
    assert code == 2
    assert err.count("\n") == 1
    assert str(os.getpid()) in err
    assert yc_emulator.stats.creations == 0


def test_lines_nested_too_deeply_or_with_a_lone_surrogate_are_invalid(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    deep = '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}"
    source = _write(
        tmp_path / "in.jsonl",
        '{"input": "fine"}',
        deep,
        '{"key": "\\ud800", "input": "Hi"}',
        '{"input": "\\udfff alone"}',
    )
    output = tmp_path / "out.jsonl"
    code, _, err = cli("batch", str(source), str(output))
    assert code == 1
    assert f"{source}:2: nested too deeply" in err
    assert f"{source}:3: holds a lone surrogate" in err
    assert [(r["line"], r["status"]) for r in _read(output)] == [
        (1, "completed"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "invalid"),
    ]
    assert yc_emulator.stats.creations == 1


def test_a_lone_surrogate_given_as_text_is_invalid_too() -> None:
    problems = _problems(['{"input": "\ud800"}', '{"input": "\\ud800"}', '{"input": "\\u00e9"}'])
    assert problems[1] is not None
    assert problems[1].startswith("holds a lone surrogate")
    assert problems[2] == problems[1]
    assert problems[3] is None


def test_out_writing_survives_a_lone_surrogate(tmp_path: Path) -> None:
    from yc_responses.cli.batch_files import write_atomically

    target = tmp_path / "out.jsonl"
    write_atomically(str(target), [{"key": "\ud800", "output_text": "Привет"}])
    assert _read(target) == [{"key": "\ud800", "output_text": "Привет"}]
    assert "Привет" in target.read_text(encoding="utf-8")


def test_parse_batch_lines_takes_the_check_of_a_client(client: YandexOpenAI) -> None:
    def check(item: Mapping[str, Any]) -> object:
        return client.deferred.prepare_input(item, model="yandexgpt")

    parsed = parse_batch_lines(
        ['{"messages": "Hi"}', '{"messages": "Hi", "top_k": 3}'], check=check
    )
    assert parsed[0].problem is None
    assert parsed[1].problem is not None
    assert "takes no 'top_k'" in parsed[1].problem


def test_one_poisoned_answer_among_200_lines_is_one_error_line_and_a_rerun_agrees(
    cli: Run, tmp_path: Path, yc_emulator: Emulator
) -> None:
    from .test_batch import POISONED_STATUS, _poison

    make = POISONED_STATUS["no output"]
    _poison(yc_emulator, b"poison", lambda reply, run_id: make(run_id) if run_id else reply.body)
    lines = [json.dumps({"input": f"prompt {i}"}) for i in range(200)]
    lines[41] = json.dumps({"input": "poison 41"})
    source = _write(tmp_path / "in.jsonl", *lines)
    output = tmp_path / "out.jsonl"

    code, _, err = cli("batch", "--no-progress", str(source), str(output))

    records = _read(output)
    assert code == 1
    assert [r["status"] for r in records].count("completed") == 199
    poisoned = records[41]
    assert (poisoned["status"], poisoned["error"]["code"]) == ("error", "UnreadableAnswerError")
    assert poisoned["response_id"]
    assert "199 completed, 1 error" in err
    requests = sum(yc_emulator.stats.requests.values())

    again, _, _ = cli("batch", "--no-progress", str(source), str(output))

    assert again == 1
    assert _read(output) == records
    assert sum(yc_emulator.stats.requests.values()) == requests  # read from the journal


def test_credentials_that_give_no_token_are_a_configuration_error(
    tmp_path: Path,
    yc_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("jwt")
    key = tmp_path / "key.json"
    key.write_text(json.dumps(yc_emulator.iam.new_key()), encoding="utf-8")
    monkeypatch.setenv("YC_BASE_URL", yc_emulator.base_url)
    monkeypatch.setenv("YC_FOLDER_ID", yc_emulator.folder_id)
    monkeypatch.setenv("YC_SERVICE_ACCOUNT_KEY_FILE", str(key))
    monkeypatch.setenv("YC_IAM_ENDPOINT", "http://127.0.0.1:1/iam/v1/tokens")
    for argv in (["run", "--background", "hi"], ["run", "hi"], ["status", "resp_1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "could not get an IAM token" in err
        assert "Traceback" not in err
    assert yc_emulator.stats.creations == 0
