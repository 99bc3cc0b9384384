"""`make test` on a bare machine: scripts/system-packages.sh installs the Debian packages the venv
cannot carry when it may (root, or sudo without a password), else stops and prints the command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "system-packages.sh"


def run(env: dict[str, str], *prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, "bash", str(SCRIPT)],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def fake_apt(tmp_path: Path) -> Path:
    """An `apt-get` first on PATH that records its arguments instead of installing."""
    (tmp_path / "bin").mkdir()
    apt = tmp_path / "bin" / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/apt.log\n')
    apt.chmod(0o755)
    return tmp_path


@pytest.mark.skipif(os.geteuid() != 0, reason="installing is tried as root")
def test_as_root_it_installs_a_missing_chromium(fake_apt: Path) -> None:
    result = run({"CHROMIUM": str(fake_apt / "no-chromium"), "PATH": f"{fake_apt}/bin:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    assert "Installing chromium" in result.stdout
    calls = (fake_apt / "apt.log").read_text().splitlines()
    assert calls[0] == "update -qq"
    assert "chromium" in calls[1].split()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to become nobody")
def test_without_the_right_to_install_it_stops_and_prints_the_one_command(fake_apt: Path) -> None:
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    result = run({"CHROMIUM": "/nonexistent/chromium", "PATH": f"{fake_apt}/bin:{os.environ['PATH']}"}, *nobody)
    assert result.returncode == 1
    assert "sudo sh -c 'apt-get update" in result.stderr and "chromium" in result.stderr
    assert not (fake_apt / "apt.log").exists()


def test_with_everything_present_it_does_nothing(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    redis = shutil.which("redis-server")
    path = f"{Path(redis).parent}:{os.environ['PATH']}" if redis else os.environ["PATH"]
    result = run({"CHROMIUM": str(chromium), "PATH": path})
    assert result.returncode == 0
    if redis:
        assert result.stdout == result.stderr == ""
