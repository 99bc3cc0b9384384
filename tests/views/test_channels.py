"""The channel pages: who sees and changes which channel (through scoping), the URL never shown,
precise errors, "Send test message" reaching a real sink, audit entries, constant queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app.models import Alert, AuditEntry, Channel, Delivery, Membership, Role
from tests import factories

pytestmark = pytest.mark.django_db
TOKEN = "hooktoken-7f3a9c2e51d84b60"


def member(project, username: str, role: str = Role.MANAGER) -> Client:
    user = factories.viewer(username)
    Membership.objects.create(project=project, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def form(**fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Ops chat",
        "where": "",
        "kind": "apprise",
        "url": "",
        "addresses": "",
        "takes_problems": "on",
        "takes_recoveries": "on",
        "takes_notices": "on",
        "takes_digests": "on",
    }
    data.update(fields)
    return data


def test_staff_add_a_global_webhook_stored_encrypted_shown_masked_and_audited(staff_client):
    url = f"json://hooks.example.com/hook/{TOKEN}"
    response = staff_client.post(reverse("channel-create"), form(url=url))
    channel = Channel.objects.get()
    assert response.status_code == 302 and response["Location"] == channel.get_absolute_url()
    assert (channel.project, channel.service, factories.present(channel.url).reveal()) == (None, "json", url)
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM integrations_app_channel")
        assert TOKEN not in cursor.fetchone()[0]
    for page in (channel.get_absolute_url(), reverse("channel-list"), reverse("channel-edit", args=[channel.pk])):
        body = staff_client.get(page).content.decode()
        assert TOKEN not in body and "hooks.example.com" not in body, page
    assert "json://••••" in staff_client.get(channel.get_absolute_url()).content.decode()
    entry = AuditEntry.objects.get(action="channel.create")
    assert factories.present(entry.after)["url"] == "json://••••" and TOKEN not in str(entry.after)


def test_bad_input_gets_a_precise_message_naming_the_field(staff_client):
    response = staff_client.post(reverse("channel-create"), form(url="nosuchservice://x/y"))
    assert response.status_code == 200
    assert "Apprise does not recognise this nosuchservice:// URL" in response.context["form"].errors["url"][0]
    response = staff_client.post(reverse("channel-create"), form(url=""))
    assert response.context["form"].errors["url"] == ["Enter the service's Apprise URL."]
    response = staff_client.post(reverse("channel-create"), form(kind="email", addresses="ops@example.com\nnot-mail"))
    assert response.context["form"].errors["addresses"] == [
        "“not-mail” is not an email address (one address per line)."
    ]
    assert not Channel.objects.exists()


def test_a_manager_adds_channels_to_their_project_only(client):
    client_a, client_b = factories.project("Client A"), factories.project("Client B")
    manager = member(client_a, "alice")
    response = manager.post(reverse("channel-create"), form(where=""))
    assert "Only staff may make a global channel" in response.context["form"].errors["where"][0]
    response = manager.post(reverse("channel-create"), form(where=str(client_b.pk), url="json://h.example/x"))
    assert response.context["form"].errors["where"]
    manager.post(reverse("channel-create"), form(where=str(client_a.pk), url="json://h.example/x"))
    assert Channel.objects.get().project == client_a
    assert AuditEntry.objects.get(action="channel.create").project == client_a


def test_another_projects_channel_is_404_to_get_and_post_and_a_viewer_gets_403(client):
    client_a, client_b = factories.project("Client A"), factories.project("Client B")
    theirs = factories.channel("json://h.example/b", name="B's", project=client_b)
    global_channel = factories.channel("json://h.example/all", name="Everyone")
    ours = factories.channel("json://h.example/a", name="A's", project=client_a)
    manager, viewer = member(client_a, "alice"), member(client_a, "victor", Role.VIEWER)
    for channel in (theirs, global_channel):
        for name in ("channel-detail", "channel-edit", "channel-delete", "channel-test"):
            assert manager.get(reverse(name, args=[channel.pk])).status_code == 404
            assert manager.post(reverse(name, args=[channel.pk])).status_code == 404
    listed = viewer.get(reverse("channel-list")).content.decode()
    assert "A&#x27;s" in listed or "A's" in listed
    assert "B&#x27;s" not in listed and "Everyone" not in listed
    assert viewer.get(ours.get_absolute_url()).status_code == 200
    for name in ("channel-edit", "channel-delete", "channel-test"):
        assert viewer.post(reverse(name, args=[ours.pk])).status_code == 403
    assert viewer.get(reverse("channel-create")).status_code == 403
    assert Channel.objects.count() == 3


def test_send_test_message_reports_the_outcome_in_plain_words(staff_client, chat_sink):
    channel = factories.channel(chat_sink.json_url(f"/hook/{TOKEN}"), name="Ops chat")
    response = staff_client.post(reverse("channel-test", args=[channel.pk]), follow=True)
    assert "Test message sent: json accepted it." in response.content.decode()
    (post,) = chat_sink.messages()
    assert post.json["title"] == "Paystatus: test message for the channel “Ops chat”"
    assert TOKEN not in post.text
    chat_sink.status = 500
    response = staff_client.post(reverse("channel-test", args=[channel.pk]), follow=True)
    page = response.content.decode()
    assert "The test message was not sent: json:" in page and "500" in page
    assert TOKEN not in page


def test_edit_keeps_the_url_when_left_blank_and_audits_what_changed_then_delete(staff_client):
    channel = factories.channel(f"json://h.example/{TOKEN}", name="Ops chat")
    staff_client.post(reverse("channel-edit", args=[channel.pk]), form(name="Ops room", takes_notices=""))
    channel.refresh_from_db()
    assert (channel.name, channel.takes_notices) == ("Ops room", False)
    assert factories.present(channel.url).reveal() == f"json://h.example/{TOKEN}"
    entry = AuditEntry.objects.get(action="channel.update")
    assert entry.before == {"name": "Ops chat", "takes": ["problems", "recoveries", "notices", "digests"]}
    assert entry.after == {"name": "Ops room", "takes": ["problems", "recoveries", "digests"]}
    staff_client.post(reverse("channel-delete", args=[channel.pk]))
    assert not Channel.objects.exists()
    assert factories.present(AuditEntry.objects.get(action="channel.delete").before)["name"] == "Ops room"


def _alerts_with_deliveries(count: int, channels: list[Channel]) -> None:
    now = timezone.now()
    for number in range(count):
        alert = Alert.objects.create(created_at=now, subject=f"alert {number}", status=Alert.Status.SENT)
        Delivery.objects.bulk_create(
            Delivery(alert=alert, channel=channel, status=Delivery.Status.FAILED, last_error="json: 500")
            for channel in channels
        )


def test_the_alerts_page_shows_each_channels_delivery_in_a_constant_number_of_queries(staff_client):
    channels = [factories.channel(f"json://h.example/{number}", name=f"Chat {number}") for number in range(5)]
    _alerts_with_deliveries(2, channels[:1])
    staff_client.get(reverse("alerts"))  # the session's first queries aside
    with CaptureQueriesContext(connection) as small:
        staff_client.get(reverse("alerts"))
    _alerts_with_deliveries(40, channels)
    with CaptureQueriesContext(connection) as large:
        page = staff_client.get(reverse("alerts")).content.decode()
    assert len(large) == len(small)
    assert "Chat 4" in page and "json: 500" in page
    with CaptureQueriesContext(connection) as listing:
        assert "json: 500" in staff_client.get(reverse("channel-list")).content.decode()
    assert len(listing) <= len(small)
