"""The orchestrator's faults, for real: `dagster dev` killed with every child (as when its host dies) and restarted,
and failure alerts posted to a webhook. Each test runs its own `dagster dev` on a throw-away instance
(tests/support/dagster_dev.py) with the probe code location, so nothing of the platform's state is touched."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterEventType

from tests.support.dagster_dev import private_dagster
from tests.support.probe_location import FAKE_SECRET

PROBE = "tests.support.probe_location"


def test_a_run_whose_orchestrator_was_killed_is_failed_and_frees_the_queue(core_stack):
    with private_dagster(core_stack, PROBE) as dagster:
        dagster.start()
        stuck = dagster.launch("sleeper", {"ops": {"sleep": {"config": {"seconds": 600}}}})
        dagster.wait_for(stuck, {"STARTED"}, timeout=180)
        # Same tag as the models runs (limit 1): it can only start once the first one is out of the way.
        later = dagster.launch("sleeper", {"ops": {"sleep": {"config": {"seconds": 1}}}})
        time.sleep(5)
        assert dagster.run(later).status == "QUEUED"

        dagster.kill()  # dagster dev, webserver, daemon, code server and the run worker: kill -9, all at once
        assert dagster.processes() == []
        with dagster.instance() as instance:  # what the killed orchestrator left behind
            assert instance.get_run_by_id(stuck).status.value == "STARTED"

        restarted = time.monotonic()
        dagster.start()
        started_in = time.monotonic() - restarted
        failed = dagster.wait_for(stuck, {"FAILURE"}, timeout=300, poll=2)
        time_to_fail = time.monotonic() - restarted
        done = dagster.wait_for(later, {"SUCCESS", "FAILURE"}, timeout=300, poll=2)
        time_to_next = time.monotonic() - restarted
        with dagster.instance() as instance:
            reasons = [e.message for e in instance.all_logs(stuck, of_type=DagsterEventType.RUN_FAILURE)]
        print(f"\ndead run failed {time_to_fail:.0f}s after the restart began (dagster dev took "
              f"{started_in:.0f}s to answer); the queued run finished after {time_to_next:.0f}s")

    assert failed.status == "FAILURE"
    assert any("run worker process" in reason and "is gone" in reason for reason in reasons), reasons
    assert done.status == "SUCCESS"
    assert time_to_fail - started_in < 90  # within a monitoring poll (30 s) of the daemon being back, and slack


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        _Hook.received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 recording what is POSTed to it."""
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Hook.received
    server.shutdown()
    server.server_close()


def test_a_failed_run_is_logged_and_posted_to_the_webhook_without_secrets(core_stack, webhook):
    url, received = webhook
    env = {"ALERT_WEBHOOK_URL": f"{url}/hooks/token-abc", "DAGSTER_UI_URL": "http://dagster.example:3000"}
    with private_dagster(core_stack, PROBE, env=env) as dagster:
        dagster.start()
        fine = dagster.launch("quick")
        failed = dagster.launch("failing")
        dagster.wait_for(fine, {"SUCCESS"}, timeout=180)
        dagster.wait_for(failed, {"FAILURE"}, timeout=180)
        deadline = time.monotonic() + 120
        while not received and time.monotonic() < deadline:
            time.sleep(1)
        ticks = dagster.graphql("""{ sensorOrError(sensorSelector: {repositoryLocationName: "lakehouse",
            repositoryName: "__repository__", sensorName: "run_failure_alerts"}) { ... on Sensor {
            sensorState { ticks(limit: 20) { status logEvents { events { message } } } } } } }""")
        time.sleep(15)  # another tick or two: the successful run must not be posted, nor the failure twice

    assert [r["path"] for r in received] == ["/hooks/token-abc"]
    body = received[0]["body"]
    assert body["job"] == "failing" and body["run_id"] == failed
    assert body["url"] == f"http://dagster.example:3000/runs/{failed}"
    assert "probe failure: cannot reach" in body["error"]
    assert FAKE_SECRET not in json.dumps(body) and "***" in body["error"]
    logged = [e["message"] for t in ticks["sensorOrError"]["sensorState"]["ticks"]
              for e in t["logEvents"]["events"]]
    assert any(failed in m and "probe failure" in m for m in logged), logged
    assert not any(FAKE_SECRET in m for m in logged)
