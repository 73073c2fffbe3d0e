"""What a request asks for and what an unscripted run answers it: text, JSON or a tool call.

The three APIs (Responses, chat completions, ``completionAsync``) describe a
conversation differently; each route reads its body into one :class:`Conversation`,
and :func:`unscripted_answer` decides for all three:

* an input that ends with a tool's output gets a text (so agent loops end),
  unless ``tool_choice="required"`` still has a function tool nobody called;
* a ``tool_choice`` that forces a function (``"required"``: the first function
  tool not called yet; a named one: that one) gets a call with arguments valid
  against the tool's ``parameters``;
* a ``json_schema`` format gets JSON valid against the schema, ``json_object`` an object;
* anything else a text derived from the input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import payloads
from .schema_json import value_for_schema

__all__ = [
    "Answer",
    "Conversation",
    "Tool",
    "all_text",
    "input_text_of",
    "nested_function_tools",
    "unscripted_answer",
]


@dataclass(frozen=True)
class Tool:
    """A function the caller offers: its name and its parameters' JSON Schema."""

    name: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    """What the decisions need to know of a request, whichever API it came by."""

    input_text: str
    """The user's texts, one per line: what rules match and derived answers quote."""
    tools: tuple[Tool, ...] = ()
    forced: str | None = None
    """``"required"``, a function's name, or ``None`` (the model chooses: it answers text)."""
    called: tuple[str, ...] = ()
    """Functions the input already shows calls of."""
    ends_with_tool_output: bool = False
    json_schema: Mapping[str, Any] | None = None
    json_object: bool = False


@dataclass(frozen=True)
class Answer:
    """A run's answer: a text (maybe JSON), or a call of ``tool_name`` with ``arguments``."""

    text: str = ""
    tool_name: str | None = None
    arguments: str = "{}"

    @property
    def is_tool_call(self) -> bool:
        return self.tool_name is not None


def nested_function_tools(tools: object) -> tuple[Tool, ...]:
    """The function tools of a chat or ``completionAsync`` request: ``{"function": {...}}``."""
    listed = tools if isinstance(tools, list) else []
    return tuple(
        Tool(str(tool["function"]["name"]), tool["function"].get("parameters") or {})
        for tool in listed
        if isinstance(tool, dict)
        and isinstance(tool.get("function"), dict)
        and tool["function"].get("name")
    )


def unscripted_answer(conversation: Conversation, seed: int = 0) -> Answer:
    """The answer of a run nobody scripted (deterministic for a seed).

    >>> unscripted_answer(Conversation("Hi")).text
    'Emulated answer to: Hi'
    >>> tool = Tool("add", {"type": "object", "properties": {"a": {"type": "integer"}}})
    >>> unscripted_answer(Conversation("1+1", (tool,), forced="required")).tool_name
    'add'
    """
    tool = _forced_tool(conversation)
    if tool is not None:
        arguments = value_for_schema(tool.parameters or {"type": "object"}, seed=seed)
        if not isinstance(arguments, dict):
            arguments = {}
        return Answer(tool_name=tool.name, arguments=json.dumps(arguments, ensure_ascii=False))
    if conversation.json_schema is not None:
        value = value_for_schema(
            conversation.json_schema, seed=f"{seed}\0{conversation.input_text}"
        )
        return Answer(json.dumps(value, ensure_ascii=False))
    text = payloads.default_answer(conversation.input_text)
    if conversation.json_object:
        return Answer(json.dumps({"answer": text}, ensure_ascii=False))
    return Answer(text)


def _forced_tool(conversation: Conversation) -> Tool | None:
    forced, tools = conversation.forced, conversation.tools
    if forced is None or not tools:
        return None
    if forced == "required":
        waiting = [tool for tool in tools if tool.name not in conversation.called]
        if waiting:
            return waiting[0]
        return None if conversation.ends_with_tool_output else tools[0]
    if conversation.ends_with_tool_output:
        return None
    return next((tool for tool in tools if tool.name == forced), None)


def input_text_of(value: object) -> str:
    """The text rules match: a string input, or the user messages' texts, one per line.

    >>> input_text_of([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    'Hi'
    """
    if isinstance(value, str):
        return value
    texts: list[str] = []
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or item.get("role", "user") != "user":
                continue
            if item.get("type", "message") != "message":
                continue
            content = item.get("content", item.get("text"))
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [
                    part["text"]
                    for part in content
                    if isinstance(part, dict) and isinstance(part.get("text"), str)
                ]
    return "\n".join(texts)


def all_text(value: object) -> str:
    """Every text of an input, for counting its tokens."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(all_text(item) for item in value)
    if isinstance(value, dict):
        keys = ("content", "text", "arguments", "output")
        return "\n".join(all_text(value[key]) for key in keys if key in value)
    return ""
