"""``imap``: results handed out as runs end, inputs read lazily, nothing kept after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from yc_responses import Completed, Quotas
from yc_responses.testing import Emulator, ManualClock

from .test_batch import _resource


def _imap(emulator: Emulator, clock: ManualClock, driver: str, inputs: Any, **options: Any) -> Any:
    options.setdefault("model", "yandexgpt")
    if driver == "sync":
        with emulator.client() as client:
            return list(_resource(client, clock, "background").imap(inputs, **options))

    async def main() -> list[Any]:
        async with emulator.async_client() as client:
            return [
                pair
                async for pair in _resource(client, clock, "background").imap(inputs, **options)
            ]

    return anyio.run(main)


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_input_comes_once_with_its_index_as_runs_end(driver: str) -> None:
    clock = ManualClock()
    with Emulator(clock=clock, background_duration=(1.0, 30.0), seed=5) as emulator:
        emulator.set_quotas(Quotas.documented())
        pairs = _imap(emulator, clock, driver, (f"prompt {i}" for i in range(80)))
        assert sorted(index for index, _ in pairs) == list(range(80))
        assert all(isinstance(result, Completed) for _, result in pairs)
        assert [index for index, _ in pairs] != list(range(80))  # in the order they ended
        assert emulator.stats.creations == 80
        assert emulator.stats.rate_limited == 0


def test_inputs_are_read_only_as_there_is_room_for_them(driver: str) -> None:
    clock = ManualClock()
    read = 0

    def inputs() -> Iterator[str]:
        nonlocal read
        for i in range(60):
            read += 1
            yield f"prompt {i}"

    seen: list[tuple[int, int]] = []
    with Emulator(clock=clock, background_duration=5.0, seed=5) as emulator:
        options = {"concurrency": 5, "progress": lambda _p: seen.append((read, _p.done))}
        pairs = _imap(emulator, clock, driver, inputs(), **options)
    assert len(pairs) == 60
    assert max(taken - done for taken, done in seen) <= 5 + 1


def test_a_stopped_imap_resumes_from_its_journal_without_resending(
    driver: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    journal = tmp_path / "batch.sqlite"
    inputs = [f"prompt {i}" for i in range(30)]
    with Emulator(clock=clock, background_duration=(1.0, 10.0), seed=5) as emulator:
        with emulator.client() as client:
            resource = _resource(client, clock, "background")
            first = []
            for pair in resource.imap(inputs, model="yandexgpt", journal=journal, concurrency=8):
                first.append(pair)
                if len(first) == 5:
                    break
        again = _imap(emulator, clock, driver, inputs, journal=journal)
        assert sorted(index for index, _ in again) == list(range(30))
        assert emulator.stats.creations == 30
        assert emulator.stats.duplicates() == {}


def test_an_imap_over_a_finished_journal_reads_every_result_from_it(
    driver: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    journal = tmp_path / "batch.sqlite"
    with Emulator(clock=clock, background_duration=2.0, seed=5) as emulator:
        first = _imap(emulator, clock, driver, ["a", "b", "c"], journal=journal)
        requests = sum(emulator.stats.requests.values())
        again = _imap(emulator, clock, driver, ["a", "b", "c"], journal=journal)
        assert sum(emulator.stats.requests.values()) == requests  # nothing sent
    assert sorted((i, r.output_text) for i, r in again) == sorted(
        (i, r.output_text) for i, r in first
    )


def test_map_keeps_its_results_compact_and_they_read_as_the_originals(tmp_path: Path) -> None:
    import pickle

    from yc_responses.batch.compact import compact

    clock = ManualClock()
    with Emulator(clock=clock, background_duration=2.0, seed=5) as emulator:
        results = _imap(emulator, clock, "sync", ["a", "b"])
        with emulator.client() as client:
            kept = _resource(client, clock, "background").map(["a", "b"], model="yandexgpt")
            kind = client.background.kind
            full = dict(results)
            for index, result in enumerate(kept):
                assert isinstance(result, Completed)
                assert repr(result).startswith("Completed(")
                assert result.output_text == full[index].output_text
                assert result.response.output_text == result.output_text
                plain = pickle.loads(pickle.dumps(result))  # noqa: S301 - our own bytes
                assert type(plain) is Completed
                assert plain == result
            small = compact(full[0], kind.dump(full[0].response), kind.load)
            assert small == full[0]
            assert full[0] == small
