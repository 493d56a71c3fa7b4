"""Stack configuration, read from the environment with documented defaults (see .env.example)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from resources.settings import setting

REPO_ROOT = Path(__file__).resolve().parents[2]


def host_port(address: str, default_port: int) -> tuple[str, int]:
    """Split 'host:port' (or a URL) into its host and port."""
    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    return parts.hostname or "127.0.0.1", parts.port or default_port


@dataclass(frozen=True)
class StackConfig:
    """Where the stack keeps its files and how its services are reached."""

    home: Path
    downloads: Path  # installed software, reused across starts (LAKEHOUSE_DOWNLOADS, default <home>/downloads)
    kafka_bootstrap: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_bucket: str
    s3_region: str
    pg_url: str
    flink_rest_url: str
    flink_sql_gateway_url: str

    @classmethod
    def from_env(cls) -> StackConfig:
        """Read every setting from the environment, falling back to the documented defaults."""
        home = Path(os.environ.get("LAKEHOUSE_HOME") or REPO_ROOT / ".lakehouse").expanduser().resolve()
        downloads = os.environ.get("LAKEHOUSE_DOWNLOADS") or home / "downloads"
        return cls(
            home=home,
            downloads=Path(downloads).expanduser().resolve(),
            kafka_bootstrap=setting("KAFKA_BOOTSTRAP_SERVERS"),
            s3_endpoint=setting("S3_ENDPOINT"),
            s3_access_key=setting("S3_ACCESS_KEY"),
            s3_secret_key=setting("S3_SECRET_KEY"),
            s3_bucket=setting("S3_BUCKET"),
            s3_region=setting("S3_REGION"),
            pg_url=setting("PG_URL"),
            flink_rest_url=setting("FLINK_REST_URL"),
            flink_sql_gateway_url=setting("FLINK_SQL_GATEWAY_URL"),
        )

    @property
    def data(self) -> Path:
        """Service data (reused across starts)."""
        return self.home / "data"

    @property
    def logs(self) -> Path:
        """One log file per process."""
        return self.home / "logs"

    @property
    def run(self) -> Path:
        """Pid files of the processes the launcher started."""
        return self.home / "run"
