"""Write bronze and quarantine objects: zstd JSON lines at deterministic keys, spooled to disk, written once."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import zstandard
from botocore.exceptions import ClientError

ZSTD_LEVEL = 1  # ~3x faster than gzip level 1 and smaller (docs/decisions.md); silver reads each object once
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # larger objects spill to a temporary file: memory stays bounded
FLUSH_BYTES = 256 * 1024  # lines are handed to the compressor in chunks of about this size
SUFFIX = ".jsonl.zst"


@dataclass
class _Group:
    spool: tempfile.SpooledTemporaryFile
    compressor: zstandard.ZstdCompressionObj
    first: int
    last: int = -1
    records: int = 0
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0

    def flush(self) -> None:
        """Compress the pending lines into the spool (and count them: not per line, which costs per record)."""
        if self.pending:
            self.spool.write(self.compressor.compress(b"".join(self.pending)))
            self.records += len(self.pending)
            self.pending.clear()
            self.pending_bytes = 0

    def close(self) -> int:
        """End the zstd frame; return the object's size."""
        self.flush()
        self.spool.write(self.compressor.flush())
        size = self.spool.tell()
        self.spool.seek(0)
        return size


@dataclass
class ObjectWriter:
    """Collects lines per (layer, partition, date) and uploads one object per group."""

    topic: str
    layer_prefix: dict[str, str]  # layer name -> key prefix, e.g. {"bronze": "bronze/stream", ...}
    topic_id: str = ""  # Kafka's topic id: a re-created topic's objects never collide with the old topic's
    groups: dict[tuple[str, int, str], _Group] = field(default_factory=dict)

    def add(self, layer: str, partition: int, dt: str, offset: int, line: bytes) -> None:
        """Append one JSON line (ending in a newline) to its group (groups are written in offset order)."""
        key = (layer, partition, dt)
        group = self.groups.get(key)
        if group is None:
            # a compressor of its own: compressobj()s of one ZstdCompressor share its context, so groups
            # flushed in turn would interleave their frames (matches pointing at another object's bytes)
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
            group = self.groups[key] = _Group(
                tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY), compressor.compressobj(), offset
            )
        group.pending.append(line)
        group.pending_bytes += len(line)
        if group.pending_bytes >= FLUSH_BYTES:
            group.flush()
        group.last = offset

    def object_key(self, layer: str, partition: int, dt: str, group: _Group) -> str:
        """bronze/stream/<topic>/dt=<date>/<topic>[-<topic id[:8]>]-p<partition>-<first>-<last>.jsonl.zst
        (same shape for quarantine); the id in URL-safe base64, as Kafka's own tools print it."""
        name = f"{self.topic}-{topic_token(self.topic_id)}" if self.topic_id else self.topic
        return f"{self.layer_prefix[layer]}/{self.topic}/dt={dt}/{name}-p{partition}-{group.first}-{group.last}{SUFFIX}"

    def upload(self, s3, bucket: str) -> list[dict]:
        """Upload every group not already in the store; return one summary per object."""
        written = []
        for (layer, partition, dt), group in sorted(self.groups.items()):
            size = group.close()
            key = self.object_key(layer, partition, dt, group)
            existing = _head(s3, bucket, key)
            if existing is None:
                s3.upload_fileobj(
                    group.spool,
                    bucket,
                    key,
                    ExtraArgs={
                        "ContentType": "application/x-ndjson",
                        "ContentEncoding": "zstd",
                        "Metadata": {
                            "records": str(group.records),
                            "first-offset": str(group.first),
                            "last-offset": str(group.last),
                        },
                    },
                )
            elif existing.get("records") != str(group.records):
                raise RuntimeError(
                    f"s3://{bucket}/{key} already exists with {existing.get('records')} records, "
                    f"this batch has {group.records}: the topic's history changed under the same offsets"
                )
            group.spool.close()
            written.append(
                {
                    "layer": layer,
                    "key": key,
                    "records": group.records,
                    "bytes": size,
                    "partition": partition,
                    "first": group.first,
                    "last": group.last,
                    "already_present": existing is not None,
                }
            )
        self.groups.clear()
        return written


def topic_token(topic_id: str) -> str:
    """The topic id as object names carry it: its first 8 characters of URL-safe base64 (Kafka renders ids in
    base64, whose '/' would split a key into folders)."""
    return topic_id.replace("+", "-").replace("/", "_")[:8]


def _head(s3, bucket: str, key: str) -> dict | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
