"""Login throttling that cannot lock the admin out, and a throttled status-API token."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db

PROXY = "127.0.0.1"  # behind a reverse proxy, every request arrives from it
ATTACKER, ADMIN_DESK = "203.0.113.9", "198.51.100.7"


@pytest.fixture
def throttled(settings):
    settings.AXES_ENABLED = True
    factories.staff("admin")
    return settings


def log_in(client, password: str, *, forwarded_for: str | None = None, remote: str = PROXY, username: str = "admin"):
    headers = {"REMOTE_ADDR": remote}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client.post(reverse("login"), {"username": username, "password": password}, **headers)


def test_behind_a_trusted_proxy_an_attacker_elsewhere_cannot_lock_the_admin_out(throttled, client):
    throttled.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    for _ in range(8):
        log_in(client, "guess", forwarded_for=f"10.0.0.1, {ATTACKER}")  # the proxy appended the attacker
    assert log_in(client, "guess", forwarded_for=ATTACKER).status_code == 429
    response = log_in(client, "staff-password-1", forwarded_for=ADMIN_DESK)
    assert response.status_code == 302 and response.url == reverse("overview")


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(throttled, client):
    """Off by default: a client that forges the header cannot spread its guesses over addresses."""
    for number in range(5):
        log_in(client, "guess", forwarded_for=f"192.0.2.{number}", remote=ATTACKER)
    assert log_in(client, "staff-password-1", forwarded_for="192.0.2.99", remote=ATTACKER).status_code == 429
    assert log_in(client, "staff-password-1", remote=ADMIN_DESK).status_code == 302


def test_a_lockout_says_when_to_try_again_and_ends_even_if_the_guessing_goes_on(throttled, client):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(5):
            log_in(client, "guess")
        locked = log_in(client, "staff-password-1")
        assert locked.status_code == 429
        text = locked.content.decode()
        assert "Try again in 15 minutes" in text and "axes_reset" not in text  # words for users, not commands
        assert 'action="/accounts/login/"' in text  # the login form is right there for when it ends
        for _ in range(10):  # the attacker keeps guessing meanwhile, which must not extend the lock
            clock.shift(timedelta(minutes=1))
            assert log_in(client, "guess").status_code == 429
        clock.shift(timedelta(minutes=6))
        assert log_in(client, "staff-password-1").status_code == 302


def test_axes_reset_lifts_a_lockout_at_once(throttled, client):
    from django.core.management import call_command

    for _ in range(5):
        log_in(client, "guess")
    assert log_in(client, "staff-password-1").status_code == 429
    call_command("axes_reset", verbosity=0)
    assert log_in(client, "staff-password-1").status_code == 302


# --- the status API token --------------------------------------------------------------------------


@pytest.fixture
def status_token(settings):
    settings.STATUS_API_TOKEN = "status-read-token-0123456789abcdef"
    cache.clear()
    yield settings.STATUS_API_TOKEN
    cache.clear()


def fetch(client, token: str, remote: str = ATTACKER):
    return client.get(reverse("status-json"), HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=remote)


def test_guesses_at_the_status_token_are_throttled_per_address(client, status_token, settings):
    for number in range(settings.STATUS_API_FAILURE_LIMIT):
        assert fetch(client, f"guess-{number}").status_code == 401
    refused = fetch(client, status_token)  # even the right token, once this address is over the limit
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "too many" in refused.json()["error"]
    assert fetch(client, status_token, remote=ADMIN_DESK).status_code == 200  # other addresses go on


def test_the_status_token_throttle_ends_after_its_window(client, status_token, settings):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for number in range(settings.STATUS_API_FAILURE_LIMIT):
            fetch(client, f"guess-{number}")
        assert fetch(client, status_token).status_code == 429
        clock.shift(timedelta(seconds=settings.STATUS_API_FAILURE_WINDOW + 1))
        assert fetch(client, status_token).status_code == 200


def test_good_status_token_requests_are_never_throttled(client, status_token, settings):
    for _ in range(settings.STATUS_API_FAILURE_LIMIT * 2):
        assert fetch(client, status_token).status_code == 200
