"""`python -m sandbox` (and its alias `manage.py sandbox`) as a real process: serves, logs one safe
line per request, exits cleanly on SIGTERM or Ctrl-C, and keeps its data in a state file when given one."""

from __future__ import annotations

import json
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

from tests import demo

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dft_xxx"  # the docs scenario's token


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    banner: str


def start(*argv: str) -> Running:
    """Start the sandbox with `argv` and wait for its banner."""
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The banner (URLs, then "Press Ctrl-C") is printed once the sandbox is serving. Read all of it
    # here: communicate() later reads the pipe directly, past anything buffered by readline.
    banner = ""
    assert process.stdout is not None  # stdout=PIPE
    while "Press Ctrl-C" not in banner and process.poll() is None:
        banner += process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    if match is None:
        process.kill()
        raise AssertionError(f"no URL in {banner!r}: {process.communicate()}")
    return Running(process, match.group(0), banner)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """Sandboxes started by a test; any still running at its end are killed."""
    started: list[Running] = []
    yield started
    for each in started:
        if each.process.poll() is None:
            each.process.kill()
            each.process.wait()


@pytest.fixture(params=[("-m", "sandbox"), ("manage.py", "sandbox")], ids=["python -m sandbox", "manage.py sandbox"])
def sandbox_process(request, running: list[Running]) -> Running:
    running.append(start(*request.param, "--port", "0", "--scenario", "docs", "--latency", "0.01"))
    return running[-1]


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
    assert took < 6  # a hang would be the 10 s of communicate(); a loaded 2-core machine takes ~3-4 s
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
    assert took < 6  # a hang would be the 10 s of communicate(); a loaded 2-core machine takes ~3-4 s
    assert "Traceback" not in err


def test_a_busy_port_is_a_plain_error(sandbox_process):
    port = sandbox_process.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", port],
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


def test_a_state_file_keeps_what_was_created_and_changed_across_a_restart(tmp_path, running):
    state_file = tmp_path / "sandbox.json"
    first = start("-m", "sandbox", "--port", "0", "--state-file", str(state_file))
    running.append(first)
    assert "scenario 'demo'" in first.banner
    headers = {"Authorization": f"Bearer {demo.PARTNER_KEY.reveal()}"}
    created = requests.post(
        f"{first.url}/v1/integrations/",
        headers=headers,
        json={
            "organisation_id": demo.ACME_ORG,
            "name": "Kept",
            "type": "CUSTOM_ORDERS",
            "merchant_ids": ["mrch_acme_us"],
        },
        timeout=5,
    ).json()
    control = f"{first.url}/_sandbox/datafast/websites/{demo.ACME_STORE}"
    assert requests.post(control, json={"provider": "stripe", "connected": False}, timeout=5).ok
    assert requests.post(
        f"{first.url}/_sandbox/chargebackstop/keys/revoke", json={"key": demo.GROUP_KEY.reveal()}, timeout=5
    ).ok
    stop(first.process, signal.SIGTERM)

    second = start("-m", "sandbox", "--port", "0", "--state-file", str(state_file))
    running.append(second)
    assert f"the data saved in {state_file}" in second.banner
    kept = requests.get(f"{second.url}/v1/integrations/{created['id']}", headers=headers, timeout=5)
    assert (kept.status_code, kept.json()["name"]) == (200, "Kept")
    site = requests.get(
        f"{second.url}/api/v1/admin/websites/{demo.ACME_STORE}/integrations",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
    ).json()["data"][0]
    assert site["stripe"] == {"connected": False}
    assert (
        site["paddle"]["keyExpiresAt"]
        == json.loads(state_file.read_text())["datafast"]["websites"][0]["paddle_key_expires_at"]
    )  # the saved expiry, not one counted again from this start
    revoked = {"Authorization": f"Bearer {demo.GROUP_KEY.reveal()}"}
    assert requests.get(f"{second.url}/v1/integrations/", headers=revoked, timeout=5).status_code == 401


def test_a_state_file_that_is_not_a_world_is_a_plain_error_naming_it(tmp_path):
    state_file = tmp_path / "sandbox.json"
    state_file.write_text('{"datafast": {"websites": [{"id": "nope"}]}}')
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", "0", "--state-file", str(state_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"could not start the sandbox: {state_file}: datafast.websites[0]" in result.stderr
    assert "delete it" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_state_file_that_cannot_be_written_stops_the_start_not_a_later_request(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", "0", "--state-file", str(tmp_path / "missing" / "sandbox.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "could not start the sandbox" in result.stderr
    assert "Traceback" not in result.stderr
