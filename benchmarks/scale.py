"""Thousands of background runs through ``client.background.map`` under quotas.

The emulator enforces quotas and answers 429 beyond them; the batch keeps under
the same quotas on the client side. The figures:

* **throughput** as a fraction of what the creation quota allows (runs per second
  over creations per second; target 0.9 or better), from the first creation to the
  last result;
* **429s received** (target 0), counted by the emulator;
* **peak memory** of the client process (target under 300 MB), and what the batch
  added to it;
* **client CPU seconds per 1,000 runs** (user + system), and requests per run.

The client and the emulator each run in a process of their own, so that the
client's CPU time and memory are its own. The quotas are ten times the documented
ones (100 creations/s, 500 fetches/s, no hourly cap): at the documented 10/s and
5,000/hour, 10,000 runs take over an hour of waiting, which measures the clock,
not the library. The journal is on, as in real use: every change is committed
to disk before the next request.
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

__all__ = ["PART", "QUOTAS", "Sizes", "measure", "run"]

QUOTAS = Quotas(creates_per_second=100, fetches_per_second=500)
"""Ten times the documented per-second quotas, without the hourly cap."""

TARGET_THROUGHPUT = 0.9
TARGET_PEAK_MB = 300.0


@dataclass(frozen=True)
class Sizes:
    """How many runs, how many at once, how long each takes on the emulator (seconds)."""

    runs: int
    concurrency: int
    duration: tuple[float, float]


FULL = Sizes(runs=10_000, concurrency=1000, duration=(1.0, 5.0))
QUICK = Sizes(runs=300, concurrency=200, duration=(0.2, 1.0))


def _serve(pipe: Connection, quotas: Quotas, duration: tuple[float, float], seed: int) -> None:
    """The emulator's process: serve until told to stop, then report its counters."""
    from yc_responses.testing import Emulator

    with Emulator(quotas=quotas, background_duration=duration, seed=seed) as emulator:
        pipe.send((emulator.base_url, emulator.api_key, emulator.folder_id))
        pipe.recv()
        stats = emulator.stats
        pipe.send(
            {
                "requests": dict(stats.requests),
                "rate_limited": stats.rate_limited,
                "creations": stats.creations,
                "duplicates": len(stats.duplicates()),
            }
        )


def _batch(
    pipe: Connection, where: tuple[str, str, str], sizes: Sizes, driver: str, quotas: Quotas
) -> None:
    """The client's process: one ``map`` of ``sizes.runs`` inputs, then its own figures."""
    import anyio

    from yc_responses import AsyncYandexOpenAI, Completed, YandexOpenAI

    base_url, api_key, folder_id = where
    inputs = [f"Summarise document number {i}." for i in range(sizes.runs)]
    options: dict[str, Any] = {
        "model": "yandexgpt",
        "concurrency": sizes.concurrency,
        "quotas": quotas,
        "progress": False,
        "return_exceptions": True,
    }
    with tempfile.TemporaryDirectory() as folder:
        options["journal"] = Path(folder) / "batch.sqlite"
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

            results = anyio.run(main)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pipe.send(
        {
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "peak_rss_mb": after.ru_maxrss / 1024,
            "rss_before_mb": before.ru_maxrss / 1024,
            "completed": sum(isinstance(r, Completed) for r in results),
            "errors": sum(isinstance(r, Exception) for r in results),
        }
    )


def measure(sizes: Sizes, driver: str, *, seed: int = 0, quotas: Quotas = QUOTAS) -> dict[str, Any]:
    """Run one batch of ``sizes`` on ``driver`` ("sync" or "async") under ``quotas``, kept by
    both the emulator and the client; its figures."""
    spawn = multiprocessing.get_context("spawn")
    server_end, server_pipe = spawn.Pipe()
    server = spawn.Process(target=_serve, args=(server_pipe, quotas, sizes.duration, seed))
    server.start()
    try:
        where = server_end.recv()
        client_end, client_pipe = spawn.Pipe()
        client = spawn.Process(target=_batch, args=(client_pipe, where, sizes, driver, quotas))
        client.start()
        figures: dict[str, Any] = client_end.recv()
        client.join()
        server_end.send("stop")
        served: dict[str, Any] = server_end.recv()
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    quota = quotas.creates_per_second
    assert quota is not None
    runs_per_second = sizes.runs / figures["wall_seconds"]
    # the least time the quota allows: every creation at the quota's pace, then the last run
    least = (sizes.runs - 1) / quota + sum(sizes.duration) / 2
    return {
        "driver": driver,
        **figures,
        "runs_per_second": runs_per_second,
        "throughput_fraction": runs_per_second / quota,
        "least_seconds": least,
        "of_least": least / figures["wall_seconds"],
        "cpu_seconds_per_1000_runs": figures["cpu_seconds"] * 1000 / sizes.runs,
        "batch_memory_mb": figures["peak_rss_mb"] - figures["rss_before_mb"],
        "emulator": served,
        "requests_per_run": sum(served["requests"].values()) / sizes.runs,
    }


def run(context: Context) -> Report:
    """The ``scale`` part: the same batch on the sync and the async driver."""
    sizes = QUICK if context.quick else FULL
    measured: list[dict[str, Any]] = []
    for driver in ("sync", "async"):
        context.progress(f"scale: {sizes.runs:,} runs on the {driver} driver ...")
        measured.append(measure(sizes, driver, seed=context.seed))
    rows = [
        [
            m["driver"],
            f"{m['completed']:,}/{sizes.runs:,}",
            f"{m['wall_seconds']:.1f}",
            f"{m['throughput_fraction']:.3f}",
            f"{m['of_least']:.3f}",
            str(m["emulator"]["rate_limited"]),
            f"{m['peak_rss_mb']:.0f} (+{m['batch_memory_mb']:.0f})",
            f"{m['cpu_seconds_per_1000_runs']:.2f}",
            f"{m['requests_per_run']:.2f}",
        ]
        for m in measured
    ]
    table = Table(
        f"{sizes.runs:,} background runs through `map`, quotas "
        f"{QUOTAS.creates_per_second} creations/s and {QUOTAS.fetches_per_second} fetches/s, "
        f"runs of {sizes.duration[0]:g}-{sizes.duration[1]:g} s, concurrency {sizes.concurrency}",
        [
            "driver",
            "completed",
            "seconds",
            "of quota",
            "of least time",
            "429s",
            "peak MB (batch)",
            "CPU s / 1,000 runs",
            "requests / run",
        ],
        rows,
        notes=[
            "of quota: runs per second over the creations per second the quota allows;",
            "of least time: the least time the quota allows (every creation at its pace, then "
            "one run of average length) over the time taken;",
            "peak MB: the client process's peak resident memory, (batch): what map added.",
        ],
    )
    checks: list[Check] = []
    for m in measured:
        name = m["driver"]
        checks += [
            Check(
                f"{name}: throughput >= {TARGET_THROUGHPUT} of the quota",
                m["throughput_fraction"] >= TARGET_THROUGHPUT,
                f"{m['throughput_fraction']:.3f}",
            ),
            Check(
                f"{name}: no 429",
                m["emulator"]["rate_limited"] == 0,
                str(m["emulator"]["rate_limited"]),
            ),
            Check(
                f"{name}: peak memory < {TARGET_PEAK_MB:g} MB",
                m["peak_rss_mb"] < TARGET_PEAK_MB,
                f"{m['peak_rss_mb']:.0f} MB",
            ),
            Check(
                f"{name}: every run created once and completed",
                m["completed"] == sizes.runs
                and m["emulator"]["creations"] == sizes.runs
                and m["emulator"]["duplicates"] == 0,
                f"{m['completed']} completed, {m['emulator']['creations']} created",
            ),
        ]
    figures = {"sizes": asdict(sizes), "quotas": asdict(QUOTAS), "drivers": measured}
    return Report(tables=[table], checks=checks, figures=figures)


PART = Part(name="scale", title="Thousands of background runs through map", run=run, order=30)
