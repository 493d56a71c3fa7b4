"""The code location `dagster dev` loads (see workspace.yaml)."""
from __future__ import annotations

from dagster import Definitions

from resources.definitions import platform_resources

defs = Definitions(resources=platform_resources())
