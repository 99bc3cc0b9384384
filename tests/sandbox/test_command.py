"""`python manage.py sandbox` as a real process: serves, logs one safe line per request, and exits
cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "dft_xxx"  # the docs scenario's token


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    banner: str


@pytest.fixture
def sandbox_process() -> Iterator[Running]:
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "--port", "0", "--scenario", "docs", "--latency", "0.01"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The banner (URLs, then "Press Ctrl-C") is printed once the sandbox is serving. Read all of
        # it here: communicate() later reads the pipe directly, past anything buffered by readline.
        banner = ""
        while "Press Ctrl-C" not in banner and process.poll() is None:
            banner += process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert match, f"no URL in {banner!r}"
        yield Running(process, match.group(0), banner)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop(process: subprocess.Popen[str], signum: int) -> tuple[str, str, float]:
    started = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=10)
    return out, err, time.monotonic() - started


def test_it_serves_both_apis_and_exits_0_promptly_on_sigterm(sandbox_process):
    process, url = sandbox_process.process, sandbox_process.url
    response = requests.get(
        f"{url}/api/v1/admin/websites/65f0a1b2c3d4e5f6a7b8c9d0/integrations?token={TOKEN}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert requests.get(f"{url}/v1/integrations/", headers={"Authorization": "Bearer docs_org_api_key"}, timeout=5).ok
    out, err, took = stop(process, signal.SIGTERM)
    assert process.returncode == 0
    assert took < 3
    assert f"Control page:   {url}/_sandbox/" in sandbox_process.banner
    assert "Sandbox stopped." in out
    assert re.search(r"GET /api/v1/admin/websites/65f0a1b2c3d4e5f6a7b8c9d0/integrations 200 [\d.]+ms", err)
    assert re.search(r"GET /v1/integrations/ 200 [\d.]+ms", err)
    # Neither the token (header or query string) nor the key is ever logged.
    assert TOKEN not in out + err
    assert "docs_org_api_key" not in out + err
    assert "Authorization" not in err


def test_ctrl_c_stops_it_cleanly_too(sandbox_process):
    process = sandbox_process.process
    _, err, took = stop(process, signal.SIGINT)
    assert process.returncode == 0
    assert took < 3
    assert "Traceback" not in err


def test_a_busy_port_is_a_plain_error(sandbox_process):
    port = sandbox_process.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "manage.py", "sandbox", "--port", port],
        cwd=ROOT,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "could not start the sandbox" in result.stderr
    assert "Traceback" not in result.stderr
