"""The object store of the stack: a real S3 API, readable by boto3 and by DuckDB's httpfs."""

from __future__ import annotations

import json
import uuid

from resources import duckdb as lake_duckdb


def test_put_list_get_and_read_through_duckdb(resources):
    store = resources["object_store"]
    s3 = store.client()
    prefix = f"tests/object-store/{uuid.uuid4().hex}"
    rows = [{"event_id": f"e{i}", "amount": i * 1.5, "note": "xin chào"} for i in range(5)]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    s3.put_object(Bucket=store.bucket, Key=f"{prefix}/part-0.jsonl", Body=body)
    s3.put_object(Bucket=store.bucket, Key=f"{prefix}/part-1.jsonl", Body=body)

    listed = s3.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == [f"{prefix}/part-0.jsonl", f"{prefix}/part-1.jsonl"]
    assert s3.get_object(Bucket=store.bucket, Key=f"{prefix}/part-0.jsonl")["Body"].read() == body

    con = lake_duckdb.connect(store)
    text = con.execute("SELECT content FROM read_text(?)", [store.uri(f"{prefix}/part-0.jsonl")]).fetchone()[0]
    assert text.encode() == body
    got = con.execute(
        "SELECT event_id, amount, note FROM read_json(?, format='newline_delimited') ORDER BY event_id",
        [store.uri(f"{prefix}/*.jsonl")],
    ).fetchall()
    assert got == sorted([(r["event_id"], r["amount"], r["note"]) for r in rows] * 2)


def test_duckdb_writes_parquet_that_boto3_sees(resources):
    store = resources["object_store"]
    prefix = f"tests/object-store/{uuid.uuid4().hex}"
    con = lake_duckdb.connect(store)
    con.execute(
        f"COPY (SELECT range AS id, range % 3 AS bucket FROM range(1000)) "
        f"TO '{store.uri(prefix)}' (FORMAT parquet, PARTITION_BY (bucket))"
    )
    keys = [o["Key"] for o in store.client().list_objects_v2(Bucket=store.bucket, Prefix=prefix)["Contents"]]
    assert {k.split("/")[-2] for k in keys} == {"bucket=0", "bucket=1", "bucket=2"}
    total = con.execute(f"SELECT count(*), sum(id) FROM read_parquet('{store.uri(prefix)}/**/*.parquet')").fetchone()
    assert total == (1000, sum(range(1000)))
