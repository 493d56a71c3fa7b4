"""The object store: a MinIO server on one local drive, built from source through the Go module proxy.

infra/s3/minio.version pins the module and version; `go install` builds it with every Go folder (GOPATH,
module and build caches) and the binary under downloads/s3. The server keeps its objects under data/s3/drive,
listens on S3_ENDPOINT's host and port and serves its web console on that host's S3_CONSOLE_PORT (9001 by default).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service, StackError
from resources.settings import setting

VERSION_FILE = REPO_ROOT / "infra" / "s3" / "minio.version"


def pinned_module() -> str:
    """'module@version' from infra/s3/minio.version (its one line that is not a comment)."""
    lines = [ln.strip() for ln in VERSION_FILE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1 or "@" not in lines[0]:
        raise StackError(f"s3: {VERSION_FILE} must hold exactly one 'module@version' line")
    return lines[0]


class S3(Service):
    """Single-node, single-drive MinIO; the root user is S3_ACCESS_KEY / S3_SECRET_KEY."""

    name = "s3"
    health_timeout = 60.0

    def api(self) -> tuple[str, int]:
        """Host and port of the S3 API, from S3_ENDPOINT."""
        return host_port(self.cfg.s3_endpoint, 9000)

    def console(self) -> tuple[str, int]:
        """Host and port of the web console: the API's host, S3_CONSOLE_PORT.

        Its own setting, not the API's port + 1: a port next to a free one is no more likely to be free, and
        the kernel hands even ports to outgoing connections first, so a throw-away stack lost it to one.
        """
        host, _ = self.api()
        return host, int(setting("S3_CONSOLE_PORT"))

    def address(self) -> str:
        host, port = self.console()
        return f"{self.cfg.s3_endpoint} (console http://{host}:{port}), bucket {self.cfg.s3_bucket}"

    def ports(self) -> list[tuple[str, int]]:
        return [self.api(), self.console()]

    def binary(self) -> Path:
        """The server binary `go install` puts in downloads/s3/bin."""
        return self.cfg.downloads / self.name / "bin" / "minio"

    def install(self) -> None:
        """Build the pinned server once (again when infra/s3/minio.version changes)."""
        module, stamp = pinned_module(), self.cfg.downloads / self.name / ".installed"
        if stamp.exists() and stamp.read_text() == module and self.binary().exists():
            return
        self._build(module)
        stamp.write_text(module)

    def _build(self, module: str) -> None:
        go = shutil.which("go")
        if go is None:
            raise StackError("s3: no Go toolchain on PATH; install Go 1.24 or newer to build the MinIO server")
        downloads = self.dir("downloads")
        env = os.environ | {
            "GOBIN": str(self.binary().parent),
            "GOPATH": str(downloads / "gopath"),
            "GOMODCACHE": str(downloads / "gopath" / "pkg" / "mod"),
            "GOCACHE": str(downloads / "gocache"),
            "GOFLAGS": f"{os.environ.get('GOFLAGS', '')} -modcacherw".strip(),  # so the folder can be deleted
            "CGO_ENABLED": "0",
        }
        argv = [go, "install", "-trimpath", "-ldflags=-s -w", module]  # as MinIO's own Makefile builds it
        try:
            done = subprocess.run(argv, env=env, cwd=downloads, capture_output=True, text=True, timeout=3600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"s3: could not build the MinIO server: {shlex.join(argv)}: {exc}") from exc
        if done.returncode != 0 or not self.binary().exists():
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
            raise StackError(
                f"s3: could not build the MinIO server (exit {done.returncode}): {shlex.join(argv)}\n{tail}"
            )

    def processes(self) -> list[ProcessSpec]:
        if not self.binary().exists():
            raise StackError("s3: not installed yet (run `lakehouse up`)")
        (host, port), (_, console_port) = self.api(), self.console()
        drive = self.dir("data") / "drive"
        drive.mkdir(exist_ok=True)
        argv = [
            str(self.binary()),
            "server",
            "--address",
            f"{host}:{port}",
            "--console-address",
            f"{host}:{console_port}",
            str(drive),
        ]
        env = {
            "MINIO_ROOT_USER": self.cfg.s3_access_key,
            "MINIO_ROOT_PASSWORD": self.cfg.s3_secret_key,
            "MINIO_SITE_REGION": self.cfg.s3_region,
        }
        return [ProcessSpec(name="s3", argv=argv, env=env, cwd=self.dir("data"))]

    def _client(self):
        """A boto3 S3 client (path-style, SigV4) that gives up quickly."""
        return boto3.client(
            "s3",
            endpoint_url=self.cfg.s3_endpoint,
            aws_access_key_id=self.cfg.s3_access_key,
            aws_secret_access_key=self.cfg.s3_secret_key,
            region_name=self.cfg.s3_region,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=1,
                read_timeout=3,
                retries={"max_attempts": 1},
            ),
        )

    def healthy(self) -> bool:
        """ListBuckets succeeds with the root credentials."""
        try:
            self._client().list_buckets()
            return True
        except (BotoCoreError, ClientError):
            return False

    def bootstrap(self) -> None:
        """Create S3_BUCKET unless it exists."""
        client, bucket = self._client(), self.cfg.s3_bucket
        kwargs = (
            {}
            if self.cfg.s3_region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": self.cfg.s3_region}}
        )
        try:
            client.create_bucket(Bucket=bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise StackError(f"s3: could not create bucket {bucket!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise StackError(f"s3: could not create bucket {bucket!r}: {exc}") from exc
