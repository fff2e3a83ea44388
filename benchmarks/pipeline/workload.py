"""The pgbench workload: a database of its own, ``pgbench -i``, and timed ``pgbench`` runs.

The database is created by the admin login, owned by the ``cdc`` role (so the connector's
login owns the tables, as preflight wants), and dropped at the end of the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

PGBENCH_CANDIDATES = ("/usr/lib/postgresql/15/bin/pgbench", "pgbench")

_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.M)
_TXNS = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)
_LAT = re.compile(r"^latency average = ([0-9.]+) ms", re.M)


def pgbench_binary() -> str:
    """The pgbench executable: PostgreSQL 15's, else the one on PATH."""
    for candidate in PGBENCH_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise SystemExit("pgbench not found: install postgresql-client-15 "
                     "(/usr/lib/postgresql/15/bin/pgbench)")


@dataclass(frozen=True)
class PgbenchResult:
    """What one ``pgbench -T`` run reports."""

    clients: int
    rate: float | None
    seconds: float
    transactions: int
    failed: int
    tps: float
    latency_avg_ms: float | None
    started_at: float
    ended_at: float
    cpu_s: float


@dataclass(frozen=True)
class BenchDatabase:
    """A pgbench database owned by the ``cdc`` role."""

    name: str
    admin_dsn: str
    cdc_dsn: str

    def dsn(self, base: str) -> str:
        """``base`` (a URL or conninfo) pointed at this database."""
        return psycopg.conninfo.make_conninfo(base, dbname=self.name)

    def create(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER cdc").format(
                sql.Identifier(self.name)))

    def drop(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(self.name)))

    def scalar(self, query: str) -> int:
        """One integer from the database (as ``cdc``)."""
        with psycopg.connect(self.dsn(self.cdc_dsn)) as conn:
            row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])

    def initialize(self, scale: int) -> None:
        """``pgbench -i -s SCALE``: four tables, ``100000 * scale`` accounts."""
        subprocess.run([pgbench_binary(), "-i", "-q", "-s", str(scale), *self._conn_args()],
                       env=self._env(), check=True, capture_output=True)

    def run(self, clients: int, seconds: float, rate: float | None = None) -> PgbenchResult:
        """``pgbench -c N -j N -T secs [-R rate]``; its summary, and its CPU seconds."""
        args = [pgbench_binary(), "-c", str(clients), "-j", str(min(clients, 2)),
                "-T", str(int(seconds)), "-n", *self._conn_args()]
        if rate:
            args[1:1] = ["-R", str(rate)]
        started = time.time()
        # its own session, like a client on another host: it does not share the translator's
        # autogroup (docs/benchmarks.md); so an interrupt does not reach it, and is passed on
        with subprocess.Popen(args, env=self._env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True) as proc:
            try:
                _, status, usage = os.wait4(proc.pid, 0)  # its rusage: pgbench's CPU seconds
            except BaseException:
                proc.terminate()
                raise
            proc.returncode = os.waitstatus_to_exitcode(status)
            out = proc.stdout.read() if proc.stdout else ""
            err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise RuntimeError(f"pgbench failed ({proc.returncode}): {err.strip()}")
        return _parse(out, clients, rate, seconds, started, usage.ru_utime + usage.ru_stime)

    def _conn_args(self) -> list[str]:
        info = psycopg.conninfo.conninfo_to_dict(self.cdc_dsn)
        return ["-h", str(info["host"]), "-p", str(info["port"]), "-U", str(info["user"]),
                self.name]

    def _env(self) -> dict[str, str]:
        info = psycopg.conninfo.conninfo_to_dict(self.cdc_dsn)
        return {**os.environ, "PGPASSWORD": str(info["password"])}


def _parse(out: str, clients: int, rate: float | None, seconds: float, started: float,
           cpu_s: float) -> PgbenchResult:
    def number(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(out)
        return match.group(1) if match else None

    txns, tps = number(_TXNS), number(_TPS)
    if txns is None or tps is None:
        raise RuntimeError(f"cannot read pgbench's summary:\n{out}")
    latency = number(_LAT)
    return PgbenchResult(clients=clients, rate=rate, seconds=seconds,
                         transactions=int(txns), failed=int(number(_FAILED) or 0),
                         tps=float(tps), latency_avg_ms=float(latency) if latency else None,
                         started_at=started, ended_at=time.time(), cpu_s=cpu_s)


@contextmanager
def bench_database(name: str, admin_dsn: str, cdc_dsn: str, scale: int,
                   keep: bool = False) -> Iterator[BenchDatabase]:
    """A fresh pgbench database at ``scale``, dropped afterwards unless ``keep``."""
    db = BenchDatabase(name, admin_dsn, cdc_dsn)
    db.create()
    try:
        db.initialize(scale)
        yield db
    finally:
        if not keep:
            db.drop()


def repo_root() -> Path:
    """The cdc-facts checkout this file belongs to."""
    return Path(__file__).resolve().parents[2]
