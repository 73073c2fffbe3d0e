"""``python -m benchmarks``: run the benchmark parts, print their tables, save the figures.

::

    python -m benchmarks                    # every part, full sizes
    python -m benchmarks --quick            # small sizes: a smoke test
    python -m benchmarks --only waiting     # one part (repeat --only, or a,b, for several)
    python -m benchmarks --list             # the parts there are
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._core import RESULTS, Context, discover, render, run_parts, select, write_json

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command's arguments."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of yc-responses against the built-in emulator.",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this part (repeatable, or comma-separated); see --list",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    p.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        metavar="PATH",
        help="where to write the figures as JSON (default: benchmarks/results/latest.json)",
    )
    p.add_argument("--list", action="store_true", help="list the parts and exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen parts; return the exit code (2 for a bad argument)."""
    args = parser().parse_args(argv)
    parts = discover()
    if args.list:
        for part in parts:
            print(f"{part.name:12} {part.title}")
        return 0
    try:
        chosen = select(parts, args.only)
    except ValueError as exc:
        print(f"python -m benchmarks: {exc}", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    context = Context(quick=args.quick, seed=args.seed, progress=progress)
    reports = run_parts(chosen, context)
    print("\n\n".join(render(part, report) for part, report in reports.values()))
    write_json(reports, context, args.output)
    missed = [
        f"{name}: {check.name}"
        for name, (_, report) in reports.items()
        for check in report.checks
        if not check.passed
    ]
    progress(f"figures written to {args.output}")
    if missed:
        progress("targets missed: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
