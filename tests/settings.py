"""Settings for the test suite: the real settings, isolated from the developer's `.env`."""

from __future__ import annotations

import os

from tests.ports import free_port

os.environ["PAYSTATUS_SKIP_DOTENV"] = "true"
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-that-is-long-enough-for-django-checks-0123")
# Two keys so every test exercises decryption with a key list (rotation).
os.environ.setdefault(
    "FIELD_ENCRYPTION_KEYS",
    "u0Vd3gk0zH1H8o5m0s2Hq6x0Gq9m2JY1b7kQk1mVv3Q=,fQw3sB9m1n0sXrF2K5ZQ4xwzK7m3Yd0g9s0z3h5mX1U=",
)
os.environ.setdefault("ADMINS", "ops@example.com,oncall@example.com")
os.environ.setdefault("SITE_URL", "http://testserver")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Never the real APIs: a test that does not point them at the sandbox reaches a closed local port
# (connection refused at once) instead of the network.
# (Worker processes that the reliability tests start get the sandbox's URL in their environment.)
os.environ.setdefault("DATAFAST_BASE_URL", "http://127.0.0.1:9")
os.environ.setdefault("CHARGEBACKSTOP_BASE_URL", "http://127.0.0.1:9")

# The suite starts its own Redis (tests/redis_server.py) on this port; settings must know it first.
TEST_REDIS_PORT = int(os.environ.setdefault("TEST_REDIS_PORT", str(free_port())))
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{TEST_REDIS_PORT}/0"

from dashboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405

# A file, not shared-cache memory: worker and sender threads then get SQLite's normal locking
# (WAL, IMMEDIATE, busy timeout) instead of "database table is locked" errors.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    VAR_DIR.mkdir(exist_ok=True)  # noqa: F405 (absent in a fresh clone)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405

# Static files straight from the finders (no collectstatic in tests; the live server needs them).
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Login throttling is switched on only in the test that proves it (client.login has no request).
AXES_ENABLED = False

# Request budgets (upstream/budget.py) would space the many requests of the listing tests over
# minutes: effectively off here; the tests of the budget set it themselves.
CHARGEBACKSTOP_REQUESTS_PER_MINUTE = 1_000_000
CHARGEBACKSTOP_REQUEST_BURST = 1_000

# The Configuration page's uploads: this run's own folder, not the developer's.
CACHES["config_uploads"]["LOCATION"] = str(VAR_DIR / f"test-config-uploads-{os.getpid()}")  # noqa: F405
