"""Staff pages for credentials (DataFast accounts and websites, ChargebackStop keys) and the
"test connection" buttons of the detail pages.

Secrets are write-only: pages show only the masked hint, and the audit log records a secret as its
hint. Every change is POST, redirect, GET, and writes one audit entry. "Poll now" is views.poll_now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Model, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST, require_safe

from integrations_app import audit
from integrations_app.chargebackstop import discovery as chargebackstop_discovery
from integrations_app.chargebackstop.check import check_chargebackstop
from integrations_app.chargebackstop.forms import ChargebackStopKeyForm
from integrations_app.chargebackstop.models import PartnerAccess
from integrations_app.datafast import discovery as datafast_discovery
from integrations_app.datafast.check import check_datafast, check_datafast_account
from integrations_app.datafast.forms import DataFastAccountForm, DataFastSiteForm, NoticeForm
from integrations_app.datafast.models import Discovery
from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite, KeyOrganisation
from integrations_app.models.secret_field import UNREADABLE, SecretUnreadable
from integrations_app.scoping import manages
from integrations_app.upstream.check import CheckResult
from integrations_app.upstream.duplicates import duplicate_warning
from integrations_app.upstream.secret import Secret
from integrations_app.views.access import staff_required

FormClass = type[DataFastAccountForm] | type[DataFastSiteForm] | type[ChargebackStopKeyForm]


@dataclass(frozen=True)
class Kind:
    """One kind of credential row: its model, form, words, and audit action prefix."""

    model: type[Model]
    form: FormClass
    noun: str
    slug: str  # audit actions are credentials.<slug>.create/update/delete; URLs <slug>-edit/-delete
    id_field: str = ""  # the upstream's ID of the row, named in audit targets beside its name

    def target(self, obj: Any) -> str:
        return f"{self.slug} {obj.name}" + (f" ({getattr(obj, self.id_field)})" if self.id_field else "")

    def done_url(self, obj: Any) -> str:
        # Websites and keys have a detail page with "test connection"; accounts live on the index.
        return reverse("credentials") if self.slug == "account" else obj.get_absolute_url()


ACCOUNT = Kind(DataFastAccount, DataFastAccountForm, "DataFast account", "account")
SITE = Kind(DataFastSite, DataFastSiteForm, "website", "site", id_field="website_id")
KEY = Kind(ChargebackStopKey, ChargebackStopKeyForm, "ChargebackStop key", "key")


@staff_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    # Eight queries whatever the number of rows (three for the discovery notices); secrets are
    # never decrypted for a listing.
    sites = DataFastSite.objects.order_by("name", "pk").prefetch_related("providers")
    links = KeyOrganisation.objects.select_related("organisation").order_by(
        "organisation__label", "organisation__organisation_id"
    )
    context = {
        "accounts": DataFastAccount.objects.prefetch_related(Prefetch("sites", queryset=sites)),
        "keys": ChargebackStopKey.objects.prefetch_related(
            Prefetch("keyorganisation_set", queryset=links, to_attr="links")
        ),
        "discovery_notices": datafast_discovery.with_notices(DataFastAccount.objects.all()),
    }
    return render(request, "integrations_app/credentials/index.html", context)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [name for name in after if before.get(name) != after[name]]
    return {name: before.get(name) for name in changed}, {name: after[name] for name in changed}


def _form_page(
    request: HttpRequest, kind: Kind, instance: Any = None, initial: dict[str, Any] | None = None
) -> HttpResponse:
    creating = instance is None
    obj: Any = kind.model() if creating else instance  # a row of kind.model, which kind.form edits
    # Read before the form binds: validation writes the submitted values onto the instance.
    before = None if creating else kind.form.audit_values(obj)
    title = f"Add a {kind.noun}" if creating else f"Edit the {kind.noun} “{obj.name}”"
    form = kind.form(request.POST if request.method == "POST" else None, instance=obj, initial=initial)
    if form.is_valid():
        secret_changed = getattr(form, "secret_changed", False)
        try:
            with transaction.atomic():
                saved = form.save()
                _audit_save(request, kind, saved, before, secret_changed=secret_changed)
                for site in getattr(form, "watched", []):
                    audit.record(
                        request.user, "credentials.site.create", SITE.target(site), after=SITE.form.audit_values(site)
                    )
        except IntegrityError:
            form = _check_again(request, kind, instance, initial)
        else:
            messages.success(request, f"Saved the {kind.noun} “{saved.name}”." + _watched_words(form))
            # A new token: which websites it reads, by name, so that none has to be typed.
            if (
                isinstance(saved, DataFastAccount)
                and (creating or secret_changed)
                and _discover_after_save(request, saved)
            ):
                return redirect("account-edit", saved.pk)
            # A new key's organisations by name (those without integrations too), so the check names them.
            if isinstance(saved, ChargebackStopKey) and (creating or secret_changed or "level" in form.changed_data):
                _discover_key(request, saved)
            _check_after_save(request, kind, saved)
            return redirect(kind.done_url(saved))
    context = {
        "form": form,
        "kind": kind,
        "account": obj if kind is ACCOUNT and not creating else None,
        "unlisted": (
            DataFastSite.objects.filter(account=obj, unlisted_since__isnull=False).order_by("name")
            if kind is ACCOUNT and not creating
            else []
        ),
        "title": title,
        "editing": not creating,
        "back_url": reverse("credentials") if creating else kind.done_url(obj),
        "delete_url": None if creating else reverse(f"{kind.slug}-delete", args=[obj.pk]),
        "no_accounts": kind is SITE and not DataFastAccount.objects.exists(),
    }
    return render(request, "integrations_app/credentials/form.html", context)


def _watched_words(form_or_sites: Any) -> str:
    watched = form_or_sites if isinstance(form_or_sites, list) else getattr(form_or_sites, "watched", [])
    if not watched:
        return ""
    names = ", ".join(f"“{site.name}”" for site in watched[:5]) + (
        f" and {len(watched) - 5} more" if len(watched) > 5 else ""
    )
    plural = "s" if len(watched) != 1 else ""
    return f" Now watching {len(watched)} more website{plural}: {names}; the first poll is due now."


def _discover_after_save(request: HttpRequest, account: DataFastAccount) -> bool:
    """Discover the websites of a token just saved; True when some are offered to watch."""
    outcome = datafast_discovery.discover(account, quick=True)
    if outcome.ok:
        if outcome.new:
            messages.info(request, f"{outcome.message} Tick the websites to watch below, then save.")
            return True
        messages.info(request, outcome.message)
    elif outcome.state == Discovery.NO_PERMISSION:
        messages.warning(request, outcome.message)
    else:
        messages.warning(request, f"Could not list the token's websites: {outcome.message}")
    return False


def _discover_key(request: HttpRequest, key: ChargebackStopKey) -> None:
    """List a key's organisations and merchants now and say what came of it. An organisation key's
    401 is an answer about the key (remembered, never an alert), so it is information, not an error."""
    outcome = chargebackstop_discovery.discover(key, quick=True)
    if outcome.ok:
        new = f" {outcome.new} new to the dashboard." if outcome.new else ""
        messages.success(request, f"Organisations: {outcome.message}{new}")
    elif outcome.access == PartnerAccess.REFUSED:
        messages.info(request, outcome.message)
    else:
        messages.warning(request, f"Could not list the key's organisations: {outcome.message}")


def _check_after_save(request: HttpRequest, kind: Kind, saved: Any) -> None:
    """Check what was saved against its API, as the commands do, and say what it found. The save
    stands whatever the answer: an API that is down must not stop an operator."""
    if kind is SITE:
        _report_check(
            request,
            SITE.target(saved),
            lambda: DataFastAccount.objects.get(pk=saved.account_id).secret,
            lambda token: check_datafast(token, saved.website_id),
            after_save=True,
        )
        return
    reread = type(saved).objects.only("secret")
    if kind is ACCOUNT:
        website_ids = list(saved.sites.order_by("name").values_list("website_id", flat=True))
        if not website_ids:
            return  # nothing to poll yet; discovery has said what the token lists
        check: Callable[[Secret], CheckResult] = lambda token: check_datafast_account(token, website_ids)  # noqa: E731
    else:
        check = lambda api_key: check_chargebackstop(api_key, level=saved.level)  # noqa: E731
    _report_check(request, kind.target(saved), lambda: reread.get(pk=saved.pk).secret, check, after_save=True)
    try:
        warning = duplicate_warning(saved, reread.get(pk=saved.pk).secret, kind.noun)
    except SecretUnreadable:
        warning = ""
    if warning:
        messages.warning(request, warning)


def _check_again(request: HttpRequest, kind: Kind, instance: Any, initial: dict[str, Any] | None) -> Any:
    """The form again after a unique column refused the save: another request saved the same name
    (or website ID) between this form's checks and its save. Checked now, with that row in the
    database, the clash is an error on its field rather than a 500."""
    fresh = kind.model() if instance is None else type(instance).objects.filter(pk=instance.pk).first()
    form = kind.form(request.POST, instance=fresh or kind.model(), initial=initial)
    if form.is_valid():  # not a clash the form knows how to name
        form.add_error(None, f"Another {kind.noun} was saved at the same moment; check the form and save again.")
    return form


def _audit_save(
    request: HttpRequest, kind: Kind, saved: Any, before: dict[str, Any] | None, *, secret_changed: bool
) -> None:
    after = kind.form.audit_values(saved)
    if before is None:
        audit.record(request.user, f"credentials.{kind.slug}.create", kind.target(saved), after=after)
        return
    if secret_changed:
        # The hint alone may not change (same last characters): say that the secret did.
        after["secret"] = f"changed, now {saved.secret_hint}"
    old, new = _changes(before, after)
    if new:  # saving an unchanged form is not a change
        audit.record(request.user, f"credentials.{kind.slug}.update", kind.target(saved), before=old, after=new)


def _delete_page(request: HttpRequest, kind: Kind, obj: Any, consequences: list[str]) -> HttpResponse:
    if request.method == "POST":
        before = kind.form.audit_values(obj)
        if kind is ACCOUNT:
            before["websites"] = [site.name for site in obj.sites.order_by("name")]
        target = kind.target(obj)
        with transaction.atomic():
            obj.delete()
            audit.record(request.user, f"credentials.{kind.slug}.delete", target, before=before)
        messages.success(request, f"Deleted the {kind.noun} “{before['name']}”.")
        return redirect("credentials")
    context = {"kind": kind, "object": obj, "consequences": consequences}
    return render(request, "integrations_app/credentials/confirm_delete.html", context)


# Loading a row never decrypts its secret (see crypto.StoredSecret): an edit or delete page works
# even when a secret cannot be decrypted (a lost encryption key), exactly when it needs replacing.


@sensitive_post_parameters("secret")  # out of error reports, whatever else happens
@staff_required
def account_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, ACCOUNT)


@sensitive_post_parameters("secret")  # out of error reports, whatever else happens
@staff_required
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, ACCOUNT, get_object_or_404(DataFastAccount.objects, pk=pk))


@staff_required
def account_delete(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(DataFastAccount.objects, pk=pk)
    names = list(account.sites.order_by("name").values_list("name", flat=True))
    if names:
        consequences = [
            f"Its websites are deleted with it ({len(names)}): {', '.join(names)}.",
            "Their poll history and status changes are deleted too.",
        ]
    else:
        consequences = ["It has no websites."]
    return _delete_page(request, ACCOUNT, account, consequences)


@staff_required
def site_create(request: HttpRequest) -> HttpResponse:
    account = request.GET.get("account", "")
    return _form_page(request, SITE, initial={"account": account} if account.isdigit() else None)


@staff_required
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, SITE, get_object_or_404(DataFastSite.objects.select_related("account"), pk=pk))


@staff_required
def site_delete(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(DataFastSite.objects.select_related("account"), pk=pk)
    consequences = [
        "Its poll history, snapshots and status changes are deleted with it.",
        f"The DataFast account “{site.account.name}” and its token stay.",
    ]
    return _delete_page(request, SITE, site, consequences)


@sensitive_post_parameters("secret")  # out of error reports, whatever else happens
@staff_required
def key_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, KEY)


@sensitive_post_parameters("secret")  # out of error reports, whatever else happens
@staff_required
def key_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _form_page(request, KEY, get_object_or_404(ChargebackStopKey.objects, pk=pk))


@staff_required
def key_delete(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ChargebackStopKey.objects, pk=pk)
    consequences = [
        "Its poll history and status changes are deleted with it.",
        "Organisations and integrations it found stay in the dashboard; nothing changes at ChargebackStop.",
    ]
    return _delete_page(request, KEY, key, consequences)


# --- Test connection ---------------------------------------------------------------------------


def _report_check(
    request: HttpRequest,
    target: str,
    secret: Callable[[], Secret],
    check: Callable[[Secret], CheckResult],
    *,
    after_save: bool = False,
) -> None:
    try:
        value = secret()
        value.reveal()  # decrypted here, for this request only
    except SecretUnreadable:
        result = CheckResult(False, f"{UNREADABLE}: check FIELD_ENCRYPTION_KEYS, or enter the secret again.")
    else:
        result = check(value)
        # An upstream may echo what it was sent; whatever it says, the secret never reaches a page.
        result.summary = result.summary.replace(value.reveal(), value.masked)
        result.details = [line.replace(value.reveal(), value.masked) for line in result.details]
    text = " ".join([result.summary, *(f"{line}." if not line.endswith(".") else line for line in result.details)])
    if after_save and not result.ok:
        # Saved all the same: a warning, not an error, and it says so.
        messages.warning(request, f"Saved, but the check failed: {text}")
    else:
        (messages.success if result.ok else messages.error)(request, text)
    if not after_save:  # the save has its own audit entry
        audit.record(
            request.user, "connection.test", target, after={"ok": result.ok, "summary": result.summary}, ok=result.ok
        )


# A button of the website's page: staff, or a manager of its project (404 out of their projects).
@manages(lambda: DataFastSite.objects.select_related("account"), lambda site: site.project_id)
@require_POST
def site_test(request: HttpRequest, site: DataFastSite) -> HttpResponse:
    _report_check(
        request,
        SITE.target(site),
        lambda: site.account.secret,
        lambda token: check_datafast(token, site.website_id),
    )
    return redirect(site.get_absolute_url())


@staff_required
@require_POST
def account_test(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(DataFastAccount.objects.defer("secret"), pk=pk)
    website_ids = list(account.sites.order_by("name").values_list("website_id", flat=True))
    _report_check(
        request,
        ACCOUNT.target(account),
        lambda: DataFastAccount.objects.only("secret").get(pk=account.pk).secret,
        lambda token: check_datafast_account(token, website_ids),
    )
    return redirect("credentials")


@staff_required
@require_POST
def account_discover(request: HttpRequest, pk: int) -> HttpResponse:
    """Discover again now: the same as the daily discovery, for one account."""
    account = get_object_or_404(DataFastAccount.objects, pk=pk)
    outcome = datafast_discovery.discover(account, quick=True)
    audit.record(
        request.user, "discovery.websites", ACCOUNT.target(account), after={"state": outcome.state}, ok=outcome.ok
    )
    if outcome.ok:
        new = len(outcome.new)
        messages.success(
            request, outcome.message + (f" {new} not watched yet." if new else " All are watched or set aside.")
        )
    else:
        (messages.warning if outcome.state == Discovery.NO_PERMISSION else messages.error)(request, outcome.message)
    return redirect("account-edit", account.pk)


@staff_required
@require_POST
def account_notice(request: HttpRequest, pk: int) -> HttpResponse:
    """A discovery notice's button: watch the new websites, set them aside, or keep the websites
    no longer listed. Back to the page it was pressed on."""
    account = get_object_or_404(DataFastAccount.objects, pk=pk)
    form = NoticeForm(request.POST)
    back = url_has_allowed_host_and_scheme(request.POST.get("next", ""), allowed_hosts={request.get_host()})
    done = request.POST["next"] if back else reverse("credentials")
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["do"]))
        return redirect(done)
    action = form.cleaned_data["do"]
    if action == NoticeForm.WATCH:
        with transaction.atomic():
            watched = datafast_discovery.watch_new(account)
            for site in watched:
                audit.record(
                    request.user,
                    "credentials.site.create",
                    SITE.target(site),
                    after=DataFastSiteForm.audit_values(site),
                )
        messages.success(request, f"{account.name}:" + (_watched_words(watched) or " nothing new to watch."))
    elif action == NoticeForm.SET_ASIDE:
        count = datafast_discovery.set_aside_new(account)
        audit.record(request.user, "discovery.set_aside", ACCOUNT.target(account), after={"websites": count})
        messages.info(
            request,
            f"Set aside {count} new website{'s' if count != 1 else ''} of {account.name}; "
            "they stay offered on the account's page.",
        )
    else:
        datafast_discovery.keep_unlisted(account)
        audit.record(request.user, "discovery.keep_unlisted", ACCOUNT.target(account))
        messages.info(request, f"Kept the websites {account.name}'s token no longer lists; their pages say so.")
    return redirect(done)


@staff_required
@require_POST
def key_discover(request: HttpRequest, pk: int) -> HttpResponse:
    """List the key's organisations and merchants again now: the same as the daily discovery."""
    key = get_object_or_404(ChargebackStopKey.objects, pk=pk)
    _discover_key(request, key)
    audit.record(request.user, "discovery.organisations", KEY.target(key), after={"access": key.partner_access})
    return redirect(key.get_absolute_url())


@staff_required
@require_POST
def key_test(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ChargebackStopKey.objects, pk=pk)
    _report_check(
        request,
        KEY.target(key),
        lambda: key.secret,
        lambda api_key: check_chargebackstop(api_key, level=key.level),
    )
    return redirect(key.get_absolute_url())
