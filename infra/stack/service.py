"""The contract every service of the local stack fulfils."""

from __future__ import annotations

import abc
import signal
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.stack.config import StackConfig


class StackError(RuntimeError):
    """A service could not be installed or started; the message says which and why."""


@dataclass(frozen=True)
class ProcessSpec:
    """One long-running process of a service, run in the foreground under the launcher's control."""

    name: str  # unique in the stack, e.g. "kafka", "flink-jobmanager"; names the log and pid files
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the launcher's environment
    cwd: Path | None = None
    user: str | None = None  # run as this user (Postgres refuses root)
    stop_signal: int = signal.SIGTERM  # what asks this program for a clean shutdown


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# Health checks talk to 127.0.0.1: never through a proxy the environment may name.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 2.0) -> bytes | None:
    """The body of a 200 answer from a local URL, or None (no answer, another status)."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return response.read() if response.status == 200 else None
    except OSError:
        return None


class Service(abc.ABC):
    """A real service started as local processes: install, start, check health, bootstrap."""

    name: str = ""
    health_timeout: float = 90.0  # seconds to wait for healthy() after start
    daemon: bool = True  # False: no long-running process of its own (healthy = installed and usable)

    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg

    @abc.abstractmethod
    def address(self) -> str:
        """How clients reach the service, for the status table."""

    @abc.abstractmethod
    def ports(self) -> list[tuple[str, int]]:
        """(host, port) pairs the service listens on; they must be free before it starts."""

    @abc.abstractmethod
    def install(self) -> None:
        """Fetch and prepare whatever is missing under cfg.downloads / cfg.data. Idempotent and fast when done."""

    @abc.abstractmethod
    def processes(self) -> list[ProcessSpec]:
        """The processes to start, in order."""

    @abc.abstractmethod
    def healthy(self) -> bool:
        """A quick real check that the service answers (not just that a port is open, where possible)."""

    def stale(self) -> bool:
        """True when the running service lacks a setting it has now (a server option added since it started):
        `up` then restarts it. Asked only of a healthy service."""
        return False

    def prepare(self) -> None:  # noqa: B027 (an optional hook: most services need nothing)
        """Get ready to start, once the services before it are up (e.g. migrate a metadata database). Idempotent."""

    def bootstrap(self) -> None:  # noqa: B027 (an optional hook)
        """Create what the platform expects (topics, bucket, roles...). Idempotent. Runs once healthy."""

    def dir(self, kind: str) -> Path:
        """This service's folder under downloads/ or data/, created on demand."""
        base = {"downloads": self.cfg.downloads, "data": self.cfg.data}[kind]
        path = base / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path
