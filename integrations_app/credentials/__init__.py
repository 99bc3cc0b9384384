"""Staff management of credentials: DataFast accounts and websites, ChargebackStop keys.

The forms live here; the pages are `integrations_app.views.credentials`. Secrets are write-only.
"""

from __future__ import annotations
