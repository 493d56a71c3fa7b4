"""Local development infrastructure: the stack launcher and the event generator.

Nothing in the pipeline (orchestration/, assets/, resources/) imports this package,
so production deployments run without it.
"""
