"""Bronze ingestion across failures of the real services: nothing lost, nothing doubled."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance

from assets.bronze.topics import TopicSpec
from infra.generator import GeneratorSpec, produce
from infra.stack import stack
from tests.support.bronze import BronzeHarness


@pytest.fixture
def harness(fresh_topic, resources):
    return BronzeHarness(TopicSpec(fresh_topic, "json", "orders"), DagsterInstance.ephemeral())


def _produce(harness, count, seed):
    report = produce(
        GeneratorSpec(topic=harness.spec.topic, count=count, rate=0, seed=seed),
        harness.resources["kafka"].bootstrap_servers,
        keep_records=True,
    )
    assert not report.failed
    return {(p, o) for p, o, _, _ in report.records}


def _restart(cfg, name):
    stack.stop_service(cfg, name)
    stack.start_service(cfg, stack.service(cfg, name))


def test_broker_restart_between_ticks(harness, cfg):
    sent = _produce(harness, 500, seed=21)
    harness.drain()
    _restart(cfg, "kafka")
    sent |= _produce(harness, 500, seed=22)
    harness.drain()
    landed = harness.offsets("stream")
    assert len(landed) == len(set(landed)) and set(landed) == sent


def test_object_store_down_during_a_run_then_back(harness, cfg):
    sent = _produce(harness, 600, seed=23)
    [request] = harness.tick()
    stack.stop_service(cfg, "s3")
    try:
        result = harness.run(request, raise_on_error=False)
    finally:
        stack.start_service(cfg, stack.service(cfg, "s3"))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert "could not write to the object store" in message and harness.resources["object_store"].endpoint in message
    assert harness.run(request).success  # the retry once the store is back
    landed = harness.offsets("stream")
    assert len(landed) == len(set(landed)) and set(landed) == sent
