"""The soak: pgbench load for SOAK_MINUTES while the translator is killed (SIGKILL) and
restarted every SOAK_KILL_EVERY_S seconds; at the end, 0 lost and 0 duplicate facts.

    SOAK_MINUTES=10 python -m benchmarks.pipeline.soak [--rate 200] [--clients 4]

Results go to ``benchmarks/results/soak.json``; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.pipeline.run import (
    RESULTS,
    Plan,
    StackEnv,
    exit_on_sigterm,
    machine,
    pipeline,
)
from benchmarks.pipeline.session import Session, say
from benchmarks.pipeline.workload import PgbenchResult


def _load(session: Session, clients: int, seconds: float, rate: float | None,
          out: list[PgbenchResult], errors: list[BaseException]) -> None:
    try:
        out.append(session.capture.db.run(clients, seconds, rate))
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)


def _kill_loop(session: Session, until: float, every_s: float) -> list[dict[str, float]]:
    """SIGKILL the translator every ``every_s`` seconds and start it again at once."""
    kills = []
    while time.time() + every_s < until:
        time.sleep(every_s)
        killed_at = time.time()
        session.translator.stop(signal.SIGKILL)
        session.translator.start()
        kills.append({"killed_at": round(killed_at, 3),
                      "ready_after_s": round(time.time() - killed_at, 2)})
        say(f"kill {len(kills)}: translator SIGKILLed, ready again after "
            f"{kills[-1]['ready_after_s']} s; {len(session.tail.facts)} facts so far")
    return kills


def soak(stack: StackEnv, minutes: float, clients: int, rate: float | None,
         kill_every_s: float, scale: int) -> dict[str, Any]:
    """Run the soak; what happened, and the verification."""
    plan = Plan(scale=scale)
    seconds = minutes * 60
    with tempfile.TemporaryDirectory(prefix="cdc-facts-soak-") as tmp, \
            pipeline(plan, stack, Path(tmp)) as session:
        results: list[PgbenchResult] = []
        errors: list[BaseException] = []
        load = threading.Thread(target=_load,
                                args=(session, clients, seconds, rate, results, errors))
        started = time.time()
        say(f"pgbench for {minutes:g} min, {clients} clients, "
            f"{'unthrottled' if rate is None else f'{rate:g} tps'}; "
            f"SIGKILL every {kill_every_s:g} s")
        load.start()
        kills = _kill_loop(session, started + seconds, kill_every_s)
        load.join()
        if errors:
            raise errors[0]
        session.transactions = results[0].transactions
        say(f"load done: {session.transactions} transactions; waiting for "
            f"{session.expected_facts - len(session.tail.facts)} more facts")
        drained = session.tail.wait_for(session.expected_facts, session.drain_timeout_s,
                                        session.translator.check_alive)
        verification = session.verify()
    return {"run_id": plan.run_id, "scale": scale, "minutes": minutes, "clients": clients,
            "rate": rate, "kill_every_s": kill_every_s, "kills": len(kills),
            "restarts": kills, "source_tps": round(results[0].tps, 1),
            "drained": drained, "drain_s": round(time.time() - started - seconds, 1),
            "verification": verification, "machine": machine()}


def main(argv: list[str] | None = None) -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float,
                        default=float(os.environ.get("SOAK_MINUTES", 10)))
    parser.add_argument("--kill-every-s", type=float,
                        default=float(os.environ.get("SOAK_KILL_EVERY_S", 60)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", 4)))
    parser.add_argument("--rate", type=float, default=float(os.environ.get("SOAK_RATE", 200)),
                        help="pgbench tps (0: unthrottled)")
    parser.add_argument("--scale", type=int, default=int(os.environ.get("SOAK_SCALE", 1)))
    args = parser.parse_args(argv)
    result = soak(StackEnv.from_env(), args.minutes, args.clients, args.rate or None,
                  args.kill_every_s, args.scale)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['kills']} kills; verification: {result['verification']}")
    print("wrote benchmarks/results/soak.json")
    if not result["verification"]["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
