"""A throwaway PostgreSQL cluster on a free loopback port, which a fault test may stop and start.

The shared server on 5432 is never touched: other tests use it at the same time.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.faults.world import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """initdb, pg_ctl start and stop, in a temporary directory; run as 'postgres' when we are root."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            pytest.skip("needs PostgreSQL's server programs (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
        self._bin = bin_dir
        self._as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
            self._as = ["runuser", "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="kw-pg-"))
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as, str(self._bin / program), *args], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} failed: {result.stdout}{result.stderr}{self.log()}")

    def init(self) -> PrivatePostgres:
        """Create the cluster (trust authentication on loopback: it lives only as long as the test)."""
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server at once, ending every connection (as an outage would)."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "-t", "60", "stop")

    def log(self) -> str:
        path = self.dir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def remove(self) -> None:
        """Stop the server if it runs and delete its files."""
        if (self.dir / "data" / "postmaster.pid").exists():
            subprocess.run(
                [*self._as, str(self._bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)
