"""No secret where it should not be (issue 10): not in a process's argv, not in a file others can read.

Every user of a machine can read every process's command line (/proc/<pid>/cmdline) and every file whose mode lets
them. The launcher hands secrets to processes through their environment (readable by their owner only) and keeps
the files that hold them 0600.

Development defaults (`admin`, `de_pass`, `minioadmin`) are public, so their presence proves nothing and they are
too common to search for; the checks search for the secrets a user set, the generated Superset secret key, and any
`user:password@` URL or `password=` option (resources/redact.py). Run this module against a stack started with
secrets of your own to check all of them.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from infra.stack import proc
from infra.stack.config import StackConfig
from infra.stack.services.postgres import Postgres
from infra.stack.services.superset import METADATA_DB, SET_ADMIN, Superset
from resources.redact import redact
from resources.settings import DEFAULTS, setting
from resources.superset import SupersetClient, SupersetError

PUBLIC = {
    DEFAULTS["S3_SECRET_KEY"],
    DEFAULTS["SUPERSET_ADMIN_PASSWORD"],
    unquote(urlsplit(DEFAULTS["PG_URL"]).password or ""),
}


def configured_secrets(cfg: StackConfig) -> list[str]:
    """The stack's secrets that are not public defaults: PG_URL's password, the S3 secret key, the Superset admin
    password and secret key."""
    values = [unquote(urlsplit(cfg.pg_url).password or ""), cfg.s3_secret_key, setting("SUPERSET_ADMIN_PASSWORD")]
    key = setting("SUPERSET_SECRET_KEY") or _read(cfg.data / "superset" / "secret_key").strip()
    return [v for v in [*values, key] if v and v not in PUBLIC]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ArgvWatcher:
    """Reads the command line of every process on the machine, over and over, while the `with` block runs."""

    def __init__(self, secret: str, marker: str) -> None:
        self.secret, self.marker = secret, marker
        self.leaks: set[str] = set()
        self.marked: set[str] = set()  # command lines containing `marker`: proves the watcher saw the process
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    line = _cmdline(entry.name)
                    if self.secret in line:
                        self.leaks.add(line)
                    if self.marker in line:
                        self.marked.add(line)
            self.sweeps += 1
            time.sleep(0.002)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def _delete_user(cfg: StackConfig, username: str) -> None:
    """Remove a test's Superset user and what its logins left in Superset's metadata database."""
    with Postgres(cfg).superuser(METADATA_DB) as conn:
        user = conn.execute("SELECT id FROM ab_user WHERE username = %s", (username,)).fetchone()
        if user:
            for table, column in (("logs", "user_id"), ("ab_user_role", "user_id"), ("ab_user", "id")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = %s", (user[0],))


@pytest.mark.superset
def test_superset_admin_password_reaches_superset_through_the_environment_never_argv(core_stack):
    cfg, service, url = core_stack, Superset(core_stack), setting("SUPERSET_URL")
    if not service.healthy():
        pytest.fail(f"superset is not healthy at {url} — run `lakehouse up --with superset`")
    username = f"test-admin-{uuid.uuid4().hex[:8]}"
    first, second = (f"pw-{uuid.uuid4().hex}" for _ in range(2))
    try:
        for password in (first, second):  # creates the user, then resets its password
            with ArgvWatcher(password, str(SET_ADMIN)) as watcher:
                service.set_admin(username, password)
            assert watcher.marked, f"the watcher never saw set_admin.py run ({watcher.sweeps} sweeps of /proc)"
            assert not watcher.leaks, f"the password was in a command line: {watcher.leaks}"
        SupersetClient(url, 30).login(username, second)  # Superset took the password from the environment
        with pytest.raises(SupersetError, match="refused the credentials"):
            SupersetClient(url, 30).login(username, first)
    finally:
        _delete_user(cfg, username)


def _stack_pids(cfg: StackConfig) -> dict[str, list[int]]:
    """Every live process of the stack (each started process's whole process group), by service process name."""
    groups = {name: pid for name in proc.recorded(cfg) if (pid := proc.running_pid(cfg, name))}
    found: dict[str, list[int]] = {name: [] for name in groups}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                group = os.getpgid(int(entry.name))
            except ProcessLookupError:
                continue
            for name, pid in groups.items():
                if group == pid:
                    found[name].append(int(entry.name))
    return found


def test_no_process_of_the_stack_has_a_secret_in_its_command_line(core_stack):
    secrets = configured_secrets(core_stack)
    processes = _stack_pids(core_stack)
    assert processes and all(processes.values()), f"no running process found for some of {processes}"
    leaks = {}
    for name, pids in processes.items():
        for pid in pids:
            line = _cmdline(str(pid))
            if redact(line, secrets) != line:
                leaks[f"{name} (pid {pid})"] = redact(line, secrets)
    assert not leaks, f"secrets (masked here) in the command lines of: {leaks}"


def _private(path: Path) -> bool:
    return path.stat().st_mode & 0o077 == 0


def _readable_by_others(cfg: StackConfig, limit: int = 64 << 20):
    """(path, content) of every file of the stack others may read, but Postgres's data (it keeps that 0700
    itself) and the downloaded software."""
    pruned = {cfg.downloads, cfg.data / "postgres"}
    for folder, subfolders, files in os.walk(cfg.home):
        subfolders[:] = [d for d in subfolders if Path(folder, d) not in pruned]
        for name in files:
            path = Path(folder, name)
            try:
                if path.is_symlink() or _private(path) or path.stat().st_size > limit:
                    continue
                yield path, path.read_bytes()
            except FileNotFoundError:  # a service removed it meanwhile (segments, temporary files)
                continue


def test_files_holding_secrets_are_readable_by_their_owner_only(core_stack):
    cfg = core_stack
    logs = sorted(cfg.logs.glob("*.log"))
    assert logs, f"no launcher log under {cfg.logs}"
    assert [p.name for p in logs if not _private(p)] == [], "launcher logs others can read"
    superset = cfg.data / "superset"
    if superset.exists():
        assert _private(superset), f"{superset} is {oct(superset.stat().st_mode & 0o777)}"
        key = superset / "secret_key"
        assert not key.exists() or _private(key), f"{key} is {oct(key.stat().st_mode & 0o777)}"
    secrets = [s.encode() for s in configured_secrets(cfg)]
    exposed = [
        f"{path} ({oct(path.stat().st_mode & 0o777)})"
        for path, content in _readable_by_others(cfg)
        if any(secret in content for secret in secrets)
    ]
    assert not exposed, f"files holding a secret that others can read: {exposed}"
