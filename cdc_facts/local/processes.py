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


#: Seconds a process may seem to have started after its pid file was written (clock
#: steps, coarse timestamps) and still count as the process the file names.
_LEGACY_SLACK = 5.0


def write_pid(pid_file: Path, pid: int) -> None:
    """Record ``pid`` with its start time and the boot it belongs to, so a later reader can
    tell the process from an unrelated one that got the same pid (after a reboot, say)."""
    started, boot = _start_ticks(pid), _boot_id()
    fields = [str(pid)] + ([str(started), boot] if started is not None and boot else [])
    pid_file.write_text(" ".join(fields) + "\n")


def read_pid(pid_file: Path, marker: str | None = None) -> int | None:
    """The pid the file names, or None when the file is missing or names a process that is
    gone (a pid now used by another process counts as gone: it is never signalled).

    Files of older versions hold the pid alone: its process must have started before the
    file was written (which rules out a pid reused after a reboot), and its command line
    must hold ``marker`` (the service's data dir, say) when one is given."""
    try:
        text = pid_file.read_text().split()
        written = pid_file.stat().st_mtime
        pid = int(text[0])
    except (OSError, ValueError, IndexError):
        return None
    if len(text) >= 3:
        same = text[1] == str(_start_ticks(pid)) and text[2] == _boot_id()
    else:
        started, argv = _started_at(pid), _cmdline(pid)
        same = ((started is None or started <= written + _LEGACY_SLACK)
                and (marker is None or argv is None or marker in argv))
    return pid if same and pid_alive(pid) else None


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the command name, which may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: when the process started, in clock ticks after boot."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _started_at(pid: int) -> float | None:
    """When the process started, in seconds since the epoch (None off Linux)."""
    ticks = _start_ticks(pid)
    try:
        lines = Path("/proc/stat").read_text().splitlines()
        boot = next(float(line.split()[1]) for line in lines if line.startswith("btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    if ticks is None:
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


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
    fields = _proc_stat(pid)
    return fields is not None and fields[:1] == ["Z"]


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
    write_pid(pid_file, proc.pid)
    _DETACHED.append(proc)  # the service outlives this handle; keep it from being collected
    return proc.pid


def terminate(pid_file: Path, *, timeout: float = 30.0, marker: str | None = None) -> bool:
    """SIGTERM the process group, then SIGKILL after ``timeout``. True if one was running.
    ``marker``: see :func:`read_pid`."""
    pid = read_pid(pid_file, marker)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
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
    """Signal the process and, when it leads its own group (as :func:`spawn` makes it),
    the group, so children it forked stop too. Never the group of another leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
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
