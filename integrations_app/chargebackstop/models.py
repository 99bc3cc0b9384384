from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Exists, F, OuterRef, Value
from django.db.models.functions import Coalesce, Lower, NullIf
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from integrations_app.chargebackstop.client import CUSTOM_ORDERS
from integrations_app.models.problem import RANK, Facts, Problem, derive_organisation
from integrations_app.models.secret_field import EncryptedSecretField
from integrations_app.models.sources import HasSecret, PolledSource


class KeyLevel(models.TextChoices):
    ORGANISATION = "organisation", "Organisation"
    PARTNER = "partner", "Partner"


class IntegrationStatus(models.TextChoices):
    ENABLED = "ENABLED", "Enabled"
    DISABLED = "DISABLED", "Disabled"
    GONE = "GONE", "Gone"


class PartnerAccess(models.TextChoices):
    """What the partner-level endpoints (organisations, merchants) answered this key."""

    UNKNOWN = "", "Not asked yet"
    OK = "ok", "Lists organisations and merchants"
    REFUSED = "refused", "Refused (an organisation-level key)"
    FORBIDDEN = "forbidden", "Lacks organisations:read or merchants:read"


class ChargebackStopKey(HasSecret, PolledSource):
    """A ChargebackStop API key; organisation level sees one organisation, partner level many."""

    name = models.CharField(max_length=100, unique=True)
    level = models.CharField(max_length=12, choices=KeyLevel.choices)
    secret = EncryptedSecretField("API key")
    created_at = models.DateTimeField(auto_now_add=True)
    # Learnt once (chargebackstop/discovery.py): a refused key is not asked again until its secret
    # or level changes, and a refusal is never an alert.
    partner_access = models.CharField(
        max_length=10, choices=PartnerAccess.choices, blank=True, default="", editable=False
    )
    discovery_message = models.CharField(max_length=300, blank=True, editable=False)
    discovered_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "ChargebackStop key"
        # Names compare ignoring case, as the forms and a configuration file do (and Project).
        constraints = [models.UniqueConstraint(Lower("name"), name="cbs_key_name_unique_ci")]
        indexes = [models.Index(fields=["enabled", "next_poll_at"], name="key_due_idx")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("key-detail", args=[self.pk])

    def forget_partner_access(self) -> None:
        """Its secret or level changed: whether it may list organisations is to be learnt again."""
        self.partner_access, self.discovery_message, self.discovered_at = PartnerAccess.UNKNOWN, "", None

    def problem_facts(self) -> Facts:
        lost = self.pk is not None and lost_integrations().filter(seen_by=self).exists()
        return replace(super().problem_facts(), integration_lost=lost)

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # The organisations it reaches are as fresh as it is.
        refresh_organisation_problems(KeyOrganisation.objects.filter(key=self).values("organisation"))


class Organisation(models.Model):
    organisation_id = models.CharField("organisation ID", max_length=100, unique=True)
    # What is wrong with it (a position in problem.ORDER), kept by `refresh_organisation_problems`.
    problem_rank = models.PositiveSmallIntegerField(default=RANK[Problem.PENDING], editable=False)
    label = models.CharField(max_length=100, blank=True, help_text="A friendly name of your own (overrides the name).")
    # What GET /v1/organisations (partner keys only) says of it; empty until a listing names it.
    name = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=4, blank=True, help_text="LIVE or TEST, from the organisations listing.")
    merchant_ids = models.JSONField(default=list, blank=True, help_text="Merchant IDs learnt from integrations.")
    keys = models.ManyToManyField(ChargebackStopKey, through="KeyOrganisation", related_name="organisations")
    project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="organisations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Its integrations by status, set on the organisations of a page by summary.count_integrations.
    enabled: int
    disabled: int
    gone: int

    class Meta:
        ordering = ["label", "organisation_id"]

    def __str__(self) -> str:
        return self.label or self.name or self.organisation_id

    def get_absolute_url(self) -> str:
        return reverse("organisation-detail", args=[self.pk])

    @property
    def is_test(self) -> bool:
        return self.mode == "TEST"


def shown_name(prefix: str = "") -> Coalesce:
    """An organisation's name as pages show it (`str`), in SQL: its label, else the name the listing
    gave, else its ID. `prefix` reaches it through a relation ("organisation__")."""
    return Coalesce(
        NullIf(F(f"{prefix}label"), Value("")),
        NullIf(F(f"{prefix}name"), Value("")),
        F(f"{prefix}organisation_id"),
        output_field=models.CharField(),
    )


class KeyOrganisation(models.Model):
    class Source(models.TextChoices):
        LEARNT = "learnt", "Learnt from polling"
        MANUAL = "manual", "Entered by hand"
        LISTED = "listed", "Listed by GET /v1/organisations"

    key = models.ForeignKey(ChargebackStopKey, on_delete=models.CASCADE)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.LEARNT)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "organisation"], name="one_link_per_key_organisation")]

    def __str__(self) -> str:
        return f"{self.key} → {self.organisation}"


@receiver([post_save, post_delete], sender=KeyOrganisation)
def _link_changed(sender: type[KeyOrganisation], instance: KeyOrganisation, **kwargs: Any) -> None:
    refresh_organisation_problems([instance.organisation_id])


class Merchant(models.Model):
    """A merchant as GET /v1/merchants lists it (partner keys only): names for the pickers and pages."""

    merchant_id = models.CharField("merchant ID", max_length=100, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="merchants")
    name = models.CharField(max_length=255, blank=True)
    type = models.CharField(max_length=40, blank=True)
    external_id = models.CharField("external ID", max_length=255, blank=True)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "merchant_id"]

    def __str__(self) -> str:
        return self.name or self.merchant_id


class Integration(models.Model):
    integration_id = models.CharField("integration ID", max_length=100, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="integrations")
    seen_by = models.ForeignKey(ChargebackStopKey, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=40)
    status = models.CharField(max_length=8, choices=IntegrationStatus.choices)
    merchant_ids = models.JSONField(default=list)
    since = models.DateTimeField(default=timezone.now)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # A poll that started before a change made here must not undo it with what it read earlier.
    changed_here_at = models.DateTimeField(null=True, blank=True)
    # A rename or disable from the dashboard is under way until then: concurrent requests for the
    # same integration are refused instead of sending their own PATCH (chargebackstop.actions).
    action_until = models.DateTimeField(null=True, blank=True, editable=False)
    alert_open = models.BooleanField(default=False)
    flapping_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["organisation", "status"], name="integration_org_status_idx")]
        # The staff role: given to a user or a group in the admin.
        permissions = [("manage_integrations", "Can manage credentials and CUSTOM_ORDERS integrations")]

    def __str__(self) -> str:
        return self.name or self.integration_id

    def get_absolute_url(self) -> str:
        return reverse("integration-detail", args=[self.pk])

    @property
    def is_custom_orders(self) -> bool:
        return self.type == CUSTOM_ORDERS

    @property
    def can_be_disabled(self) -> bool:
        return self.is_custom_orders and self.status == IntegrationStatus.ENABLED


def lost_integrations() -> models.QuerySet[Integration]:
    """Integrations disabled or gone that people were told about (a disable done in the dashboard
    is a notice, not an open problem)."""
    return Integration.objects.filter(alert_open=True, status__in=[IntegrationStatus.DISABLED, IntegrationStatus.GONE])


def refresh_organisation_problems(pks: Iterable[int] | models.QuerySet[Any], now: datetime | None = None) -> None:
    """Derive and store the problem of these organisations, in two queries."""
    now = now or timezone.now()
    links = KeyOrganisation.objects.filter(organisation=OuterRef("pk"))
    rows = Organisation.objects.filter(pk__in=pks).annotate(
        lost=Exists(lost_integrations().filter(organisation=OuterRef("pk"))),
        polled=Exists(links.exclude(key__health="pending")),
        working=Exists(links.filter(key__enabled=True, key__health="ok", key__stale_after__gte=now)),
    )
    changed = []
    for organisation in rows.only("pk", "problem_rank"):
        problem = derive_organisation(
            integration_lost=organisation.lost, polled=organisation.polled, working=organisation.working
        )
        if organisation.problem_rank != RANK[problem]:
            organisation.problem_rank = RANK[problem]
            changed.append(organisation)
    Organisation.objects.bulk_update(changed, ["problem_rank"])
