# Image for the Dagster webserver and daemon in infra/docker-compose.yml.
FROM python:3.11-slim
WORKDIR /opt/lakehouse
COPY pyproject.toml README.md ./
COPY orchestration orchestration
COPY assets assets
COPY resources resources
COPY dbt_like_sql dbt_like_sql
COPY infra infra
COPY workspace.yaml ./
RUN pip install --no-cache-dir .
# The Spark Structured Streaming drivers (docs/spark.md) run in this container, started by Dagster's runs: Java, and
# pyspark in its own environment; the Kafka source and S3A come from Maven Central into the spark-jars volume.
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/lakehouse/downloads/spark/venv \
    && /opt/lakehouse/downloads/spark/venv/bin/pip install --no-cache-dir -r infra/spark/requirements.txt
ENV LAKEHOUSE_HOME=/opt/lakehouse/state LAKEHOUSE_DOWNLOADS=/opt/lakehouse/downloads
ENV DAGSTER_HOME=/opt/dagster/home
COPY infra/dagster/dagster.yaml /opt/dagster/home/dagster.yaml
