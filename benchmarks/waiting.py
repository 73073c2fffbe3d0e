"""The cost of waiting for a background run: status requests per job, and detection lag.

For jobs of 1, 4, 16, 64 and 256 seconds, each way of waiting is measured against the
emulator: how many ``GET /responses/{id}`` it sends after the create, and how long after
the run ended the caller learns of it (the *lag*). The ways compared:

* ``default``: the library's ``PollPolicy()`` (0.5 s doubling to 5 s, 25 % jitter) through
  ``client.background`` and ``BackgroundRun.wait``;
* ``docs_loop``: the documentation's code as written (``openai.OpenAI``, retrieve, then
  ``time.sleep(2)``), which looks once right after creating;
* ``fixed_2s``: the same 2 s loop as ``PollPolicy.fixed(2.0)`` (first look after 2 s);
* ``sdk_10s``: the official Yandex SDK's fixed 10 s polling, ``PollPolicy.fixed(10.0)``;
* ``openai_1s``: the openai poll helpers' 1 s, ``PollPolicy.fixed(1.0)``;
* ``stream``: ``run.wait(strategy="stream")``, one ``GET /responses/{id}?stream=true``.

Polling is measured on a virtual clock: the emulator reads a ``ManualClock`` and the
waiting code sleeps with ``clock.sleep``, so a 256 s job takes milliseconds and the
figures are exact. The default policy's jitter comes from the ``random`` module; each
repetition seeds it, so the figures repeat from run to run. Streaming cannot run on a
manual clock (the emulator's event stream is served by a thread that waits for the clock
to move), so it is measured on the real clock over loopback, next to a real-clock run of
the default policy that confirms the virtual figures.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import openai

from yc_responses import Completed, PollPolicy, WaitStrategy
from yc_responses.testing import Emulator, ManualClock, Outcome

from ._core import Check, Context, Part, Report, Table

__all__ = [
    "PART",
    "STRATEGIES",
    "Sample",
    "Sizes",
    "Strategy",
    "VirtualLab",
    "measure_real",
    "run",
    "seed_for",
]

PROMPT = "Summarise the quarterly report."
STREAM_MAX_REQUESTS = 2
STREAM_MAX_LAG = 0.050
FEWER_FROM = 16.0
"""The default policy must make fewer requests than the 2 s loop for jobs this long or longer."""


@dataclass(frozen=True)
class Strategy:
    """A way of waiting measured on the virtual clock.

    ``policy`` ``None`` is the library's default (``client.background`` as it comes);
    ``docs_loop`` is the documentation's hand-written loop instead of the library.
    """

    key: str
    label: str
    policy: PollPolicy | None = None
    docs_loop: bool = False

    @property
    def jittered(self) -> bool:
        """Whether repetitions differ (and need several seeds)."""
        policy = self.policy if self.policy is not None else PollPolicy()
        return not self.docs_loop and policy.jitter > 0


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("default", "library default, `PollPolicy()`"),
    Strategy("docs_loop", "docs' loop as written (look, then sleep 2 s)", docs_loop=True),
    Strategy("fixed_2s", "2 s loop, `PollPolicy.fixed(2.0)`", PollPolicy.fixed(2.0)),
    Strategy("sdk_10s", "Yandex SDK's 10 s, `PollPolicy.fixed(10.0)`", PollPolicy.fixed(10.0)),
    Strategy("openai_1s", "openai helpers' 1 s, `PollPolicy.fixed(1.0)`", PollPolicy.fixed(1.0)),
)


@dataclass(frozen=True)
class Sizes:
    """How much to measure."""

    jobs: tuple[float, ...]
    """Job lengths, in seconds, of the main tables."""
    repetitions: int
    """Seeded repetitions of each job for the jittered default policy."""
    spread_jobs: tuple[float, ...]
    """Job lengths to which :attr:`spread_offsets` are added."""
    spread_offsets: tuple[float, ...]
    """Offsets spreading the end of a job across a 10 s window (so across every
    fixed policy's interval), in seconds; multiples of 1/8 keep the clock exact."""
    real_jobs: tuple[float, ...]
    """Job lengths run on the real clock."""


FULL = Sizes(
    jobs=(1.0, 4.0, 16.0, 64.0, 256.0),
    repetitions=20,
    spread_jobs=(1.0, 4.0, 16.0, 64.0),
    spread_offsets=tuple((k + 0.5) * 1.25 for k in range(8)),
    real_jobs=(1.0, 4.0),
)
QUICK = Sizes(
    jobs=(1.0, 4.0, 16.0),
    repetitions=3,
    spread_jobs=(1.0, 4.0),
    spread_offsets=(0.625, 5.625),
    real_jobs=(0.25,),
)


@dataclass(frozen=True)
class Sample:
    """One wait: status requests after the create, and seconds from the run's end to
    the caller knowing."""

    requests: int
    lag: float


def seed_for(base: int, seconds: float, repetition: int) -> int:
    """The jitter seed of one repetition of one job (the same for every strategy).

    >>> seed_for(0, 16.0, 2)
    16002
    """
    return base * 1_000_003 + round(seconds * 1000) + repetition


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed the ``random`` module (the policy's jitter) and restore its state after."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


def _docs_loop(client: openai.OpenAI, model: str, sleep: Callable[[float], object]) -> str:
    """The background-mode page's loop, as written there (the sleep injected)."""
    resp = client.responses.create(model=model, input=PROMPT, background=True)
    while True:
        status = client.responses.retrieve(resp.id)
        if status.status in ["completed", "failed", "cancelled"]:
            break
        sleep(2)
    return str(status.status)


class VirtualLab:
    """An emulator on a :class:`ManualClock`, and the clients that wait on it.

    ::

        with VirtualLab() as lab:
            sample = lab.wait(STRATEGIES[0], 64.0, seed=1)   # Sample(requests=..., lag=...)
    """

    def __init__(self, seed: int = 0) -> None:
        self.clock = ManualClock()
        self.emulator = Emulator(clock=self.clock, seed=seed)

    def __enter__(self) -> VirtualLab:
        emu = self.emulator.start()
        self.client = emu.client()
        self.plain = openai.OpenAI(
            api_key=emu.api_key, base_url=emu.base_url, project=emu.folder_id
        )
        self.background = self.client.background.with_options(
            clock=self.clock, sleep=self.clock.sleep
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()
        self.plain.close()
        self.emulator.stop()

    def _align(self) -> float:
        """Move the clock to the next whole second and return it.

        Fixed policies then add whole (or 1/8) seconds to a whole number, which floats
        do exactly: a 2 s loop's look at ``start + 2 + 2`` is exactly the run's end at
        ``start + 4``, never a rounding error before it (which would cost a request).
        """
        target = math.floor(self.clock()) + 1.0
        self.clock.advance(target - self.clock())
        if self.clock() != target:
            raise RuntimeError(f"the virtual clock is at {self.clock()!r}, not {target!r}")
        return target

    def wait(self, strategy: Strategy, seconds: float, *, seed: int) -> Sample:
        """Create a job of ``seconds`` and wait for it with ``strategy``."""
        start = self._align()
        self.emulator.script(Outcome.completed(after=seconds))
        before = self.emulator.stats.requests["responses.retrieve"]
        with _seeded(seed):
            if strategy.docs_loop:
                model = f"gpt://{self.emulator.folder_id}/yandexgpt"
                status = _docs_loop(self.plain, model, self.clock.sleep)
                ok = status == "completed"
            else:
                job = self.background.create(model="yandexgpt", input=PROMPT)
                if self.clock() != start:
                    raise RuntimeError("creating a background run moved the virtual clock")
                ok = isinstance(job.wait(policy=strategy.policy), Completed)
        if not ok:
            raise RuntimeError(f"the {seconds:g} s job did not complete under {strategy.key}")
        requests = self.emulator.stats.requests["responses.retrieve"] - before
        return Sample(requests, self.clock() - start - seconds)


def _stats(samples: Sequence[Sample]) -> dict[str, Any]:
    return {
        "requests_mean": statistics.fmean(s.requests for s in samples),
        "requests_min": min(s.requests for s in samples),
        "requests_max": max(s.requests for s in samples),
        "lag_mean": statistics.fmean(s.lag for s in samples),
        "lag_max": max(s.lag for s in samples),
        "samples": [[s.requests, round(s.lag, 6)] for s in samples],
    }


def measure_virtual(lab: VirtualLab, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Every strategy on every job of ``sizes.jobs``: figures by strategy key, then job."""
    figures: dict[str, Any] = {}
    for strategy in STRATEGIES:
        reps = sizes.repetitions if strategy.jittered else 1
        jobs = {}
        for seconds in sizes.jobs:
            samples = [
                lab.wait(strategy, seconds, seed=seed_for(seed, seconds, r)) for r in range(reps)
            ]
            jobs[f"{seconds:g}"] = _stats(samples)
        figures[strategy.key] = {"label": strategy.label, "repetitions": reps, "jobs": jobs}
    return figures


def measure_spread(lab: VirtualLab, sizes: Sizes, seed: int) -> dict[str, Any]:
    """Every strategy on jobs whose ends are spread across a 10 s window."""
    figures: dict[str, Any] = {}
    for strategy in STRATEGIES:
        samples = [
            lab.wait(strategy, seconds + offset, seed=seed_for(seed, seconds + offset, 0))
            for seconds in sizes.spread_jobs
            for offset in sizes.spread_offsets
        ]
        stats = _stats(samples)
        del stats["samples"]
        figures[strategy.key] = stats
    return figures


def measure_real(
    jobs: Sequence[float], *, seed: int, lab: VirtualLab | None = None
) -> list[dict[str, Any]]:
    """Default polling and streaming on the real clock over loopback.

    The default policy is seeded as the virtual repetition 0 of the same job, so its
    delays are the same ones; with ``lab`` the virtual figures are put alongside.
    The run ends ``seconds`` after the server created it, which happened during the
    create call: the lag is counted from the call's midpoint (``create_seconds`` is the
    call's length, the uncertainty of the lag).
    """
    rows: list[dict[str, Any]] = []
    with Emulator(seed=seed) as emu, emu.client() as client:
        for seconds in jobs:
            for strategy in (WaitStrategy.POLL, WaitStrategy.STREAM):
                emu.script(Outcome.completed(after=seconds))
                before = emu.stats.requests
                with _seeded(seed_for(seed, seconds, 0)):
                    t0 = time.monotonic()
                    job = client.background.create(model="yandexgpt", input=PROMPT)
                    t1 = time.monotonic()
                    result = job.wait(strategy=strategy, timeout=seconds + 60)
                    done = time.monotonic()
                if not isinstance(result, Completed):
                    raise RuntimeError(f"the real {seconds:g} s job ended {result.status}")
                after = emu.stats.requests
                routes = ("responses.retrieve", "responses.stream")
                row: dict[str, Any] = {
                    "job_seconds": seconds,
                    "strategy": "default" if strategy is WaitStrategy.POLL else "stream",
                    "requests": sum(after[r] - before[r] for r in routes),
                    "requests_by_route": {r: after[r] - before[r] for r in routes},
                    "lag_seconds": done - (t0 + t1) / 2 - seconds,
                    "create_seconds": t1 - t0,
                    "virtual_requests": None,
                    "virtual_lag_seconds": None,
                }
                if lab is not None and strategy is WaitStrategy.POLL:
                    virtual = lab.wait(STRATEGIES[0], seconds, seed=seed_for(seed, seconds, 0))
                    row["virtual_requests"] = virtual.requests
                    row["virtual_lag_seconds"] = virtual.lag
                rows.append(row)
    return rows


# --- the report ------------------------------------------------------------------------------


def _cell(job: dict[str, Any], kind: str, jittered: bool, digits: int) -> str:
    mean, worst = job[f"{kind}_mean"], job[f"{kind}_max"]
    if not jittered:
        return f"{mean:.{digits}f}" if kind == "lag" else f"{worst}"
    worst_text = f"{worst:.{digits}f}" if kind == "lag" else f"{worst}"
    return f"{mean:.{digits}f} (max {worst_text})"


def _tables(figures: dict[str, Any], sizes: Sizes) -> list[Table]:
    virtual = figures["virtual"]
    columns = ["strategy"] + [f"{s:g} s job" for s in sizes.jobs]
    requests_rows, lag_rows = [], []
    for strategy in STRATEGIES:
        entry = virtual[strategy.key]
        jittered = entry["repetitions"] > 1
        jobs = [entry["jobs"][f"{s:g}"] for s in sizes.jobs]
        requests_rows.append(
            [strategy.label] + [_cell(job, "requests", jittered, 1) for job in jobs]
        )
        lag_rows.append([strategy.label] + [_cell(job, "lag", jittered, 2) for job in jobs])
    stream_note = (
        'Streaming (`wait(strategy="stream")`) needs the real clock: 1 request, '
        "lag = event delivery; see the real-clock table."
    )
    reps = virtual["default"]["repetitions"]
    seeded = f"Default policy: mean (max) over {reps} seeded repetitions; the others are exact."
    spread = figures["spread"]
    offsets = sizes.spread_offsets
    spread_rows = [
        [
            strategy.label,
            f"{spread[strategy.key]['requests_mean']:.1f}",
            f"{spread[strategy.key]['lag_mean']:.2f}",
            f"{spread[strategy.key]['lag_max']:.2f}",
        ]
        for strategy in STRATEGIES
    ]
    real_rows = [
        [
            f"{row['job_seconds']:g} s job, {row['strategy']}",
            f"{row['requests']}",
            "-" if row["virtual_requests"] is None else f"{row['virtual_requests']}",
            f"{row['lag_seconds'] * 1000:.1f}",
            "-"
            if row["virtual_lag_seconds"] is None
            else f"{row['virtual_lag_seconds'] * 1000:.1f}",
            f"±{row['create_seconds'] * 1000 / 2:.1f}",
        ]
        for row in figures["real"]
    ]
    return [
        Table(
            "Status requests per job after the create (virtual clock)",
            columns,
            requests_rows,
            [seeded, stream_note],
        ),
        Table(
            "Detection lag, seconds from the run's end to the caller knowing (virtual clock)",
            columns,
            lag_rows,
            [
                seeded,
                "A fixed loop shows no lag when the job's length is a multiple of its interval "
                "(1 s and 2 s loops here): see the next table for jobs that end at any moment.",
            ],
        ),
        Table(
            "Jobs that end at any moment (virtual clock)",
            ["strategy", "requests per job", "mean lag s", "max lag s"],
            spread_rows,
            [
                f"{len(sizes.spread_jobs) * len(offsets)} jobs: "
                f"{', '.join(f'{s:g}' for s in sizes.spread_jobs)} s, each plus {len(offsets)} "
                f"offsets from {offsets[0]:g} to {offsets[-1]:g} s, which spread the ends across "
                "a 10 s window (every fixed interval here); the default policy seeded per job.",
            ],
        ),
        Table(
            "Real clock over loopback, next to the virtual figures",
            [
                "job, strategy",
                "requests",
                "virtual",
                "lag ms",
                "virtual lag ms",
                "lag uncertainty ms",
            ],
            real_rows,
            [
                "The default policy is seeded as the virtual run, so both sleep the same delays; "
                "the real one also spends time on each request.",
                "Lag is counted from the midpoint of the create call (the server created the run "
                "during it): the uncertainty is half that call.",
                "Streaming has no virtual figures: the emulator's stream follows the real clock.",
            ],
        ),
    ]


def _checks(figures: dict[str, Any], sizes: Sizes) -> list[Check]:
    virtual = figures["virtual"]
    cap = PollPolicy().cap
    long_jobs = [s for s in sizes.jobs if s >= FEWER_FROM]
    parts, fewer = [], True
    for seconds in long_jobs:
        ours = virtual["default"]["jobs"][f"{seconds:g}"]
        loop = virtual["fixed_2s"]["jobs"][f"{seconds:g}"]["requests_max"]
        fewer = fewer and ours["requests_max"] < loop
        parts.append(
            f"{seconds:g} s: {ours['requests_mean']:.1f} (max {ours['requests_max']}) vs {loop}"
        )
    default_lags = [job["lag_max"] for job in virtual["default"]["jobs"].values()]
    default_lags.append(figures["spread"]["default"]["lag_max"])
    worst_lag = max(default_lags)
    stream = [row for row in figures["real"] if row["strategy"] == "stream"]
    stream_requests = max(row["requests"] for row in stream)
    stream_lag = max(row["lag_seconds"] for row in stream)
    return [
        Check(
            f"default policy makes fewer requests than the 2 s loop for jobs of "
            f"{FEWER_FROM:g} s or more",
            fewer and bool(long_jobs),
            "; ".join(parts) or "no job that long in this run",
        ),
        Check(
            f"default policy's worst-case lag at most its cap ({cap:g} s)",
            worst_lag <= cap,
            f"worst {worst_lag:.2f} s over every virtual job, {cap - worst_lag:.2f} s to spare",
        ),
        Check(
            f"streaming wait: at most {STREAM_MAX_REQUESTS} requests, "
            f"under {STREAM_MAX_LAG * 1000:g} ms of lag",
            stream_requests <= STREAM_MAX_REQUESTS and stream_lag < STREAM_MAX_LAG,
            f"{stream_requests} request(s), worst lag {stream_lag * 1000:.1f} ms "
            f"over {len(stream)} real job(s)",
        ),
    ]


def run(context: Context) -> Report:
    """The ``waiting`` part."""
    sizes = QUICK if context.quick else FULL
    with VirtualLab(seed=context.seed) as lab:
        context.progress(f"waiting: {len(sizes.jobs)} job lengths on the virtual clock")
        virtual = measure_virtual(lab, sizes, context.seed)
        spread = measure_spread(lab, sizes, context.seed)
        real_total = sum(sizes.real_jobs) * 2
        context.progress(f"waiting: about {real_total:g} s of real-clock jobs")
        real = measure_real(sizes.real_jobs, seed=context.seed, lab=lab)
    figures: dict[str, Any] = {
        "jobs_seconds": list(sizes.jobs),
        "repetitions": sizes.repetitions,
        "default_policy": asdict(PollPolicy()),
        "virtual": virtual,
        "spread": {
            "jobs_seconds": list(sizes.spread_jobs),
            "offsets_seconds": list(sizes.spread_offsets),
            **spread,
        },
        "real": real,
    }
    return Report(tables=_tables(figures, sizes), checks=_checks(figures, sizes), figures=figures)


PART = Part(
    name="waiting",
    title="The cost of waiting for a background run",
    run=run,
    order=20,
)
