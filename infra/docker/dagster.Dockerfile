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
ENV DAGSTER_HOME=/opt/dagster/home
COPY infra/dagster/dagster.yaml /opt/dagster/home/dagster.yaml
