"""The Configuration page (staff): download the configuration as YAML, with or without its
secrets, and upload a file: first a preview (what it adds, changes and removes, or its errors
with their lines), then "Apply", which imports exactly the previewed bytes (kept server-side by
their hash, `config.uploads`). Both are audited. The page never shows a secret or a passphrase."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST, require_safe

from integrations_app import audit
from integrations_app.config import uploads
from integrations_app.config.forms import ApplyForm, DownloadForm, UploadForm
from integrations_app.config.service import ExportError, Report, export_config, import_config
from integrations_app.scoping import scope_of
from integrations_app.views.access import StaffRequest, staff_required

SENSITIVE = ("passphrase", "passphrase_again")


def _index(
    request: HttpRequest, download: DownloadForm | None = None, upload: UploadForm | None = None
) -> HttpResponse:
    context = {"download": download or DownloadForm(), "upload": upload or UploadForm()}
    return render(request, "integrations_app/config/index.html", context)


@staff_required
@require_safe
def config_page(request: StaffRequest) -> HttpResponse:
    return _index(request)


@sensitive_post_parameters(*SENSITIVE)
@sensitive_variables("passphrase")
@staff_required
@require_POST
def config_download(request: StaffRequest) -> HttpResponse:
    form = DownloadForm(request.POST)
    if not form.is_valid():
        return _index(request, download=form)
    passphrase = form.cleaned_data["passphrase"]
    try:
        text = export_config(scope_of(request.user), passphrase)
    except ExportError as error:
        form.add_error(None, str(error))
        return _index(request, download=form)
    audit.record(request.user, "config.export", "configuration", after={"with_secrets": bool(passphrase)}, project=None)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    name = f"paystatus-config-{timezone.now():%Y%m%d-%H%M}.yaml"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _preview(
    request: HttpRequest, report: Report, *, name: str, prune: bool, apply: ApplyForm | None = None
) -> HttpResponse:
    by_action: dict[str, list[Any]] = {"add": [], "change": [], "remove": []}
    for item in report.changes:
        by_action[item.action].append(item)
    context = {
        "report": report,
        "name": name,
        "prune": prune,
        "added": by_action["add"],
        "changed": by_action["change"],
        "removed": by_action["remove"],
        "kept": [line for line in report.lines() if line.startswith("  = ")],
        "apply": apply,
    }
    return render(request, "integrations_app/config/preview.html", context)


@sensitive_post_parameters(*SENSITIVE)
@sensitive_variables("passphrase")
@staff_required
@require_POST
def config_preview(request: StaffRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _index(request, upload=form)
    data: bytes = form.cleaned_data["file"]
    passphrase = form.cleaned_data["passphrase"] or None
    prune = bool(form.cleaned_data["prune"])
    report = import_config(data, passphrase=passphrase, prune=prune, dry_run=True)
    apply = None
    if not report.errors and report.changes:
        upload = uploads.Upload(data, prune, with_passphrase=passphrase is not None, report=report)
        digest = uploads.keep(request.user.pk, upload)
        apply = ApplyForm(initial={"digest": digest}, needs_passphrase=upload.with_passphrase)
    return _preview(request, report, name=form.file_name, prune=prune, apply=apply)


@sensitive_post_parameters(*SENSITIVE)
@sensitive_variables("passphrase")
@staff_required
@require_POST
def config_apply(request: StaffRequest) -> HttpResponse:
    digest = str(request.POST.get("digest", ""))
    upload = uploads.find(request.user.pk, digest)
    if upload is None:
        messages.error(request, "The previewed file is no longer kept (an hour at most): upload it again.")
        return redirect("config")
    form = ApplyForm(request.POST, needs_passphrase=upload.with_passphrase)
    if not form.is_valid():
        return _preview(request, upload.report, name="the previewed file", prune=upload.prune, apply=form)
    passphrase = form.cleaned_data.get("passphrase") or None
    report = import_config(
        upload.data, passphrase=passphrase, prune=upload.prune, user=request.user, expected=upload.report.plan()
    )
    if report.errors:
        return _preview(request, report, name="the previewed file", prune=upload.prune)
    uploads.forget(request.user.pk, digest)
    messages.success(request, report.summary())
    return redirect("config")
