"""Scenario data for the sandbox: plain dicts and lists, checked by `loader.build_world` on load.

Shape (every list optional):

    {"datafast": {
        "websites": [{"id": <24-hex ObjectId>, "name", "currency": "USD",
                      "connected": ["stripe", ...] or {"stripe": True, ...},
                      "paddle_key_expires_at": ISO string | None, or "paddle_key_expires_in_days": number}],
        "tokens": [{"token": "dft_...", "label", "scopes": ["settings:read"], "websites": [website ids]}]},
     "chargebackstop": {
        "organisations": [{"id", "label", "partner_id", "merchant_ids": [...]}],
        "keys": [{"key", "label", "level": "organisation", "organisation_id"}
                 | {"key", "label", "level": "partner", "partner_id", "admin": bool,
                    "organisation_ids": [...] (a non-admin group's organisations)}],
                 (each may set "abilities"; both integrations abilities by default)
        "integrations": [{"id", "organisation_id", "name", "type", "status", "merchant_ids"}]}}

`DEMO["datafast"]["tokens"]` and `DEMO["chargebackstop"]["keys"]` carry the credentials a
`load_demo` command registers in the dashboard.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any

Scenario = dict[str, Any]

DEMO_PARTNER = "prt_northwind"

DEMO: Scenario = {
    "datafast": {
        "websites": [
            {
                "id": "6650a1f2c4e8b90012ab3401",
                "name": "Acme Store",
                "currency": "USD",
                "connected": ["stripe", "paddle"],
                "paddle_key_expires_in_days": 5,
            },
            {
                "id": "6650a1f2c4e8b90012ab3402",
                "name": "Bluebird Books",
                "currency": "GBP",
                "connected": ["stripe", "lemonsqueezy"],
            },
            {
                "id": "6650a1f2c4e8b90012ab3403",
                "name": "Cedar Coffee Roasters",
                "currency": "EUR",
                "connected": ["shopify", "stripe"],
            },
            {
                "id": "6650a1f2c4e8b90012ab3404",
                "name": "Delta Design Studio",
                "currency": "USD",
                "connected": ["polar", "paddle"],
                "paddle_key_expires_in_days": -3,
            },
            {
                "id": "6650a1f2c4e8b90012ab3405",
                "name": "Evergreen Apparel",
                "currency": "EUR",
                "connected": ["woocommerce"],
            },
            {
                "id": "6650a1f2c4e8b90012ab3406",
                "name": "Fjord Outdoor Gear",
                "currency": "EUR",
                "connected": ["stripe", "paddle"],
                "paddle_key_expires_at": None,
            },
            {
                "id": "6650a1f2c4e8b90012ab3407",
                "name": "Golden Hour Candles",
                "currency": "USD",
                "connected": ["shopify"],
            },
            {"id": "6650a1f2c4e8b90012ab3408", "name": "Harbor Hardware", "currency": "USD", "connected": ["stripe"]},
            {
                "id": "6650a1f2c4e8b90012ab3409",
                "name": "Indigo Yoga",
                "currency": "GBP",
                "connected": ["lemonsqueezy", "polar"],
            },
            {
                "id": "6650a1f2c4e8b90012ab340a",
                "name": "Juniper Jewellery",
                "currency": "GBP",
                "connected": ["shopify", "stripe"],
            },
            {"id": "6650a1f2c4e8b90012ab340b", "name": "Kestrel Analytics", "currency": "USD", "connected": []},
            {
                "id": "6650a1f2c4e8b90012ab340c",
                "name": "Lumen Lighting Co",
                "currency": "EUR",
                "connected": ["stripe", "woocommerce"],
            },
            # Exists, but neither demo token may read it: the dashboard shows a 403 for it.
            {"id": "6650a1f2c4e8b90012ab34ff", "name": "Nimbus Labs", "currency": "USD", "connected": ["stripe"]},
        ],
        "tokens": [
            {
                "token": "dft_demo_4f7c2a9e1b3d5f60a8c4e2b1",
                "label": "Acme Holdings (DataFast)",
                "scopes": ["settings:read"],
                "websites": [f"6650a1f2c4e8b90012ab340{n}" for n in "1234567"],
            },
            {
                "token": "dft_demo_9b1e6d3c7a2f4e8d0c5b7a31",
                "label": "Harbor Agency clients (DataFast)",
                "scopes": ["settings:read"],
                "websites": [f"6650a1f2c4e8b90012ab340{n}" for n in "89abc"],
            },
        ],
    },
    "chargebackstop": {
        "organisations": [
            {
                "id": "org_acme_retail",
                "label": "Acme Retail Group",
                "partner_id": DEMO_PARTNER,
                "merchant_ids": ["mrch_acme_us", "mrch_acme_eu", "mrch_acme_uk"],
            },
            {
                "id": "org_bluebird_media",
                "label": "Bluebird Media",
                "partner_id": DEMO_PARTNER,
                "merchant_ids": ["mrch_bluebird_main", "mrch_bluebird_shop"],
            },
            {
                "id": "org_cedar_hospitality",
                "label": "Cedar Hospitality",
                "partner_id": DEMO_PARTNER,
                "merchant_ids": ["mrch_cedar_01", "mrch_cedar_02", "mrch_cedar_03"],
            },
        ],
        "keys": [
            {
                "key": "cbs_demo_partner_admin_7d2f9a41c6e8",
                "label": "Northwind Partners (admin group)",
                "level": "partner",
                "partner_id": DEMO_PARTNER,
                "admin": True,
            },
            {
                "key": "cbs_demo_org_acme_3b8e51c0d2f4",
                "label": "Acme Retail Group",
                "level": "organisation",
                "organisation_id": "org_acme_retail",
            },
            {
                "key": "cbs_demo_partner_support_c4e19f0a7b25",
                "label": "Northwind support group",
                "level": "partner",
                "partner_id": DEMO_PARTNER,
                "admin": False,
                "organisation_ids": ["org_cedar_hospitality"],
            },
        ],
        "integrations": [
            {
                "id": "int_9c1e7a20b4d1",
                "organisation_id": "org_acme_retail",
                "name": "Acme Orders API",
                "type": "CUSTOM_ORDERS",
                "status": "ENABLED",
                "merchant_ids": ["mrch_acme_us", "mrch_acme_eu"],
            },
            {
                "id": "int_2f5b8d13e7a0",
                "organisation_id": "org_acme_retail",
                "name": "Acme Stripe",
                "type": "STRIPE",
                "status": "ENABLED",
                "merchant_ids": ["mrch_acme_us"],
            },
            {
                "id": "int_7a04c9e2b15f",
                "organisation_id": "org_acme_retail",
                "name": "Acme UK Shopify",
                "type": "SHOPIFY",
                "status": "ENABLED",
                "merchant_ids": ["mrch_acme_uk"],
            },
            {
                "id": "int_c3d81f6a09e4",
                "organisation_id": "org_acme_retail",
                "name": "Acme Legacy Orders",
                "type": "CUSTOM_ORDERS",
                "status": "DISABLED",
                "merchant_ids": ["mrch_acme_uk"],
            },
            {
                "id": "int_5e92b07d4c18",
                "organisation_id": "org_bluebird_media",
                "name": "Bluebird Stripe",
                "type": "STRIPE",
                "status": "ENABLED",
                "merchant_ids": ["mrch_bluebird_main"],
            },
            {
                "id": "int_81f4a6c2d93b",
                "organisation_id": "org_bluebird_media",
                "name": "Bluebird PayPal",
                "type": "PAYPAL",
                "status": "ENABLED",
                "merchant_ids": ["mrch_bluebird_shop"],
            },
            {
                "id": "int_d06e3b9a51c7",
                "organisation_id": "org_bluebird_media",
                "name": "Bluebird Orders Feed",
                "type": "CUSTOM_ORDERS",
                "status": "ENABLED",
                "merchant_ids": ["mrch_bluebird_main", "mrch_bluebird_shop"],
            },
            {
                "id": "int_4b7c1e05f82a",
                "organisation_id": "org_cedar_hospitality",
                "name": "Cedar Stripe",
                "type": "STRIPE",
                "status": "ENABLED",
                "merchant_ids": ["mrch_cedar_01"],
            },
            {
                "id": "int_e9a25d70c6b3",
                "organisation_id": "org_cedar_hospitality",
                "name": "Cedar Braintree",
                "type": "BRAINTREE",
                "status": "DISABLED",
                "merchant_ids": ["mrch_cedar_02"],
            },
            {
                "id": "int_1d8f3c6b2a97",
                "organisation_id": "org_cedar_hospitality",
                "name": "Cedar Bookings Orders",
                "type": "CUSTOM_ORDERS",
                "status": "ENABLED",
                "merchant_ids": ["mrch_cedar_01", "mrch_cedar_03"],
            },
        ],
    },
}

# The upstream docs' examples. Credentials are named after the docs' placeholders (`dft_xxx`,
# `<api_key>`, `<org_api_key>`) so a replayed example reads like the docs.
DOCS: Scenario = {
    "datafast": {
        "websites": [
            {
                "id": "65f0a1b2c3d4e5f6a7b8c9d0",
                "name": "Docs example website",
                "currency": "USD",
                "connected": ["stripe"],
            }
        ],
        "tokens": [{"token": "dft_xxx", "label": "Docs example token", "websites": ["65f0a1b2c3d4e5f6a7b8c9d0"]}],
    },
    "chargebackstop": {
        "organisations": [
            {
                "id": "org_xyz456",
                "label": "Docs example organisation",
                "partner_id": "prt_docs",
                "merchant_ids": ["mrch_111", "mrch_222", "mrch_333"],
            },
            # Another organisation of the partner, with no integrations: its merchants are the
            # "do not belong to organisation_id" case.
            {
                "id": "org_other789",
                "label": "Another organisation",
                "partner_id": "prt_docs",
                "merchant_ids": ["mrch_999"],
            },
        ],
        "keys": [
            {
                "key": "docs_partner_api_key",
                "label": "Docs partner key",
                "level": "partner",
                "partner_id": "prt_docs",
                "admin": True,
            },
            {
                "key": "docs_org_api_key",
                "label": "Docs organisation key",
                "level": "organisation",
                "organisation_id": "org_xyz456",
            },
            {
                "key": "docs_no_ability_api_key",
                "label": "Docs key without abilities",
                "level": "organisation",
                "organisation_id": "org_xyz456",
                "abilities": [],
            },
        ],
        "integrations": [
            {
                "id": "int_abc123",
                "organisation_id": "org_xyz456",
                "name": "Orders API Integration",
                "type": "CUSTOM_ORDERS",
                "status": "ENABLED",
                "merchant_ids": ["mrch_111", "mrch_222"],
            },
            {
                "id": "int_def789",
                "organisation_id": "org_xyz456",
                "name": "Stripe Main",
                "type": "STRIPE",
                "status": "ENABLED",
                "merchant_ids": ["mrch_111"],
            },
        ],
    },
}

EMPTY: Scenario = {"datafast": {"websites": [], "tokens": []}, "chargebackstop": {}}

SCENARIOS: dict[str, Scenario] = {"demo": DEMO, "docs": DOCS, "empty": EMPTY}

_TYPES = ("CUSTOM_ORDERS", "CUSTOM_ORDERS", "STRIPE", "STRIPE", "SHOPIFY", "PAYPAL", "ADYEN", "BRAINTREE")
_CURRENCIES = ("USD", "USD", "EUR", "GBP")


def resolve(scenario: str | Mapping[str, Any]) -> Scenario:
    """A private copy of a named scenario or of the given dict (so loading never shares lists)."""
    if isinstance(scenario, str):
        try:
            return copy.deepcopy(SCENARIOS[scenario])
        except KeyError:
            raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}") from None
    return copy.deepcopy(dict(scenario))


def generated_scenario(
    *, websites: int, tokens: int, organisations: int, integrations: int, partner_keys: int, seed: int = 0
) -> Scenario:
    """Big deterministic data for a benchmark: websites spread round-robin over `tokens`,
    organisations over `partner_keys` partners (one admin key each), integrations over organisations.
    """
    counts = {"websites": websites, "tokens": tokens, "organisations": organisations}
    counts |= {"integrations": integrations, "partner_keys": partner_keys}
    if any(not isinstance(n, int) or n < 0 for n in counts.values()):
        raise ValueError(f"counts must be whole numbers >= 0: {counts}")
    if integrations and not organisations:
        raise ValueError("integrations need at least one organisation")
    rng = random.Random(seed)  # noqa: S311 (reproducible sample data, not secrets)
    tag = f"{seed & 0xFFFFFFFF:08x}"
    site_ids = [f"{tag}{n:016x}" for n in range(websites)]
    site_list = [
        {
            "id": site_id,
            "name": f"Generated site {n + 1}",
            "currency": rng.choice(_CURRENCIES),
            "connected": [p for p in ("stripe", "lemonsqueezy", "polar", "paddle", "shopify") if rng.random() < 0.3],
        }
        for n, site_id in enumerate(site_ids)
    ]
    token_list = [
        {"token": f"dft_gen_{tag}_{t:05d}", "label": f"Generated token {t + 1}", "websites": site_ids[t::tokens]}
        for t in range(tokens)
    ]
    partners = [f"prt_gen_{tag}_{p:03d}" for p in range(max(partner_keys, 1))]
    org_list = [
        {
            "id": f"org_gen_{tag}_{o:05d}",
            "label": f"Generated organisation {o + 1}",
            "partner_id": partners[o % len(partners)],
            "merchant_ids": [f"mrch_gen_{tag}_{o:05d}_{m}" for m in range(3)],
        }
        for o in range(organisations)
    ]
    key_list = [
        {"key": f"cbs_gen_{tag}_partner_{p:03d}", "label": f"Generated partner {p + 1}", "level": "partner"}
        | {"partner_id": partners[p], "admin": True}
        for p in range(partner_keys)
    ]
    integration_list = []
    for i in range(integrations):
        organisation = org_list[i % organisations]
        integration_list.append(
            {
                "id": f"int_{tag}{i:08x}",
                "organisation_id": organisation["id"],
                "name": f"Generated integration {i + 1}",
                "type": rng.choice(_TYPES),
                "status": "DISABLED" if rng.random() < 0.1 else "ENABLED",
                "merchant_ids": organisation["merchant_ids"][: rng.randint(1, 3)],
            }
        )
    return {
        "datafast": {"websites": site_list, "tokens": token_list},
        "chargebackstop": {"organisations": org_list, "keys": key_list, "integrations": integration_list},
    }
