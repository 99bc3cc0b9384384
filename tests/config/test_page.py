"""The Configuration page, with Django's test client: download (with secrets under a passphrase
typed twice), upload, preview, apply exactly the previewed file; audited; no secret on a page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.config import uploads, yamlio
from integrations_app.config.service import export_config, export_document
from integrations_app.models import AuditEntry, DataFastSite, Project
from integrations_app.scoping import EVERYTHING
from tests import demo, factories
from tests.config.build import PASSPHRASE, counts, empty, full_configuration

pytestmark = pytest.mark.django_db
CORNER_SHOP = "6650a1f2c4e8b90012ab34ff"


def upload(client: Client, text: str, **fields: str) -> str:
    data = {"file": SimpleUploadedFile("paystatus.yaml", text.encode(), "application/yaml"), **fields}
    response = client.post(reverse("config-preview"), data)
    assert response.status_code == 200
    return response.content.decode()


def digest_in(page: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', page)
    assert found is not None, page
    return found.group(1)


def with_corner_shop() -> str:
    document = export_document(EVERYTHING)
    document["websites"].append({"website_id": CORNER_SHOP, "name": "Corner Shop", "account": "Acme Holdings"})
    document["projects"][0]["time_zone"] = "Europe/Berlin"
    return yamlio.dump(document)


def test_the_page_is_in_the_staff_navigation(staff_client, viewer_client):
    page = staff_client.get(reverse("config")).content.decode()
    assert f'href="{reverse("config")}" aria-current="page">Configuration</a>' in page
    assert "Download configuration" in page and 'enctype="multipart/form-data"' in page
    assert f'href="{reverse("config")}"' not in viewer_client.get(reverse("overview")).content.decode()


def test_download_without_secrets_is_the_exported_file_and_is_audited(staff_client):
    full_configuration()
    response = staff_client.post(reverse("config-download"))
    assert response["Content-Disposition"].startswith('attachment; filename="paystatus-config-')
    assert response["Cache-Control"] == "no-store"
    assert response.content.decode() == export_config(EVERYTHING)
    entry = AuditEntry.objects.get(action="config.export")
    assert entry.after == {"with_secrets": False} and entry.username == "staff"


def test_download_with_secrets_asks_for_the_passphrase_twice(staff_client):
    full_configuration()
    differ = staff_client.post(
        reverse("config-download"),
        {"with_secrets": "on", "passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE + "x"},
    )
    page = differ.content.decode()
    assert differ["Content-Type"].startswith("text/html") and "The two passphrases differ" in page
    assert PASSPHRASE not in page
    short = staff_client.post(reverse("config-download"), {"with_secrets": "on", "passphrase": "short"})
    assert "at least 10 characters" in short.content.decode()
    response = staff_client.post(
        reverse("config-download"), {"with_secrets": "on", "passphrase": PASSPHRASE, "passphrase_again": PASSPHRASE}
    )
    text = response.content.decode()
    assert "encrypted: " in text and demo.DATAFAST_TOKEN.reveal() not in text and "hooks.example" not in text
    assert AuditEntry.objects.get(action="config.export").after == {"with_secrets": True}
    assert PASSPHRASE not in str(list(AuditEntry.objects.values()))


def test_upload_previews_then_applies_exactly_the_previewed_file(staff_client):
    full_configuration()
    before = counts()
    page = upload(staff_client, with_corner_shop())
    assert "Dry run: would add 1, change 1, remove 0; nothing was changed." in page
    assert "website “Corner Shop” (6650a1f2c4e8b90012ab34ff)" in page and "project “Client A”: time_zone" in page
    assert counts() == before
    response = staff_client.post(reverse("config-apply"), {"digest": digest_in(page)})
    assert response.status_code == 302 and response["Location"] == reverse("config")
    assert DataFastSite.objects.filter(website_id=CORNER_SHOP).exists()
    assert Project.objects.get().time_zone == "Europe/Berlin"
    assert "Imported: added 1, changed 1, removed 0." in staff_client.get(reverse("config")).content.decode()
    assert AuditEntry.objects.get(action="config.import").after == {"add": 1, "change": 1, "remove": 0}
    again = staff_client.post(reverse("config-apply"), {"digest": digest_in(page)}, follow=True)
    assert "no longer kept" in again.content.decode()  # applied once; the same preview cannot apply twice


def test_apply_refuses_a_digest_that_was_not_previewed_and_a_database_changed_since(staff_client):
    full_configuration()
    page = upload(staff_client, with_corner_shop())
    forged = staff_client.post(reverse("config-apply"), {"digest": "0" * 64}, follow=True)
    assert "no longer kept" in forged.content.decode()
    Project.objects.update(time_zone="Europe/Berlin")  # someone else, between the preview and the apply
    before = counts()
    refused = staff_client.post(reverse("config-apply"), {"digest": digest_in(page)}).content.decode()
    assert "The database changed since the preview" in refused and counts() == before


def test_apply_re_checks_the_hash_of_the_kept_bytes(staff_client):
    full_configuration()
    page = upload(staff_client, with_corner_shop())
    digest = digest_in(page)
    user = User.objects.get(username="staff")
    kept = uploads.find(user.pk, digest)
    assert kept is not None
    kept.data = kept.data.replace(b"Corner Shop", b"Corner Shoq")  # the kept file changed behind the page's back
    caches[uploads.CACHE].set(f"config-upload:{user.pk}:{digest}", kept)
    response = staff_client.post(reverse("config-apply"), {"digest": digest}, follow=True)
    assert "no longer kept" in response.content.decode()
    assert not DataFastSite.objects.filter(website_id=CORNER_SHOP).exists()


def test_another_staff_member_cannot_apply_my_preview(staff_client):
    full_configuration()
    page = upload(staff_client, with_corner_shop())
    other = Client()
    other.force_login(factories.staff("other"))
    response = other.post(reverse("config-apply"), {"digest": digest_in(page)}, follow=True)
    assert "no longer kept" in response.content.decode()
    assert not DataFastSite.objects.filter(website_id=CORNER_SHOP).exists()


def test_a_sealed_file_needs_its_passphrase_again_to_apply_and_never_shows_it(staff_client):
    full_configuration()
    sealed = export_config(EVERYTHING, PASSPHRASE)
    empty()
    page = upload(staff_client, sealed, passphrase=PASSPHRASE)
    assert "Dry run: would add" in page and PASSPHRASE not in page and "hooks.example" not in page
    digest = digest_in(page)
    missing = staff_client.post(reverse("config-apply"), {"digest": digest}).content.decode()
    assert "Enter the file&#x27;s passphrase again" in missing and not DataFastSite.objects.exists()
    response = staff_client.post(reverse("config-apply"), {"digest": digest, "passphrase": PASSPHRASE})
    assert response.status_code == 302 and DataFastSite.objects.count() == 2
    assert export_config(EVERYTHING, None) == export_config(EVERYTHING)


def test_a_refused_file_shows_each_error_with_its_line_and_no_apply_button(staff_client):
    full_configuration()
    before = counts()
    page = upload(staff_client, export_config(EVERYTHING).replace("level: partner", "level: boss"), prune="on")
    assert "Refused: 1 problem; nothing was changed." in page
    assert re.search(r"line \d+: keys\[1\] \(ChargebackStop key “Northwind”\): level: must be one of", page)
    assert 'action="/config/apply/"' not in page and counts() == before


def test_a_preview_costs_the_same_queries_for_2_or_40_websites(staff_client):
    full_configuration()

    def preview_queries() -> int:
        text = export_config(EVERYTHING).replace("time_zone: Europe/Paris", "time_zone: Europe/Rome", 1)
        with CaptureQueriesContext(connection) as queries:
            upload(staff_client, text)
        return len(queries)

    preview_queries()  # the first page also fills the watcher banner's short-lived cache
    few = preview_queries()
    for number in range(38):
        factories.site(f"{number:024x}", name=f"Site {number}")
    assert DataFastSite.objects.count() == 40
    assert preview_queries() == few
