"""Where the Spark drivers come from and how they run: pyspark's environment, the jars, the master URL, the files.

A driver is a local process (assets/spark/launcher.py starts it); these are the settings it is started with.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from resources.settings import DEFAULTS, setting

REPO_ROOT = Path(__file__).resolve().parents[1]


def stack_home() -> Path:
    """LAKEHOUSE_HOME (default .lakehouse/ in the repository): the drivers' logs and pid files go under it."""
    return Path(os.environ.get("LAKEHOUSE_HOME") or REPO_ROOT / ".lakehouse").expanduser().resolve()


def stack_downloads() -> Path:
    """LAKEHOUSE_DOWNLOADS (default <home>/downloads): where `lakehouse up --with spark` installed Spark."""
    return Path(os.environ.get("LAKEHOUSE_DOWNLOADS") or stack_home() / "downloads").expanduser().resolve()


class SparkResource(ConfigurableResource):
    """A Spark installation (`lakehouse up --with spark`) and the settings of the drivers started from it."""

    master: str = "local[2]"
    topic: str = DEFAULTS["SPARK_TOPIC"]  # SPARK_TOPIC: what a pipeline run reads unless its config says otherwise
    max_message_bytes: int = int(DEFAULTS["BRONZE_MAX_MESSAGE_BYTES"])  # larger records quarantined, as in bronze
    home: str = ""  # LAKEHOUSE_HOME: logs/spark-<job>.log and run/spark-<job>.json of each driver
    downloads: str = ""  # LAKEHOUSE_DOWNLOADS: spark/venv (pyspark) and spark/jars (Kafka source, S3A)
    trigger_interval: str = "5 seconds"
    shuffle_partitions: int = 4
    driver_memory: str = "1g"
    ui_port: str = ""  # empty: no Spark UI

    def home_dir(self) -> Path:
        return Path(self.home) if self.home else stack_home()

    def spark_dir(self) -> Path:
        return (Path(self.downloads) if self.downloads else stack_downloads()) / "spark"

    def site_packages(self) -> Path:
        """pyspark's environment's site-packages (put on the driver's PYTHONPATH)."""
        found = sorted((self.spark_dir() / "venv" / "lib").glob("python3*/site-packages"))
        if not found or not (found[-1] / "pyspark").is_dir():
            raise RuntimeError(f"no pyspark under {self.spark_dir() / 'venv'}: run `lakehouse up --with spark`")
        return found[-1]

    def jars(self) -> list[Path]:
        """The jars every driver loads (spark.jars)."""
        jars = sorted((self.spark_dir() / "jars").glob("*.jar"))
        if not jars:
            raise RuntimeError(f"no jars under {self.spark_dir() / 'jars'}: run `lakehouse up --with spark`")
        return jars

    def log_file(self, job_name: str) -> Path:
        return self.home_dir() / "logs" / f"spark-{job_name}.log"

    def pid_file(self, job_name: str) -> Path:
        """In the stack's run/ folder, in the launcher's format, so `lakehouse down` stops the driver too."""
        return self.home_dir() / "run" / f"spark-{job_name}.json"


def spark_resource() -> SparkResource:
    """The resource from the environment (defaults in .env.example)."""
    return SparkResource(
        master=setting("SPARK_MASTER"),
        topic=setting("SPARK_TOPIC"),
        max_message_bytes=int(setting("BRONZE_MAX_MESSAGE_BYTES")),
        trigger_interval=setting("SPARK_TRIGGER_INTERVAL"),
        shuffle_partitions=int(setting("SPARK_SHUFFLE_PARTITIONS")),
        driver_memory=setting("SPARK_DRIVER_MEMORY"),
        ui_port=setting("SPARK_UI_PORT"),
    )
