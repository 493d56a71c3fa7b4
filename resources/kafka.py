"""Kafka access for the pipeline: admin and consumer clients built from one setting."""

from __future__ import annotations

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from dagster import ConfigurableResource


class KafkaResource(ConfigurableResource):
    """Kafka cluster connection (KAFKA_BOOTSTRAP_SERVERS)."""

    bootstrap_servers: str

    def admin(self) -> AdminClient:
        """An admin client (metadata, topics, offsets)."""
        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def consumer(self, **overrides: object) -> Consumer:
        """A consumer that never commits on its own; callers assign partitions explicitly."""
        config: dict[str, object] = {
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": "lakehouse-bronze",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            "isolation.level": "read_committed",
        }
        config.update(overrides)
        return Consumer(config)
