"""What a person reads on `make run`'s console: alert emails as framed blocks with their subject
decoded, and refused pages logged in one line instead of with a traceback each."""

from __future__ import annotations

import io
import logging
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


def test_the_console_email_url_selects_the_framed_backend() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings", "PAYSTATUS_SKIP_DOTENV": "true"}
    env |= {"SECRET_KEY": "x" * 50, "EMAIL_URL": "consolemail://"}
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    code = "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_BACKEND)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "dashboard.console_mail.EmailBackend"


def _console_output(record: logging.LogRecord) -> str:
    handler = logging.getLogger().handlers[0]
    stream = io.StringIO()
    copy = logging.StreamHandler(stream)
    copy.setFormatter(handler.formatter)
    for one in handler.filters:
        copy.addFilter(one)
    copy.handle(record)
    return stream.getvalue()


def _request_record(status: int) -> logging.LogRecord:
    try:
        raise PermissionError("refused on purpose")
    except PermissionError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/credentials/",), sys.exc_info()
        )
    record.status_code = status
    return record


def test_a_refused_page_is_logged_in_one_line_and_a_server_error_keeps_its_traceback() -> None:
    assert product_settings.LOGGING["handlers"]["console"]["filters"] == ["client_errors"]
    assert _console_output(_request_record(403)).strip().endswith("Forbidden: /credentials/")
    assert "Traceback" not in _console_output(_request_record(403))
    assert "Traceback" in _console_output(_request_record(500))
