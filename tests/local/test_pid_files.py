"""Pid files name one process: a pid reused by another one (after a reboot, say) is not the
service, and is never signalled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc_facts.local.processes import pid_alive, read_pid, spawn, terminate, write_pid
from cdc_facts.local.secrets import StackSecrets
from cdc_facts.local.settings import LocalPorts, LocalStackSettings
from cdc_facts.local.stack import LocalStack

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
pytestmark = pytest.mark.skipif(not BOOT_ID.exists(), reason="needs Linux's /proc")


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is no service of the stack, in its own process group."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    deadline = time.monotonic() + 10
    while b"time.sleep(60)" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # until it runs its own program, not the forked copy of pytest
    yield proc
    proc.kill()
    proc.wait()


def _start_ticks(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def test_a_pid_file_holds_the_pid_its_start_time_and_the_boot(tmp_path: Path) -> None:
    pid_file = tmp_path / "svc.pid"
    pid = spawn([sys.executable, "-c", "import time; time.sleep(60)"],
                log=tmp_path / "svc.log", pid_file=pid_file)
    try:
        assert pid_file.read_text().split() == [str(pid), _start_ticks(pid),
                                                BOOT_ID.read_text().strip()]
        assert read_pid(pid_file) == pid
    finally:
        assert terminate(pid_file, timeout=5)


def test_a_pid_with_another_start_time_is_not_running_and_not_signalled(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    pid_file = tmp_path / "kafka.pid"
    ticks = int(_start_ticks(unrelated.pid))
    pid_file.write_text(f"{unrelated.pid} {ticks - 100} {BOOT_ID.read_text().strip()}\n")
    assert read_pid(pid_file) is None
    assert not terminate(pid_file, timeout=1)
    assert not pid_file.exists()
    time.sleep(0.2)
    assert unrelated.poll() is None


def test_a_pid_of_another_boot_is_not_running(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{unrelated.pid} {_start_ticks(unrelated.pid)} another-boot\n")
    assert read_pid(pid_file) is None


def test_an_old_pid_file_counts_only_for_a_process_started_before_it(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    """Files of older versions hold the pid alone."""
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{unrelated.pid}\n")
    assert read_pid(pid_file) == unrelated.pid
    an_hour_ago = time.time() - 3600  # written before a reboot: the pid is someone else's
    os.utime(pid_file, (an_hour_ago, an_hour_ago))
    assert read_pid(pid_file) is None
    assert not terminate(pid_file, timeout=1)
    assert unrelated.poll() is None


def test_an_old_pid_file_counts_only_for_a_process_that_looks_like_the_service(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{unrelated.pid}\n")
    assert read_pid(pid_file, marker="time.sleep(60)") == unrelated.pid
    assert read_pid(pid_file, marker=str(tmp_path / "kafka" / "server.properties")) is None
    assert not terminate(pid_file, timeout=1, marker="/elsewhere/server.properties")
    assert unrelated.poll() is None


def test_write_pid_names_a_running_process(tmp_path: Path) -> None:
    write_pid(tmp_path / "me.pid", os.getpid())
    assert read_pid(tmp_path / "me.pid") == os.getpid()
    assert pid_alive(os.getpid())


def test_up_and_down_ignore_a_service_whose_pid_was_reused(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    settings = LocalStackSettings(home=tmp_path, cache=tmp_path / "cache",
                                  ports=LocalPorts(kafka=1))
    StackSecrets.load_or_create(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "kafka.pid").write_text(f"{unrelated.pid} 1 another-boot\n")
    (tmp_path / "run" / "postgres.pid").write_text(f"{unrelated.pid}\n")  # an old one
    stack = LocalStack(settings)
    assert not stack.service("kafka").running()
    assert not stack.service("postgres").running()
    said: list[str] = []
    stack.down(progress=said.append)
    assert said == []
    time.sleep(0.2)
    assert unrelated.poll() is None
