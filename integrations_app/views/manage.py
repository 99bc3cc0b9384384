"""Staff pages that create, rename and disable CUSTOM_ORDERS integrations.

Thin views: forms validate before any request, `chargebackstop.actions` does the work, and each
upstream error becomes a plain sentence on the field it concerns (`chargebackstop.words`), with the input kept. POST,
redirect, GET after every change.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from integrations_app.chargebackstop import actions
from integrations_app.chargebackstop.discovery import merchants_of
from integrations_app.chargebackstop.forms import CreateIntegrationForm, RenameIntegrationForm
from integrations_app.chargebackstop.words import explain
from integrations_app.models import FormSubmission, Integration, KeyOrganisation, Merchant, Organisation
from integrations_app.scoping import (
    changeable_or_404,
    is_staff_wide,
    manager_required,
    manages,
    organisations_for,
    scope_of,
    visible_or_404,
)
from integrations_app.upstream.errors import InvalidRequestError, UpstreamError
from integrations_app.views.access import StaffRequest

# A second POST of the same form waits this long for the first one to finish.
RESUBMIT_WAIT_SECONDS = 10.0
RESUBMIT_POLL_SECONDS = 0.25


def _name_unknown_merchants(message: str, data: dict[str, Any]) -> str:
    """Add which of the IDs are not the organisation's, so the operator knows which to fix: by the
    organisation's merchants as ChargebackStop lists them now (partner keys), else by those known
    (listed earlier, or learnt from its integrations); an ID known elsewhere says whose it is."""
    organisation_id = data["organisation_id"]
    listed = merchants_of(data["key"], organisation_id)
    if listed is not None:
        theirs, words = {merchant.id for merchant in listed}, "Not among the merchants ChargebackStop lists for it"
    else:
        organisation = Organisation.objects.filter(organisation_id=organisation_id).first()  # in the form's scope
        theirs = set(organisation.merchant_ids if organisation else [])
        theirs |= set(Merchant.objects.filter(organisation=organisation).values_list("merchant_id", flat=True))
        words = "Not among its known merchants"
        if not theirs:
            return message
    unknown = [merchant for merchant in data["merchant_ids"] if merchant not in theirs]
    if not unknown:
        return message
    elsewhere = {
        row.merchant_id: row
        for row in Merchant.objects.filter(merchant_id__in=unknown).select_related("organisation")
        if row.organisation.organisation_id != organisation_id
    }
    named = [
        f"{merchant} ({elsewhere[merchant].name or 'a merchant'} of {elsewhere[merchant].organisation})"
        if merchant in elsewhere
        else merchant
        for merchant in unknown
    ]
    return f"{message} {words}: {', '.join(named)}."


def _put_error(form: Any, field: str, message: str) -> None:
    form.add_error(field if field in form.fields else None, message)


# --- create ------------------------------------------------------------------------------------


def _creatable(request: HttpRequest) -> QuerySet[Organisation] | None:
    """The organisations this user may create integrations in: None (all) for staff, else the
    organisations of the projects they manage. The form offers only these."""
    scope = scope_of(request.user)
    return None if scope.staff_wide else scope.managed_filter(Organisation.objects.all())


@login_required
def create_integration(request: HttpRequest) -> HttpResponse:
    # An organisation named in the URL that the user does not see is a 404 first, whoever asks.
    if (organisation_id := request.GET.get("organisation_id", "").replace("\x00", "")) and not is_staff_wide(
        request.user
    ):
        visible_or_404(request.user, Organisation.objects.all(), organisation_id=organisation_id)
    return _create_integration(request)


@manager_required
@require_http_methods(["GET", "POST"])
def _create_integration(request: StaffRequest) -> HttpResponse:
    allowed = _creatable(request)
    if request.method != "POST":
        return _render_create(request, CreateIntegrationForm(initial=_initial(request, allowed), organisations=allowed))
    form = CreateIntegrationForm(request.POST, organisations=allowed)
    if not form.is_valid():
        return _render_create(request, form)
    token = form.cleaned_data["submission"]
    try:
        with transaction.atomic():
            submission = FormSubmission.objects.create(token=token, user=request.user)
    except IntegrityError:
        return _already_submitted(request, form, token)
    result_url = ""
    try:
        integration = actions.create_integration(
            request.user,
            form.cleaned_data["key"],
            organisation_id=form.cleaned_data["organisation_id"],
            name=form.cleaned_data["name"],
            status=form.cleaned_data["status"],
            merchant_ids=form.cleaned_data["merchant_ids"],
        )
        result_url = integration.get_absolute_url()
    except actions.ActionRefused as refused:
        _put_error(form, refused.field, refused.message)
    except UpstreamError as error:
        field, message = explain(error, creating=True)
        if isinstance(error, InvalidRequestError) and error.code == "INVALID_MERCHANT_IDS":
            message = _name_unknown_merchants(message, form.cleaned_data)
        _put_error(form, field, message)
    finally:
        # Finished either way, so a resubmission waiting on this row stops waiting.
        FormSubmission.objects.filter(pk=submission.pk).update(finished=True, result_url=result_url)
    if not result_url:
        return _render_create(request, form, new_token=True)
    messages.success(request, f"Created “{integration.name}” ({integration.integration_id}) in ChargebackStop.")
    return redirect(result_url)


def _initial(request: HttpRequest, allowed: QuerySet[Organisation] | None) -> dict[str, Any]:
    """Pre-fill the organisation from `?organisation_id=` and a key that reaches it. An
    organisation the user may not see is a 404 (as its page is); one they see but may not change
    is refused (403)."""
    initial: dict[str, Any] = {}
    links = KeyOrganisation.objects.filter(key__enabled=True).order_by("key__name")
    if allowed is not None:
        links = links.filter(organisation__in=allowed)
    if organisation_id := request.GET.get("organisation_id", "").replace("\x00", ""):  # PostgreSQL refuses NUL
        if allowed is not None:
            changeable_or_404(
                request.user, Organisation.objects.all(), lambda org: org.project_id, organisation_id=organisation_id
            )
        links = links.filter(organisation__organisation_id=organisation_id)
        initial["organisation_id"] = organisation_id
    key_ids = list(dict.fromkeys(links.values_list("key_id", flat=True)))
    if key_ids and (organisation_id or len(key_ids) == 1):
        initial["key"] = key_ids[0]
    return initial


def _already_submitted(request: HttpRequest, form: CreateIntegrationForm, token: uuid.UUID) -> HttpResponse:
    """A double click or a resubmitted page: never a second create. Wait for the first to finish."""
    deadline = time.monotonic() + RESUBMIT_WAIT_SECONDS
    submission = FormSubmission.objects.get(token=token)
    while not submission.finished and time.monotonic() < deadline:
        time.sleep(RESUBMIT_POLL_SECONDS)
        submission.refresh_from_db()
    if submission.result_url:
        messages.info(request, "This form was already submitted; here is the integration it created.")
        return redirect(submission.result_url)
    if submission.finished:
        message = (
            "This form was already submitted, and that attempt ended without a confirmed integration (if "
            "ChargebackStop stopped answering, it may still exist: check the organisation page). Check the values "
            "and submit again."
        )
    else:
        message = (
            "This form was already submitted and ChargebackStop is still answering it; check the organisation page "
            "in a moment before submitting again."
        )
    form.add_error(None, message)
    # While the first attempt may still finish, the form keeps its token: submitting again waits again.
    return _render_create(request, form, new_token=submission.finished)


def _render_create(request: HttpRequest, form: CreateIntegrationForm, *, new_token: bool = False) -> HttpResponse:
    if new_token:
        # The attempt with the old token is over: submitting the corrected form is a new attempt.
        data = cast(QueryDict, form.data).copy()  # bound with request.POST: only POSTs renew the token
        data["submission"] = str(uuid.uuid4())
        form.data = data
    # Linked from errors that say "check the organisation page".
    chosen = form.data.get("organisation_id") if form.is_bound else form.initial.get("organisation_id")
    organisations = organisations_for(request.user)
    organisation = organisations.filter(organisation_id=str(chosen or "").replace("\x00", "")).first()
    return render(request, "integrations_app/integration_form.html", {"form": form, "organisation": organisation})


# --- rename and disable ------------------------------------------------------------------------


def _refuse(request: HttpRequest, integration: Integration, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect(integration.get_absolute_url())


def _rows() -> QuerySet[Integration]:
    return Integration.objects.select_related("organisation", "seen_by")


def _project_of(integration: Integration) -> int | None:
    return integration.organisation.project_id


@manages(_rows, _project_of)
@require_http_methods(["GET", "POST"])
def rename_integration(request: StaffRequest, integration: Integration) -> HttpResponse:
    if refusal := actions.why_not_rename(integration):
        return _refuse(request, integration, refusal)
    if request.method != "POST":
        form = RenameIntegrationForm(current_name=integration.name)
        return render(request, "integrations_app/integration_rename.html", {"integration": integration, "form": form})
    form = RenameIntegrationForm(request.POST, current_name=integration.name)
    if form.is_valid():
        try:
            actions.rename_integration(request.user, integration, form.cleaned_data["name"])
        except actions.ActionRefused as refused:
            return _refuse(request, integration, refused.message)
        except UpstreamError as error:
            _put_error(form, *explain(error, creating=False))
        else:
            messages.success(request, f"Renamed to “{integration.name}” in ChargebackStop.")
            return redirect(integration.get_absolute_url())
    return render(request, "integrations_app/integration_rename.html", {"integration": integration, "form": form})


@manages(_rows, _project_of)
@require_http_methods(["GET", "POST"])
def disable_integration(request: StaffRequest, integration: Integration) -> HttpResponse:
    if refusal := actions.why_not_disable(integration):
        return _refuse(request, integration, refusal)
    if request.method != "POST":
        return render(request, "integrations_app/integration_disable.html", {"integration": integration})
    try:
        actions.disable_integration(request.user, integration)
    except actions.ActionRefused as refused:
        return _refuse(request, integration, refused.message)
    except UpstreamError as error:
        messages.error(request, explain(error, creating=False)[1])
        return redirect(reverse("integration-disable", args=[integration.pk]))
    messages.success(
        request,
        f"Disabled “{integration.name}” in ChargebackStop. Re-enabling it is done in ChargebackStop itself.",
    )
    return redirect(integration.get_absolute_url())
