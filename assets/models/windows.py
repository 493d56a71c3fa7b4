"""Event-time windows with a watermark and allowed lateness (the semantics are in docs/windows.md).

One run takes the silver files the model has not consumed (one batch), and in ONE Postgres
transaction: records the batch's late events, upserts the windows the batch touched (recomputed
from every silver event of those windows that is not late), marks windows final up to the new
watermark, stores the watermark and records the files as consumed. A crash before the commit
leaves nothing; a re-run of a committed batch finds nothing to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb

from assets import lake_objects
from assets.models.project import Model


def run_windowed(runner, model: Model, files: list[str], con: duckdb.DuckDBPyConnection, result) -> None:
    """Fold the events of `files` (new silver files) into the model's windows; fill `result`."""
    time_col, width = model.config["time_column"], int(model.config["window_seconds"])
    event, entity, late_table = model.config["event_key"], model.config["entity_key"], model.config["late_table"]
    bucket = f"time_bucket(INTERVAL {width} SECOND, {time_col}, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    settings = runner.settings
    ooo = timedelta(seconds=settings.max_out_of_orderness_seconds)
    lateness = timedelta(seconds=settings.allowed_lateness_seconds)
    now = datetime.now(timezone.utc)
    horizon = now + timedelta(seconds=settings.max_future_seconds)

    with runner.postgres.connect() as conn:
        row = conn.execute(
            "SELECT max_event_time, watermark FROM lakehouse_state.watermarks WHERE model = %s", [model.name]
        ).fetchone()
    max_event, watermark = row if row else (None, None)

    con.execute(
        f"CREATE TEMP TABLE new_events AS SELECT *, {bucket} AS window_start "
        f"FROM read_parquet({runner.uris(files)}, hive_partitioning=false)"
    )
    additive = bool(model.config.get("additive"))  # no lateness: new events are added to their windows
    cutoff = (watermark - lateness) if watermark and not additive else None
    late_filter = f"window_start + INTERVAL {width} SECOND <= TIMESTAMPTZ '{cutoff.isoformat()}'" if cutoff else "false"
    late = con.execute(
        f"SELECT {event}, {entity}, {time_col}, window_start, processed_at FROM new_events WHERE {late_filter}"
    ).fetchall()
    touched = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT window_start FROM new_events WHERE NOT ({late_filter}) ORDER BY 1"
        ).fetchall()
    ]
    batch_max = con.execute(f"SELECT max({time_col}) FROM new_events").fetchone()[0]
    result.future_events = con.execute(
        f"SELECT count(*) FROM new_events WHERE {time_col} > TIMESTAMPTZ '{horizon.isoformat()}'"
    ).fetchone()[0]

    windows: list[tuple] = []
    columns: list[str] = []
    if touched and (additive or watermark is None):
        # additive: only the new events matter; no watermark yet: no event was consumed before, so
        # the new events are all there is in the touched windows (and none of them is late)
        relation = con.sql(runner.render(model, [], ref_as="new_events"))
        columns, windows = relation.columns, relation.fetchall()
    elif touched:
        with runner.postgres.connect() as conn:
            known_late = [
                r[0]
                for r in conn.execute(
                    f"SELECT {event} FROM {late_table} WHERE window_start = ANY(%s)", [touched]
                ).fetchall()
            ]
        hours = sorted(
            {(w.astimezone(timezone.utc).strftime("%Y-%m-%d"), w.astimezone(timezone.utc).hour) for w in touched}
        )
        upstream = runner.models[model.refs[0]].relation
        with runner.postgres.connect() as conn:  # the upstream's committed files of those hours
            sources = lake_objects.keys_under(
                conn, upstream, [f"{upstream}/event_date={d}/event_hour={h}" for d, h in hours]
            )
        own = set(files)  # the batch's own files are read already: new_events
        earlier = [key for key in sources if key not in own]
        events = "SELECT * FROM new_events"
        if earlier:
            events += (
                f" UNION ALL BY NAME SELECT *, {bucket} AS window_start "
                f"FROM read_parquet({runner.uris(earlier)}, hive_partitioning=false)"
            )
        excluded = [e[0] for e in late] + known_late
        con.execute(
            f"CREATE TEMP TABLE window_events AS SELECT * FROM ({events}) "
            f"WHERE window_start IN (SELECT unnest(?)) AND {event} NOT IN (SELECT unnest(?))",
            [touched, excluded],
        )
        relation = con.sql(runner.render(model, [], ref_as="window_events"))
        columns, windows = relation.columns, relation.fetchall()

    if batch_max is not None:
        capped = min(batch_max, horizon)
        max_event = capped if max_event is None else max(max_event, capped)
        watermark = max(watermark, max_event - ooo) if watermark else max_event - ooo
    result.rows, result.late_events, result.watermark = len(windows), len(late), watermark
    _commit(runner, model, columns, windows, late, watermark, max_event, cutoff, lateness, result)
    result.outputs = [model.relation, late_table]


def _commit(
    runner,
    model: Model,
    columns: list[str],
    windows: list[tuple],
    late: list[tuple],
    watermark: datetime | None,
    max_event: datetime | None,
    cutoff: datetime | None,
    lateness: timedelta,
    result,
) -> None:
    key = model.config["unique_key"]
    with runner.postgres.connect() as conn, conn.cursor() as cur:
        if windows:
            names = ", ".join(columns)
            if model.config.get("additive"):
                updates = ", ".join(
                    f"{c} = {model.relation}.{c} + EXCLUDED.{c}" for c in columns if c not in (key, "window_end")
                )
            else:
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
            cur.execute(
                f"CREATE TEMP TABLE incoming ({names}) ON COMMIT DROP AS "
                f"SELECT {names} FROM {model.relation} WITH NO DATA"
            )
            with cur.copy(f"COPY incoming ({names}) FROM STDIN") as copy:
                for row in windows:
                    copy.write_row(row)
            cur.execute(
                f"INSERT INTO {model.relation} ({names}, is_final, updated_at) "
                f"SELECT {names}, window_end <= %s, now() FROM incoming "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}, is_final = EXCLUDED.is_final, "
                f"updated_at = now()",
                [watermark],
            )
        if watermark is not None:
            cur.execute(
                f"UPDATE {model.relation} SET is_final = true, updated_at = now() "
                f"WHERE NOT is_final AND window_end <= %s",
                [watermark],
            )
            cur.execute(
                "INSERT INTO lakehouse_state.watermarks (model, max_event_time, watermark) "
                "VALUES (%s, %s, %s) ON CONFLICT (model) DO UPDATE SET max_event_time = "
                "EXCLUDED.max_event_time, watermark = EXCLUDED.watermark, updated_at = now()",
                [model.name, max_event, watermark],
            )
        if late:
            cfg = model.config  # the late table's columns are named after the model's keys
            missed = cutoff + lateness  # the watermark they missed
            cur.executemany(
                f"INSERT INTO {cfg['late_table']} ({cfg['event_key']}, {cfg['entity_key']}, {cfg['time_column']}, "
                "window_start, watermark, lateness_seconds, processed_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(e, o, t, w, missed, (missed - t).total_seconds(), p) for e, o, t, w, p in late],
            )
        runner.record(cur, model, result)
