"""The forms of the Configuration page: download (with the secrets under a passphrase typed
twice), upload (a file, its passphrase, prune) and apply (the previewed file, by its hash)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from integrations_app.config.secrets import MIN_PASSPHRASE
from integrations_app.forms import BootstrapForm

DIGEST = re.compile(r"[0-9a-f]{64}")


def _passphrase(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        max_length=1_000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


class DownloadForm(BootstrapForm):
    with_secrets = forms.BooleanField(
        label="With secrets",
        required=False,
        help_text="The tokens, API keys and channel URLs and addresses, encrypted under a passphrase. "
        "Without it, they are left out.",
    )
    passphrase = _passphrase(
        "Passphrase", f"At least {MIN_PASSPHRASE} characters. Nothing can open the secrets without it."
    )
    passphrase_again = _passphrase("The same passphrase again")

    @sensitive_variables("cleaned", "first")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("with_secrets"):
            cleaned["passphrase"] = None
            return cleaned
        first = cleaned.get("passphrase") or ""
        if not first:
            self.add_error("passphrase", "Enter a passphrase to encrypt the secrets with.")
        elif len(first) < MIN_PASSPHRASE:
            self.add_error("passphrase", f"The passphrase must have at least {MIN_PASSPHRASE} characters.")
        elif first != cleaned.get("passphrase_again"):
            self.add_error("passphrase_again", "The two passphrases differ: type the same one twice.")
        return cleaned


class UploadForm(BootstrapForm):
    file = forms.FileField(
        label="Configuration file",
        help_text="A YAML file written by “Download configuration” or export_config.",
        error_messages={"required": "Choose the file to upload."},
    )
    passphrase = _passphrase("Passphrase", "Only to read the file's encrypted secrets; without it they are not read.")
    prune = forms.BooleanField(
        label="Remove what the file does not list",
        required=False,
        help_text="Rows of the file's sections that it leaves out are deleted (organisations never are).",
    )

    file_name = ""

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        self.file_name = str(upload.name or "the file")[:200]
        limit = int(settings.CONFIG_MAX_BYTES)
        # One byte over is enough for the import to refuse it by its size, without reading it all.
        data: bytes = upload.read(limit + 1)
        return data


class ApplyForm(BootstrapForm):
    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)
    passphrase = _passphrase("Passphrase", "The file's passphrase again: it is kept nowhere between the two steps.")

    def __init__(self, *args: Any, needs_passphrase: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_passphrase = needs_passphrase
        if not needs_passphrase:
            del self.fields["passphrase"]

    def clean_digest(self) -> str:
        digest: str = self.cleaned_data["digest"]
        if not DIGEST.fullmatch(digest):
            raise ValidationError("This is not a preview's file: upload it again.")
        return digest

    @sensitive_variables("cleaned")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.needs_passphrase and not cleaned.get("passphrase"):
            self.add_error("passphrase", "Enter the file's passphrase again, as for the preview.")
        return cleaned
