"""Benchmark: time from an order event produced to Kafka to its appearance in the data of the dashboard's chart
"Orders by status, last hour", under the main command already running (`bash infra/dev.sh`).

    .venv/bin/python bench/dashboard_latency.py [--events 20] [--spacing 3]

Sends `--events` marker orders (unique order ids, `--spacing` seconds apart) and polls Superset's
/api/v1/chart/data with that chart's own saved query context, narrowed to each marker's order id, until the
marker is counted (bench/realtime.py does the same under a `dagster dev` of its own). An open dashboard shows it
at its next refresh (every 30 s) after that. Prints figures; asserts nothing. The markers stay in app.orders
(amount 0.01).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.realtime import _resources, latency, percentile  # noqa: E402


def main() -> None:
    """Send the markers, poll the chart data, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    seen = latency(_resources(), args.events, args.spacing, args.timeout)
    if seen:
        print(
            f"{len(seen)}/{args.events} markers seen: min {min(seen):.1f} s, median {statistics.median(seen):.1f} s, "
            f"p95 {percentile(seen, 0.95):.1f} s, max {max(seen):.1f} s (plus up to 30 s until an open dashboard "
            "refreshes)"
        )
    if len(seen) < args.events:
        print(f"{args.events - len(seen)} marker(s) not seen within {args.timeout:.0f} s")


if __name__ == "__main__":
    main()
