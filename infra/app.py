"""`lakehouse app`: the application whose database the platform captures (change data capture, docs/cdc.md).

An order service in miniature: it inserts orders into `app.orders` of the application database (SHOP_DATABASE,
default `shop`, on the stack's Postgres), moves them through their statuses with UPDATEs, deletes a few, and now
and then commits several changes in one transaction — the row changes Debezium turns into c/u/d events on
`dbserver1.app.orders`. prepare_database() creates that database the way an application's DBA would: the table
with REPLICA IDENTITY FULL (updates and deletes carry their before-image), a publication of just that table, and
a CDC role that may log in, replicate, and read that table, and nothing else.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from resources.redact import redact
from resources.settings import setting

STATUSES = ("created", "paid", "shipped", "cancelled")
NEXT_STATUS = {"created": "paid", "paid": "shipped"}  # shipped and cancelled are final
CURRENCIES = ("VND", "USD", "EUR")
PUBLICATION = "cdc_shop_orders"  # what the connector reads (assets/cdc/connector.py names it too)
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS app.orders (
    order_id    text PRIMARY KEY,
    customer_id text NOT NULL,
    status      text NOT NULL CHECK (status IN ('created', 'paid', 'shipped', 'cancelled')),
    amount      numeric(12, 2) NOT NULL,
    currency    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
)"""

Admin = Callable[[str], psycopg.Connection]  # database name -> an autocommit superuser connection


class AppError(RuntimeError):
    """The application cannot run: the message says why."""


def prepare_database(
    admin: Admin, dbname: str, owner: str, cdc_user: str, cdc_password: str, publication: str = PUBLICATION
) -> None:
    """Create (idempotently) the CDC role, the database `dbname` owned by `owner`, app.orders with REPLICA
    IDENTITY FULL, its publication, and the role's grants; an existing role gets `cdc_password` again."""
    ident = sql.Identifier
    with admin("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (cdc_user,)).fetchone()
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        # LOGIN and REPLICATION are what Debezium needs to open a logical replication stream; no other attribute.
        conn.execute(
            sql.SQL("{} ROLE {} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                verb, ident(cdc_user), sql.Literal(cdc_password)
            )
        )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident(dbname), ident(owner)))
    with admin(dbname) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION {}").format(ident(owner)))
        conn.execute(TABLE_DDL)
        conn.execute(sql.SQL("ALTER TABLE app.orders OWNER TO {}").format(ident(owner)))
        conn.execute("ALTER TABLE app.orders REPLICA IDENTITY FULL")
        if not conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,)).fetchone():
            conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE app.orders").format(ident(publication)))
        # The snapshot reads the table; streaming needs only the publication and the REPLICATION attribute.
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(ident(dbname), ident(cdc_user)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA app TO {}").format(ident(cdc_user)))
        conn.execute(sql.SQL("GRANT SELECT ON app.orders TO {}").format(ident(cdc_user)))


def shop_conninfo(pg_url: str | None = None, dbname: str | None = None) -> str:
    """PG_URL's role and server, the application database (SHOP_DATABASE)."""
    return make_conninfo(pg_url or setting("PG_URL"), dbname=dbname or setting("SHOP_DATABASE"))


@dataclass(frozen=True)
class AppSpec:
    """What the application does: changes per second, for how long, and its mix of changes."""

    rate: float = 5.0  # row changes per second; 0 = as fast as possible
    count: int | None = None  # stop after this many row changes (None: no limit)
    duration: float | None = None  # stop after this many seconds (None: no limit)
    seed: int = 7
    delete_fraction: float = 0.05  # of the changes, deletes
    multi_fraction: float = 0.1  # of the transactions, those committing several changes at once


@dataclass
class AppReport:
    """What the application committed, by kind."""

    counts: Counter = field(default_factory=Counter)
    elapsed: float = 0.0

    def summary(self) -> dict:
        """A JSON-friendly summary: inserts, updates, deletes, transactions, multi_change_transactions."""
        keys = ("inserts", "updates", "deletes", "transactions", "multi_change_transactions")
        return {
            **{k: self.counts[k] for k in keys},
            "changes": sum(self.counts[k] for k in keys[:3]),
            "elapsed_s": round(self.elapsed, 1),
        }


class _Shop:
    """The application's own memory of its open orders, and the SQL of each change."""

    def __init__(self, conn: psycopg.Connection, rng: random.Random) -> None:
        self.conn, self.rng = conn, rng
        rows = conn.execute("SELECT order_id, status FROM app.orders ORDER BY updated_at DESC LIMIT 5000").fetchall()
        self.open = [(oid, status) for oid, status in rows if status in NEXT_STATUS]
        self.closed = [oid for oid, status in rows if status not in NEXT_STATUS]

    def change(self, spec: AppSpec, report: AppReport) -> None:
        """One row change inside the current transaction."""
        roll = self.rng.random()
        if roll < spec.delete_fraction and (self.closed or self.open):
            oid = self._forget_one()
            # rowcount: another writer may have deleted it first; only what this one changed is reported.
            report.counts["deletes"] += self.conn.execute("DELETE FROM app.orders WHERE order_id = %s", (oid,)).rowcount
        elif self.open and roll < 0.6:
            idx = self.rng.randrange(len(self.open))
            oid, status = self.open[idx]
            new = "cancelled" if self.rng.random() < 0.1 else NEXT_STATUS[status]
            report.counts["updates"] += self.conn.execute(
                "UPDATE app.orders SET status = %s, updated_at = now() WHERE order_id = %s", (new, oid)
            ).rowcount
            if new in NEXT_STATUS:
                self.open[idx] = (oid, new)
            else:
                self.open.pop(idx)
                self.closed.append(oid)
        else:
            oid = f"o-{uuid.uuid4().hex[:12]}"  # new on every run: the table keeps the rows of earlier runs
            self.conn.execute(
                "INSERT INTO app.orders (order_id, customer_id, status, amount, currency) VALUES (%s, %s, %s, %s, %s)",
                (
                    oid,
                    f"c-{self.rng.randint(1, 5000):05d}",
                    "created",
                    round(self.rng.uniform(5, 500), 2),
                    self.rng.choice(CURRENCIES),
                ),
            )
            self.open.append((oid, "created"))
            report.counts["inserts"] += 1

    def _forget_one(self) -> str:
        """An order to delete: a finished one when there is one (as a purge would), else an open one."""
        pool = self.closed or self.open
        item = pool.pop(self.rng.randrange(len(pool)))
        return item if isinstance(item, str) else item[0]


def run(conninfo: str, spec: AppSpec) -> AppReport:
    """Commit changes at `spec.rate` until its count or duration is reached (or Ctrl-C); report what was done."""
    rng, report = random.Random(spec.seed), AppReport()
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise AppError(
            f"the application database is unreachable ({redact(str(exc), [conninfo])}); `lakehouse up` creates it"
        ) from None
    began = time.monotonic()
    done = 0
    with conn:
        try:
            shop = _Shop(conn, rng)
            conn.commit()
        except psycopg.errors.UndefinedTable:
            raise AppError("app.orders does not exist in the application database; `lakehouse up` creates it") from None
        try:
            while spec.count is None or done < spec.count:
                if spec.duration is not None and time.monotonic() - began >= spec.duration:
                    break
                size = rng.randint(2, 5) if rng.random() < spec.multi_fraction else 1
                if spec.count is not None:
                    size = min(size, spec.count - done)
                if spec.rate > 0 and (delay := began + done / spec.rate - time.monotonic()) > 0:
                    time.sleep(delay)
                with conn.transaction():
                    for _ in range(size):
                        shop.change(spec, report)
                done += size
                report.counts["transactions"] += 1
                report.counts["multi_change_transactions"] += size > 1
        except KeyboardInterrupt:
            pass  # what was committed is reported
    report.elapsed = time.monotonic() - began
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `lakehouse app` options."""
    parser.add_argument("--rate", type=float, default=5.0, help="row changes per second; 0 = as fast as possible")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--duration", type=float, help="seconds to run (default: until interrupted)")
    group.add_argument("--count", type=int, help="row changes to commit, then stop")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="reproduce a run's mix of changes; order ids are new every run (default: a new seed)",
    )
    parser.add_argument("--delete-fraction", type=float, default=0.05, help="of the changes, deletes")
    parser.add_argument(
        "--multi-fraction", type=float, default=0.1, help="of the transactions, those committing 2 to 5 changes at once"
    )
    parser.set_defaults(func=_cmd_app)


def _cmd_app(cfg, args: argparse.Namespace) -> int:
    for name in ("delete_fraction", "multi_fraction"):
        if not 0 <= getattr(args, name) <= 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be between 0 and 1")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"lakehouse app: seed {seed}, database {setting('SHOP_DATABASE')}", file=sys.stderr)
    spec = AppSpec(
        rate=args.rate,
        count=args.count,
        duration=args.duration,
        seed=seed,
        delete_fraction=args.delete_fraction,
        multi_fraction=args.multi_fraction,
    )
    try:
        report = run(shop_conninfo(cfg.pg_url), spec)
    except AppError as exc:
        print(f"lakehouse app: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.summary()))
    return 0
