"""A Spark driver: runs one pipeline's streaming query until Dagster (or `lakehouse down`) stops it.

Started by assets/spark/launcher.py as `python -m assets.spark.driver <pipeline> <job name>`, its settings in the
environment. It holds a Postgres advisory lock named after the job for as long as it runs (a second driver of the
same job exits at once), reports its status, Spark's progress and a heartbeat to lakehouse_state.spark_queries every
two seconds, stops the query when its row's desired_state says so (or on SIGTERM), and records the query's
exception, secrets masked, when it fails.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

import psycopg
from pyspark.errors import StreamingQueryException

from assets.bronze.topics import TopicSpec, configured_topics
from assets.spark import state
from assets.spark.checks import OrderCheck, PartitionLines
from assets.spark.launcher import QUERY_VARIABLE
from assets.spark.sink import WindowSink
from dbt_like_sql.spark import Query
from resources.redact import redact

EXIT_ALREADY_RUNNING = 3


def topic_spec(topic: str) -> TopicSpec:
    """The topic's format and schema from BRONZE_TOPICS; a topic not listed there is read as JSON without schema."""
    return next((spec for spec in configured_topics() if spec.topic == topic), TopicSpec(topic, "json", None))


def session(settings: dict):
    """A SparkSession for one query: the Kafka source and S3A on its classpath, the UI only when asked for."""
    from pyspark.sql import SparkSession

    conf = {
        "spark.jars": ",".join(settings["jars"]),
        "spark.driver.memory": settings["driver_memory"],
        "spark.sql.shuffle.partitions": str(settings["shuffle_partitions"]),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.pythonUDF.arrow.enabled": "false",  # plain pickled rows: no pyarrow/pandas needed
        "spark.ui.enabled": "true" if settings["ui_port"] else "false",
        "spark.ui.showConsoleProgress": "false",  # progress bars in the log: the sensor has the figures
        "spark.hadoop.fs.s3a.endpoint": settings["s3_endpoint"],
        "spark.hadoop.fs.s3a.endpoint.region": settings["s3_region"],
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
        ),
    }
    if settings["ui_port"]:
        conf["spark.ui.port"] = str(settings["ui_port"])
    if settings["master"].startswith("local"):
        conf["spark.driver.host"] = "127.0.0.1"
    builder = SparkSession.builder.master(settings["master"]).appName(f"lakehouse-{settings['job_name']}")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def query_of(pipeline: str, settings: dict, pg_url: str) -> Query:
    spec = topic_spec(settings["topic"])
    if pipeline == "orders_per_minute" and spec.schema != "orders":
        raise SystemExit(f"orders_per_minute needs a topic with the orders schema; {spec.topic} has {spec.schema}")
    max_bytes = int(settings["max_message_bytes"])
    return Query(
        name=settings["job_name"],
        kafka_bootstrap=settings["kafka_bootstrap"],
        topic=spec.topic,
        bucket=settings["bucket"],
        checkpoint=settings["checkpoint"],
        trigger_interval=settings["trigger_interval"],
        watermark_delay_seconds=int(settings["watermark_delay_seconds"]),
        max_offsets_per_trigger=int(settings["max_offsets_per_trigger"]),
        check_partition=PartitionLines(spec, max_bytes),
        check_order=OrderCheck(spec, max_bytes),
        write_windows=WindowSink(pg_url, settings["job_name"]),
    )


def forget_pid_file(path: Path) -> None:
    """Remove the pid file the launcher wrote for this driver (not one a later launch of the job wrote)."""
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def run(pipeline: str, job_name: str) -> int:
    """Run the query until it is stopped or fails; the exit status says which."""
    settings = {**json.loads(os.environ[QUERY_VARIABLE]), "job_name": job_name}
    try:
        return _run(pipeline, job_name, settings)
    finally:
        forget_pid_file(Path(settings["pid_file"]))


def _run(pipeline: str, job_name: str, settings: dict) -> int:
    pg_url = os.environ["PG_URL"]
    secrets = [pg_url, os.environ.get("AWS_SECRET_ACCESS_KEY")]
    stop = {"signal": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(signal=True))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        if not conn.execute("SELECT pg_try_advisory_lock(hashtext('lakehouse-spark:' || %s))", (job_name,)).fetchone()[
            0
        ]:
            print(f"another driver runs {job_name}: exiting", flush=True)
            return EXIT_ALREADY_RUNNING
        state.report(conn, job_name, status="starting", host=socket.gethostname(), pid=os.getpid())
        try:
            spark = session(settings)
            module = importlib.import_module(f"dbt_like_sql.spark.{pipeline}")
            query = module.start(spark, query_of(pipeline, settings, pg_url))
        except Exception as exc:
            state.report(conn, job_name, status="failed", error=redact(f"{type(exc).__name__}: {exc}", secrets))
            raise
        state.report(conn, job_name, status="running", query_id=query.id, run_id=query.runId)
        desired = "running"
        while query.isActive and desired == "running" and not stop["signal"]:
            try:
                query.awaitTermination(state.HEARTBEAT_SECONDS)
            except StreamingQueryException:
                pass  # the query failed: recorded below from query.exception()
            desired = state.report(conn, job_name, progress=query.lastProgress)
        error = None
        if query.isActive:
            print(f"stopping {job_name} ({'SIGTERM' if stop['signal'] else 'desired_state stopped'})", flush=True)
            query.stop()
        else:
            exception = query.exception()
            error = redact(str(exception) if exception else "the query ended without an exception", secrets)
        state.report(conn, job_name, status="failed" if error else "stopped", error=error, progress=query.lastProgress)
        spark.stop()
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2]))
