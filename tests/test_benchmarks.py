"""The benchmark suite: its registry, its command, and the figures that must come out exact.

The virtual-clock figures of fixed polling are deterministic, so they are checked
against what the schedule implies; nothing here asserts on a time measured for real.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks import RESULTS, Check, Part, Report, Table, discover, render, select
from benchmarks.__main__ import main
from benchmarks._core import render_table
from benchmarks.overhead import QUICK as OVERHEAD_QUICK
from benchmarks.waiting import QUICK as WAITING_QUICK
from benchmarks.waiting import STRATEGIES, Sizes, Strategy, VirtualLab, measure_virtual, seed_for

BY_KEY = {strategy.key: strategy for strategy in STRATEGIES}
DEFAULT_DELAYS = [0.5, 1.0, 2.0, 4.0] + [5.0] * 200
"""``PollPolicy()``'s delays before jitter: 0.5 s doubling up to the 5 s cap."""
JITTER = 0.25


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} in the JSON: it is not valid JSON for other readers")


@pytest.fixture(scope="module")
def lab() -> Iterator[VirtualLab]:
    with VirtualLab(seed=0) as lab:
        yield lab


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    """``python -m benchmarks --quick`` once for the module: exit code, stdout, JSON.

    Module-scoped fixtures run before the per-test clean environment, so this one
    cleans its own: no YC_*/OPENAI_* variables, no .env in the working directory.
    """
    where = tmp_path_factory.mktemp("bench")
    out = where / "latest.json"
    printed, notes = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("YC_", "OPENAI_")):
                patch.delenv(name)
        patch.chdir(where)
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(notes):
            code = main(["--quick", "--output", str(out)])
    assert "figures written to" in notes.getvalue()
    document = json.loads(out.read_text(encoding="utf-8"), parse_constant=_no_constant)
    return code, printed.getvalue(), document


# --- the registry ------------------------------------------------------------------------------


def test_discover_finds_every_part_in_order() -> None:
    parts = discover()
    assert [part.name for part in parts][:2] == ["overhead", "waiting"]
    assert all(isinstance(part, Part) and part.title for part in parts)


def test_select_keeps_the_usual_order_and_accepts_commas() -> None:
    parts = discover()
    assert [p.name for p in select(parts, ["waiting,overhead"])] == ["overhead", "waiting"]
    assert [p.name for p in select(parts, ["waiting"])] == ["waiting"]
    assert select(parts, None) == parts


def test_select_names_the_known_parts_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match=r"no benchmark part named nope: choose from .*overhead"):
        select(discover(), ["nope"])


def test_an_unknown_part_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "nope"]) == 2
    assert "choose from" in capsys.readouterr().err


def test_list_prints_the_parts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names[:2] == ["overhead", "waiting"]


def test_a_table_renders_as_markdown_with_figures_right_aligned() -> None:
    text = render_table(Table("Calls", ["client", "ms"], [["a", "1.5"], ["bb", "10.25"]]))
    assert text.splitlines() == [
        "### Calls",
        "",
        "| client |    ms |",
        "| ------ | ----: |",
        "| a      |   1.5 |",
        "| bb     | 10.25 |",
    ]
    with pytest.raises(ValueError, match="has 1 cells"):
        render_table(Table("Bad", ["a", "b"], [["only one"]]))


def test_a_report_shows_each_check_as_pass_or_miss() -> None:
    part = Part("demo", "A demo", lambda _: Report([], [], {}))
    report = Report([], [Check("fast", True, "1 ms"), Check("small", False, "2 MB")], {})
    assert render(part, report).splitlines()[-2:] == [
        "- PASS: fast (1 ms)",
        "- MISS: small (2 MB)",
    ]


# --- the whole command, quick --------------------------------------------------------------------


def test_quick_run_prints_every_part_and_writes_every_figure(
    quick_run: tuple[int, str, dict[str, Any]],
) -> None:
    code, printed, document = quick_run
    assert code == 0
    assert document["quick"] is True
    assert set(document["parts"]) >= {"overhead", "waiting"}
    for name, part in document["parts"].items():
        assert f"(`{name}`)" in printed
        assert part["tables"], name
        for table in part["tables"]:
            assert f"### {table['title']}" in printed
            assert all(len(row) == len(table["columns"]) for row in table["rows"])
        for check in part["checks"]:
            assert check["mark"] in ("PASS", "MISS")
            assert f"- {check['mark']}: {check['name']}" in printed
    assert document["environment"]["cpu_count"] >= 1


def test_quick_overhead_figures_have_their_shape(
    quick_run: tuple[int, str, dict[str, Any]],
) -> None:
    figures = quick_run[2]["parts"]["overhead"]["figures"]
    assert figures["server"] == "process"
    assert figures["calls_per_client"] == OVERHEAD_QUICK.calls
    assert len(figures["block_ratios"]) == 5
    for client in ("yandex_openai", "openai"):
        summary = figures[client]
        assert summary["p10_ms"] <= summary["median_ms"] <= summary["p90_ms"]
    ratio = figures["yandex_openai"]["median_ms"] / figures["openai"]["median_ms"]
    assert figures["ratio_of_medians"] == pytest.approx(ratio)
    assert [c["name"] for c in quick_run[2]["parts"]["overhead"]["checks"]] == [
        "YandexOpenAI's median call at most 1.05x openai.OpenAI's"
    ]


def test_quick_scale_runs_every_input_once_under_the_quotas(
    quick_run: tuple[int, str, dict[str, Any]],
) -> None:
    figures = quick_run[2]["parts"]["scale"]["figures"]
    runs = figures["sizes"]["runs"]
    assert [d["driver"] for d in figures["drivers"]] == ["sync", "async", "async-stream"]
    for driver in figures["drivers"]:
        assert driver["completed"] == runs
        assert driver["emulator"]["creations"] == runs
        assert driver["emulator"]["duplicates"] == 0
        assert driver["emulator"]["rate_limited"] == 0  # the emulator enforces the same quotas
        assert driver["emulator"]["requests"]["responses.create"] == runs


def test_quick_long_jobs_and_memory_runs_complete_every_input(
    quick_run: tuple[int, str, dict[str, Any]],
) -> None:
    parts = quick_run[2]["parts"]
    for batch in parts["scale"]["figures"]["long"]:  # on the virtual clock
        assert batch["completed"] == batch["emulator"]["creations"] == batch["runs"]
        assert batch["emulator"]["rate_limited"] == 0
        assert batch["seconds"] >= batch["bound_seconds"] * 0.8
    cases = parts["memory"]["figures"]["cases"]
    assert [(case["call"], case["completed"]) for case in cases] == [
        ("imap", 100),
        ("imap", 1000),
        ("map", 500),
    ]


def test_quick_waiting_figures_are_the_exact_ones(
    quick_run: tuple[int, str, dict[str, Any]],
) -> None:
    figures = quick_run[2]["parts"]["waiting"]["figures"]
    virtual = figures["virtual"]
    assert set(virtual) == set(BY_KEY)
    for seconds in WAITING_QUICK.jobs:
        job = virtual["fixed_2s"]["jobs"][f"{seconds:g}"]
        assert job["requests_max"] == math.ceil(seconds / 2)
        assert job["lag_max"] == 2 * math.ceil(seconds / 2) - seconds
    assert virtual["default"]["repetitions"] == WAITING_QUICK.repetitions
    assert len(virtual["default"]["jobs"]["16"]["samples"]) == WAITING_QUICK.repetitions
    real = figures["real"]
    assert [(row["job_seconds"], row["strategy"]) for row in real] == [
        (0.25, "default"),
        (0.25, "stream"),
    ]
    assert real[1]["requests_by_route"]["responses.stream"] == 1
    assert real[0]["requests_by_route"]["responses.stream"] == 0
    assert real[0]["virtual_requests"] is not None
    assert len(quick_run[2]["parts"]["waiting"]["checks"]) == 3


# --- the virtual clock: exact figures ---------------------------------------------------------

# A fixed loop of interval T sees the create's answer (queued) at t=0 without a request,
# then looks at T, 2T, ...; the run is terminal from its end on, so the look at k*T sees
# it once k*T >= N: ceil(N/T) requests and a lag of T*ceil(N/T) - N. The documentation's
# loop looks once more, right after creating (t=0), then every 2 s.
JOBS = [1.0, 4.0, 5.0, 16.0, 16.625, 64.0]


@pytest.mark.parametrize(("key", "interval"), [("fixed_2s", 2.0), ("sdk_10s", 10.0)])
@pytest.mark.parametrize("seconds", JOBS)
def test_a_fixed_interval_makes_ceil_n_over_t_requests(
    lab: VirtualLab, key: str, interval: float, seconds: float
) -> None:
    sample = lab.wait(BY_KEY[key], seconds, seed=0)
    looks = math.ceil(seconds / interval)
    assert sample.requests == looks
    assert sample.lag == looks * interval - seconds


@pytest.mark.parametrize("seconds", [1.0, 4.0, 16.625])
def test_the_openai_helpers_1s_loop_looks_every_second(lab: VirtualLab, seconds: float) -> None:
    sample = lab.wait(BY_KEY["openai_1s"], seconds, seed=0)
    assert (sample.requests, sample.lag) == (math.ceil(seconds), math.ceil(seconds) - seconds)


@pytest.mark.parametrize("seconds", JOBS)
def test_the_documentation_loop_looks_once_more_than_the_fixed_2s_policy(
    lab: VirtualLab, seconds: float
) -> None:
    sample = lab.wait(BY_KEY["docs_loop"], seconds, seed=0)
    assert sample.requests == math.ceil(seconds / 2) + 1
    assert sample.lag == 2 * math.ceil(seconds / 2) - seconds


def _looks_needed(seconds: float, scale: float) -> int:
    """How many delays of ``DEFAULT_DELAYS``, each times ``scale``, reach ``seconds``."""
    total = 0.0
    for looks, delay in enumerate(DEFAULT_DELAYS, start=1):
        total += delay * scale
        if total >= seconds:
            return looks
    raise AssertionError("the job is longer than the delays listed")


@pytest.mark.parametrize("seconds", [1.0, 4.0, 16.0, 64.0])
def test_the_default_policy_stays_within_what_its_jitter_allows(
    lab: VirtualLab, seconds: float
) -> None:
    # every jittered delay lies in [0.75 d, d]: the looks needed lie between the count
    # with full delays and the count with the shortest ones, and the lag is under the cap
    fewest, most = _looks_needed(seconds, 1.0), _looks_needed(seconds, 1 - JITTER)
    for repetition in range(5):
        sample = lab.wait(BY_KEY["default"], seconds, seed=seed_for(0, seconds, repetition))
        assert fewest <= sample.requests <= most
        assert 0 <= sample.lag <= 5.0
    if seconds >= 16:
        assert most < math.ceil(seconds / 2)  # fewer than the 2 s loop, whatever the jitter


def test_the_default_policy_repeats_itself_with_the_same_seed(lab: VirtualLab) -> None:
    first = lab.wait(BY_KEY["default"], 64.0, seed=7)
    again = lab.wait(BY_KEY["default"], 64.0, seed=7)
    assert first == again


def test_measure_virtual_gives_one_entry_per_strategy_and_job(lab: VirtualLab) -> None:
    sizes = Sizes(jobs=(2.0, 6.0), repetitions=2, spread_jobs=(), spread_offsets=(), real_jobs=())
    figures = measure_virtual(lab, sizes, seed=3)
    assert set(figures) == set(BY_KEY)
    assert figures["default"]["repetitions"] == 2
    assert figures["sdk_10s"]["repetitions"] == 1
    assert figures["sdk_10s"]["jobs"]["6"] == {
        "requests_mean": 1.0,
        "requests_min": 1,
        "requests_max": 1,
        "lag_mean": 4.0,
        "lag_max": 4.0,
        "samples": [[1, 4.0]],
    }


def test_only_the_default_policy_is_jittered() -> None:
    assert [s.key for s in STRATEGIES if s.jittered] == ["default"]
    assert not Strategy("x", "x", docs_loop=True).jittered


def test_results_go_to_the_git_ignored_directory() -> None:
    root = Path(__file__).resolve().parent.parent
    assert RESULTS.relative_to(root) == Path("benchmarks/results/latest.json")
    assert "benchmarks/results/" in (root / ".gitignore").read_text().splitlines()
