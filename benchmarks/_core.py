"""The parts of the benchmark suite, what they report, and how reports are shown and saved.

A part is a module of this package with a module-level ``PART = Part(...)``; modules
whose names start with ``_`` are helpers, not parts. :func:`discover` finds every
part, in ``order``::

    PART = Part(name="scale", title="10,000 background runs", run=run, order=30)
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pkgutil
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS",
    "Check",
    "Context",
    "Part",
    "Report",
    "Table",
    "discover",
    "environment",
    "render",
    "run_parts",
    "select",
    "write_json",
]

JSON = dict[str, Any]

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
"""Where ``python -m benchmarks`` writes its figures (the directory is git-ignored)."""


@dataclass(frozen=True)
class Context:
    """What a part is told when it runs.

    ``quick`` asks for small sizes (a smoke test of a few seconds); ``seed`` makes
    every random choice repeatable; ``progress`` takes one-line notes for the
    person watching (stderr in the command, nothing in tests).

    >>> Context(quick=True).seed
    0
    """

    quick: bool = False
    seed: int = 0
    progress: Callable[[str], None] = field(default=lambda _line: None, repr=False)


@dataclass(frozen=True)
class Table:
    """A table to print: a title, column names and rows of already formatted cells.

    The first column is left-aligned, the others right-aligned (they hold figures).

    >>> Table("Calls", ["client", "ms"], [["a", "1.0"]]).columns
    ['client', 'ms']
    """

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """A target and whether the figures meet it; ``detail`` says by how much.

    >>> Check("ratio <= 1.05", True, "1.01").mark
    'PASS'
    """

    name: str
    passed: bool
    detail: str

    @property
    def mark(self) -> str:
        """``PASS`` or ``MISS``."""
        return "PASS" if self.passed else "MISS"


@dataclass(frozen=True)
class Report:
    """What one part found: tables for people, checks of its targets, figures for JSON."""

    tables: list[Table]
    checks: list[Check]
    figures: JSON


@dataclass(frozen=True)
class Part:
    """One benchmark: ``run(context)`` measures and returns a :class:`Report`.

    ``name`` is what ``--only`` takes; parts run in ascending ``order``.

    >>> Part("demo", "A demo", lambda ctx: Report([], [], {})).order
    100
    """

    name: str
    title: str
    run: Callable[[Context], Report]
    order: int = 100
    description: str = ""


def discover(package: str = "benchmarks") -> list[Part]:
    """Every part of ``package``: its public modules' ``PART``, in ``order``.

    >>> [part.name for part in discover()]  # doctest: +SKIP
    ['overhead', 'waiting']
    """
    root = importlib.import_module(package)
    parts: list[Part] = []
    for info in pkgutil.iter_modules(root.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        part = getattr(module, "PART", None)
        if not isinstance(part, Part):
            raise TypeError(
                f"{package}.{info.name} is a public module without a PART: define "
                f"PART = Part(...) in it, or rename it to _{info.name}.py if it is a helper"
            )
        parts.append(part)
    names = [part.name for part in parts]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two benchmark parts share the name(s) {duplicates}: rename one")
    return sorted(parts, key=lambda part: (part.order, part.name))


def select(parts: Sequence[Part], only: Iterable[str] | None) -> list[Part]:
    """The parts named in ``only`` (all of them for ``None``), in their usual order.

    Raises ``ValueError`` naming the known parts for an unknown name.
    """
    if only is None:
        return list(parts)
    wanted = {name.strip() for entry in only for name in entry.split(",") if name.strip()}
    known = {part.name for part in parts}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(
            f"no benchmark part named {', '.join(unknown)}: choose from {', '.join(sorted(known))}"
        )
    return [part for part in parts if part.name in wanted]


def run_parts(parts: Sequence[Part], context: Context) -> dict[str, tuple[Part, Report]]:
    """Run ``parts`` one after the other; their reports by name, with seconds taken."""
    reports: dict[str, tuple[Part, Report]] = {}
    for part in parts:
        context.progress(f"{part.name}: {part.title} ...")
        started = time.perf_counter()
        report = part.run(context)
        report.figures.setdefault("seconds_taken", round(time.perf_counter() - started, 2))
        reports[part.name] = (part, report)
    return reports


# --- showing ---------------------------------------------------------------------------------


def render_table(table: Table) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    widths = [len(name) for name in table.columns]
    for row in table.rows:
        if len(row) != len(table.columns):
            raise ValueError(f"a row of table {table.title!r} has {len(row)} cells: {row}")
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * width if index == 0 else "-" * (width - 1) + ":" for index, width in enumerate(widths)
    ]
    lines = [f"### {table.title}", "", line(table.columns), "| " + " | ".join(rule) + " |"]
    lines += [line(row) for row in table.rows]
    if table.notes:
        lines.append("")
        lines += [f"- {note}" for note in table.notes]
    return "\n".join(lines)


def render(part: Part, report: Report) -> str:
    """A part's tables and checks, as printed by ``python -m benchmarks``."""
    blocks = [f"## {part.title} (`{part.name}`)"]
    if part.description:
        blocks.append(part.description)
    blocks += [render_table(table) for table in report.tables]
    if report.checks:
        blocks.append("\n".join(f"- {c.mark}: {c.name} ({c.detail})" for c in report.checks))
    return "\n\n".join(blocks)


# --- saving ----------------------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> JSON:
    """Where the figures were measured: Python, platform, cores, load, versions."""
    load: list[float] | None
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": load,
        "openai": _version("openai"),
        "yc_responses": _version("yc-responses"),
    }


def _clean(value: Any) -> Any:
    """JSON cannot hold NaN or infinities: they become ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def write_json(
    reports: dict[str, tuple[Part, Report]], context: Context, path: Path = RESULTS
) -> JSON:
    """Write every figure, check and table to ``path`` (atomically); return the document."""
    document: JSON = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "quick": context.quick,
        "seed": context.seed,
        "environment": environment(),
        "parts": {
            name: {
                "title": part.title,
                "figures": report.figures,
                "checks": [{**asdict(check), "mark": check.mark} for check in report.checks],
                "tables": [asdict(table) for table in report.tables],
            }
            for name, (part, report) in reports.items()
        },
    }
    document = _clean(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    scratch.replace(path)
    return document
