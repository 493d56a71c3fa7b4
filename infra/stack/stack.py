"""Bring the stack up, report on it and take it down."""

from __future__ import annotations

import importlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from infra.stack import proc
from infra.stack.config import StackConfig
from infra.stack.service import Service, StackError, port_open

# Start order; `down` goes the other way. Optional services start only when asked for.
CORE_SERVICES = ("postgres", "s3", "kafka")
OPTIONAL_SERVICES = ("flink", "superset", "connect", "spark")


def service(cfg: StackConfig, name: str) -> Service:
    """The Service object for `name` (its module is infra/stack/services/<name>.py)."""
    module = importlib.import_module(f"infra.stack.services.{name}")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Service) and obj is not Service and obj.name == name
    ]
    if len(classes) != 1:
        raise StackError(f"{name}: expected one Service class named {name!r} in {module.__name__}")
    return classes[0](cfg)


def selected(extra: tuple[str, ...] = ()) -> list[str]:
    """Core services plus the optional ones asked for, in start order."""
    unknown = [n for n in extra if n not in OPTIONAL_SERVICES]
    if unknown:
        raise StackError(f"unknown optional service(s) {unknown}; choose from {list(OPTIONAL_SERVICES)}")
    return list(CORE_SERVICES) + [n for n in OPTIONAL_SERVICES if n in extra]


@dataclass
class Row:
    """One line of the status table."""

    service: str
    address: str
    pids: str
    healthy: bool


def _pids(cfg: StackConfig, svc: Service) -> list[int]:
    try:
        specs = svc.processes()
    except Exception:  # not installed yet: nothing of it can be running
        return []
    return [pid for spec in specs if (pid := proc.running_pid(cfg, spec.name)) is not None]


def _safe_healthy(svc: Service) -> bool:
    try:
        return svc.healthy()
    except Exception:  # a health probe that raises is simply "not healthy"
        return False


def _safe_stale(svc: Service) -> bool:
    try:
        return svc.stale()
    except Exception:  # cannot tell: leave a healthy service running
        return False


def _fail(cfg: StackConfig, svc: Service, why: str) -> StackError:
    tails = []
    for spec in svc.processes():
        path = proc.log_file(cfg, spec.name)
        tails.append(f"--- last lines of {path} ---\n{proc.tail(path, 25)}")
    return StackError(f"{svc.name}: {why}\n" + "\n".join(tails))


def _start(cfg: StackConfig, svc: Service) -> None:
    specs = svc.processes()
    ours = [proc.running_pid(cfg, s.name) for s in specs]
    if all(ours) and _safe_healthy(svc) and not _safe_stale(svc):
        return  # already up, started by us, with the settings it has now
    for spec, pid in zip(specs, ours, strict=False):
        if pid:
            proc.stop(cfg, spec.name)  # half-started earlier: start clean
    for host, port in svc.ports():
        if port_open(host, port):
            raise StackError(
                f"{svc.name}: port {host}:{port} is already in use by a process the launcher did not start; "
                f"stop it or choose another port (see .env.example)"
            )
    svc.prepare()
    started = {spec.name: proc.start(cfg, spec) for spec in specs}
    deadline = time.monotonic() + svc.health_timeout
    while not _safe_healthy(svc):
        dead = [name for name, process in started.items() if process.poll() is not None]
        if dead:
            raise _fail(cfg, svc, f"process {', '.join(dead)} exited during start-up")
        if time.monotonic() > deadline:
            raise _fail(cfg, svc, f"not healthy after {svc.health_timeout:.0f}s")
        time.sleep(0.5)


def up(cfg: StackConfig, extra: tuple[str, ...] = (), log=print) -> list[Row]:
    """Install what is missing (in parallel), start each service, wait for health, bootstrap it."""
    services = [service(cfg, n) for n in selected(extra)]
    started = time.monotonic()
    log(
        f"installing what is missing under {cfg.downloads} (the first time this downloads Kafka and Flink "
        "and builds the object store: a few minutes)"
    )
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        futures = {svc.name: pool.submit(svc.install) for svc in services}
        for name, future in futures.items():
            try:
                future.result()
            except StackError:
                raise
            except Exception as exc:
                raise StackError(f"{name}: install failed: {exc}") from exc
    log(f"installed in {time.monotonic() - started:.1f}s")
    for svc in services:
        t0 = time.monotonic()
        start_service(cfg, svc)
        log(f"{svc.name} up in {time.monotonic() - t0:.1f}s")
    return status(cfg)


def start_service(cfg: StackConfig, svc: Service) -> None:
    """Start one (installed) service unless it already runs healthy, then bootstrap it."""
    _start(cfg, svc)
    try:
        svc.bootstrap()
    except StackError:
        raise
    except Exception as exc:
        raise _fail(cfg, svc, f"bootstrap failed: {exc}") from exc


def stop_service(cfg: StackConfig, name: str) -> list[str]:
    """Stop the processes of one service; return their names."""
    return [spec.name for spec in reversed(service(cfg, name).processes()) if proc.stop(cfg, spec.name)]


def down(cfg: StackConfig) -> list[str]:
    """Stop every process the launcher started (and only those), newest first; return their names."""
    return [name for name in proc.recorded(cfg) if proc.stop(cfg, name)]


def status(cfg: StackConfig) -> list[Row]:
    """One row per service that is configured or running."""
    rows = []
    for name in list(CORE_SERVICES) + list(OPTIONAL_SERVICES):
        svc = service(cfg, name)
        pids = _pids(cfg, svc)
        if svc.daemon:
            if name in OPTIONAL_SERVICES and not pids:
                continue
            rows.append(Row(name, svc.address(), ",".join(map(str, pids)) or "-", bool(pids) and _safe_healthy(svc)))
        elif _safe_healthy(svc):  # nothing runs until asked (Spark's drivers): listed once installed and usable
            rows.append(Row(name, svc.address(), "-", True))
    return rows


def format_table(rows: list[Row]) -> str:
    """Rows as an aligned plain-text table."""
    header = ("SERVICE", "ADDRESS", "PID", "HEALTHY")
    cells = [header] + [(r.service, r.address, r.pids, "yes" if r.healthy else "NO") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip() for c in cells)
