"""Per-topic jobs and sensors: each sensor polls Kafka and requests one run per micro-batch of offsets.

The sensor plans from bronze's ledger in Postgres, not from a cursor of its own: whatever was requested but
has not landed and is not in flight (its run failed for good, or was never launched) is requested again, with
backoff, until it lands. The cursor only remembers those retries (attempts, last try) and the gap report.
"""
# No `from __future__ import annotations`: Dagster reads the annotations of check and sensor functions at runtime.

import json
import time
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetObservation,
    AssetsDefinition,
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    asset_check,
    define_asset_job,
    in_process_executor,
    sensor,
)

from assets.bronze import (
    CHECK_NO_GAPS,
    BronzeBatchConfig,
    Interval,
    Ranges,
    TopicSpec,
    bronze_asset_key,
    ledger,
    legacy_cursor,
    missing,
    plan_batches,
    read_topic_id,
    read_watermarks,
    run_key,
    wait_for_new_records,
)
from orchestration.run_coordinator import IMMEDIATE, LAUNCH_TAG
from resources.bronze import BronzeSettings
from resources.kafka import KafkaResource
from resources.postgres import PostgresResource

DEFAULT_RECORD_BYTES = 1024  # estimate before the first batch tells the real average
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def bronze_job(spec: TopicSpec, bronze: AssetsDefinition, downstream: AssetSelection):
    """The job that lands one batch of a topic in bronze, then brings `downstream` (the models that read it)
    up to date in the same process: no second run to launch, so an event reaches Postgres seconds after bronze."""
    # Only the checks bronze evaluates as it lands a batch: the gap check and the freshness checks are the
    # sensors' (evaluating them here would hold every batch up by a second, before the models).
    selection = (AssetSelection.assets(bronze) | downstream).without_checks() | AssetSelection.checks(bronze)
    return define_asset_job(
        f"bronze_{spec.name}",
        selection=selection,
        executor_def=in_process_executor,
        description=f"Land one micro-batch of Kafka topic {spec.topic} in bronze, then run the models that read it",
        tags={"kafka/topic": spec.topic, "dagster/max_runtime": "1200"},
    )


def records_per_run(instance: DagsterInstance, bronze: AssetsDefinition, settings: BronzeSettings) -> int:
    """The per-run record cap, lowered so the batch stays under max_bytes at the latest batch's record size."""
    avg = DEFAULT_RECORD_BYTES
    event = instance.get_latest_materialization_event(bronze.key)
    if event is not None and event.asset_materialization is not None:
        meta = event.asset_materialization.metadata
        records = meta["records_landed"].value + meta["records_quarantined"].value if "records_landed" in meta else 0
        if records:
            avg = max(1, meta["bytes_read"].value // records)
    return max(1, min(settings.max_records, settings.max_bytes // avg))


def in_flight(instance: DagsterInstance, job_name: str, op_name: str, topic_id: str) -> tuple[int, dict[int, list]]:
    """How many runs of this topic incarnation are queued or running, and the ranges they cover."""
    runs = instance.get_runs(
        filters=RunsFilter(job_name=job_name, statuses=IN_FLIGHT, tags={"kafka/topic_id": topic_id})
    )
    busy: dict[int, list[Interval]] = {}
    for run in runs:
        for p, (start, end) in run.run_config["ops"][op_name]["config"]["ranges"].items():
            busy.setdefault(int(p), []).append((start, end))
    return len(runs), busy


def cancel_unlaunched(instance: DagsterInstance, job_name: str, older_than_s: int) -> None:
    """Runs created but never launched (the daemon died in between) stop counting as in flight: their
    ranges then show as missing and are requested again."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=older_than_s)
    for run in instance.get_runs(
        filters=RunsFilter(job_name=job_name, statuses=[DagsterRunStatus.NOT_STARTED], created_before=cutoff)
    ):
        instance.report_run_canceled(run, message="never launched: its range is requested again")


def backoff_s(attempt: int, settings: BronzeSettings) -> float:
    """Wait before re-requesting a range whose `attempt`-th run failed."""
    return min(settings.retry_max_backoff_seconds, settings.retry_backoff_seconds * 2 ** max(0, attempt - 1))


def open_gaps(state: dict[int, ledger.PartitionLedger], busy: dict[int, list]) -> dict[int, list[Interval]]:
    """Ranges requested but neither landed nor in flight: their run failed for good or never ran."""
    return {
        p: holes
        for p, led in state.items()
        if (holes := missing(led.landed_to, led.requested_to, led.landed_above + busy.get(p, [])))
    }


def _gap_check(key, gaps: dict[str, list], topic: str) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=key,
        check_name=CHECK_NO_GAPS,
        passed=not gaps,
        metadata={
            "topic": topic,
            "gaps": json.dumps(gaps, sort_keys=True),
            "missing_offsets": sum(g["end"] - int(key.split(":")[1]) for key, g in gaps.items()),
        },
    )


def bronze_sensor(spec: TopicSpec, bronze: AssetsDefinition, job, interval_s: int) -> SensorDefinition:
    """Sensor for one topic: request every range that has not landed, oldest first, new data after retries."""
    op_name = bronze.op.name

    @sensor(
        name=f"bronze_{spec.name}_sensor",
        job=job,
        minimum_interval_seconds=interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description=f"Polls Kafka topic {spec.topic}; requests a bronze run per new batch of offsets and "
        "re-requests, with backoff, any range whose run failed",
    )
    def _sensor(
        context: SensorEvaluationContext,
        kafka: KafkaResource,
        postgres: PostgresResource,
        bronze_settings: BronzeSettings,
    ):
        settings = bronze_settings
        started = time.monotonic()
        marks = read_watermarks(kafka, spec.topic)
        topic_id = read_topic_id(kafka, spec.topic)
        memory = _memory(context.cursor)
        cancel_unlaunched(context.instance, job.name, settings.stale_run_seconds)

        def plan() -> tuple[list, list[RunRequest], int]:
            active, busy = in_flight(context.instance, job.name, op_name, topic_id)  # before the ledger: see docs
            with postgres.connect(autocommit=True) as conn:
                events = (
                    _first_sight(context, conn, spec, topic_id, memory) if not ledger.has_topic(conn, topic_id) else []
                )
                requests = _plan(context, conn, spec, bronze, op_name, topic_id, marks, busy, active, memory, settings)
            return events, requests, active

        events, requests, active = plan()
        wait_s = settings.sensor_wait_seconds - (time.monotonic() - started)
        if not (events or requests) and active < settings.max_runs_in_flight and wait_s > 0:
            # Nothing to do: wait here for the next record (Dagster ticks a sensor at most every 5 s), then plan again.
            # The wait ends a fixed time after the tick began, so the tick is over before the daemon's next loop.
            newer = wait_for_new_records(kafka, spec.topic, marks, wait_s)
            if newer != marks:
                marks = newer
                events, requests, active = plan()
        retries = memory["retries"]
        signature = sorted(retries)
        if signature != memory.get("reported"):
            events.append(_gap_check(bronze_asset_key(spec), retries, spec.topic))
            memory["reported"] = signature
            if retries:
                context.log.warning(f"{spec.topic}: ranges whose run failed, requested again with backoff: {retries}")
        memory.update(topic_id=topic_id, legacy=False)
        if not requests and not events:
            context.update_cursor(json.dumps(memory))
            return SkipReason(
                f"no new records on {spec.topic}"
                if active < settings.max_runs_in_flight
                else f"{active} runs of {spec.topic} in flight: waiting for them"
            )
        return SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(memory))

    return _sensor


def _memory(cursor: str | None) -> dict:
    """The sensor's memory; a cursor from before the ledger (offsets by partition) marks a legacy start."""
    if cursor and legacy_cursor(cursor):
        return {"legacy": True}
    return json.loads(cursor) if cursor else {}


def _plan(
    context: SensorEvaluationContext,
    conn,
    spec: TopicSpec,
    bronze: AssetsDefinition,
    op_name: str,
    topic_id: str,
    marks: dict,
    busy: dict[int, list],
    active: int,
    memory: dict,
    settings: BronzeSettings,
) -> list[RunRequest]:
    """The tick's run requests: failed ranges whose backoff is over first, then new offsets, as far as the runs
    in flight leave room; new offsets are marked requested in the ledger (in the caller's connection)."""
    legacy = legacy_cursor(context.cursor) if memory.get("legacy") else {}  # parsed once, not per partition
    start = {p: legacy.get(p, wm.low) for p, wm in marks.items()}
    state = ledger.load(conn, spec.topic, topic_id, start)
    gaps = open_gaps(state, busy)
    retries = memory.setdefault("retries", {})
    for key in [k for k in retries if not _still_open(k, state)]:
        del retries[key]
    due, now = {}, time.time()
    for p, holes in gaps.items():
        for s, e in holes:
            entry = retries.setdefault(f"{p}:{s}", {"attempt": 0, "at": 0.0, "end": e})
            entry["end"] = e
            if entry["attempt"] == 0 or now - entry["at"] >= backoff_s(entry["attempt"], settings):
                due.setdefault(p, []).append((s, e))
    room = max(0, min(settings.max_runs_per_tick, settings.max_runs_in_flight - active))
    cap = records_per_run(context.instance, bronze, settings)
    lows = {p: wm.low for p, wm in marks.items()}
    retry_batches = plan_batches(due, lows, cap, room)
    fresh = {p: [(state[p].requested_to, wm.high)] for p, wm in marks.items() if wm.high > state[p].requested_to}
    new_batches = plan_batches(fresh, lows, cap, room - len(retry_batches))
    requests = [_request(spec, op_name, topic_id, b, _attempt(b, retries, now)) for b in retry_batches]
    requests += [_request(spec, op_name, topic_id, b, 1) for b in new_batches]
    ends = {p: max(r[p][1] for r in new_batches if p in r) for p in {p for r in new_batches for p in r}}
    ledger.mark_requested(conn, topic_id, ends)
    return requests


def _first_sight(context: SensorEvaluationContext, conn, spec: TopicSpec, topic_id: str, memory: dict) -> list:
    """A topic id the ledger has not seen: a new topic, or one deleted and re-created under the same name."""
    older = ledger.known_topic_ids(conn, spec.topic)
    if not older:
        return []
    memory.update(retries={}, legacy=False)
    context.log.warning(
        f"topic {spec.topic} was re-created (topic id {topic_id}, before: {', '.join(older)}): "
        "ingesting the new topic from its start; the old topic's objects stay as they are"
    )
    return [
        AssetObservation(
            bronze_asset_key(spec),
            metadata={"topic_recreated": True, "topic_id": topic_id, "previous_topic_ids": ", ".join(older)},
        )
    ]


def _still_open(key: str, state: dict[int, ledger.PartitionLedger]) -> bool:
    p, s = (int(x) for x in key.split(":"))
    led = state.get(p)
    return led is not None and s >= led.landed_to and not any(a <= s < b for a, b in led.landed_above)


def _attempt(batch: Ranges, retries: dict, now: float) -> int:
    """Count this re-request on every interval it covers; the batch's attempt is the highest."""
    attempt = 1
    for p, (start, _) in batch.items():
        entry = retries.get(f"{p}:{start}")
        if entry is None:  # a later piece of a split interval: it shares its first piece's attempts
            continue
        entry["attempt"] += 1
        entry["at"] = now
        attempt = max(attempt, entry["attempt"] + 1)
    return attempt


def _request(spec: TopicSpec, op_name: str, topic_id: str, ranges: Ranges, attempt: int) -> RunRequest:
    return RunRequest(
        run_key=run_key(spec.topic, topic_id, ranges, attempt),
        run_config=RunConfig(
            ops={op_name: BronzeBatchConfig(topic_id=topic_id, ranges={str(p): [s, e] for p, (s, e) in ranges.items()})}
        ),
        # the fast lane: launched by the sensor daemon as it submits (a run launched from the UI queues as usual)
        tags={
            "kafka/topic": spec.topic,
            "kafka/topic_id": topic_id,
            "bronze/attempt": str(attempt),
            LAUNCH_TAG: IMMEDIATE,
        },
    )


def gap_check(spec: TopicSpec, bronze: AssetsDefinition, job_name: str):
    """The bronze asset's `no_gaps` check, runnable from the UI; the sensor reports it too, as gaps open and close."""

    @asset_check(
        asset=bronze,
        name=CHECK_NO_GAPS,
        description="Every requested offset range has landed or is in flight: none was left behind "
        "by a failed run (names topic, partition and offsets otherwise)",
    )
    def _check(
        context: AssetCheckExecutionContext, kafka: KafkaResource, postgres: PostgresResource
    ) -> AssetCheckResult:
        topic_id = read_topic_id(kafka, spec.topic)
        _, busy = in_flight(context.instance, job_name, bronze.op.name, topic_id)
        with postgres.connect(autocommit=True) as conn:
            state = ledger.load(conn, spec.topic, topic_id, {}) if ledger.has_topic(conn, topic_id) else {}
        gaps = {f"{p}:{s}": {"end": e} for p, holes in open_gaps(state, busy).items() for s, e in holes}
        return AssetCheckResult(passed=not gaps, metadata={"topic": spec.topic, "gaps": json.dumps(gaps)})

    return _check
