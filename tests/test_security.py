"""Production settings, headers, login throttling, and where upstream URLs may come from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests import factories

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PAYSTATUS_", "SECRET_KEY", "DEBUG", "SITE_URL", "ADMINS"))
    }
    settings = {
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "PAYSTATUS_SKIP_DOTENV": "true",
        "DEBUG": "false",
        "SECRET_KEY": "p" * 20 + "Qw8!zR2#vL5$kT9&mN3*xB7^cF1@hJ4(dG6)sA0_eY",
        "SITE_URL": "https://paystatus.example.com",
        "ALLOWED_HOSTS": "paystatus.example.com",
        "FIELD_ENCRYPTION_KEYS": "u0Vd3gk0zH1H8o5m0s2Hq6x0Gq9m2JY1b7kQk1mVv3Q=",
        "ADMINS": "ops@example.com",
        "DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'deploy-check.sqlite3'}",
    }
    return {**env, **settings, **extra}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_check_deploy_reports_nothing_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("POLL_INTERVAL_SECONDS", "soon"),
        ("FIELD_ENCRYPTION_KEYS", "not-a-key"),
        ("TIME_ZONE", "Mars/Olympus"),
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For: 1.2.3.4"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(variable, value):
    result = manage("check", env=production_env(**{variable: value}))
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_pages_send_security_headers_and_a_strict_csp(client):
    client.force_login(factories.viewer())
    response = client.get(reverse("overview"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"\sstyle\s*=", re.IGNORECASE)


def test_no_template_has_inline_script_handlers_or_styles():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        if "emails" in template.parts:
            continue  # emails are not served under the CSP; mail clients need inline styles
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER, INLINE_STYLE):
            if pattern.search(text):
                offenders.append(f"{template.relative_to(ROOT)}: {pattern.pattern}")
    assert offenders == []


def test_login_attempts_are_throttled(client, settings):
    settings.AXES_ENABLED = True
    factories.viewer("victim")
    for _ in range(4):
        response = client.post(reverse("login"), {"username": "victim", "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    client.post(reverse("login"), {"username": "victim", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "victim", "password": "viewer-password-1"})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()


def test_a_deactivated_user_cannot_log_in(client):
    user = factories.viewer("gone")
    user.is_active = False
    user.save()
    response = client.post(reverse("login"), {"username": "gone", "password": "viewer-password-1"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sessions_expire(settings, client):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    factories.viewer("someone")
    client.post(reverse("login"), {"username": "someone", "password": "viewer-password-1"})
    assert client.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE


def test_upstream_base_urls_come_only_from_settings():
    """No product code passes a base URL to a client: they read DATAFAST_BASE_URL and
    CHARGEBACKSTOP_BASE_URL from settings, never anything a user typed."""
    offenders = []
    for path in (ROOT / "integrations_app").rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"(DataFastClient|ChargebackStopClient)\([^)]*base_url=", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def test_a_command_on_an_unmigrated_database_says_to_migrate(tmp_path):
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = manage("poll", "--sync", env=env)
    assert result.returncode == 2
    assert "no Paystatus tables yet" in result.stderr
    assert "manage.py migrate" in result.stderr
    assert "Traceback" not in result.stderr
