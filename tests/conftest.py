"""Shared fixtures: the tests talk to the real services of the local stack (`lakehouse up --with flink`)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from infra.stack import stack
from infra.stack.config import StackConfig
from resources.definitions import platform_resources


@pytest.fixture(scope="session")
def cfg() -> StackConfig:
    """The stack configuration the tests run against."""
    return StackConfig.from_env()


@pytest.fixture(scope="session")
def core_stack(cfg: StackConfig) -> StackConfig:
    """Fails (never skips) with the names of the core services that are not healthy."""
    rows = {r.service: r for r in stack.status(cfg)}
    bad = [name for name in stack.CORE_SERVICES if name not in rows or not rows[name].healthy]
    if bad:
        pytest.fail(f"not healthy: {', '.join(bad)} — run `lakehouse up` (see `lakehouse logs <service>`)")
    return cfg


@pytest.fixture(scope="session")
def resources(core_stack: StackConfig) -> dict:
    """The pipeline's own resource objects, configured exactly as Dagster gets them (EnvVar fields resolved, as
    Dagster resolves them when a run starts)."""
    return {name: resource.process_config_and_initialize() for name, resource in platform_resources().items()}


@pytest.fixture(scope="session")
def flink(resources: dict, cfg: StackConfig):
    """The Flink resource; fails with instructions when the cluster is not up."""
    rows = {r.service: r for r in stack.status(cfg)}
    if "flink" not in rows or not rows["flink"].healthy:
        pytest.fail("flink is not healthy — run `lakehouse up --with flink` (see `lakehouse logs flink-jobmanager`)")
    return resources["flink"]


@pytest.fixture(scope="session")
def spark_stack(cfg: StackConfig, resources: dict) -> None:
    """Fails with instructions when Spark is not installed and smoke-tested (`lakehouse up --with spark`)."""
    if not stack.service(cfg, "spark").healthy():
        pytest.fail("spark is not installed — run `lakehouse up --with spark`")


@pytest.fixture
def fresh_topic(resources: dict):
    """Create a uniquely named 3-partition topic and delete it afterwards."""
    from confluent_kafka.admin import NewTopic

    admin = resources["kafka"].admin()
    name = f"test-{uuid.uuid4().hex[:10]}"
    admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])[name].result(30)
    yield name
    admin.delete_topics([name])[name].result(30)


# Fixtures that reach a running service: a test using any of them (directly or through another fixture) is a
# `stack` test.
STACK_FIXTURES = frozenset({"cfg", "core_stack", "resources", "flink", "spark_stack", "fresh_topic"})


def pytest_collection_modifyitems(items) -> None:
    """Mark every test that needs the services `stack`, so `pytest -m "not stack"` runs the others alone."""
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault suite's table (tests/test_fault_suite.py), when it ran."""
    from tests.support.faults import ROWS, table

    if ROWS:
        terminalreporter.write_sep("=", "fault table")
        terminalreporter.write_line(table())
        artifacts = Path(__file__).parent / "artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / "fault_table.md").write_text(table() + "\n")
