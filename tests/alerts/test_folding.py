"""One cause, one message (issue 12): a rejected token, a rejected key and a vendor that is not
answering are each told once, naming what they affect, over real HTTP against the sandbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.models import Cause, Channel, ChannelKind, DataFastSite, Health, Integration, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.polling import poll_key, poll_site

pytestmark = pytest.mark.django_db(transaction=True)

ACME_SITES = [
    (demo.ACME_STORE, "Acme Store"),
    (demo.BLUEBIRD_BOOKS, "Bluebird Books"),
    ("6650a1f2c4e8b90012ab3403", "Cedar Coffee"),
]


def acme_sites() -> list[DataFastSite]:
    return [factories.site(website_id=website, name=name) for website, name in ACME_SITES]


def other_site() -> DataFastSite:
    other = factories.account(demo.OTHER_DATAFAST_TOKEN, name="Harbor Group")
    return factories.site(website_id=demo.HARBOR_HARDWARE, name="Harbor Hardware", account=other)


def poll_all(sites: list[DataFastSite]) -> None:
    for site in sites:
        poll_site(site.pk)


def health_changes(severity: str) -> list[StatusChange]:
    return list(StatusChange.objects.filter(kind=ChangeKind.SOURCE_HEALTH, severity=severity).order_by("pk"))


def test_a_rejected_token_is_one_alert_for_its_account_naming_its_websites(sandbox, smtp_sink):
    sites = acme_sites()
    other = other_site()
    poll_all([*sites, other])
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all([*sites, other])
    assert send_pending_alerts(wait=False).sent == 1
    (message,) = smtp_sink.messages
    told = (
        "DataFast refused the token of account “Acme Holdings” (3 websites: Acme Store, Bluebird Books, Cedar Coffee)"
    )
    assert " ".join(message["Subject"].split()) == f"[Paystatus] {told}"  # the header unfolded
    text = message.get_body(("plain",)).get_content()
    assert text.count("* PROBLEM:") == 1, "one cause line, not one per website"
    assert "DataFast refused the token for" not in text
    assert "Harbor" not in text, "the other account's website answered"
    changes = health_changes(Severity.PROBLEM)
    assert len(changes) == 3, "every website's change is still recorded"
    cause = Cause.objects.get()
    assert {change.folded_into_id for change in changes} == {cause.pk}
    assert {change.alert_id for change in changes} == {cause.opened_by_id}


def test_websites_refused_in_later_batches_are_folded_into_the_open_cause_and_told_once(sandbox, mailoutbox):
    sites = acme_sites()
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_site(sites[0].pk)
    send_pending_alerts(wait=False)
    poll_all(sites[1:])  # the rest of the cycle, after the first alert went out
    send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox] == [
        "[Paystatus] DataFast refused the token of account “Acme Holdings” (3 websites: Acme Store, Bluebird Books, "
        "Cedar Coffee)"
    ]
    later = health_changes(Severity.PROBLEM)[1:]
    assert [(change.folded_into_id is not None, change.alert_id) for change in later] == [(True, None), (True, None)]
    assert StatusChange.objects.unsent().count() == 0


def test_the_token_recovery_is_one_message_when_every_website_answers_again(sandbox, mailoutbox):
    sites = acme_sites()
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all(sites)
    send_pending_alerts(wait=False)
    sandbox.state.reset("demo")  # the token works again
    poll_all(sites[:2])
    send_pending_alerts(wait=False)
    assert len(mailoutbox) == 1, "recoveries wait while a website of the token is still refused"
    poll_site(sites[2].pk)
    send_pending_alerts(wait=False)
    assert len(mailoutbox) == 2
    recovery = mailoutbox[1]
    assert recovery.subject == "[Paystatus] DataFast accepts the token of account “Acme Holdings” again (3 websites)"
    assert recovery.body.count("* RECOVERY:") == 1
    assert Cause.objects.get().closed_at is not None
    assert {change.alert_id for change in health_changes(Severity.RECOVERY)} == {Cause.objects.get().closed_by_id}


def test_a_403_on_one_website_is_that_websites_own_problem(sandbox, mailoutbox):
    """A 403 is one website's access, not the token's: nothing to fold, no account named."""
    sites = acme_sites()
    poll_all(sites)
    nimbus = factories.site(website_id=demo.NIMBUS_LABS, name="Nimbus Labs")
    start = timezone.now()
    poll_site(nimbus.pk)  # a first verdict is quiet; the next poll confirms it
    with time_machine.travel(start + timedelta(minutes=5)):
        poll_site(nimbus.pk)
        send_pending_alerts(wait=False)
    (message,) = mailoutbox
    assert message.subject == "[Paystatus] DataFast refused the token for Nimbus Labs"
    assert not Cause.objects.exists()


def test_a_rejected_chargebackstop_key_is_one_alert_naming_the_organisations_it_reaches(sandbox, mailoutbox):
    key = factories.key()
    poll_key(key.pk)
    reached = key.organisations.count()
    assert reached > 1
    assert Integration.objects.filter(seen_by=key).count() > reached, "more integrations than organisations"
    sandbox.state.revoke_key(demo.PARTNER_KEY.reveal())
    poll_key(key.pk)
    send_pending_alerts(wait=False)
    (message,) = mailoutbox
    told = f"[Paystatus] ChargebackStop refused the API key Northwind (it reaches {reached} organisations: "
    assert message.subject.startswith(told)
    assert message.body.count("* PROBLEM:") == 1, "one line for the key, none per integration"
    assert StatusChange.objects.filter(severity=Severity.PROBLEM).count() == 1
    assert StatusChange.objects.get(severity=Severity.PROBLEM).folded_into is not None


def at_step(start: datetime, step: int) -> datetime:
    """The moment of the step-th poll interval (5 minutes); the 4th is half a minute late, so that
    it is over 3 intervals after the first failure whatever the polls in between took."""
    return start + timedelta(minutes=5 * step, seconds=30 if step == 4 else 0)


def _fail_for_three_intervals(sandbox, sites: list[DataFastSite], start: datetime) -> None:
    sandbox.state.faults.add("/api/", kind="status", status=500)
    for step in range(1, 5):
        with time_machine.travel(at_step(start, step)):
            poll_all(sites)


def test_a_vendor_not_answering_is_one_message_and_its_recovery_one_more(sandbox, mailoutbox, settings):
    settings.UPSTREAM_RETRIES = 0
    sites = [*acme_sites(), other_site()]
    start = timezone.now()
    poll_all(sites)
    _fail_for_three_intervals(sandbox, sites, start)
    with time_machine.travel(start + timedelta(minutes=21)):
        send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox] == ["[Paystatus] DataFast is not answering (4 websites)"]
    assert mailoutbox[0].body.count("* PROBLEM:") == 1
    assert "4 of 4 websites failed their last poll" in mailoutbox[0].body
    failing = health_changes(Severity.PROBLEM)
    assert [change.new for change in failing] == [Health.FAILING] * 4
    assert len({change.folded_into_id for change in failing}) == 1
    sandbox.state.faults.clear()
    with time_machine.travel(start + timedelta(minutes=25)):
        poll_all(sites)
    with time_machine.travel(start + timedelta(minutes=26)):
        send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox][1:] == ["[Paystatus] DataFast is answering again (4 websites)"]
    assert len(health_changes(Severity.RECOVERY)) == 4


def test_a_vendor_outage_spread_over_batches_is_still_one_message(sandbox, mailoutbox, settings):
    settings.UPSTREAM_RETRIES = 0
    sites = [*acme_sites(), other_site()]
    start = timezone.now()
    poll_all(sites)
    sandbox.state.faults.add("/api/", kind="status", status=500)
    for step in range(1, 5):
        with time_machine.travel(at_step(start, step)):
            poll_all(sites[:2])
            if step < 4:  # the last two cross the line a minute later
                poll_all(sites[2:])
    with time_machine.travel(start + timedelta(minutes=20, seconds=45)):
        send_pending_alerts(wait=False)
    with time_machine.travel(start + timedelta(minutes=21)):
        poll_all(sites[2:])
        send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox] == ["[Paystatus] DataFast is not answering (4 websites)"]
    assert StatusChange.objects.filter(severity=Severity.PROBLEM, folded_into__isnull=False).count() == 4
    # Recoveries arrive while most websites still fail: held until the vendor is back.
    sandbox.state.faults.clear()
    with time_machine.travel(start + timedelta(minutes=25)):
        poll_site(sites[0].pk)
        send_pending_alerts(wait=False)
    assert len(mailoutbox) == 1
    with time_machine.travel(start + timedelta(minutes=26)):
        poll_all(sites[1:])
        send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox][1:] == ["[Paystatus] DataFast is answering again (4 websites)"]


def test_a_minority_of_failing_websites_are_told_one_by_one(sandbox, mailoutbox, settings):
    """One website of four failing is that website's problem: no vendor outage is claimed."""
    settings.UPSTREAM_RETRIES = 0
    sites = [*acme_sites(), other_site()]
    start = timezone.now()
    poll_all(sites)
    sandbox.state.faults.add(f"/api/v1/admin/websites/{demo.ACME_STORE}/", kind="status", status=500)
    for step in range(1, 5):
        with time_machine.travel(at_step(start, step)):
            poll_site(sites[0].pk)
    with time_machine.travel(start + timedelta(minutes=21)):
        send_pending_alerts(wait=False)
    (message,) = mailoutbox
    assert message.subject == "[Paystatus] DataFast has not answered properly for Acme Store for over 3 poll intervals"
    assert not Cause.objects.exists()


def test_the_history_shows_each_folded_change_with_its_cause(sandbox, mailoutbox, admin_client):
    sites = acme_sites()
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all(sites)
    send_pending_alerts(wait=False)
    page = admin_client.get(sites[1].get_absolute_url()).content.decode()
    assert "DataFast refused the token for Bluebird Books" in page
    assert "told as part of “<bdi>DataFast refused the token of account “Acme Holdings”" in page


def test_held_recoveries_are_sent_when_the_cause_settles_without_a_new_change(sandbox, mailoutbox):
    """The last refused website is paused instead of recovering: the recoveries held so far still
    go out, in one message, and the cause closes."""
    sites = acme_sites()
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all(sites)
    send_pending_alerts(wait=False)
    sandbox.state.reset("demo")
    poll_all(sites[:2])
    send_pending_alerts(wait=False)
    assert len(mailoutbox) == 1
    paused = sites[2]
    paused.enabled = False
    paused.save()
    send_pending_alerts(wait=False)
    assert [message.subject for message in mailoutbox][1:] == [
        "[Paystatus] DataFast accepts the token of account “Acme Holdings” again (2 websites)"
    ]
    send_pending_alerts(wait=False)
    assert len(mailoutbox) == 2, "nothing twice"


# --- The same folded lines in chat (one builder for email and chat) ------------------------------

FIVE_ACME_SITES = [
    *ACME_SITES,
    ("6650a1f2c4e8b90012ab3405", "Evergreen Apparel"),
    ("6650a1f2c4e8b90012ab3407", "Golden Hour Candles"),
]


def test_a_rejected_token_is_one_chat_message_with_one_line_naming_the_account(sandbox, chat_sink, mailoutbox):
    sites = [factories.site(website_id=website, name=name) for website, name in FIVE_ACME_SITES]
    factories.channel(chat_sink.json_url("/hook"), name="Chat")
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all(sites)
    send_pending_alerts(wait=False)
    (post,) = chat_sink.messages()
    told = (
        "DataFast refused the token of account “Acme Holdings” (5 websites: Acme Store, Bluebird Books, "
        "Cedar Coffee, Evergreen Apparel, Golden Hour Candles)"
    )
    assert post.json["title"] == f"Paystatus: {told}"
    assert post.json["message"] == f"✖ {told} http://testserver/"
    assert len(health_changes(Severity.PROBLEM)) == 5, "every website's change is still recorded"
    assert mailoutbox[0].subject == f"[Paystatus] {told}", "the email says the same line"


def test_a_vendor_outage_is_one_chat_message_and_its_recovery_one_more(sandbox, chat_sink, settings):
    settings.UPSTREAM_RETRIES = 0
    sites = [*acme_sites(), other_site()]
    factories.channel(chat_sink.json_url("/hook"), name="Chat")
    start = timezone.now()
    poll_all(sites)
    _fail_for_three_intervals(sandbox, sites, start)
    with time_machine.travel(start + timedelta(minutes=21)):
        send_pending_alerts(wait=False)
    (outage,) = chat_sink.messages()
    assert outage.json["title"] == "Paystatus: DataFast is not answering (4 websites)"
    assert outage.json["message"] == "✖ DataFast is not answering (4 websites) http://testserver/"
    sandbox.state.faults.clear()
    with time_machine.travel(start + timedelta(minutes=25)):
        poll_all(sites)
    with time_machine.travel(start + timedelta(minutes=26)):
        send_pending_alerts(wait=False)
    assert len(chat_sink.messages()) == 2
    recovery = chat_sink.messages()[1]
    assert recovery.json["title"] == "Paystatus: DataFast is answering again (4 websites)"
    assert recovery.json["message"] == "✔ DataFast is answering again (4 websites) http://testserver/"
    assert len(health_changes(Severity.RECOVERY)) == 4
    with time_machine.travel(start + timedelta(minutes=27)):
        send_pending_alerts(wait=False)
    assert len(chat_sink.messages()) == 2, "nothing twice"


def test_a_projects_channels_hear_of_a_shared_token_naming_only_their_own_websites(sandbox, chat_sink, mailoutbox):
    """One account's websites in two projects: the global channel hears the whole cause; each
    project's chat and email channel one line naming only its own websites."""
    client_a, client_b = factories.project("Client A"), factories.project("Client B")
    sites = acme_sites()
    DataFastSite.objects.filter(pk__in=[sites[0].pk, sites[1].pk]).update(project=client_a)
    DataFastSite.objects.filter(pk=sites[2].pk).update(project=client_b)
    factories.channel(chat_sink.json_url("/all"), name="Everyone")
    factories.channel(chat_sink.json_url("/a"), name="A", project=client_a)
    factories.channel(chat_sink.json_url("/b"), name="B", project=client_b)
    Channel.objects.create(name="B's email", kind=ChannelKind.EMAIL, addresses="b@example.com", project=client_b)
    poll_all(sites)
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_all(sites)
    send_pending_alerts(wait=False)
    token = "DataFast refused the token of account “Acme Holdings”"
    (everyone,) = chat_sink.messages("/all")
    assert everyone.json["title"] == f"Paystatus: {token} (3 websites: Acme Store, Bluebird Books, Cedar Coffee)"
    (a,) = chat_sink.messages("/a")
    assert a.json["message"] == f"✖ {token} (2 websites: Acme Store, Bluebird Books) http://testserver/"
    (b,) = chat_sink.messages("/b")
    assert b.json["message"] == f"✖ {token} (1 website: Cedar Coffee) http://testserver/"
    (email_b,) = [message for message in mailoutbox if message.to == ["b@example.com"]]
    assert email_b.subject == f"[Paystatus] {token} (1 website: Cedar Coffee)"
    assert "Acme Store" not in email_b.body and "Bluebird" not in email_b.body


def test_a_projects_chat_hears_of_a_vendor_outage_counting_its_own_websites(sandbox, chat_sink, settings):
    settings.UPSTREAM_RETRIES = 0
    client_a = factories.project("Client A")
    sites = [*acme_sites(), other_site()]
    DataFastSite.objects.filter(pk=sites[0].pk).update(project=client_a)
    factories.channel(chat_sink.json_url("/all"), name="Everyone")
    factories.channel(chat_sink.json_url("/a"), name="A", project=client_a)
    start = timezone.now()
    poll_all(sites)
    _fail_for_three_intervals(sandbox, sites, start)
    with time_machine.travel(start + timedelta(minutes=21)):
        send_pending_alerts(wait=False)
    (everyone,) = chat_sink.messages("/all")
    assert everyone.json["title"] == "Paystatus: DataFast is not answering (4 websites)"
    (a,) = chat_sink.messages("/a")
    assert a.json["message"] == "✖ DataFast is not answering (1 website) http://testserver/"
