"""`cdc-facts local up` twice changes nothing; `down --purge` leaves no process behind.

This starts a second, separate stack on other ports (in a temporary state dir) through the
real command line, next to the session's stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc_facts.local.processes import pid_alive

PORTS = ["--kafka-port", "29092", "--controller-port", "29093", "--connect-port", "28083",
         "--postgres-port", "25432"]


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDC_FACTS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "cdc_facts", "local", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _status(home: Path) -> list[dict[str, object]]:
    result = _cli(home, "status", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.fixture
def reachable_home() -> Iterator[Path]:
    """A state dir the databases' OS users can reach (pytest's tmp dirs are private)."""
    base = Path(tempfile.mkdtemp(prefix="cdc-facts-lifecycle-"))
    base.chmod(0o755)
    yield base / "stack"
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.stack
def test_up_is_idempotent_and_down_purge_leaves_nothing(reachable_home: Path) -> None:
    home = reachable_home
    try:
        first = _cli(home, "up", *PORTS)
        assert first.returncode == 0, first.stderr
        before = _status(home)
        assert [s["name"] for s in before] == ["postgres", "kafka", "connect"]
        assert all(s["ready"] for s in before)
        state_files = {p: p.stat().st_mtime_ns for p in home.rglob("*.properties")}

        second = _cli(home, "up", *PORTS)
        assert second.returncode == 0, second.stderr
        assert second.stderr.count("already running") == 3
        assert "starting" not in second.stderr
        assert [s["pid"] for s in _status(home)] == [s["pid"] for s in before]
        assert {p: p.stat().st_mtime_ns for p in state_files} == state_files
    finally:
        pids = [s["pid"] for s in _status(home)] if home.exists() else []
        down = _cli(home, "down", "--purge")
    assert down.returncode == 0, down.stderr
    assert pids and not any(pid_alive(int(str(p))) for p in pids if p)
    assert not home.exists()
    left = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True,
                          check=False)
    assert left.stdout.strip() == "", f"processes left behind: {left.stdout}"
