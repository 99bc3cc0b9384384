"""The one place that sends through Apprise, with one wall-clock deadline per send.

Apprise's own socket timeouts (`cto`, `rto`) are capped for every URL, and the send runs in a
worker thread that is waited for at most `CHANNEL_SEND_DEADLINE` seconds: a service that trickles
its answer cannot hold the sender longer (the thread, left alone, ends at its next read timeout).
Apprise's log lines are kept from the dashboard's logs: a send's warnings are captured (from its
own thread only) to word its error, with every part of the URL that could be a token masked.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations_app.text import one_line
from integrations_app.upstream.secret import Secret, mask

CONNECT_TIMEOUT = 4.0
READ_TIMEOUT = 8.0
APPRISE_LOGGER = "apprise"

_asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)


class SendError(Exception):
    """A send failed; its message is plain words without any part of the URL's secrets."""


@dataclass(frozen=True)
class Sent:
    service: str


def deadline() -> float:
    return float(settings.CHANNEL_SEND_DEADLINE)


@sensitive_variables("url")
def service_of(url: str) -> str:
    """The scheme (`slack`, `json`…), the one part of a URL shown in clear."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}", scheme) else ""


@sensitive_variables("url")
def recognised(url: str) -> bool:
    """Whether Apprise knows the service and the URL is complete enough to send."""
    return _plugin(url) is not None


@sensitive_variables("url")
def _plugin(url: str) -> apprise.plugins.NotifyBase | None:
    plugin = apprise.Apprise.instantiate(url, asset=_asset, suppress_exceptions=True)
    return plugin if isinstance(plugin, apprise.plugins.NotifyBase) else None


@sensitive_variables("url", "pieces")
def secret_pieces(url: str) -> list[str]:
    """Every part of the URL that may be a credential (user, password, host, path segments and
    query values), longest first, for masking in error words."""
    parts = urlsplit(url)
    pieces = {url, parts.netloc, parts.password or "", parts.username or ""}
    pieces |= {unquote(segment) for segment in parts.path.split("/")} | set(parts.path.split("/"))
    pieces |= {value for _, value in parse_qsl(parts.query)}
    return sorted((piece for piece in pieces if len(piece) >= 4), key=len, reverse=True)


@sensitive_variables("url", "pieces")
def scrub(text: str, url: str) -> str:
    """`text` as one clean line with every secret-looking piece of `url` masked."""
    for piece in secret_pieces(url):
        text = text.replace(piece, mask(""))
    return one_line(text, 300)


def _not_from_a_send(record: logging.LogRecord) -> bool:
    """urllib3 logs each request's path at DEBUG: a webhook's path is its token."""
    return not record.threadName or not record.threadName.startswith(SEND_THREAD)


SEND_THREAD = "channel-send-"
# Apprise names a URL it cannot parse in full: its lines reach no handler but a send's capture.
logging.getLogger(APPRISE_LOGGER).propagate = False
for _name in ("urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_not_from_a_send)


class _Capture(logging.Handler):
    """Apprise's warnings and errors from one thread."""

    def __init__(self, thread_name: str) -> None:
        super().__init__(logging.WARNING)
        self.thread_name = thread_name
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == self.thread_name:
            self.lines.append(record.getMessage())


@sensitive_variables("url", "plugin")
def send(url: Secret, title: str, body: str) -> Sent:
    """Send one message; raises SendError in plain words (never the URL) when it did not go."""
    revealed = url.reveal()
    service = service_of(revealed)
    plugin = _plugin(revealed)
    if plugin is None:
        raise SendError(f"Apprise does not recognise this {service or 'channel'} URL (check its form).")
    plugin.socket_connect_timeout = min(float(plugin.socket_connect_timeout), CONNECT_TIMEOUT)
    plugin.socket_read_timeout = min(float(plugin.socket_read_timeout), READ_TIMEOUT)
    name = f"{SEND_THREAD}{uuid.uuid4().hex}"
    capture = _Capture(name)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["ok"] = bool(plugin.notify(body=body, title=title, notify_type=apprise.NotifyType.INFO))
        except Exception as error:  # a plugin bug: reported as a failed send, never a crash
            outcome["error"] = f"{type(error).__name__}: {error}"

    logger = logging.getLogger(APPRISE_LOGGER)
    logger.addHandler(capture)
    try:
        worker = threading.Thread(target=run, name=name, daemon=True)
        worker.start()
        worker.join(deadline())
    finally:
        logger.removeHandler(capture)
    if worker.is_alive():
        raise SendError(f"{service or 'The service'} did not answer within {deadline():g} seconds.")
    if outcome.get("ok"):
        return Sent(service=service)
    words = str(outcome.get("error") or "; ".join(capture.lines[-2:]) or "the service refused the message")
    raise SendError(scrub(f"{service or 'Apprise'}: {words}", revealed))
