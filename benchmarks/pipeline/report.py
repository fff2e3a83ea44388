"""Write a pipeline benchmark's results: JSON (everything), Markdown (the tables), and a PNG
of throughput and latency against offered load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_STAGES = (("capture", "commit → change appended"),
           ("translate_appended", "change appended → fact appended"),
           ("translate_committed", "change appended → fact committed"),
           ("translate_read", "change appended → fact read"),
           ("end_to_end", "commit → fact read"))


def write_reports(result: dict[str, Any], directory: Path, name: str = "pipeline") -> list[Path]:
    """``<name>.json``, ``<name>.md`` and ``<name>.png`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path = directory / f"{name}.md"
    md_path.write_text(markdown(result))
    png_path = directory / f"{name}.png"
    plot(result, png_path)
    return [json_path, md_path, png_path]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _transaction_lines(phases: list[dict[str, Any]]) -> list[str]:
    """The translator's transactions per phase, from its own metrics."""
    rows = [(p["phase"], t) for p in phases if (t := p.get("translator_transactions"))]
    if not rows:
        return []
    lines = ["", "## The translator's transactions", "",
             "| phase | commits/s | records per transaction | mean commit (ms) |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {phase} | {t['per_s']} | {t['records_per_transaction']} | "
              f"{t['commit_ms_mean']} |" for phase, t in rows]
    return lines


#: The goals of the pipeline: the translator adds at most this at p99, change appended ->
#: fact committed, and reads at least this many times Debezium's maximum rate.
P99_GOAL_MS = 50
CEILING_GOAL = 3


def goal_lines(result: dict[str, Any]) -> list[str]:
    """Each goal, phase by phase, met or missed, by the figures of the tables below."""
    lines = ["", "## Goals", "",
             f"- **The translator adds at most {P99_GOAL_MS} ms at p99** (change appended → "
             "fact committed):"]
    for p in result["phases"]:
        latency = p["latency_ms"]
        committed = latency["translate_committed"]["p99"]
        if committed is None:
            lines.append(f"  - {p['phase']}: not measured (the broker's log was not at hand); "
                         f"read by a consumer at p99: {_ms(latency['translate_read']['p99'])} ms")
        else:
            verdict = "met" if committed <= P99_GOAL_MS else "missed"
            lines.append(f"  - {p['phase']}: {_ms(committed)} ms, {verdict}{_busy(p)}")
    ceiling = result.get("ceiling")
    ratio = ceiling.get("ratio_translator_to_debezium") if ceiling else None
    if ratio is None:
        lines.append(f"- **The translator reads at least {CEILING_GOAL}× Debezium's maximum "
                     "rate**: not measured in this run")
    else:
        verdict = "met" if ratio >= CEILING_GOAL else "missed"
        lines.append(f"- **The translator reads at least {CEILING_GOAL}× Debezium's maximum "
                     f"rate**: {_ms(ratio)}×, {verdict}")
    return lines


def _cores_busy(phase: dict[str, Any]) -> str:
    """How busy the cores were in ``phase``, in percent ("–" for runs before the measure)."""
    busy = phase.get("machine_busy")
    return "–" if busy is None else f"{round(100 * busy)} %"


def _busy(phase: dict[str, Any]) -> str:
    """How busy the cores were in ``phase``, as a goal's context (none for older runs)."""
    return "" if phase.get("machine_busy") is None else f" (cores {_cores_busy(phase)} busy)"


def markdown(result: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    m = result["machine"]
    lines = [
        "# Pipeline benchmark: pgbench → PostgreSQL → Debezium → Kafka → cdc-facts → facts",
        "",
        f"Run `{result['run_id']}`: pgbench scale {result['scale']}, translator commit "
        f"interval {result['commit_interval_ms']} ms, {result['duration_s']} s in all"
        + (f", after a warm-up load of {result['warmup']['seconds']:g} s at "
           f"{result['warmup']['rate']:g} tps (not reported). "
           if result.get("warmup") else ". ") +
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, shared by "
        "PostgreSQL, the Kafka broker, the Connect worker, the translator and pgbench.",
        *goal_lines(result),
        "",
        "## Throughput",
        "",
        "| phase | source tps | change records/s | facts/s | drain after load (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for p in result["phases"]:
        lines.append(f"| {p['phase']} | {p['source_tps']} | {_ms(p['change_records_per_s'])} "
                     f"| {_ms(p['facts_per_s'])} | {p['drain_s']} |")
    lines += ["", "## Latency (ms): p50 / p99 / p99.9", "",
              "| phase | " + " | ".join(label for _, label in _STAGES) + " |",
              "| --- |" + " ---: |" * len(_STAGES)]
    for p in result["phases"]:
        cells = [" / ".join(_ms(p["latency_ms"][stage][q]) for q in ("p50", "p99", "p99.9"))
                 for stage, _ in _STAGES]
        lines.append(f"| {p['phase']} | " + " | ".join(cells) + " |")
    lines += ["", "A fact is *committed* when the broker appends its transaction's commit "
              "marker to the fact's partition (the marker's append time, from the broker's "
              "log; – where the log was not at hand), and *read* when a `read_committed` "
              "consumer in the benchmark process receives it: that adds the consumer's fetch "
              "and its process's turn on a core."]
    lines += ["", "## CPU seconds per process (whole phase, until the last fact)", "",
              "| phase | postgres | connect | kafka | translator | pgbench | benchmark "
              "| cores busy |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in result["phases"]:
        cpu = p["cpu_s"]
        lines.append(f"| {p['phase']} | " + " | ".join(
            _ms(cpu.get(k)) for k in ("postgres", "connect", "kafka", "translator"))
            + f" | {p['pgbench_cpu_s']} | {_ms(cpu.get('benchmark'))} | {_cores_busy(p)} |")
    lines += ["", "*Cores busy*: the share of all cores' time that was not idle during the "
              "phase (`/proc/stat`), whoever used it: near 100 % the processes queue for a "
              "core, and every latency grows with the queue."]
    lines += _transaction_lines(result["phases"])
    lines += _ceiling_lines(result.get("ceiling"))
    v = result["verification"]
    lines += ["", "## Verification", "",
              f"- pgbench transactions: {v['pgbench_transactions']}; pgbench_history rows: "
              f"{v['pgbench_history_rows']}; pgbench_accounts updates (pg_stat_user_tables): "
              f"{v['pgbench_accounts_updates']}",
              f"- FundsMoved facts: {v['FundsMoved']}; AccountBalanceChanged facts: "
              f"{v['AccountBalanceChanged']}; duplicate fact ids: {v['duplicate_fact_ids']}",
              f"- **{'exact: nothing lost, nothing twice' if v['ok'] else 'MISMATCH'}**", ""]
    return "\n".join(lines)


def _ceiling_lines(ceiling: dict[str, Any] | None) -> list[str]:
    if not ceiling:
        return []
    return ["", "## The translator's ceiling", "",
            f"{ceiling['phase']}: {ceiling['change_records']} change records pre-loaded with "
            f"the translator stopped, Debezium appending them at "
            f"{_ms(ceiling['debezium_records_per_s'])} records/s. The translator then read "
            f"them at **{_ms(ceiling['translator_records_per_s'])} records/s** "
            f"(first to last fact appended; it started in {ceiling['translator_start_s']} s "
            f"and caught up {ceiling['catch_up_s']} s after its start): "
            f"**{_ms(ceiling['ratio_translator_to_debezium'])}×** Debezium's rate. "
            f"Translator CPU: {_ms(ceiling['cpu_s'].get('translator'))} s."]


def _plain(phase: dict[str, Any], default_interval: int) -> bool:
    """Whether the phase ran the translator with the run's settings."""
    return phase["commit_interval_ms"] == default_interval and not phase.get("linger_ms")


def _setting(phase: dict[str, Any]) -> str:
    linger = phase.get("linger_ms")
    return f"linger {linger} ms" if linger else f"commit {phase['commit_interval_ms']} ms"


def plot(result: dict[str, Any], path: Path) -> None:
    """Throughput and latency percentiles against the offered load (source tps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    default = result["commit_interval_ms"]
    phases = sorted((p for p in result["phases"] if _plain(p, default)),
                    key=lambda p: p["source_tps"])
    load = [p["source_tps"] for p in phases]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(load, load, "k:", label="source commits/s (pgbench)")
    left.plot(load, [p["change_records_per_s"] or 0 for p in phases], "o-",
              label="change records/s (Debezium)")
    left.plot(load, [p["facts_per_s"] or 0 for p in phases], "s-", label="facts/s")
    left.set(xlabel="offered load (pgbench tps)", ylabel="per second", title="Throughput")
    left.legend(fontsize=8)
    for stage, label in (s for s in _STAGES if s[0] in ("capture", "translate_committed")):
        for q, style in (("p50", "o-"), ("p99", "s--")):
            right.plot(load, [p["latency_ms"][stage][q] or 0 for p in phases], style,
                       label=f"{label} {q} (commit {default} ms)")
    tuned = sorted((p for p in result["phases"] if not _plain(p, default)),
                   key=lambda p: p["source_tps"])
    for setting in sorted({_setting(p) for p in tuned}):
        chosen = [p for p in tuned if _setting(p) == setting]
        right.plot([p["source_tps"] for p in chosen],
                   [p["latency_ms"]["translate_committed"]["p99"] or 0 for p in chosen], "^:",
                   label=f"change appended → fact committed p99 ({setting})")
    right.axhline(P99_GOAL_MS, color="grey", linewidth=0.8, linestyle=":",
                  label=f"goal: the translator adds ≤ {P99_GOAL_MS} ms at p99")
    right.set(xlabel="offered load (pgbench tps)", ylabel="ms", yscale="log",
              title="Latency")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
