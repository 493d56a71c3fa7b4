"""The platform's run coordinator: Dagster's run queue, with a fast lane for micro-batch runs.

Dagster's queue daemon looks at the queue once a second at best (`dequeue_interval_seconds` is a whole number):
about a second of a 2 s bronze run went on waiting there (issue 11). A run tagged `lakehouse/launch: immediate`
(the bronze sensors' runs) is launched the moment it is submitted, as Dagster's default coordinator launches every
run, provided nothing waits in the queue (no overtaking), it carries no tag that a `tag_concurrency_limits` entry
limits, and fewer than `max_concurrent_runs` runs are starting or running.
Otherwise it is queued like any run. The limit is checked, not reserved: runs submitted at the same instant by
different sensors may exceed it by a run or two (the bronze sensors bound their runs in flight themselves).
A fast-lane run never passes through QUEUED, so the queue daemon cannot launch it a second time.
"""

from __future__ import annotations

from dagster import DagsterRunStatus, RunsFilter
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun

LAUNCH_TAG = "lakehouse/launch"
IMMEDIATE = "immediate"
RUNNING = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


class FastLaneRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator that launches runs tagged `lakehouse/launch: immediate` at once when there is room."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.status == DagsterRunStatus.NOT_STARTED and run.tags.get(LAUNCH_TAG) == IMMEDIATE and self._room(run):
            self._instance.launch_run(run.run_id, context.workspace)
            launched = self._instance.get_run_by_id(run.run_id)
            assert launched is not None
            return launched
        return super().submit_run(context)

    def _room(self, run: DagsterRun) -> bool:
        """Whether launching `run` now respects the queue's order and limits."""
        config = self.get_run_queue_config()
        if any(limit["key"] in run.tags for limit in config.tag_concurrency_limits):
            return False  # the queue keeps count of limited tags
        if self._instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED])):
            return False
        limit = config.max_concurrent_runs
        return limit == -1 or self._instance.get_runs_count(RunsFilter(statuses=RUNNING)) < limit
