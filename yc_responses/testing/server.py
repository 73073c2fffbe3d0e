"""The emulator as a real HTTP server on loopback.

::

    from yc_responses.testing import Emulator, Outcome

    with Emulator() as emu:
        emu.script(Outcome.completed("Paris"))
        client = emu.client()
        print(client.responses.create(model="yandexgpt", input="Capital?").output_text)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from typing_extensions import Self

from yc_responses.client import AsyncYandexOpenAI, YandexOpenAI

from . import payloads
from .core import EmulatorCore, EmulatorStats, Reply, Request
from .iam import EXCHANGE_PATH, IamEmulator
from .payloads import Status
from .scenarios import Fault, InputMatcher, Outcome, Quotas, Route

__all__ = ["DEFAULT_FOLDER_ID", "DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_BODY_BYTES", "Emulator"]

DEFAULT_FOLDER_ID = "b1gemulatorfolder000"
"""The folder an emulator serves unless told otherwise."""

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest request body the emulator reads; a larger one gets 413."""
DEFAULT_IDLE_TIMEOUT = 30.0
"""Seconds a connection may stay silent before the emulator closes it."""

_STREAM_POLL_SECONDS = 0.01
_DRAIN_SECONDS = 0.2


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # the service accepts many connections at once; socketserver's default backlog of 5
    # would reset the connections of a client that opens a few more in one go
    request_queue_size = 1024
    core: EmulatorCore
    closing: threading.Event
    max_body_bytes: int
    idle_timeout: float | None

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that breaks its connection is the client's business: no traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    server_version = "yc-responses-emulator"
    sys_version = ""

    def setup(self) -> None:
        # an idle connection is closed after this long instead of holding a thread for ever
        self.request.settimeout(self.server.idle_timeout)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet (and credentials out of any log)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request the HTTP layer cannot read: the service's JSON error body, then close."""
        self.close_connection = True
        if not self.request_version.startswith("HTTP/1."):
            self.request_version = "HTTP/1.1"  # an unreadable request line still gets headers
        text = message or explain or "the request is malformed"
        self._send_json(Reply(code, payloads.openai_error(code, text), {"Connection": "close"}))

    def _body(self) -> bytes | None:
        """The request body, or ``None`` once an error was answered (the connection closes)."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                self.send_error(411, "send a Content-Length: chunked request bodies are not read")
                return None
            return b""
        if not declared.strip().isdigit():
            self.send_error(400, f"invalid Content-Length {declared[:40]!r}: expected bytes")
            return None
        length = int(declared)
        if length > self.server.max_body_bytes:
            limit = self.server.max_body_bytes
            self.send_error(413, f"the request body is over {limit} bytes: send less")
            self._discard(min(length, 2 * limit))
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _discard(self, length: int) -> None:
        """Read and forget what a refused body has already sent, a little at a time, so
        closing the connection does not reset it before the client reads the answer."""
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.settimeout(_DRAIN_SECONDS)
            while length > 0:
                chunk = self.rfile.read1(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)

    def _serve(self) -> None:
        try:
            body = self._body()
            if body is None:
                return
            request = Request.from_target(self.command, self.path, dict(self.headers.items()), body)
            reply = self.server.core.handle(request)
        except (OSError, ValueError):
            self.close_connection = True
            return
        except Exception:
            self.send_error(500, "the emulator failed to answer this request")
            return
        if reply.delay > 0 and self.server.closing.wait(reply.delay):
            reply.drop = True
        if reply.drop:
            self._drop()
        elif reply.stream is not None:
            self._send_stream(reply)
        else:
            self._send_json(reply)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(self, reply: Reply) -> None:
        data = json.dumps(reply.body, ensure_ascii=False).encode() + b"\n"
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: Reply) -> None:
        assert reply.stream is not None
        self.close_connection = True
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        try:
            while True:
                chunks, finished = reply.stream.poll()
                for chunk in chunks:
                    if reply.drop_after_events is not None and sent >= reply.drop_after_events:
                        # a broken chunked body: the client sees an incomplete stream
                        self.wfile.flush()
                        self._drop()
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += 1
                self.wfile.flush()
                if finished or self.server.closing.wait(_STREAM_POLL_SECONDS):
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class Emulator:
    """A local Yandex AI Studio: the OpenAI-compatible ``/v1`` API and the deferred API.

    A real HTTP server on loopback (port 0: the system picks one), serving
    Responses (plain, background, streamed, cancelled, deleted), chat
    completions, embeddings, models, ``completionAsync`` and operations, with
    the service's checks of keys, folders and model URIs::

        with Emulator() as emu:
            client = emu.client()                       # a YandexOpenAI bound to it
            emu.script(Outcome.completed("Hi", after=300))
            emu.inject(Fault.rate_limit(retry_after=1), route="responses.create", times=1)

    Arguments:

    * ``api_key``, ``folder_id``: what clients must send (generated and
      :data:`DEFAULT_FOLDER_ID` by default); ``iam_tokens`` are also accepted.
    * ``clock``: monotonic seconds (default :func:`time.monotonic`); pass a
      :class:`~yc_responses.testing.ManualClock` to drive time by hand.
    * ``background_duration``: seconds from creation to the end of a background
      run nobody scripted, or a ``(low, high)`` range drawn with ``seed``.
    * ``seed``: makes ids, drawn durations and rate-based faults repeatable.
    * ``quotas``: :class:`~yc_responses.testing.Quotas` (default: none).
    * ``max_body_bytes``: larger request bodies get 413 unread.
    * ``idle_timeout``: seconds of silence after which a connection is closed
      (``None``: never).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        folder_id: str = DEFAULT_FOLDER_ID,
        iam_tokens: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        background_duration: float | tuple[float, float] = 1.0,
        quotas: Quotas | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.host = host
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self.port = port
        self.folder_id = folder_id
        self.api_key = api_key or f"emulator-{secrets.token_hex(8)}"
        """The key clients must send (``Authorization: Bearer <key>`` or ``Api-Key <key>``)."""
        self.clock = clock
        self.core = EmulatorCore(
            api_key=self.api_key,
            folder_id=folder_id,
            clock=clock,
            seed=seed,
            background_duration=background_duration,
            quotas=quotas,
            iam_tokens=iam_tokens,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving in a background thread; return ``self``."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.core = self.core
        server.closing = threading.Event()
        server.max_body_bytes = self.max_body_bytes
        server.idle_timeout = self.idle_timeout
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"yc-responses-emulator:{self.port}"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; open streams end."""
        server, self._server = self._server, None
        if server is None:
            return
        server.closing.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (what the command does)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where and how to connect ----------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``: the server root."""
        if self._server is None:
            raise RuntimeError("the emulator is not started: use `with Emulator() as emu:`")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the OpenAI-compatible base URL."""
        return f"{self.root_url}/v1"

    @property
    def llm_base_url(self) -> str:
        """Where ``/foundationModels/v1/completionAsync`` is served (the server root)."""
        return self.root_url

    @property
    def operation_base_url(self) -> str:
        """Where ``/operations/{id}`` is served (the server root)."""
        return self.root_url

    @property
    def iam_endpoint(self) -> str:
        """The token exchange, for ``YC_IAM_ENDPOINT`` / ``iam_endpoint=``."""
        return f"{self.root_url}{EXCHANGE_PATH}"

    @property
    def metadata_addr(self) -> str:
        """``127.0.0.1:PORT``, for ``YC_METADATA_ADDR`` / ``MetadataService(address)``."""
        return self.root_url.removeprefix("http://")

    @property
    def iam(self) -> IamEmulator:
        """Keys and tokens: ``emu.iam.new_key()``, ``emu.iam.token_lifetime = 600``."""
        return self.core.iam

    def client(self, **kwargs: Any) -> YandexOpenAI:
        """A :class:`~yc_responses.YandexOpenAI` bound to this emulator.

        Keywords go to the client (``max_retries=0``, ``timeout=...``).
        """
        options: dict[str, Any] = {
            "api_key": self.api_key,
            "folder_id": self.folder_id,
            "base_url": self.base_url,
            "llm_base_url": self.llm_base_url,
            "operation_base_url": self.operation_base_url,
        }
        return YandexOpenAI(**{**options, **kwargs})

    def async_client(self, **kwargs: Any) -> AsyncYandexOpenAI:
        """An :class:`~yc_responses.AsyncYandexOpenAI` bound to this emulator."""
        options: dict[str, Any] = {
            "api_key": self.api_key,
            "folder_id": self.folder_id,
            "base_url": self.base_url,
            "llm_base_url": self.llm_base_url,
            "operation_base_url": self.operation_base_url,
        }
        return AsyncYandexOpenAI(**{**options, **kwargs})

    # --- scripting, faults, counters ------------------------------------------------------------

    def script(self, *outcomes: Outcome, input: InputMatcher | None = None) -> None:
        """Decide how the next creations end, one outcome each, in order.

        ``input=`` keeps each outcome for the next creation whose input text
        matches (an equal string, a compiled regex, or a predicate)::

            emu.script(Outcome.completed("A"), Outcome.failed("server_error", "boom"))
            emu.script(Outcome.never(), input="the slow one")
        """
        self.core.script(*outcomes, input=input)

    def on_input(self, matcher: InputMatcher, outcome: Outcome) -> None:
        """Every creation whose input matches ends with ``outcome`` (after scripts).

        ::

            emu.on_input(re.compile("forbidden"), Outcome.incomplete("content_filter"))
        """
        self.core.on_input(matcher, outcome)

    def set_default(self, outcome: Outcome | None) -> None:
        """The outcome when no script or rule decides (``None``: completed with derived text)."""
        self.core.set_default(outcome)

    def inject(
        self,
        fault: Fault,
        *,
        route: Route | Literal["*"] = "*",
        times: int | None = None,
        rate: float | None = None,
        skip: int = 0,
    ) -> None:
        """Break requests of ``route`` with ``fault``: the next ``times``, or each at ``rate``.

        ::

            emu.inject(Fault.rate_limit(retry_after=2), route="responses.retrieve", times=2)
            emu.inject(Fault.error(503), rate=0.1)                  # any route, seeded
            emu.inject(Fault.drop(after_processing=True), route="responses.create", times=1)
        """
        self.core.inject(fault, route=route, times=times, rate=rate, skip=skip)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.core.clear_faults()

    def set_quotas(self, quotas: Quotas | None) -> None:
        """Apply quotas from now on (``Quotas.documented()``: the service's limits)."""
        self.core.set_quotas(quotas)

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the counters: requests per route, statuses sent, creations per input."""
        return self.core.stats

    def status_of(self, run_id: str) -> Status | None:
        """The current status of a response or operation id (``None``: unknown)."""
        return self.core.status_of(run_id)

    def __repr__(self) -> str:
        where = self.root_url if self._server is not None else "stopped"
        return f"Emulator({where}, folder_id={self.folder_id!r})"
