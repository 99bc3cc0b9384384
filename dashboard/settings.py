"""Django settings for Paystatus. Every operator-facing value comes from the environment or `.env`
(the operator contract in DESIGN.md); the defaults run a fresh clone on one machine."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
from celery.schedules import schedule as every
from kombu import Queue

from dashboard import env, queues

# Lets the classes django-stubs makes generic (ModelForm[Site], ModelAdmin[Site], Field) be
# subscripted at run time as well, as the type checker reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
if not env.boolean("PAYSTATUS_SKIP_DOTENV", default=False):
    env.read_dotenv(BASE_DIR)

DEBUG = env.boolean("DEBUG", default=False)
SECRET_KEY = env.string("SECRET_KEY", default="")
if not SECRET_KEY:
    raise env.ConfigError("SECRET_KEY is not set: run `make run` once to generate .env, or set it in the environment.")

ALLOWED_HOSTS = env.comma_list("ALLOWED_HOSTS", default="localhost,127.0.0.1")
# By default the address `make run` serves and prints (WEB_HOST, WEB_PORT; `make run` also passes
# the one it prints): a link in an alert then opens on the host name the login cookie belongs to,
# instead of asking for a fresh login.
_WEB_HOST = env.string("WEB_HOST", default="127.0.0.1").replace("0.0.0.0", "127.0.0.1")  # noqa: S104
SITE_URL = env.url("SITE_URL", default=f"http://{_WEB_HOST}:{env.positive_int('WEB_PORT', default=8000)}")
HTTPS = SITE_URL.startswith("https://")
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "integrations_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "integrations_app.timezones.UserTimeZoneMiddleware",  # each person's own zone (no query)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "integrations_app.views.access.manage_context",
                "integrations_app.views.context.broker_notice",
                "integrations_app.views.context.watcher_notice",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A page keeps its thread's connection for the next one (gunicorn's threads live on), checked before
# reuse: a new PostgreSQL connection costs ~6 ms a request. `?conn_max_age=0` in the URL turns it
# off; psycopg's pool (`OPTIONS["pool"]`), which Django refuses beside it, replaces it. Celery
# closes its own after every task whatever this says (its Django fixup).
if not DATABASES["default"].get("OPTIONS", {}).get("pool"):
    DATABASES["default"].setdefault("CONN_MAX_AGE", 600)
# django-environ leaves `?conn_health_checks=false` a string, which Django would take for true.
health_checks = str(DATABASES["default"].get("CONN_HEALTH_CHECKS", True)).lower()
DATABASES["default"]["CONN_HEALTH_CHECKS"] = health_checks in {"1", "true", "yes", "on"}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets pages read while a poll writes; IMMEDIATE takes the write lock up front so
    # concurrent pollers queue on `timeout` instead of failing with "database is locked".
    # The busy timeout (seconds) may come from the URL: `sqlite:////path/db.sqlite3?timeout=5`.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.setdefault("timeout", 30)
    options.update(
        {
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
FORMAT_MODULE_PATH = ["dashboard.formats"]  # times with their zone, in the admin too
TIME_ZONE = env.time_zone("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT: Path | None = VAR_DIR / "static"  # None in the tests: whitenoise then serves the app dirs
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# --- Upstream APIs -------------------------------------------------------------------------
DATAFAST_BASE_URL = env.url("DATAFAST_BASE_URL", default="https://datafa.st")
CHARGEBACKSTOP_BASE_URL = env.url("CHARGEBACKSTOP_BASE_URL", default="https://api.chargebackstop.com")
UPSTREAM_CONNECT_TIMEOUT = 5.0
UPSTREAM_READ_TIMEOUT = float(env.positive_int("UPSTREAM_READ_TIMEOUT", default=15))
# A body that trickles one byte at a time never trips the read timeout; this caps reading it.
UPSTREAM_BODY_TIMEOUT = float(env.positive_int("UPSTREAM_BODY_TIMEOUT", default=20))
UPSTREAM_RETRIES = 2
UPSTREAM_RETRY_AFTER_MAX = 10
UPSTREAM_MAX_BODY_BYTES = 5_000_000
CHARGEBACKSTOP_PAGE_SIZE = 100
# Discovery (datafast/discovery.py, chargebackstop/discovery.py): the most websites one token's
# listing is read for, and whether new or unlisted websites are alerts (off: notices on the pages;
# an account can also ask for alerts on its own).
DATAFAST_MAX_WEBSITES = 5_000
DISCOVERY_ALERTS = env.boolean("DISCOVERY_ALERTS", default=False)
# Every account's token and every partner key is listed again when its last discovery is this old,
# and after DISCOVERY_RETRY_MINUTES when the last one got no answer. Beat looks every minute (two
# small queries), so one added by a command or an import is listed within a poll interval; saving a
# token or key on the pages, or "List again", lists at once.
DISCOVERY_INTERVAL_HOURS = env.positive_int("DISCOVERY_INTERVAL_HOURS", default=24)
DISCOVERY_RETRY_MINUTES = 15
# ChargebackStop documents 100 requests a minute per endpoint per organisation or partner group:
# each key keeps each endpoint under this, spread over the minute (upstream/budget.py, in Redis).
CHARGEBACKSTOP_REQUESTS_PER_MINUTE = env.positive_int("CHARGEBACKSTOP_REQUESTS_PER_MINUTE", default=60)
CHARGEBACKSTOP_REQUEST_BURST = 5  # requests a key may send at once before the spacing applies
CHARGEBACKSTOP_MAX_PAGES = 200

# Read-only token for /api/status.json (empty: only logged-in users may read it).
STATUS_API_TOKEN = env.string("STATUS_API_TOKEN", default="")

# Configuration as code (import_config, the Configuration page): the largest file and the most
# entries a file may have; anything bigger is refused before it is read.
CONFIG_MAX_BYTES = env.positive_int("CONFIG_MAX_BYTES", default=2_000_000)
CONFIG_MAX_ENTRIES = env.positive_int("CONFIG_MAX_ENTRIES", default=20_000)
# Wrong tokens from one client address: this many within the window, then 429 until it ends.
STATUS_API_FAILURE_LIMIT = 10
STATUS_API_FAILURE_WINDOW = 600  # seconds

# The overview refreshes its numbers and tables in place this often.
OVERVIEW_REFRESH_SECONDS = 30

# --- Secrets at rest -----------------------------------------------------------------------
FIELD_ENCRYPTION_KEYS = env.fernet_keys("FIELD_ENCRYPTION_KEYS")

# --- Redis, Celery, polling ----------------------------------------------------------------
REDIS_URL = env.string("REDIS_URL", default="redis://127.0.0.1:6391/0")
# Pages must render with Redis down, so nothing they use may live in Redis: a per-process cache.
CACHES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every web process (the default one is per process): files a staff member uploaded
    # on the Configuration page, kept between the preview and "Apply" (integrations_app.config.uploads).
    "config_uploads": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "config-uploads"),
        "TIMEOUT": 3_600,
        "OPTIONS": {"MAX_ENTRIES": 200},
    },
}

POLL_INTERVAL_SECONDS = env.positive_int("POLL_INTERVAL_SECONDS", default=300, minimum=30)
# How often beat looks for due sources. Short, so that a disconnect is seen within
# interval + tick (a minute tick alone would add up to a whole minute of delay).
POLL_TICK_SECONDS = env.positive_int("POLL_TICK_SECONDS", default=5)
POLL_CONCURRENCY = env.positive_int("POLL_CONCURRENCY", default=32)
POLL_TASK_TIME_LIMIT = 120
# With many sources due, up to this many are polled one after another by one task (see dispatch).
POLL_BATCH_MAX = 8
# An upstream whose batches are polled concurrently on the worker's poll loop (asyncio + aiohttp,
# upstream/http_async.py) takes batches of up to this many: fewer broker messages, and the loop's
# per-host semaphore, not the batch, bounds the requests in flight.
POLL_ASYNC = env.boolean("POLL_ASYNC", default=True)  # off: the batch is asked on the task's thread
POLL_ASYNC_BATCH_MAX = 64
# A website of such a batch waits at most this long for a free slot on the loop (its deadline starts
# once it has one); past it, it is not asked, records nothing, and comes back after its lease.
POLL_QUEUE_SECONDS = float(env.positive_int("POLL_QUEUE_SECONDS", default=60))
# A dispatched poll that has not finished after this long (a killed worker) is dispatched again;
# its overlap lock lasts as long, so keep it above the longest poll.
POLL_LEASE_SECONDS = env.positive_int("POLL_LEASE_SECONDS", default=POLL_TASK_TIME_LIMIT + 30, minimum=1)
# Sources whose poll keeps failing for this many intervals raise a "failing" alert.
POLL_FAILING_AFTER_INTERVALS = 3

# --- Hard deadlines and budgets under hostile upstreams (issue 9, sections 3 and 4) ----------
# One wall-clock limit per upstream request, from connect to the last byte, retries included. The
# HTTP layer enforces it itself (it shuts the socket), whatever the server sends and whatever the
# per-read timeouts above would allow; Celery's time limits are not relied on.
UPSTREAM_REQUEST_DEADLINE = float(env.positive_int("UPSTREAM_REQUEST_DEADLINE", default=30))
# An error answer (429, 5xx) has its body read for at most this long before the connection is
# closed, so a body that streams for ever cannot hold a retry.
UPSTREAM_ERROR_BODY_SECONDS = 2.0
# One wall-clock limit per poll: a whole ChargebackStop listing, every page and retry, included.
POLL_DEADLINE_SECONDS = float(env.positive_int("POLL_DEADLINE_SECONDS", default=90))
# "Test connection" and the credential checks on save hold a web thread: a short limit.
CONNECTION_CHECK_DEADLINE = float(env.positive_int("CONNECTION_CHECK_DEADLINE", default=10))
# What one ChargebackStop listing may take in, whatever its `count` says. Past any of these the
# listing stops and is incomplete (nothing is declared gone), and the poll attempt says why.
CHARGEBACKSTOP_LISTING_MAX_ITEMS = 20_000
CHARGEBACKSTOP_LISTING_MAX_MERCHANT_IDS = 200_000
CHARGEBACKSTOP_LISTING_MAX_BYTES = 20_000_000
# Merchant IDs kept per integration (one listing more is an unreadable item, named in the poll
# attempt; the create form has the same limit) and known per organisation (the first, sorted).
CHARGEBACKSTOP_MAX_MERCHANT_IDS = 1_000
CHARGEBACKSTOP_MAX_ORGANISATION_MERCHANT_IDS = 5_000
# --- end of the deadline and budget block ---------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = POLL_TASK_TIME_LIMIT - 20
CELERY_TASK_TIME_LIMIT = POLL_TASK_TIME_LIMIT
CELERY_TIMEZONE = TIME_ZONE
# Two queues, so that a dispatch tick or an alert never waits behind the polls of a cycle (at
# 50,000 websites, ~800 batches queued for a minute or more), and so that `make run` can give the
# control tasks a worker of their own, whose dispatching thread does not wait for the GIL behind a
# busy poll loop. A worker started without `-Q` takes both (`celery -A dashboard worker` does all).
CELERY_TASK_DEFAULT_QUEUE = queues.CONTROL
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in queues.EVERY]  # each its own key: no copies
CELERY_TASK_ROUTES = {
    f"integrations_app.tasks.{name}": {"queue": queues.UPSTREAM}
    for name in ("poll_batch", "poll_site", "poll_key", "discover_account", "discover_key")
}
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-polls": {
        "task": "integrations_app.tasks.dispatch_due_polls",
        "schedule": every(POLL_TICK_SECONDS),
        "options": {"expires": POLL_TICK_SECONDS},
    },
    "send-pending-alerts": {
        "task": "integrations_app.tasks.send_pending_alerts",
        "schedule": every(30),
        "options": {"expires": 30},
    },
    # A silence or maintenance window that ended on a problem it held back: one "still broken".
    "follow-up-silences": {
        "task": "integrations_app.tasks.follow_up_silences",
        "schedule": every(15),
        "options": {"expires": 15},
    },
    "prune-history": {
        "task": "integrations_app.tasks.prune_history",
        "schedule": every(3600),
        "options": {"expires": 600},
    },
    "send-weekly-digests": {
        "task": "integrations_app.tasks.send_weekly_digests",
        "schedule": every(300),
        "options": {"expires": 300},
    },
    # One reminder per project and period while problems stay open and unacknowledged.
    "send-reminders": {
        "task": "integrations_app.tasks.send_reminders",
        "schedule": every(60),
        "options": {"expires": 60},
    },
    # The daily discovery: a task per account or key due (datafast/discovery.py, chargebackstop/discovery.py).
    "discover-due": {
        "task": "integrations_app.tasks.discover_due",
        "schedule": every(60),
        "options": {"expires": 60},
    },
    "compact-history": {
        "task": "integrations_app.tasks.compact_history",
        "schedule": every(24 * 3600),
        "options": {"expires": 3600},
    },
}

# --- Alerts and email ----------------------------------------------------------------------
EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT... as django-environ documents
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    # On a console an email is read by a person: a framed block with its subject decoded.
    EMAIL_BACKEND = "dashboard.console_mail.EmailBackend"
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", default="Paystatus <paystatus@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ALERT_RECIPIENTS = env.emails("ADMINS")
# One wall-clock limit per message sent to a channel through Apprise (its own socket timeouts are
# capped inside it), and per "Send test message" (which holds a web thread).
CHANNEL_SEND_DEADLINE = float(env.positive_int("CHANNEL_SEND_DEADLINE", default=15))
# The weekly digest goes out on this weekday (0 = Monday) from this hour, in each project's time
# zone (TIME_ZONE for the global digest).
DIGEST_WEEKDAY = env.weekday("DIGEST_WEEKDAY", default=0)
DIGEST_HOUR = env.hour("DIGEST_HOUR", default=9)
# While a project has open problems nobody acknowledged, one reminder every this many hours since
# the first one's alert (a project may set its own); 0: never.
REMINDER_HOURS = env.positive_int("REMINDER_HOURS", default=4, minimum=0)
# Django's own error mail (500s with their traceback) goes to ERROR_EMAILS, never to the alert
# recipients: an alert inbox must not fill with tracebacks. Empty (the default): no error mail.
ADMINS = [(address, address) for address in env.emails("ERROR_EMAILS")]
# Error reports hide every secret-like POST field, variable and setting, named or not.
DEFAULT_EXCEPTION_REPORTER_FILTER = "integrations_app.error_reports.SecretReportFilter"

# --- Projects ------------------------------------------------------------------------------
# A user with no project membership and no staff permission reads every source (the old "any
# active user is a viewer" rule) while this is on; off, such a user sees nothing until added to a
# project. A member always sees only their projects (docs/decisions.md, "Projects and roles").
VIEWERS_SEE_EVERYTHING = env.boolean("VIEWERS_SEE_EVERYTHING", default=True)

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],  # no inline scripts: behaviour lives in static/paystatus.js
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # Bootstrap draws its form controls with data: SVGs
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# The request header a reverse proxy in front of Paystatus sets to the client's address (such as
# X-Forwarded-For or X-Real-IP). Empty (the default): the socket's address, and the header is
# ignored, since without a proxy that sets it any client could send one of its choosing.
TRUSTED_PROXY_HEADER = env.string("TRUSTED_PROXY_HEADER", default="")
if TRUSTED_PROXY_HEADER and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", TRUSTED_PROXY_HEADER):
    raise env.ConfigError(f"TRUSTED_PROXY_HEADER: {TRUSTED_PROXY_HEADER!r} is not a header name (such as X-Real-IP).")

# Login throttling (django-axes): five failures for a username from one client address lock that
# pair (not the account for everyone) for 15 min, counted from the lockout: guessing on meanwhile
# does not extend it. `manage.py axes_reset` lifts every lockout at once.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "integrations_app.throttle.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# The root level: `make run` sets WARNING for a quiet demo console (its full logs go to var/log/),
# `make run V=1` keeps INFO.
LOG_LEVEL = env.string("LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise env.ConfigError(f"LOG_LEVEL={LOG_LEVEL!r} is not valid: expected DEBUG, INFO, WARNING, ERROR or CRITICAL.")


def _without_client_error_traceback(record: logging.LogRecord) -> bool:
    """A 403 or 404 is logged in one line: its traceback (PermissionDenied, Http404 raised on
    purpose) says nothing, and one per refused page buried the console. 5xx keep theirs."""
    if getattr(record, "status_code", 500) < 500:
        record.exc_info = None
        record.exc_text = None
    return True


LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors": {"()": lambda: _without_client_error_traceback}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # "<worker> ready." stays in a quiet worker's log: `make run` waits for that line.
        "celery.apps.worker": {"level": "INFO"},
        # A request with a foreign Host is noise from scanners: logged here, never mailed.
        "django.security.DisallowedHost": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # Apprise's lines can name a channel's URL: never printed; alerts.apprise_send captures
        # their words (masked) into the delivery's last error instead.
        "apprise": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}
