"""SQL the platform runs in Postgres: schema migrations (migrations/NNNN_name.sql) and models."""
