from __future__ import annotations

import logging
import math
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations_app.sandbox.loader import ScenarioError
from integrations_app.sandbox.scenarios import SCENARIOS
from integrations_app.sandbox.server import SandboxServer


class Command(BaseCommand):
    help = (
        "Serve the simulated DataFast and ChargebackStop APIs on one port, with a control page, "
        "until Ctrl-C or SIGTERM. Point DATAFAST_BASE_URL and CHARGEBACKSTOP_BASE_URL at the URL it prints."
    )
    requires_system_checks = ()  # the sandbox needs neither the database nor the app's settings

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1: local only).")
        parser.add_argument("--port", type=int, default=8700, help="Port to listen on; 0 picks a free one.")
        parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS), help="Data to load.")
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds added to every API request.")

    def handle(self, *args: Any, host: str, port: int, scenario: str, latency: float, **options: Any) -> None:
        if not math.isfinite(latency) or latency < 0:
            raise CommandError("--latency must be a number of seconds >= 0")
        if not 0 <= port <= 65_535:
            raise CommandError("--port must be from 0 to 65535 (0 picks a free one)")
        _log_requests(options["verbosity"])
        try:
            server = SandboxServer(host=host, port=port, scenario=scenario)
            server.state.latency = latency
            server.start()
        except (OSError, ScenarioError) as error:
            raise CommandError(f"could not start the sandbox: {error}") from None

        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.stdout.write(f"Sandbox serving scenario {scenario!r} at {server.url}")
            self.stdout.write(f"  DataFast:       {server.url}/api/v1/admin/websites/<websiteId>/integrations")
            self.stdout.write(f"  ChargebackStop: {server.url}/v1/integrations/")
            self.stdout.write(f"  Control page:   {server.url}/_sandbox/")
            self.stdout.write("Press Ctrl-C to stop.")
            self.stdout.flush()
            while not stopping.wait(0.5):  # a timed wait, so the signal handler gets its turn promptly
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            server.stop()
        self.stdout.write("Sandbox stopped.")


def _log_requests(verbosity: int) -> None:
    """One line per request (method, path, status, time) on stderr, unless run with -v 0.
    The lines come from the sandbox app, which never logs headers or query strings."""
    logger = logging.getLogger("integrations_app.sandbox")
    if verbosity == 0:
        logger.setLevel(logging.WARNING)
        return
    logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers:  # settings without LOGGING: give the lines somewhere to go
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
