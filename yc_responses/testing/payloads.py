"""The JSON bodies the emulator answers with, built as the service builds them.

Pure functions of their arguments: no clock, no I/O. Every body validates against
the official client's models (``openai.types``), and the deferred API's bodies
follow the documented Operation examples field for field.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Literal

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "MODELS",
    "chat_chunks",
    "chat_completion",
    "count_tokens",
    "default_answer",
    "embedding_vector",
    "embeddings_list",
    "fm_error",
    "models_list",
    "openai_error",
    "operation",
    "response_object",
    "rfc3339",
]

JSON = dict[str, Any]

EMBEDDING_DIMENSIONS = 256
"""The length of every embedding vector, as for Yandex's ``text-search-*`` models."""

MODELS: tuple[tuple[str, str, str, str], ...] = (
    ("gpt", "yandexgpt", "latest", "Yandex"),
    ("gpt", "yandexgpt", "rc", "Yandex"),
    ("gpt", "yandexgpt-lite", "latest", "Yandex"),
    ("gpt", "yandexgpt-lite", "rc", "Yandex"),
    ("gpt", "aliceai-llm", "latest", "Yandex"),
    ("gpt", "gpt-oss-120b", "latest", "OpenAI"),
    ("gpt", "gpt-oss-20b", "latest", "OpenAI"),
    ("gpt", "gemma-3-27b-it", "latest", "Google"),
    ("gpt", "qwen3-235b-a22b-fp8", "latest", "Alibaba"),
    ("gpt", "deepseek-v32", "latest", "DeepSeek"),
    ("emb", "text-search-doc", "latest", "Yandex"),
    ("emb", "text-search-query", "latest", "Yandex"),
    ("emb", "text-embeddings", "latest", "Yandex"),
)
"""(scheme, name, version, owner) of every model the emulator serves.

Only Yandex's own models are served by ``completionAsync`` too; the others only
through the OpenAI-compatible API."""

_TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: words and punctuation marks.

    >>> count_tokens("Hello, world!")
    4
    """
    return len(_TOKEN.findall(text))


def default_answer(input_text: str) -> str:
    """The answer of a run nobody scripted: derived from the input, so equal inputs agree.

    >>> default_answer("What is   the capital of France?")
    'Emulated answer to: What is the capital of France?'
    """
    snippet = " ".join(input_text.split())
    if len(snippet) > 80:
        snippet = snippet[:77] + "..."
    return f"Emulated answer to: {snippet}"


def truncate_tokens(text: str, tokens: int) -> str:
    """The start of ``text`` holding at most ``tokens`` tokens."""
    matches = list(_TOKEN.finditer(text))
    if len(matches) <= tokens:
        return text
    if tokens <= 0:
        return ""
    return text[: matches[tokens - 1].end()]


def split_deltas(text: str, pieces: int = 4) -> list[str]:
    """Split ``text`` into at most ``pieces`` consecutive chunks that join back to it."""
    if not text:
        return []
    words = re.findall(r"\S+\s*|\s+", text)
    size = max(1, -(-len(words) // pieces))
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]


def rfc3339(wall: float) -> str:
    """``2023-11-30T18:31:32Z``, as the Operation service writes times."""
    return datetime.fromtimestamp(int(wall), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- errors -------------------------------------------------------------------------------


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_denied_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


def openai_error(status: int, message: str) -> JSON:
    """The error body of the OpenAI-compatible endpoint.

    >>> openai_error(400, "invalid tool choice: foo")
    {'error': {'message': 'invalid tool choice: foo', 'type': 'invalid_request_error'}}
    """
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind}}


_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 9, 429: 8, 500: 13, 503: 14, 504: 4}
_HTTP_STATUS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def fm_error(status: int, message: str) -> JSON:
    """The error body of the Foundation Models REST API and the Operation service."""
    return {
        "error": {
            "grpcCode": _GRPC_CODES.get(status, 2),
            "httpCode": status,
            "message": message,
            "httpStatus": _HTTP_STATUS.get(status, "Error"),
            "details": [],
        }
    }


# --- Responses ----------------------------------------------------------------------------

Status = Literal["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"]


def _usage(input_tokens: int, output_tokens: int) -> JSON:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def output_message(item_id: str, text: str, status: str) -> JSON:
    """An assistant message item of ``output``."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text_part(text)] if status != "in_progress" else [],
    }


def output_text_part(text: str) -> JSON:
    """An ``output_text`` content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_call_item(item_id: str, name: str, arguments: str, status: str) -> JSON:
    """A ``function_call`` item of ``output``: the model asks to call ``name``."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": "call_" + item_id.removeprefix("fc_"),
        "name": name,
        "arguments": arguments if status != "in_progress" else "",
    }


def response_object(
    *,
    response_id: str,
    request: Mapping[str, Any],
    model: str,
    status: Status,
    created_at: float,
    item_id: str,
    text: str | None,
    input_tokens: int,
    tool_call: tuple[str, str] | None = None,
    error: tuple[str, str] | None = None,
    incomplete_reason: str | None = None,
) -> JSON:
    """A ``Response`` object as ``GET /v1/responses/{id}`` returns it.

    ``text`` is the answer when ``status`` is ``completed`` or ``incomplete``
    (``tool_call``, a ``(name, arguments)`` pair, instead of a text); the output
    is empty while the run is ``queued`` or ``in_progress`` and when it ``failed``
    or was ``cancelled``. As the service's schema: ``output_text`` and
    ``conversation``, and no ``completed_at``.
    """
    finished = status in ("completed", "incomplete")
    output: list[JSON] = []
    if finished and tool_call is not None:
        output = [function_call_item(item_id, tool_call[0], tool_call[1], "completed")]
    elif finished and text is not None:
        output = [output_message(item_id, text, status)]
    output_text = text or "" if finished and tool_call is None else ""
    spent = tool_call[1] if tool_call is not None else text or ""
    usage = (
        _usage(input_tokens, count_tokens(spent))
        if status in ("completed", "incomplete", "failed")
        else None
    )
    text_config = request.get("text")
    prompt = request.get("prompt")
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(created_at),
        "status": status,
        "background": bool(request.get("background", False)),
        "conversation": request.get("conversation")
        if isinstance(request.get("conversation"), dict)
        else None,
        "error": {"code": error[0], "message": error[1]} if status == "failed" and error else None,
        "incomplete_details": (
            {"reason": incomplete_reason} if status == "incomplete" and incomplete_reason else None
        ),
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "output_text": output_text,
        "parallel_tool_calls": bool(request.get("parallel_tool_calls", True)),
        "previous_response_id": request.get("previous_response_id"),
        "prompt": prompt if isinstance(prompt, dict) else None,
        "reasoning": {"effort": None, "summary": None},
        "store": bool(request.get("store", True)),
        "temperature": request.get("temperature", 1.0),
        "text": text_config if isinstance(text_config, dict) else {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": list(request.get("tools") or []),
        "top_p": request.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def input_items(items: list[JSON], *, order: str, limit: int, after: str | None) -> JSON:
    """``GET /v1/responses/{id}/input_items``: a page of the input's items."""
    ordered = items if order == "asc" else items[::-1]
    if after is not None:
        ids = [item["id"] for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else "",
        "last_id": page[-1]["id"] if page else "",
        "has_more": len(ordered) > limit,
    }


# --- chat completions, embeddings, models --------------------------------------------------


ChatToolCall = tuple[str, str, str]
"""A tool call of a chat answer: ``(id, function name, arguments as JSON text)``."""


def _chat_usage(prompt_tokens: int, completion_tokens: int) -> JSON:
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


def chat_completion(
    *,
    completion_id: str,
    model: str,
    created: float,
    text: str,
    prompt_tokens: int,
    tool_call: ChatToolCall | None = None,
    finish_reason: str = "stop",
) -> JSON:
    """A ``chat.completion`` as the service answers it (a tool call: empty content)."""
    message: JSON = {"role": "assistant", "content": text}
    if tool_call is not None:
        call_id, name, arguments = tool_call
        function = {"name": name, "arguments": arguments}
        message = {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": call_id, "type": "function", "function": function}],
        }
        finish_reason = "tool_calls"
    spent = tool_call[2] if tool_call is not None else text
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(created),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": _chat_usage(prompt_tokens, count_tokens(spent)),
    }


def chat_chunks(
    *,
    completion_id: str,
    model: str,
    created: float,
    text: str,
    prompt_tokens: int,
    tool_call: ChatToolCall | None = None,
    finish_reason: str = "stop",
) -> list[JSON]:
    """The ``chat.completion.chunk`` objects of a streamed answer, as the service sends them:
    the role, the text in pieces (or the whole tool call in one delta), the finish reason,
    then the usage with no choices."""
    head = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(created),
        "model": model,
    }
    chunks = [{**head, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    if tool_call is not None:
        call_id, name, arguments = tool_call
        call = {
            "index": 0,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        chunks.append({**head, "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
        finish_reason = "tool_calls"
    else:
        chunks += [
            {**head, "choices": [{"index": 0, "delta": {"content": piece}}]}
            for piece in split_deltas(text)
        ]
    final = {"index": 0, "delta": {}, "finish_reason": finish_reason}
    chunks.append({**head, "choices": [final]})
    spent = tool_call[2] if tool_call is not None else text
    chunks.append({**head, "choices": [], "usage": _chat_usage(prompt_tokens, count_tokens(spent))})
    return chunks


def embedding_vector(model_name: str, text: str) -> list[float]:
    """A unit vector derived from a hash of the model name and the text.

    Equal inputs give equal vectors; the values are exact ``float32`` numbers, so
    the ``float`` and ``base64`` encodings carry the same vector.

    >>> embedding_vector("text-search-doc", "hi") == embedding_vector("text-search-doc", "hi")
    True
    """
    seed = hashlib.sha256(f"{model_name}\0{text}".encode()).digest()
    rng = random.Random(seed)  # noqa: S311 (a deterministic stand-in, not security)
    raw = [rng.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIMENSIONS)]
    norm = sum(value * value for value in raw) ** 0.5 or 1.0
    packed = struct.pack(f"<{EMBEDDING_DIMENSIONS}f", *(value / norm for value in raw))
    return list(struct.unpack(f"<{EMBEDDING_DIMENSIONS}f", packed))


def embeddings_list(
    *, model: str, model_name: str, texts: Iterable[str], encoding_format: str
) -> JSON:
    """The ``list`` of embeddings, floats or base64-encoded little-endian ``float32``."""
    data: list[JSON] = []
    prompt_tokens = 0
    for index, text in enumerate(texts):
        vector = embedding_vector(model_name, text)
        prompt_tokens += count_tokens(text)
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"index": index, "embedding": embedding, "object": "embedding"})
    return {
        "object": "list",
        "model": model,
        "data": data,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def models_list(folder_id: str) -> JSON:
    """``GET /v1/models``: every served model, as a URI in the caller's folder."""
    return {
        "object": "list",
        "data": [
            {
                "id": f"{scheme}://{folder_id}/{name}/{version}",
                "object": "model",
                "owned_by": owner,
                "created": 0,
            }
            for scheme, name, version, owner in MODELS
        ],
    }


# --- the deferred API ----------------------------------------------------------------------

_ALTERNATIVE_STATUS = {
    "completed": "ALTERNATIVE_STATUS_FINAL",
    "tool_calls": "ALTERNATIVE_STATUS_TOOL_CALLS",
    "max_output_tokens": "ALTERNATIVE_STATUS_TRUNCATED_FINAL",
    "content_filter": "ALTERNATIVE_STATUS_CONTENT_FILTER",
}

_RPC_CODES = {"rate_limit_exceeded": 8, "invalid_prompt": 3, "server_error": 13}
"""google.rpc.Code of a failed operation, by the Responses error code."""


def operation(
    *,
    operation_id: str,
    created_by: str,
    created_at: float,
    modified_at: float,
    status: Status,
    text: str | None = None,
    input_tokens: int = 0,
    model_version: str = "23.10.2024",
    incomplete_reason: str | None = None,
    error: tuple[str, str] | None = None,
    tool_call: tuple[str, Mapping[str, Any]] | None = None,
) -> JSON:
    """An Operation of ``completionAsync``, as ``GET /operations/{id}`` returns it.

    Not done: ``done: false`` and ``metadata: null``. Done: exactly one of
    ``response`` (a ``CompletionResponse``) or ``error`` (``google.rpc.Status``;
    cancelled operations carry code 1).
    """
    head: JSON = {
        "id": operation_id,
        "description": "Async GPT Completion",
        "createdAt": rfc3339(created_at),
        "createdBy": created_by,
        "modifiedAt": rfc3339(modified_at),
    }
    if status in ("queued", "in_progress"):
        return {**head, "done": False, "metadata": None}
    if status == "cancelled":
        return {
            "done": True,
            "error": {"code": 1, "message": "operation cancelled", "details": []},
            **head,
        }
    if status == "failed":
        code, reason = error or ("server_error", "internal error")
        return {
            "done": True,
            "error": {"code": _RPC_CODES.get(code, 13), "message": reason, "details": []},
            **head,
        }
    answer = text or ""
    completion_tokens = count_tokens(answer)
    alternative_status = _ALTERNATIVE_STATUS[
        incomplete_reason if status == "incomplete" and incomplete_reason else "completed"
    ]
    message: JSON = {"role": "assistant", "text": answer}
    if tool_call is not None:
        name, arguments = tool_call
        call: JSON = {"functionCall": {"name": name, "arguments": dict(arguments)}}
        message = {"role": "assistant", "toolCallList": {"toolCalls": [call]}}
        alternative_status = _ALTERNATIVE_STATUS["tool_calls"]
        completion_tokens = count_tokens(json.dumps(dict(arguments)))
    return {
        "done": True,
        "response": {
            "@type": "type.googleapis.com/yandex.cloud.ai.foundation_models.v1.CompletionResponse",
            "alternatives": [{"message": message, "status": alternative_status}],
            "usage": {
                "inputTextTokens": str(input_tokens),
                "completionTokens": str(completion_tokens),
                "totalTokens": str(input_tokens + completion_tokens),
            },
            "modelVersion": model_version,
        },
        **head,
    }
