"""The Kafka broker of the stack: messages go in and come back intact, in order per partition."""

from __future__ import annotations

from collections import defaultdict

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.stack.services.kafka import DEFAULT_TOPICS


def test_thousand_messages_round_trip_in_order_per_partition(resources, fresh_topic):
    bootstrap = resources["kafka"].bootstrap_servers
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    sent = {}
    for seq in range(1000):
        key = f"k{seq % 17}".encode()
        value = f"message {seq} ".encode() + bytes(range(256))  # binary-safe payload
        producer.produce(fresh_topic, value, key)
        sent[seq] = (key, value)
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-roundtrip", "enable.auto.commit": False})
    consumer.assign([TopicPartition(fresh_topic, p, 0) for p in range(3)])
    got = defaultdict(list)
    received = 0
    while received < 1000:
        msg = consumer.poll(10)
        assert msg is not None, f"only {received} of 1000 messages came back"
        assert msg.error() is None, msg.error()
        got[msg.partition()].append(msg)
        received += 1
    consumer.close()

    seen = set()
    for partition, msgs in got.items():
        seqs = [int(m.value().split(b" ")[1]) for m in msgs]
        assert seqs == sorted(seqs), f"partition {partition} out of order"
        assert [m.offset() for m in msgs] == list(range(len(msgs)))
        for m, seq in zip(msgs, seqs, strict=False):
            assert (m.key(), m.value()) == sent[seq]
            seen.add(seq)
    assert seen == set(range(1000))
    # the same key always lands on the same partition
    by_key = defaultdict(set)
    for partition, msgs in got.items():
        for m in msgs:
            by_key[m.key()].add(partition)
    assert all(len(parts) == 1 for parts in by_key.values())


def test_platform_topics_exist_with_their_partitions(resources):
    meta = resources["kafka"].admin().list_topics(timeout=10)
    for topic, partitions in DEFAULT_TOPICS.items():
        assert topic in meta.topics, f"topic {topic} missing"
        assert len(meta.topics[topic].partitions) == partitions


def test_unknown_topics_are_not_created_on_the_fly(resources):
    producer = Producer({"bootstrap.servers": resources["kafka"].bootstrap_servers, "message.timeout.ms": 5000})
    errors = []
    producer.produce("no-such-topic-xyz", b"x", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert errors and errors[0] is not None, "producing to an unknown topic should fail"
    meta = resources["kafka"].admin().list_topics(timeout=10)
    assert "no-such-topic-xyz" not in meta.topics
