"""The Superset dashboard "Orders Realtime", provisioned as code (docs/dashboard.md)."""
