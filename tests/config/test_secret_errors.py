"""An invalid sealed secret is named, never quoted: the preview page and the command say which
entry and why in words, and the secret string appears in neither."""

from __future__ import annotations

import io
import re
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from integrations_app.config import yamlio
from integrations_app.config.secrets import new_box
from integrations_app.config.service import export_document
from integrations_app.scoping import EVERYTHING
from tests.config.build import PASSPHRASE, full_configuration
from tests.config.test_page import upload

pytestmark = pytest.mark.django_db
BAD_ADDRESS = "ceo-private.list@@acme-internal.example"
BAD_URL = "json://hooks.example/ops token-9f8e7d"


def sealed_with(addresses: str, url: str) -> str:
    """The configuration exported with secrets, the mail channel's addresses and the chat's URL replaced."""
    full_configuration()
    box = new_box(PASSPHRASE)
    document = export_document(EVERYTHING, box)
    for channel in document["channels"]:
        channel["secret"] = {"encrypted": box.seal(addresses if channel["kind"] == "email" else url)}
    return yamlio.dump(document)


def test_an_invalid_sealed_address_is_named_not_quoted_on_the_preview(staff_client):
    text = sealed_with(f"a@example.com\n{BAD_ADDRESS}", "json://hooks.example/ops")
    page = upload(staff_client, text, passphrase=PASSPHRASE)
    assert "Refused: 1 problem" in page
    assert "channel “Client A mail” of project Client A): secret: the sealed email addresses are invalid: " in page
    assert "address 2 is not an email address" in page
    assert BAD_ADDRESS not in page and "acme-internal" not in page


def test_an_invalid_sealed_url_is_named_not_quoted_by_the_command(tmp_path):
    text = sealed_with("a@example.com", BAD_URL)
    path = tmp_path / "paystatus.yaml"
    path.write_text(text)
    out, err, stdin = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(PASSPHRASE + "\n")
    try:
        with pytest.raises(CommandError) as refused:
            call_command("import_config", str(path), "--with-secrets", stdout=out, stderr=err)
    finally:
        sys.stdin = stdin
    said = "\n".join([str(refused.value), out.getvalue(), err.getvalue()])
    assert re.search(r"channel “Ops chat”\): secret: the sealed Apprise URL is invalid: .*no spaces", said), said
    assert "token-9f8e7d" not in said and "hooks.example" not in said
