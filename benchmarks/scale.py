"""Batches through ``client.background.map`` at the defaults a user gets, under the
documented quotas (10 creations/s, 50 fetches/s, 5,000 creations/hour).

The emulator enforces the quotas and answers 429 beyond them; the batch is called
with no option but ``model`` (and a journal, as in real use). The figures:

* **of bound**: the time taken over the least the creation quota allows (runs /
  creations per second + one job's length; target at most 1.15);
* **429s received** (target 0), counted by the emulator;
* **requests per run** (creations, status looks, streams);
* for the jobs of 2-6 s, measured on the real clock with the client and the emulator
  each in a process of their own: **peak memory** and **client CPU seconds per 1,000
  runs**.

Jobs of 30 s and 120 s run on a virtual clock (the emulator and the batch read one
``ManualClock``, which moves only when the batch sleeps): a 1,000-run batch of
two-minute jobs takes seconds, and its times are exact.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from yc_responses import Quotas

from ._core import Check, Context, Part, Report, Table

__all__ = ["LONG", "PART", "QUOTAS", "Sizes", "measure", "measure_virtual", "run"]

QUOTAS = Quotas.documented()
"""The documented quotas: what a user's batch meets."""
QUICK_QUOTAS = Quotas(creates_per_second=100, fetches_per_second=500)
"""Ten times the documented per-second quotas, for a smoke test of a few seconds."""

TARGET_OF_BOUND = 1.15
TARGET_PEAK_MB = 300.0
TARGET_STREAM_REQUESTS = 2.2


@dataclass(frozen=True)
class Sizes:
    """How many runs, and how long each takes on the emulator (seconds, from-to)."""

    runs: int
    duration: tuple[float, float]


FULL = Sizes(runs=600, duration=(2.0, 6.0))
QUICK = Sizes(runs=60, duration=(0.2, 1.0))
LONG = (Sizes(runs=1000, duration=(24.0, 36.0)), Sizes(runs=1000, duration=(96.0, 144.0)))
QUICK_LONG = (Sizes(runs=100, duration=(24.0, 36.0)),)

OPTIONS: dict[str, Any] = {"model": "yandexgpt", "progress": False, "return_exceptions": True}
"""What the batch is called with: the defaults, no progress bar, every outcome returned."""


def _prompts(runs: int) -> list[str]:
    return [f"Summarise document number {i}." for i in range(runs)]


def _serve(pipe: Connection, quotas: Quotas, duration: tuple[float, float], seed: int) -> None:
    """The emulator's process: serve until told to stop, then report its counters."""
    from yc_responses.testing import Emulator

    with Emulator(quotas=quotas, background_duration=duration, seed=seed) as emulator:
        pipe.send((emulator.base_url, emulator.api_key, emulator.folder_id))
        pipe.recv()
        pipe.send(_served(emulator))


def _served(emulator: Any) -> dict[str, Any]:
    stats = emulator.stats
    return {
        "requests": dict(stats.requests),
        "rate_limited": stats.rate_limited,
        "creations": stats.creations,
        "duplicates": len(stats.duplicates()),
    }


def _batch(pipe: Connection, where: tuple[str, str, str], sizes: Sizes, driver: str) -> None:
    """The client's process: one ``map`` of ``sizes.runs`` inputs, then its own figures."""
    import anyio

    from yc_responses import AsyncYandexOpenAI, Completed, YandexOpenAI

    base_url, api_key, folder_id = where
    inputs = _prompts(sizes.runs)
    with tempfile.TemporaryDirectory() as folder:
        options = {**OPTIONS, "journal": Path(folder) / "batch.sqlite"}
        if driver == "async-stream":
            options["strategy"] = "stream"
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        if driver == "sync":
            with YandexOpenAI(api_key=api_key, folder_id=folder_id, base_url=base_url) as client:
                results = client.background.map(inputs, **options)
        else:

            async def main() -> list[Any]:
                async with AsyncYandexOpenAI(
                    api_key=api_key, folder_id=folder_id, base_url=base_url
                ) as client:
                    return list(await client.background.map(inputs, **options))

            try:
                results = anyio.run(main)
            except TypeError:  # a version without strategy= for map
                pipe.send(None)
                return
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pipe.send(
        {
            "seconds": wall,
            "cpu_seconds": cpu,
            "peak_rss_mb": after.ru_maxrss / 1024,
            "rss_before_mb": before.ru_maxrss / 1024,
            "completed": sum(isinstance(r, Completed) for r in results),
            "errors": sum(isinstance(r, Exception) for r in results),
        }
    )


def _bound(sizes: Sizes, quotas: Quotas) -> float:
    """The least time the creation quota allows: every creation at its pace, then a job."""
    quota = quotas.creates_per_second
    assert quota is not None
    return sizes.runs / quota + sum(sizes.duration) / 2


def _figures(sizes: Sizes, quotas: Quotas, figures: dict[str, Any]) -> dict[str, Any]:
    served = figures["emulator"]
    bound = _bound(sizes, quotas)
    return {
        **figures,
        "runs": sizes.runs,
        "duration": list(sizes.duration),
        "bound_seconds": bound,
        "of_bound": figures["seconds"] / bound,
        "requests_per_run": sum(served["requests"].values()) / sizes.runs,
        "looks_per_run": (sum(served["requests"].values()) - served["creations"]) / sizes.runs,
    }


def measure(
    sizes: Sizes, driver: str, *, seed: int = 0, quotas: Quotas = QUOTAS
) -> dict[str, Any] | None:
    """One batch of ``sizes`` on ``driver`` ("sync", "async", or "async-stream": async with
    ``strategy="stream"``) on the real clock, the emulator in a process of its own
    enforcing ``quotas``; its figures (``None``: the library cannot stream a batch)."""
    spawn = multiprocessing.get_context("spawn")
    server_end, server_pipe = spawn.Pipe()
    server = spawn.Process(target=_serve, args=(server_pipe, quotas, sizes.duration, seed))
    server.start()
    try:
        where = server_end.recv()
        client_end, client_pipe = spawn.Pipe()
        client = spawn.Process(target=_batch, args=(client_pipe, where, sizes, driver))
        client.start()
        figures: dict[str, Any] | None = client_end.recv()
        client.join()
        server_end.send("stop")
        served = server_end.recv()
        if figures is None:
            return None
        figures["emulator"] = served
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    figures["driver"] = driver
    figures["cpu_seconds_per_1000_runs"] = figures["cpu_seconds"] * 1000 / sizes.runs
    figures["batch_memory_mb"] = figures["peak_rss_mb"] - figures["rss_before_mb"]
    return _figures(sizes, quotas, figures)


def measure_virtual(
    sizes: Sizes, driver: str, *, seed: int = 0, quotas: Quotas = QUOTAS
) -> dict[str, Any]:
    """One batch of ``sizes`` on ``driver`` on a virtual clock shared with an emulator in
    this process; its figures (``seconds`` are the clock's)."""
    import anyio
    import openai

    from yc_responses import Completed
    from yc_responses.testing import Emulator, ManualClock

    clock = ManualClock()
    inputs = _prompts(sizes.runs)

    def on_clock(client: Any) -> Any:
        sleep = clock.sleep if isinstance(client, openai.OpenAI) else clock.async_sleep
        return type(client.background)(client, clock=clock, sleep=sleep, wall_clock=clock)

    with (
        Emulator(clock=clock, quotas=quotas, background_duration=sizes.duration, seed=seed) as emu,
        tempfile.TemporaryDirectory() as folder,
    ):
        options = {**OPTIONS, "journal": Path(folder) / "batch.sqlite"}
        if driver == "sync":
            with emu.client() as client:
                results = on_clock(client).map(inputs, **options)
        else:

            async def main() -> list[Any]:
                async with emu.async_client() as client:
                    return list(await on_clock(client).map(inputs, **options))

            results = anyio.run(main)
        figures = {
            "driver": driver,
            "seconds": clock(),
            "completed": sum(isinstance(r, Completed) for r in results),
            "errors": sum(isinstance(r, Exception) for r in results),
            "emulator": _served(emu),
        }
    return _figures(sizes, quotas, figures)


def _row(m: dict[str, Any], real: bool) -> list[str]:
    low, high = m["duration"]
    return [
        f"{low:g}-{high:g} s",
        m["driver"],
        f"{m['completed']:,}/{m['runs']:,}",
        f"{m['seconds']:.1f}",
        f"{m['bound_seconds']:.1f}",
        f"{m['of_bound']:.3f}",
        str(m["emulator"]["rate_limited"]),
        f"{m['requests_per_run']:.2f}",
        f"{m['peak_rss_mb']:.0f} (+{m['batch_memory_mb']:.0f})" if real else "-",
        f"{m['cpu_seconds_per_1000_runs']:.2f}" if real else "-",
    ]


def run(context: Context) -> Report:
    """The ``scale`` part: short jobs on the real clock, long ones on a virtual clock,
    each on the sync and the async driver."""
    sizes, quotas = (QUICK, QUICK_QUOTAS) if context.quick else (FULL, QUOTAS)
    measured: list[dict[str, Any]] = []
    for driver in ("sync", "async", "async-stream"):
        context.progress(f"scale: {sizes.runs:,} runs of {sizes.duration} s on {driver} ...")
        figures = measure(sizes, driver, seed=context.seed, quotas=quotas)
        if figures is not None:
            measured.append(figures)
    long_runs: list[dict[str, Any]] = []
    for long in QUICK_LONG if context.quick else LONG:
        for driver in ("sync", "async"):
            context.progress(f"scale: {long.runs:,} runs of {long.duration} s on {driver} ...")
            long_runs.append(measure_virtual(long, driver, seed=context.seed))
    rows = [_row(m, True) for m in measured] + [_row(m, False) for m in long_runs]
    table = Table(
        "Batches through `map` at the default settings, under the documented quotas "
        f"({QUOTAS.creates_per_second} creations/s, {QUOTAS.fetches_per_second} fetches/s)",
        [
            "jobs",
            "driver",
            "completed",
            "seconds",
            "bound s",
            "of bound",
            "429s",
            "requests / run",
            "peak MB (batch)",
            "CPU s / 1,000 runs",
        ],
        rows,
        notes=[
            "bound: the least time the creation quota allows (runs / creations per second "
            "+ one job of average length); of bound: the time taken over it (1.0 is ideal);",
            "jobs of 30 s and 120 s on a virtual clock (exact times, no memory or CPU figures);",
            "peak MB: the client process's peak resident memory, (batch): what map added.",
        ]
        + (["quick: ten times the documented per-second quotas."] if context.quick else []),
    )
    checks: list[Check] = []
    for m in measured + long_runs:
        name = f"{m['driver']}, {m['duration'][0]:g}-{m['duration'][1]:g} s"
        checks += [
            Check(
                f"{name}: no 429",
                m["emulator"]["rate_limited"] == 0,
                str(m["emulator"]["rate_limited"]),
            ),
            Check(
                f"{name}: every run created once and completed",
                m["completed"] == m["runs"]
                and m["emulator"]["creations"] == m["runs"]
                and m["emulator"]["duplicates"] == 0,
                f"{m['completed']} completed, {m['emulator']['creations']} created",
            ),
        ]
    for m in long_runs:
        name = f"{m['driver']}, {m['duration'][0]:g}-{m['duration'][1]:g} s"
        checks.append(
            Check(
                f"{name}: within {TARGET_OF_BOUND}x of the bound",
                m["of_bound"] <= TARGET_OF_BOUND,
                f"{m['of_bound']:.3f}",
            )
        )
    for m in measured:
        if m["driver"] == "async-stream":
            checks.append(
                Check(
                    "async-stream: at most 2.2 requests a run",
                    m["requests_per_run"] <= TARGET_STREAM_REQUESTS,
                    f"{m['requests_per_run']:.2f}",
                )
            )
        checks.append(
            Check(
                f"{m['driver']}: peak memory < {TARGET_PEAK_MB:g} MB",
                m["peak_rss_mb"] < TARGET_PEAK_MB,
                f"{m['peak_rss_mb']:.0f} MB",
            )
        )
    figures = {
        "sizes": asdict(sizes),
        "quotas": asdict(quotas),
        "drivers": measured,
        "long": long_runs,
    }
    return Report(tables=[table], checks=checks, figures=figures)


PART = Part(
    name="scale", title="Batches at the defaults, under the documented quotas", run=run, order=30
)
