"""The synchronous OpenAI-compatible routes: chat completions, embeddings and the model list.

Chat completions take the same scripts, rules and unscripted decisions as
Responses (a text, JSON for a ``response_format``, a tool call for a forcing
``tool_choice``); nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import payloads
from .answers import Conversation, all_text, input_text_of, nested_function_tools
from .service import Service, check_temperature
from .wire import (
    EventSource,
    Reply,
    Request,
    ServiceError,
    check_shapes,
    is_true,
    json_body,
    sse,
)

__all__ = ["chat_completion", "conversation_of", "embeddings", "models"]

_SHAPES: dict[str, tuple[type, ...]] = {
    "messages[]": (dict,),
    "tools[]": (dict,),
    "tool_choice": (str, dict),
    "response_format": (dict,),
}


def chat_completion(service: Service, request: Request) -> Reply:
    """``POST /v1/chat/completions``, plain or streamed."""
    body = json_body(request)
    check_shapes(body, _SHAPES)
    uri = service.model(body.get("model"), request.headers.get("openai-project"), "gpt")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ServiceError(400, "messages must be a non-empty list")
    for message in messages:
        check_shapes(message, {"role": (str,), "content": (str, list), "tool_calls[]": (dict,)})
    check_temperature(body)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise ServiceError(400, "max_tokens must be a positive integer")
    outcome, answer = service.decide(conversation_of(body), max_tokens)
    if outcome.kind == "never":
        raise ServiceError(504, "the model did not answer in time")
    if outcome.kind == "failed":
        raise ServiceError(500, outcome.error_message)
    finish = "stop"
    if outcome.kind == "incomplete":
        finish = "length" if outcome.reason == "max_output_tokens" else "content_filter"
    tool_call = None
    if answer.is_tool_call:
        tool_call = (
            "call_" + service.uuid().replace("-", ""),
            answer.tool_name or "",
            answer.arguments,
        )
    arguments: dict[str, Any] = {
        "completion_id": "chatcmpl-" + service.uuid(),
        # the service echoes the model URI without the folder
        "model": f"gpt://{uri.name}/{uri.version}" + (f"@{uri.suffix}" if uri.suffix else ""),
        "created": service.wall(service.clock()),
        "text": answer.text,
        "prompt_tokens": payloads.count_tokens(all_text(messages)),
        "tool_call": tool_call,
        "finish_reason": finish,
    }
    if is_true(body.get("stream", False)):
        chunks = [sse(None, chunk) for chunk in payloads.chat_chunks(**arguments)]
        chunks.append(b"data: [DONE]\n\n")
        return Reply(stream=EventSource(lambda: (chunks, True)))
    return Reply(body=payloads.chat_completion(**arguments))


def conversation_of(body: Mapping[str, Any]) -> Conversation:
    """What a chat request asks for: its messages, tools, forced choice and format."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tools = nested_function_tools(body.get("tools"))
    called = tuple(
        str((call.get("function") or {}).get("name"))
        for message in messages
        for call in message.get("tool_calls") or []
        if isinstance(call, dict)
    )
    form = body.get("response_format")
    form = form if isinstance(form, dict) else {}
    spec = form.get("json_schema") if form.get("type") == "json_schema" else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return Conversation(
        input_text=input_text_of(messages),
        tools=tools,
        forced=_forced(body.get("tool_choice")),
        called=called,
        ends_with_tool_output=bool(messages) and messages[-1].get("role") == "tool",
        json_schema=schema if isinstance(schema, dict) else None,
        json_object=form.get("type") == "json_object",
    )


def _forced(choice: object) -> str | None:
    if choice == "required":
        return "required"
    if isinstance(choice, dict):
        function = choice.get("function")
        if choice.get("type") == "function" and isinstance(function, dict):
            name = function.get("name")
            return name if isinstance(name, str) else None
        if choice.get("type") == "allowed_tools":
            allowed = choice.get("allowed_tools")
            if isinstance(allowed, dict) and allowed.get("mode") == "required":
                return "required"
    return None


def embeddings(service: Service, request: Request) -> Reply:
    """``POST /v1/embeddings``: deterministic unit vectors, floats or base64."""
    body = json_body(request)
    uri = service.model(body.get("model"), request.headers.get("openai-project"), "emb")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ServiceError(400, "input must be a string or a non-empty list of strings")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise ServiceError(400, f"encoding_format must be 'float' or 'base64', not {encoding!r}")
    return Reply(
        body=payloads.embeddings_list(
            model=str(uri), model_name=uri.name, texts=texts, encoding_format=encoding
        )
    )


def models(service: Service, request: Request) -> Reply:
    """``GET /v1/models``: every served model, as a URI in the caller's folder."""
    folder = request.headers.get("openai-project") or service.folder_id
    return Reply(body=payloads.models_list(folder))
