"""One client, two vendors: the links page (suggestions to confirm or dismiss, the links made),
linking a website from its page, and what the website and organisation pages show of each other.

Every function here costs a constant number of queries, whatever the number of rows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from integrations_app import links
from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import ClientLink, DataFastSite, Integration, LinkState, Organisation
from integrations_app.scoping import Scope, scope_of
from integrations_app.views.access import StaffRequest, staff_required
from integrations_app.views.overview import provider_cells

PAGE_SIZE = 50
INTEGRATIONS_SHOWN = 50  # of the linked organisation, on a website's page
WEBSITES_SHOWN = 50  # of an organisation, on its page


class PairForm(forms.Form):
    site = forms.ModelChoiceField(
        DataFastSite.objects.only("pk", "name", "website_id"), error_messages={"invalid_choice": "No such website."}
    )
    organisation = forms.ModelChoiceField(
        Organisation.objects.all(), error_messages={"invalid_choice": "No such organisation."}
    )


class SiteLinkForm(forms.Form):
    organisation = forms.ModelChoiceField(
        Organisation.objects.all(),
        required=False,
        error_messages={"invalid_choice": "No such organisation: pick one from the list."},
    )


@staff_required
@require_safe
def links_page(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request.user)
    found = links.suggestions(scope)
    suggestion_page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    linked = (
        scope.filter(ClientLink.objects.filter(state=LinkState.CONFIRMED))
        .select_related("site", "organisation")
        .order_by(Lower("organisation__label"), "organisation__organisation_id", Lower("site__name"), "pk")
    )
    linked_page = Paginator(linked, PAGE_SIZE).get_page(request.GET.get("linked_page"))
    context = {"suggestion_page": suggestion_page, "linked_page": linked_page, "suggestion_count": len(found)}
    return render(request, "integrations_app/links.html", context)


def _back(request: HttpRequest) -> str:
    back = request.POST.get("next", "")
    return back if back.startswith("/") and not back.startswith("//") else reverse("links")


@staff_required
@require_POST
def link_confirm(request: StaffRequest) -> HttpResponse:
    form = PairForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect(_back(request))
    site, organisation = form.cleaned_data["site"], form.cleaned_data["organisation"]
    if links.link(request.user, site, organisation):
        messages.success(request, f"Linked “{site}” to “{organisation}”.")
    else:
        messages.info(request, f"“{site}” was already linked to “{organisation}”.")
    return redirect(_back(request))


@staff_required
@require_POST
def link_dismiss(request: StaffRequest) -> HttpResponse:
    form = PairForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect(_back(request))
    site, organisation = form.cleaned_data["site"], form.cleaned_data["organisation"]
    links.dismiss(request.user, site, organisation)
    messages.success(request, f"“{site}” and “{organisation}” will not be suggested again.")
    return redirect(_back(request))


@staff_required
@require_POST
def site_link(request: StaffRequest, pk: int) -> HttpResponse:
    """The website page's form: link it to an organisation, or to none."""
    site = get_object_or_404(DataFastSite.objects.only("pk", "name", "website_id"), pk=pk)
    form = SiteLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["organisation"]))
        return redirect(site.get_absolute_url())
    organisation = form.cleaned_data["organisation"]
    if organisation is None:
        if links.unlink(request.user, site):
            messages.success(request, f"“{site}” is linked to no organisation now.")
        else:
            messages.info(request, f"“{site}” was linked to no organisation.")
    elif links.link(request.user, site, organisation):
        messages.success(request, f"Linked “{site}” to “{organisation}”.")
    else:
        messages.info(request, f"“{site}” was already linked to “{organisation}”.")
    return redirect(site.get_absolute_url())


# --- what the source pages show ------------------------------------------------------------------


def site_client(scope: Scope, site: DataFastSite) -> dict[str, Any]:
    """For a website's page: its organisation (when the user sees it) and the organisation's
    integrations with their states; two queries (three with the staff form's choices)."""
    organisation = (
        scope.filter(Organisation.objects.all())
        .filter(client_links__site=site, client_links__state=LinkState.CONFIRMED)
        .first()
    )
    integrations: list[Integration] = []
    if organisation is not None:
        integrations = list(organisation.integrations.order_by("status", Lower("name"), "pk")[: INTEGRATIONS_SHOWN + 1])
    return {
        "linked_organisation": organisation,
        "linked_integrations": integrations[:INTEGRATIONS_SHOWN],
        "linked_integrations_more": len(integrations) > INTEGRATIONS_SHOWN,
        "link_choices": (
            Organisation.objects.order_by(Lower("label"), Lower("name"), "organisation_id").values_list(
                "pk", "label", "name", "organisation_id"
            )
            if scope.staff_wide
            else []
        ),
    }


def organisation_websites(scope: Scope, organisation: Organisation) -> dict[str, Any]:
    """For an organisation's page: its linked websites the user sees, each with its providers
    (the overview's cells); two queries."""
    sites = list(
        scope.filter(DataFastSite.objects.all())
        .filter(client_links__organisation=organisation, client_links__state=LinkState.CONFIRMED)
        .order_by(Lower("name"), "pk")[: WEBSITES_SHOWN + 1]
    )
    shown = sites[:WEBSITES_SHOWN]
    return {
        "linked_sites": list(zip(shown, provider_cells(shown), strict=True)) if shown else [],
        "linked_sites_more": len(sites) > WEBSITES_SHOWN,
        "provider_labels": list(PROVIDERS.values()),
    }
