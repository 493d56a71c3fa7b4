"""PostgreSQL from Debian's packages, one cluster under <data>/postgres run as the `postgres` OS user.

Trust authentication on the Unix socket (in a 0700 folder only root and postgres can reach), SCRAM passwords
over TCP. bootstrap() creates PG_URL's role and database plus the `dagster` database, then applies the schema
migrations (resources/migrations.py) as that role.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from infra.app import prepare_database
from infra.stack.commands import run_command
from infra.stack.config import host_port
from infra.stack.service import ProcessSpec, Service, StackError
from resources.migrations import apply_migrations
from resources.settings import setting

OS_USER = "postgres"
SUPERUSER = "postgres"
DAGSTER_DB = "dagster"  # Dagster's run, event-log and schedule storage
PG_LIB = Path("/usr/lib/postgresql")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
SOCKET_PATH_MAX = 107  # sun_path limit, including the socket's file name
# Server options beyond the defaults. wal_level=logical: Debezium reads the application database's changes through
# logical decoding (docs/cdc.md); it takes a restart, which `up` does once for a server started without it.
SERVER_SETTINGS = {"wal_level": "logical"}


def as_os_user() -> dict[str, object]:
    """subprocess arguments that run a command as the postgres OS user, with its own groups only."""
    return {"user": OS_USER, "group": pwd.getpwnam(OS_USER).pw_gid, "extra_groups": []}


def server_versions() -> dict[int, Path]:
    """Installed PostgreSQL servers: major version -> bin folder."""
    found = {}
    for bindir in PG_LIB.glob("*/bin"):
        if bindir.parent.name.isdigit() and (bindir / "postgres").exists() and (bindir / "initdb").exists():
            found[int(bindir.parent.name)] = bindir
    return found


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("postgres", argv, what, **kwargs)


class Postgres(Service):
    """The platform's Postgres: gold tables, dashboard views and Dagster's storage."""

    name = "postgres"

    def address(self) -> str:
        (host, port), login = self.host_port(), self.login()
        return f"postgresql://{login['user']}@{host}:{port}/{login['dbname']}"

    def ports(self) -> list[tuple[str, int]]:
        return [self.host_port()]

    def host_port(self) -> tuple[str, int]:
        """Where the server listens for TCP clients (PG_URL's host and port)."""
        return host_port(self.cfg.pg_url, 5432)

    def login(self) -> dict[str, str]:
        """PG_URL's user, password and dbname (defaults de_user / de_pass / de_db come from PG_URL's default)."""
        parts = conninfo_to_dict(self.cfg.pg_url)
        missing = [k for k in ("user", "password", "dbname") if not parts.get(k)]
        if missing:
            raise StackError(
                f"postgres: PG_URL must name a {', '.join(missing)} (postgresql://USER:PASSWORD@HOST:PORT/DB)"
            )
        return {k: str(parts[k]) for k in ("user", "password", "dbname")}

    def cluster(self) -> Path:
        """The data directory (PGDATA)."""
        return self.cfg.data / self.name / "pgdata"

    def sockets(self) -> Path:
        """The Unix socket folder."""
        return self.cfg.data / self.name / "run"

    def bindir(self) -> Path:
        """The server binaries: the cluster's own major version once it exists, else the newest installed."""
        versions = server_versions()
        version_file = self.cluster() / "PG_VERSION"
        if version_file.exists():
            major = int(version_file.read_text().strip())
            if major not in versions:
                raise StackError(
                    f"postgres: the cluster in {self.cluster()} was created by PostgreSQL {major}, which is not "
                    f"installed (found {sorted(versions) or 'none'}); apt-get install postgresql-{major}, "
                    f"or delete {self.cluster()} to start afresh"
                )
            return versions[major]
        if not versions:
            raise StackError(f"postgres: no PostgreSQL server found under {PG_LIB} (run `lakehouse up` to install it)")
        return versions[max(versions)]

    def install(self) -> None:
        """Install Debian's postgresql if no server is present, create the OS user and the cluster once."""
        if not server_versions():
            self._apt_install()
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
                "create the postgres OS user",
            )
        root, sockets = self.dir("data"), self.sockets()
        _check_reachable(root)
        if len(str(sockets / ".s.PGSQL.65535")) > SOCKET_PATH_MAX:
            raise StackError(f"postgres: {sockets} is too long a path for a Unix socket; use a shorter LAKEHOUSE_HOME")
        sockets.mkdir(exist_ok=True)
        for path in (root, sockets):
            shutil.chown(path, OS_USER, OS_USER)
            path.chmod(0o700)
        if not (self.cluster() / "PG_VERSION").exists():
            self._initdb()

    def _apt_install(self) -> None:
        if os.geteuid() != 0:
            raise StackError("postgres: no PostgreSQL server installed; run `apt-get install postgresql` as root")
        run(["apt-get", "update"], "refresh the apt package lists", env=APT_ENV)
        run(["apt-get", "install", "-y", "postgresql-common"], "install postgresql-common", env=APT_ENV)
        # Keep the package from creating and starting its own cluster on our port.
        run(
            ["pg_conftool", "/etc/postgresql-common/createcluster.conf", "set", "create_main_cluster", "false"],
            "disable the package's default cluster",
        )
        run(["apt-get", "install", "-y", "postgresql"], "install postgresql", env=APT_ENV)

    def _initdb(self) -> None:
        """initdb into a scratch folder renamed into place, so an interrupted run never leaves half a cluster."""
        cluster, scratch = self.cluster(), self.cluster().with_name("pgdata.partial")
        shutil.rmtree(scratch, ignore_errors=True)
        run(
            [
                str(self.bindir() / "initdb"),
                "-D",
                str(scratch),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
            ],
            f"create the database cluster (the {OS_USER} OS user must be able to reach {scratch.parent})",
            cwd=scratch.parent,
            **as_os_user(),
        )
        shutil.rmtree(cluster, ignore_errors=True)
        scratch.rename(cluster)

    def processes(self) -> list[ProcessSpec]:
        host, port = self.host_port()
        settings = [arg for key, value in SERVER_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        argv = [
            str(self.bindir() / "postgres"),
            "-D",
            str(self.cluster()),
            "-c",
            f"listen_addresses={host}",
            *settings,
            "-p",
            str(port),
            "-k",
            str(self.sockets()),
        ]
        # SIGINT is Postgres's "fast" shutdown: it ends client sessions (Dagster keeps some open) and checkpoints.
        return [
            ProcessSpec(
                name="postgres", argv=argv, cwd=self.cfg.data / self.name, user=OS_USER, stop_signal=signal.SIGINT
            )
        ]

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit connection as the superuser over the Unix socket."""
        return psycopg.connect(
            host=str(self.sockets()),
            port=self.host_port()[1],
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=3,
        )

    def healthy(self) -> bool:
        try:
            with self.superuser() as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def stale(self) -> bool:
        """The server runs without one of SERVER_SETTINGS (started before it was added): up restarts it."""
        with self.superuser() as conn:
            return any(
                conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(key))).fetchone()[0] != value
                for key, value in SERVER_SETTINGS.items()
            )

    def bootstrap(self) -> None:
        """Create (or update the password of) PG_URL's role, its database and `dagster`; apply the migrations;
        create the application database that change data capture reads (infra/app.py)."""
        login = self.login()
        role = sql.Identifier(login["user"])
        with self.superuser() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login["user"],)).fetchone()
            verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
            conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, role, sql.Literal(login["password"])))
            for dbname in (login["dbname"], DAGSTER_DB):
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), role))
                # Only the owner may connect: the CDC role (a REPLICATION role) must not decode the lake's databases.
                conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
        apply_migrations(self.cfg.pg_url)
        prepare_database(
            self.superuser, setting("SHOP_DATABASE"), login["user"], setting("CDC_PG_USER"), setting("CDC_PG_PASSWORD")
        )


def _check_reachable(path: Path) -> None:
    """The postgres user must be able to enter every folder above its data folder."""
    for parent in path.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise StackError(
                f"postgres: the {OS_USER} user cannot enter {parent} (mode {oct(parent.stat().st_mode & 0o777)}), "
                f"so it cannot reach {path}; run `chmod o+x {parent}` or set LAKEHOUSE_HOME to a folder it can reach"
            )
