"""Change data capture: the Debezium connector of the application database, registered and watched as code."""
