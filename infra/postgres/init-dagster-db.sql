-- Compose only: Dagster's own storage lives in a database of its own next to de_db.
CREATE DATABASE dagster OWNER de_user;
