"""`python -m sandbox [--port P] [--scenario demo] [--state-file F]`: serve both simulated APIs until
Ctrl-C or SIGTERM. `manage.py sandbox` is the same command under Django (it shares `add_arguments`
and `serve`)."""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from sandbox.scenarios import SCENARIOS
from sandbox.server import SandboxServer

DESCRIPTION = (
    "Serve the simulated DataFast and ChargebackStop APIs on one port, with a control page, "
    "until Ctrl-C or SIGTERM. Point DATAFAST_BASE_URL and CHARGEBACKSTOP_BASE_URL at the URL it prints."
)


class CannotServe(Exception):
    """An argument the sandbox cannot serve with, or a port it cannot bind: a plain message, no traceback."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1: local only).")
    parser.add_argument("--port", type=int, default=8700, help="Port to listen on; 0 picks a free one.")
    parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS), help="Data to load.")
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds added to every API request.")
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="Keep the simulated data in this JSON file: read on start when it exists (instead of the "
        "scenario), written after every change. Without it, the data lives in memory only.",
    )


class Output(Protocol):
    """Where the banner goes: a text stream, or a management command's `self.stdout`."""

    def write(self, text: str, /) -> object: ...
    def flush(self) -> None: ...


def serve(
    *, host: str, port: int, scenario: str, latency: float, state_file: Path | None, verbosity: int, out: Output
) -> None:
    if not math.isfinite(latency) or latency < 0:
        raise CannotServe("--latency must be a number of seconds >= 0")
    if not 0 <= port <= 65_535:
        raise CannotServe("--port must be from 0 to 65535 (0 picks a free one)")
    _log_requests(verbosity)
    data = f"the data saved in {state_file}" if state_file and state_file.exists() else f"scenario {scenario!r}"
    try:
        server = SandboxServer(host=host, port=port, scenario=scenario, state_file=state_file)
        server.state.latency = latency
        server.start()
    except (OSError, ValueError) as error:  # a busy port, a state file that is not a valid world
        raise CannotServe(f"could not start the sandbox: {error}") from None
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out.write(f"Sandbox serving {data} at {server.url}\n")
        out.write(f"  DataFast:       {server.url}/api/v1/admin/websites/<websiteId>/integrations\n")
        out.write(f"  ChargebackStop: {server.url}/v1/integrations/\n")
        out.write(f"  Control page:   {server.url}/_sandbox/\nPress Ctrl-C to stop.\n")
        out.flush()
        while not stopping.wait(0.5):  # a timed wait, so the signal handler gets its turn promptly
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    out.write("Sandbox stopped.\n")


def _log_requests(verbosity: int) -> None:
    """One line per request (method, path, status, time) on stderr, unless verbosity is 0.
    The lines come from the sandbox app, which never logs headers or query strings."""
    logger = logging.getLogger("sandbox")
    logger.setLevel(logging.INFO if verbosity else logging.WARNING)
    if verbosity and not logging.getLogger().handlers and not logger.handlers:  # give the lines somewhere to go
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=DESCRIPTION)
    add_arguments(parser)
    parser.add_argument("-v", "--verbosity", type=int, default=1, choices=(0, 1, 2, 3), help="0: no request log.")
    options: dict[str, Any] = vars(parser.parse_args(argv))
    try:
        serve(**options, out=sys.stdout)
    except CannotServe as refused:
        parser.exit(1, f"{parser.prog}: {refused}\n")
    return 0
