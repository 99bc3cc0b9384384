"""The account pages list a token's websites by name, with checkboxes, over real HTTP to the sandbox."""

from __future__ import annotations

import html
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations_app.datafast import discovery
from integrations_app.datafast.models import DataFastAccount, DataFastSite, Discovery
from integrations_app.models import AuditEntry
from tests import demo, factories

pytestmark = pytest.mark.django_db
ACME_OUTLET, ACME_LABS = "6650a1f2c4e8b90012ab340d", "6650a1f2c4e8b90012ab340e"


def boxes(page: str) -> dict[str, bool]:
    """Each website checkbox of the page: ticked or not."""
    tags = re.finditer(r'<input[^>]*name="website_ids" value="(\w+)"[^>]*>', page)
    return {tag.group(1): " checked" in tag.group(0) for tag in tags}


def test_pasting_a_token_lists_its_websites_by_name_all_ticked(staff_client, sandbox):
    response = staff_client.post(
        reverse("account-create"), {"name": "Acme", "secret": demo.DATAFAST_TOKEN.reveal()}, follow=True
    )
    account = DataFastAccount.objects.get(name="Acme")
    assert response.redirect_chain[-1][0] == reverse("account-edit", args=[account.pk])
    page = response.content.decode()
    assert "The token lists 9 websites. Tick the websites to watch below, then save." in page
    assert "Acme Outlet" in page and "outlet.acme-store.example" in page and "America/New_York" in page
    assert "labs.acme-store.example" in page  # no name in DataFast: its domain
    ticked = boxes(page)
    assert len(ticked) == 9 and all(ticked.values())


def test_the_operator_picks_which_to_watch_and_the_rest_are_set_aside(staff_client, sandbox):
    account = factories.account()
    discovery.discover(account)
    response = staff_client.post(
        reverse("account-edit", args=[account.pk]),
        {"name": account.name, "secret": "", "website_ids": [ACME_OUTLET, demo.ACME_STORE]},
        follow=True,
    )
    assert "Now watching 2 more websites" in response.content.decode()
    assert set(DataFastSite.objects.values_list("website_id", flat=True)) == {ACME_OUTLET, demo.ACME_STORE}
    assert AuditEntry.objects.filter(action="credentials.site.create").count() == 2
    page = staff_client.get(reverse("account-edit", args=[account.pk])).content.decode()
    ticked = boxes(page)
    assert len(ticked) == 7 and not any(ticked.values())  # set aside: offered, not ticked
    assert "(set aside earlier)" in page and page.count("Watched</span>") == 2


def test_a_website_id_not_offered_is_refused_on_its_field(staff_client, sandbox):
    account = factories.account()
    discovery.discover(account)
    response = staff_client.post(
        reverse("account-edit", args=[account.pk]), {"name": account.name, "website_ids": ["f" * 24]}
    )
    assert response.status_code == 200
    assert f"The website {'f' * 24} is no longer offered" in response.content.decode()
    assert not DataFastSite.objects.exists()


def test_a_token_without_websites_read_says_so_and_offers_typing_ids(staff_client, sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    response = staff_client.post(
        reverse("account-create"), {"name": "Acme", "secret": demo.DATAFAST_TOKEN.reveal()}, follow=True
    )
    account = DataFastAccount.objects.get(name="Acme")
    assert account.discovery == Discovery.NO_PERMISSION
    assert response.redirect_chain[-1][0] == reverse("credentials")
    assert "it lacks DataFast's websites:read permission" in html.unescape(response.content.decode())
    page = html.unescape(staff_client.get(reverse("account-edit", args=[account.pk])).content.decode())
    assert "Add websites by typing their IDs" in page
    assert f'href="{reverse("site-create")}?account={account.pk}">Add a website by its ID' in page
    assert f'href="{reverse("site-create")}?account={account.pk}"' in page


def test_discovering_again_on_demand_reports_new_websites(staff_client, sandbox):
    account = factories.account()
    response = staff_client.post(reverse("account-discover", args=[account.pk]), follow=True)
    assert "The token lists 9 websites. 9 not watched yet." in response.content.decode()
    assert AuditEntry.objects.filter(action="discovery.websites", target="account Acme Holdings").exists()


def test_viewers_may_not_discover(viewer_client, sandbox):
    account = factories.account()
    assert viewer_client.post(reverse("account-discover", args=[account.pk])).status_code == 403
    assert viewer_client.get(reverse("account-discover", args=[account.pk])).status_code in (403, 405)


def test_the_edit_page_takes_the_same_queries_for_3_and_9_websites(
    staff_client, sandbox, django_assert_max_num_queries
):
    account = factories.account()
    discovery.discover(account)
    discovery.watch(account, [demo.ACME_STORE, ACME_OUTLET, ACME_LABS])
    with django_assert_max_num_queries(12) as few:
        staff_client.get(reverse("account-edit", args=[account.pk]))
    discovery.watch(account, [row.website.id for row in discovery.rows(account)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(reverse("account-edit", args=[account.pk]))


def test_the_command_lists_by_name_and_watches_all(sandbox, capsys):
    account = factories.account()
    factories.site(demo.ACME_STORE, name="Typed by hand")
    call_command("discover_websites", "--account", account.name)
    out = capsys.readouterr().out
    assert "The token lists 9 websites." in out
    assert re.search(r"\[  watched\] Acme Store +acme-store\.example", out)
    assert re.search(r"\[      new\] Acme Outlet +outlet\.acme-store\.example  America/New_York  member", out)
    assert "8 not watched: run again with --watch-all" in out
    call_command("discover_websites", "--account", account.name, "--watch-all")
    assert "Now watching 8 more websites" in capsys.readouterr().out
    assert DataFastSite.objects.filter(account=account).count() == 9
    assert DataFastSite.objects.get(website_id=ACME_LABS).name == "labs.acme-store.example"


def test_the_command_reads_a_new_accounts_token_and_explains_a_403(sandbox, monkeypatch):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    monkeypatch.setattr("sys.stdin", io.StringIO(demo.DATAFAST_TOKEN.reveal() + "\n"))
    with pytest.raises(CommandError, match=r"websites:read.*add_datafast_site --account 'Fresh'"):
        call_command("discover_websites", "--account", "Fresh")
    assert DataFastAccount.objects.get(name="Fresh").discovery == Discovery.NO_PERMISSION
