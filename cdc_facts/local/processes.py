"""Start, watch and stop the stack's processes: pid files, logs, ports."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from pathlib import Path

from cdc_facts.errors import LocalStackError

#: Handles of the services this process started: they outlive their ``Popen`` objects.
_DETACHED: list[subprocess.Popen[bytes]] = []


@atexit.register
def _release_detached() -> None:
    """The services keep running after this process exits, on purpose: tell their ``Popen``
    handles so, instead of warning that a child is still running."""
    for proc in _DETACHED:
        if proc.poll() is None:
            proc.returncode = 0


def require_tool(name: str, hint: str) -> str:
    """Return the path of an executable or raise with what to install."""
    path = shutil.which(name)
    if not path:
        raise LocalStackError(f"`{name}` was not found on PATH", hint=hint)
    return path


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def check_port_free(service: str, host: str, port: int) -> None:
    if port_in_use(host, port):
        raise LocalStackError(
            f"port {host}:{port} for {service} is already in use by another process",
            hint=f"stop that process, or choose another port: `cdc-facts local up "
            f"--{service}-port N`",
            service=service,
        )


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def log_tail(log: Path, lines: int = 20) -> list[str]:
    try:
        with log.open(errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]
    except FileNotFoundError:
        return []


def spawn(
    argv: list[str],
    *,
    log: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start a detached process in its own session, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
            user=user,
        )
    pid_file.write_text(str(proc.pid))
    _DETACHED.append(proc)  # the service outlives this handle; keep it from being collected
    return proc.pid


def terminate(pid_file: Path, *, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, then SIGKILL after ``timeout``. True if one was running."""
    pid = read_pid(pid_file)
    if not pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    assert pid is not None
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.2)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.5)
    _reap(pid)
    pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def run(argv: list[str], *, user: str | None = None, env: dict[str, str] | None = None,
        input_text: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a short command to completion; raise with its output if it fails."""
    result = subprocess.run(
        argv, capture_output=True, text=True, user=user, env={**os.environ, **(env or {})},
        input=input_text, timeout=timeout, check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise LocalStackError(
            f"`{' '.join(argv[:3])} ...` failed with exit code {result.returncode}",
            log_tail=output, service=Path(argv[0]).name,
        )
    return result
