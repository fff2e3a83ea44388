"""What the pipeline benchmark measures, and how.

- **CPU seconds per process**: ``utime + stime`` (and ``cutime + cstime`` of reaped
  children) from ``/proc/<pid>/stat``, summed over the process tree, so PostgreSQL's
  backends and wal sender count with the postmaster. Pids come from
  ``cdc-facts local status --json``.
- **Change-topic growth**: the end offsets of the change topics, sampled every second.
- **Facts, as they become visible**: a ``read_committed`` consumer tails the fact topics
  and notes, for every fact, its record timestamp (the broker's append time) and the wall
  clock when it was read: a fact is readable only once its transaction has committed.
- **Change records**: read after each phase, with their ``source.ts_ms`` (commit in
  PostgreSQL), ``source.lsn`` and record timestamp (append to Kafka). Facts carry the
  ``lsn`` of their change, which joins the two.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from benchmarks.pipeline.workload import repo_root

_TICK = os.sysconf("SC_CLK_TCK")


# --- CPU ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and its reaped children)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15]) / _TICK


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (and the children they reaped)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _) in stats.items():
        children[ppid].append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children[pid])
    return total


def machine_cpu_times(text: str | None = None) -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from ``/proc/stat``'s ``cpu``
    line (or ``text``): idle and iowait are not busy; user, nice, system, irq, softirq and
    steal are (guest time is already in user).

    >>> machine_cpu_times("cpu  100 5 50 800 20 1 2 3 7 0\\ncpu0 1 2 3 4")
    (161, 981)
    """
    if text is None:
        with open("/proc/stat") as stat:
            text = stat.readline()
    fields = [int(f) for f in text.split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    total = sum(fields)
    return total - idle, total


def busy_fraction(start: tuple[int, int], end: tuple[int, int]) -> float | None:
    """The share of the cores' time that was busy between two :func:`machine_cpu_times`
    readings (``None`` when no tick passed)."""
    total = end[1] - start[1]
    return round((end[0] - start[0]) / total, 3) if total > 0 else None


def stack_pids() -> dict[str, int]:
    """The stack's process ids by service name (``postgres``, ``kafka``, ``connect``...)."""
    done = subprocess.run([sys.executable, "-m", "cdc_facts", "local", "status", "--json"],
                          capture_output=True, text=True, check=False, cwd=repo_root())
    try:
        services = json.loads(done.stdout)
    except ValueError:
        return {}
    return {s["name"]: int(s["pid"]) for s in services if s.get("pid") and s.get("running")}


class CpuMeter:
    """CPU seconds each process spends between :meth:`start` and :meth:`stop`.

    Args:
        translator_cpu: the translator's CPU seconds so far (live and ended instances).
    """

    NAMES = ("postgres", "connect", "kafka")

    def __init__(self, translator_cpu: Callable[[], float]) -> None:
        self.translator_cpu = translator_cpu
        self._pids: dict[str, int] = {}
        self._start: dict[str, float] = {}
        self._machine = (0, 0)
        #: The share of all cores' time that was busy between start and stop, whoever
        #: used it: how contended the cores were.
        self.machine_busy: float | None = None

    def _read(self) -> dict[str, float]:
        values = {name: tree_cpu_seconds(self._pids[name])
                  for name in self.NAMES if name in self._pids}
        values["translator"] = self.translator_cpu()
        return values

    def start(self) -> None:
        self._pids = stack_pids()
        self._start = self._read()
        self._machine = machine_cpu_times()

    def stop(self) -> dict[str, float | None]:
        """CPU seconds per process; ``None`` when its pid changed (it was restarted)."""
        end = self._read()
        self.machine_busy = busy_fraction(self._machine, machine_cpu_times())
        now = stack_pids()
        result: dict[str, float | None] = {}
        for name in self.NAMES:
            same = name in end and now.get(name) == self._pids.get(name)
            result[name] = round(end[name] - self._start[name], 2) if same else None
        result["translator"] = round(end["translator"] - self._start["translator"], 2)
        return result


# --- topics ------------------------------------------------------------------------------


class OffsetSampler:
    """Samples the summed end offsets of ``topics`` every ``interval_s`` in a thread."""

    def __init__(self, bootstrap: str, topics: list[str], interval_s: float = 1.0) -> None:
        self.topics = topics
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                   "enable.auto.commit": False})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def end_offsets(self) -> int:
        return sum(self._consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
                   for t in self.topics)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self.end_offsets()))
            except Exception:  # noqa: BLE001, S110 - a missed sample is only a gap
                pass
            self._stop.wait(self.interval_s)

    def start(self) -> OffsetSampler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self._consumer.close()

    def window(self, start: float, end: float) -> list[tuple[float, int]]:
        return [(t, n) for t, n in self.samples if start <= t <= end]


@dataclass
class SeenFact:
    """A fact as the tailing consumer saw it."""

    kind: str
    lsn: int
    id: str
    appended_ms: int
    visible_ms: float
    offset: int = -1


@contextmanager
def collector_paused() -> Iterator[None]:
    """This process's cyclic garbage collector off while it measures.

    The harness keeps every fact it saw: a full collection walks them all, 40–60 ms with
    the tail's thread stopped, and each fact that became readable meanwhile would be noted
    that much late. The harness makes no reference cycles worth collecting during a run.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class FactTail:
    """Tails the fact topics with ``read_committed`` in a thread, from their beginning."""

    bootstrap: str
    topics: dict[str, str]  # topic -> kind
    facts: list[SeenFact] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = Consumer({
            "bootstrap.servers": self.bootstrap, "group.id": "unused",
            "enable.auto.commit": False, "isolation.level": "read_committed",
            "fetch.wait.max.ms": 10})
        self._consumer.assign([TopicPartition(t, 0, OFFSET_BEGINNING) for t in self.topics])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._poll():
                if msg.error():
                    continue
                now = time.time() * 1000
                value = orjson.loads(msg.value())
                self.facts.append(SeenFact(self.topics[msg.topic()], int(value["data"]["lsn"]),
                                           value["id"], msg.timestamp()[1], now,
                                           msg.offset()))

    def _poll(self) -> list[Message]:
        """What is readable now, or the first fact to become readable within 50 ms.

        ``consume(n, timeout)`` returns only when it has ``n`` records or the timeout has
        passed: asking for many with a timeout would note a lone fact up to 50 ms late.
        """
        messages = self._consumer.consume(1, 0.05)
        if messages:
            messages.extend(self._consumer.consume(999, 0))
        return messages

    def start(self) -> FactTail:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
        self._consumer.close()

    def wait_for(self, count: int, timeout: float,
                 check: Callable[[], None] = lambda: None) -> bool:
        """Wait until ``count`` facts were seen; whether they were. ``check`` runs between
        looks and may raise (e.g. when the translator died)."""
        deadline = time.monotonic() + timeout
        while len(self.facts) < count:
            if time.monotonic() > deadline:
                return False
            check()
            time.sleep(0.2)
        return True


@dataclass(frozen=True)
class ChangeRecord:
    """A change record's position and times."""

    kind: str
    lsn: int
    committed_ms: int
    appended_ms: int


def read_changes(bootstrap: str, topics: dict[str, str], start: dict[str, int] | None = None,
                 timeout: float = 120.0) -> tuple[list[ChangeRecord], dict[str, int]]:
    """Every change record of ``topics`` (topic -> kind) from ``start`` offsets to the end;
    the records and the next offsets."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    start = start or {}
    try:
        ends = {t: consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1]
                for t in topics}
        consumer.assign([TopicPartition(t, 0, start.get(t, OFFSET_BEGINNING)) for t in topics])
        records = _read_to_end(consumer, topics, ends, timeout)
    finally:
        consumer.close()
    return records, ends


def _read_to_end(consumer: Consumer, topics: dict[str, str], ends: dict[str, int],
                 timeout: float) -> list[ChangeRecord]:
    records: list[ChangeRecord] = []
    deadline = time.monotonic() + timeout
    pending = {t for t, end in ends.items() if end > 0}
    while pending and time.monotonic() < deadline:
        for msg in consumer.consume(2000, 0.5):
            if msg.error() or msg.value() is None:
                continue
            if msg.offset() + 1 >= ends[msg.topic()]:
                pending.discard(msg.topic())
            payload = orjson.loads(msg.value())
            payload = payload.get("payload", payload)
            source = payload["source"]
            records.append(ChangeRecord(topics[msg.topic()], int(source["lsn"]),
                                        int(source["ts_ms"]), msg.timestamp()[1]))
        positions = consumer.position([TopicPartition(t, 0) for t in pending])
        pending -= {p.topic for p in positions if p.offset >= ends[p.topic]}
    return records


# --- statistics --------------------------------------------------------------------------


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    """p50, p99, p99.9 and max (nearest rank), in the values' unit."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "p99.9": None, "max": None, "n": 0}

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 1)

    return {"p50": rank(0.5), "p99": rank(0.99), "p99.9": rank(0.999),
            "max": round(ordered[-1], 1), "n": len(ordered)}


def span_rate(times_ms: list[float]) -> float | None:
    """Records per second between the first and the last of ``times_ms``."""
    if len(times_ms) < 2:
        return None
    span = (max(times_ms) - min(times_ms)) / 1000
    return round(len(times_ms) / span, 1) if span > 0 else None


def peak_rate(samples: list[tuple[float, int]], window_s: float = 5.0) -> float | None:
    """The highest growth rate of sampled offsets over any ``window_s`` window."""
    best = None
    for i, (t0, n0) in enumerate(samples):
        for t1, n1 in samples[i + 1:]:
            if t1 - t0 >= window_s:
                rate = (n1 - n0) / (t1 - t0)
                best = rate if best is None else max(best, rate)
                break
    return round(best, 1) if best is not None else None
