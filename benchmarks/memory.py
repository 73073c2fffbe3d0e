"""Memory of a batch as it grows: ``imap`` over 1,000 and 100,000 runs, ``map`` over
10,000, each in a client process of its own against the emulator in another.

The figures are the client process's peak resident memory, and what the batch added
to it per run (its peak over its resident memory just before the batch). ``imap``
keeps nothing of a result once handed out, so its peak should not grow with the
number of runs (target: 100,000 runs within 100 MB of 1,000); ``map`` keeps every
result, compactly (target: at most 4 KB a run for answers of about 1 KB). The
quotas are a hundred times the documented ones and jobs take 0.5-1 s, so the batch
measures the library rather than the wait; the journal is on, as in real use.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from yc_responses import Quotas

from ._core import Check, Context, Part, Report, Table
from .scale import _serve

__all__ = ["FULL", "PART", "QUICK", "QUOTAS", "Case", "measure", "run"]

QUOTAS = Quotas(creates_per_second=1000, fetches_per_second=5000)
DURATION = (0.5, 1.0)
TARGET_IMAP_GROWTH_MB = 100.0
TARGET_MAP_KB = 4.0


@dataclass(frozen=True)
class Case:
    """One batch: ``imap`` or ``map`` over ``runs`` inputs."""

    call: str
    runs: int


FULL = (Case("imap", 1_000), Case("imap", 100_000), Case("map", 10_000))
QUICK = (Case("imap", 100), Case("imap", 1_000), Case("map", 500))


def _client(pipe: Connection, where: tuple[str, str, str], case: Case) -> None:
    """The client's process: one batch, read as it comes, then its own figures."""
    from yc_responses import Completed, YandexOpenAI

    base_url, api_key, folder_id = where
    inputs = (f"Summarise document number {i}." for i in range(case.runs))
    options: dict[str, Any] = {"model": "yandexgpt", "quotas": QUOTAS, "progress": False}
    completed = 0
    with tempfile.TemporaryDirectory() as folder:
        options["journal"] = Path(folder) / "batch.sqlite"
        before = _resident_mb()
        started = time.perf_counter()
        with YandexOpenAI(api_key=api_key, folder_id=folder_id, base_url=base_url) as client:
            if case.call == "imap":
                if not hasattr(client.background, "imap"):
                    pipe.send(None)
                    return
                for _, result in client.background.imap(inputs, **options):
                    completed += isinstance(result, Completed)
                kept = None
            else:
                kept = client.background.map(list(inputs), return_exceptions=True, **options)
                completed = sum(isinstance(r, Completed) for r in kept)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del kept
    pipe.send(
        {
            "call": case.call,
            "runs": case.runs,
            "completed": completed,
            "seconds": seconds,
            "peak_rss_mb": peak,
            "rss_before_mb": before,
            "kb_per_run": (peak - before) * 1024 / case.runs,
        }
    )


def _resident_mb() -> float:
    """The process's resident memory now (Linux), in MB; its peak elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(case: Case, *, seed: int = 0) -> dict[str, Any] | None:
    """One batch of ``case`` in a fresh client process; its figures (``None``: the
    library has no ``imap``)."""
    spawn = multiprocessing.get_context("spawn")
    server_end, server_pipe = spawn.Pipe()
    server = spawn.Process(target=_serve, args=(server_pipe, QUOTAS, DURATION, seed))
    server.start()
    try:
        where = server_end.recv()
        client_end, client_pipe = spawn.Pipe()
        client = spawn.Process(target=_client, args=(client_pipe, where, case))
        client.start()
        figures: dict[str, Any] | None = client_end.recv()
        client.join()
        server_end.send("stop")
        served = server_end.recv()
    finally:
        server.join(timeout=30)
        if server.is_alive():
            server.kill()
    if figures is not None:
        figures["rate_limited"] = served["rate_limited"]
        figures["requests_per_run"] = sum(served["requests"].values()) / case.runs
    return figures


def run(context: Context) -> Report:
    """The ``memory`` part."""
    measured: list[dict[str, Any]] = []
    for case in QUICK if context.quick else FULL:
        context.progress(f"memory: {case.call} over {case.runs:,} runs ...")
        figures = measure(case, seed=context.seed)
        if figures is not None:
            measured.append(figures)
    table = Table(
        f"Client memory of a batch, quotas {QUOTAS.creates_per_second} creations/s, jobs of "
        f"{DURATION[0]:g}-{DURATION[1]:g} s",
        ["call", "runs", "completed", "seconds", "peak MB", "KB / run", "requests / run"],
        [
            [
                m["call"],
                f"{m['runs']:,}",
                f"{m['completed']:,}",
                f"{m['seconds']:.1f}",
                f"{m['peak_rss_mb']:.0f}",
                f"{m['kb_per_run']:.2f}",
                f"{m['requests_per_run']:.2f}",
            ]
            for m in measured
        ],
        notes=["KB / run: what the batch added to the process's peak memory, per run."],
    )
    checks = [
        Check(
            f"{m['call']} {m['runs']:,}: every run completed",
            m["completed"] == m["runs"],
            f"{m['completed']:,}",
        )
        for m in measured
    ]
    imaps = [m for m in measured if m["call"] == "imap"]
    if len(imaps) == 2:
        growth = imaps[1]["peak_rss_mb"] - imaps[0]["peak_rss_mb"]
        checks.append(
            Check(
                f"imap: {imaps[1]['runs']:,} runs within {TARGET_IMAP_GROWTH_MB:g} MB of "
                f"{imaps[0]['runs']:,}",
                growth <= TARGET_IMAP_GROWTH_MB,
                f"{growth:+.0f} MB",
            )
        )
    for m in measured:
        if m["call"] == "map":
            checks.append(
                Check(
                    f"map: at most {TARGET_MAP_KB:g} KB a run",
                    m["kb_per_run"] <= TARGET_MAP_KB,
                    f"{m['kb_per_run']:.2f} KB",
                )
            )
    return Report(tables=[table], checks=checks, figures={"cases": measured})


PART = Part(name="memory", title="Memory of a batch as it grows", run=run, order=31)
