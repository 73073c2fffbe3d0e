"""Values valid against a JSON Schema, drawn from a seed: the emulator's structured output.

Covers what function parameters and ``json_schema`` formats use in practice (the
subset OpenAI's strict mode allows, and pydantic's schemas): objects, arrays,
strings with common formats, numbers with bounds, ``enum``, ``const``, ``anyOf``,
``oneOf``, ``allOf``, ``$ref`` into ``$defs``, nullable types.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

__all__ = ["value_for_schema"]

_WORDS = ("emulated", "alpha", "bravo", "delta", "echo", "sierra", "tango", "kilo")
_FORMATS = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T12:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
_MAX_DEPTH = 12


def value_for_schema(schema: Mapping[str, Any], seed: str | int = 0) -> Any:
    """A value valid against ``schema``; equal schemas and seeds give equal values.

    >>> schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}},
    ...           "required": ["n"]}
    >>> value = value_for_schema(schema, seed=1)
    >>> isinstance(value["n"], int) and value["n"] >= 3
    True
    """
    text = json.dumps(schema, sort_keys=True, default=str)
    rng = random.Random(f"{seed}\0{text}")  # noqa: S311 (determinism, not security)
    return _Generator(schema, rng).value(schema, 0)


class _Generator:
    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.expanding: list[str] = []
        """The ``$ref`` chain being expanded: a reference seen again is a recursion."""

    def recursive(self, schema: object) -> bool:
        """Whether ``schema`` refers back into a definition being expanded."""
        return isinstance(schema, Mapping) and schema.get("$ref") in self.expanding

    def resolve(self, reference: str) -> Mapping[str, Any]:
        node: Any = self.root
        for part in reference.removeprefix("#").strip("/").split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node if isinstance(node, Mapping) else {}

    def value(self, schema: Mapping[str, Any], depth: int) -> Any:
        if "$ref" in schema and isinstance(schema["$ref"], str):
            reference = schema["$ref"]
            merged = {**self.resolve(reference), **schema}
            merged.pop("$ref")
            self.expanding.append(reference)
            try:
                return self.value(merged, depth + 1)
            finally:
                self.expanding.pop()
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        if isinstance(schema.get("allOf"), list):
            merged = dict(schema)
            for part in merged.pop("allOf"):
                if isinstance(part, Mapping):
                    part = self.resolve(part["$ref"]) if "$ref" in part else part
                    merged = _merge(merged, part)
            return self.value(merged, depth + 1)
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                # the first option that is not null (nullable fields get a value),
                # unless it recurses: then null, so recursive types end
                null = next((o for o in options if o.get("type") == "null"), None)
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                if null is not None and (self.recursive(chosen) or depth > _MAX_DEPTH // 2):
                    chosen = null
                rest = {k: v for k, v in schema.items() if k != key}
                return self.value(_merge(rest, chosen), depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if depth > _MAX_DEPTH:
            return None if kind in (None, "null") else _EMPTY.get(str(kind))
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind == "string":
            return self.string(schema)
        if kind == "integer":
            return self.integer(schema)
        if kind == "number":
            return self.number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self.rng.choice(_WORDS)

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or ())
        return {
            name: self.value(sub if isinstance(sub, Mapping) else {}, depth + 1)
            for name, sub in properties.items()
            if name in required or not (self.recursive(sub) or depth > _MAX_DEPTH // 2)
        }

    def array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 2)))
        count = max(len(prefix), self.rng.randint(low, max(low, high)))
        items = schema.get("items")
        item_schema = items if isinstance(items, Mapping) else {}
        values = [self.value(sub, depth + 1) for sub in prefix]
        values += [self.value(item_schema, depth + 1) for _ in range(count - len(prefix))]
        if schema.get("uniqueItems"):
            unique: list[Any] = []
            for value in values:
                if value not in unique:
                    unique.append(value)
            values = unique
        return values

    def string(self, schema: Mapping[str, Any]) -> str:
        form = schema.get("format")
        if isinstance(form, str) and form in _FORMATS:
            return _FORMATS[form]
        text = " ".join(self.rng.choice(_WORDS) for _ in range(self.rng.randint(1, 3)))
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        while len(text) < low:
            text += " " + self.rng.choice(_WORDS)
        if isinstance(high, int):
            text = text[:high]
        return text

    def bounds(
        self, schema: Mapping[str, Any], default: tuple[float, float]
    ) -> tuple[float, float]:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        low = default[0] if not isinstance(low, int | float) else low
        high = low + (default[1] - default[0]) if not isinstance(high, int | float) else high
        return float(low), float(max(low, high))

    def integer(self, schema: Mapping[str, Any]) -> int:
        low, high = self.bounds(schema, (0, 100))
        first = int(low) + (1 if "exclusiveMinimum" in schema or low != int(low) else 0)
        last = int(high) - (1 if "exclusiveMaximum" in schema and high == int(high) else 0)
        value = self.rng.randint(first, max(first, last))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = -(-value // step) * step
        return value

    def number(self, schema: Mapping[str, Any]) -> float:
        low, high = self.bounds(schema, (0.0, 100.0))
        if "multipleOf" in schema:
            return float(self.integer(schema))
        value = round(self.rng.uniform(low, high), 2)
        if value <= low and "exclusiveMinimum" in schema:
            value = (low + high) / 2
        if value >= high and "exclusiveMaximum" in schema:
            value = (low + high) / 2
        return value


_EMPTY: dict[str, Any] = {"object": {}, "array": [], "string": "", "integer": 0, "number": 0.0}


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**base, **extra}
    if isinstance(base.get("properties"), Mapping) and isinstance(extra.get("properties"), Mapping):
        merged["properties"] = {**base["properties"], **extra["properties"]}
    return merged
