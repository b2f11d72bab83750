"""Start a real Mosquitto and a real InfluxDB 1.x as child processes on loopback.

Used by `twin demo` (when no TWIN_MQTT_URL / TWIN_INFLUX_URL is given) and by the test
fixtures, so the demo and the tests run on the same real components. Data lives under a
state folder; each server gets a config file written there. Installing the Debian
packages does not start these servers (DESIGN.md §9), which is why we start them here.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

import httpx

from twin.errors import TwinError

log = logging.getLogger(__name__)


class LocalServerError(TwinError):
    """A local server could not be started; the message says what to install or check."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _find(binary: str, package: str) -> str:
    path = shutil.which(binary) or shutil.which(f"/usr/sbin/{binary}") or shutil.which(f"/usr/bin/{binary}")
    if path is None:
        raise LocalServerError(f"{binary} not found: run `make setup` (installs the Debian package {package!r})")
    return path


class _Process:
    """A child server process with a log file; a context manager that stops it on exit."""

    name = "server"

    def __init__(self, state_dir: Path, port: int | None) -> None:
        self.state_dir = state_dir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait until it answers."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with self.log_path.open("ab") as logf:
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise LocalServerError(f"{self.name} exited with {self.proc.returncode} on port {self.port}:\n{tail}")
            if self.ready():
                log.info("%s ready on 127.0.0.1:%d", self.name, self.port)
                return
            time.sleep(0.05)
        self.stop()
        raise LocalServerError(
            f"{self.name} did not answer on port {self.port} within {timeout_s} s; see {self.log_path}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL to simulate a crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalMosquitto(_Process):
    """Mosquitto on 127.0.0.1:port with persistence under state_dir."""

    name = "mosquitto"

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = _find("mosquitto", "mosquitto")
        conf = self.state_dir / "mosquitto.conf"
        data = self.state_dir / "mosquitto-data"
        data.mkdir(parents=True, exist_ok=True)
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {data}/\n"
            # Save sessions and queued messages every second (the default is every 30 min): a
            # killed broker then comes back with the edge's and ingest's sessions and their
            # subscriptions, so devices' messages keep queueing for the edge.
            "autosave_interval 1\n"
            # Persistent ingest sessions may hold many messages while InfluxDB is down.
            "max_queued_messages 1000000\n"
            "max_inflight_messages 100\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
        )
        return [binary, "-c", str(conf)]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False


class LocalInfluxDB(_Process):
    """InfluxDB 1.x (`influxd -config FILE`) on 127.0.0.1:port with data under state_dir."""

    name = "influxdb"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = _find("influxd", "influxdb")
        data = self.state_dir / "influxdb-data"
        rpc_port = free_port()
        conf = self.state_dir / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            # The RPC (backup) service defaults to :8088; give each instance its own port.
            f'bind-address = "127.0.0.1:{rpc_port}"\n'
            f'[meta]\n  dir = "{data}/meta"\n'
            f'[data]\n  dir = "{data}/data"\n  wal-dir = "{data}/wal"\n'
            "  query-log-enabled = false\n"
            f'[http]\n  enabled = true\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
            '[logging]\n  level = "warn"\n'
        )
        return [binary, "-config", str(conf)]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False
