"""What a person reads on `make run`'s console: alert emails as framed blocks with their subject
decoded, and refused pages logged in one line instead of with a traceback each."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from dashboard import settings as product_settings


def test_a_console_email_is_a_framed_block_with_its_subject_decoded() -> None:
    stream = io.StringIO()
    message = EmailMultiAlternatives(
        "[Paystatus] Lemon Squeezy disconnected on Café Ünïcorn",
        "Now: ✖ Lemon Squeezy disconnected\nDetails: http://127.0.0.1:8000/sites/1/\n",
        "Paystatus <paystatus@localhost>",
        ["demo-admin@localhost"],
    )
    message.attach_alternative("<p>html</p>", "text/html")
    get_connection("dashboard.console_mail.EmailBackend", stream=stream).send_messages([message])

    printed = stream.getvalue()
    lines = printed.splitlines()
    assert lines[0].startswith("┌─ Email ") and lines[-1].startswith("└")
    assert "Subject: [Paystatus] Lemon Squeezy disconnected on Café Ünïcorn" in printed
    assert "=?utf-8?" not in printed and "Content-Transfer-Encoding" not in printed
    assert "Now: ✖ Lemon Squeezy disconnected" in printed
    assert {len(line) for line in lines} == {78}  # a frame, whatever the lines hold


def _product_env() -> dict[str, str]:
    """The environment of a fresh process on the product's settings (not the tests'), no .env read."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "PAYSTATUS_SKIP_DOTENV": "true"}
    env["SECRET_KEY"] = "x" * 50
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    return env


def test_the_console_email_url_selects_the_framed_backend() -> None:
    env = _product_env() | {"EMAIL_URL": "consolemail://"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_BACKEND)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "dashboard.console_mail.EmailBackend"


# Run in a fresh process configured as `make run`'s web process is: in this one, a test that ran a
# Celery worker in-process may have replaced the root logger's handlers with Celery's.
CONSOLE_OUTPUT = """
import json, io, logging, sys
import django
django.setup()
handler = logging.getLogger().handlers[0]
out = {}
for status in (403, 500):
    try:
        raise PermissionError("refused on purpose")
    except PermissionError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request", logging.WARNING, "console", 1, "Forbidden: %s", ("/credentials/",), sys.exc_info()
        )
    record.status_code = status
    stream = io.StringIO()
    copy = logging.StreamHandler(stream)
    copy.setFormatter(handler.formatter)
    for one in handler.filters:
        copy.addFilter(one)
    copy.handle(record)
    out[status] = stream.getvalue()
print(json.dumps(out))
"""


def _console_outputs() -> dict[str, str]:
    """{status: what the web process's console prints for a refused (403) or failed (500) request}."""
    env = _product_env()
    result = subprocess.run(
        [sys.executable, "-c", CONSOLE_OUTPUT],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    outputs: dict[str, str] = json.loads(result.stdout)
    return outputs


def test_a_refused_page_is_logged_in_one_line_and_a_server_error_keeps_its_traceback() -> None:
    assert product_settings.LOGGING["handlers"]["console"]["filters"] == ["client_errors"]
    outputs = _console_outputs()
    assert outputs["403"].strip().endswith("Forbidden: /credentials/")
    assert "Traceback" not in outputs["403"]
    assert "Traceback" in outputs["500"]
