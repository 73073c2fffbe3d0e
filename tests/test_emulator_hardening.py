"""The emulator under malformed requests and idle clients: JSON errors, no tracebacks, no hangs."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx2
import pytest

from yc_responses.testing import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(max_body_bytes=200_000, idle_timeout=0.2) as emulator:
        yield emulator


def _exchange(emu: Emulator, raw: bytes) -> tuple[int, dict[str, object]]:
    """Send raw bytes, read the answer until the server closes: (status, JSON body)."""
    with socket.create_connection((emu.host, emu.port), timeout=5) as conn:
        conn.sendall(raw)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)


def test_a_garbage_request_line_gets_a_json_400_and_no_traceback(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    status, body = _exchange(emu, b"NOT HTTP AT ALL\r\n\r\n")

    assert status == 400
    assert set(body) == {"error"}
    assert "Traceback" not in capfd.readouterr().err


def test_a_bad_content_length_gets_a_400_instead_of_a_dropped_connection(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    request = (
        f"POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {emu.api_key}\r\n"
        "Content-Length: twelve\r\n\r\n"
    ).encode()

    status, body = _exchange(emu, request)

    assert status == 400
    assert "Content-Length" in str(body["error"])
    assert "Traceback" not in capfd.readouterr().err


def test_a_declared_body_past_the_limit_gets_413_before_it_is_sent(emu: Emulator) -> None:
    # a terabyte declared and never sent: the answer comes at once, nothing is reserved
    request = b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n"

    status, body = _exchange(emu, request)

    assert status == 413
    assert "200000 bytes" in str(body["error"])


def test_a_body_past_the_limit_sent_by_a_client_gets_413(emu: Emulator) -> None:
    reply = httpx2.post(
        f"{emu.base_url}/responses",
        content=b"x" * 300_000,
        headers={"Authorization": f"Bearer {emu.api_key}"},
    )

    assert reply.status_code == 413
    assert reply.json()["error"]["type"]


def test_bodies_of_the_wrong_shape_get_400_with_an_error_body(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    model = f"gpt://{emu.folder_id}/yandexgpt"
    bodies = [
        {"model": model, "input": 5, "tools": "nope", "text": {"format": 7}},
        {"model": model, "input": [{"role": "user", "content": {"x": 1}}], "tool_choice": []},
        {"model": model, "input": "x", "temperature": "hot"},
        [1, 2, 3],
    ]
    with httpx2.Client() as http:
        replies = [http.post(f"{emu.base_url}/responses", json=b, headers=headers) for b in bodies]
        nested = http.post(f"{emu.base_url}/responses", content=b"[" * 100_000, headers=headers)

    assert [r.status_code for r in replies] == [400, 400, 400, 400]
    assert nested.status_code == 400
    assert all(set(r.json()["error"]) == {"message", "type"} for r in [*replies, nested])
    assert "Traceback" not in capfd.readouterr().err


def test_an_idle_connection_is_closed_after_the_idle_timeout(emu: Emulator) -> None:
    with socket.create_connection((emu.host, emu.port), timeout=5) as conn:
        # nothing sent: the emulator closes its end instead of holding a thread for ever
        assert conn.recv(1) == b""


def test_a_connection_in_use_is_kept_past_the_idle_timeout(emu: Emulator) -> None:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    with httpx2.Client(headers=headers) as http:
        statuses = [http.get(f"{emu.base_url}/models").status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
