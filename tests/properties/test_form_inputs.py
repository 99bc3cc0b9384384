"""Every form under bad input: never a 5xx, every refusal on the field it concerns, valid input accepted.

The forms are driven through the real pages with the Django test client as staff, and directly
where that is cheaper. Each example runs in a savepoint that is rolled back, so what one example
saves cannot make the next one a duplicate. Upstream calls (only for forms that pass) go to the
sandbox.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import assume, given
from hypothesis import strategies as st

from integrations_app.chargebackstop.forms import CreateIntegrationForm, RenameIntegrationForm
from integrations_app.models import (
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Integration,
    KeyOrganisation,
    Organisation,
)
from integrations_app.models.sources import PolledSource
from tests import demo, factories
from tests.factories import present
from tests.properties import (
    ANY_CHARACTER,
    GOOD_MERCHANT_ID,
    INTERVAL_RANGE,
    MERCHANT_ID,
    PADDING,
    SEPARATOR,
    credential_name_is_acceptable,
    error_shown_beside,
    examples,
    id_lists,
    intervals,
    merchant_ids_are_acceptable,
    name_is_acceptable,
    names,
    rolled_back,
    secrets,
    split_ids,
    text_of_length,
    visible_ascii,
    website_ids,
)

pytestmark = pytest.mark.django_db

ACME_MERCHANTS = ["mrch_acme_us", "mrch_acme_eu", "mrch_acme_uk"]
CREATE = reverse("integration-create")


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def reachable_key() -> ChargebackStopKey:
    """The partner key and one organisation it reaches, as a poll would have left them (no HTTP)."""
    key = factories.key()
    organisation = Organisation.objects.create(organisation_id=demo.ACME_ORG, merchant_ids=ACME_MERCHANTS)
    KeyOrganisation.objects.create(key=key, organisation=organisation)
    Organisation.objects.create(organisation_id=demo.BLUEBIRD_ORG)  # known, but not reached by the key
    return key


@pytest.fixture
def acme_orders(reachable_key: ChargebackStopKey) -> Integration:
    return Integration.objects.create(
        integration_id=demo.ACME_ORDERS,
        organisation=Organisation.objects.get(organisation_id=demo.ACME_ORG),
        seen_by=reachable_key,
        name="Acme Orders API",
        type="CUSTOM_ORDERS",
        status="ENABLED",
        merchant_ids=["mrch_acme_us", "mrch_acme_eu"],
    )


@pytest.fixture
def acme_store() -> DataFastSite:
    """The account "Acme Holdings" and its website "Acme Store": names and an ID others may not take."""
    return factories.site()


@pytest.fixture
def northwind() -> ChargebackStopKey:
    return factories.key()


def upstream_requests(sandbox: Any) -> int:
    requests: int = sandbox.state.stats()["chargebackstop"]["requests"]
    return requests


# --- strategies and rules for the fields of the create form --------------------------------------


def choice_values(*good: str) -> st.SearchStrategy[str]:
    """The valid choices most of the time; otherwise near misses and anything at all."""
    near = [value.lower() for value in good] + [f" {value}" for value in good] + ["", "null", "0"]
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(near), st.text(ANY_CHARACTER))


def primary_keys(pk: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(str(pk)),
        st.just(str(pk)),
        st.sampled_from(["", "0", "-1", "999999", "9" * 30, f"{pk}.5", f"{pk}x", "None"]),
        st.text(ANY_CHARACTER, max_size=8),
    )


def selects(value: str, pk: int) -> bool:
    """Whether a submitted value picks the row `pk` (as an integer, the way a primary key is read)."""
    try:
        return int(value) == pk
    except ValueError:
        return False


def parses_as_uuid(value: str) -> bool:
    try:
        uuid.UUID(value.strip())
    except ValueError:
        return False
    return True


SUBMISSIONS = st.one_of(st.uuids().map(str), st.uuids().map(str), st.text(ANY_CHARACTER, max_size=40))
MERCHANT_TEXT = st.one_of(
    st.lists(st.sampled_from(ACME_MERCHANTS), min_size=1, max_size=3, unique=True).map(" ".join),
    id_lists(GOOD_MERCHANT_ID),
)


def create_form_data(key: ChargebackStopKey, draw: Any) -> dict[str, str]:
    return {
        "key": draw(primary_keys(key.pk)),
        "organisation_id": draw(choice_values(demo.ACME_ORG, demo.BLUEBIRD_ORG)),
        "name": draw(names(255)),
        "status": draw(choice_values("ENABLED", "DISABLED")),
        "merchant_ids": draw(MERCHANT_TEXT),
        "submission": draw(SUBMISSIONS),
    }


def create_form_faults(data: dict[str, str], key: ChargebackStopKey) -> set[str]:
    """The fields a correct create form must refuse, by the documented rules."""
    faults = set()
    if not selects(data["key"], key.pk):
        faults.add("key")
    if data["organisation_id"] != demo.ACME_ORG:  # the only organisation an enabled key reaches
        faults.add("organisation_id")
    if not name_is_acceptable(data["name"], limit=255, invisible_too=True):
        faults.add("name")
    if data["status"] not in ("ENABLED", "DISABLED"):
        faults.add("status")
    if not merchant_ids_are_acceptable(data["merchant_ids"]):
        faults.add("merchant_ids")
    if not parses_as_uuid(data["submission"]):
        faults.add("submission")
    return faults


# --- create --------------------------------------------------------------------------------------


@examples(100)
@given(data=st.data())
def test_the_create_form_refuses_exactly_the_fields_that_break_a_rule(reachable_key, data):
    values = create_form_data(reachable_key, data.draw)
    form = CreateIntegrationForm(values)
    assert set(form.errors) == create_form_faults(values, reachable_key), (values, form.errors)
    for field, messages in form.errors.items():
        assert all(message.strip() for message in messages), field


@examples(40)
@given(data=st.data())
def test_the_create_page_shows_each_refusal_beside_its_field_and_asks_nothing_upstream(
    sandbox, reachable_key, staff_client, data
):
    values = create_form_data(reachable_key, data.draw)
    faults = create_form_faults(values, reachable_key)
    assume(faults)
    before = upstream_requests(sandbox)
    with rolled_back():
        response = staff_client.post(CREATE, values)
    assert response.status_code == 200
    assert set(response.context["form"].errors) == faults
    html = response.content.decode()
    for field in faults - {"submission"}:
        assert error_shown_beside(html, field), field
    if "submission" in faults:  # a hidden field: its error is in the alert above the form
        assert 'role="alert"' in html and "one-time token" in html
    assert upstream_requests(sandbox) == before


VALID_NAMES = st.tuples(PADDING, st.integers(1, 255).flatmap(text_of_length), PADDING).map("".join)
ACME_MERCHANT_LISTS = st.lists(st.sampled_from(ACME_MERCHANTS), min_size=1, max_size=3, unique=True).flatmap(
    lambda ids: st.lists(SEPARATOR, min_size=len(ids), max_size=len(ids)).map(
        lambda separators: "".join(a + b for a, b in zip(ids, separators, strict=True))
    )
)


@examples(12)
@given(
    typed=st.fixed_dictionaries(
        {"name": VALID_NAMES, "merchant_ids": ACME_MERCHANT_LISTS, "status": st.sampled_from(["ENABLED", "DISABLED"])}
    )
)
def test_the_create_page_accepts_every_valid_form(sandbox, reachable_key, staff_client, typed):
    name, merchant_ids, status = typed["name"], typed["merchant_ids"], typed["status"]
    values = {
        "key": reachable_key.pk,
        "organisation_id": demo.ACME_ORG,
        "name": name,
        "status": status,
        "merchant_ids": merchant_ids,
        "submission": str(uuid.uuid4()),
    }
    with rolled_back():
        response = staff_client.post(CREATE, values)
        assert response.status_code == 302, response.context["form"].errors if response.context else response
        created = sandbox.state.integrations(demo.ACME_ORG)[-1]
        assert (created["name"], created["merchant_ids"], created["status"]) == (
            name.strip(),
            split_ids(merchant_ids),
            status,
        )
        assert Integration.objects.get(integration_id=created["id"]).name == name.strip()


# --- rename --------------------------------------------------------------------------------------


@examples(80)
@given(name=names(255))
def test_the_rename_form_refuses_exactly_the_names_that_break_a_rule(acme_orders, name):
    form = RenameIntegrationForm({"name": name}, current_name=acme_orders.name)
    acceptable = name_is_acceptable(name, limit=255, invisible_too=True) and name.strip() != acme_orders.name
    assert set(form.errors) == (set() if acceptable else {"name"}), (name, form.errors)


@examples(25)
@given(name=st.one_of(names(255), st.just("Acme Orders API"), st.just(" Acme Orders API\t")))
def test_the_rename_page_renames_or_shows_the_refusal_beside_the_name(sandbox, acme_orders, staff_client, name):
    url = reverse("integration-rename", args=[acme_orders.pk])
    before = upstream_requests(sandbox)
    acceptable = name_is_acceptable(name, limit=255, invisible_too=True) and name.strip() != acme_orders.name
    with rolled_back():
        response = staff_client.post(url, {"name": name})
        if acceptable:
            assert response.status_code == 302
            assert Integration.objects.get(pk=acme_orders.pk).name == name.strip()
            assert sandbox.state.integration(demo.ACME_ORDERS)["name"] == name.strip()
    if not acceptable:
        assert response.status_code == 200
        assert set(response.context["form"].errors) == {"name"}
        assert error_shown_beside(response.content.decode(), "name")
        assert upstream_requests(sandbox) == before


# --- credentials ---------------------------------------------------------------------------------


def interval_verdict(value: str) -> bool | None:
    """True or False where the rule decides plainly (blank, or a plain whole number); None for
    other text, where only the saved value is checked."""
    if value == "":
        return True
    if value.lstrip("-").isascii() and value.lstrip("-").isdigit():
        return int(value) in INTERVAL_RANGE
    return None


def check_interval(model: type[PolledSource], value: str, errors: dict[str, Any]) -> None:
    verdict = interval_verdict(value)
    refused = "poll_interval_seconds" in errors
    if verdict is not None:
        assert refused is (not verdict), (value, errors)
    if not refused and not errors:
        saved = present(model._default_manager.order_by("-pk").first()).poll_interval_seconds
        assert saved is None or saved in INTERVAL_RANGE, (value, saved)


def post_and_judge(client: Client, url: str, values: dict[str, str]) -> dict[str, Any]:
    """POST the form and return its errors (none: saved), having checked each is shown beside its field."""
    response = client.post(url, values)
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302:
        return {}
    errors = response.context["form"].errors
    assert errors, "a re-rendered form without any error"
    html = response.content.decode()
    for field in errors:
        assert error_shown_beside(html, field), field
    assert "Nothing was saved" in html
    return dict(errors)


@examples(45)
@given(name=names(100), secret=secrets("dft_"))
def test_the_datafast_account_page_saves_or_names_the_bad_field(staff_client, acme_store, name, secret):
    faults = set()
    if not credential_name_is_acceptable(name, DataFastAccount):
        faults.add("name")
    token = secret.strip()
    if not (token.startswith("dft_") and visible_ascii(token[4:]) and len(token) <= 500):
        faults.add("secret")
    with rolled_back():
        errors = post_and_judge(staff_client, reverse("account-create"), {"name": name, "secret": secret})
        assert set(errors) == faults, (name, secret, errors)
        if not faults:
            saved = DataFastAccount.objects.get(name=name.strip())
            assert saved.secret.reveal() == token


@examples(45)
@given(
    typed=st.fixed_dictionaries({"name": names(100), "website_id": website_ids(), "interval": intervals()}),
    data=st.data(),
)
def test_the_website_page_saves_or_names_the_bad_field(staff_client, acme_store, typed, data):
    name, website_id, interval = typed["name"], typed["website_id"], typed["interval"]
    holder = acme_store.account
    chosen = data.draw(primary_keys(holder.pk))
    faults = set()
    if not credential_name_is_acceptable(name, DataFastSite):
        faults.add("name")
    normalised = website_id.strip().lower()
    if (
        len(website_id.strip()) > 24
        or not (len(normalised) == 24 and all(char in "0123456789abcdef" for char in normalised))
        or DataFastSite.objects.filter(website_id=normalised).exists()
    ):
        faults.add("website_id")
    if not selects(chosen, holder.pk):
        faults.add("account")
    values = {"account": chosen, "name": name, "website_id": website_id, "poll_interval_seconds": interval}
    with rolled_back():
        errors = post_and_judge(staff_client, reverse("site-create"), values)
        assert set(errors) - {"poll_interval_seconds"} == faults, (values, errors)
        check_interval(DataFastSite, interval, errors)
        if not errors:
            assert DataFastSite.objects.get(name=name.strip()).website_id == normalised


ORGANISATION_ID_TEXT = id_lists(st.from_regex(r"org_[a-z0-9_\-]{1,20}", fullmatch=True))


@pytest.mark.usefixtures("northwind")
@examples(45)
@given(
    typed=st.fixed_dictionaries(
        {
            "name": names(100),
            "level": choice_values("organisation", "partner"),
            "secret": secrets("cbs_"),
            "interval": intervals(),
            "organisation_ids": ORGANISATION_ID_TEXT,
        }
    )
)
def test_the_chargebackstop_key_page_saves_or_names_the_bad_field(staff_client, typed):
    name, level, secret, interval = typed["name"], typed["level"], typed["secret"], typed["interval"]
    organisation_ids = typed["organisation_ids"]
    faults = set()
    if not credential_name_is_acceptable(name, ChargebackStopKey):
        faults.add("name")
    if level not in ("organisation", "partner"):
        faults.add("level")
    api_key = secret.strip()
    if not (visible_ascii(api_key) and len(api_key) <= 500):
        faults.add("secret")
    ids = list(dict.fromkeys(split_ids(organisation_ids)))
    if (
        len(ids) > 200
        or not all(MERCHANT_ID.fullmatch(item) for item in ids)
        or (level == "organisation" and len(ids) > 1)
    ):
        faults.add("manual_organisation_ids")
    values = {
        "name": name,
        "level": level,
        "secret": secret,
        "enabled": "on",
        "poll_interval_seconds": interval,
        "manual_organisation_ids": organisation_ids,
    }
    with rolled_back():
        errors = post_and_judge(staff_client, reverse("key-create"), values)
        assert set(errors) - {"poll_interval_seconds"} == faults, (values, errors)
        check_interval(ChargebackStopKey, interval, errors)
        if not errors:
            saved = ChargebackStopKey.objects.get(name=name.strip())
            assert saved.secret.reveal() == api_key
            reached = set(saved.organisations.values_list("organisation_id", flat=True))
            assert reached == set(ids)


@examples(30)
@given(name=names(100), secret=st.one_of(st.just(""), secrets("dft_")))
def test_the_account_edit_page_keeps_the_token_when_left_blank_or_names_the_bad_field(
    staff_client, acme_store, name, secret
):
    account = acme_store.account
    faults = set()
    if not name_is_acceptable(name, limit=100, invisible_too=True):
        faults.add("name")
    token = secret.strip()
    if token and not (token.startswith("dft_") and visible_ascii(token[4:]) and len(token) <= 500):
        faults.add("secret")
    with rolled_back():
        errors = post_and_judge(
            staff_client, reverse("account-edit", args=[account.pk]), {"name": name, "secret": secret}
        )
        assert set(errors) == faults, (name, secret, errors)
        if not faults:
            account.refresh_from_db()
            assert account.secret.reveal() == (token or demo.DATAFAST_TOKEN.reveal())


# --- filters on the reading pages ----------------------------------------------------------------

QUERY_VALUE = st.one_of(
    st.text(ANY_CHARACTER, max_size=30),
    st.sampled_from(["", "0", "-1", "²", "٣", "1e3", "9" * 40, "\x00", "%", "_", "' OR 1=1 --", "stripe"]),
)


@pytest.mark.usefixtures("sandbox", "reachable_key", "acme_store")
@examples(40)
@given(
    page=st.sampled_from(["overview", "alerts", "audit", "site-create", "integration-create"]),
    query=st.dictionaries(
        st.sampled_from(
            [
                *("q", "problem", "provider", "organisation", "page", "org_page", "fragment"),
                *("status", "action", "user", "account", "organisation_id"),
            ]
        ),
        QUERY_VALUE,
        max_size=5,
    ),
)
def test_no_filter_value_breaks_a_reading_page(staff_client, page, query):
    """Query strings are input too: whatever they hold, the page answers (filters it cannot use are ignored)."""
    response = staff_client.get(reverse(page), query)
    assert response.status_code == 200, (page, query)


@pytest.mark.parametrize("name", ["site-detail", "key-detail", "organisation-detail", "integration-detail"])
@pytest.mark.parametrize("pk", ["0", "99999999", "9" * 19, "9" * 30])
def test_a_primary_key_that_matches_nothing_is_a_404(staff_client, name, pk):
    url = reverse(name, args=[1]).replace("/1/", f"/{pk}/")
    assert staff_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("overview", {"organisation": "²"}),  # str.isdigit() says yes, int() says no
        ("overview", {"q": "\x00"}),  # PostgreSQL refuses NUL in a query
        ("alerts", {"q": "\x00"}),
        ("audit", {"user": "\x00"}),
        ("integration-create", {"organisation_id": "\x00"}),
        ("site-create", {"account": "²"}),
    ],
)
def test_filter_values_that_once_broke_a_page_are_ignored(staff_client, reachable_key, page, query):
    assert staff_client.get(reverse(page), query).status_code == 200


def test_a_create_form_naming_a_nul_organisation_is_refused_on_that_field(sandbox, reachable_key, staff_client):
    values = {"key": reachable_key.pk, "organisation_id": "org\x00", "name": "N", "merchant_ids": "m1"}
    response = staff_client.post(CREATE, {**values, "status": "ENABLED", "submission": str(uuid.uuid4())})
    assert set(response.context["form"].errors) == {"organisation_id"}
