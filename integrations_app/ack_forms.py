"""The form that acknowledges an open problem."""

from __future__ import annotations

from django import forms

from integrations_app.forms import BootstrapForm
from integrations_app.text import one_line, refuse_hidden

MAX_COMMENT = 300


class AckForm(BootstrapForm):
    comment = forms.CharField(
        label="Comment",
        required=False,
        max_length=MAX_COMMENT,
        help_text="Optional: what is being done, for the next message and whoever reads this page.",
        error_messages={"max_length": f"Keep the comment to {MAX_COMMENT} characters (it has %(show_value)d)."},
    )

    def clean_comment(self) -> str:
        raw: str = self.cleaned_data["comment"]
        refuse_hidden(raw)
        # It is shown on one line of a chat message or an email: line breaks become spaces.
        return one_line(raw)
