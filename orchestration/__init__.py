"""The Dagster code location: Definitions, sensors, schedules and jobs."""
