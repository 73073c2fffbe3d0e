"""The ``completionAsync`` API: creating operations, polling and cancelling them.

Operations are runs like background responses (the same scripts, rules and
unscripted decisions), answered in the Foundation Models REST shapes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import payloads
from .answers import Conversation, all_text, input_text_of, nested_function_tools
from .payloads import JSON, Status
from .runs import Run
from .service import Service, check_temperature
from .wire import (
    OPERATION_PATH,
    Reply,
    Request,
    ServiceError,
    check_shapes,
    integer_field,
    json_body,
    path_id,
)

__all__ = ["cancel_operation", "conversation_of", "create_operation", "get_operation"]

_ROLES = ("system", "user", "assistant")
_CONTENTS = ("text", "toolCallList", "toolResultList")


def create_operation(service: Service, request: Request) -> Reply:
    """``POST /foundationModels/v1/completionAsync``."""
    body = json_body(request)
    check_shapes(
        body,
        {"messages[]": (dict,), "tools[]": (dict,), "completionOptions": (dict,)},
    )
    uri = service.model(
        body.get("modelUri"), request.headers.get("x-folder-id"), "gpt", completion_api=True
    )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ServiceError(400, "messages must be a non-empty list")
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ServiceError(400, "each message needs a role: system, user or assistant")
        if not any(key in message for key in _CONTENTS):
            raise ServiceError(400, "each message needs a text, a toolCallList or a toolResultList")
    options = body.get("completionOptions") or {}
    if not isinstance(options, dict):
        raise ServiceError(400, "completionOptions must be an object")
    check_temperature(options, "temperature")
    max_tokens = integer_field(options.get("maxTokens"), "completionOptions.maxTokens")
    run = service.new_run(
        kind="operation",
        run_id="d7q" + service.token(17),
        conversation=conversation_of(body),
        input_tokens=payloads.count_tokens(all_text(messages)),
        model=str(uri),
        request=body,
        background=True,
        max_tokens=max_tokens,
    )
    return Reply(body=operation_body(service, run, at=run.created, pending=True))


def conversation_of(body: Mapping[str, Any]) -> Conversation:
    """What a ``completionAsync`` request asks for: messages, tools, ``toolChoice``, format."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tools = nested_function_tools(body.get("tools"))
    called = tuple(
        str((call.get("functionCall") or {}).get("name"))
        for message in messages
        for call in (message.get("toolCallList") or {}).get("toolCalls") or []
        if isinstance(call, dict)
    )
    choice = body.get("toolChoice")
    forced = None
    if isinstance(choice, dict):
        if isinstance(choice.get("functionName"), str):
            forced = str(choice["functionName"])
        elif choice.get("mode") == "REQUIRED":
            forced = "required"
    schema = body.get("jsonSchema")
    schema = schema.get("schema") if isinstance(schema, dict) else None
    return Conversation(
        input_text=input_text_of(messages),
        tools=tools,
        forced=forced,
        called=called,
        ends_with_tool_output=bool(messages) and "toolResultList" in messages[-1],
        json_schema=schema if isinstance(schema, dict) else None,
        json_object=body.get("jsonObject") is True,
    )


def _operation(service: Service, request: Request) -> Run:
    operation_id = path_id(OPERATION_PATH, request)
    run = service.find(operation_id, "operation")
    if run is None:
        raise ServiceError(404, f"operation {operation_id!r} not found")
    return run


def operation_body(
    service: Service, run: Run, at: float | None = None, pending: bool = False
) -> JSON:
    """The Operation of ``run`` at clock time ``at`` (``pending``: as just created)."""
    now = service.clock() if at is None else at
    status: Status = "in_progress" if pending else run.status(now)
    answer = run.answer
    tool_call = None
    if answer.is_tool_call:
        arguments = json.loads(answer.arguments)
        tool_call = (answer.tool_name or "", arguments if isinstance(arguments, dict) else {})
    return payloads.operation(
        operation_id=run.id,
        created_by=service.created_by,
        created_at=service.wall(run.created),
        modified_at=service.wall(run.changed_at(now)),
        status=status,
        text=answer.text,
        input_tokens=run.input_tokens,
        incomplete_reason=run.outcome.reason,
        error=(run.outcome.error_code, run.outcome.error_message),
        tool_call=tool_call,
    )


def get_operation(service: Service, request: Request) -> Reply:
    """``GET /operations/{id}``."""
    return Reply(body=operation_body(service, _operation(service, request)))


def cancel_operation(service: Service, request: Request) -> Reply:
    """``GET`` or ``POST /operations/{id}:cancel``: only while the operation is going."""
    run = _operation(service, request)
    now = service.clock()
    status = run.status(now)
    if status in ("queued", "in_progress"):
        run.cancelled = now
    elif status != "cancelled":
        raise ServiceError(409, f"operation {run.id!r} is already done")
    return Reply(body=operation_body(service, run))
