"""The Responses routes: create, retrieve, stream, cancel, delete and list input items.

Each function takes the :class:`~yc_responses.testing.service.Service` and a
:class:`~yc_responses.testing.wire.Request` and returns a
:class:`~yc_responses.testing.wire.Reply`, or raises
:class:`~yc_responses.testing.wire.ServiceError` for the service's refusals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import payloads
from .answers import Conversation, Tool, all_text, input_text_of
from .payloads import JSON, Status
from .runs import Run
from .service import Service, check_temperature
from .timeline import event_source
from .wire import (
    CANCEL_PATH,
    INPUT_ITEMS_PATH,
    RESPONSE_PATH,
    EventSource,
    Reply,
    Request,
    ServiceError,
    check_shapes,
    integer_field,
    is_true,
    json_body,
    path_id,
)

__all__ = [
    "cancel_response",
    "create_response",
    "delete_response",
    "input_items",
    "retrieve_response",
    "stream_response",
]

_SHAPES: dict[str, tuple[type, ...]] = {
    "input": (str, list),
    "tools[]": (dict,),
    "tool_choice": (str, dict),
    "text": (dict,),
    "prompt": (dict,),
    "instructions": (str,),
}
_INPUT_ITEM_SHAPES: dict[str, tuple[type, ...]] = {"content": (str, list), "role": (str,)}

_PROMPT_MODEL = "yandexgpt/latest"
"""The model a stored prompt runs when the request names none."""


def create_response(service: Service, request: Request) -> Reply:
    """``POST /v1/responses``."""
    body = json_body(request)
    check_shapes(body, _SHAPES)
    folder = request.headers.get("openai-project")
    prompt = body.get("prompt")
    if body.get("model") is None and isinstance(prompt, dict) and prompt.get("id"):
        # a stored prompt carries its model
        body_model: object = f"gpt://{service.folder_id}/{_PROMPT_MODEL}"
    else:
        body_model = body.get("model")
    uri = service.model(body_model, folder, "gpt")
    if "input" not in body and "previous_response_id" not in body and prompt is None:
        raise ServiceError(400, "input is required")
    check_temperature(body)
    background = is_true(body.get("background", False))
    if background and body.get("store") is False:
        raise ServiceError(400, "background responses must be stored: drop store=false")
    previous = body.get("previous_response_id")
    if previous is not None and (
        not isinstance(previous, str) or not service.find(previous, "response")
    ):
        raise ServiceError(404, f"previous response {previous!r} not found")
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ServiceError(400, "max_output_tokens must be a positive integer")
    source = body.get("input", "")
    for item in source if isinstance(source, list) else []:
        if not isinstance(item, dict):
            raise ServiceError(400, "input must be a string or a list of objects")
        check_shapes(item, _INPUT_ITEM_SHAPES)
    if isinstance((body.get("text") or {}).get("format"), str | int | list):
        raise ServiceError(400, "text.format must be an object")
    tokens = payloads.count_tokens(all_text(source) + " " + str(body.get("instructions") or ""))
    run = service.new_run(
        kind="response",
        run_id=service.uuid(),
        conversation=conversation_of(body),
        input_tokens=tokens,
        model=str(uri),
        request=body,
        background=background,
        max_tokens=max_tokens,
    )
    if is_true(body.get("stream", False)):
        return Reply(stream=_events(service, run, None))
    if not background and run.outcome.kind == "never":
        del service.runs[run.id]
        raise ServiceError(504, "the model did not answer in time")
    if not background and run.outcome.kind == "failed":
        del service.runs[run.id]
        raise ServiceError(500, run.outcome.error_message)
    # a background creation always answers "queued", however short the run
    status: Status = "queued" if background else run.status(run.created)
    answer = snapshot(service, run, status, run.created)
    if body.get("store") is False:
        del service.runs[run.id]
    return Reply(body=answer)


def conversation_of(body: Mapping[str, Any]) -> Conversation:
    """What a Responses request asks for: its input, tools, forced choice and format."""
    source = body.get("input", "")
    items = source if isinstance(source, list) else []
    tools = tuple(
        Tool(str(tool["name"]), tool.get("parameters") or {})
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function" and tool.get("name")
    )
    called = tuple(
        str(item.get("name"))
        for item in items
        if isinstance(item, dict) and item.get("type") == "function_call"
    )
    last = items[-1] if items else None
    ends_with_output = isinstance(last, dict) and last.get("type") == "function_call_output"
    form = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    form = form if isinstance(form, dict) else {}
    schema = form.get("schema") if form.get("type") == "json_schema" else None
    return Conversation(
        input_text=input_text_of(source),
        tools=tools,
        forced=_forced(body.get("tool_choice")),
        called=called,
        ends_with_tool_output=ends_with_output,
        json_schema=schema if isinstance(schema, dict) else None,
        json_object=form.get("type") == "json_object",
    )


def _forced(choice: object) -> str | None:
    if choice == "required":
        return "required"
    if isinstance(choice, dict):
        if choice.get("type") == "function" and isinstance(choice.get("name"), str):
            return str(choice["name"])
        if choice.get("type") == "allowed_tools" and choice.get("mode") == "required":
            return "required"
    return None


def snapshot(service: Service, run: Run, status: Status, now: float) -> JSON:
    """The ``Response`` object of ``run`` with ``status`` at clock time ``now``."""
    outcome, answer = run.outcome, run.answer
    return payloads.response_object(
        response_id=run.id,
        request=run.request,
        model=run.model,
        status=status,
        created_at=service.wall(run.created),
        item_id=run.item_id,
        text=None if answer.is_tool_call else answer.text,
        tool_call=(answer.tool_name or "", answer.arguments) if answer.is_tool_call else None,
        input_tokens=run.input_tokens,
        error=(outcome.error_code, outcome.error_message),
        incomplete_reason=outcome.reason,
    )


def _events(service: Service, run: Run, starting_after: int | None) -> EventSource:
    return event_source(
        run,
        starting_after,
        clock=service.clock,
        lock=service.lock,
        snapshot=lambda r, status, at: snapshot(service, r, status, at),
    )


def _response(service: Service, run_id: str) -> Run:
    run = service.find(run_id, "response")
    if run is None:
        raise ServiceError(404, f"response with id {run_id!r} not found")
    return run


def _now_body(service: Service, run: Run) -> JSON:
    now = service.clock()
    return snapshot(service, run, run.status(now), now)


def retrieve_response(service: Service, request: Request) -> Reply:
    """``GET /v1/responses/{id}``."""
    return Reply(body=_now_body(service, _response(service, path_id(RESPONSE_PATH, request))))


def stream_response(service: Service, request: Request) -> Reply:
    """``GET /v1/responses/{id}?stream=true[&starting_after=N]``."""
    run = _response(service, path_id(RESPONSE_PATH, request))
    if not run.background:
        raise ServiceError(400, "only background responses can be streamed again")
    after = integer_field(request.query.get("starting_after"), "starting_after")
    return Reply(stream=_events(service, run, after))


def cancel_response(service: Service, request: Request) -> Reply:
    """``POST /v1/responses/{id}/cancel``: only background runs, and only while going."""
    run = _response(service, path_id(CANCEL_PATH, request))
    if not run.background:
        raise ServiceError(400, "only responses created with background=true can be cancelled")
    now = service.clock()
    status = run.status(now)
    if status in ("queued", "in_progress"):
        run.cancelled = now
    elif status != "cancelled":
        raise ServiceError(400, f"cannot cancel a response with status {status!r}")
    return Reply(body=_now_body(service, run))


def delete_response(service: Service, request: Request) -> Reply:
    """``DELETE /v1/responses/{id}``."""
    run = _response(service, path_id(RESPONSE_PATH, request))
    del service.runs[run.id]
    return Reply(body={"id": run.id, "object": "response.deleted", "deleted": True})


def input_items(service: Service, request: Request) -> Reply:
    """``GET /v1/responses/{id}/input_items[?order=asc|desc&limit=N&after=ID]``."""
    run = _response(service, path_id(INPUT_ITEMS_PATH, request))
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ServiceError(400, f"order must be 'asc' or 'desc', not {order!r}")
    limit = integer_field(request.query.get("limit"), "limit") or 20
    if not 1 <= limit <= 100:
        raise ServiceError(400, f"limit must be from 1 to 100, not {limit}")
    items = _input_items(run)
    after = request.query.get("after")
    return Reply(body=payloads.input_items(items, order=order, limit=limit, after=after))


def _input_items(run: Run) -> list[JSON]:
    """The stored input as items with ids, the way the service lists them."""
    source = run.request.get("input", "")
    raw = [{"role": "user", "content": source}] if isinstance(source, str) else source
    items: list[JSON] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        item_id = str(item.get("id") or f"{run.item_id}_in{index}")
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") == "assistant":
            text = input_text_of([{**item, "role": "user"}])
            items.append(payloads.output_message(item_id, text, "completed"))
        elif kind == "message":
            content = item.get("content")
            parts = (
                [{"type": "input_text", "text": content}]
                if isinstance(content, str)
                else [p for p in content or [] if isinstance(p, dict)]
            )
            role = item.get("role", "user")
            role = role if role in ("user", "system", "developer") else "user"
            items.append(
                {
                    "id": item_id,
                    "type": "message",
                    "role": role,
                    "status": "completed",
                    "content": parts,
                }
            )
        elif kind in ("function_call", "function_call_output"):
            items.append({**item, "id": item_id, "status": "completed"})
    return items
