"""Start a Spark driver as its own process, outside Dagster's run: it outlives the run that started it.

The driver runs the platform's interpreter with pyspark's environment on PYTHONPATH (it checks records with the
platform's own code), in a session of its own, its output in logs/spark-<job>.log (0600). A pid file in the stack's
run/ folder, in the launcher's format, lets `lakehouse down` stop it like any process of the stack. Secrets travel
in the environment only: the S3 keys as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (S3A's environment credentials
provider reads them, so they never enter Spark's configuration) and PG_URL; the argv holds the pipeline and job name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from resources.spark import REPO_ROOT, SparkResource

DRIVER_MODULE = "assets.spark.driver"
QUERY_VARIABLE = "LAKEHOUSE_SPARK_QUERY"  # the driver's settings (no secret), as JSON


def _private(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def launch(
    spark: SparkResource, pipeline: str, job_name: str, settings: dict[str, object], secrets: dict[str, str]
) -> int:
    """Start the driver of `job_name`; return its pid."""
    env = {name: value for name, value in os.environ.items() if name != "LAKEHOUSE_DEV_SESSION"}  # not dev.sh's
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(spark.site_packages())]),
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "PYTHONUNBUFFERED": "1",
            "TZ": "UTC",  # PySpark turns timestamps into the local time's naive datetimes
            QUERY_VARIABLE: json.dumps({**settings, "pid_file": str(spark.pid_file(job_name))}),
            **secrets,
        }
    )
    if spark.master.startswith("local"):
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
    argv = [sys.executable, "-m", DRIVER_MODULE, pipeline, job_name]
    workdir = spark.home_dir() / "data" / "spark"
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = spark.log_file(job_name)
    with os.fdopen(_private(log_path), "ab") as log:
        os.fchmod(log.fileno(), 0o600)
        log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file = spark.pid_file(job_name)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(
        json.dumps(
            {
                "pid": process.pid,
                "argv0": argv[0],
                "argv": argv,
                "started": time.time(),
                "stop_signal": int(signal.SIGTERM),
            }
        )
    )
    return process.pid


def alive(pid: int | None) -> bool:
    """Whether a local process `pid` exists and is not a zombie."""
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def log_tail(spark: SparkResource, job_name: str, lines: int = 30) -> str:
    """The driver log's last lines that are not Java stack frames."""
    path = spark.log_file(job_name)
    if not path.exists():
        return ""
    kept = [line for line in path.read_text(errors="replace").splitlines() if not line.startswith("\tat ")]
    return "\n".join(kept[-lines:])
