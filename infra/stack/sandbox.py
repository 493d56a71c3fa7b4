"""A throw-away bucket and database on the running stack, for tests and benchmarks that must not share
state (watermarks, consumed files) with the platform's own `lakehouse` bucket and `de_db`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from infra.stack import stack
from infra.stack.config import StackConfig
from resources.migrations import apply_migrations
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource


@contextmanager
def sandbox(
    cfg: StackConfig, store: ObjectStoreResource, postgres: PostgresResource, prefix: str = "sandbox"
) -> Iterator[tuple[ObjectStoreResource, PostgresResource]]:
    """Yield resources pointing at a new bucket and a new database owned by PG_URL's role; drop both after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    own_store = ObjectStoreResource(
        endpoint=store.endpoint,
        access_key=store.access_key,
        secret_key=store.secret_key,
        bucket=name.replace("_", "-"),
        region=store.region,
    )
    own_store.client().create_bucket(Bucket=own_store.bucket)
    pg = stack.service(cfg, "postgres")
    owner = pg.login()["user"]
    with pg.superuser() as conn:
        conn.execute(f'CREATE DATABASE {name} OWNER "{owner}"')
    try:
        own_postgres = PostgresResource(url=postgres.url.rsplit("/", 1)[0] + f"/{name}")
        apply_migrations(own_postgres.url)
        yield own_store, own_postgres
    finally:
        with pg.superuser() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        s3 = own_store.client()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=own_store.bucket):
            if page.get("Contents"):
                s3.delete_objects(
                    Bucket=own_store.bucket, Delete={"Objects": [{"Key": o["Key"]} for o in page["Contents"]]}
                )
        s3.delete_bucket(Bucket=own_store.bucket)
