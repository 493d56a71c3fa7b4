"""Apache Spark (optional, `lakehouse up --with spark`): the environment the Spark Structured Streaming drivers run in.

PyPI's pyspark (infra/spark/requirements.txt) goes into its own virtual environment under downloads/spark, and Maven
Central's Kafka source and S3A (infra/spark/pom.xml, without the AWS SDK's 686 MB bundle) into downloads/spark/jars.

Spark in local mode has no daemon: each pipeline is one driver process, started, stopped and watched by Dagster
(assets/spark/), with its executors inside it (`local[2]`, or SPARK_MASTER for a cluster). So "up" means: the
environment is installed and a driver can start here — it reads the Kafka topic `orders` and writes and reads an
object through s3a:// (checked once per install, the result kept as a stamp). The drivers log to
logs/spark-<job>.log (`lakehouse logs spark`) and leave a pid file under run/ like every process of the stack, so
`lakehouse down` stops them too (SIGTERM to the process group: the JVM's shutdown hook ends the query; a batch cut
short is replayed from the checkpoint at the next start). No port is taken: the Spark UI is off unless SPARK_UI_PORT
is set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from infra.stack.commands import install_requirements, java_binary, run_command
from infra.stack.config import REPO_ROOT
from infra.stack.service import ProcessSpec, Service
from resources.settings import setting

SPARK_FILES = REPO_ROOT / "infra" / "spark"
REQUIREMENTS = SPARK_FILES / "requirements.txt"
POM = SPARK_FILES / "pom.xml"
# What a driver's classpath must hold (infra/spark/pom.xml).
REQUIRED_JARS = ("spark-sql-kafka-0-10_2.13-", "hadoop-aws-", "s3-2")
SMOKE_TEST = """
import os, sys
from pyspark.sql import SparkSession
jars = os.environ["SMOKE_JARS"]
builder = SparkSession.builder.master("local[1]").appName("lakehouse-spark-smoke")
for key, value in {"spark.jars": ",".join(sorted(os.path.join(jars, j) for j in os.listdir(jars))),
                   "spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1",
                   "spark.hadoop.fs.s3a.endpoint": os.environ["SMOKE_S3_ENDPOINT"],
                   "spark.hadoop.fs.s3a.endpoint.region": os.environ["SMOKE_S3_REGION"],
                   "spark.hadoop.fs.s3a.path.style.access": "true",
                   "spark.hadoop.fs.s3a.aws.credentials.provider":
                       "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"}.items():
    builder = builder.config(key, value)
spark = builder.getOrCreate()
path = f"s3a://{os.environ['SMOKE_BUCKET']}/spark/smoke-test/"
spark.createDataFrame([("ok",)], "v string").write.mode("overwrite").text(path)
assert spark.read.text(path).count() == 1
spark.read.format("kafka").option("kafka.bootstrap.servers", os.environ["SMOKE_KAFKA"]) \\
    .option("subscribe", "orders").load().limit(1).count()
spark.stop()
print("spark smoke test passed")
"""


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("spark", argv, what, **kwargs)


class Spark(Service):
    """pyspark's virtual environment and the Kafka/S3A jars; drivers are started per pipeline by Dagster."""

    name = "spark"
    health_timeout = 10.0  # nothing to wait for: installed and smoke-tested, or not
    daemon = False

    def address(self) -> str:
        return f"{setting('SPARK_MASTER')} (pyspark {self.version()}; one driver per pipeline, started by Dagster)"

    def ports(self) -> list[tuple[str, int]]:
        return []  # no daemon; a driver's UI only when SPARK_UI_PORT is set

    def version(self) -> str:
        """pyspark's pinned version (requirements.txt)."""
        pins = [
            line.split("==", 1)[1] for line in REQUIREMENTS.read_text().splitlines() if line.startswith("pyspark==")
        ]
        return pins[0] if pins else "?"

    def venv(self) -> Path:
        return self.cfg.downloads / self.name / "venv"

    def python(self) -> Path:
        """The interpreter of the drivers."""
        return self.venv() / "bin" / "python"

    def jars(self) -> Path:
        return self.cfg.downloads / self.name / "jars"

    def fingerprint(self) -> str:
        """Of what was installed: the requirements and the pom."""
        return hashlib.sha256(REQUIREMENTS.read_bytes() + POM.read_bytes()).hexdigest()

    def install(self) -> None:
        """Create the environment and fetch the jars once (again when requirements.txt or the pom change)."""
        stamp = self.dir("downloads") / ".installed"
        if stamp.exists() and stamp.read_text() == self.fingerprint() and self._jars_present():
            return
        install_requirements("spark", self.venv(), REQUIREMENTS)
        self._fetch_jars()
        stamp.write_text(self.fingerprint())

    def _jars_present(self) -> bool:
        names = [p.name for p in self.jars().glob("*.jar")] if self.jars().is_dir() else []
        return all(any(n.startswith(prefix) for n in names) for prefix in REQUIRED_JARS)

    def _fetch_jars(self) -> None:
        downloads = self.dir("downloads")
        staging = downloads / "jars.partial"
        shutil.rmtree(staging, ignore_errors=True)
        run(
            [
                "mvn",
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(POM),
                f"-Dmaven.repo.local={downloads / 'm2'}",
                f"-Dspark.jars={staging}",
                "dependency:copy-dependencies",
            ],
            "fetch the Kafka source and S3A for Spark from Maven Central",
        )
        shutil.rmtree(self.jars(), ignore_errors=True)
        staging.rename(self.jars())

    def processes(self) -> list[ProcessSpec]:
        return []  # drivers are started by Dagster (assets/spark/launcher.py), one per pipeline

    def healthy(self) -> bool:
        """Installed, and a driver started here passed the smoke test with this installation."""
        smoke = self.cfg.data / self.name / ".smoke"
        return (
            self.python().exists()
            and self._jars_present()
            and smoke.exists()
            and smoke.read_text() == self.fingerprint()
        )

    def prepare(self) -> None:
        """Start a driver once per installation: it must read Kafka and write and read an object via s3a://."""
        smoke = self.dir("data") / ".smoke"
        if smoke.exists() and smoke.read_text() == self.fingerprint():
            return
        java_home = Path(java_binary("spark")).parents[1]
        run(
            [str(self.python()), "-c", SMOKE_TEST],
            "start a Spark driver that reads Kafka and writes to s3a://",
            cwd=self.dir("data"),
            env={
                **os.environ,
                "JAVA_HOME": str(java_home),
                "SPARK_LOCAL_IP": "127.0.0.1",
                "PYSPARK_PYTHON": str(self.python()),
                "SMOKE_JARS": str(self.jars()),
                "SMOKE_S3_ENDPOINT": self.cfg.s3_endpoint,
                "SMOKE_S3_REGION": self.cfg.s3_region,
                "SMOKE_BUCKET": self.cfg.s3_bucket,
                "SMOKE_KAFKA": self.cfg.kafka_bootstrap,
                # S3A's EnvironmentVariableCredentialsProvider: the keys never enter Spark's configuration.
                "AWS_ACCESS_KEY_ID": self.cfg.s3_access_key,
                "AWS_SECRET_ACCESS_KEY": self.cfg.s3_secret_key,
            },
        )
        smoke.write_text(self.fingerprint())
