"""Superset's configuration for the local stack (SUPERSET_CONFIG_PATH points here).

Every value comes from the environment the launcher gives the server (infra/stack/services/superset.py):
no secret is written in this file.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
# The metadata database: `superset` on the stack's Postgres (see docs/decisions.md).
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]

# Nothing leaves 127.0.0.1: no analytics pixel, no example data.
SCARF_ANALYTICS = False
# A realtime dashboard: chart data is never served from a cache.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RATELIMIT_STORAGE_URI = "memory://"
# The browser may load nothing but Superset itself: Superset's default policy also allows an analytics
# pixel, map tiles and web fonts from elsewhere.
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
