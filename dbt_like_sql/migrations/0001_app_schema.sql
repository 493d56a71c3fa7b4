-- The schema the platform's serving tables live in; owned by the role that applies the migrations.
CREATE SCHEMA IF NOT EXISTS app;
