"""Forms of the project pages: a project, a member, and the project a source belongs to."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower

from integrations_app.forms import BootstrapForm, StyledModelForm
from integrations_app.models import Project, Role
from integrations_app.text import refuse_invisible


class ProjectForm(StyledModelForm[Project]):
    class Meta:
        model = Project
        fields = ["name", "time_zone", "reminder_hours"]
        help_texts = {
            "name": "Typically the client's name; unique, whatever the case.",
            "time_zone": "A name such as Europe/Paris, used for digests and windows.",
        }
        error_messages = {
            "reminder_hours": {
                "invalid": "Enter a whole number of hours, 0 for never, or leave it empty for the default.",
                "min_value": "Enter 0 for never, or a number of hours.",
                "max_value": "At most 168 hours (a week) between reminders.",
            }
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reminder_hours"].help_text = (
            "While a problem stays open and unacknowledged, one reminder every this many hours. "
            f"Empty: the default ({settings.REMINDER_HOURS or 'never'}); 0: never."
        )

    def clean_name(self) -> str:
        refuse_invisible(self.cleaned_data["name"])  # before spaces are tidied: a tab is refused, not eaten
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Enter a name for the project.")
        taken = Project.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError("Another project has this name (names ignore case); choose another.")
        return name

    def audit_values(self) -> dict[str, Any]:
        return {
            "name": self.instance.name,
            "time_zone": self.instance.time_zone,
            "reminder_hours": self.instance.reminder_hours,
        }


class MemberForm(BootstrapForm):
    """Add a user to a project by username, or change the role of one already in it."""

    username = forms.CharField(
        max_length=150,
        label="Username",
        help_text="An existing user of this dashboard (create users in the admin).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}),
        error_messages={"required": "Enter the username of the person to add."},
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        label="Role",
        error_messages={"invalid_choice": "Choose Viewer or Manager."},
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].replace("\x00", "").strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError("No user has the username “%(username)s”.", params={"username": username[:150]})
        if not user.is_active:
            raise ValidationError("That user is deactivated; reactivate them in the admin first.")
        return user


class AssignForm(forms.Form):
    """The project of a source (empty: none, a global source)."""

    project = forms.ModelChoiceField(
        queryset=Project.objects.order_by(Lower("name")),
        required=False,
        error_messages={"invalid_choice": "That project does not exist (deleted meanwhile?); choose another."},
    )


class MoveForm(AssignForm):
    """The overview's bulk move: the ticked websites and organisations, and where they go."""

    sites = forms.TypedMultipleChoiceField(coerce=int, required=False)
    organisations = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any whole number is a choice here; the view moves the ones that exist.
        for name in ("sites", "organisations"):
            field = self.fields[name]
            assert isinstance(field, forms.TypedMultipleChoiceField)
            field.valid_value = lambda value: str(value).isascii() and str(value).isdigit()  # type: ignore[method-assign]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("sites") and not cleaned.get("organisations") and not self.errors:
            raise ValidationError("Tick at least one website or organisation to move.")
        return cleaned
