"""A throwaway PostgreSQL cluster (TimescaleDB preloaded) that a test may stop and start:
for "the database goes away mid-stream" without touching anyone else's database."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from testkit.broker import free_port, wait_for_port

PG_BIN = Path(os.environ.get("IOC_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class TempCluster:
    def __init__(self, base: Path) -> None:
        self.dir = base / "pgdata"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        base.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(base, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/ioc"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> TempCluster:
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with open(self.dir / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
                "fsync = on\n"
            )
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "ioc")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w", "start")
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.dir.parent, ignore_errors=True)
