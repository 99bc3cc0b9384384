"""Names for the sandbox's demo data, so tests read as sentences."""

from __future__ import annotations

from integrations_app.upstream.secret import Secret
from sandbox.scenarios import DEMO

_tokens = DEMO["datafast"]["tokens"]
_keys = {key["label"]: key for key in DEMO["chargebackstop"]["keys"]}

DATAFAST_TOKEN = Secret(_tokens[0]["token"])
OTHER_DATAFAST_TOKEN = Secret(_tokens[1]["token"])
ACME_STORE = "6650a1f2c4e8b90012ab3401"  # stripe + paddle (key expiring in 5 days), USD
BLUEBIRD_BOOKS = "6650a1f2c4e8b90012ab3402"  # stripe + lemonsqueezy, GBP
DELTA_DESIGN = "6650a1f2c4e8b90012ab3404"  # paddle key expired
HARBOR_HARDWARE = "6650a1f2c4e8b90012ab3408"  # served by the other token
NIMBUS_LABS = "6650a1f2c4e8b90012ab34ff"  # exists, no token may read it
UNKNOWN_WEBSITE = "0123456789abcdef01234567"

PARTNER_KEY = Secret(_keys["Northwind Partners (admin group)"]["key"])
ORGANISATION_KEY = Secret(_keys["Acme Retail Group"]["key"])
GROUP_KEY = Secret(_keys["Northwind support group"]["key"])
ACME_ORG = "org_acme_retail"
BLUEBIRD_ORG = "org_bluebird_media"
CEDAR_ORG = "org_cedar_hospitality"
ACME_ORDERS = "int_9c1e7a20b4d1"  # CUSTOM_ORDERS, ENABLED
ACME_STRIPE = "int_2f5b8d13e7a0"  # STRIPE, ENABLED
