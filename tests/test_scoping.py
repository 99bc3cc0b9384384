"""The scoping module's small API, which every page uses (integrations_app/scoping.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations_app import scoping
from integrations_app.models import ChargebackStopKey, DataFastSite, Membership, Project, Role
from tests import demo, factories

pytestmark = pytest.mark.django_db


def test_a_member_sees_their_projects_and_manages_only_those_they_manage():
    a, b, c = (Project.objects.create(name=name) for name in "ABC")
    user = factories.viewer()
    Membership.objects.create(project=a, user=user, role=Role.MANAGER)
    Membership.objects.create(project=b, user=user, role=Role.VIEWER)
    site_a = factories.site(project=a)
    factories.site(demo.BLUEBIRD_BOOKS, "Bluebird Books", project=c)
    factories.site(demo.DELTA_DESIGN, "Delta Design")  # global
    assert set(scoping.visible_projects(user)) == {a, b}
    assert list(scoping.sites_for(user)) == [site_a]
    assert [scoping.can_manage_project(user, project.pk) for project in (a, b, c)] == [True, False, False]
    assert not scoping.can_manage_project(user, None)  # a global source is staff's
    assert scoping.is_staff_wide(user) is False
    assert list(scoping.scope_of(user).filter(ChargebackStopKey.objects.all())) == []


def test_the_scope_costs_one_query_per_request_and_none_for_staff():
    user = factories.viewer()
    with CaptureQueriesContext(connection) as queries:
        scoping.scope_of(user)
        scoping.scope_of(user)
    assert len(queries) == 1 + 2  # the memberships, and Django's two permission queries
    staff = factories.staff()
    with CaptureQueriesContext(connection) as queries:
        assert scoping.scope_of(staff) is scoping.EVERYTHING
    assert all("membership" not in query["sql"] for query in queries.captured_queries)


def test_anonymous_users_see_nothing_and_unknown_models_fail_closed():
    assert scoping.scope_of(AnonymousUser()).everything is False
    member = factories.viewer()
    Membership.objects.create(project=Project.objects.create(name="A"), user=member)
    with pytest.raises(LookupError, match="no project scoping rule"):
        scoping.scope_of(member).filter(Project.objects.all())
    assert scoping.scope_of(factories.staff()).filter(DataFastSite.objects.all()).query is not None
