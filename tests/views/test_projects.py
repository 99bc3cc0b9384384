"""The project pages: projects, members, and the project of a source (one, or many at a time)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.models import AuditEntry, DataFastSite, Membership, Organisation, Project
from integrations_app.views.context import WATCHER_CACHE_KEY
from tests import demo, factories
from tests.factories import present

pytestmark = pytest.mark.django_db


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_staff_create_rename_and_delete_a_project_each_audited(staff_client):
    response = staff_client.post(reverse("project-create"), {"name": "  Client A ", "time_zone": "Europe/Paris"})
    project = present(Project.objects.first())
    assert response.status_code == 302 and response["Location"] == project.get_absolute_url()
    assert (project.name, project.time_zone) == ("Client A", "Europe/Paris")
    (created,) = entries("project.create")
    assert (created.target, created.project_id, created.after) == (
        "project Client A",
        project.pk,
        {"name": "Client A", "time_zone": "Europe/Paris", "reminder_hours": None},
    )
    staff_client.post(reverse("project-edit", args=[project.pk]), {"name": "Client Alpha", "time_zone": "Europe/Paris"})
    (updated,) = entries("project.update")
    assert (updated.before, updated.after) == ({"name": "Client A"}, {"name": "Client Alpha"})
    site = factories.site(project=project)
    response = staff_client.post(reverse("project-delete", args=[project.pk]))
    assert response.status_code == 302 and not Project.objects.exists()
    assert DataFastSite.objects.get(pk=site.pk).project is None  # the source stays, global now
    (deleted,) = entries("project.delete")
    assert deleted.before == {"name": "Client Alpha", "websites": ["Acme Store"], "organisations": [], "members": []}


def test_reminders_are_set_per_project_empty_for_the_default_and_0_for_never(staff_client, settings):
    settings.REMINDER_HOURS = 4
    staff_client.post(reverse("project-create"), {"name": "Client A", "time_zone": "UTC", "reminder_hours": ""})
    project = present(Project.objects.first())
    assert (project.reminder_hours, project.reminder_every) == (None, 4)
    form = staff_client.get(reverse("project-edit", args=[project.pk])).content.decode()
    assert "Empty: the default (4); 0: never." in form
    detail = staff_client.get(project.get_absolute_url()).content.decode()
    assert "Reminders of open, unacknowledged problems: every 4 h (the default)." in detail
    staff_client.post(
        reverse("project-edit", args=[project.pk]), {"name": "Client A", "time_zone": "UTC", "reminder_hours": "0"}
    )
    project.refresh_from_db()
    assert (project.reminder_hours, project.reminder_every) == (0, 0)
    detail = staff_client.get(project.get_absolute_url()).content.decode()
    assert "Reminders of open, unacknowledged problems: never." in detail
    (updated,) = entries("project.update")
    assert (updated.before, updated.after) == ({"reminder_hours": None}, {"reminder_hours": 0})
    cases = {
        "-1": "Enter 0 for never, or a number of hours.",
        "169": "At most 168 hours (a week) between reminders.",
        "soon": "Enter a whole number of hours, 0 for never, or leave it empty for the default.",
    }
    for value, words in cases.items():
        response = staff_client.post(
            reverse("project-edit", args=[project.pk]),
            {"name": "Client A", "time_zone": "UTC", "reminder_hours": value},
        )
        assert response.context["form"].errors == {"reminder_hours": [words]}, value


def test_the_project_form_names_the_field_it_refuses(staff_client):
    Project.objects.create(name="Client A")
    cases = {
        ("client a", "UTC"): ("name", "Another project has this name"),
        ("", "UTC"): ("name", "required"),
        ("Tab\there", "UTC"): ("name", "invisible"),
        ("Client B", "Mars/Olympus"): ("time_zone", "Unknown time zone"),
    }
    for (name, zone), (field, words) in cases.items():
        response = staff_client.post(reverse("project-create"), {"name": name, "time_zone": zone})
        assert response.status_code == 200
        assert any(words in error for error in response.context["form"].errors[field]), (name, zone)
    assert Project.objects.count() == 1


def test_members_are_added_by_username_given_a_role_and_removed_each_audited(staff_client):
    project = Project.objects.create(name="Client A")
    person = factories.viewer("alice")
    url = reverse("member-add", args=[project.pk])
    assert staff_client.post(url, {"username": "alice", "role": "viewer"}).status_code == 302
    assert staff_client.post(url, {"username": "alice", "role": "manager"}).status_code == 302
    membership = Membership.objects.get(project=project, user=person)
    assert membership.role == "manager"
    missing = staff_client.post(url, {"username": "nobody", "role": "viewer"})
    assert missing.status_code == 400 and "No user has the username “nobody”" in missing.content.decode()
    bad_role = staff_client.post(url, {"username": "alice", "role": "owner"})
    assert bad_role.status_code == 400 and "Choose Viewer or Manager" in bad_role.content.decode()
    page = staff_client.get(project.get_absolute_url()).content.decode()
    assert "alice" in page and "Manager" in page
    staff_client.post(reverse("member-remove", args=[project.pk, membership.pk]))
    assert not Membership.objects.exists()
    assert [entry.action for entry in AuditEntry.objects.order_by("id")] == [
        "project.member.add",
        "project.member.update",
        "project.member.remove",
    ]
    assert {entry.project_id for entry in AuditEntry.objects.all()} == {project.pk}
    assert entries("project.member.update")[0].before == {"user": "alice", "role": "viewer"}


def test_a_membership_of_another_project_cannot_be_removed_through_this_one(staff_client):
    a, b = Project.objects.create(name="A"), Project.objects.create(name="B")
    membership = Membership.objects.create(project=b, user=factories.viewer())
    assert staff_client.post(reverse("member-remove", args=[a.pk, membership.pk])).status_code == 404
    assert Membership.objects.exists()


def test_a_source_is_assigned_on_its_page_and_the_move_is_audited(staff_client, sandbox):
    project = Project.objects.create(name="Client A")
    site = factories.site()
    organisation = Organisation.objects.create(organisation_id=demo.ACME_ORG, label="Acme Retail")
    page = staff_client.get(site.get_absolute_url()).content.decode()
    assert "Move to project" in page and "Client A" in page
    staff_client.post(reverse("site-project", args=[site.pk]), {"project": project.pk})
    staff_client.post(reverse("organisation-project", args=[organisation.pk]), {"project": project.pk})
    assert DataFastSite.objects.get(pk=site.pk).project_id == project.pk
    assert Organisation.objects.get(pk=organisation.pk).project_id == project.pk
    staff_client.post(reverse("site-project", args=[site.pk]), {"project": ""})
    assert DataFastSite.objects.get(pk=site.pk).project_id is None
    moves = entries("project.assign")
    assert [(entry.target, entry.before, entry.after, entry.project_id) for entry in moves] == [
        (f"site Acme Store ({demo.ACME_STORE})", {"project": None}, {"project": "Client A"}, project.pk),
        (f"organisation {demo.ACME_ORG}", {"project": None}, {"project": "Client A"}, project.pk),
        # Back to global: the entry stays readable by the members of the project it left.
        (f"site Acme Store ({demo.ACME_STORE})", {"project": "Client A"}, {"project": None}, project.pk),
    ]
    response = staff_client.post(reverse("site-project", args=[site.pk]), {"project": "999"}, follow=True)
    assert "That project does not exist" in response.content.decode()


def test_the_overview_moves_ticked_rows_in_a_constant_number_of_queries(staff_client):
    project = Project.objects.create(name="Client A")
    account = factories.account()

    def move(count: int) -> int:
        start = DataFastSite.objects.count()
        sites = DataFastSite.objects.bulk_create(
            DataFastSite(account=account, name=f"Shop {n}", website_id=f"{n:024x}") for n in range(start, start + count)
        )
        organisations = Organisation.objects.bulk_create(
            Organisation(organisation_id=f"org_{start + n}") for n in range(count)
        )
        data = {
            "project": project.pk,
            "sites": [site.pk for site in sites],
            "organisations": [org.pk for org in organisations],
            "next": reverse("overview") + "?q=Shop",
        }
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.post(reverse("sources-move"), data)
        assert response.status_code == 302 and response["Location"] == reverse("overview") + "?q=Shop"
        return len(queries)

    assert move(5) == move(50)
    assert DataFastSite.objects.filter(project=project).count() == 55
    assert Organisation.objects.filter(project=project).count() == 55
    assert AuditEntry.objects.filter(action="project.assign", project=project).count() == 110
    page = staff_client.get(reverse("overview")).content.decode()
    assert 'id="move-form"' in page and 'form="move-form" name="sites"' in page


def test_the_bulk_move_refuses_nothing_ticked_and_a_foreign_next(staff_client):
    response = staff_client.post(reverse("sources-move"), {"project": "", "next": "https://evil.example/"}, follow=True)
    assert "Tick at least one website or organisation" in response.content.decode()
    assert response.redirect_chain[0][0] == reverse("overview")


def test_viewers_see_neither_the_move_form_nor_the_checkboxes(viewer_client):
    factories.site()
    page = viewer_client.get(reverse("overview")).content.decode()
    assert "move-form" not in page and "Move to project" not in page


def test_the_project_pages_do_a_constant_number_of_queries(staff_client):
    project = Project.objects.create(name="Client A")

    def counts() -> list[int]:
        found = []
        for url in (reverse("project-list"), project.get_absolute_url()):
            cache.delete(WATCHER_CACHE_KEY)  # each page measured with the watcher's banner computed
            with CaptureQueriesContext(connection) as queries:
                assert staff_client.get(url).status_code == 200
            found.append(len(queries))
        return found

    def grow(count: int) -> None:
        start = DataFastSite.objects.count()
        account = factories.account()
        DataFastSite.objects.bulk_create(
            DataFastSite(account=account, name=f"Shop {n}", website_id=f"{n:024x}", project=project)
            for n in range(start, start + count)
        )
        for n in range(start, start + count):
            Membership.objects.create(project=project, user=factories.viewer(f"user{n}"))

    grow(3)
    small = counts()
    grow(9)
    assert counts() == small
