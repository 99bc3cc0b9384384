"""Everything under `/_sandbox/`: one set of endpoints for other processes (the demo, a benchmark,
`curl`) and for people, and the control page whose buttons post to those same endpoints.

JSON in, JSON out; a form post from the page gets a redirect back to it instead (POST, redirect,
GET). No auth: the sandbox binds to 127.0.0.1 by default.

    GET    /_sandbox/                  the control page (with the demo credentials to practise with)
    GET    /_sandbox/stats             requests, in flight, peak in flight per API
    POST   /_sandbox/stats/reset
    GET    /_sandbox/state             scenario, latency, page size, rate limit, faults, websites, integrations
    POST   /_sandbox/reset             {"scenario": "demo"} or {"generated": {generated_scenario args}}
    POST   /_sandbox/latency           {"seconds": 0.1}
    POST   /_sandbox/max-page-size     {"size": 7}
    POST   /_sandbox/rate-limit        {"per_minute": 100} (ChargebackStop organisations and merchants)
    GET    /_sandbox/faults            the rules in force
    POST   /_sandbox/faults            {"path", "kind", "times", "method", ...kind parameters}
    DELETE /_sandbox/faults            (or POST /_sandbox/faults/clear)
    POST   /_sandbox/datafast/websites/<id>            {"provider", "connected"} | {"currency"}
                                                       | {"paddle_key_expires_at": ISO | null} | {"deleted": true}
    POST   /_sandbox/datafast/tokens/revoke            {"token"}
    POST   /_sandbox/chargebackstop/integrations/<id>  {"status"} | {"name"} | {"deleted": true}
    POST   /_sandbox/chargebackstop/keys/revoke        {"key"}
    POST   /_sandbox/inbox/<name>      a chat message from a channel (json://, form://; mmost:// at
                                       /_sandbox/inbox/<name>/hooks/<token>): see sandbox/inbox.py
    GET    /_sandbox/inbox             the chat messages received (GET /_sandbox/inbox/messages: JSON)
    POST   /_sandbox/inbox/clear
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from sandbox.scenarios import SCENARIOS, generated_scenario
from sandbox.state import SandboxState
from sandbox.world import ENABLED, PROVIDERS

PREFIX = "/_sandbox/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ROUTES = Map(merge_slashes=False)
Handler = Callable[..., Any]  # (state, input, **path arguments) -> JSON-able result


def _route(path: str, *methods: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.add(Rule(f"/_sandbox/{path}".removesuffix("/"), endpoint=handler, methods=methods or ["POST"]))
        return handler

    return register


def dispatch(state: SandboxState, request: Request) -> Response:
    try:
        handler, args = ROUTES.bind("sandbox").match(request.path.removesuffix("/"), method=request.method)
        result = handler(state, _input(request), **args)
    except (NotFound, MethodNotAllowed) as refused:
        return _json(
            {"error": "no such control endpoint" if refused.code == 404 else "method not allowed"}, refused.code
        )
    except KeyError as missing:  # an unknown website, integration, token or key
        return _json({"error": str(missing.args[0]) if missing.args else "not found"}, 404)
    except (ValueError, TypeError) as invalid:
        return _json({"error": str(invalid)}, 400)
    if isinstance(result, Response):
        return result
    if request.mimetype in FORM_TYPES:
        return redirect(PREFIX, 303)  # a form post from the control page: back to it
    return _json(result)


# --- the endpoints ---------------------------------------------------------------------------


@_route("stats", "GET")
def _stats(state: SandboxState, _: dict[str, Any]) -> Any:
    return state.stats()


@_route("stats/reset")
def _reset_stats(state: SandboxState, _: dict[str, Any]) -> Any:
    state.reset_stats()
    return state.stats()


@_route("state", "GET")
def _snapshot(state: SandboxState, _: dict[str, Any]) -> Any:
    return {
        "scenario": state.scenario_name,
        "latency": state.latency,
        "max_page_size": state.max_page_size,
        "rate_limit": state.rate_limit,
        "faults": state.faults.describe(),
        "websites": state.websites(),
        "organisations": state.organisations(),
        "integrations": state.integrations(),
    }


@_route("reset")
def _reset(state: SandboxState, data: dict[str, Any]) -> Any:
    state.reset(generated_scenario(**data["generated"]) if "generated" in data else data.get("scenario", "demo"))
    return {"scenario": state.scenario_name}


@_route("latency")
def _latency(state: SandboxState, data: dict[str, Any]) -> Any:
    state.latency = float(_need(data, "seconds"))
    return {"latency": state.latency}


@_route("max-page-size")
def _max_page_size(state: SandboxState, data: dict[str, Any]) -> Any:
    state.max_page_size = int(_need(data, "size"))
    return {"max_page_size": state.max_page_size}


@_route("rate-limit")
def _rate_limit(state: SandboxState, data: dict[str, Any]) -> Any:
    per_minute = int(_need(data, "per_minute"))
    if per_minute < 1:
        raise ValueError("per_minute must be >= 1")
    state.rate_limit = per_minute
    return {"rate_limit": state.rate_limit}


@_route("faults", "GET")
def _faults(state: SandboxState, _: dict[str, Any]) -> Any:
    return state.faults.describe()


@_route("faults")
def _add_fault(state: SandboxState, data: dict[str, Any]) -> Any:
    params = {name: value for name, value in data.items() if name not in ("path", "kind")}
    state.faults.add(_need(data, "path"), _need(data, "kind"), **params)
    return state.faults.describe()


@_route("faults", "DELETE")
@_route("faults/clear")
def _clear_faults(state: SandboxState, _: dict[str, Any]) -> Any:
    state.faults.clear()
    return state.faults.describe()


@_route("datafast/websites/<website_id>")
def _website(state: SandboxState, data: dict[str, Any], website_id: str) -> Any:
    state.website(website_id)  # an unknown website is a 404, even with nothing to change
    if _flag(data.get("deleted", False)):
        state.remove_website(website_id)
        return {"deleted": website_id}
    if "provider" in data:
        state.set_connected(website_id, data["provider"], _flag(_need(data, "connected")))
    if "currency" in data:
        state.set_currency(website_id, data["currency"])
    if "paddle_key_expires_at" in data:
        when = data["paddle_key_expires_at"]
        state.set_paddle_expiry(website_id, datetime.fromisoformat(when) if when else None)
    return state.website(website_id)


@_route("chargebackstop/integrations/<integration_id>")
def _integration(state: SandboxState, data: dict[str, Any], integration_id: str) -> Any:
    state.integration(integration_id)
    if _flag(data.get("deleted", False)):
        state.delete_integration(integration_id)
        return {"deleted": integration_id}
    if "status" in data:
        state.set_integration_status(integration_id, data["status"])
    if "name" in data:
        state.rename_integration(integration_id, data["name"])
    return state.integration(integration_id)


@_route("datafast/tokens/revoke")
def _revoke_token(state: SandboxState, data: dict[str, Any]) -> Any:
    state.revoke_token(_need(data, "token"))  # in the body, never the URL, where logs would keep it
    return {"revoked": True}


@_route("chargebackstop/keys/revoke")
def _revoke_key(state: SandboxState, data: dict[str, Any]) -> Any:
    state.revoke_key(_need(data, "key"))
    return {"revoked": True}


@_route("inbox/<chat>")
def _inbox_post(state: SandboxState, data: dict[str, Any], chat: str) -> Response:
    state.inbox.receive(chat, data)
    return _json({"received": True})  # a Response: a form:// post is answered, not redirected


@_route("inbox/<chat>/hooks/<token>")
def _inbox_mattermost(state: SandboxState, data: dict[str, Any], chat: str, token: str) -> Response:
    state.inbox.receive(chat, data, mattermost=True)  # the token is the channel's secret: not kept
    return Response("ok", content_type="text/plain")


@_route("inbox/messages", "GET")
def _inbox_messages(state: SandboxState, _: dict[str, Any]) -> Any:
    return state.inbox.as_json()


@_route("inbox/clear")
def _inbox_clear(state: SandboxState, _: dict[str, Any]) -> Response:
    state.inbox.clear()
    return redirect(f"{PREFIX}inbox", 303)


@_route("inbox", "GET")
def _inbox_page(state: SandboxState, _: dict[str, Any]) -> Response:
    items = []
    for message in state.inbox.messages():
        when = time.strftime("%H:%M:%S", time.localtime(message.at))
        title = f"<strong>{escape(message.title)}</strong><br>" if message.title else ""
        lines = "<br>".join(escape(line) for line in message.text.splitlines())
        items.append(
            f'<li><p class="meta"><span class="chat">#{escape(message.chat)}</span> {when} '
            f"<small>({escape(message.kind)})</small></p><p>{title}{lines}</p></li>"
        )
    listed = f'<ol class="inbox">{"".join(items)}</ol>' if items else "<p>No message yet.</p>"
    return Response(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>Sandbox chat inbox</title><style>{STYLE}
.inbox {{ list-style: none; padding: 0; max-width: 60rem; }} .inbox li {{ border-bottom: 1px solid #ccc; }}
.meta {{ margin: .5rem 0 0; color: #444; }} .chat {{ font-weight: 600; color: #1d4ed8; }}</style></head>
<body><main><h1>Sandbox chat inbox</h1>
<p>What the dashboard's channels posted here, newest first ({len(items)} kept; this page refreshes itself).
Point a channel at <code>json://HOST:PORT/_sandbox/inbox/NAME</code> (or
<code>mmost://HOST:PORT/_sandbox/inbox/NAME/TOKEN</code>). <a href="{PREFIX}">Sandbox control</a></p>
<form method="post" action="{PREFIX}inbox/clear"><button type="submit">Clear the inbox</button></form>
{listed}
</main></body></html>
""",
        content_type="text/html; charset=utf-8",
    )


def _input(request: Request) -> dict[str, Any]:
    if request.mimetype in FORM_TYPES:
        return request.form.to_dict()
    if not request.get_data(cache=True):
        return {}  # a bare POST (`curl -X POST .../stats/reset`)
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise TypeError("the body must be a JSON object")
    return data


def _need(data: dict[str, Any], name: str) -> Any:
    """A required input field (a missing one is a 400, unlike an unknown id, which is a 404)."""
    if name not in data:
        raise ValueError(f"missing field {name!r}")
    return data[name]


def _flag(value: Any) -> bool:
    """A boolean from JSON, or from a form's text ("true", "false", "on", "1", "0")."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "on", "1", "false", "off", "0", ""):
        return value.lower() in ("true", "on", "1")
    raise ValueError(f"{value!r} is not a boolean")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


# --- the page: plain HTML, no JavaScript, one form per button. Every value is escaped; every
# button names what it does and to what, for screen readers too. ------------------------------

LABELS = dict(zip(PROVIDERS, ("Stripe", "Lemon Squeezy", "Polar", "Paddle", "Shopify", "WooCommerce"), strict=True))
MAX_ROWS = 200
STYLE = """body { font: 16px/1.5 system-ui, sans-serif; margin: 1.5rem; color: #1a1a1a; }
table { border-collapse: collapse; margin-bottom: 2rem; } caption { text-align: left; font-weight: 600; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top; }
form { display: inline; margin: 0; } button { font: inherit; padding: .1rem .5rem; cursor: pointer; }
.on { color: #05612b; font-weight: 600; } .off { color: #8a1c1c; } code { font-size: .85em; }"""


@_route("", "GET")
def _page(state: SandboxState, _: dict[str, Any]) -> Response:
    return Response(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox control</title><style>{STYLE}</style></head>
<body><main><h1>Sandbox control</h1>
<p><a href="{PREFIX}inbox">Chat inbox</a>: the messages the dashboard's channels sent here.</p>
{_summary(state)}
<h2>Credentials to practise with</h2>
<p>The simulated APIs accept these. Add one on the dashboard's Credentials pages to watch its websites or
organisations; a revoked one (or any other value) is refused, as the real API would.</p>
{_credentials(state)}
<h2>DataFast websites</h2>
{_websites(state.websites())}
<h2>ChargebackStop integrations</h2>
{_integrations(state)}
</main></body></html>
""",
        content_type="text/html; charset=utf-8",
    )


def _summary(state: SandboxState) -> str:
    chosen = {name: " selected" if name == state.scenario_name else "" for name in SCENARIOS}
    options = "".join(f'<option value="{escape(name)}"{chosen[name]}>{escape(name)}</option>' for name in SCENARIOS)
    stats = ", ".join(
        f"{api}: {counter['requests']} requests, peak {counter['peak_in_flight']} at once"
        for api, counter in state.stats().items()
    )
    return f"""<p>Scenario <strong>{escape(state.scenario_name)}</strong>; latency {state.latency:g} s;
{len(state.faults.describe())} fault rule(s) in force; {stats}.</p>
<form method="post" action="{PREFIX}reset"><label for="scenario">Reload scenario</label>
<select id="scenario" name="scenario">{options}</select> <button type="submit">Reload</button></form>
<form method="post" action="{PREFIX}faults/clear"><button type="submit">Clear all faults</button></form>"""


def _credentials(state: SandboxState) -> str:
    tokens, keys = state.credentials()
    names = {site["id"]: site["name"] for site in state.websites()}
    labels = {org["id"]: org["label"] or org["id"] for org in state.organisations()}
    rows = [
        (token.token, "DataFast account token", token.label, ", ".join(names[w] for w in sorted(token.reachable())))
        for token in tokens
    ]
    for key in keys:
        if key.level == "organisation":
            kind, sees = "ChargebackStop organisation key", labels.get(key.organisation_id or "", "")
        else:
            sees = ", ".join(labels[o] for o in sorted(key.organisation_ids))
            sees = f"every organisation of partner {key.partner_id}" if key.admin else sees
            kind = f"ChargebackStop partner key ({'admin' if key.admin else 'group'})"
        rows.append((key.key, kind, key.label, sees))
    cells = [f"<td><code>{escape(secret)}</code></td>" + "".join(_td(text) for text in rest) for secret, *rest in rows]
    return _table("The valid tokens and keys.", rows, cells, ("Token or key", "Kind", "Label", "Sees"))


def _websites(websites: list[dict[str, Any]]) -> str:
    rows = []
    for site in websites[:MAX_ROWS]:
        name, cells = escape(site["name"]), ""
        for provider, label in LABELS.items():
            on = site["connected"][provider]
            action = "Disconnect" if on else "Connect"
            cells += _td(
                f'<span class="{"on" if on else "off"}">{"On" if on else "Off"}</span> '
                + _button(
                    f"datafast/websites/{site['id']}",
                    f"{action} {label} for {name}",
                    action,
                    provider=provider,
                    connected="false" if on else "true",
                ),
                escaped=True,
            )
        rows.append(
            f'<th scope="row">{name}<br><code>{escape(site["id"])}</code></th>{cells}'
            + _td(site["currency"])
            + _td(site["paddle_key_expires_at"] or "none")
        )
    caption = "Each provider shows its state and a button to change it."
    return _table(caption, websites, rows, ("Website", *LABELS.values(), "Currency", "Paddle key expires"))


def _integrations(state: SandboxState) -> str:
    integrations = state.integrations()
    labels = {org["id"]: org["label"] or org["id"] for org in state.organisations()}
    rows = []
    for item in integrations[:MAX_ROWS]:
        name, on = escape(item["name"]), item["status"] == ENABLED
        action, target = ("Disable", "DISABLED") if on else ("Enable", "ENABLED")
        rows.append(
            f'<th scope="row">{name}<br><code>{escape(item["id"])}</code></th>'
            + _td(labels.get(item["organisation_id"], item["organisation_id"]))
            + _td(item["type"])
            + _td(f'<span class="{"on" if on else "off"}">{item["status"]}</span>', escaped=True)
            + _td(", ".join(item["merchant_ids"]))
            + _td(
                _button(f"chargebackstop/integrations/{item['id']}", f"{action} {name}", action, status=target),
                escaped=True,
            )
        )
    caption = (
        "Enabling or disabling here acts as ChargebackStop's own dashboard would (the API itself cannot re-enable)."
    )
    return _table(caption, integrations, rows, ("Integration", "Organisation", "Type", "Status", "Merchants", "Change"))


def _td(text: str, *, escaped: bool = False) -> str:
    return f"<td>{text if escaped else escape(text)}</td>"


def _button(path: str, label: str, action: str, **hidden: str) -> str:
    """A form posting `hidden` to a control endpoint; `label` (already escaped) names what it does and to what."""
    fields = "".join(f'<input type="hidden" name="{name}" value="{escape(value)}">' for name, value in hidden.items())
    return (
        f'<form method="post" action="{PREFIX}{escape(path)}">{fields}'
        f'<button type="submit" aria-label="{label}">{action}</button></form>'
    )


def _table(caption: str, items: list[Any], rows: list[str], headings: tuple[str, ...]) -> str:
    shown = min(len(items), MAX_ROWS)  # a generated benchmark scenario has thousands: the first ones
    count = f"Showing {shown} of {len(items)}." if shown < len(items) else f"{len(items)} in all."
    head = "".join(f'<th scope="col">{escape(heading)}</th>' for heading in headings)
    body = "".join(f"<tr>{row}</tr>" for row in rows[:MAX_ROWS])
    return f"<table><caption>{count} {caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
