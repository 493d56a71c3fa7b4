"""A small code location for tests that drive `dagster dev` (tests/support/dagster_dev.py) without the platform's
sensors writing anywhere: probe jobs, plus the platform's upkeep (failure alerts, housekeeping)."""
# No `from __future__ import annotations` here: Dagster reads the annotations of op functions at runtime.

import time

from dagster import Config, Definitions, Failure, in_process_executor, job, op

from orchestration.alerts import run_failure_alerts
from orchestration.housekeeping import housekeeping
from resources.definitions import operations_resources, platform_resources

FAKE_SECRET = "s3cr3t-probe-password"  # the failing job's error carries it; alerts must mask it


class SleepConfig(Config):
    seconds: float = 600.0


@op
def sleep(config: SleepConfig) -> None:
    """Sleep (a long-running step whose worker a test can kill)."""
    time.sleep(config.seconds)


@op
def nothing() -> None:
    """Do nothing (a run that measures the launch overhead)."""


@op
def fail() -> None:
    raise Failure(f"probe failure: cannot reach postgresql://de_user:{FAKE_SECRET}@127.0.0.1:5432/de_db")


# Tagged like the models runs: one at a time under the instance's tag concurrency limit.
@job(executor_def=in_process_executor, tags={"lakehouse/models": "serial"})
def sleeper():
    sleep()


@job(executor_def=in_process_executor)
def quick():
    nothing()


@job(executor_def=in_process_executor)
def failing():
    fail()


defs = Definitions(
    jobs=[sleeper, quick, failing, housekeeping],
    sensors=[run_failure_alerts],
    resources={**platform_resources(), **operations_resources()},
)
