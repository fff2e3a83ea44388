"""One benchmark session over a captured pgbench database: load phases, the translator's
ceiling, and the exact verification at the end."""

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from benchmarks.pipeline.capture import Capture
from benchmarks.pipeline.markers import CommitTimes, batches
from benchmarks.pipeline.measure import (
    ChangeRecord,
    CpuMeter,
    FactTail,
    OffsetSampler,
    SeenFact,
    peak_rate,
    percentiles,
    read_changes,
    span_rate,
    tree_cpu_seconds,
)
from benchmarks.pipeline.translator import TranslatorProcess
from benchmarks.pipeline.workload import PgbenchResult

_STARTED = time.monotonic()


def say(message: str) -> None:
    """One progress line on stderr, with the minutes and seconds since the run began."""
    elapsed = int(time.monotonic() - _STARTED)
    print(f"[{elapsed // 60:3d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Phase:
    """One load: ``clients`` connections for ``seconds``, at ``rate`` tps or unthrottled."""

    clients: int
    seconds: float
    rate: float | None = None
    commit_interval_ms: int | None = None  # the translator's; None: the run's setting
    linger_ms: int | None = None  # the translator's --transaction-linger-ms; None: 0

    @property
    def label(self) -> str:
        label = f"c={self.clients} " + (f"rate={self.rate:g}/s" if self.rate else "unthrottled")
        label += f" commit={self.commit_interval_ms}ms" if self.commit_interval_ms else ""
        return label + (f" linger={self.linger_ms}ms" if self.linger_ms else "")


@dataclass
class Session:
    """The running pieces of one benchmark, and what they have produced so far."""

    capture: Capture
    translator: TranslatorProcess
    tail: FactTail
    sampler: OffsetSampler
    bootstrap: str
    #: the broker's log directory, if it is local: commit times come from its markers
    kafka_data: Path | None = None
    drain_timeout_s: float = 180.0
    transactions: int = 0
    _change_offsets: dict[str, int] = field(default_factory=dict)

    @property
    def change_kinds(self) -> dict[str, str]:
        return {self.capture.change_topic(k): k for k in ("history", "accounts")}

    @property
    def expected_facts(self) -> int:
        """One FundsMoved and one AccountBalanceChanged per pgbench transaction."""
        return 2 * self.transactions

    def _cpu(self) -> CpuMeter:
        def translator_cpu() -> float:
            pid = self.translator.pid
            return self.translator.cpu_s_done + (tree_cpu_seconds(pid) if pid else 0.0)
        return CpuMeter(translator_cpu)

    def _commit_times(self) -> Callable[[SeenFact], int | None]:
        """Each fact's commit time, from the commit markers in the broker's log (None for
        every fact when the log is not at hand)."""
        if self.kafka_data is None:
            return lambda _: None
        times = {kind: CommitTimes(batches(self.kafka_data / f"{self.capture.fact_topic(kind)}-0"))
                 for kind in ("history", "accounts")}
        return lambda fact: times[fact.kind].committed_ms(fact.offset)

    def _load(self, phase: Phase) -> PgbenchResult:
        result = self.capture.db.run(phase.clients, phase.seconds, phase.rate)
        self.transactions += result.transactions
        return result

    def _new_changes(self) -> list[ChangeRecord]:
        records, self._change_offsets = read_changes(self.bootstrap, self.change_kinds,
                                                     self._change_offsets)
        return records

    def _configure(self, phase: Phase) -> None:
        """Restart the translator (SIGTERM, then start) when the phase wants another commit
        interval or transaction linger than the ones it runs with."""
        translator = self.translator
        interval = phase.commit_interval_ms or translator.commit_interval_ms
        if (interval, phase.linger_ms) == (translator.commit_interval_ms, translator.linger_ms):
            return
        translator.stop(signal.SIGTERM)
        translator.commit_interval_ms, translator.linger_ms = interval, phase.linger_ms
        translator.start()

    def run_phase(self, phase: Phase) -> dict[str, Any]:
        """Load, wait until every fact is visible, then measure the phase."""
        self._configure(phase)
        say(f"phase {phase.label}: pgbench for {phase.seconds:g} s")
        seen_before = len(self.tail.facts)
        cpu = self._cpu()
        cpu.start()
        own_cpu = time.process_time()
        counted = self.translator.transactions()
        result = self._load(phase)
        say(f"phase {phase.label}: {result.transactions} transactions; waiting for "
            f"{self.expected_facts - len(self.tail.facts)} more facts")
        drained = self.tail.wait_for(self.expected_facts, self.drain_timeout_s,
                                     self.translator.check_alive)
        drained_at = time.time()
        cpu_s = cpu.stop()
        # the benchmark's own threads: the fact tail and the offset sampler share the cores
        cpu_s["benchmark"] = round(time.process_time() - own_cpu, 2)
        transactions = _transactions(counted, self.translator.transactions(),
                                     drained_at - result.started_at)
        changes = self._new_changes()
        facts = self.tail.facts[seen_before:]
        return {
            "phase": phase.label, "clients": phase.clients, "rate": phase.rate,
            "commit_interval_ms": self.translator.commit_interval_ms or 1000,
            "linger_ms": self.translator.linger_ms or 0,
            "seconds": phase.seconds, "drained": drained,
            "drain_s": round(drained_at - result.ended_at, 2),
            **_pgbench(result),
            "change_records": len(changes),
            "change_records_per_s": span_rate([c.appended_ms for c in changes]),
            "change_offsets_peak_per_s": peak_rate(
                self.sampler.window(result.started_at, drained_at)),
            "facts": len(facts),
            "facts_per_s": span_rate([f.visible_ms for f in facts]),
            "latency_ms": latencies(changes, facts, self._commit_times()),
            "translator_transactions": transactions,
            "cpu_s": cpu_s,
            "machine_busy": cpu.machine_busy,
            "cpu_ms_per_transaction": {k: round(1000 * v / max(1, result.transactions), 3)
                                       for k, v in cpu_s.items() if v is not None},
        }

    def ceiling(self, phase: Phase) -> dict[str, Any]:
        """Pre-load the change topics with the translator stopped, then time it alone."""
        self.translator.stop(signal.SIGTERM)
        say(f"ceiling: pgbench {phase.label} for {phase.seconds:g} s, translator stopped")
        seen_before = len(self.tail.facts)
        result = self._load(phase)
        say("ceiling: waiting for Debezium to append every change")
        self._wait_change_topics_quiet()
        changes = self._new_changes()
        cpu = self._cpu()
        cpu.start()
        say(f"ceiling: starting the translator on {len(changes)} change records")
        started = time.time()
        self.translator.start()
        ready = time.time()
        drained = self.tail.wait_for(self.expected_facts, self.drain_timeout_s,
                                     self.translator.check_alive)
        finished = time.time()
        facts = self.tail.facts[seen_before:]
        translator_rate = span_rate([f.appended_ms for f in facts])
        debezium_rate = span_rate([c.appended_ms for c in changes])
        return {
            "phase": f"ceiling ({phase.label})", **_pgbench(result), "drained": drained,
            "change_records": len(changes), "debezium_records_per_s": debezium_rate,
            "facts": len(facts), "translator_records_per_s": translator_rate,
            "translator_start_s": round(ready - started, 2),
            "catch_up_s": round(finished - started, 2),
            "ratio_translator_to_debezium": (round(translator_rate / debezium_rate, 2)
                                             if translator_rate and debezium_rate else None),
            "cpu_s": cpu.stop(),
        }

    def _wait_change_topics_quiet(self, quiet_s: float = 3.0, timeout: float = 300) -> None:
        """Wait until the change topics hold every change and stop growing."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.sampler.end_offsets()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.5)

    def verify(self) -> dict[str, Any]:
        """Exact counts: facts against the database, and no fact id twice."""
        say("verifying: counting rows and reading every fact id")
        db = self.capture.db
        history = db.scalar("SELECT count(*) FROM pgbench_history")
        updates = db.scalar("SELECT n_tup_upd FROM pg_stat_user_tables "
                            "WHERE relname = 'pgbench_accounts'")
        facts = read_fact_ids(self.bootstrap, {self.capture.fact_topic(k): k
                                               for k in ("history", "accounts")})
        counts = Counter(kind for kind, _ in facts)
        ids = Counter(fact_id for _, fact_id in facts)
        duplicates = sum(n - 1 for n in ids.values() if n > 1)
        return {
            "pgbench_transactions": self.transactions,
            "pgbench_history_rows": history,
            "pgbench_accounts_updates": updates,
            "FundsMoved": counts["history"],
            "AccountBalanceChanged": counts["accounts"],
            "duplicate_fact_ids": duplicates,
            "ok": (counts["history"] == history and counts["accounts"] == self.transactions
                   == updates and duplicates == 0),
        }


def _transactions(before: dict[str, float], after: dict[str, float],
                  seconds: float) -> dict[str, float] | None:
    """The translator's transactions during a phase: commits per second, records per
    transaction and the mean time a commit took (``None`` when its metrics were not read)."""
    if not before or not after or seconds <= 0:
        return None
    commits = after["commits"] - before["commits"]
    if commits <= 0:
        return None
    return {"per_s": round(commits / seconds, 1),
            "records_per_transaction": round((after["records"] - before["records"]) / commits,
                                             1),
            "commit_ms_mean": round(1000 * (after["commit_s"] - before["commit_s"]) / commits,
                                    2)}


def _pgbench(result: PgbenchResult) -> dict[str, Any]:
    return {"transactions": result.transactions, "failed": result.failed,
            "source_tps": round(result.tps, 1), "pgbench_latency_avg_ms": result.latency_avg_ms,
            "pgbench_cpu_s": round(result.cpu_s, 2)}


def latencies(changes: list[ChangeRecord], facts: list[SeenFact],
              committed_ms: Callable[[SeenFact], int | None] = lambda _: None,
              ) -> dict[str, Any]:
    """Latency percentiles (ms) of each stage, joining facts to changes by (table, lsn).

    - ``capture``: source commit (``source.ts_ms``) -> change record appended;
    - ``translate_appended``: change record appended -> fact record appended;
    - ``translate_committed``: change record appended -> fact committed: its transaction's
      commit marker appended (``committed_ms``, from the broker's log; see
      :mod:`benchmarks.pipeline.markers`), empty where the log cannot be read;
    - ``translate_read``: change record appended -> fact read by a ``read_committed``
      consumer (the tail), which adds its fetch and its own scheduling;
    - ``end_to_end``: source commit -> fact read by the tail.
    """
    by_position = {(c.kind, c.lsn): c for c in changes}
    appended, committed, read, end_to_end = [], [], [], []
    for fact in facts:
        change = by_position.get((fact.kind, fact.lsn))
        if change is None:
            continue
        appended.append(fact.appended_ms - change.appended_ms)
        marked = committed_ms(fact)
        if marked is not None:
            committed.append(marked - change.appended_ms)
        read.append(fact.visible_ms - change.appended_ms)
        end_to_end.append(fact.visible_ms - change.committed_ms)
    return {"capture": percentiles(c.appended_ms - c.committed_ms for c in changes),
            "translate_appended": percentiles(appended),
            "translate_committed": percentiles(committed),
            "translate_read": percentiles(read),
            "end_to_end": percentiles(end_to_end)}


def read_fact_ids(bootstrap: str, topics: dict[str, str],
                  timeout: float = 120.0) -> list[tuple[str, str]]:
    """(kind, fact id) of every committed record of the fact topics, read afresh."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    facts: list[tuple[str, str]] = []
    try:
        ends = {t: consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
                for t in topics}
        consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in topics])
        deadline = time.monotonic() + timeout
        pending = {t for t, end in ends.items() if end > 0}
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(2000, 0.5):
                if not msg.error():
                    facts.append((topics[msg.topic()], orjson.loads(msg.value())["id"]))
            positions = consumer.position([TopicPartition(t, 0) for t in pending])
            pending -= {p.topic for p in positions if p.offset >= ends[p.topic]}
    finally:
        consumer.close()
    return facts
