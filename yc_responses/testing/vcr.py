"""Readable, scrubbed VCR cassettes of Yandex AI Studio traffic (vcrpy / pytest-recording).

Cassettes are YAML with JSON bodies stored decoded and event streams as text
blocks; credentials and folder ids are scrubbed before anything is written, and
requests match ignoring the folder, so a cassette replays under any folder.
In a ``conftest.py``::

    import pytest
    from yc_responses.testing import vcr as yc_vcr

    @pytest.fixture(scope="module")
    def vcr_config():
        return yc_vcr.vcr_config()

    def pytest_recording_configure(config, vcr):
        yc_vcr.register(vcr)

Needs the ``testing`` extra (``pip install 'yc-responses[testing]'``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

__all__ = [
    "FOLDER_PLACEHOLDER",
    "MATCH_ON",
    "SECRET_PATTERNS",
    "SERIALIZER",
    "find_secrets",
    "json_body_matcher",
    "register",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "vcr_config",
]

FOLDER_PLACEHOLDER = "<folder>"
"""What every folder id becomes in a cassette."""

SERIALIZER = "yaml"
"""The name :func:`register` gives the readable serializer: it takes the place of
vcrpy's own YAML serializer on that VCR, so cassettes keep the ``.yaml`` suffix."""

MATCH_ON = ("method", "path", "query", "yc_json_body")
"""Requests match on these: not the host (the emulator or the service), not the folder."""

SECRET_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"AQVN[A-Za-z0-9_-]{10,}"),  # API keys
    re.compile(r"t1\.[A-Za-z0-9_-]{20,}"),  # IAM tokens
    re.compile(r"y0_[A-Za-z0-9_-]{20,}"),  # OAuth tokens
    re.compile(r"\bb1g[a-z0-9]{17}\b"),  # folder ids
)
"""Shapes of Yandex Cloud credentials and folder ids; none may reach a cassette."""

_SCRUBBED_HEADERS = {"authorization", "cookie", "set-cookie", "host"}
_NOISE_HEADERS = {"connection", "content-length", "accept-encoding", "date", "keep-alive"}
"""Left out of cassettes for readability; none matters for playback."""
_FOLDER_HEADERS = ("openai-project", "x-folder-id")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _folders(folder_ids: Iterable[str]) -> list[str]:
    known = [folder for folder in folder_ids if folder]
    env = os.environ.get("YC_FOLDER_ID")
    if env:
        known.append(env)
    return sorted(set(known), key=len, reverse=True)


def scrub_text(text: str, folder_ids: Iterable[str] = ()) -> str:
    """Replace folder ids and credential-shaped strings in ``text``.

    >>> scrub_text('{"model": "gpt://b1gabcdefghijklmnopq/yandexgpt/latest"}')
    '{"model": "gpt://<folder>/yandexgpt/latest"}'
    >>> scrub_text("gpt://myfolder/yandexgpt", folder_ids=["myfolder"])
    'gpt://<folder>/yandexgpt'
    """
    for folder in _folders(folder_ids):
        text = text.replace(folder, FOLDER_PLACEHOLDER)
    for pattern in SECRET_PATTERNS[:-1]:
        text = pattern.sub("<secret>", text)
    return SECRET_PATTERNS[-1].sub(FOLDER_PLACEHOLDER, text)


def find_secrets(text: str, folder_ids: Iterable[str] = ()) -> list[str]:
    """Every credential-shaped string or known folder id in ``text`` (for a leak check)."""
    found = [match.group(0) for pattern in SECRET_PATTERNS for match in pattern.finditer(text)]
    return found + [folder for folder in _folders(folder_ids) if folder in text]


def _scrub_body(body: Any, folder_ids: Iterable[str]) -> Any:
    if isinstance(body, bytes):
        try:
            return scrub_text(body.decode(), folder_ids).encode()
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        return scrub_text(body, folder_ids)
    return body


def _scrub_uri(uri: str, folder_ids: Iterable[str]) -> str:
    parts = urlsplit(uri)
    if parts.hostname in _LOOPBACK:
        # an emulator on a random port: keep cassettes stable across recordings
        parts = parts._replace(netloc="emulator")
    return scrub_text(urlunsplit(parts), folder_ids)


def scrub_request(request: Any, folder_ids: Iterable[str] = ()) -> Any:
    """A ``before_record_request`` hook: no credentials, folders as ``<folder>``.

    vcrpy also applies it to live requests before matching them, so a replay
    under another folder finds the same interactions.
    """
    for name in list(request.headers):
        lowered = name.lower()
        if lowered in _SCRUBBED_HEADERS:
            del request.headers[name]
        elif lowered in _FOLDER_HEADERS:
            request.headers[name] = FOLDER_PLACEHOLDER
    request.uri = _scrub_uri(request.uri, folder_ids)
    request.body = _scrub_body(request.body, folder_ids)
    return request


def scrub_response(response: dict[str, Any], folder_ids: Iterable[str] = ()) -> dict[str, Any]:
    """A ``before_record_response`` hook: folder ids and cookies out of what is saved."""
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in _SCRUBBED_HEADERS:
            del headers[name]
    body = response.get("body", {})
    if "string" in body:
        body["string"] = _scrub_body(body["string"], folder_ids)
    return response


def json_body_matcher(r1: Any, r2: Any) -> None:
    """Match JSON bodies by value (key order and spacing aside); other bodies byte for byte."""
    first, second = _parsed(r1.body), _parsed(r2.body)
    if first != second:
        raise AssertionError(f"bodies differ: {first!r} != {second!r}")


def _parsed(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


# --- the readable serializer ------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    numbers = bool(value) and all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in value
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=numbers)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def _readable_headers(headers: dict[str, Any]) -> dict[str, Any]:
    return {
        name: values
        for name, values in headers.items()
        if name.lower() not in _NOISE_HEADERS and not name.lower().startswith("x-stainless-")
    }


def _decode_body(holder: dict[str, Any], key: str) -> None:
    value = holder.get(key)
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return
    if not isinstance(value, str) or not value.strip():
        return
    try:
        parsed = json.loads(value)
    except ValueError:
        holder[key] = value
        return
    holder[key] = {"json": parsed}


def _encode_body(holder: dict[str, Any], key: str) -> None:
    value = holder.get(key)
    if isinstance(value, dict) and set(value) == {"json"}:
        holder[key] = json.dumps(value["json"], ensure_ascii=False, separators=(",", ":"))


def serialize(cassette_dict: dict[str, Any]) -> str:
    """Cassette to YAML: JSON bodies as YAML mappings, streams as text blocks."""
    interactions = []
    for interaction in cassette_dict.get("interactions", []):
        request = dict(interaction["request"])
        response = dict(interaction["response"])
        response["body"] = dict(response.get("body", {}))
        _decode_body(request, "body")
        _decode_body(response["body"], "string")
        request["headers"] = _readable_headers(request.get("headers", {}))
        response["headers"] = _readable_headers(response.get("headers", {}))
        interactions.append({"request": request, "response": response})
    data = {**cassette_dict, "interactions": interactions}
    # pytest-recording cannot load vcrpy's metadata: keep only where and when it was recorded
    recorded = (data.pop("metadata", None) or {}).get("recorded")
    header = ""
    if isinstance(recorded, dict):
        data = {"recorded": recorded, **data}
        header = (
            f"# Recorded against {recorded.get('against', 'an unknown server')} "
            f"on {recorded.get('at', 'an unknown date')}; re-record with `make record`.\n"
        )
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return header + body


def deserialize(cassette_string: str) -> dict[str, Any]:
    """YAML written by :func:`serialize` back to vcrpy's cassette dict."""
    data: dict[str, Any] = yaml.safe_load(cassette_string)
    data.pop("recorded", None)
    for interaction in data.get("interactions", []):
        _encode_body(interaction["request"], "body")
        _encode_body(interaction["response"].setdefault("body", {}), "string")
    return data


class _Serializer:
    serialize = staticmethod(serialize)
    deserialize = staticmethod(deserialize)


def register(vcr: Any) -> None:
    """Register the serializer and the JSON matcher on a ``vcr.VCR`` (pytest-recording's
    ``pytest_recording_configure(config, vcr)`` hook is the place)."""
    vcr.register_serializer(SERIALIZER, _Serializer)
    vcr.register_matcher("yc_json_body", json_body_matcher)


def vcr_config(folder_ids: Iterable[str] = (), **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR`` / pytest-recording's ``vcr_config`` fixture.

    ``folder_ids`` are scrubbed besides ``YC_FOLDER_ID`` and every ``b1g...`` id.
    Playback never repeats an interaction, so a test that makes fewer or more
    requests than were recorded fails.
    """
    folders = tuple(folder_ids)
    config: dict[str, Any] = {
        "serializer": SERIALIZER,
        "match_on": MATCH_ON,
        "before_record_request": lambda request: scrub_request(request, folders),
        "before_record_response": lambda response: scrub_response(response, folders),
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }
    return {**config, **overrides}
