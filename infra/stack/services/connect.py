"""Kafka Connect (optional, `lakehouse up --with connect`): one distributed-mode worker with Debezium's PostgreSQL
connector, its REST API on CONNECT_URL (default port 8084: 8083 is Flink's SQL Gateway).

Maven Central provides both (infra/connect/pom.xml): the Connect runtime of the broker's own Kafka release (the
version is read from infra/kafka/pom.xml) and Debezium's plugin archive, unpacked into its own folder under
plugin.path. `plugin.discovery=service_load` finds the connector through its ServiceLoader manifest instead of
scanning every jar (about 13 s saved at each start). The worker keeps connector configs, offsets and status in
three compacted topics of the stack's Kafka (replication factor 1). The CDC role's password reaches the worker as
an environment variable that connector configs reference as ${env:CDC_PG_PASSWORD} (EnvVarConfigProvider, allowed
to read that variable only): never in an argv, a file, a connector config or the config topic.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from infra.stack.commands import java_binary, run_command
from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service, StackError, http_get
from infra.stack.services.kafka import LOG4J2_CONFIG
from infra.stack.services.kafka import POM as KAFKA_POM
from resources.settings import setting

POM = REPO_ROOT / "infra" / "connect" / "pom.xml"
JVM_OPTS = ["-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"
PLUGIN_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
PASSWORD_VARIABLE = "CDC_PG_PASSWORD"
GROUP_ID = "lakehouse-connect"
# The worker's internal topics (connector configs, source offsets, statuses), created by the worker itself.
INTERNAL_TOPICS = {
    "config": "lakehouse-connect-configs",
    "offset": "lakehouse-connect-offsets",
    "status": "lakehouse-connect-status",
}


def kafka_version() -> str:
    """The Kafka release of the broker (infra/kafka/pom.xml): the worker runs the same one."""
    namespaces = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(KAFKA_POM).getroot().findtext("m:properties/m:kafka.version", namespaces=namespaces)
    if not version:
        raise StackError(f"connect: no <kafka.version> property in {KAFKA_POM}")
    return version


class Connect(Service):
    """A Kafka Connect worker in distributed mode (a one-worker cluster), Debezium PostgreSQL installed."""

    name = "connect"
    health_timeout = 120.0

    def url(self) -> str:
        """CONNECT_URL without a trailing slash."""
        return setting("CONNECT_URL").rstrip("/")

    def address(self) -> str:
        return f"{self.url()} (Kafka Connect {kafka_version()}, Debezium PostgreSQL)"

    def ports(self) -> list[tuple[str, int]]:
        return [host_port(self.url(), 8084)]

    def lib(self) -> Path:
        """The worker's classpath folder."""
        return self.cfg.downloads / self.name / "lib"

    def plugins(self) -> Path:
        """plugin.path: one folder per connector plugin."""
        return self.cfg.downloads / self.name / "plugins"

    def properties(self) -> Path:
        """The worker's configuration, rewritten from the environment by every install()."""
        return self.cfg.data / self.name / "worker.properties"

    def install(self) -> None:
        """Fetch the jars and the plugin once (again when the pom or the broker's Kafka version changes), then
        write worker.properties."""
        stamp = self.dir("downloads") / ".installed"
        fingerprint = hashlib.sha256(POM.read_bytes() + kafka_version().encode()).hexdigest()
        if not (stamp.exists() and stamp.read_text() == fingerprint and self.lib().is_dir()):
            self._fetch()
            stamp.write_text(fingerprint)
        self._write_properties()

    def _fetch(self) -> None:
        downloads = self.dir("downloads")
        staging = downloads / "partial"
        shutil.rmtree(staging, ignore_errors=True)
        run_command(
            "connect",
            [
                "mvn",
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(POM),
                f"-Dmaven.repo.local={downloads / 'm2'}",
                f"-Dkafka.version={kafka_version()}",
                f"-Dconnect.lib={staging / 'lib'}",
                f"-Dconnect.plugins={staging / 'plugins'}",
                "dependency:copy-dependencies",
                "dependency:unpack",
            ],
            "fetch the Kafka Connect runtime and the Debezium PostgreSQL plugin from Maven Central",
        )
        for target in (self.lib(), self.plugins()):
            shutil.rmtree(target, ignore_errors=True)
            (staging / target.name).rename(target)
        shutil.rmtree(staging)

    def _write_properties(self) -> None:
        host, port = self.ports()[0]
        settings = {
            "bootstrap.servers": self.cfg.kafka_bootstrap,
            "group.id": GROUP_ID,
            **{f"{kind}.storage.topic": topic for kind, topic in INTERNAL_TOPICS.items()},
            **{f"{kind}.storage.replication.factor": 1 for kind in INTERNAL_TOPICS},
            "offset.storage.partitions": 5,
            "status.storage.partitions": 1,
            # Source offsets (Debezium's LSN) are committed this often: after a crash at most this much is re-sent.
            "offset.flush.interval.ms": 5000,
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter.schemas.enable": "false",
            "listeners": f"http://{host}:{port}",
            "rest.advertised.host.name": host,
            "rest.advertised.port": port,
            "plugin.path": self.plugins(),
            "plugin.discovery": "service_load",
            "config.providers": "env",
            "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            "config.providers.env.param.allowlist.pattern": f"^{PASSWORD_VARIABLE}$",
        }
        self.dir("data")
        self.properties().write_text("".join(f"{key}={value}\n" for key, value in settings.items()))

    def processes(self) -> list[ProcessSpec]:
        if not self.properties().exists():
            raise StackError("connect: not installed yet (run `lakehouse up --with connect`)")
        argv = [
            str(java_binary("connect")),
            *JVM_OPTS,
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            f"{self.lib()}/*",
            MAIN_CLASS,
            str(self.properties()),
        ]
        return [
            ProcessSpec(
                name="connect", argv=argv, cwd=self.dir("data"), env={PASSWORD_VARIABLE: setting(PASSWORD_VARIABLE)}
            )
        ]

    def healthy(self) -> bool:
        """The worker has joined its cluster (GET /health), answers GET /, and lists the Debezium connector."""
        if http_get(f"{self.url()}/health") is None or http_get(f"{self.url()}/") is None:
            return False
        try:
            plugins = json.loads(http_get(f"{self.url()}/connector-plugins") or b"[]")
        except ValueError:
            return False
        return any(plugin.get("class") == PLUGIN_CLASS for plugin in plugins)
