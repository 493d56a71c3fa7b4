"""`lakehouse produce`: realistic, reproducible order events (or plain text lines) written to Kafka.

Same --seed and same --start give the same events; without --seed each run draws a new seed (printed),
so two runs never send the same event ids. The event clock advances 1/rate seconds per event
(1 ms when --rate 0 means "as fast as possible"); --disorder shuffles event times within that bound,
and --late/--duplicate/--bad fractions inject the problems a streaming pipeline must survive.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

STATUSES = ("created", "paid", "shipped", "cancelled")
CURRENCIES = ("VND", "USD", "EUR")
BAD_KINDS = ("malformed_json", "missing_field", "wrong_type")
REQUIRED_FIELDS = ("event_id", "order_id", "status", "amount", "created_at")
LATE_BY_SECONDS = (300.0, 900.0)  # late events are 5 to 15 minutes behind the event clock
TEXT_WORDS = ("user", "clicked", "viewed", "checkout", "cart", "search", "login", "logout", "page")


class GeneratorError(RuntimeError):
    """The generator cannot run: the message says why."""


@dataclass(frozen=True)
class GeneratorSpec:
    """What to generate."""

    topic: str = "orders"
    count: int | None = 1000  # None: until stopped (or --duration)
    rate: float = 100.0  # events per second; 0 = as fast as possible
    seed: int = 7
    disorder: float = 0.0  # seconds
    late_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    bad_fraction: float = 0.0
    start: datetime | None = None  # event clock start; None = now
    fmt: str = "json"  # "json" order events, or "text" lines (the lab's console producer)


@dataclass(frozen=True)
class Event:
    """One message to send, with what kind of message it is."""

    kind: str  # ok, late, duplicate, malformed_json, missing_field, wrong_type, text
    key: bytes | None
    value: bytes
    event_id: str | None


@dataclass
class Report:
    """What was sent and where it landed."""

    topic: str
    by_kind: Counter = field(default_factory=Counter)
    by_partition: Counter = field(default_factory=Counter)
    delivered: int = 0
    failed: list[str] = field(default_factory=list)
    records: list[tuple[int, int, str, str | None]] = field(default_factory=list)  # partition, offset, kind, id

    def summary(self) -> dict:
        """A JSON-friendly summary (without the per-record list)."""
        return {
            "topic": self.topic,
            "sent": sum(self.by_kind.values()),
            "delivered": self.delivered,
            "failed": len(self.failed),
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_partition": {str(p): n for p, n in sorted(self.by_partition.items())},
        }


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bad(rng: random.Random, order: dict) -> tuple[str, bytes]:
    kind = rng.choice(BAD_KINDS)
    if kind == "malformed_json":
        text = json.dumps(order)
        return kind, text[: rng.randint(1, len(text) - 2)].encode()
    broken = dict(order)
    if kind == "missing_field":
        del broken[rng.choice(REQUIRED_FIELDS)]
    else:
        field_name = rng.choice(("amount", "created_at", "status"))
        broken[field_name] = {"amount": "12,50 VND", "created_at": 1700000000, "status": 42}[field_name]
    return kind, json.dumps(broken).encode()


def generate(spec: GeneratorSpec) -> Iterator[Event]:
    """The events of `spec`, in send order (endless when spec.count is None)."""
    rng = random.Random(spec.seed)
    start = spec.start or datetime.now(timezone.utc).replace(microsecond=0)
    step = 1.0 / spec.rate if spec.rate > 0 else 0.001
    open_orders: list[tuple[str, int]] = []  # (order_id, index into STATUSES)
    sent_ok: list[Event] = []
    i = 0
    while spec.count is None or i < spec.count:
        clock = start + timedelta(seconds=i * step)
        i += 1
        if spec.fmt == "text":
            words = " ".join(rng.choice(TEXT_WORDS) for _ in range(rng.randint(2, 6)))
            yield Event("text", None, f"user-{rng.randint(1, 500)} {words}".encode(), None)
            continue
        roll = rng.random()
        if sent_ok and roll < spec.duplicate_fraction:
            original = rng.choice(sent_ok)
            yield Event("duplicate", original.key, original.value, original.event_id)
            continue
        event_time = clock - timedelta(seconds=rng.uniform(0, spec.disorder))
        kind = "ok"
        if roll < spec.duplicate_fraction + spec.late_fraction:
            kind = "late"
            event_time = clock - timedelta(seconds=rng.uniform(*LATE_BY_SECONDS))
        if open_orders and rng.random() < 0.6:
            idx = rng.randrange(len(open_orders))
            order_id, stage = open_orders[idx]
            stage = 3 if rng.random() < 0.1 else min(stage + 1, 2)
            if stage >= 2:
                open_orders.pop(idx)
            else:
                open_orders[idx] = (order_id, stage)
        else:
            order_id, stage = f"o-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}", 0
            open_orders.append((order_id, stage))
        order = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "order_id": order_id,
            "customer_id": f"c-{rng.randint(1, 5000):05d}",
            "status": STATUSES[stage],
            "amount": round(rng.uniform(5, 500), 2),
            "currency": rng.choice(CURRENCIES),
            "created_at": _iso(event_time),
        }
        key = order_id.encode()
        if roll < spec.duplicate_fraction + spec.late_fraction + spec.bad_fraction and kind == "ok":
            bad_kind, value = _bad(rng, order)
            yield Event(bad_kind, key, value, order["event_id"])
            continue
        event = Event(kind, key, json.dumps(order, separators=(",", ":")).encode(), order["event_id"])
        if len(sent_ok) < 10_000:
            sent_ok.append(event)
        yield event


def _check_topic(admin: AdminClient, topic: str, bootstrap: str) -> int:
    try:
        meta = admin.list_topics(timeout=10)
    except KafkaException as exc:
        raise GeneratorError(f"Kafka at {bootstrap} is unreachable ({exc}); start it with `lakehouse up`") from exc
    if topic not in meta.topics or meta.topics[topic].error is not None:
        known = ", ".join(sorted(t for t in meta.topics if not t.startswith("__")))
        raise GeneratorError(f"topic {topic!r} does not exist on {bootstrap}; existing topics: {known}")
    return len(meta.topics[topic].partitions)


def _interrupt_flag() -> tuple[threading.Event, object]:
    """(an event that Ctrl-C sets, the SIGINT handler it replaces). A KeyboardInterrupt raised inside librdkafka's
    poll() surfaces as a SystemError and loses what was not delivered yet; a flag lets the loop stop between two
    records and flush."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        return stop, None  # not ours to change (an ignored SIGINT stays ignored, as for any background job)
    return stop, signal.signal(signal.SIGINT, lambda *_: stop.set())


def produce(spec: GeneratorSpec, bootstrap: str, keep_records: bool = False, stop_after: float | None = None) -> Report:
    """Send the events of `spec` to Kafka at the spec's rate; return what was sent and delivered."""
    _check_topic(AdminClient({"bootstrap.servers": bootstrap}), spec.topic, bootstrap)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
        }
    )
    report = Report(spec.topic)

    def on_delivery(err, msg, kind=None, event_id=None) -> None:
        if err is not None:
            report.failed.append(f"{kind} {event_id}: {err}")
            return
        report.delivered += 1
        report.by_partition[msg.partition()] += 1
        if keep_records:
            report.records.append((msg.partition(), msg.offset(), kind, event_id))

    began = time.monotonic()
    interrupted, previous_handler = _interrupt_flag()
    try:
        for n, event in enumerate(generate(spec)):
            if interrupted.is_set() or (stop_after is not None and time.monotonic() - began >= stop_after):
                break
            if spec.rate > 0:  # poll() returns early when it serves a delivery report: wait out the whole delay
                while (delay := began + n / spec.rate - time.monotonic()) > 0:
                    producer.poll(delay)
            while True:
                try:
                    producer.produce(
                        spec.topic,
                        event.value,
                        event.key,
                        on_delivery=lambda err, msg, k=event.kind, e=event.event_id: on_delivery(err, msg, k, e),
                    )
                    break
                except BufferError:
                    producer.poll(0.1)
            report.by_kind[event.kind] += 1
            producer.poll(0)
    finally:  # stopped (Ctrl-C, stop_after): deliver (and report) what was already handed to the producer
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
    remaining = producer.flush(60)
    if remaining:
        report.failed.append(f"{remaining} messages still undelivered after 60 s")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `lakehouse produce` options."""
    parser.add_argument("--topic", default="orders")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--count", type=int, help="number of events (default 1000 unless --duration)")
    group.add_argument("--duration", type=float, help="seconds to run (events = rate x duration)")
    parser.add_argument("--forever", action="store_true", help="run until interrupted")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s; 0 = as fast as possible")
    parser.add_argument("--seed", type=int, default=None, help="reproduce a run (default: a new random seed)")
    parser.add_argument("--start", type=datetime.fromisoformat, help="event clock start (ISO-8601), default now")
    parser.add_argument("--disorder", type=float, default=0.0, help="shuffle event times within SECONDS")
    parser.add_argument("--late-fraction", type=float, default=0.0)
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--bad-fraction", type=float, default=0.0, help="malformed JSON, missing fields, wrong types")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("json", "text"),
        help="json order events or text lines (default: text for lab-events, else json)",
    )
    parser.set_defaults(func=_cmd_produce)


def _cmd_produce(cfg, args: argparse.Namespace) -> int:
    for name in ("late_fraction", "duplicate_fraction", "bad_fraction"):
        if not 0 <= getattr(args, name) <= 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.late_fraction + args.duplicate_fraction + args.bad_fraction > 1:
        raise SystemExit("the late, duplicate and bad fractions add up to more than 1")
    count = None if args.forever else args.count
    if count is None and not args.forever:
        count = int(args.rate * args.duration) if args.duration else 1000
    start = args.start.replace(tzinfo=args.start.tzinfo or timezone.utc) if args.start else None
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print(f"lakehouse produce: seed {seed}", file=sys.stderr)
    spec = GeneratorSpec(
        topic=args.topic,
        count=count,
        rate=args.rate,
        seed=seed,
        disorder=args.disorder,
        late_fraction=args.late_fraction,
        duplicate_fraction=args.duplicate_fraction,
        bad_fraction=args.bad_fraction,
        start=start,
        fmt=args.fmt or ("text" if args.topic == "lab-events" else "json"),
    )
    try:
        report = produce(spec, cfg.kafka_bootstrap)
    except GeneratorError as exc:
        print(f"lakehouse produce: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.summary()))
    for line in report.failed[:20]:
        print(f"failed: {line}", file=sys.stderr)
    return 1 if report.failed else 0
