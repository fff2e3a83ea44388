"""Expression benchmark: the cost of evaluating one compiled rule expression.

Measures ``Expression.evaluate`` for typical rule expressions (transitions, filters,
arithmetic on decimals, casts, functions) on three changes: an update that matches the
transition rule, an insert and a delete. Against it, the same transition written by hand as
a Python function, the floor any compiler of this rule could reach. Also measures how long
compiling takes. Every figure is the median of ``--repeat`` runs.

    .venv/bin/python benchmarks/expressions_bench.py [--calls N] [--repeat R] [--json PATH]

Not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from cdc_facts.changes import Change
from cdc_facts.expressions import compile_expression
from cdc_facts.types import UNKNOWN

TRANSITION = "op = 'u' AND before.status <> 'shipped' AND after.status = 'shipped'"
EXPRESSIONS = [
    TRANSITION,
    "op = 'c'",
    "op IN ('c', 'u') AND after.total > 100.0",
    "before.status IS DISTINCT FROM after.status",
    "after.status IN ('paid', 'shipped', 'delivered')",
    "after.email LIKE '%@example.com'",
    "after.total - before.total",
    "COALESCE(after.note, '')",
    "after.total::numeric(12,2)",
    "lower(after.email)",
    "CASE WHEN after.total > 1000 THEN 'large' ELSE 'small' END",
    "to_timestamp(source.ts_ms / 1000.0)",
    "date_trunc('day', after.updated_at)",
]

_ROW = {
    "id": 7, "status": "paid", "total": Decimal("120.50"), "note": None,
    "email": "ann@example.com", "updated_at": datetime(2024, 3, 2, 14, 5, tzinfo=UTC),
}  # fmt: skip
_SOURCE = {"ts_ms": 1709388330000, "db": "shop", "schema": "public", "table": "orders", "lsn": 1}
CHANGES = {
    "update": Change("u", dict(_ROW), {**_ROW, "status": "shipped", "total": Decimal("99.90")},
                     _SOURCE, 1709388330512),
    "insert": Change("c", None, dict(_ROW), _SOURCE, 1709388330512),
    "delete": Change("d", dict(_ROW), None, _SOURCE, 1709388330512),
}  # fmt: skip


def hand_written(change: Change) -> object:
    """The transition rule in plain Python, with the same NULL and UNKNOWN answers."""
    if change.op != "u":
        return False
    before, after = change.before, change.after
    if before is None:
        return UNKNOWN
    old, new = before.get("status", UNKNOWN), after.get("status", UNKNOWN) if after else None
    if old is None or new is None:
        return False if new is not None and new != "shipped" else None
    if old is UNKNOWN or new is UNKNOWN:
        return UNKNOWN
    return old != "shipped" and new == "shipped"


def per_call_ns(fn: Callable[[Change], object], change: Change, calls: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the time of one call, in nanoseconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(change)
        runs.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(runs)


def compile_us(sql: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(20):
            compile_expression(sql)
        runs.append((time.perf_counter_ns() - start) / 20 / 1000)
    return statistics.median(runs)


def loop_overhead_ns(calls: int, repeat: int) -> float:
    change = CHANGES["update"]
    return per_call_ns(lambda c: None, change, calls, repeat)


def run(calls: int, repeat: int) -> dict[str, object]:
    overhead = loop_overhead_ns(calls, repeat)
    rows = []
    for sql in EXPRESSIONS:
        evaluate = compile_expression(sql).evaluate
        timings = {name: per_call_ns(evaluate, change, calls, repeat) - overhead
                   for name, change in CHANGES.items()}  # fmt: skip
        rows.append({"sql": sql, "compile_us": compile_us(sql, repeat), "eval_ns": timings})
    floor = {name: per_call_ns(hand_written, change, calls, repeat) - overhead
             for name, change in CHANGES.items()}  # fmt: skip
    return {
        "python": platform.python_version(), "calls": calls, "repeat": repeat,
        "loop_overhead_ns": overhead, "expressions": rows, "hand_written_transition_ns": floor,
    }  # fmt: skip


def report(result: dict[str, object]) -> None:
    print(f"python {result['python']}; ns per evaluation (loop overhead removed), median of "
          f"{result['repeat']} runs of {result['calls']:,} calls")
    print(f"{'update':>8} {'insert':>8} {'delete':>8} {'compile':>9}  expression")
    for row in result["expressions"]:  # type: ignore[attr-defined]
        ns = row["eval_ns"]
        print(f"{ns['update']:8.0f} {ns['insert']:8.0f} {ns['delete']:8.0f} "
              f"{row['compile_us']:7.0f}µs  {row['sql']}")
    floor = result["hand_written_transition_ns"]
    print(f"{floor['update']:8.0f} {floor['insert']:8.0f} {floor['delete']:8.0f} "  # type: ignore[index]
          f"{'':>9}  (the transition written by hand in Python)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    result = run(args.calls, args.repeat)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
