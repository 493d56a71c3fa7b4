"""The fault suite's bookkeeping: drive the platform as its daemon would until it has recovered by itself,
count records, and keep one table row per fault (printed at the end of the test session)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from infra.stack import proc, stack
from infra.stack.config import StackConfig

ROWS: list[FaultRow] = []


@dataclass
class FaultRow:
    """What one fault did to the records: every row must read lost 0, duplicated 0."""

    fault: str
    produced: int
    landed: int
    quarantined: int
    lost: int
    duplicated: int
    recovery_s: float

    def line(self) -> str:
        return (
            f"| {self.fault} | {self.produced} | {self.landed} | {self.quarantined} | {self.lost} | "
            f"{self.duplicated} | {self.recovery_s:.1f} |"
        )


def table() -> str:
    """The fault table in Markdown."""
    head = (
        "| fault | produced | landed | quarantined | lost | duplicated | recovery (s) |\n|---|---|---|---|---|---|---|"
    )
    return "\n".join([head, *(row.line() for row in ROWS)])


def record(row: FaultRow) -> FaultRow:
    """Keep the row for the table."""
    ROWS.append(row)
    return row


def kill9(cfg: StackConfig, name: str) -> list[int]:
    """kill -9 every process of service `name` (as a crash or a dead host would)."""
    killed = []
    for spec in stack.service(cfg, name).processes():
        pid = proc.running_pid(cfg, spec.name)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.2)
    return killed


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def restart(cfg: StackConfig, name: str) -> None:
    """Start service `name` again (after a stop or a kill) and wait until it is healthy."""
    stack.start_service(cfg, stack.service(cfg, name))


def drive(harness, done, timeout_s: float, pause_s: float = 1.0) -> float:
    """Tick the sensor and execute what it requests, as the daemon does, until `done()`; return the seconds it
    took. Failed runs are left failed: recovering from them is the sensor's job, not the test's."""
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not recovered after {timeout_s:.0f}s")
        try:
            requests = harness.tick()
        except Exception:  # a tick that fails (broker down) is retried on the next one, as the daemon does
            requests = []
        for request in requests:
            harness.run(request, raise_on_error=False)
        time.sleep(pause_s)
    return time.monotonic() - started
