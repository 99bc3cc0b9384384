"""Grouping the overview by client: a project, or a website linked to an organisation (one client,
two vendors), or neither. Annotations on the overview's own two queries, so grouping costs no
query and keeps its count constant whatever the number of rows."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.expressions import OrderBy
from django.db.models.functions import Coalesce, Lower

from integrations_app.chargebackstop.models import shown_name
from integrations_app.models import ClientLink, DataFastSite, LinkState, Organisation

# Groups in this order: projects, then linked pairs, then the rest.
PROJECT, LINKED, NONE = 0, 1, 2


def group_sites(sites: QuerySet[DataFastSite]) -> QuerySet[DataFastSite]:
    """Each website's client: its project, else the organisation it is linked to."""
    linked = ClientLink.objects.filter(site=OuterRef("pk"), state=LinkState.CONFIRMED)
    return sites.annotate(
        client_org=Subquery(linked.values(name=shown_name("organisation__"))[:1]),
        client_kind=Case(
            When(project__isnull=False, then=Value(PROJECT)),
            When(client_org__isnull=False, then=Value(LINKED)),
            default=Value(NONE),
            output_field=IntegerField(),
        ),
        client_name=Coalesce(F("project__name"), F("client_org"), Value(""), output_field=CharField()),
    )


def group_organisations(organisations: QuerySet[Organisation]) -> QuerySet[Organisation]:
    """Each organisation's client: its project, else itself when a website is linked to it."""
    linked = ClientLink.objects.filter(organisation=OuterRef("pk"), state=LinkState.CONFIRMED)
    return organisations.annotate(
        client_kind=Case(
            When(project__isnull=False, then=Value(PROJECT)),
            When(Exists(linked), then=Value(LINKED)),
            default=Value(NONE),
            output_field=IntegerField(),
        ),
        client_name=Case(
            When(project__isnull=False, then=F("project__name")),
            When(client_kind=LINKED, then=shown_name()),
            default=Value(""),
            output_field=CharField(),
        ),
    )


def ordering(then: list[OrderBy]) -> list[OrderBy]:
    """Groups first, then the order the user chose within each group."""
    return [F("client_kind").asc(), Lower("client_name").asc(), *then]


def heading(row: Any) -> str:
    """The words of a group's header row."""
    if row.client_kind == PROJECT:
        return f"Project: {row.client_name}"
    if row.client_kind == LINKED:
        return f"Client: {row.client_name} (website and organisation linked)"
    return "No client: in no project and not linked"
