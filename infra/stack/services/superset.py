"""Apache Superset (optional, `lakehouse up --with superset`): the dashboard server on SUPERSET_URL.

PyPI's apache-superset (infra/superset/requirements.txt pins it) goes into its own virtual environment under
downloads/superset, so its pins never meet the platform's. Its metadata database is `superset` on the stack's
Postgres, owned by PG_URL's role (docs/decisions.md says why), created, migrated and given the admin user by
prepare() once Postgres is up; the server is gunicorn, which Superset depends on, run in the foreground as
`python -m gunicorn` so the recorded pid is the server's own.

Secrets (the admin password, the secret key, the metadata URI with PG_URL's password) reach Superset's processes
only through their environment, never their argv; the files that hold or derive from them are 0600 in a 0700
folder.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from psycopg import sql

from infra.stack.commands import install_requirements, run_command
from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service, http_get
from infra.stack.services.postgres import Postgres
from resources.settings import setting

SUPERSET_FILES = REPO_ROOT / "infra" / "superset"
REQUIREMENTS = SUPERSET_FILES / "requirements.txt"
CONFIG = SUPERSET_FILES / "superset_config.py"
SET_ADMIN = SUPERSET_FILES / "set_admin.py"
METADATA_DB = "superset"


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("superset", argv, what, **kwargs)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner only (also when the file already existed)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)


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

    def dir(self, kind: str) -> Path:
        """As Service.dir; the data folder (secret key, fingerprints of credentials) is the owner's only."""
        path = super().dir(kind)
        if kind == "data":
            path.chmod(0o700)
        return path

    def venv(self) -> Path:
        """Superset's own virtual environment."""
        return self.cfg.downloads / self.name / "venv"

    def python(self) -> Path:
        """The interpreter of that environment."""
        return self.venv() / "bin" / "python"

    def install(self) -> None:
        """Install the pinned packages once (again when requirements.txt changes)."""
        installed = self.dir("downloads") / ".installed"
        fingerprint = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
        if not (installed.exists() and installed.read_text() == fingerprint):
            install_requirements("superset", self.venv(), REQUIREMENTS)
            installed.write_text(fingerprint)

    def prepare(self) -> None:
        """Create the metadata database if missing; migrate it when the release changed; create the admin user
        (or reset its password) when the credentials changed."""
        postgres = Postgres(self.cfg)
        owner = sql.Identifier(postgres.login()["user"])
        migrated, admin = self.dir("data") / ".migrated", self.dir("data") / ".admin"
        with postgres.superuser() as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (METADATA_DB,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(METADATA_DB), owner))
                migrated.unlink(missing_ok=True)
                admin.unlink(missing_ok=True)
        if not (migrated.exists() and migrated.read_text() == self.fingerprint(self.metadata_uri())):
            self._superset(["db", "upgrade"], "migrate the metadata database")
            self._superset(["init"], "create the default roles and permissions")
            write_private(migrated, self.fingerprint(self.metadata_uri()))
        user, password = setting("SUPERSET_ADMIN_USER"), setting("SUPERSET_ADMIN_PASSWORD")
        if not (admin.exists() and admin.read_text() == self.fingerprint(f"{user}\0{password}")):
            self.set_admin(user, password)
            write_private(admin, self.fingerprint(f"{user}\0{password}"))

    def fingerprint(self, extra: str) -> str:
        """An HMAC (keyed by the secret key, so no credential can be read back) of requirements.txt and `extra`."""
        return hmac.new(self.secret_key().encode(), REQUIREMENTS.read_bytes() + extra.encode(), "sha256").hexdigest()

    def metadata_uri(self) -> str:
        """PG_URL's role and server, database `superset`, as a SQLAlchemy URI."""
        postgres = Postgres(self.cfg)
        (host, port), login = postgres.host_port(), postgres.login()
        credentials = f"{quote(login['user'], safe='')}:{quote(login['password'], safe='')}"
        return f"postgresql://{credentials}@{host}:{port}/{METADATA_DB}"

    def set_admin(self, user: str, password: str) -> None:
        """Create the admin user `user`, or set its password, through Superset's Python API (set_admin.py): the
        password goes in the environment, where `superset fab create-admin --password` would show it in argv."""
        run(
            [str(self.python()), str(SET_ADMIN)],
            f"create the admin user {user} or set its password",
            env={**os.environ, **self.env(), "SUPERSET_ADMIN_USER": user, "SUPERSET_ADMIN_PASSWORD": password},
        )

    def _superset(self, args: list[str], what: str) -> str:
        return run([str(self.venv() / "bin" / "superset"), *args], what, env={**os.environ, **self.env()})

    def secret_key(self) -> str:
        """SUPERSET_SECRET_KEY, else one generated at the first install and kept (mode 0600) under data/superset."""
        if setting("SUPERSET_SECRET_KEY"):
            return setting("SUPERSET_SECRET_KEY")
        path = self.dir("data") / "secret_key"
        if not (path.exists() and path.read_text().strip()):
            write_private(path, secrets.token_urlsafe(48))
        path.chmod(0o600)  # also a key kept from before the launcher wrote it private
        return path.read_text().strip()

    def env(self) -> dict[str, str]:
        """What Superset's configuration (infra/superset/superset_config.py) reads."""
        return {
            "SUPERSET_CONFIG_PATH": str(CONFIG),
            "SUPERSET_SECRET_KEY": self.secret_key(),
            "SUPERSET_METADATA_URI": self.metadata_uri(),
            "SCARF_ANALYTICS": "false",
        }

    def processes(self) -> list[ProcessSpec]:
        host, port = self.ports()[0]
        argv = [
            str(self.python()),
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--timeout",
            "120",
            # gunicorn drops idle keep-alive connections after 2 s by default, racing clients that pause.
            "--keep-alive",
            "65",
            "--no-control-socket",
            "superset.app:create_app()",
        ]
        return [ProcessSpec(name="superset", argv=argv, env=self.env(), cwd=self.dir("data"))]

    def healthy(self) -> bool:
        """/health answers OK."""
        return (http_get(self.url() + "/health") or b"").strip() == b"OK"
