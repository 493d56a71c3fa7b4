"""The platform's run launcher: Dagster's default one, plus warm run workers and a health check of the worker.

Warm workers: Dagster's code server starts each run in a freshly spawned Python process, which imports Dagster,
DuckDB, boto3 and the project's code location before the run's first step (3–5 s on a quiet machine, 30 s and more
on a loaded one: most of a micro-batch run). With `warm_workers` (default on) the launcher keeps a fork server that
imported those once, and each run's worker is forked from it and runs the same `dagster api execute_run` body on the
run's own code origin. The fork server is started again when a source file under the code location's working
directory changed since it started, so an edited code location is never served stale. Runs without a code origin
go through the code server as before.

Dagster's run monitoring fails a run whose worker died only if the launcher can tell; `DefaultRunLauncher` cannot,
so after a `kill -9` of `dagster dev` (or a host restart) its runs stay STARTED for ever and keep their
concurrency slots. Runs launched through a code server on this machine run in a child process of that server,
whose pid the worker records in its "Started process for run" event; this launcher tags each run with the host
and boot it was launched on and reports the worker dead when that process is gone (or the host was rebooted).
Runs launched elsewhere are reported running: the `dagster/max_runtime` limit remains their backstop.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance, DagsterRun, Field
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._serdes import ConfigurableClassData

HOST_TAG = "lakehouse/worker_host"
WARM_TAG = "lakehouse/warm_worker"
# What every run of the platform imports before its first step; the run's code location module is added to it.
PRELOAD = [
    "dagster",
    "dagster_postgres",
    "dagster_aws",
    "duckdb",
    "confluent_kafka",
    "boto3",
    "psycopg",
    "msgspec",
    "zstandard",
    "requests",
    "jinja2",
    "yaml",
]
FORK_SERVER_SIGNALS = "orchestration.fork_server_signals"  # first in every fork server's preload list
SOURCE_SUFFIXES = (".py", ".sql", ".yml", ".yaml", ".json", ".j2")
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
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, starttime field 22
    if fields[0] in ("Z", "X"):
        return None
    boot_time = next(
        float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
    )
    return boot_time + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def code_fingerprint(root: str) -> int:
    """A hash of the source files under `root` (name, mtime, size; hidden folders such as .venv skipped): changes
    when the code location would load differently."""
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [d for d in subfolders if not d.startswith(".") and d != "__pycache__"]
        for name in names:
            if name.endswith(SOURCE_SUFFIXES):
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                files.append((folder, name, stat.st_mtime_ns, stat.st_size))
    return hash(tuple(sorted(files)))


def _execute_run(run_id: str, instance_ref: InstanceRef) -> None:
    """A warm worker's body: what `dagster api execute_run` does with the run, in this forked process, holding
    interrupts as that command does until the run's steps can handle them (a Ctrl-C then fails the run instead of
    leaving it STARTING). A Ctrl-C that came before is held too (`fork_server_signals`)."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts(), DagsterInstance.from_ref(instance_ref) as instance:
        # Dagster's Postgres storages open a new connection per operation (NullPool) outside the webserver: about 70
        # for a bronze run, 10 ms each. The run's worker keeps them open instead, as the webserver does.
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
        _execute_run_command_body(run_id, instance, write_stream_fn=lambda _event: None, set_exit_code_on_failure=False)


def _worker_pid(instance: DagsterInstance, run: DagsterRun) -> tuple[int, float] | None:
    """(pid, when reported) of the run's latest worker process, from its "Started process" event."""
    started = [
        e
        for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
        if e.message.startswith(_STARTED_PROCESS)
    ]
    if not started:
        return None
    event = started[-1]  # a resumed run reports a new process
    return int(event.message[len(_STARTED_PROCESS) :].split(")")[0]), event.timestamp


class LocalWorkerRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher with warm run workers, whose workers on this host run monitoring can health-check."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        warm_workers: bool = True,
        preload: list[str] | None = None,
    ) -> None:
        super().__init__(inst_data=inst_data)
        self.warm_workers = warm_workers
        self.preload = PRELOAD if preload is None else preload
        self._forkserver: Any = None
        self._served: tuple | None = None  # (preloaded modules, working directory, its code fingerprint)
        self._lock = threading.Lock()  # the run queue launches in threads

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "warm_workers": Field(
                bool,
                default_value=True,
                description="fork run workers from a process that "
                "imported the libraries once, instead of spawning a fresh interpreter per run",
            ),
            "preload": Field([str], default_value=PRELOAD, description="modules the fork server imports"),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> LocalWorkerRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def _warm_context(self, module: str | None, working_directory: str | None) -> Any:
        """The fork-server context, its server (re)started with the libraries and the code location preloaded
        whenever the code location or its source files changed."""
        preload = [FORK_SERVER_SIGNALS, *self.preload, *([module] if module else [])]
        served = (tuple(preload), working_directory, code_fingerprint(working_directory) if working_directory else None)
        with self._lock:
            return self._serve(preload, working_directory, served)

    def _serve(self, preload: list[str], working_directory: str | None, served: tuple) -> Any:
        if self._forkserver is None:
            self._forkserver = multiprocessing.get_context("forkserver")
        if served != self._served:
            multiprocessing.forkserver._forkserver._stop()  # running workers carry on; it serves no new one
            self._forkserver.set_forkserver_preload(preload)
            path = list(sys.path)
            if working_directory:  # the fork server imports the code location from where the run loads it
                sys.path.insert(0, working_directory)
            try:
                multiprocessing.forkserver.ensure_running()
            finally:
                sys.path[:] = path
            self._served = served
        multiprocessing.active_children()  # reap finished workers
        return self._forkserver

    def launch_run(self, context: LaunchRunContext) -> None:
        """Fork a warm worker for the run (or launch it through the code server), and tag it with this host when
        its worker runs here."""
        run = context.dagster_run
        if self.warm_workers and run.job_code_origin is not None:
            pointer = run.job_code_origin.repository_origin.code_pointer
            context_ = self._warm_context(getattr(pointer, "module", None), getattr(pointer, "working_directory", None))
            self._instance.add_run_tags(run.run_id, {HOST_TAG: host_id(), WARM_TAG: "true"})
            worker = context_.Process(
                target=_execute_run,
                args=(run.run_id, self._instance.get_ref()),
                name=f"dagster-run-{run.run_id[:8]}",
                daemon=False,
            )
            worker.start()
            self._run_ids.add(run.run_id)
            return
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
        worker = _worker_pid(self._instance, run)
        if worker is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker has not reported its process yet")
        pid, reported = worker
        began = process_started_at(pid)
        if began is None or began > reported + 2:  # gone, or its pid now belongs to a newer process
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker process {pid} is alive")

    def terminate(self, run_id: str) -> bool:
        """Interrupt a warm worker as the code server would (SIGINT: Dagster stops at the next step boundary and
        marks the run canceled); other runs through the code server."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or run.tags.get(WARM_TAG) != "true":
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        worker = _worker_pid(self._instance, run)
        if worker is None or process_started_at(worker[0]) is None:
            self._instance.report_engine_event(
                "the run's worker has not started or is gone: nothing to interrupt", run, cls=self.__class__
            )
            return False
        os.kill(worker[0], signal.SIGINT)
        return True
