"""A real SMTP server (aiosmtpd) that keeps what it receives, with when it arrived, for end-to-end
alert tests and the bench's detection timing."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import free_port

__all__ = ["SmtpSink", "free_port"]


class _Collector:
    def __init__(self) -> None:
        self.received: list[tuple[float, EmailMessage]] = []
        self.lock = threading.Lock()  # aiosmtpd appends in its own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.received.append((time.time(), message))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, port: int | None = None) -> None:
        self.collector = _Collector()
        self.port = port or free_port()  # aiosmtpd cannot report a port it picked itself
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.collector.lock:
            return [message for _, message in self.collector.received]

    def received_since(self, after: float) -> list[tuple[float, EmailMessage]]:
        """(arrival time, message) of what arrived at or after `after` (a `time.time()`)."""
        with self.collector.lock:
            return [(at, message) for at, message in self.collector.received if at >= after]

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
