"""The code location's shape — asset keys with their group and upstream keys, asset checks, jobs, schedules and
sensors — against the snapshot committed in tests/snapshots/definitions.json, so a change of the graph shows in review.
After an intended change: `UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest tests/test_definitions_snapshot.py`."""

from __future__ import annotations

import json
import os

from infra.stack.config import REPO_ROOT

SNAPSHOT = REPO_ROOT / "tests" / "snapshots" / "definitions.json"


def shape() -> dict:
    """What the code location defines, as plain sorted data (environment defaults from .env.example)."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "upstream": sorted(k.to_user_string() for k in node.parent_keys),
        }
    return {
        "assets": assets,
        "asset_checks": sorted(k.to_user_string() for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_the_definitions_match_the_committed_snapshot(monkeypatch):
    for name in ("BRONZE_TOPICS", "FLINK_TOPIC", "SPARK_TOPIC"):  # the documented defaults shape the graph
        monkeypatch.delenv(name, raising=False)
    current = shape()
    if os.environ.get("UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    changed = {
        part: {"now": current[part], "snapshot": expected.get(part)}
        for part in current
        if current[part] != expected.get(part)
    }
    assert not changed, (
        "the code location changed; if intended, run UPDATE_SNAPSHOT=1 .venv/bin/python -m pytest "
        f"tests/test_definitions_snapshot.py and commit the snapshot: {json.dumps(changed, indent=1)}"
    )
