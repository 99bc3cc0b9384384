"""A throwaway PostgreSQL cluster for `--postgres`: Debian's binaries, a data directory in the bench's
temporary directory, a free port, trust authentication on 127.0.0.1 only; stopped at the end.
PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from scripts.launcher import StartupError
from tests.ports import free_port

VERSIONS = Path("/usr/lib/postgresql")


def binaries() -> Path:
    found = sorted(VERSIONS.glob("*/bin/initdb"), key=lambda path: int(path.parent.parent.name))
    if not found:
        raise StartupError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
    return found[-1].parent


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.bin = binaries()
        self.started = False

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise StartupError(f"{argv[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def start(self) -> None:
        self.directory.mkdir(parents=True)
        if os.geteuid() == 0:
            # The postgres user must reach its directory inside the bench's (private) temporary one.
            self.directory.parent.chmod(0o755)
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.directory), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.directory), "-o", options, "-l", str(self.directory / "server.log"),
                  "-w", "start")  # fmt: skip
        self.started = True
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "stop")
            self.started = False
