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
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse
from django.utils import timezone

from integrations_app import audit
from integrations_app.models import (
    Alert,
    DataFastSite,
    Integration,
    KeyOrganisation,
    MaintenanceWindow,
    Membership,
    Organisation,
    Project,
    Role,
    Silence,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.views import context as broker_context
from integrations_app.views.context import WATCHER_CACHE_KEY
from integrations_app.views.credentials import SITE
from tests import demo, factories
from tests.ports import free_port
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
    ("account-discover", "GET"): STAFF_POST_ONLY,
    ("account-discover", "POST"): STAFF_ACTION,
    # A discovery notice's buttons: the POST names no action, so it redirects with the error.
    ("account-notice", "GET"): STAFF_POST_ONLY,
    ("account-notice", "POST"): STAFF_ACTION,
    ("key-discover", "GET"): STAFF_POST_ONLY,
    ("key-discover", "POST"): STAFF_ACTION,
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
    # Channels: read by whoever sees their project (global ones: those who see everything),
    # changed by staff and the project's managers.
    ("channel-list", "GET"): READ,
    ("channel-list", "POST"): READ_ONLY,
    ("channel-create", "GET"): STAFF_PAGE,
    ("channel-create", "POST"): STAFF_PAGE,
    ("channel-detail", "GET"): READ,
    ("channel-detail", "POST"): READ_ONLY,
    ("channel-edit", "GET"): STAFF_PAGE,
    ("channel-edit", "POST"): STAFF_PAGE,
    ("channel-delete", "GET"): STAFF_PAGE,
    ("channel-delete", "POST"): STAFF_ACTION,
    ("channel-test", "GET"): STAFF_POST_ONLY,
    ("channel-test", "POST"): STAFF_ACTION,
    ("site-project", "GET"): STAFF_POST_ONLY,
    ("site-project", "POST"): STAFF_ACTION,
    ("organisation-project", "GET"): STAFF_POST_ONLY,
    ("organisation-project", "POST"): STAFF_ACTION,
    ("sources-move", "GET"): STAFF_POST_ONLY,
    ("sources-move", "POST"): STAFF_ACTION,
    # Silences and maintenance windows: everyone reads the list; staff and managers change them.
    ("silences", "GET"): READ,
    ("silences", "POST"): READ_ONLY,
    ("silence-create", "GET"): STAFF_PAGE,
    ("silence-create", "POST"): STAFF_PAGE,
    ("silence-end", "GET"): STAFF_POST_ONLY,
    ("silence-end", "POST"): STAFF_ACTION,
    ("window-create", "GET"): STAFF_PAGE,
    ("window-create", "POST"): STAFF_PAGE,
    ("window-delete", "GET"): STAFF_POST_ONLY,
    ("window-delete", "POST"): STAFF_ACTION,
    # Acknowledging a problem (named by the change that opened it): staff and the project's managers.
    # The world's problem is not open (its website is fine), so the form answers with its error.
    ("problem-ack", "GET"): STAFF_PAGE,
    ("problem-ack", "POST"): STAFF_PAGE,
    ("problem-unack", "GET"): STAFF_POST_ONLY,
    ("problem-unack", "POST"): STAFF_ACTION,
    ("time-zone", "GET"): OWN_ACCOUNT,
    ("time-zone", "POST"): OWN_ACCOUNT,
    # One client, two vendors: the links page and its buttons, a website's link (staff); the
    # POSTs name nothing, so they only redirect with an error (or unlink a website never linked).
    ("links", "GET"): STAFF_PAGE,
    ("links", "POST"): STAFF_POST_ONLY,
    ("link-confirm", "GET"): STAFF_POST_ONLY,
    ("link-confirm", "POST"): STAFF_ACTION,
    ("link-dismiss", "GET"): STAFF_POST_ONLY,
    ("link-dismiss", "POST"): STAFF_ACTION,
    ("site-link", "GET"): STAFF_POST_ONLY,
    ("site-link", "POST"): STAFF_ACTION,
    # Configuration as code (staff-wide only: a manager of a project gets 403 too). The download
    # without secrets is the file itself; a preview without a file shows the form's error; an
    # apply naming no previewed file goes back to the page.
    ("config", "GET"): STAFF_PAGE,
    ("config", "POST"): STAFF_POST_ONLY,
    ("config-download", "GET"): STAFF_POST_ONLY,
    ("config-download", "POST"): STAFF_PAGE,
    ("config-preview", "GET"): STAFF_POST_ONLY,
    ("config-preview", "POST"): STAFF_PAGE,
    ("config-apply", "GET"): STAFF_POST_ONLY,
    ("config-apply", "POST"): STAFF_ACTION,
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
    "account-discover": "account",
    "account-notice": "account",
    "key-discover": "key",
    "organisation-detail": "organisation",
    "integration-detail": "integration",
    "integration-rename": "integration",
    "integration-disable": "integration",
    "project-detail": "project",
    "project-edit": "project",
    "project-delete": "project",
    "member-add": "project",
    "channel-detail": "channel",
    "channel-edit": "channel",
    "channel-delete": "channel",
    "channel-test": "channel",
    "site-project": "site",
    "site-link": "site",
    "organisation-project": "organisation",
    "silence-end": "silence",
    "window-delete": "window",
    "problem-ack": "problem",
    "problem-unack": "problem",
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
    "channel-create": {"name": ""},
    "channel-edit": {"name": ""},
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
    channel = factories.channel(f"json://127.0.0.1:{free_port()}/hook", name="Ops chat")  # nothing listens there
    now = timezone.now()
    silence = Silence.objects.create(starts_at=now, ends_at=now + timedelta(hours=2), comment="deploy")
    window = MaintenanceWindow.objects.create(name="Backups", starts_at=now, ends_at=now + timedelta(hours=1))
    problem = StatusChange.objects.create(
        kind=ChangeKind.PROVIDER, severity=Severity.PROBLEM, site=site, provider="stripe", notify=True
    )
    return {
        "channel": channel,
        "problem": problem,
        "silence": silence,
        "window": window,
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


# --- Projects: a member of Client A, and everything of Client B -------------------------------
#
# Out of a member's scope (another project's source, a global one, a key) is a 404 to GET and to
# POST, from reading pages, forms and buttons alike: the visibility check comes before the method
# check. In scope but not theirs to change (a viewer) is a 403, as for viewers before projects.


@pytest.fixture
def clients(world: dict[str, Any]) -> dict[str, Any]:
    """Client A (the world's site, organisation and integration) and Client B, each with an alert
    and audit entries, a global website, and a viewer and a manager of A."""
    a, key = world["project"], world["key"]
    b = Project.objects.create(name="Client B")
    site_a, org_a = world["site"], world["organisation"]
    DataFastSite.objects.filter(pk=site_a.pk).update(project=a)
    Organisation.objects.filter(pk=org_a.pk).update(project=a)
    site_b = factories.site(demo.BLUEBIRD_BOOKS, "Bluebird Books", project=b)
    site_global = factories.site(demo.DELTA_DESIGN, "Delta Design")
    org_b = Organisation.objects.create(organisation_id=demo.BLUEBIRD_ORG, label="Bluebird Media", project=b)
    KeyOrganisation.objects.create(key=key, organisation=org_b)
    integration_b = Integration.objects.create(
        integration_id="int_bluebird_orders",
        organisation=org_b,
        seen_by=key,
        name="Bluebird Orders",
        type="CUSTOM_ORDERS",
        status="ENABLED",
        merchant_ids=["mrch_bluebird"],
    )
    alerts = {}
    for name, sites in (("a", [site_a]), ("b", [site_b]), ("both", [site_a, site_b])):
        alert = Alert.objects.create(subject=f"Alert about {name}", status=Alert.Status.SENT)
        for site in sites:
            StatusChange.objects.create(
                kind=ChangeKind.PROVIDER, severity=Severity.PROBLEM, site=site, provider="stripe", alert=alert
            )
        alerts[name] = alert
    staff = factories.staff("operator")
    audit.record(staff, "poll.now", SITE.target(site_a))
    audit.record(staff, "poll.now", SITE.target(site_b))
    audit.record(staff, "integration.rename", f"integration {integration_b.integration_id}")
    manager = factories.viewer("manager")
    Membership.objects.create(project=a, user=manager, role=Role.MANAGER)
    return {
        **world,
        "channel_b": factories.channel("json://127.0.0.1:9/b", name="B's chat", project=b),
        "b": b,
        "site_b": site_b,
        "site_global": site_global,
        "organisation_b": org_b,
        "integration_b": integration_b,
        "alerts": alerts,
        "viewer_a": world["membership"].user,
        "manager_a": manager,
    }


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def b_urls(clients: dict[str, Any]) -> list[str]:
    """Every URL that names one of B's objects (or a global one), reading, forms and buttons."""
    site_b, site_global, integration_b = clients["site_b"], clients["site_global"], clients["integration_b"]
    return [
        *(reverse(name, args=[site.pk]) for site in (site_b, site_global) for name in ("site-detail", "site-poll")),
        reverse("site-test", args=[site_b.pk]),
        reverse("organisation-detail", args=[clients["organisation_b"].pk]),
        reverse("key-detail", args=[clients["key"].pk]),
        *(
            reverse(name, args=[integration_b.pk])
            for name in ("integration-detail", "integration-rename", "integration-disable")
        ),
        reverse("integration-create") + f"?organisation_id={demo.BLUEBIRD_ORG}",
        *(
            reverse(name, args=[channel.pk])
            for channel in (clients["channel_b"], clients["channel"])
            for name in ("channel-detail", "channel-edit", "channel-delete", "channel-test")
        ),
        *(reverse(name, args=[clients["alerts"]["b"].changes.get().pk]) for name in ("problem-ack", "problem-unack")),
    ]


@pytest.mark.parametrize("member", ["viewer_a", "manager_a"])
def test_a_member_of_a_gets_404_for_every_url_of_b_by_get_and_post(clients, member):
    client = logged_in(clients[member])
    data = {"name": "Renamed by A", "submission": str(uuid.uuid4())}
    wrong = [
        f"{method} {url}: {status}"
        for url in b_urls(clients)
        for method in ("GET", "POST")
        if (status := ask(client, method, url, data).status_code) != 404
    ]
    assert wrong == []
    integration_b = Integration.objects.get(pk=clients["integration_b"].pk)
    assert (integration_b.name, integration_b.status) == ("Bluebird Orders", "ENABLED")


def test_a_manager_of_a_changes_a_integration_but_not_b(clients):
    client = logged_in(clients["manager_a"])
    integration_a, integration_b = clients["integration"], clients["integration_b"]
    assert client.get(reverse("integration-rename", args=[integration_a.pk])).status_code == 200
    response = client.post(reverse("integration-disable", args=[integration_a.pk]))
    assert response.status_code == 302 and response["Location"] == integration_a.get_absolute_url()
    assert Integration.objects.get(pk=integration_a.pk).status == "DISABLED"
    assert client.post(reverse("integration-disable", args=[integration_b.pk])).status_code == 404
    assert Integration.objects.get(pk=integration_b.pk).status == "ENABLED"
    # The create form offers A's organisations only, and its keys only those that reach them.
    page = client.get(reverse("integration-create")).content.decode()
    assert demo.ACME_ORG in page and demo.BLUEBIRD_ORG not in page
    refused = client.post(
        reverse("integration-create"),
        {
            "key": clients["key"].pk,
            "organisation_id": demo.BLUEBIRD_ORG,
            "name": "Sneaky",
            "status": "ENABLED",
            "merchant_ids": "mrch_bluebird",
            "submission": str(uuid.uuid4()),
        },
    )
    assert refused.status_code == 200 and "choose one from the list" in refused.content.decode()
    # The page shows the buttons the manager may press, and the view lets them.
    assert "Poll now" in client.get(reverse("site-detail", args=[clients["site"].pk])).content.decode()
    assert client.post(reverse("site-poll", args=[clients["site"].pk])).status_code == 302
    # The configuration covers every project and the credentials: staff-wide only.
    assert client.get(reverse("config")).status_code == 403
    assert client.post(reverse("config-download")).status_code == 403


def test_a_viewer_of_a_reads_a_but_changes_nothing(clients):
    client = logged_in(clients["viewer_a"])
    site_a, integration_a = clients["site"], clients["integration"]
    page = client.get(reverse("site-detail", args=[site_a.pk]))
    assert page.status_code == 200 and "Poll now" not in page.content.decode()
    assert "Rename" not in client.get(reverse("integration-detail", args=[integration_a.pk])).content.decode()
    changes = [
        ("POST", reverse("site-poll", args=[site_a.pk])),
        ("POST", reverse("site-test", args=[site_a.pk])),
        ("GET", reverse("integration-rename", args=[integration_a.pk])),
        ("POST", reverse("integration-rename", args=[integration_a.pk])),
        ("POST", reverse("integration-disable", args=[integration_a.pk])),
        ("GET", reverse("integration-create")),
        ("GET", reverse("integration-create") + f"?organisation_id={demo.ACME_ORG}"),
        ("POST", reverse("site-project", args=[site_a.pk])),
        ("POST", reverse("sources-move")),
        ("GET", reverse("project-detail", args=[clients["project"].pk])),
        ("GET", reverse("credentials")),
        ("GET", reverse("config")),
        ("POST", reverse("config-download")),
        ("POST", reverse("config-preview")),
        ("GET", reverse("problem-ack", args=[clients["alerts"]["a"].changes.get().pk])),
        ("POST", reverse("problem-ack", args=[clients["alerts"]["a"].changes.get().pk])),
        ("POST", reverse("problem-unack", args=[clients["alerts"]["a"].changes.get().pk])),
    ]
    statuses = {f"{method} {url}": ask(client, method, url, {"name": "x"}).status_code for method, url in changes}
    assert set(statuses.values()) == {403}, statuses
    assert Integration.objects.get(pk=integration_a.pk).status == "ENABLED"


def test_the_counts_lists_and_json_of_a_member_never_include_b(clients):
    client = logged_in(clients["viewer_a"])
    overview = client.get(reverse("overview")).content.decode()
    assert "Acme Store" in overview
    assert "Bluebird" not in overview and "Delta Design" not in overview
    assert "No problem among 1 websites and 1 organisations" in overview or "of 1 websites and" in overview
    numbers = client.get(reverse("status-json")).json()
    assert (numbers["sites"], numbers["organisations"], numbers["keys"]) == (1, 1, 0)
    assert numbers["integrations_enabled"] == 1
    assert all("Bluebird" not in problem["name"] and "Delta" not in problem["name"] for problem in numbers["problems"])
    # Search and the organisation filter find nothing of B.
    found = client.get(reverse("overview"), {"q": "Bluebird"}).content.decode()
    assert "No website matches" in found and "No organisation matches" in found
    filtered = client.get(reverse("overview"), {"organisation": clients["organisation_b"].pk}).content.decode()
    assert "Bluebird" not in filtered
    # Alerts: A's, and the one about both told with A's change only (its stored subject not shown);
    # audit: only A's entries.
    alerts = client.get(reverse("alerts")).content.decode()
    assert "Alert about a" in alerts and "Alert about b" not in alerts and "Alert about both" not in alerts
    audit_page = client.get(reverse("audit")).content.decode()
    assert "Bluebird" not in audit_page and "int_bluebird_orders" not in audit_page
    assert "Acme Store" in audit_page
    assert "Rename" not in audit_page  # B's action is not even among the filter's choices
    # Staff still see everything.
    staff = client_for("staff").get(reverse("status-json")).json()
    assert (staff["sites"], staff["organisations"]) == (3, 2)


def test_a_user_in_no_project_sees_everything_or_nothing_as_the_setting_says(clients, settings):
    client = logged_in(factories.viewer("newcomer"))
    assert client.get(reverse("status-json")).json()["sites"] == 3
    assert client.get(reverse("site-detail", args=[clients["site_b"].pk])).status_code == 200
    settings.VIEWERS_SEE_EVERYTHING = False
    numbers = client.get(reverse("status-json")).json()
    assert (numbers["sites"], numbers["organisations"], numbers["problems"]) == (0, 0, [])
    assert client.get(reverse("site-detail", args=[clients["site_b"].pk])).status_code == 404


def test_the_token_api_sees_everything(clients, settings):
    settings.STATUS_API_TOKEN = "read-token-for-tests-0123456789"
    numbers = Client().get(reverse("status-json"), HTTP_AUTHORIZATION="Bearer read-token-for-tests-0123456789").json()
    assert (numbers["sites"], numbers["organisations"]) == (3, 2)


def test_a_members_pages_do_a_constant_number_of_queries(clients):
    a, b = clients["project"], clients["b"]
    client = logged_in(clients["viewer_a"])
    urls = [reverse("overview"), reverse("alerts"), reverse("audit"), reverse("status-json")]

    def counts() -> dict[str, int]:
        found = {}
        for url in urls:
            cache.delete(WATCHER_CACHE_KEY)  # each page measured with the watcher's banner computed
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            found[url] = len(queries)
        return found

    def more(number: int, start: int) -> None:
        for index in range(start, start + number):
            factories.site(f"{index:024x}", f"Shop {index}", project=a if index % 2 else b)

    more(20, 1000)
    small = counts()
    more(60, 2000)
    assert counts() == small
