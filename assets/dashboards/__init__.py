"""The Superset dashboard "Orders Realtime", provisioned as code (docs/dashboard.md)."""

from assets.dashboards.assets import ASSET_KEY, dashboard_asset

__all__ = ["ASSET_KEY", "dashboard_asset"]
