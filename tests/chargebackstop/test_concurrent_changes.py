"""Concurrent disable and rename POSTs: one PATCH, one change, one notice.

Real concurrency: five threads, each its own HTTP client and session, released together by a
barrier against the live server (threaded), which talks to the sandbox; the sandbox holds each
PATCH for a moment so that the five requests overlap. The sandbox's request stats count PATCHes
(the disable and rename pages make no other upstream request).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.models import AuditEntry, Integration, StatusChange
from integrations_app.models.history import ChangeKind
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key

pytestmark = pytest.mark.django_db(transaction=True)
POSTS = 5
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def staff_session(live_server: Any) -> requests.Session:
    """A logged-in staff browser of its own (session and CSRF cookies)."""
    user = get_user_model().objects.get(username="staff")
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return session


def post_at_once(live_server: Any, url: str, data: dict[str, str]) -> list[int]:
    sessions = [staff_session(live_server) for _ in range(POSTS)]
    tokens = [
        present(CSRF_INPUT.search(session.get(live_server.url + url, timeout=10).text)).group(1) for session in sessions
    ]
    barrier = threading.Barrier(POSTS)
    statuses: list[int] = []

    def post(session: requests.Session, token: str) -> None:
        barrier.wait(timeout=10)
        response = session.post(
            live_server.url + url, data={**data, "csrfmiddlewaretoken": token}, allow_redirects=False, timeout=30
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(sessions, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=40)
    return statuses


@pytest.fixture
def acme_orders(sandbox: Any) -> Integration:
    factories.staff()
    assert poll_key(factories.key().pk).ok
    sandbox.state.reset_stats()
    sandbox.state.latency = 0.5  # every request overlaps the others
    return Integration.objects.get(integration_id=demo.ACME_ORDERS)


def test_five_concurrent_disables_send_one_patch_record_one_change_and_one_notice(
    sandbox, live_server, acme_orders, smtp_sink
):
    statuses = post_at_once(live_server, reverse("integration-disable", args=[acme_orders.pk]), {})
    assert statuses == [302] * POSTS  # the others are told it is already done or under way
    assert sandbox.state.stats()["chargebackstop"]["requests"] == 1
    (change,) = StatusChange.objects.filter(integration=acme_orders)
    assert (change.kind, change.new, change.notify) == (ChangeKind.INTEGRATION_STATUS, "DISABLED", True)
    assert AuditEntry.objects.filter(action="integration.disable").count() == 1
    sandbox.state.latency = 0
    send_pending_alerts(wait=False)
    (email,) = smtp_sink.messages
    assert "notices" not in email["Subject"]


def test_five_concurrent_renames_send_one_patch_and_record_one_change(sandbox, live_server, acme_orders):
    statuses = post_at_once(live_server, reverse("integration-rename", args=[acme_orders.pk]), {"name": "Acme EU"})
    assert sorted(statuses)[-1] in (200, 302)
    assert sandbox.state.stats()["chargebackstop"]["requests"] == 1
    (change,) = StatusChange.objects.filter(integration=acme_orders)
    assert (change.kind, change.new) == (ChangeKind.INTEGRATION_NAME, "Acme EU")
    assert AuditEntry.objects.filter(action="integration.rename").count() == 1
    assert Integration.objects.get(pk=acme_orders.pk).name == "Acme EU"
