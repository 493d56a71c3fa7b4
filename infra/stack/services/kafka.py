"""Apache Kafka: one KRaft node that is both broker and controller, its storage formatted once.

The broker and its runtime dependencies come from Maven Central (infra/kafka/pom.xml pins every version), copied
into one lib/ folder; the process is the JVM itself (kafka.Kafka), logging to stdout (infra/kafka/log4j2.properties).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from infra.stack.commands import java_binary, run_command
from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service, StackError
from resources.settings import setting

KAFKA_FILES = REPO_ROOT / "infra" / "kafka"
POM = KAFKA_FILES / "pom.xml"
LOG4J2_CONFIG = KAFKA_FILES / "log4j2.properties"
JVM_OPTS = ["-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]
# The topics the platform reads, with their partition counts; replication factor 1 on a single node. The change
# topic is created here as Debezium would (one partition keeps it in commit order), so that bronze's sensor finds
# it before the connector has first run (docs/cdc.md).
DEFAULT_TOPICS: dict[str, int] = {"lab-events": 2, "orders": 3, "dbserver1.app.orders": 1}


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("kafka", argv, what, **kwargs)


class Kafka(Service):
    """Single-node Kafka in KRaft mode; topics are never created implicitly (auto.create.topics.enable=false)."""

    name = "kafka"

    def broker(self) -> tuple[str, int]:
        """Host and port of the PLAINTEXT listener: the first address of KAFKA_BOOTSTRAP_SERVERS."""
        return host_port(self.cfg.kafka_bootstrap.split(",")[0].strip(), 9092)

    def controller(self) -> tuple[str, int]:
        """Host and port of the CONTROLLER listener: the broker's host, port KAFKA_CONTROLLER_PORT (9093)."""
        return self.broker()[0], int(setting("KAFKA_CONTROLLER_PORT"))

    def address(self) -> str:
        return f"{self.cfg.kafka_bootstrap} (controller :{self.controller()[1]})"

    def ports(self) -> list[tuple[str, int]]:
        return [self.broker(), self.controller()]

    def lib(self) -> Path:
        """The broker's classpath folder."""
        return self.cfg.downloads / self.name / "lib"

    def log_dir(self) -> Path:
        """Where the broker keeps its partitions and the metadata log."""
        return self.cfg.data / self.name / "log-dir"

    def properties(self) -> Path:
        """The broker's configuration, rewritten from the environment by every install()."""
        return self.cfg.data / self.name / "server.properties"

    def install(self) -> None:
        """Fetch the jars once (redone when pom.xml changes), write server.properties, format the storage once."""
        lib, stamp = self.lib(), self.cfg.downloads / self.name / ".installed"
        fingerprint = hashlib.sha256(POM.read_bytes()).hexdigest()
        if not (stamp.exists() and stamp.read_text() == fingerprint and lib.is_dir()):
            self._fetch_jars(lib)
            stamp.write_text(fingerprint)
        self._write_properties()
        self._format_storage()

    def _fetch_jars(self, lib: Path) -> None:
        downloads = self.dir("downloads")
        staging = downloads / "lib.partial"
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
                f"-Dkafka.lib={staging}",
                "dependency:copy-dependencies",
            ],
            "fetch the Kafka broker jars from Maven Central",
        )
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)

    def _write_properties(self) -> None:
        (host, port), (_, controller_port) = self.broker(), self.controller()
        settings = {
            "node.id": 1,
            "process.roles": "broker,controller",
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
            "log.dirs": self.log_dir(),
            "num.partitions": 1,
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            "group.initial.rebalance.delay.ms": 0,
        }
        self.dir("data")
        self.properties().write_text("".join(f"{key}={value}\n" for key, value in settings.items()))

    def _format_storage(self) -> None:
        """Format log.dirs as a single-node dynamic quorum, once; the cluster id is kept in cluster.id."""
        if (self.log_dir() / "meta.properties").exists():
            return
        java, classpath = java_binary("kafka"), f"{self.lib()}/*"
        id_file = self.dir("data") / "cluster.id"
        if not id_file.exists():
            output = run([java, "-cp", classpath, "kafka.tools.StorageTool", "random-uuid"], "generate a cluster id")
            id_file.write_text(output.strip().splitlines()[-1] + "\n")
        run(
            [
                java,
                f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--config",
                str(self.properties()),
                "--cluster-id",
                id_file.read_text().strip(),
                "--standalone",
                "--ignore-formatted",
            ],
            "format the Kafka storage",
        )

    def processes(self) -> list[ProcessSpec]:
        if not self.properties().exists():
            raise StackError("kafka: not installed yet (run `lakehouse up`)")
        argv = [
            str(java_binary("kafka")),
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            f"{self.lib()}/*",
            "kafka.Kafka",
            str(self.properties()),
        ]
        return [ProcessSpec(name="kafka", argv=argv, cwd=self.dir("data"))]

    def _admin(self) -> AdminClient:
        # log_level 0: no librdkafka "connection refused" lines while the broker is still starting.
        return AdminClient({"bootstrap.servers": self.cfg.kafka_bootstrap, "log_level": 0})

    def healthy(self) -> bool:
        """The broker answers a metadata request and lists itself."""
        try:
            return bool(self._admin().list_topics(timeout=2).brokers)
        except KafkaException:
            return False

    def bootstrap(self) -> None:
        """Create DEFAULT_TOPICS (replication factor 1); a topic that already exists is left as it is."""
        new = [NewTopic(topic, num_partitions=n, replication_factor=1) for topic, n in DEFAULT_TOPICS.items()]
        admin = self._admin()  # keep the client alive until every future is done
        for topic, future in admin.create_topics(new, request_timeout=15).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise StackError(f"kafka: could not create topic {topic!r}: {exc.args[0].str()}") from exc
