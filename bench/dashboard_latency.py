"""Benchmark: time from an order event produced to Kafka to its appearance in the data of the dashboard's chart
"Orders by status, last hour", under the main command (`bash infra/dev.sh`: sensors, schedule, Superset up).

    .venv/bin/python bench/dashboard_latency.py [--events 4] [--spacing 15]

Sends `--events` marker orders (unique order ids, `--spacing` seconds apart, so they fall at different points
of the one-minute schedule) and polls Superset's /api/v1/chart/data with that chart's own saved query context,
narrowed to each marker's order id, until the marker is counted. An open dashboard shows it at its next refresh
(every 30 s) after that. Prints figures; asserts nothing. The markers stay in app.orders (amount 0.01).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.dashboards import spec  # noqa: E402
from resources.definitions import platform_resources  # noqa: E402
from resources.settings import setting  # noqa: E402

CHART = "Orders by status, last hour"


def main() -> None:
    """Send the markers, poll the chart data, print each latency and a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=4)
    parser.add_argument("--spacing", type=float, default=15.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    client = platform_resources()["superset"].client()
    dataset = client.find("dataset", {"table_name": "orders_recent", "schema": spec.SCHEMA})[0]["id"]
    chart = client.find("chart", {"slice_name": CHART, "datasource_id": dataset})[0]
    context = json.loads(client.request("GET", f"chart/{chart['id']}")["result"]["query_context"])
    producer = Producer({"bootstrap.servers": setting("KAFKA_BOOTSTRAP_SERVERS")})
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    next_send, deadline = time.monotonic(), time.monotonic() + args.timeout
    while len(seen) < args.events and time.monotonic() < deadline:
        if len(sent) < args.events and time.monotonic() >= next_send:
            order_id = f"latency-{uuid.uuid4().hex[:12]}"
            event = {"event_id": str(uuid.uuid4()), "order_id": order_id, "customer_id": "bench", "status": "created",
                     "amount": 0.01, "currency": "VND",
                     "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
            producer.produce("orders", key=order_id.encode(), value=json.dumps(event).encode())
            producer.flush(10)
            sent[order_id], next_send = time.monotonic(), time.monotonic() + args.spacing
        for order_id in [o for o in sent if o not in seen]:
            query = dict(context["queries"][0])
            query["filters"] = [*query["filters"], {"col": "order_id", "op": "==", "val": order_id}]
            rows = client.request("POST", "chart/data", json={**context, "queries": [query]})["result"][0]["data"]
            if rows:
                seen[order_id] = time.monotonic() - sent[order_id]
                print(f"{order_id}: in the chart data {seen[order_id]:.1f} s after it was produced", flush=True)
        time.sleep(2.0)  # a figure in whole seconds is enough; faster polling only loads Superset
    if seen:
        values = sorted(seen.values())
        print(f"{len(values)}/{args.events} markers seen: min {values[0]:.1f} s, "
              f"median {statistics.median(values):.1f} s, max {values[-1]:.1f} s (plus up to {spec.REFRESH_SECONDS} s until an open dashboard refreshes)")
    missing = args.events - len(seen)
    if missing:
        print(f"{missing} marker(s) not seen within {args.timeout:.0f} s")


if __name__ == "__main__":
    main()
