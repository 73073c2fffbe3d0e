"""The emulator as a user's test sees it: through the official client, over loopback."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx2
import openai
import pytest

from yc_responses import AsyncYandexOpenAI, YandexOpenAI
from yc_responses.testing import (
    DEFAULT_FOLDER_ID,
    Emulator,
    Fault,
    ManualClock,
    Outcome,
    Quotas,
)
from yc_responses.testing.__main__ import build_emulator, export_lines
from yc_responses.testing.__main__ import main as emulator_main

MODEL = f"gpt://{DEFAULT_FOLDER_ID}/yandexgpt/latest"
_HTTP = httpx2.Client()
"""One plain HTTP client for the raw requests: connections to loopback only."""


@pytest.fixture
def client(yc_emulator: Emulator) -> YandexOpenAI:
    """No retries: each fault reaches the test as the official client's exception."""
    return yc_emulator.client(max_retries=0)


def _wait(client: YandexOpenAI, response_id: str, clock: ManualClock) -> str:
    status = client.responses.retrieve(response_id).status
    while status in ("queued", "in_progress"):
        clock.sleep(1.0)
        status = client.responses.retrieve(response_id).status
    assert status is not None
    return status


# --- Responses -----------------------------------------------------------------------------------


def test_plain_create_completes_at_once_with_an_answer_derived_from_the_input(
    client: YandexOpenAI,
) -> None:
    first = client.responses.create(model="yandexgpt", input="What is a platypus?")
    second = client.responses.create(model="yandexgpt", input="What is a platypus?")

    assert first.status == "completed"
    assert first.output_text == second.output_text == "Emulated answer to: What is a platypus?"
    assert first.model == MODEL
    assert first.usage is not None
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    assert client.responses.retrieve(first.id).output_text == first.output_text


def test_background_run_goes_queued_in_progress_completed_on_the_clock(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("Paris.", after=300.0, queued=60.0))

    job = client.responses.create(model="yandexgpt", input="Capital?", background=True)
    seen = [job.status]
    while seen[-1] not in ("completed", "failed", "cancelled", "incomplete"):
        yc_clock.sleep(50.0)
        seen.append(client.responses.retrieve(job.id).status)

    assert seen == ["queued", "queued", "in_progress", *["in_progress"] * 3, "completed"]
    assert client.responses.retrieve(job.id).output_text == "Paris."
    assert yc_clock() == 300.0


def test_unscripted_background_run_in_the_fixture_finishes_on_the_next_retrieve(
    client: YandexOpenAI,
) -> None:
    job = client.responses.create(model="yandexgpt", input="Hi", background=True)

    assert job.status == "queued"
    assert client.responses.retrieve(job.id).status == "completed"


def test_failed_and_incomplete_outcomes_carry_their_details(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(
        Outcome.failed("invalid_prompt", "the prompt is too long", after=2.0),
        Outcome.incomplete("content_filter", "Partial answer that goes on", after=2.0),
    )
    failed = client.responses.create(model="yandexgpt", input="a", background=True)
    cut = client.responses.create(model="yandexgpt", input="b", background=True)
    yc_clock.advance(2.0)

    failed = client.responses.retrieve(failed.id)
    cut = client.responses.retrieve(cut.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("invalid_prompt", "the prompt is too long")
    assert failed.output == []
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "content_filter"
    assert cut.output_text == "Partial answer that goes on"


def test_max_output_tokens_cuts_an_unscripted_answer(client: YandexOpenAI) -> None:
    reply = client.responses.create(model="yandexgpt", input="Tell me more", max_output_tokens=2)

    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None
    assert reply.incomplete_details.reason == "max_output_tokens"
    assert reply.output_text == "Emulated answer"


def test_rules_by_input_and_scripts_for_an_input(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.on_input(re.compile("forbidden"), Outcome.incomplete("content_filter"))
    yc_emulator.script(Outcome.completed("special"), input="the special one")

    ordinary = client.responses.create(model="yandexgpt", input="ordinary")
    special = client.responses.create(model="yandexgpt", input="the special one")
    blocked = client.responses.create(model="yandexgpt", input="a forbidden topic")

    assert ordinary.output_text == "Emulated answer to: ordinary"
    assert special.output_text == "special"
    assert blocked.status == "incomplete"


def test_a_plain_create_that_fails_is_an_http_error(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.script(Outcome.failed("server_error", "the model broke"))

    with pytest.raises(openai.InternalServerError, match="the model broke"):
        client.responses.create(model="yandexgpt", input="x")


def test_cancel_a_background_run_and_cancel_again(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.never())
    job = client.responses.create(model="yandexgpt", input="forever", background=True)
    yc_clock.advance(3600)
    assert client.responses.retrieve(job.id).status == "in_progress"

    cancelled = client.responses.cancel(job.id)
    again = client.responses.cancel(job.id)

    assert cancelled.status == again.status == "cancelled"
    assert cancelled.output == []
    assert client.responses.retrieve(job.id).status == "cancelled"
    assert yc_emulator.status_of(job.id) == "cancelled"


def test_cancel_is_refused_for_finished_and_plain_responses(client: YandexOpenAI) -> None:
    plain = client.responses.create(model="yandexgpt", input="x")
    done = client.responses.create(model="yandexgpt", input="y", background=True)
    assert client.responses.retrieve(done.id).status == "completed"

    with pytest.raises(openai.BadRequestError, match="background=true"):
        client.responses.cancel(plain.id)
    with pytest.raises(openai.BadRequestError, match="'completed'"):
        client.responses.cancel(done.id)


def test_delete_then_unknown_ids_are_404_with_an_error_body(client: YandexOpenAI) -> None:
    reply = client.responses.create(model="yandexgpt", input="x")
    client.responses.delete(reply.id)

    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(reply.id)
    assert caught.value.body == {
        "message": f"response with id {reply.id!r} not found",
        "type": "not_found_error",
    }
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("no-such-id")


def test_store_false_is_not_kept_and_background_needs_store(client: YandexOpenAI) -> None:
    reply = client.responses.create(model="yandexgpt", input="x", store=False)

    assert reply.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(reply.id)
    with pytest.raises(openai.BadRequestError, match="stored"):
        client.responses.create(model="yandexgpt", input="x", background=True, store=False)


# --- event streams -------------------------------------------------------------------------------


def test_stream_of_a_finished_run_and_resuming_after_a_sequence_number(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("one two three four five", after=10.0))
    job = client.responses.create(model="yandexgpt", input="x", background=True)
    yc_clock.advance(10.0)

    events = list(client.responses.retrieve(job.id, stream=True))
    resumed = list(client.responses.retrieve(job.id, stream=True, starting_after=4))

    types = [event.type for event in events]
    assert types[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "one two three four five"
    assert [event.sequence_number for event in resumed] == list(range(5, len(events)))


def test_stream_shows_only_what_has_happened_by_now_of_a_cancelled_run(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.never(queued=1.0))
    job = client.responses.create(model="yandexgpt", input="x", background=True)
    yc_clock.advance(5.0)
    client.responses.cancel(job.id)

    types = [event.type for event in client.responses.retrieve(job.id, stream=True)]

    assert types == ["response.created", "response.queued", "response.in_progress"]


def test_a_dropped_stream_is_an_error_and_resumes_where_it_broke(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    job = client.responses.create(model="yandexgpt", input="a b c d e f g h", background=True)
    yc_emulator.inject(Fault.drop(after_events=3), route="responses.stream", times=1)

    received: list[int] = []

    def read_all() -> None:
        for event in client.responses.retrieve(job.id, stream=True):
            received.append(event.sequence_number)

    with pytest.raises(openai.APIError):  # the connection breaks mid-body
        read_all()
    rest = client.responses.retrieve(job.id, stream=True, starting_after=received[-1])
    received += [event.sequence_number for event in rest]

    assert received[:3] == [0, 1, 2]
    assert received == list(range(len(received)))
    assert yc_emulator.stats.requests["responses.stream"] == 2


def test_create_with_stream_true_streams_the_whole_run(client: YandexOpenAI) -> None:
    events = list(client.responses.create(model="yandexgpt", input="hello", stream=True))

    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Emulated answer to: hello"


# --- chat, embeddings, models --------------------------------------------------------------------


def test_chat_completion_plain_and_streamed_agree(client: YandexOpenAI) -> None:
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hello"}
    ]
    plain = client.chat.completions.create(model="yandexgpt", messages=messages)
    chunks = list(client.chat.completions.create(model="yandexgpt", messages=messages, stream=True))

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert plain.choices[0].message.content == text == "Emulated answer to: hello"
    assert plain.choices[0].finish_reason == "stop"
    assert plain.model == "gpt://yandexgpt/latest"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == plain.usage.total_tokens if plain.usage else False


def test_embeddings_are_deterministic_in_both_encodings(client: YandexOpenAI) -> None:
    default = client.embeddings.create(model="text-search-doc", input=["cat", "dog"])
    floats = client.embeddings.create(
        model="text-search-doc", input=["cat", "dog"], encoding_format="float"
    )
    query = client.embeddings.create(model="text-search-query", input="cat")

    assert [d.embedding for d in default.data] == [d.embedding for d in floats.data]
    assert len(default.data[0].embedding) == 256
    assert default.data[0].embedding != default.data[1].embedding
    assert query.data[0].embedding != default.data[0].embedding
    assert abs(sum(v * v for v in floats.data[0].embedding) - 1.0) < 1e-5


def test_models_lists_uris_in_the_callers_folder(client: YandexOpenAI) -> None:
    ids = [model.id for model in client.models.list()]

    assert f"gpt://{DEFAULT_FOLDER_ID}/yandexgpt/latest" in ids
    assert f"emb://{DEFAULT_FOLDER_ID}/text-search-doc/latest" in ids


@pytest.mark.anyio
async def test_async_client_runs_a_background_job(
    async_yc_client: AsyncYandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("async answer", after=30.0))
    job = await async_yc_client.responses.create(model="yandexgpt", input="x", background=True)
    await yc_clock.async_sleep(30.0)

    done = await async_yc_client.responses.retrieve(job.id)

    assert done.output_text == "async answer"


# --- the service's checks ------------------------------------------------------------------------


def test_unknown_key_is_401_with_the_service_error_body(yc_emulator: Emulator) -> None:
    client = yc_emulator.client(api_key="wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()

    assert caught.value.status_code == 401
    assert isinstance(caught.value.body, dict)
    assert set(caught.value.body) == {"message", "type"}
    assert "wrong" not in str(caught.value)


def test_api_key_scheme_and_iam_tokens_are_accepted() -> None:
    with Emulator(iam_tokens=("t-token",)) as emu:
        for authorization in (f"Api-Key {emu.api_key}", f"Bearer {emu.api_key}", "Bearer t-token"):
            reply = _HTTP.get(f"{emu.base_url}/models", headers={"Authorization": authorization})
            assert reply.status_code == 200


def test_model_uri_checks(yc_emulator: Emulator) -> None:
    raw = openai.OpenAI(
        api_key=yc_emulator.api_key,
        base_url=yc_emulator.base_url,
        project=yc_emulator.folder_id,
        max_retries=0,
    )
    other_folder = yc_emulator.client(folder_id="b1gotherfolder", max_retries=0)

    with pytest.raises(openai.BadRequestError, match="invalid model URI 'yandexgpt'"):
        raw.responses.create(model="yandexgpt", input="x")
    with pytest.raises(openai.BadRequestError, match="malformed model URI"):
        raw.responses.create(model="gpt://", input="x")
    with pytest.raises(openai.BadRequestError, match="does not match"):
        other_folder.responses.create(model=MODEL, input="x")
    with pytest.raises(openai.PermissionDeniedError):
        other_folder.responses.create(model="yandexgpt", input="x")
    with pytest.raises(openai.NotFoundError, match="not found"):
        raw.responses.create(model=f"gpt://{DEFAULT_FOLDER_ID}/no-such-model", input="x")
    with pytest.raises(openai.BadRequestError, match="emb://"):
        raw.embeddings.create(model=MODEL, input="x")
    raw.close()


# --- faults, quotas, counters --------------------------------------------------------------------


def test_rate_limit_fault_sends_retry_after_then_recovers(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.inject(Fault.rate_limit(retry_after=2), route="responses.retrieve", times=1)
    reply = client.responses.create(model="yandexgpt", input="x")

    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.retrieve(reply.id)
    assert caught.value.response.headers["retry-after"] == "2"
    assert client.responses.retrieve(reply.id).status == "completed"
    assert yc_emulator.stats.rate_limited == 1


def test_server_errors_by_count_and_skip(client: YandexOpenAI, yc_emulator: Emulator) -> None:
    yc_emulator.inject(Fault.error(503), route="models.list", times=1, skip=1)

    client.models.list()
    with pytest.raises(openai.InternalServerError) as caught:
        client.models.list()
    client.models.list()

    assert caught.value.status_code == 503
    assert yc_emulator.stats.statuses == {200: 2, 503: 1}


def test_rate_based_faults_repeat_with_the_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with Emulator(seed=seed) as emu, httpx2.Client() as http:
            emu.inject(Fault.error(500), rate=0.5)
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            return [
                http.get(f"{emu.base_url}/models", headers=headers).status_code for _ in range(12)
            ]

    first = statuses(7)
    assert first == statuses(7)
    assert {200, 500} == set(first)


def test_a_dropped_answer_after_creation_makes_a_retry_a_duplicate(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.inject(Fault.drop(after_processing=True), route="responses.create", times=1)

    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="yandexgpt", input="once", background=True)
    client.responses.create(model="yandexgpt", input="once", background=True)

    stats = yc_emulator.stats
    assert stats.dropped == 1
    assert stats.duplicates() == {"once": 2}
    assert stats.requests["responses.create"] == 2


def test_a_dropped_connection_before_processing_creates_nothing(
    client: YandexOpenAI, yc_emulator: Emulator
) -> None:
    yc_emulator.inject(Fault.drop(), route="responses.create", times=1)

    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="yandexgpt", input="once", background=True)

    assert yc_emulator.stats.creations == 0


def test_a_slow_answer_trips_the_client_timeout(yc_emulator: Emulator) -> None:
    yc_emulator.inject(Fault.slow(30.0), route="models.list", times=1)
    client = yc_emulator.client(max_retries=0, timeout=0.05)

    with pytest.raises(openai.APITimeoutError):
        client.models.list()
    assert client.models.list().data


def test_quotas_answer_429_within_a_second_of_the_clock(
    client: YandexOpenAI, yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.set_quotas(Quotas(creates_per_second=2, fetches_per_second=3))
    for _ in range(2):
        client.responses.create(model="yandexgpt", input="x", background=True)
    with pytest.raises(openai.RateLimitError, match="quota"):
        client.responses.create(model="yandexgpt", input="x", background=True)

    yc_clock.advance(1.0)
    job = client.responses.create(model="yandexgpt", input="x", background=True)
    for _ in range(3):
        client.responses.retrieve(job.id)
    with pytest.raises(openai.RateLimitError):
        client.responses.retrieve(job.id)

    assert yc_emulator.stats.rate_limited == 2
    assert Quotas.documented() == Quotas(10, 50, 5000)


# --- the deferred API ----------------------------------------------------------------------------


def _completion_async(emu: Emulator, **overrides: object) -> httpx2.Response:
    body: dict[str, object] = {
        "modelUri": f"gpt://{emu.folder_id}/yandexgpt",
        "completionOptions": {"stream": False, "temperature": 0.1, "maxTokens": "2000"},
        "messages": [
            {"role": "system", "text": "Translate the text"},
            {"role": "user", "text": "To be, or not to be: that is the question."},
        ],
        **overrides,
    }
    return _HTTP.post(
        f"{emu.llm_base_url}/foundationModels/v1/completionAsync",
        json=body,
        headers={"Authorization": f"Api-Key {emu.api_key}", "x-folder-id": emu.folder_id},
    )


def _operation(emu: Emulator, operation_id: str, suffix: str = "") -> httpx2.Response:
    return _HTTP.get(
        f"{emu.operation_base_url}/operations/{operation_id}{suffix}",
        headers={"Authorization": f"Bearer {emu.api_key}"},
    )


def test_completion_async_returns_an_operation_and_finishes_with_a_response(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.completed("Быть или не быть: вот в чём вопрос.", after=5.0))
    created = _completion_async(yc_emulator)
    operation = created.json()

    assert created.status_code == 200
    assert set(operation) == {
        "id",
        "description",
        "createdAt",
        "createdBy",
        "modifiedAt",
        "done",
        "metadata",
    }
    assert (operation["done"], operation["metadata"]) == (False, None)
    assert operation["description"] == "Async GPT Completion"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", operation["createdAt"])

    yc_clock.advance(5.0)
    done = _operation(yc_emulator, operation["id"]).json()
    assert set(done) == {
        "done",
        "response",
        "id",
        "description",
        "createdAt",
        "createdBy",
        "modifiedAt",
    }
    response = done["response"]
    assert response["@type"].endswith("foundation_models.v1.CompletionResponse")
    assert response["alternatives"] == [
        {
            "message": {"role": "assistant", "text": "Быть или не быть: вот в чём вопрос."},
            "status": "ALTERNATIVE_STATUS_FINAL",
        }
    ]
    assert all(isinstance(value, str) for value in response["usage"].values())
    assert set(response) == {"@type", "alternatives", "usage", "modelVersion"}


def test_operations_fail_are_cancelled_and_are_checked(
    yc_emulator: Emulator, yc_clock: ManualClock
) -> None:
    yc_emulator.script(Outcome.failed("server_error", "broken", after=1.0), Outcome.never())
    failing = _completion_async(yc_emulator).json()["id"]
    stuck = _completion_async(yc_emulator).json()["id"]
    yc_clock.advance(1.0)

    failed = _operation(yc_emulator, failing).json()
    cancelled = _operation(yc_emulator, stuck, ":cancel").json()

    assert failed["done"] is True
    assert "response" not in failed
    assert failed["error"] == {"code": 13, "message": "broken", "details": []}
    assert cancelled["error"]["code"] == 1
    assert _operation(yc_emulator, stuck).json()["done"] is True
    assert _operation(yc_emulator, "d7qnosuchoperation00").status_code == 404
    mismatch = _completion_async(yc_emulator, modelUri="gpt://b1gotherfolder/yandexgpt")
    assert mismatch.status_code == 400
    assert mismatch.json()["error"]["message"]
    assert _completion_async(yc_emulator, modelUri="yandexgpt").status_code == 400


# --- lifecycle and the command -------------------------------------------------------------------


def test_emulator_urls_and_repr_hide_the_key() -> None:
    emu = Emulator(api_key="the-key")
    with pytest.raises(RuntimeError, match="not started"):
        _ = emu.base_url
    with emu:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", emu.base_url)
        assert emu.llm_base_url == emu.operation_base_url == emu.base_url[: -len("/v1")]
        assert "the-key" not in repr(emu)
    assert "stopped" in repr(emu)


def test_command_arguments_build_the_emulator() -> None:
    emu = build_emulator(["--port", "0", "--folder-id", "b1gcustom", "--quotas", "--seed", "3"])
    strict = build_emulator(["--service-refusals"])

    assert (emu.port, emu.folder_id) == (0, "b1gcustom")
    assert emu.api_key.startswith("emulator-")
    assert (emu.service_refusals, strict.service_refusals) == (False, True)


def test_command_prints_export_lines_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "yc_responses.testing", "--port", "0", "--api-key", "k-1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(7)]
        exported = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        reply = httpx2.get(
            f"{exported['YC_BASE_URL']}/models", headers={"Authorization": "Bearer k-1"}
        )
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert lines[0].startswith("# ")  # comments: the output can be pasted into a shell
    assert lines[-1].startswith("# ")
    assert list(exported) == [
        "YC_BASE_URL",
        "YC_API_KEY",
        "YC_FOLDER_ID",
        "YC_LLM_BASE_URL",
        "YC_OPERATION_BASE_URL",
    ]
    assert exported["YC_API_KEY"] == "k-1"
    assert exported["YC_FOLDER_ID"] == DEFAULT_FOLDER_ID
    assert exported["YC_LLM_BASE_URL"] == exported["YC_OPERATION_BASE_URL"]
    assert exported["YC_BASE_URL"] == exported["YC_LLM_BASE_URL"] + "/v1"
    assert reply.status_code == 200


def test_the_exported_variables_reach_the_deferred_api(monkeypatch: pytest.MonkeyPatch) -> None:
    with Emulator() as emu:
        for line in export_lines(emu):
            name, value = line.removeprefix("export ").split("=", 1)
            monkeypatch.setenv(name, value)
        with YandexOpenAI(max_retries=0) as client:
            operation = client.deferred.create(model="yandexgpt", messages="Hi")

        assert emu.status_of(operation.id) is not None


def test_command_refuses_a_bad_port_and_a_port_in_use_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as refused:
        build_emulator(["--port", "99999"])
    assert refused.value.code == 2
    assert "99999 is not a port" in capsys.readouterr().err

    with Emulator() as busy:
        code = emulator_main(["--port", str(busy.port)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{busy.port}" in err
    assert "Traceback" not in err
