"""A loopback server that answers the Responses API the way a broken service might.

Each route answers one way, chosen by the test: a status body dripped a byte at a
time, an event stream of keep-alive comments only, garbage events, HTML, a JSON
array, a creation answer without an id, another run's response::

    with MisbehavingServer(retrieve="drip") as server:
        client = server.client()
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from yc_responses import YandexOpenAI

from .test_background import response_body as scripted_body

RUN_ID = "resp_odd"


def response_body(
    status: str = "in_progress", run_id: str = RUN_ID, **fields: Any
) -> dict[str, Any]:
    """A Responses API body of run ``run_id`` (the one the scripted tests use, renamed)."""
    return scripted_body(status, id=run_id, **fields)


class MisbehavingServer:
    """``create`` and ``retrieve`` name how each route misbehaves (``"ok"`` answers well)."""

    def __init__(self, *, create: str = "ok", retrieve: str = "ok", stream: str = "ok") -> None:
        self.create, self.retrieve, self.stream = create, retrieve, stream
        self.requests: Counter[str] = Counter()
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.requests["create"] += 1
                owner._answer(self, owner.create, creating=True)

            def do_GET(self) -> None:
                streaming = "stream=true" in self.path
                owner.requests["stream" if streaming else "retrieve"] += 1
                if streaming:
                    owner._stream(self)
                else:
                    owner._answer(self, owner.retrieve, creating=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def client(self, **options: Any) -> YandexOpenAI:
        return YandexOpenAI(
            api_key="test-key", folder_id="b1gtest", base_url=self.base_url, **options
        )

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    # --- the answers

    def _answer(self, handler: BaseHTTPRequestHandler, mode: str, *, creating: bool) -> None:
        status = "queued" if creating else "in_progress"
        bodies: dict[str, tuple[str, bytes]] = {
            "ok": ("application/json", json.dumps(response_body(status)).encode()),
            "html": ("text/html", b"<html><body>Bad gateway</body></html>"),
            "array": ("application/json", b"[1, 2, 3]"),
            "no-id": ("application/json", json.dumps({"status": "queued"}).encode()),
            "other-id": (
                "application/json",
                json.dumps(response_body("completed", run_id="resp_someone_else")).encode(),
            ),
            "completed": (
                "application/json",
                json.dumps(response_body("completed")).encode(),
            ),
            "null-output": (
                "application/json",
                json.dumps(response_body("completed", output=None)).encode(),
            ),
        }
        if mode in ("drip", "hang"):
            body = json.dumps(response_body(status)).encode()
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            for byte in self._slowly(body if mode == "drip" else b""):
                handler.wfile.write(byte)
                handler.wfile.flush()
            return
        content_type, body = bodies[mode]
        handler.send_response(200)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("connection", "close")
        handler.end_headers()
        if self.stream == "garbage":
            handler.wfile.write(b"data: {not json at all\n\ndata: ]]]\n\n")
            handler.wfile.flush()
            return
        for _ in self._slowly(b"x" * 10_000):  # keep-alive comments, never an event
            handler.wfile.write(b": ping\n\n")
            handler.wfile.flush()

    def _slowly(self, data: bytes) -> Iterator[bytes]:
        """A byte every 0.2 s until the server stops (or forever, with nothing to send)."""
        index = 0
        while not self._stop.is_set():
            if data and index < len(data):
                yield data[index : index + 1]
                index += 1
            elif data:
                return
            else:
                yield b""
            time.sleep(0.2)
