"""Control endpoints under `/_sandbox/`, for other processes (the demo, a benchmark) and people.

JSON in, JSON out; the same POST endpoints also take HTML form posts from the control page, and
then redirect back to it (POST, redirect, GET). No auth: the sandbox binds to 127.0.0.1 by default.

    GET    /_sandbox/                  the control page
    GET    /_sandbox/stats             requests, in flight, peak in flight per API
    POST   /_sandbox/stats/reset
    GET    /_sandbox/state             scenario, latency, page size, faults, websites, integrations
    POST   /_sandbox/reset             {"scenario": "demo"} or {"generated": {generated_scenario args}}
    POST   /_sandbox/latency           {"seconds": 0.1}
    POST   /_sandbox/max-page-size     {"size": 7}
    GET    /_sandbox/faults            the rules in force
    POST   /_sandbox/faults            {"path", "kind", "times", "method", ...kind parameters}
    DELETE /_sandbox/faults            (or POST /_sandbox/faults/clear)
    POST   /_sandbox/datafast/websites/<id>            {"provider", "connected"} | {"currency"}
                                                       | {"paddle_key_expires_at": ISO | null} | {"deleted": true}
    POST   /_sandbox/datafast/tokens/revoke            {"token"}
    POST   /_sandbox/chargebackstop/integrations/<id>  {"status"} | {"name"} | {"deleted": true}
    POST   /_sandbox/chargebackstop/keys/revoke        {"key"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from integrations_app.sandbox import control_page
from integrations_app.sandbox.scenarios import generated_scenario
from integrations_app.sandbox.state import SandboxState

PREFIX = "/_sandbox/"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
Handler = Callable[..., Any]  # (state, input, **path arguments) -> JSON-able result


def _stats(state: SandboxState, _: dict[str, Any]) -> Any:
    return state.stats()


def _reset_stats(state: SandboxState, _: dict[str, Any]) -> Any:
    state.reset_stats()
    return state.stats()


def _snapshot(state: SandboxState, _: dict[str, Any]) -> Any:
    return {
        "scenario": state.scenario_name,
        "latency": state.latency,
        "max_page_size": state.max_page_size,
        "faults": state.faults.describe(),
        "websites": state.websites(),
        "organisations": state.organisations(),
        "integrations": state.integrations(),
    }


def _reset(state: SandboxState, data: dict[str, Any]) -> Any:
    if "generated" in data:
        state.reset(generated_scenario(**data["generated"]))
    else:
        state.reset(data.get("scenario", "demo"))
    return {"scenario": state.scenario_name}


def _latency(state: SandboxState, data: dict[str, Any]) -> Any:
    state.latency = float(_need(data, "seconds"))
    return {"latency": state.latency}


def _max_page_size(state: SandboxState, data: dict[str, Any]) -> Any:
    state.max_page_size = int(_need(data, "size"))
    return {"max_page_size": state.max_page_size}


def _faults(state: SandboxState, _: dict[str, Any]) -> Any:
    return state.faults.describe()


def _add_fault(state: SandboxState, data: dict[str, Any]) -> Any:
    path, kind = _need(data, "path"), _need(data, "kind")
    params = {name: value for name, value in data.items() if name not in ("path", "kind")}
    state.faults.add(path, kind, **params)
    return state.faults.describe()


def _clear_faults(state: SandboxState, _: dict[str, Any]) -> Any:
    state.faults.clear()
    return state.faults.describe()


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


def _revoke_token(state: SandboxState, data: dict[str, Any]) -> Any:
    state.revoke_token(_need(data, "token"))
    return {"revoked": True}


def _revoke_key(state: SandboxState, data: dict[str, Any]) -> Any:
    state.revoke_key(_need(data, "key"))
    return {"revoked": True}


_ROUTES = Map(
    [
        Rule("/_sandbox/stats", endpoint=_stats, methods=["GET"]),
        Rule("/_sandbox/stats/reset", endpoint=_reset_stats, methods=["POST"]),
        Rule("/_sandbox/state", endpoint=_snapshot, methods=["GET"]),
        Rule("/_sandbox/reset", endpoint=_reset, methods=["POST"]),
        Rule("/_sandbox/latency", endpoint=_latency, methods=["POST"]),
        Rule("/_sandbox/max-page-size", endpoint=_max_page_size, methods=["POST"]),
        Rule("/_sandbox/faults", endpoint=_faults, methods=["GET"]),
        Rule("/_sandbox/faults", endpoint=_add_fault, methods=["POST"]),
        Rule("/_sandbox/faults", endpoint=_clear_faults, methods=["DELETE"]),
        Rule("/_sandbox/faults/clear", endpoint=_clear_faults, methods=["POST"]),
        Rule("/_sandbox/datafast/websites/<website_id>", endpoint=_website, methods=["POST"]),
        Rule("/_sandbox/datafast/tokens/revoke", endpoint=_revoke_token, methods=["POST"]),
        Rule("/_sandbox/chargebackstop/integrations/<integration_id>", endpoint=_integration, methods=["POST"]),
        Rule("/_sandbox/chargebackstop/keys/revoke", endpoint=_revoke_key, methods=["POST"]),
    ],
    merge_slashes=False,
)


def dispatch(state: SandboxState, request: Request) -> Response:
    if request.path in ("/_sandbox", PREFIX):
        return _page(state, request)
    try:
        handler, args = _match(request)
        result = handler(state, _input(request), **args)
    except _Failure as failure:
        return _json({"error": failure.message}, failure.status)
    except KeyError as missing:  # an unknown website, integration, token or key
        return _json({"error": str(missing.args[0]) if missing.args else "not found"}, 404)
    except (ValueError, TypeError) as invalid:
        return _json({"error": str(invalid)}, 400)
    if request.mimetype in FORM_TYPES:
        return redirect(PREFIX, 303)  # a form post from the control page: back to it
    return _json(result)


class _Failure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _match(request: Request) -> tuple[Handler, dict[str, str]]:
    try:
        return _ROUTES.bind("sandbox").match(request.path.removesuffix("/"), method=request.method)
    except NotFound:
        raise _Failure(404, "no such control endpoint") from None
    except MethodNotAllowed:
        raise _Failure(405, "method not allowed") from None


def _page(state: SandboxState, request: Request) -> Response:
    if request.method not in ("GET", "HEAD"):
        return _json({"error": "method not allowed"}, 405)
    return Response(control_page.render(state), content_type="text/html; charset=utf-8")


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
