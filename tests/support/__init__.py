"""Helpers shared by tests and benchmarks (not test modules)."""
