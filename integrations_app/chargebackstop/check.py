"""ChargebackStop's credential check: what a key can list."""

from __future__ import annotations

from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.chargebackstop.models import Organisation
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.check import CheckResult, deadline, explain
from integrations_app.upstream.errors import UpstreamError
from integrations_app.upstream.secret import Secret


def check_chargebackstop(api_key: Secret, *, level: str) -> CheckResult:
    try:
        listing = ChargebackStopClient(api_key, deadline=deadline()).list_integrations()
    except (UpstreamError, SecretUnreadable) as error:  # a stored secret decrypts only here
        return CheckResult(False, explain(error, what="ChargebackStop"))
    organisations = sorted({item.organisation_id for item in listing.integrations})
    # By name where a listing named them (chargebackstop/discovery.py), else by ID.
    named = {row.organisation_id: str(row) for row in Organisation.objects.filter(organisation_id__in=organisations)}
    shown = ", ".join(named.get(organisation_id, organisation_id) for organisation_id in organisations)
    if not shown:
        shown = "none yet" + (" (enter its organisation ID in the form)" if level == "organisation" else "")
    details = [f"Integrations visible: {listing.count}", f"Organisations with integrations: {shown}"]
    if level == "organisation" and len(organisations) > 1:
        details.append("Warning: this looks like a partner key (it sees several organisations).")
    return CheckResult(True, "ChargebackStop accepted the key.", details, organisations)
