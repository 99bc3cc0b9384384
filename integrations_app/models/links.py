"""One client, two vendors: a DataFast website linked to the ChargebackStop organisation of the
same client. Staff confirm a link (or dismiss a suggestion, so it is not suggested again).

A website links to at most one organisation (a shop takes its payments through one client's
merchants); an organisation may have several websites (a client with several shops)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations_app.chargebackstop.models import Organisation
from integrations_app.datafast.models import DataFastSite


class LinkState(models.TextChoices):
    CONFIRMED = "confirmed", "Linked"
    DISMISSED = "dismissed", "Suggestion dismissed"


class ClientLink(models.Model):
    """A decision about one (website, organisation) pair: linked, or a suggestion dismissed."""

    site = models.ForeignKey(DataFastSite, on_delete=models.CASCADE, related_name="client_links")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="client_links")
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.CONFIRMED)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["site", "organisation"]
        constraints = [
            models.UniqueConstraint(fields=["site", "organisation"], name="client_link_once_per_pair"),
            # At most one organisation per website; dismissed suggestions do not count.
            models.UniqueConstraint(
                fields=["site"], condition=Q(state="confirmed"), name="client_link_one_organisation_per_site"
            ),
        ]
        indexes = [
            models.Index(fields=["organisation"], condition=Q(state="confirmed"), name="client_link_org_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.site} ↔ {self.organisation} ({self.state})"
