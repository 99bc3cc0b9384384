"""Bench-only settings: the product's settings plus the bench URLconf (the floor views) and a
static root inside the bench's temporary directory. Never used by the product."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dashboard.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
TEMPLATES[0]["DIRS"] = [*TEMPLATES[0]["DIRS"], Path(__file__).resolve().parent / "templates"]  # noqa: F405
STATIC_ROOT = Path(os.environ.get("BENCH_STATIC_ROOT", str(VAR_DIR / "bench-static")))  # noqa: F405

# `bench/run.py --set NAME=JSON` overrides a top-level setting in every bench process (A/B tests of
# settings, e.g. --set CELERY_DB_REUSE_MAX=1000), without touching the product.
for _name, _value in json.loads(os.environ.get("BENCH_SETTINGS", "{}")).items():
    globals()[_name] = _value
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # noqa: F405 (no login-throttling chatter in the output)
