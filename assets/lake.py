"""The Kafka topics and their bronze assets, built from BRONZE_TOPICS (the models, dashboard and engines have their
own packages under assets/)."""

from __future__ import annotations

from assets.bronze import TopicSpec, build_bronze_asset, configured_topics, kafka_topic_spec


def bronze_assets(topics: list[TopicSpec] | None = None) -> dict[TopicSpec, object]:
    """The bronze asset of each configured topic."""
    return {spec: build_bronze_asset(spec) for spec in (topics or configured_topics())}


def kafka_sources(topics: list[TopicSpec] | None = None) -> list:
    """The Kafka topics as external assets (the start of the lineage)."""
    return [kafka_topic_spec(spec) for spec in (topics or configured_topics())]
