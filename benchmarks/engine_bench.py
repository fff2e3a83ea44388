"""Engine benchmark: decode -> evaluate -> encode, on generated Debezium records.

Measures the pure engine (no Kafka) on the legacy-shop mappings plus an inventory table
(21 rules over 5 tables), with records of about 1.3 KB (schemas off) and 5 KB (schemas
on). Reports changes per second in one process and changes per CPU-second
(``time.process_time``), against a baseline of bare ``json.loads`` + ``json.dumps`` of the
same records taken in the same run. Every figure is the median of ``--repeat`` runs.

    .venv/bin/python benchmarks/engine_bench.py [--records N] [--repeat R] [--profile]

Writes ``benchmarks/results/engine.json``. Not a test: ``make test`` does not run it.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import importlib.util
import json
import os
import platform
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cdc_facts.contracts import FactContract, schema_validator
from cdc_facts.facts import Fact, encode_fact, to_cloudevent
from cdc_facts.rules import load_mappings
from cdc_facts.translator import Translator

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "engine.json"
GOALS = {"schemas_off": 150_000, "schemas_on": 60_000, "ratio": 0.5}

INVENTORY = """\
domain: warehouse
owner: warehouse-team
source: {connector: legacy-shop, table: public.inventory, before_image: full, key: [id]}
facts:
  - name: StockReceived
    version: 1
    when: op = 'u' AND after.on_hand > before.on_hand
    key: after.sku
    data:
      sku: {expr: after.sku, type: string, nullable: false}
      received: {expr: after.on_hand - before.on_hand, type: integer, nullable: false}
      on_hand: {expr: after.on_hand, type: integer, nullable: false}
  - name: StockPicked
    version: 1
    when: op = 'u' AND after.on_hand < before.on_hand
    key: after.sku
    data:
      sku: {expr: after.sku, type: string, nullable: false}
      picked: {expr: before.on_hand - after.on_hand, type: integer, nullable: false}
  - name: StockDepleted
    version: 1
    when: op = 'u' AND before.on_hand > 0 AND after.on_hand = 0
    key: after.sku
    data:
      sku: {expr: after.sku, type: string, nullable: false}
  - name: ArticleRepriced
    version: 1
    when: op = 'u' AND before.price IS DISTINCT FROM after.price
    key: after.sku
    occurred_at: after.updated_at
    data:
      sku: {expr: after.sku, type: string, nullable: false}
      old_price: {expr: before.price, type: decimal}
      new_price: {expr: after.price, type: decimal}
  - name: ArticleListed
    version: 1
    when: op = 'c'
    key: after.sku
    data:
      sku: {expr: after.sku, type: string, nullable: false}
      name: {expr: after.name, type: string}
      price: {expr: after.price, type: decimal}
  - name: ArticleDelisted
    version: 1
    when: op = 'd'
    key: before.sku
    data:
      sku: {expr: before.sku, type: string, nullable: false}
"""

# --- tables and generated rows -----------------------------------------------------------

#: column -> (kind, optional); kinds drive both the values and the Connect schema.
TABLES: dict[str, dict[str, str]] = {
    "customers": {"id": "int64", "email": "text", "name": "text", "created_at": "tstz",
                  "updated_at": "tstz"},
    "orders": {"id": "int64", "customer_id": "int64", "status": "text", "total": "numeric",
               "currency": "text", "carrier": "text", "placed_at": "tstz", "paid_at": "tstz",
               "shipped_at": "tstz", "cancelled_at": "tstz", "cancel_reason": "text"},
    "order_lines": {"id": "int64", "order_id": "int64", "sku": "text", "quantity": "int32",
                    "unit_price": "numeric"},
    "payments": {"id": "int64", "order_id": "int64", "amount": "numeric", "method": "text",
                 "status": "text", "created_at": "tstz"},
    "inventory": {"id": "int64", "sku": "text", "name": "text", "on_hand": "int32",
                  "price": "numeric", "updated_at": "tstz"},
}
#: Columns no rule reads, as legacy tables have many: they make records realistic in size.
EXTRA = {"legacy_code": "text", "note": "text", "updated_by": "text", "revision": "int32",
         "channel": "text", "region": "text", "flags": "int32", "comment": "text"}
for _columns in TABLES.values():
    _columns.update(EXTRA)

STATUSES = {"orders": ["placed", "paid", "shipped", "cancelled"],
            "payments": ["pending", "captured", "failed", "refunded"]}


def _value(rng: random.Random, table: str, column: str, kind: str) -> Any:
    if column == "status":
        return rng.choice(STATUSES[table])
    if kind in ("int64", "int32"):
        return rng.randrange(0, 5) if column == "on_hand" else rng.randrange(1, 10**6)
    if kind == "numeric":
        return Decimal(rng.randrange(100, 10**6)) / 100
    if kind == "tstz":
        return datetime(2024, 5, 1, tzinfo=UTC).timestamp() + rng.randrange(0, 10**7)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    return " ".join(rng.choice(words) for _ in range(rng.randrange(3, 7)))


def _row(rng: random.Random, table: str) -> dict[str, Any]:
    return {c: _value(rng, table, c, k) for c, k in TABLES[table].items()}


def _change(rng: random.Random, table: str, lsn: int) -> dict[str, Any]:
    op = rng.choices(["u", "c", "d"], weights=[70, 20, 10])[0]
    before = _row(rng, table)
    after = dict(before)
    for column in rng.sample(sorted(TABLES[table])[1:], 2):
        after[column] = _value(rng, table, column, TABLES[table][column])
    return {"op": op, "before": None if op == "c" else before,
            "after": None if op == "d" else after, "table": table, "lsn": lsn}


def _source(table: str, lsn: int) -> dict[str, Any]:
    return {"version": "3.5.0.Final", "connector": "postgresql", "name": "legacy-shop",
            "ts_ms": 1714557600000 + lsn, "snapshot": "false", "db": "shop",
            "sequence": f'["{lsn * 8}","{lsn * 8 + 8}"]', "ts_us": 1714557600000000 + lsn,
            "ts_ns": 1714557600000000000 + lsn, "schema": "public", "table": table,
            "txId": 1000 + lsn, "lsn": lsn * 8, "xmin": None}


# --- JSON: schemas off and on ------------------------------------------------------------


def _plain(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "numeric":
        return str(value)  # decimal.handling.mode=string
    if kind == "tstz":
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return value


def _precise(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "numeric":
        unscaled = int(value * 100)
        raw = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
        return base64.b64encode(raw).decode()
    if kind == "tstz":
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    return value


_FIELD_TYPES = {
    "int64": {"type": "int64"},
    "int32": {"type": "int32"},
    "text": {"type": "string"},
    "numeric": {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
                "parameters": {"scale": "2", "connect.decimal.precision": "12"}},
    "tstz": {"type": "string", "name": "io.debezium.time.ZonedTimestamp", "version": 1},
}


def _row_schema(table: str, field: str) -> dict[str, Any]:
    fields = [{**_FIELD_TYPES[k], "optional": c != "id", "field": c}
              for c, k in TABLES[table].items()]
    return {"type": "struct", "fields": fields, "optional": True,
            "name": f"legacy-shop.public.{table}.Value", "field": field}


def _envelope_schema(table: str) -> dict[str, Any]:
    source_fields = [{"type": "string", "optional": False, "field": f}
                     for f in ("version", "connector", "name", "db", "schema", "table")]
    source_fields += [{"type": "int64", "optional": False, "field": f}
                      for f in ("ts_ms", "ts_us", "ts_ns", "txId", "lsn")]
    source_fields += [{"type": "string", "optional": True, "name": "io.debezium.data.Enum",
                       "version": 1, "parameters": {"allowed": "true,last,false,incremental"},
                       "default": "false", "field": "snapshot"},
                      {"type": "string", "optional": True, "field": "sequence"},
                      {"type": "int64", "optional": True, "field": "xmin"}]
    return {"type": "struct", "optional": False, "version": 2,
            "name": f"legacy-shop.public.{table}.Envelope", "fields": [
                _row_schema(table, "before"), _row_schema(table, "after"),
                {"type": "struct", "fields": source_fields, "optional": False,
                 "name": "io.debezium.connector.postgresql.Source", "field": "source"},
                {"type": "string", "optional": False, "field": "op"},
                {"type": "int64", "optional": True, "field": "ts_ms"},
                {"type": "int64", "optional": True, "field": "ts_us"},
                {"type": "int64", "optional": True, "field": "ts_ns"}]}


def _encode(change: dict[str, Any], with_schema: bool) -> tuple[bytes, bytes]:
    table = change["table"]
    kinds = TABLES[table]
    convert = _precise if with_schema else _plain

    def image(row: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if row is None else {c: convert(kinds[c], v) for c, v in row.items()}

    lsn = change["lsn"]
    payload = {"before": image(change["before"]), "after": image(change["after"]),
               "source": _source(table, lsn), "op": change["op"],
               "ts_ms": 1714557600100 + lsn, "ts_us": 1714557600100000 + lsn,
               "ts_ns": 1714557600100000000 + lsn, "transaction": None}
    row = change["after"] or change["before"]
    key: dict[str, Any] = {"id": row["id"]}
    if with_schema:
        payload.pop("transaction")
        document = {"schema": _envelope_schema(table), "payload": payload}
        key = {"schema": {"type": "struct", "optional": False, "fields": [
            {"type": "int64", "optional": False, "field": "id"}],
            "name": f"legacy-shop.public.{table}.Key"}, "payload": key}
    else:
        document = payload
    return _compact(document), _compact(key)


def _compact(document: dict[str, Any]) -> bytes:
    """JSON as Kafka Connect's JsonConverter writes it: no spaces after separators."""
    return json.dumps(document, separators=(",", ":")).encode()


def generate(count: int, with_schema: bool, seed: int = 7) -> list[tuple[str, bytes, bytes]]:
    """``count`` records ``(topic, value, key)`` over the five tables."""
    rng = random.Random(seed)
    tables = sorted(TABLES)
    records = []
    for lsn in range(1, count + 1):
        change = _change(rng, rng.choice(tables), lsn)
        value, key = _encode(change, with_schema)
        records.append((f"legacy-shop.public.{change['table']}", value, key))
    return records


# --- measuring ---------------------------------------------------------------------------


def engine(translator: Translator) -> Callable[[list[tuple[str, bytes, bytes]]], int]:
    def run(records: list[tuple[str, bytes, bytes]]) -> int:
        facts = 0
        translate = translator.translate_record
        for offset, (topic, value, key) in enumerate(records):
            for fact in translate(value, key, topic, 0, offset).facts:
                encode_fact(fact)
                facts += 1
        return facts

    return run


def baseline(records: list[tuple[str, bytes, bytes]]) -> int:
    for _, value, _ in records:
        json.dumps(json.loads(value))
    return 0


def fast_baseline(records: list[tuple[str, bytes, bytes]]) -> int:
    """The same with orjson, when installed: the floor any JSON-in, JSON-out engine meets."""
    import orjson

    for _, value, _ in records:
        orjson.dumps(orjson.loads(value))
    return 0


def measure(run: Callable[[list[Any]], int], records: list[Any], repeat: int) -> dict[str, Any]:
    walls, cpus, facts = [], [], 0
    for _ in range(repeat):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        facts = run(records)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return {
        "records": len(records),
        "facts_per_run": facts,
        "changes_per_s": round(len(records) / statistics.median(walls)),
        "changes_per_cpu_s": round(len(records) / statistics.median(cpus)),
        "runs": repeat,
    }


def paired_ratio(run: Callable[[list[Any]], int], base: Callable[[list[Any]], int],
                 records: list[Any], repeat: int) -> dict[str, Any]:
    """The engine's speed as a multiple of ``base``'s, run by run: each run of the engine is
    followed by one of the baseline, and each pair gives a ratio of CPU times. On a machine
    whose speed drifts, this holds where separate medians taken minutes apart do not."""
    ratios = []
    for _ in range(repeat):
        cpu0 = time.process_time()
        run(records)
        cpu1 = time.process_time()
        base(records)
        cpu2 = time.process_time()
        ratios.append((cpu2 - cpu1) / (cpu1 - cpu0))
    return {"median": round(statistics.median(ratios), 3), "min": round(min(ratios), 3),
            "max": round(max(ratios), 3), "pairs": repeat}


def contract_costs(translator: Translator, records: list[Any]) -> dict[str, Any]:
    """Per-fact cost of the compiled contract check against a jsonschema validator."""
    facts: list[Fact] = []
    for offset, (topic, value, key) in enumerate(records[:5000]):
        facts.extend(translator.translate_record(value, key, topic, 0, offset).facts)
    rules = {rule.fact_type: rule for rule in translator.ruleset.rules}
    contracts = {t: FactContract(r) for t, r in rules.items()}
    validators = {t: schema_validator(r) for t, r in rules.items()}
    events = [to_cloudevent(f) for f in facts]

    def compiled() -> None:
        for fact in facts:
            contracts[fact.type].check(fact)

    def schema() -> None:
        for fact, event in zip(facts, events, strict=True):
            validators[fact.type].validate(event)

    return {"facts": len(facts), "compiled_check_us": _per_call_us(compiled, len(facts)),
            "jsonschema_us": _per_call_us(schema, len(facts))}


def _per_call_us(run: Callable[[], None], calls: int, repeat: int = 5) -> float:
    """Microseconds per call, the median of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times) / calls * 1e6, 2)


def _ruleset_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="cdc-facts-bench-"))
    for path in (ROOT / "mappings" / "shop").glob("*.yaml"):
        (directory / path.name).write_text(path.read_text())
    (directory / "inventory.yaml").write_text(INVENTORY)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile the schemas-off run")
    parser.add_argument("--before", type=Path, help="an earlier results file to compare with")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() once the translator and records are made, as a "
                        "long-running service can after start-up")
    args = parser.parse_args()
    translator = Translator(load_mappings([_ruleset_dir()]))
    rules = translator.ruleset.rules
    results: dict[str, Any] = {
        "python": platform.python_version(), "machine": platform.machine(),
        "orjson": importlib.util.find_spec("orjson") is not None,
        "rules": len(rules), "tables": len(translator.tables()), "goals": GOALS,
        "gc_freeze": args.gc_freeze, "load_average_before": os.getloadavg()[0],
    }
    for name, with_schema in (("schemas_off", False), ("schemas_on", True)):
        records = generate(args.records, with_schema)
        sizes = sorted(len(v) for _, v, _ in records)
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        if args.profile and not with_schema:
            _profile(engine(translator), records)
        eng = measure(engine(translator), records, args.repeat)
        base = measure(baseline, records, args.repeat)
        results[name] = {
            "median_record_bytes": sizes[len(sizes) // 2], "engine": eng, "baseline": base,
            "ratio_to_baseline": round(eng["changes_per_s"] / base["changes_per_s"], 3),
        }
        if results["orjson"]:
            fast = measure(fast_baseline, records, args.repeat)
            results[name]["baseline_orjson"] = fast
            results[name]["ratio_to_orjson_baseline"] = round(
                eng["changes_per_s"] / fast["changes_per_s"], 3)
            results[name]["ratio_to_orjson_paired"] = paired_ratio(
                engine(translator), fast_baseline, records, args.repeat)
        if not with_schema:
            results["contract_check"] = contract_costs(translator, records)
    results["load_average_after"] = os.getloadavg()[0]
    if args.before:
        results["before"] = _before(json.loads(args.before.read_text()), results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    _print(results)


def _before(earlier: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """The engine figures of an earlier run, and how many times faster this run is."""
    found: dict[str, Any] = {"note": earlier.get("note", "an earlier run")}
    for name in ("schemas_off", "schemas_on"):
        old, new = earlier[name]["engine"], now[name]["engine"]
        found[name] = {
            "changes_per_s": old["changes_per_s"], "changes_per_cpu_s": old["changes_per_cpu_s"],
            "speedup_cpu": round(new["changes_per_cpu_s"] / old["changes_per_cpu_s"], 2),
        }
    return found


def _profile(run: Callable[[list[Any]], int], records: list[Any]) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(run, records)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def _print(results: dict[str, Any]) -> None:
    print(f"{results['rules']} rules over {results['tables']} tables; python "
          f"{results['python']}; orjson {'on' if results['orjson'] else 'off'}; gc.freeze "
          f"{'on' if results['gc_freeze'] else 'off'}; load average "
          f"{results['load_average_before']:.2f} -> {results['load_average_after']:.2f}")
    header = f"{'records':<12}{'bytes':>7}{'engine/s':>11}{'engine/cpu-s':>14}" \
             f"{'baseline/s':>12}{'ratio':>7}{'goal/s':>9}"
    print(header)
    for name in ("schemas_off", "schemas_on"):
        row = results[name]
        goal = GOALS[name]
        print(f"{name:<12}{row['median_record_bytes']:>7}{row['engine']['changes_per_s']:>11,}"
              f"{row['engine']['changes_per_cpu_s']:>14,}{row['baseline']['changes_per_s']:>12,}"
              f"{row['ratio_to_baseline']:>7}{goal:>9,}")
    for name in ("schemas_off", "schemas_on"):
        row = results[name]
        if "baseline_orjson" in row:
            paired = row["ratio_to_orjson_paired"]
            print(f"{name}: orjson loads+dumps {row['baseline_orjson']['changes_per_s']:,}/s, "
                  f"engine at {row['ratio_to_orjson_baseline']}x of it; in paired runs "
                  f"{paired['median']}x (median of {paired['pairs']}, "
                  f"{paired['min']}-{paired['max']})")
    for name, row in results.get("before", {}).items():
        if name != "note":
            print(f"{name}: before {row['changes_per_cpu_s']:,}/cpu-s, now {row['speedup_cpu']}x")
    check = results["contract_check"]
    print(f"contract check per fact: compiled {check['compiled_check_us']} µs, "
          f"jsonschema {check['jsonschema_us']} µs ({check['facts']} facts)")
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
