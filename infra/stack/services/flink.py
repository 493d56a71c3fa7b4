"""Apache Flink (optional, `lakehouse up --with flink`): a JobManager with its web UI, one TaskManager, the SQL Gateway.

The distribution comes from PyPI: apache-flink-libraries holds lib/, opt/ and plugins/, apache-flink holds bin/
and conf/. Maven Central adds the SQL Gateway, the Kafka SQL connector and the S3 file system plugin
(infra/flink/pom.xml, which pins every version); Maven builds the platform's SQL functions (infra/flink/udf/) into
lib/. Each process is the JVM itself, started with the classpath, options and memory settings
bin/flink-console.sh would give it, so the launcher's pid is the JVM's.

Secrets stay in files only the stack's user can read (the conf folder is 0700, its files 0600): config.yaml holds
the S3 secret, pgpass the Postgres password the JDBC sink's driver reads (PGPASSFILE), so neither is in any SQL,
process argument list or log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from infra.stack.commands import java_binary, run_command
from infra.stack.config import REPO_ROOT, host_port
from infra.stack.service import ProcessSpec, Service, StackError, http_get
from resources.settings import setting

FLINK_FILES = REPO_ROOT / "infra" / "flink"
POM = FLINK_FILES / "pom.xml"
UDF = FLINK_FILES / "udf"
UDF_JAR = "lakehouse-flink-udf.jar"
TEMPLATE = FLINK_FILES / "config.yaml.template"
PYPI_PACKAGES = ("apache-flink-libraries", "apache-flink")
RPC_HOST = "127.0.0.1"
GATEWAY_HEAP = "-Xmx768m"
MAIN_CLASS = {
    "flink-jobmanager": "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
    "flink-taskmanager": "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
    "flink-sql-gateway": "org.apache.flink.table.gateway.SqlGateway",
}
# env.java.opts.all of Flink's own conf/config.yaml: the JDK 17 module access Flink needs.
# UTC, so timestamps the JDBC connector hands to Postgres mean the same instant on every machine.
JAVA_OPTS = (
    ["-XX:+IgnoreUnrecognizedVMOptions", "-Duser.timezone=UTC"]
    + [
        f"--add-exports={m}=ALL-UNNAMED"
        for m in (
            "java.rmi/sun.rmi.registry",
            "jdk.compiler/com.sun.tools.javac.api",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.compiler/com.sun.tools.javac.parser",
            "jdk.compiler/com.sun.tools.javac.tree",
            "jdk.compiler/com.sun.tools.javac.util",
            "java.security.jgss/sun.security.krb5",
        )
    ]
    + [
        f"--add-opens=java.base/{p}=ALL-UNNAMED"
        for p in (
            "java.lang",
            "java.net",
            "java.io",
            "java.nio",
            "sun.nio.ch",
            "java.lang.reflect",
            "java.text",
            "java.time",
            "java.util",
            "java.util.concurrent",
            "java.util.concurrent.atomic",
            "java.util.concurrent.locks",
        )
    ]
)
RESULT_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:"


def flink_version() -> str:
    """The Flink release pinned in infra/flink/pom.xml."""
    namespaces = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:flink.version", namespaces=namespaces)
    if not version:
        raise StackError(f"flink: no <flink.version> property in {POM}")
    return version


def rpc_port() -> int:
    """The JobManager's RPC port (FLINK_RPC_PORT); its blob server and the TaskManager pick free ports."""
    return int(setting("FLINK_RPC_PORT"))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by this user only (0600), replacing it atomically."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(text)
    partial.replace(path)


def pgpass_line(pg_url: str) -> str:
    """The pgpass line (host:port:*:user:password) that lets the Postgres driver log in as PG_URL's user."""
    parts = urlsplit(pg_url)

    def field(value: str) -> str:
        return unquote(value).replace("\\", "\\\\").replace(":", "\\:")

    return (
        ":".join(
            [
                field(parts.hostname or "127.0.0.1"),
                str(parts.port or 5432),
                "*",
                field(parts.username or ""),
                field(parts.password or ""),
            ]
        )
        + "\n"
    )


def get_json(url: str) -> dict | None:
    """The JSON body of a 200 answer from a local URL, or None."""
    body = http_get(url)
    try:
        return json.loads(body or b"{}") if body is not None else None
    except ValueError:
        return None


def run(argv: list[str], what: str, **kwargs: object) -> str:
    """run_command for this service."""
    return run_command("flink", argv, what, **kwargs)


class Flink(Service):
    """Flink session cluster plus SQL Gateway; checkpoints and savepoints go to the object store."""

    name = "flink"
    health_timeout = 120.0

    def address(self) -> str:
        return f"{self.cfg.flink_rest_url} (web UI), SQL Gateway {self.cfg.flink_sql_gateway_url}"

    def ports(self) -> list[tuple[str, int]]:
        return [
            host_port(self.cfg.flink_rest_url, 8081),
            host_port(self.cfg.flink_sql_gateway_url, 8083),
            (RPC_HOST, rpc_port()),
        ]

    def home(self) -> Path:
        """The distribution root (bin/, lib/, opt/, plugins/, conf/)."""
        return self.cfg.downloads / self.name / f"flink-{flink_version()}"

    def conf_dir(self) -> Path:
        """FLINK_CONF_DIR: config.yaml written from the template, logging settings, computed memory settings,
        the pgpass file; 0700, as config.yaml and pgpass hold secrets."""
        return self.cfg.data / self.name / "conf"

    def install(self) -> None:
        """Fetch the distribution and the extra jars once (redone when pom.xml changes), build the platform's
        functions into lib/ (redone when their sources change), then write the config."""
        home = self.home()
        stamp = home / ".installed"
        fingerprint = hashlib.sha256(POM.read_bytes()).hexdigest()
        if not (stamp.exists() and stamp.read_text() == fingerprint):
            self._install_distribution(home)
            (self.conf_dir() / "memory.json").unlink(missing_ok=True)  # recomputed by the new release
            stamp.write_text(fingerprint)
        self._install_functions(home)
        self._write_conf(home)

    def _install_functions(self, home: Path) -> None:
        """Build infra/flink/udf/ with Maven into lib/lakehouse-flink-udf.jar, unless that jar is of these sources.
        The jar is swapped in atomically, so a running cluster keeps reading the one it opened until restarted."""
        sources = sorted(p for p in UDF.rglob("*") if p.is_file() and "target" not in p.relative_to(UDF).parts)
        digest = hashlib.sha256(POM.read_bytes())
        for source in sources:
            digest.update(str(source.relative_to(UDF)).encode() + b"\0" + source.read_bytes())
        stamp, jar = home / f".{UDF_JAR}.sources", home / "lib" / UDF_JAR
        if jar.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        build = self.dir("downloads") / "udf-build"
        run(
            [
                "mvn",
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(UDF / "pom.xml"),
                f"-Dmaven.repo.local={self.dir('downloads') / 'm2'}",
                f"-Dflink.version={flink_version()}",
                f"-Dudf.build.dir={build}",
                "-Dmaven.test.skip=true",
                "package",
            ],
            "build the platform's Flink SQL functions (infra/flink/udf)",
        )
        partial = jar.with_name(UDF_JAR + ".partial")
        shutil.copy(build / UDF_JAR, partial)
        partial.replace(jar)
        stamp.write_text(digest.hexdigest())

    def _install_distribution(self, home: Path) -> None:
        downloads, version = self.dir("downloads"), flink_version()
        pkgs = downloads / "pkgs"
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                # bin/ and conf/ are the same in every wheel of apache-flink: take one fixed platform's.
                "--python-version",
                "3.11",
                "--platform",
                "manylinux2014_x86_64",
                *(f"{p}=={version}" for p in PYPI_PACKAGES),
                "-d",
                str(pkgs),
            ],
            "download the Flink distribution from PyPI",
        )
        staging = downloads / f"flink-{version}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        for wheel in sorted(pkgs.glob(f"apache_flink*-{version}-*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(staging)
        roots = [jar.parents[1] for jar in staging.glob("*/lib/flink-dist-*.jar") if (jar.parents[1] / "bin").is_dir()]
        if len(roots) != 1:
            raise StackError(f"flink: no one distribution (bin/, lib/flink-dist-*.jar) in the wheels in {staging}")
        root = roots[0]
        run(
            [
                "mvn",
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(POM),
                f"-Dmaven.repo.local={downloads / 'm2'}",
                f"-Dflink.home={root}",
                "dependency:copy",
            ],
            "fetch the SQL Gateway, Kafka and JDBC connectors, Postgres driver and S3 plugin jars from Maven Central",
        )
        for script in (root / "bin").iterdir():
            script.chmod(0o755)
        shutil.rmtree(home, ignore_errors=True)
        root.rename(home)
        shutil.rmtree(staging)

    def _write_conf(self, home: Path) -> None:
        """config.yaml from the template and the environment; memory settings recomputed when it changed."""
        conf, data = self.conf_dir(), self.dir("data")
        # Flink's own logs, job graphs and blobs (which carry the SQL) are for the stack's user only, like conf/.
        for private in (conf, data, self.cfg.logs / self.name):
            private.mkdir(parents=True, exist_ok=True)
            private.chmod(0o700)
        write_private(conf / "pgpass", pgpass_line(self.cfg.pg_url))
        rest_host, rest_port = host_port(self.cfg.flink_rest_url, 8081)
        gateway_host, gateway_port = host_port(self.cfg.flink_sql_gateway_url, 8083)
        values = {
            "rpc_host": RPC_HOST,
            "rpc_port": rpc_port(),
            "rest_host": rest_host,
            "rest_port": rest_port,
            "gateway_host": gateway_host,
            "gateway_port": gateway_port,
            "s3_endpoint": self.cfg.s3_endpoint,
            "s3_region": self.cfg.s3_region,
            "s3_access_key": self.cfg.s3_access_key,
            "s3_secret_key": self.cfg.s3_secret_key,
            "checkpoints": f"s3://{self.cfg.s3_bucket}/flink/checkpoints",
            "savepoints": f"s3://{self.cfg.s3_bucket}/flink/savepoints",
            "tmp_dir": str(data / "tmp"),
        }
        # JSON strings are valid YAML scalars, so any character in a value is safe.
        text = string.Template(TEMPLATE.read_text()).substitute(
            {k: v if isinstance(v, int) else json.dumps(v) for k, v in values.items()}
        )
        (data / "tmp").mkdir(exist_ok=True)
        shutil.copy(home / "conf" / "log4j-console.properties", conf)
        config, memory = conf / "config.yaml", conf / "memory.json"
        if config.exists() and config.read_text() == text and memory.exists():
            config.chmod(0o600)  # a config written before it was kept private
            return
        write_private(config, text)
        memory.write_text(json.dumps(self._memory_settings(home, conf), indent=2))

    def _memory_settings(self, home: Path, conf: Path) -> dict[str, dict[str, list[str]]]:
        """JVM options and -D settings for each role, from Flink's own calculator (as bin/*.sh do)."""
        classpath = ":".join(map(str, [home / "bin" / "bash-java-utils.jar", *(home / "lib").glob("flink-dist-*.jar")]))
        settings = {}
        for role, command in (("jobmanager", "GET_JM_RESOURCE_PARAMS"), ("taskmanager", "GET_TM_RESOURCE_PARAMS")):
            output = run(
                [
                    str(java_binary("flink")),
                    "-classpath",
                    classpath,
                    "org.apache.flink.runtime.util.bash.BashJavaUtils",
                    command,
                    "--configDir",
                    str(conf),
                ],
                f"compute the {role} memory settings",
            )
            results = [
                line.removeprefix(RESULT_PREFIX).split()
                for line in output.splitlines()
                if line.startswith(RESULT_PREFIX)
            ]
            if len(results) != 2:
                raise StackError(f"flink: unexpected output computing the {role} memory settings:\n{output[-2000:]}")
            settings[role] = {"jvm": results[0], "dynamic": results[1]}
        return settings

    def processes(self) -> list[ProcessSpec]:
        home, conf = self.home(), self.conf_dir()
        memory_file = conf / "memory.json"
        if not memory_file.exists():
            raise StackError("flink: not installed yet (run `lakehouse up --with flink`)")
        memory = json.loads(memory_file.read_text())
        java, logs = java_binary("flink"), self.cfg.logs / self.name
        lib = sorted((home / "lib").glob("*.jar"), key=lambda jar: (jar.name.startswith("flink-dist"), jar.name))
        gateway_jars = [*(home / "opt").glob("flink-sql-gateway-*.jar"), *(home / "opt").glob("flink-python-*.jar")]
        env = {
            "FLINK_HOME": str(home),
            "FLINK_CONF_DIR": str(conf),
            "FLINK_LIB_DIR": str(home / "lib"),
            "FLINK_OPT_DIR": str(home / "opt"),
            "FLINK_PLUGINS_DIR": str(home / "plugins"),
            "FLINK_LOG_DIR": str(logs),
            "JAVA_HOME": str(java.parent.parent),
            # The JDBC sink's Postgres driver reads the password here, never from the SQL (assets/flink/pipelines.py).
            "PGPASSFILE": str(conf / "pgpass"),
        }

        def spec(name: str, jvm: list[str], jars: list[Path], args: list[str]) -> ProcessSpec:
            argv = [
                str(java),
                *JAVA_OPTS,
                *jvm,
                f"-Dlog.file={logs / name}.log",
                f"-Dlog4j.configurationFile=file:{conf / 'log4j-console.properties'}",
                "-classpath",
                ":".join(map(str, jars)),
                MAIN_CLASS[name],
                *args,
            ]
            return ProcessSpec(name=name, argv=argv, env=env, cwd=home)

        config_dir = ["--configDir", str(conf)]
        return [
            spec("flink-jobmanager", memory["jobmanager"]["jvm"], lib, config_dir + memory["jobmanager"]["dynamic"]),
            spec("flink-taskmanager", memory["taskmanager"]["jvm"], lib, config_dir + memory["taskmanager"]["dynamic"]),
            spec("flink-sql-gateway", [GATEWAY_HEAP], lib + gateway_jars, []),
        ]

    def healthy(self) -> bool:
        """The JobManager has a TaskManager with slots (busy ones count), and the SQL Gateway answers."""
        overview = get_json(self.cfg.flink_rest_url.rstrip("/") + "/overview")
        if not overview or overview.get("taskmanagers", 0) < 1 or overview.get("slots-total", 0) < 1:
            return False
        return get_json(self.cfg.flink_sql_gateway_url.rstrip("/") + "/v1/info") is not None
