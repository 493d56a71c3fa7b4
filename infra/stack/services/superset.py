"""Apache Superset (optional, `lakehouse up --with superset`): the dashboard server on SUPERSET_URL.

PyPI's apache-superset (infra/superset/requirements.txt pins it) goes into its own virtual environment under
downloads/superset, so its pins never meet the platform's. Its metadata database is SQLite under data/superset
(docs/decisions.md says why), migrated and given the admin user at install time; the server is gunicorn, which
Superset depends on, run in the foreground as `python -m gunicorn` so the recorded pid is the server's own.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import urllib.request
from pathlib import Path

from infra.stack.commands import run_command
from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service
from resources.settings import setting

SUPERSET_FILES = REPO_ROOT / "infra" / "superset"
REQUIREMENTS = SUPERSET_FILES / "requirements.txt"
CONFIG = SUPERSET_FILES / "superset_config.py"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("superset", argv, what, **kwargs)


class Superset(Service):
    """Superset behind gunicorn; admin from SUPERSET_ADMIN_USER / SUPERSET_ADMIN_PASSWORD."""

    name = "superset"
    health_timeout = 180.0

    def url(self) -> str:
        """SUPERSET_URL without a trailing slash."""
        return setting("SUPERSET_URL").rstrip("/")

    def address(self) -> str:
        return f"{self.url()} (user {setting('SUPERSET_ADMIN_USER')})"

    def ports(self) -> list[tuple[str, int]]:
        return [host_port(self.url(), 8088)]

    def venv(self) -> Path:
        """Superset's own virtual environment."""
        return self.cfg.downloads / self.name / "venv"

    def python(self) -> Path:
        """The interpreter of that environment."""
        return self.venv() / "bin" / "python"

    def install(self) -> None:
        """Install the pinned packages (again when requirements.txt changes), then migrate the metadata
        database and create or update the admin user when the release or the credentials changed."""
        fingerprint = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
        installed = self.dir("downloads") / ".installed"
        if not (installed.exists() and installed.read_text() == fingerprint):
            self._install_packages()
            installed.write_text(fingerprint)
        migrated = self.dir("data") / ".migrated"
        if not (migrated.exists() and migrated.read_text() == fingerprint):
            self._superset(["db", "upgrade"], "migrate the metadata database")
            self._superset(["init"], "create the default roles and permissions")
            migrated.write_text(fingerprint)
        self._admin()

    def _install_packages(self) -> None:
        venv = self.venv()
        if not self.python().exists():
            run([sys.executable, "-m", "venv", "--clear", str(venv)], f"create the virtual environment {venv}")
        run([str(self.python()), "-m", "pip", "install", "-q", "--upgrade", "pip"], "upgrade pip")
        run([str(self.python()), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
            f"install the packages of {REQUIREMENTS} from PyPI")

    def _admin(self) -> None:
        """Create the admin user, or reset its password, when the credentials differ from the last run."""
        user, password = setting("SUPERSET_ADMIN_USER"), setting("SUPERSET_ADMIN_PASSWORD")
        stamp = self.dir("data") / ".admin"
        digest = hmac.new(self.secret_key().encode(), f"{user}\0{password}".encode(), "sha256").hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            return
        output = self._superset(
            ["fab", "create-admin", "--username", user, "--firstname", "Superset", "--lastname", "Admin",
             "--email", f"{user}@localhost", "--password", password],
            f"create the admin user {user}",
        )
        if "already exists" in output:
            self._superset(["fab", "reset-password", "--username", user, "--password", password],
                           f"set the password of the admin user {user}")
        stamp.write_text(digest)

    def _superset(self, args: list[str], what: str) -> str:
        return run([str(self.venv() / "bin" / "superset"), *args], what, env={**os.environ, **self.env()})

    def secret_key(self) -> str:
        """SUPERSET_SECRET_KEY, else one generated at the first install and kept (mode 0600) under data/superset."""
        if setting("SUPERSET_SECRET_KEY"):
            return setting("SUPERSET_SECRET_KEY")
        path = self.dir("data") / "secret_key"
        if not (path.exists() and path.read_text().strip()):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def env(self) -> dict[str, str]:
        """What Superset's configuration (infra/superset/superset_config.py) reads."""
        return {
            "SUPERSET_CONFIG_PATH": str(CONFIG),
            "SUPERSET_SECRET_KEY": self.secret_key(),
            "SUPERSET_METADATA_URI": f"sqlite:///{self.dir('data') / 'superset.db'}",
            "SCARF_ANALYTICS": "false",
        }

    def processes(self) -> list[ProcessSpec]:
        host, port = self.ports()[0]
        argv = [str(self.python()), "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "2",
                "--worker-class", "gthread", "--threads", "8", "--timeout", "120",
                "--no-control-socket", "superset.app:create_app()"]
        return [ProcessSpec(name="superset", argv=argv, env=self.env(), cwd=self.dir("data"))]

    def healthy(self) -> bool:
        """/health answers OK."""
        try:
            with NO_PROXY.open(self.url() + "/health", timeout=2) as response:
                return response.status == 200 and response.read().strip() == b"OK"
        except OSError:
            return False
