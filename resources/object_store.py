"""The S3-compatible object store (MinIO or any S3 API) that holds the lake's bronze and silver layers."""

from __future__ import annotations

from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from dagster import ConfigurableResource


class ObjectStoreResource(ConfigurableResource):
    """S3 endpoint, credentials and bucket (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, S3_REGION)."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"

    def client(self):
        """A boto3 S3 client with path-style addressing (what MinIO-like servers expect) and bounded retries."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def uri(self, key: str) -> str:
        """s3://<bucket>/<key>."""
        return f"s3://{self.bucket}/{key.lstrip('/')}"

    @property
    def host_port(self) -> str:
        """host:port of the endpoint, as DuckDB's httpfs wants it."""
        return urlsplit(self.endpoint).netloc

    @property
    def use_ssl(self) -> bool:
        """Whether the endpoint is https."""
        return urlsplit(self.endpoint).scheme == "https"
