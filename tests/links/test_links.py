"""One client, two vendors: suggestions by name and domain, staff decisions, and what the website
and organisation pages show of each other (constant queries, scoped)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app import links
from integrations_app.models import (
    AuditEntry,
    ClientLink,
    DataFastSite,
    Integration,
    LinkState,
    Membership,
    Organisation,
    Project,
    ProviderState,
)
from integrations_app.scoping import EVERYTHING
from integrations_app.views.context import WATCHER_CACHE_KEY
from tests import demo, factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("domain", "stem"),
    [
        ("www.Acme-Store.com", "acme-store"),
        ("acme.co.uk", "acme"),
        ("shop.bluebird.io", "shop bluebird"),
        ("cedar", "cedar"),
        ("", ""),
        ("WWW.Éclair.fr.", "eclair"),
    ],
)
def test_a_domain_is_cut_to_the_part_that_names_the_business(domain, stem):
    assert links.domain_stem(domain) == stem


def test_names_are_compared_without_case_accents_punctuation_or_filler_words():
    assert links.words("The Éclair-Bakery, Ltd.") == ("eclair", "bakery")
    assert links.keys_of("ACME Store")[1] == links.keys_of("acme")[1] == frozenset({"acme"})
    assert links.keys_of("Acme Store", links.domain_stem("www.acmestore.com"))[1] == frozenset({"acme", "acmestore"})


def _org(organisation_id: str, label: str = "", name: str = "", **fields: object) -> Organisation:
    return Organisation.objects.create(organisation_id=organisation_id, label=label, name=name, **fields)


def test_it_suggests_by_name_and_by_domain_and_shared_words():
    acme = factories.site()
    bluebird = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Untitled", domain="www.bluebird-books.co.uk")
    cedar = factories.site(website_id="6650a1f2c4e8b90012ab3403", name="Cedar Coffee Roasters")
    factories.site(website_id="6650a1f2c4e8b90012ab3404", name="Nothing Alike")
    acme_org = _org("org_acme", name="ACME Ltd")
    bluebird_org = _org("org_bluebird", label="Bluebird Books Group")
    cedar_org = _org("org_cedar", name="Cedar Coffee")
    _org("org_other", name="Zebra Holdings")
    found = {item.site_pk: item for item in links.suggestions(EVERYTHING)}
    assert set(found) == {acme.pk, bluebird.pk, cedar.pk}
    assert (found[acme.pk].organisation_pk, found[acme.pk].reason) == (acme_org.pk, "same name")
    assert (found[bluebird.pk].organisation_pk, found[bluebird.pk].reason) == (
        bluebird_org.pk,
        "domain matches the name",
    )
    assert found[cedar.pk].organisation_pk == cedar_org.pk
    assert found[cedar.pk].reason == "shares “cedar”, “coffee”" and found[cedar.pk].score == pytest.approx(2 / 3)


def test_a_word_every_organisation_has_suggests_nothing():
    factories.site(name="Northwind Alpha")
    for n in range(links.COMMON_WORD_LIMIT + 1):
        _org(f"org_{n}", name=f"Northwind Beta{n}")
    assert links.suggestions(EVERYTHING) == []


def test_staff_confirm_a_suggestion_and_it_is_audited_and_no_longer_suggested(staff_client):
    acme = factories.site()
    organisation = _org("org_acme", label="Acme Retail")
    page = staff_client.get(reverse("links")).content.decode()
    assert "Acme Store" in page and "Acme Retail" in page and "same name" not in page
    response = staff_client.post(reverse("link-confirm"), {"site": acme.pk, "organisation": organisation.pk})
    assert response.status_code == 302
    link = ClientLink.objects.get()
    assert (link.site, link.organisation, link.state) == (acme, organisation, LinkState.CONFIRMED)
    entry = AuditEntry.objects.get(action="link.confirm")
    assert entry.after == {"organisation": "org_acme"} and entry.username == "staff"
    assert links.suggestions(EVERYTHING) == []
    page = staff_client.get(reverse("links")).content.decode()
    assert "Linked (1)" in page and "Suggestions (0)" in page


def test_a_dismissed_suggestion_is_not_made_again(staff_client):
    acme = factories.site()
    organisation = _org("org_acme", label="Acme")
    staff_client.post(reverse("link-dismiss"), {"site": acme.pk, "organisation": organisation.pk})
    assert links.suggestions(EVERYTHING) == []
    assert ClientLink.objects.get().state == LinkState.DISMISSED
    other = _org("org_acme_2", label="Acme Store Inc")  # another organisation is still suggested
    assert [item.organisation_pk for item in links.suggestions(EVERYTHING)] == [other.pk]


def test_a_website_links_to_one_organisation_and_an_organisation_to_several(staff_client):
    acme = factories.site()
    outlet = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Acme Outlet")
    first, second = _org("org_a", label="A"), _org("org_b", label="B")
    for site in (acme, outlet):
        staff_client.post(reverse("site-link", args=[site.pk]), {"organisation": first.pk})
    assert set(first.client_links.values_list("site", flat=True)) == {acme.pk, outlet.pk}
    staff_client.post(reverse("site-link", args=[acme.pk]), {"organisation": second.pk})
    assert [(link.organisation_id, link.state) for link in ClientLink.objects.filter(site=acme)] == [
        (second.pk, LinkState.CONFIRMED)
    ]
    staff_client.post(reverse("site-link", args=[acme.pk]), {"organisation": ""})
    assert not ClientLink.objects.filter(site=acme).exists()
    assert AuditEntry.objects.filter(action="link.remove").get().before == {"organisation": "org_b"}


def test_a_bad_organisation_is_named_in_words(staff_client):
    acme = factories.site()
    response = staff_client.post(reverse("site-link", args=[acme.pk]), {"organisation": "999"}, follow=True)
    assert "No such organisation: pick one from the list." in response.content.decode()
    response = staff_client.post(reverse("link-confirm"), {"site": "x", "organisation": "1"}, follow=True)
    assert "No such website." in response.content.decode()


def test_viewers_and_members_may_not_link(viewer_client, client):
    acme = factories.site()
    organisation = _org("org_acme", label="Acme")
    for user_client in (viewer_client,):
        assert user_client.get(reverse("links")).status_code == 403
        pair = {"site": acme.pk, "organisation": organisation.pk}
        assert user_client.post(reverse("link-confirm"), pair).status_code == 403
        assert user_client.post(reverse("link-dismiss"), pair).status_code == 403
        assert (
            user_client.post(reverse("site-link", args=[acme.pk]), {"organisation": organisation.pk}).status_code == 403
        )
    assert not ClientLink.objects.exists()
    html = viewer_client.get(acme.get_absolute_url()).content.decode()
    assert "Save link" not in html and "Links</a>" not in html


def _linked_pair(integrations: int = 2) -> tuple[DataFastSite, Organisation]:
    site = factories.site()
    ProviderState.objects.create(site=site, provider="stripe", connected=True)
    ProviderState.objects.create(site=site, provider="paddle", connected=False, alert_open=True)
    organisation = _org("org_acme", label="Acme Retail Group", mode="TEST")
    for n in range(integrations):
        Integration.objects.create(
            integration_id=f"int_{n}",
            organisation=organisation,
            name=f"Orders {n}",
            type="CUSTOM_ORDERS",
            status="DISABLED" if n == 0 else "ENABLED",
        )
    ClientLink.objects.create(site=site, organisation=organisation)
    return site, organisation


def test_the_website_page_shows_the_organisations_integrations_and_their_states(viewer_client):
    site, _organisation = _linked_pair()
    html = viewer_client.get(site.get_absolute_url()).content.decode()
    section = html[html.index('id="client-section"') :]
    assert "Acme Retail Group" in section and "TEST" in section
    assert "Orders 0" in section and "Orders 1" in section
    assert "Disabled" in section and "Enabled" in section
    assert 'data-problem="pending"' in section  # the organisation's one status


def test_the_organisation_page_shows_its_websites_providers(viewer_client):
    _site, organisation = _linked_pair()
    html = viewer_client.get(organisation.get_absolute_url()).content.decode()
    section = html[html.index('id="websites-section"') :]
    assert "Acme Store" in section
    assert "Stripe" in section and section.count("badge") >= 2


def test_a_member_sees_the_link_only_when_they_see_the_organisation(client):
    site, organisation = _linked_pair()
    project = Project.objects.create(name="Client A")
    site.project = project
    site.save()
    member = factories.viewer("member")
    Membership.objects.create(project=project, user=member)
    client.force_login(member)
    html = client.get(site.get_absolute_url()).content.decode()
    assert "Acme Retail Group" not in html and "Orders 1" not in html  # a global organisation
    assert client.get(organisation.get_absolute_url()).status_code == 404
    organisation.project = project
    organisation.save()
    assert "Orders 1" in client.get(site.get_absolute_url()).content.decode()


def _queries(client, url: str) -> int:
    cache.delete(WATCHER_CACHE_KEY)  # each page measured with the watcher's banner computed
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_pages_do_a_constant_number_of_queries(staff_client):
    site, organisation = _linked_pair(integrations=3)
    account = site.account
    urls = [site.get_absolute_url(), organisation.get_absolute_url(), reverse("links")]

    def grow(start: int, count: int) -> None:
        sites = DataFastSite.objects.bulk_create(
            DataFastSite(account=account, name=f"Shop {n}", website_id=f"{n:024x}") for n in range(start, start + count)
        )
        ProviderState.objects.bulk_create(ProviderState(site=row, provider="stripe", connected=True) for row in sites)
        ClientLink.objects.bulk_create(ClientLink(site=row, organisation=organisation) for row in sites[: count // 2])
        Integration.objects.bulk_create(
            Integration(integration_id=f"i{n}", organisation=organisation, name="x", type="GENERIC", status="ENABLED")
            for n in range(start, start + count)
        )
        Organisation.objects.bulk_create(
            Organisation(organisation_id=f"o{n}", name=f"Shop {n}") for n in range(start, start + count)
        )

    grow(100, 20)
    small = [_queries(staff_client, url) for url in urls]
    grow(200, 200)
    large = [_queries(staff_client, url) for url in urls]
    assert small == large, (small, large)


ADJECTIVES = [
    f"{syllable}{vowel}" for syllable in ("amb", "bri", "cor", "dun", "elv", "fra", "gla", "hol") for vowel in "aeiou"
]
NOUNS = [
    f"{syllable}{end}"
    for syllable in ("anch", "bell", "crow", "dov", "emb")
    for end in ("er", "ing", "ly", "ow", "ton")
]


def test_suggestions_for_a_thousand_websites_and_a_thousand_organisations_are_fast(staff_client):
    """1,000 by 1,000: an index of words, not every pair (a million comparisons would take seconds)."""
    account = factories.account()
    names = [f"{adjective.title()} {noun.title()}" for adjective in ADJECTIVES for noun in NOUNS]
    assert len(names) == 1000
    DataFastSite.objects.bulk_create(
        DataFastSite(account=account, name=name, website_id=f"{n:024x}", domain=f"www.{name.replace(' ', '-')}.com")
        for n, name in enumerate(names)
    )
    Organisation.objects.bulk_create(
        Organisation(organisation_id=f"org_{n}", name=f"{name} Ltd") for n, name in enumerate(reversed(names))
    )
    started = time.perf_counter()
    found = links.suggestions(EVERYTHING)
    computed = time.perf_counter() - started
    assert len(found) == 1000 and all(item.reason == "same name" for item in found)
    assert all(item.site_name + " Ltd" == item.organisation_name for item in found)
    started = time.perf_counter()
    queries = _queries(staff_client, reverse("links"))
    page = time.perf_counter() - started
    print(f"suggestions 1000x1000: {computed * 1000:.0f} ms computed, page {page * 1000:.0f} ms, {queries} queries")
    assert computed < 1.5 and page < 3.0
