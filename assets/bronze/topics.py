"""Which topics are ingested to bronze, and how their payloads are read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from resources.definitions import load_settings

FORMATS = ("json", "text")


@dataclass(frozen=True)
class TopicSpec:
    """One ingested topic: its payload format and, optionally, the schema its records must satisfy."""

    topic: str
    fmt: str = "json"
    schema: str | None = None

    @property
    def name(self) -> str:
        """A Dagster-safe name for the topic (lab-events -> lab_events)."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.topic)


def parse_topics(value: str) -> list[TopicSpec]:
    """Parse 'topic:format[:schema],...' (BRONZE_TOPICS); a clear ValueError on anything malformed."""
    from assets.bronze.schemas import SCHEMAS

    specs = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        topic, _, rest = item.partition(":")
        fmt, _, schema = (rest or "json").partition(":")
        if fmt not in FORMATS:
            raise ValueError(f"BRONZE_TOPICS: {item!r}: format must be one of {FORMATS}")
        if schema and schema not in SCHEMAS:
            raise ValueError(f"BRONZE_TOPICS: {item!r}: unknown schema {schema!r}; known: {sorted(SCHEMAS)}")
        if schema and fmt != "json":
            raise ValueError(f"BRONZE_TOPICS: {item!r}: a schema needs the json format")
        specs.append(TopicSpec(topic, fmt, schema or None))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"BRONZE_TOPICS: topics listed twice or clashing names: {value!r}")
    return specs


def configured_topics() -> list[TopicSpec]:
    """The topics of BRONZE_TOPICS (default: lab-events as text, orders as json with the orders schema)."""
    return parse_topics(load_settings().bronze_topics)
