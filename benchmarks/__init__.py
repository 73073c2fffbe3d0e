"""Benchmarks of yc-responses: ``python -m benchmarks`` (or ``make bench``).

Each part is one module of this package that defines ``PART``::

    # benchmarks/scale.py
    from benchmarks import Context, Part, Report, Table


    def run(context: Context) -> Report:
        size = 100 if context.quick else 10_000
        ...
        return Report(tables=[Table(...)], checks=[...], figures={"runs": size, ...})


    PART = Part(name="scale", title="10,000 background runs", run=run, order=30)

The command finds it by itself: ``python -m benchmarks --only scale --quick``.
Tables are printed as Markdown; every figure goes to ``benchmarks/results/latest.json``.
"""

from ._core import (
    RESULTS,
    Check,
    Context,
    Part,
    Report,
    Table,
    discover,
    environment,
    render,
    run_parts,
    select,
    write_json,
)

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
