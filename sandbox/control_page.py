"""The control page at `/_sandbox/`: plain HTML, no JavaScript, one form per button.

A person running the demo switches a provider off here and watches the dashboard raise its alert.
Every value is escaped; every button names what it does and to what, for screen readers too.
"""

from __future__ import annotations

from html import escape
from typing import Any

from integrations_app.sandbox.scenarios import SCENARIOS
from integrations_app.sandbox.state import SandboxState
from integrations_app.sandbox.world import PROVIDERS

PROVIDER_LABELS = {
    "stripe": "Stripe",
    "lemonsqueezy": "Lemon Squeezy",
    "polar": "Polar",
    "paddle": "Paddle",
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
}
MAX_ROWS = 200  # a generated benchmark scenario has thousands; the page shows the first ones

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; }
table { border-collapse: collapse; margin-bottom: 2rem; }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top; }
form { display: inline; margin: 0; }
button { font: inherit; padding: .1rem .5rem; cursor: pointer; }
.on { color: #05612b; font-weight: 600; } .off { color: #8a1c1c; }
code { font-size: .85em; }
"""


def render(state: SandboxState) -> str:
    websites, integrations = state.websites(), state.integrations()
    labels = {org["id"]: org["label"] or org["id"] for org in state.organisations()}
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox control</title><style>{_STYLE}</style></head>
<body><main>
<h1>Sandbox control</h1>
{_summary(state)}
<h2>DataFast websites</h2>
{_websites_table(websites)}
<h2>ChargebackStop integrations</h2>
{_integrations_table(integrations, labels)}
</main></body></html>
"""


def _summary(state: SandboxState) -> str:
    faults = len(state.faults.describe())
    options = "".join(
        f'<option value="{escape(name)}"{" selected" if name == state.scenario_name else ""}>{escape(name)}</option>'
        for name in SCENARIOS
    )
    stats = ", ".join(
        f"{escape(api)}: {counter['requests']} requests, peak {counter['peak_in_flight']} at once"
        for api, counter in state.stats().items()
    )
    return f"""<p>Scenario <strong>{escape(state.scenario_name)}</strong>; latency {state.latency:g} s;
{faults} fault rule(s) in force; {stats}.</p>
<form method="post" action="/_sandbox/reset"><label for="scenario">Reload scenario</label>
<select id="scenario" name="scenario">{options}</select> <button type="submit">Reload</button></form>
<form method="post" action="/_sandbox/faults/clear"><button type="submit">Clear all faults</button></form>"""


def _websites_table(websites: list[dict[str, Any]]) -> str:
    head = "".join(f'<th scope="col">{label}</th>' for label in PROVIDER_LABELS.values())
    rows = []
    for site in websites[:MAX_ROWS]:
        cells = "".join(_provider_cell(site, provider) for provider in PROVIDERS)
        expiry = escape(site["paddle_key_expires_at"] or "none")
        rows.append(
            f'<tr><th scope="row">{escape(site["name"])}<br><code>{escape(site["id"])}</code></th>'
            f"{cells}<td>{escape(site['currency'])}</td><td>{expiry}</td></tr>"
        )
    return f"""<table><caption>{_count(websites)} Each provider shows its state and a button to change it.</caption>
<thead><tr><th scope="col">Website</th>{head}<th scope="col">Currency</th>
<th scope="col">Paddle key expires</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""


def _provider_cell(site: dict[str, Any], provider: str) -> str:
    connected = site["connected"][provider]
    label = PROVIDER_LABELS[provider]
    action = "Disconnect" if connected else "Connect"
    state = '<span class="on">On</span>' if connected else '<span class="off">Off</span>'
    return (
        f'<td>{state} <form method="post" action="/_sandbox/datafast/websites/{escape(site["id"])}">'
        f'<input type="hidden" name="provider" value="{provider}">'
        f'<input type="hidden" name="connected" value="{"false" if connected else "true"}">'
        f'<button type="submit" aria-label="{action} {label} for {escape(site["name"])}">{action}</button>'
        "</form></td>"
    )


def _integrations_table(integrations: list[dict[str, Any]], labels: dict[str, str]) -> str:
    rows = []
    for item in integrations[:MAX_ROWS]:
        enabled = item["status"] == "ENABLED"
        action, target = ("Disable", "DISABLED") if enabled else ("Enable", "ENABLED")
        status = '<span class="on">ENABLED</span>' if enabled else '<span class="off">DISABLED</span>'
        rows.append(
            f'<tr><th scope="row">{escape(item["name"])}<br><code>{escape(item["id"])}</code></th>'
            f"<td>{escape(labels.get(item['organisation_id'], item['organisation_id']))}</td>"
            f"<td>{escape(item['type'])}</td><td>{status}</td>"
            f"<td>{escape(', '.join(item['merchant_ids']))}</td>"
            f'<td><form method="post" action="/_sandbox/chargebackstop/integrations/{escape(item["id"])}">'
            f'<input type="hidden" name="status" value="{target}">'
            f'<button type="submit" aria-label="{action} {escape(item["name"])}">{action}</button></form></td></tr>'
        )
    return f"""<table><caption>{_count(integrations)} Enabling or disabling here acts as ChargebackStop's own
dashboard would (the API itself cannot re-enable).</caption>
<thead><tr><th scope="col">Integration</th><th scope="col">Organisation</th><th scope="col">Type</th>
<th scope="col">Status</th><th scope="col">Merchants</th><th scope="col">Change</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>"""


def _count(rows: list[Any]) -> str:
    shown = min(len(rows), MAX_ROWS)
    return f"Showing {shown} of {len(rows)}." if shown < len(rows) else f"{len(rows)} in all."
