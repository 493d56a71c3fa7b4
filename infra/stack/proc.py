"""Start, find and stop the stack's processes; each one is recorded in a pid file under <home>/run."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from collections import deque
from pathlib import Path

from infra.stack.config import StackConfig
from infra.stack.service import ProcessSpec


def _pid_file(cfg: StackConfig, name: str) -> Path:
    return cfg.run / f"{name}.json"


def log_file(cfg: StackConfig, name: str) -> Path:
    """The file a process's stdout and stderr go to."""
    return cfg.logs / f"{name}.log"


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    return parts or None


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after "pid (comm)": state first, utime and stime at 11 and 12."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _stat_state(pid: int) -> str:
    try:
        return _stat(pid)[0]
    except (OSError, IndexError):
        return "X"


def cpu_seconds(pid: int) -> float:
    """CPU seconds process `pid` has used so far, all its threads (user and system)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def running_pid(cfg: StackConfig, name: str) -> int | None:
    """The pid of our process `name` if it is alive and still the program we started, else None."""
    path = _pid_file(cfg, name)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    pid = int(record["pid"])
    if _stat_state(pid) in ("Z", "X"):  # gone, or a zombie
        return None
    cmd = _cmdline(pid)  # empty for an instant while a program execs: then trust the live pid
    if cmd is not None and Path(cmd[0]).name != Path(record["argv0"]).name:
        return None  # the pid now belongs to another program
    return pid


def start(cfg: StackConfig, spec: ProcessSpec) -> subprocess.Popen:
    """Start `spec` in its own session, output appended to its log file; return the process
    (its poll() is the reliable way to see it exit while it starts)."""
    cfg.run.mkdir(parents=True, exist_ok=True)
    cfg.logs.mkdir(parents=True, exist_ok=True)
    log_path = log_file(cfg, spec.name)
    # Owner-only: a service may log a credential (MinIO prints default ones, a driver error may carry a URI).
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
        os.fchmod(log.fileno(), 0o600)
        log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(spec.argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            spec.argv,
            env={**os.environ, **spec.env},
            cwd=spec.cwd,
            user=spec.user,
            group=pwd.getpwnam(spec.user).pw_gid if spec.user else None,
            extra_groups=[] if spec.user else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file(cfg, spec.name).write_text(
        json.dumps(
            {
                "pid": proc.pid,
                "argv0": spec.argv[0],
                "argv": spec.argv,
                "started": time.time(),
                "stop_signal": int(spec.stop_signal),
            }
        )
    )
    return proc


def recorded(cfg: StackConfig) -> list[str]:
    """Names of the processes with a pid file, most recently started first."""
    records = []
    for path in cfg.run.glob("*.json") if cfg.run.exists() else []:
        records.append((json.loads(path.read_text()).get("started", 0), path.stem))
    return [name for _, name in sorted(records, reverse=True)]


def stop(cfg: StackConfig, name: str, grace: float = 30.0) -> bool:
    """Stop our process `name` (its whole process group) with its own stop signal; True if one was running."""
    path = _pid_file(cfg, name)
    pid = running_pid(cfg, name)
    sig = json.loads(path.read_text()).get("stop_signal", signal.SIGTERM) if path.exists() else signal.SIGTERM
    path.unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return True
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) == pgid and _stat_state(int(entry.name)) not in ("Z", "X"):
                return True
        except ProcessLookupError:
            continue
    return False


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a text file ('' if it does not exist)."""
    if not path.exists():
        return ""
    with open(path, errors="replace") as handle:
        return "".join(deque(handle, maxlen=lines))
