"""``python -m yc_responses.testing``: run the emulator until interrupted.

::

    $ python -m yc_responses.testing --port 8080
    Yandex AI Studio emulator on http://127.0.0.1:8080/v1
      YC_BASE_URL=http://127.0.0.1:8080/v1
      YC_API_KEY=emulator-...
      YC_FOLDER_ID=b1gemulatorfolder000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from yc_responses.testing.scenarios import Quotas
from yc_responses.testing.server import DEFAULT_FOLDER_ID, Emulator

__all__ = ["build_emulator", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(
        prog="yc-responses emulator",
        description="Serve a local Yandex AI Studio (OpenAI-compatible /v1 and the deferred API).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: 0, any free port)")
    p.add_argument("--api-key", help="the key clients must send (default: generated)")
    p.add_argument("--folder-id", default=DEFAULT_FOLDER_ID, help="the folder served")
    p.add_argument(
        "--background-duration",
        type=float,
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
    return p


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
    )


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Start the emulator, print how to connect, serve until Ctrl+C; return the exit code."""
    out = out or sys.stdout
    emulator = build_emulator(argv).start()
    print(f"Yandex AI Studio emulator on {emulator.base_url}", file=out)
    print(f"  YC_BASE_URL={emulator.base_url}", file=out)
    print(f"  YC_API_KEY={emulator.api_key}", file=out)
    print(f"  YC_FOLDER_ID={emulator.folder_id}", file=out)
    print("Press Ctrl+C to stop.", file=out, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
