"""The lake's assets: bronze from Kafka, then silver, gold and the Postgres views."""
