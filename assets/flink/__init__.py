"""The Flink SQL pipelines: templated statements, submission through the SQL Gateway, and Flink's own figures."""
