"""Who may open what: every URL of the project, by GET and by POST, for four kinds of visitor.

The table below is the design. Anonymous visitors are sent to log in (except the login page,
`/healthz`, and `/api/status.json`, which answers 401 in JSON). Reading pages answer GET only. Viewers (any
active user) read every page and are refused (403) every staff page and every change. Staff (the
`manage_integrations` permission) may do everything here; the admin asks Django's own model
permissions, which a staff member without them does not have. A user deactivated while logged in
is treated as anonymous (Django drops the session's user).

POSTs carry invalid data where that keeps them local; the ones that act (delete, test, poll,
disable) go to the sandbox, Redis, or a database savepoint that is rolled back after each request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import get_resolver, reverse

from integrations_app.models import Integration, KeyOrganisation, Membership, Organisation, Project
from integrations_app.views import context as broker_context
from tests import demo, factories
from tests.properties import rolled_back

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Redirect:
    """A 302 to the named page; `back` adds `?next=` the page that was asked for."""

    to: str
    back: bool = True


LOGIN = Redirect("login")
ADMIN_LOGIN = Redirect("admin:login")
LOGGED_OUT = Redirect("login", back=False)
DONE = Redirect("")  # the 302 after a change was made: anywhere but a login page
Answer = int | Redirect

ROLES = ("anonymous", "viewer", "staff", "deactivated")
READ = (LOGIN, 200, 200, LOGIN)
READ_ONLY = (LOGIN, 405, 405, LOGIN)  # a POST to a reading page: logged in first, then refused
STAFF_PAGE = (LOGIN, 403, 200, LOGIN)
STAFF_ACTION = (LOGIN, 403, DONE, LOGIN)
STAFF_POST_ONLY = (LOGIN, 403, 405, LOGIN)
PUBLIC = (200, 200, 200, 200)
NOT_ALLOWED = (405, 405, 405, 405)
OWN_ACCOUNT = (LOGIN, 200, 200, LOGIN)
ADMIN_INDEX = (ADMIN_LOGIN, ADMIN_LOGIN, 200, ADMIN_LOGIN)
ADMIN_MODEL = (ADMIN_LOGIN, ADMIN_LOGIN, 403, ADMIN_LOGIN)

# (route, method): answers for                     anonymous, viewer, staff, deactivated
MATRIX: dict[tuple[str, str], tuple[Answer, Answer, Answer, Answer]] = {
    # Reading pages: GET (and HEAD) only.
    ("overview", "GET"): READ,
    ("overview", "POST"): READ_ONLY,
    ("site-detail", "GET"): READ,
    ("site-detail", "POST"): READ_ONLY,
    ("key-detail", "GET"): READ,
    ("key-detail", "POST"): READ_ONLY,
    ("organisation-detail", "GET"): READ,
    ("organisation-detail", "POST"): READ_ONLY,
    ("integration-detail", "GET"): READ,
    ("integration-detail", "POST"): READ_ONLY,
    ("alerts", "GET"): READ,
    ("alerts", "POST"): READ_ONLY,
    ("audit", "GET"): READ,
    ("audit", "POST"): READ_ONLY,
    # For machines: no login page to go to.
    ("healthz", "GET"): PUBLIC,
    ("healthz", "POST"): NOT_ALLOWED,
    ("status-json", "GET"): (401, 200, 200, 401),
    ("status-json", "POST"): NOT_ALLOWED,
    # Managing integrations (staff); the POSTs are invalid forms, except disable, which acts.
    ("integration-create", "GET"): STAFF_PAGE,
    ("integration-create", "POST"): STAFF_PAGE,
    ("integration-rename", "GET"): STAFF_PAGE,
    ("integration-rename", "POST"): STAFF_PAGE,
    ("integration-disable", "GET"): STAFF_PAGE,
    ("integration-disable", "POST"): STAFF_ACTION,
    # Buttons: POST only.
    ("site-poll", "GET"): STAFF_POST_ONLY,
    ("site-poll", "POST"): STAFF_ACTION,
    ("key-poll", "GET"): STAFF_POST_ONLY,
    ("key-poll", "POST"): STAFF_ACTION,
    ("site-test", "GET"): STAFF_POST_ONLY,
    ("site-test", "POST"): STAFF_ACTION,
    ("account-test", "GET"): STAFF_POST_ONLY,
    ("account-test", "POST"): STAFF_ACTION,
    ("key-test", "GET"): STAFF_POST_ONLY,
    ("key-test", "POST"): STAFF_ACTION,
    # Credentials (staff); create and edit POSTs are invalid forms, deletes act.
    ("credentials", "GET"): STAFF_PAGE,
    ("credentials", "POST"): STAFF_POST_ONLY,
    ("account-create", "GET"): STAFF_PAGE,
    ("account-create", "POST"): STAFF_PAGE,
    ("account-edit", "GET"): STAFF_PAGE,
    ("account-edit", "POST"): STAFF_PAGE,
    ("account-delete", "GET"): STAFF_PAGE,
    ("account-delete", "POST"): STAFF_ACTION,
    ("site-create", "GET"): STAFF_PAGE,
    ("site-create", "POST"): STAFF_PAGE,
    ("site-edit", "GET"): STAFF_PAGE,
    ("site-edit", "POST"): STAFF_PAGE,
    ("site-delete", "GET"): STAFF_PAGE,
    ("site-delete", "POST"): STAFF_ACTION,
    ("key-create", "GET"): STAFF_PAGE,
    ("key-create", "POST"): STAFF_PAGE,
    ("key-edit", "GET"): STAFF_PAGE,
    ("key-edit", "POST"): STAFF_PAGE,
    ("key-delete", "GET"): STAFF_PAGE,
    ("key-delete", "POST"): STAFF_ACTION,
    # Projects and members (staff); create/edit POSTs are invalid forms, an invalid member a 400.
    ("project-list", "GET"): STAFF_PAGE,
    ("project-list", "POST"): STAFF_POST_ONLY,
    ("project-create", "GET"): STAFF_PAGE,
    ("project-create", "POST"): STAFF_PAGE,
    ("project-detail", "GET"): STAFF_PAGE,
    ("project-detail", "POST"): STAFF_POST_ONLY,
    ("project-edit", "GET"): STAFF_PAGE,
    ("project-edit", "POST"): STAFF_PAGE,
    ("project-delete", "GET"): STAFF_PAGE,
    ("project-delete", "POST"): STAFF_ACTION,
    ("member-add", "GET"): STAFF_POST_ONLY,
    ("member-add", "POST"): (LOGIN, 403, 400, LOGIN),
    ("member-remove", "GET"): STAFF_POST_ONLY,
    ("member-remove", "POST"): STAFF_ACTION,
    # A source's project, on its page and in bulk from the overview (staff).
    ("site-project", "GET"): STAFF_POST_ONLY,
    ("site-project", "POST"): STAFF_ACTION,
    ("organisation-project", "GET"): STAFF_POST_ONLY,
    ("organisation-project", "POST"): STAFF_ACTION,
    ("sources-move", "GET"): STAFF_POST_ONLY,
    ("sources-move", "POST"): STAFF_ACTION,
    # Django's auth views: logging in (a wrong password) is public; there is no password reset.
    ("login", "GET"): PUBLIC,
    ("login", "POST"): PUBLIC,
    ("logout", "GET"): NOT_ALLOWED,
    ("logout", "POST"): (LOGGED_OUT, LOGGED_OUT, LOGGED_OUT, LOGGED_OUT),
    ("password_change", "GET"): OWN_ACCOUNT,
    ("password_change", "POST"): OWN_ACCOUNT,
    ("password_change_done", "GET"): OWN_ACCOUNT,
    ("password_change_done", "POST"): (LOGIN, 405, 405, LOGIN),
    # The admin: its own login, then Django's model permissions (staff here have none).
    ("admin:index", "GET"): ADMIN_INDEX,
    ("admin:index", "POST"): ADMIN_INDEX,
    ("admin:integrations_app_datafastaccount_change", "GET"): ADMIN_MODEL,
    ("admin:integrations_app_datafastaccount_change", "POST"): ADMIN_MODEL,
    ("admin:integrations_app_chargebackstopkey_change", "GET"): ADMIN_MODEL,
    ("admin:integrations_app_chargebackstopkey_change", "POST"): ADMIN_MODEL,
}

# The object each route is reversed with.
ROUTE_OBJECT = {
    "site-detail": "site",
    "site-poll": "site",
    "site-test": "site",
    "site-edit": "site",
    "site-delete": "site",
    "key-detail": "key",
    "key-poll": "key",
    "key-test": "key",
    "key-edit": "key",
    "key-delete": "key",
    "account-edit": "account",
    "account-delete": "account",
    "account-test": "account",
    "organisation-detail": "organisation",
    "integration-detail": "integration",
    "integration-rename": "integration",
    "integration-disable": "integration",
    "project-detail": "project",
    "project-edit": "project",
    "project-delete": "project",
    "member-add": "project",
    "site-project": "site",
    "organisation-project": "organisation",
    "admin:integrations_app_datafastaccount_change": "account",
    "admin:integrations_app_chargebackstopkey_change": "key",
}
# POST bodies that keep a form from acting; routes not listed get an empty body.
POST_DATA: dict[str, dict[str, str]] = {
    "integration-rename": {"name": ""},
    "integration-create": {"name": "", "submission": str(uuid.uuid4())},
    "login": {"username": "nobody", "password": "wrong-password"},
    "project-create": {"name": ""},
    "project-edit": {"name": ""},
    "member-add": {"username": ""},
}


@pytest.fixture
def world(sandbox: Any, redis_clean: Any) -> dict[str, Any]:
    """One of everything a URL can name, and the upstreams (sandbox, Redis) the actions reach."""
    broker_context._quick_client.cache_clear()
    broker_context._last.update(at=-1000.0, ok=1.0)
    site, key = factories.site(), factories.key()
    organisation = Organisation.objects.create(organisation_id=demo.ACME_ORG)
    KeyOrganisation.objects.create(key=key, organisation=organisation)
    integration = Integration.objects.create(
        integration_id=demo.ACME_ORDERS,
        organisation=organisation,
        seen_by=key,
        name="Acme Orders API",
        type="CUSTOM_ORDERS",
        status="ENABLED",
        merchant_ids=["mrch_acme_us"],
    )
    project = Project.objects.create(name="Client A")
    membership = Membership.objects.create(project=project, user=factories.viewer("member"))
    return {
        "site": site,
        "key": key,
        "account": site.account,
        "organisation": organisation,
        "integration": integration,
        "project": project,
        "membership": membership,
    }


def url_of(route: str, world: dict[str, Any]) -> str:
    if route == "member-remove":
        return reverse(route, args=[world["project"].pk, world["membership"].pk])
    if route in ROUTE_OBJECT:
        return reverse(route, args=[world[ROUTE_OBJECT[route]].pk])
    return reverse(route)


def client_for(role: str) -> Client:
    client = Client()
    if role == "viewer":
        client.force_login(factories.viewer())
    elif role == "staff":
        client.force_login(factories.staff())
    elif role == "deactivated":
        gone = factories.staff("gone")
        client.force_login(gone)
        User.objects.filter(pk=gone.pk).update(is_active=False)  # while logged in
    return client


def ask(client: Client, method: str, url: str, data: dict[str, str]) -> Any:
    """One request in a savepoint rolled back afterwards, with the session cookie kept (a logout
    must not log the next request out)."""
    session = client.cookies.get(settings.SESSION_COOKIE_NAME)
    with rolled_back():
        response = client.post(url, data) if method == "POST" else client.get(url)
    if session is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = session.value
    return response


def mismatch(response: Any, expected: Answer, url: str) -> str:
    """What the response was instead of the expected answer; empty when it was the expected one."""
    status, location = response.status_code, response.get("Location", "")
    if isinstance(expected, int):
        return "" if status == expected else f"{status} {location}".strip()
    if expected == DONE:
        made = status == 302 and not location.startswith((reverse("login"), reverse("admin:login")))
    else:
        wanted = reverse(expected.to) + (f"?{urlencode({'next': url}, safe='/')}" if expected.back else "")
        made = status == 302 and location == wanted
    return "" if made else f"{status} {location}".strip()


@pytest.mark.parametrize("role", ROLES)
def test_every_url_gives_each_visitor_exactly_the_designed_answer(world, role):
    column = ROLES.index(role)
    client = client_for(role)
    wrong = []
    for (route, method), answers in MATRIX.items():
        url = url_of(route, world)
        got = mismatch(ask(client, method, url, POST_DATA.get(route, {})), answers[column], url)
        if got:
            wrong.append(f"{method} {url} ({route}): expected {answers[column]}, got {got}")
    assert wrong == []


def test_the_matrix_names_every_route_of_the_project():
    """A new URL needs a row here: the design says who may open it."""
    routes = {name for name in get_resolver().reverse_dict if isinstance(name, str)}  # all but the admin's
    assert routes == {route for route, _ in MATRIX if not route.startswith("admin:")}
    assert all((route, "GET") in MATRIX and (route, "POST") in MATRIX for route, _ in MATRIX)


def test_the_staff_actions_really_acted(world):
    """The 302s in the staff column are the actions done, not refusals sent elsewhere."""
    client = client_for("staff")
    response = client.post(url_of("integration-disable", world))
    assert response.status_code == 302
    assert Integration.objects.get(pk=world["integration"].pk).status == "DISABLED"
    response = client.post(url_of("site-delete", world))
    assert response.status_code == 302 and response["Location"] == reverse("credentials")


def test_every_post_without_its_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.staff())
    accepted = []
    for route, method in MATRIX:
        if method == "POST":
            url = url_of(route, world)
            if (status := ask(client, "POST", url, POST_DATA.get(route, {})).status_code) != 403:
                accepted.append(f"{url}: {status}")
    assert accepted == []
