"""The pipeline benchmark: pgbench -> PostgreSQL -> Debezium -> Kafka -> cdc-facts run ->
fact topics, on the running local stack.

    python -m benchmarks.pipeline.run [--scale 10] [--clients 1,2,4,8] [--rates 100,300,600]
                                      [--seconds 40] [--ceiling-seconds 60]

Every run uses its own database, connector, slot, publication, topics and consumer group,
and removes them at the end (also on failure). Results go to
``benchmarks/results/pipeline.{json,md,png}``; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.pipeline.capture import Capture, captured
from benchmarks.pipeline.measure import FactTail, OffsetSampler, collector_paused
from benchmarks.pipeline.report import write_reports
from benchmarks.pipeline.session import Phase, Session, say
from benchmarks.pipeline.translator import TranslatorProcess
from benchmarks.pipeline.workload import bench_database, repo_root

RESULTS = repo_root() / "benchmarks" / "results"


@dataclass(frozen=True)
class StackEnv:
    """Where the local stack is (``eval "$(cdc-facts local env)"``)."""

    bootstrap: str
    admin_dsn: str
    cdc_dsn: str
    #: the local broker's log directory (``$CDC_FACTS_HOME/kafka/data``), if there is one
    kafka_data: Path | None = None

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] = os.environ) -> StackEnv:
        missing = [k for k in ("CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS", "CDC_FACTS_POSTGRES_DSN",
                               "CDC_FACTS_POSTGRES_CDC_DSN", "SHOP_DB_PASSWORD") if not env.get(k)]
        if missing:
            raise SystemExit(f"{', '.join(missing)} not set: run "
                             "`eval \"$(cdc-facts local env)\"` with the local stack up")
        data = Path(env["CDC_FACTS_HOME"], "kafka", "data") if env.get("CDC_FACTS_HOME") else None
        return cls(env["CDC_FACTS_KAFKA__BOOTSTRAP_SERVERS"], env["CDC_FACTS_POSTGRES_DSN"],
                   env["CDC_FACTS_POSTGRES_CDC_DSN"],
                   data if data is not None and data.is_dir() else None)


@dataclass(frozen=True)
class Plan:
    """What one benchmark run does."""

    scale: int = 10
    phases: tuple[Phase, ...] = ()
    ceiling: Phase | None = None
    commit_interval_ms: int | None = None
    run_id: str = field(default_factory=lambda: f"pgb_{uuid.uuid4().hex[:8]}")
    #: a load first, not reported: the JVMs of a fresh stack compile their hot code then
    warmup: Phase | None = None


@contextmanager
def pipeline(plan: Plan, stack: StackEnv, workdir: Path) -> Iterator[Session]:
    """A captured pgbench database with the translator running; everything removed after."""
    with ExitStack() as stack_:
        say(f"run {plan.run_id}: pgbench -i at scale {plan.scale}")
        db = stack_.enter_context(bench_database(plan.run_id, stack.admin_dsn, stack.cdc_dsn,
                                                 plan.scale))
        say("preflight --fix and connector register")
        capture: Capture = stack_.enter_context(
            captured(db, plan.run_id, workdir, stack.bootstrap))
        say("starting the translator")
        translator = TranslatorProcess(capture.mappings, capture.group, stack.bootstrap,
                                       workdir / "translator.log", plan.commit_interval_ms)
        stack_.callback(translator.stop)
        stack_.enter_context(collector_paused())
        tail = FactTail(stack.bootstrap, {capture.fact_topic(k): k
                                          for k in ("history", "accounts")}).start()
        stack_.callback(tail.close)
        sampler = OffsetSampler(stack.bootstrap, capture.change_topics).start()
        stack_.callback(sampler.close)
        translator.start()
        yield Session(capture, translator, tail, sampler, stack.bootstrap, stack.kafka_data)


def run(plan: Plan, stack: StackEnv) -> dict[str, Any]:
    """Run the plan; every phase's measurements, the ceiling, and the verification."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="cdc-facts-bench-") as tmp, \
            pipeline(plan, stack, Path(tmp)) as session:
        warmup = session.run_phase(plan.warmup) if plan.warmup else None
        phases = [session.run_phase(phase) for phase in plan.phases]
        ceiling = session.ceiling(plan.ceiling) if plan.ceiling else None
        verification = session.verify()
    return {"run_id": plan.run_id, "scale": plan.scale,
            "commit_interval_ms": plan.commit_interval_ms or 1000,
            "plan": [asdict(p) for p in plan.phases], "warmup": warmup, "phases": phases,
            "ceiling": ceiling,
            "verification": verification, "machine": machine(),
            "duration_s": round(time.time() - started, 1)}


def machine() -> dict[str, Any]:
    """The host: CPUs, memory, kernel; the whole stack shares it."""
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": cpu,
            "memory_gb": round(int(meminfo[1]) / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version()}


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_plan(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=int(os.environ.get("BENCH_SCALE", 10)))
    parser.add_argument("--clients", default=os.environ.get("BENCH_CLIENTS", "1,2,4,8"),
                        help="client counts of the unthrottled phases")
    parser.add_argument("--rates", default=os.environ.get("BENCH_RATES", "100,300,600"),
                        help="fixed rates (tps) of the throttled phases, with 4 clients")
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("BENCH_SECONDS", 40)))
    parser.add_argument("--ceiling-seconds", type=float,
                        default=float(os.environ.get("BENCH_CEILING_SECONDS", 60)))
    parser.add_argument("--warmup-seconds", type=float,
                        default=float(os.environ.get("BENCH_WARMUP_SECONDS", 30)),
                        help="a first load at 300 tps, not reported (0: none)")
    parser.add_argument("--commit-interval-ms", type=int, default=None,
                        help="the translator's commit interval [default: its own, 1000]")
    parser.add_argument("--low-latency-commit-ms", type=int,
                        default=int(os.environ.get("BENCH_LOW_LATENCY_COMMIT_MS", 0)),
                        help="repeat the fixed-rate phases with this commit interval (0: no)")
    parser.add_argument("--low-latency-linger-ms", type=int,
                        default=int(os.environ.get("BENCH_LOW_LATENCY_LINGER_MS", 5)),
                        help="repeat the fixed-rate phases with this transaction linger (0: no)")
    args = parser.parse_args(argv)
    clients = _ints(args.clients)
    phases = [Phase(4, args.seconds, float(rate)) for rate in _ints(args.rates)]
    phases += [Phase(c, args.seconds) for c in clients]
    if args.low_latency_commit_ms:
        phases += [Phase(4, args.seconds, float(rate), args.low_latency_commit_ms)
                   for rate in _ints(args.rates)]
    if args.low_latency_linger_ms:
        phases += [Phase(4, args.seconds, float(rate), linger_ms=args.low_latency_linger_ms)
                   for rate in _ints(args.rates)]
    ceiling = Phase(max(clients), args.ceiling_seconds) if args.ceiling_seconds else None
    warmup = Phase(4, args.warmup_seconds, 300.0) if args.warmup_seconds else None
    return Plan(args.scale, tuple(phases), ceiling, args.commit_interval_ms, warmup=warmup)


def exit_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that the clean-up runs."""
    def handle(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handle)


def main(argv: list[str] | None = None) -> None:
    exit_on_sigterm()
    plan = parse_plan(argv)
    result = run(plan, StackEnv.from_env())
    paths = write_reports(result, RESULTS)
    print(f"verification: {result['verification']}")
    print("wrote " + ", ".join(str(p.relative_to(repo_root())) for p in paths))
    if not result["verification"]["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
