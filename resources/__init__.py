"""Thin, typed clients and configuration for the services the pipeline talks to."""
