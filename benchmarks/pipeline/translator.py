"""The translator under test: ``cdc-facts run`` as a child process, as it runs in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from benchmarks.pipeline.workload import repo_root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TranslatorProcess:
    """``cdc-facts run --mappings M --group G`` in a child process; its log goes to ``log``.

    Args:
        mappings: the rendered mapping directory.
        group: the consumer group (and transactional id prefix).
        bootstrap: Kafka bootstrap servers.
        log: the file that collects its stdout and stderr.
        commit_interval_ms: ``--commit-interval-ms`` (``None``: the default, 1000).
        linger_ms: ``--transaction-linger-ms`` (``None``: the default, 0).
    """

    def __init__(self, mappings: Path, group: str, bootstrap: str, log: Path,
                 commit_interval_ms: int | None = None, linger_ms: int | None = None) -> None:
        self.port = _free_port()
        self.args = [sys.executable, "-m", "cdc_facts", "run", "--mappings", str(mappings),
                     "--group", group, "--instance-id", "bench", "--bootstrap-servers",
                     bootstrap, "--metrics-port", str(self.port), "--log-level", "warning"]
        self.commit_interval_ms = commit_interval_ms
        self.linger_ms = linger_ms
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.cpu_s_done = 0.0  # CPU seconds of the instances that already ended

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None

    def start(self, ready_timeout: float = 90.0) -> TranslatorProcess:
        """Start it and wait until ``/readyz`` answers 200."""
        env = {**os.environ, "CDC_FACTS__KAFKA__SESSION_TIMEOUT_MS": "6000",
               "CDC_FACTS__KAFKA__HEARTBEAT_INTERVAL_MS": "1000"}
        args = self.args
        if self.commit_interval_ms is not None:
            args = [*args, "--commit-interval-ms", str(self.commit_interval_ms)]
        if self.linger_ms is not None:
            args = [*args, "--transaction-linger-ms", str(self.linger_ms)]
        # its own session, as a service runs in production: the kernel's autogroup then
        # shares the cores between it and pgbench as between two services (docs/benchmarks.md)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, env=env,
                                            cwd=repo_root(), start_new_session=True)
        self._wait_ready(ready_timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the translator exited:\n{self.tail()}")
            if self._status("/readyz") == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the translator was not ready within {timeout} s\n{self.tail()}")

    def _status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",  # noqa: S310
                                        timeout=2) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0

    def transactions(self) -> dict[str, float]:
        """Its transaction counters so far, from ``/metrics`` (empty when unreachable):
        ``commits``, ``records`` (read in committed transactions) and ``commit_s`` (time
        spent committing)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",  # noqa: S310
                                        timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        wanted = {"cdc_facts_transaction_commits_total": "commits",
                  "cdc_facts_batch_records_sum": "records",
                  "cdc_facts_transaction_commit_seconds_sum": "commit_s"}
        found = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in wanted:
                found[wanted[name]] = float(value)
        return found

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Stop it with ``sig`` (SIGKILL for a crash) and count its CPU seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.process.kill()
            time.sleep(0.05)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.cpu_s_done += usage.ru_utime + usage.ru_stime

    def check_alive(self) -> None:
        """Raise, with the end of its log, when it exited although nobody stopped it."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the translator exited with {self.process.returncode}:\n"
                               f"{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
