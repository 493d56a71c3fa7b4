"""The platform's run launcher: Dagster's default one, plus a health check of the run worker process.

Dagster's run monitoring fails a run whose worker died only if the launcher can tell; `DefaultRunLauncher` cannot,
so after a `kill -9` of `dagster dev` (or a host restart) its runs stay STARTED for ever and keep their
concurrency slots. Runs launched through a code server on this machine run in a child process of that server,
whose pid the worker records in its "Started process for run" event; this launcher tags each run with the host
and boot it was launched on and reports the worker dead when that process is gone (or the host was rebooted).
Runs launched elsewhere are reported running: the `dagster/max_runtime` limit remains their backstop.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from dagster import DagsterEventType, DagsterRun
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

HOST_TAG = "lakehouse/worker_host"
_STARTED_PROCESS = "Started process for run (pid: "
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def host_id() -> str:
    """This machine and this boot of it: '<hostname> <boot id>'."""
    boot = Path("/proc/sys/kernel/random/boot_id")
    return f"{socket.gethostname()} {boot.read_text().strip() if boot.exists() else '-'}"


def process_started_at(pid: int) -> float | None:
    """When process `pid` started (epoch seconds), or None when there is no such live process (zombies count
    as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    if fields[0] in ("Z", "X"):
        return None
    boot_time = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
    return boot_time + int(fields[19]) / os.sysconf("SC_CLK_TCK")


class LocalWorkerRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers on this host can be health-checked by run monitoring."""

    def launch_run(self, context: LaunchRunContext) -> None:
        """Tag the run with this host when its code server is local, then launch it as the default launcher does."""
        super().launch_run(context)
        run = self._instance.get_run_by_id(context.dagster_run.run_id)
        grpc = json.loads(run.tags.get(GRPC_INFO_TAG, "{}")) if run else {}
        if grpc.get("socket") or grpc.get("host") in _LOCAL_HOSTS:
            self._instance.add_run_tags(context.dagster_run.run_id, {HOST_TAG: host_id()})

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """RUNNING unless the run's worker is known to be gone (see the module docstring)."""
        launched_on = run.tags.get(HOST_TAG)
        if launched_on is None or launched_on.split()[0] != socket.gethostname():
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker not on this host: not checked")
        if launched_on != host_id():
            return CheckRunHealthResult(WorkerStatus.FAILED, "the host was restarted since the run was launched")
        started = [e for e in self._instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
                   if e.message.startswith(_STARTED_PROCESS)]
        if not started:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker has not reported its process yet")
        event = started[-1]  # a resumed run reports a new process
        pid = int(event.message[len(_STARTED_PROCESS):].split(")")[0])
        began = process_started_at(pid)
        if began is None or began > event.timestamp + 2:  # gone, or its pid now belongs to a newer process
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")
