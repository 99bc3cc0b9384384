"""Named scenarios (the JSON files in this folder) and the generated benchmark scenario.

A scenario's shape is `world.SECTIONS`: each entry's fields are those of its dataclass in
`world.py` (every list optional). In `demo.json`, Nimbus Labs exists but neither token may read
it (the dashboard shows what a 403 looks like); its tokens and keys are the credentials `load_demo`
registers and the control page lists. `docs.json` holds the upstream docs' examples, its
credentials named after the docs' placeholders (`dft_xxx`, `<api_key>`), so a replayed example
reads like the docs; its second organisation's merchants are the "do not belong" case.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

Scenario = dict[str, Any]

SCENARIOS: dict[str, Scenario] = {
    path.stem: json.loads(path.read_text()) for path in sorted(Path(__file__).parent.glob("*.json"))
}
DEMO = SCENARIOS["demo"]

_TYPES = ("CUSTOM_ORDERS", "CUSTOM_ORDERS", "STRIPE", "STRIPE", "SHOPIFY", "PAYPAL", "ADYEN", "BRAINTREE")
_CURRENCIES = ("USD", "USD", "EUR", "GBP")


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
