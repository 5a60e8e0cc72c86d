"""Superset settings for the weather-dataops dashboards: loaded via SUPERSET_CONFIG_PATH.

A small, self-contained Superset: SQLite metadata in SUPERSET_HOME (a throw-away directory in
scripts/test-superset.sh), the secret from the environment, no example data, and a browser that
is never sent anywhere but this Superset.
"""

import logging
import os
import tempfile

# Fail fast: a default secret would encrypt stored connection passwords with a public key.
SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]

DATA_DIR = os.environ.get("SUPERSET_HOME") or os.path.join(tempfile.gettempdir(), "weather-superset")
os.makedirs(DATA_DIR, exist_ok=True)
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join(DATA_DIR, "superset.db")

FEATURE_FLAGS = {
    # Render every chart of a dashboard, not only those scrolled into view: a full-page screenshot
    # (and a reader printing the page) must show them all.
    "DASHBOARD_VIRTUALIZATION": False,
    # Reports would need a worker and a webdriver; nothing here schedules them.
    "ALERT_REPORTS": False,
}

# The stock CSP also allows a telemetry pixel, map tiles and documentation images from the internet;
# this Superset serves loopback only, so everything the page loads comes from Superset itself.
TALISMAN_ENABLED = True
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
CONTENT_SECURITY_POLICY_WARNING = False

# Chart queries are cheap (gold views); keep results fresh so a test sees what it just loaded.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

MAPBOX_API_KEY = ""
LOG_LEVEL = logging.WARNING
