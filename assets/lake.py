"""Every asset of the lake, built from configuration."""
from __future__ import annotations

from assets.bronze.asset import build_bronze_asset, kafka_topic_spec
from assets.bronze.topics import TopicSpec, configured_topics


def bronze_assets(topics: list[TopicSpec] | None = None) -> dict[TopicSpec, object]:
    """The bronze asset of each configured topic."""
    return {spec: build_bronze_asset(spec) for spec in (topics or configured_topics())}


def kafka_sources(topics: list[TopicSpec] | None = None) -> list:
    """The Kafka topics as external assets (the start of the lineage)."""
    return [kafka_topic_spec(spec) for spec in (topics or configured_topics())]
