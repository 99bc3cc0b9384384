"""The sandbox's chat inbox: real sends through Apprise (json://, mmost://) land on its page."""

from __future__ import annotations

import requests

from integrations_app.alerts import apprise_send
from integrations_app.upstream.secret import Secret

TOKEN = "mmosttoken-5d1c0a9f3e7b"


def test_json_and_mattermost_posts_land_in_the_inbox_and_its_page(sandbox):
    host = sandbox.url.removeprefix("http://").rstrip("/")
    apprise_send.send(Secret(f"json://{host}/_sandbox/inbox/client-a"), "Paystatus: Stripe down", "✖ Stripe <b>x</b>")
    apprise_send.send(Secret(f"mmost://{host}/_sandbox/inbox/ops/{TOKEN}"), "Paystatus: 2 changes", "line 1\nline 2")
    messages = requests.get(f"{sandbox.url}/_sandbox/inbox/messages", timeout=5).json()
    assert [(m["chat"], m["kind"]) for m in messages] == [("ops", "mattermost"), ("client-a", "json")]
    assert messages[1]["title"] == "Paystatus: Stripe down"
    assert "line 2" in messages[0]["text"]
    page = requests.get(f"{sandbox.url}/_sandbox/inbox", timeout=5).text
    assert "#client-a" in page and "&lt;b&gt;x&lt;/b&gt;" in page, "escaped"
    assert TOKEN not in page and TOKEN not in str(messages)
    requests.post(f"{sandbox.url}/_sandbox/inbox/clear", timeout=5)
    assert requests.get(f"{sandbox.url}/_sandbox/inbox/messages", timeout=5).json() == []
