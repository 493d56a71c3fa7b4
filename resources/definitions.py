"""The resources every asset and job is given, configured from the environment."""
from __future__ import annotations

from resources.flink import FlinkResource
from resources.kafka import KafkaResource
from resources.object_store import ObjectStoreResource
from resources.postgres import PostgresResource
from resources.settings import resource_value, setting
from resources.superset import SupersetResource


def platform_resources() -> dict[str, object]:
    """Resource instances keyed by the names assets ask for."""
    return {
        "kafka": KafkaResource(bootstrap_servers=setting("KAFKA_BOOTSTRAP_SERVERS")),
        "object_store": ObjectStoreResource(
            endpoint=setting("S3_ENDPOINT"),
            access_key=setting("S3_ACCESS_KEY"),
            secret_key=resource_value("S3_SECRET_KEY"),
            bucket=setting("S3_BUCKET"),
            region=setting("S3_REGION"),
        ),
        "postgres": PostgresResource(url=resource_value("PG_URL")),
        "flink": FlinkResource(
            rest_url=setting("FLINK_REST_URL"), sql_gateway_url=setting("FLINK_SQL_GATEWAY_URL")
        ),
        "superset": SupersetResource(
            url=setting("SUPERSET_URL"),
            username=setting("SUPERSET_ADMIN_USER"),
            password=resource_value("SUPERSET_ADMIN_PASSWORD"),
            database_uri=resource_value("SUPERSET_DATABASE_URI" if setting("SUPERSET_DATABASE_URI") else "PG_URL"),
        ),
    }
