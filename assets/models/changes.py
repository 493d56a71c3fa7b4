"""Apply a change log to a mirror table: the `changes` materialization (docs/cdc.md).

The model's SQL gives, per key, the newest change of the batch: the mirror's columns plus `op` (r, c, u or d),
the position columns (`position`, compared in order: the WAL position, then the transaction) and `committed_at`
(the source's commit time). In ONE Postgres transaction the runner keeps only the changes newer than what the
mirror holds for their key (its row, or the position of its delete in `deletes_table`), applies them, measures
their lag and records the batch. So a change applies once and in order per key, whichever batch brings it:
a batch run again, or a duplicate Connect sent again after a crash, finds nothing newer and changes nothing, and
an older change cannot bring a deleted row back.
"""

from __future__ import annotations

import duckdb

from assets.models.project import Model


def run_changes(runner, model: Model, con: duckdb.DuckDBPyConnection, result) -> None:
    """Apply the table `batch` (the model's rows for this batch) to the mirror; fill `result`."""
    key, deletes, mirror = model.config["unique_key"], model.config["deletes_table"], model.relation
    position = list(model.config["position"])
    columns = [c[0] for c in con.execute("SELECT * FROM batch LIMIT 0").description]
    rows = con.execute("SELECT * FROM batch").fetchall()
    names = ", ".join(columns)
    kept = ", ".join([key, *position, "committed_at"])  # what a delete keeps

    def newer(a: str, b: str) -> str:
        return f"({', '.join(f'{a}.{c}' for c in position)}) > ({', '.join(f'{b}.{c}' for c in position)})"

    with runner.postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT {names} FROM {mirror} WITH NO DATA")
        with cur.copy(f"COPY incoming ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for held in (mirror, deletes):  # what is not newer than the mirror's row or the key's delete: already applied
            cur.execute(f"DELETE FROM incoming i USING {held} h WHERE h.{key} = i.{key} AND NOT {newer('i', 'h')}")
        cur.execute(f"DELETE FROM {mirror} m USING incoming i WHERE m.{key} = i.{key} AND i.op = 'd'")
        cur.execute(
            f"INSERT INTO {deletes} ({kept}, applied_at) SELECT {kept}, clock_timestamp() FROM incoming "
            f"WHERE op = 'd' ON CONFLICT ({key}) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in [*position, "committed_at", "applied_at"])
        )
        cur.execute(f"DELETE FROM {deletes} d USING incoming i WHERE d.{key} = i.{key} AND i.op <> 'd'")
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
        cur.execute(
            f"INSERT INTO {mirror} ({names}, applied_at) SELECT {names}, clock_timestamp() FROM incoming "
            f"WHERE op <> 'd' ON CONFLICT ({key}) DO UPDATE SET {updates}, applied_at = EXCLUDED.applied_at"
        )
        applied, removed, p50, p95, worst = cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE op = 'd'), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM clock_timestamp() - committed_at)), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM clock_timestamp() - committed_at)), "
            "max(extract(epoch FROM clock_timestamp() - committed_at)) FROM incoming"
        ).fetchone()
        runner.record(cur, model, result)  # same transaction: the batch is applied and recorded together
    result.rows = applied
    result.figures = {
        "changes_in_batch": len(rows),
        "changes_applied": applied,
        "deletes_applied": removed,
        "changes_already_applied": len(rows) - applied,
    }
    if applied:
        result.figures.update(
            {
                "replication_lag_p50_s": round(float(p50), 3),
                "replication_lag_p95_s": round(float(p95), 3),
                "replication_lag_max_s": round(float(worst), 3),
            }
        )
    result.outputs = [mirror, deletes]
