"""Judge the Flink jobs the platform expects to run: healthy ones give figures, the others a loud reason."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from assets.flink.figures import job_figures
from assets.flink.state import ExpectedJob
from resources.flink import FlinkResource

# How long a job may stay out of RUNNING (restarting, recovering) before it is reported as stuck.
NOT_RUNNING_GRACE_SECONDS = 45.0


@dataclass
class Verdict:
    """What one look at the expected jobs found."""

    figures: dict[str, dict] = field(default_factory=dict)  # job name -> metadata of a healthy job
    problems: list[str] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)  # job id -> since when it is not RUNNING


def _problem(flink: FlinkResource, job: ExpectedJob, what: str) -> str:
    return f"Flink job {job.job_name} ({job.job_id}, pipeline {job.pipeline}) {what}" + flink.root_exception(job.job_id)


def assess(
    flink: FlinkResource, jobs: list[ExpectedJob], memory: dict[str, float], now: float | None = None
) -> Verdict:
    """Look at each expected job once; `memory` is what the previous look remembered (keep it when
    problems are raised, so a job stuck out of RUNNING keeps its first-seen time)."""
    now = time.time() if now is None else now
    verdict = Verdict()
    for job in jobs:
        if not job.job_id:
            continue
        info = flink.find_job(job.job_id)
        if info is None:
            verdict.problems.append(
                f"Flink job {job.job_name} ({job.job_id}) is expected to run but {flink.rest_url} does not know it "
                "(the cluster restarted or the job was removed): resume it with flink_resume_from_savepoint or "
                "submit it again"
            )
            continue
        if info["state"] in ("FAILED", "CANCELED", "FINISHED"):
            verdict.problems.append(_problem(flink, job, f"is {info['state']} but expected to run"))
        elif info["state"] == "RUNNING":
            verdict.figures[job.job_name] = job_figures(flink, job.job_id)
        else:  # restarting, recovering, initializing: fine for a while
            since = verdict.memory[job.job_id] = memory.get(job.job_id, now)
            if now - since >= NOT_RUNNING_GRACE_SECONDS:
                restarts = flink.job_metric(job.job_id, "numRestarts") or "?"
                verdict.problems.append(
                    _problem(flink, job, f"has been {info['state']} for {now - since:.0f}s ({restarts} restarts)")
                )
    return verdict
