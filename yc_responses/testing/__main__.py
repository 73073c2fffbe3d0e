"""``python -m yc_responses.testing``: run the emulator until interrupted.

::

    $ python -m yc_responses.testing --port 8080
    # Yandex AI Studio emulator on http://127.0.0.1:8080/v1
    export YC_BASE_URL=http://127.0.0.1:8080/v1
    export YC_API_KEY=emulator-...
    export YC_FOLDER_ID=b1gemulatorfolder000
    export YC_LLM_BASE_URL=http://127.0.0.1:8080
    export YC_OPERATION_BASE_URL=http://127.0.0.1:8080
    # Press Ctrl+C to stop.

The lines are shell commands: ``eval "$(python -m yc_responses.testing | head -n 6)"``
or paste them; the deferred API (``client.deferred``) needs the last two.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import TextIO

from yc_responses.testing.scenarios import Quotas
from yc_responses.testing.server import DEFAULT_FOLDER_ID, Emulator

__all__ = ["build_emulator", "export_lines", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(
        prog="yc-responses emulator",
        description="Serve a local Yandex AI Studio (OpenAI-compatible /v1 and the deferred API).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port (default: 0, any free port)")
    p.add_argument("--api-key", help="the key clients must send (default: generated)")
    p.add_argument("--folder-id", default=DEFAULT_FOLDER_ID, help="the folder served")
    p.add_argument(
        "--background-duration",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="how long a background run takes (default: 5)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for ids and drawn values")
    p.add_argument(
        "--quotas",
        action="store_true",
        help="apply the documented quotas (10 creations/s, 50 fetches/s)",
    )
    p.add_argument(
        "--service-refusals",
        action="store_true",
        help="answer an unknown model and another folder's model URI with 400, as the service "
        "does (default: 404 and 403)",
    )
    return p


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 1 to 65535, or 0 for any")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a duration: use a number >= 0")
    return seconds


def build_emulator(argv: Sequence[str] | None = None) -> Emulator:
    """The (not yet started) emulator the command line describes."""
    args = parser().parse_args(argv)
    return Emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        folder_id=args.folder_id,
        background_duration=args.background_duration,
        seed=args.seed,
        quotas=Quotas.documented() if args.quotas else None,
        service_refusals=args.service_refusals,
    )


def export_lines(emulator: Emulator) -> list[str]:
    """``export NAME=value`` lines that point ``YandexOpenAI()`` (and the deferred API) at it.

    >>> with Emulator(api_key="k") as emu:
    ...     [line.split("=")[0] for line in export_lines(emu)]  # doctest: +NORMALIZE_WHITESPACE
    ['export YC_BASE_URL', 'export YC_API_KEY', 'export YC_FOLDER_ID',
     'export YC_LLM_BASE_URL', 'export YC_OPERATION_BASE_URL']
    """
    variables = {
        "YC_BASE_URL": emulator.base_url,
        "YC_API_KEY": emulator.api_key,
        "YC_FOLDER_ID": emulator.folder_id,
        "YC_LLM_BASE_URL": emulator.llm_base_url,
        "YC_OPERATION_BASE_URL": emulator.operation_base_url,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Start the emulator, print how to connect, serve until Ctrl+C; return the exit code."""
    out = out or sys.stdout
    emulator = build_emulator(argv)
    try:
        emulator.start()
        print(f"# Yandex AI Studio emulator on {emulator.base_url}", file=out)
        for line in export_lines(emulator):
            print(line, file=out)
        print("# Press Ctrl+C to stop.", file=out, flush=True)
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(
            f"yc-responses emulator: cannot listen on {emulator.host}:{emulator.port}: "
            f"{error.strerror or error}; pick another --port (0: any free one) or --host",
            file=sys.stderr,
        )
        return 2
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
