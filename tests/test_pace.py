"""How many runs a batch keeps going, and when it first looks at one: the pure rule,
then a batch of long jobs on the emulator at the default settings."""

from __future__ import annotations

from typing import Any

import pytest

from yc_responses import Completed, PollPolicy, Quotas
from yc_responses.batch.pace import DEFAULT_MAX_CONCURRENCY, Pace
from yc_responses.testing import Emulator, ManualClock

from .test_batch import make_mapper


def test_before_any_run_ends_the_limit_grows_with_the_oldest_run() -> None:
    pace = Pace(cap=None, creates_per_second=10)
    assert pace.limit(now=0.0) == 100
    for second in range(20):
        pace.started(float(second))
    # 20 s after the first creation: 20 s x 10/s x 1.25 runs may be going
    assert pace.limit(now=20.0) == 250


def test_the_limit_follows_littles_law_from_the_durations_seen() -> None:
    pace = Pace(cap=None, creates_per_second=10)
    for start in range(100):
        pace.started(float(start))
        pace.ended(float(start), now=start + 120.0)
    assert pace.limit(now=300.0) == 1500  # 10/s x 120 s x 1.25


def test_the_callers_concurrency_is_never_exceeded() -> None:
    pace = Pace(cap=40, creates_per_second=10)
    pace.started(0.0)
    pace.ended(0.0, now=600.0)
    assert pace.limit(now=600.0) == 40
    assert Pace(cap=None, creates_per_second=None).limit(now=0.0) == DEFAULT_MAX_CONCURRENCY


def test_a_429_under_the_quota_cuts_the_limit_then_it_grows_back_slowly() -> None:
    pace = Pace(cap=None, creates_per_second=10)
    for tenth in range(200):
        pace.started(tenth / 10)
    assert pace.limit(now=20.0) == 250
    pace.refused(200, now=20.0)
    assert pace.limit(now=20.0) == 160
    pace.refused(160, now=20.5)  # the same burst of refusals counts once
    assert pace.limit(now=20.5) == 160
    for _ in range(170):  # about one more run per 160 created
        pace.started(21.0)
    assert pace.limit(now=21.0) == 161


def test_the_first_look_comes_when_a_tenth_of_runs_ended_and_never_after_the_cap() -> None:
    policy = PollPolicy()
    pace = Pace(cap=None, creates_per_second=10)
    assert pace.first_look(policy) is None  # nothing seen yet: the policy's own schedule
    for duration in (2.0, 3.0, 4.0, 5.0, 6.0, 2.5, 3.5, 4.5, 5.5, 6.0):
        pace.started(0.0)
        pace.ended(0.0, now=duration)
    assert pace.first_look(policy) == 2.5
    long = Pace(cap=None, creates_per_second=10)
    long.started(0.0)
    long.ended(0.0, now=120.0)
    assert long.first_look(policy) == policy.cap


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_long_jobs_at_the_defaults_finish_near_the_quota_bound_time(driver: str) -> None:
    clock = ManualClock()
    runs, length = 300, 60.0
    with Emulator(clock=clock, background_duration=length, seed=3) as emulator:
        emulator.set_quotas(Quotas.documented())
        results: list[Any] = make_mapper(emulator, clock, "background", driver)(
            [f"prompt {i}" for i in range(runs)]
        )
        assert all(isinstance(r, Completed) for r in results)
        assert emulator.stats.rate_limited == 0
        bound = runs / 10 + length
        assert clock() <= 1.15 * bound  # with at most 100 going at once: 300/100 x 60 s
        # a look every 5 s at most, the first ones skipped once durations are known
        assert emulator.stats.requests["responses.retrieve"] / runs <= 60 / 5 + 2


def test_a_service_that_limits_runs_at_once_is_met_with_fewer_runs_not_a_storm() -> None:
    from yc_responses.testing.core import error_reply

    clock = ManualClock()
    limit, refused = 60, 0
    created: list[str] = []
    with Emulator(clock=clock, background_duration=30.0, seed=3) as emulator:
        emulator.set_quotas(Quotas.documented())
        core = emulator.core
        original = core.handle

        def at_most_sixty(request: Any) -> Any:
            nonlocal refused
            if request.method == "POST" and request.path == "/v1/responses":
                going = [i for i in created if core.status_of(i) in ("queued", "in_progress")]
                if len(going) >= limit:
                    refused += 1
                    return error_reply(request, 429, "too many background responses at once")
                reply = original(request)
                if reply.status == 200 and reply.body is not None:
                    created.append(reply.body["id"])
                return reply
            return original(request)

        core.handle = at_most_sixty  # type: ignore[method-assign]
        results = make_mapper(emulator, clock, "background", "sync")(
            [f"prompt {i}" for i in range(300)]
        )
        assert all(isinstance(r, Completed) for r in results)
    assert len(created) == 300  # nothing sent twice
    assert 0 < refused <= 15  # a few probes of the limit, not a retry every few seconds
    assert clock() <= 1.4 * 300 / limit * 30  # close to what 60 runs at once allow
