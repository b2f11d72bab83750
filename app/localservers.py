"""Start a real Mosquitto and a real InfluxDB 1.x as child processes on loopback.

Used by `twin demo` (when no TWIN_MQTT_URL / TWIN_INFLUX_URL is given) and by the test
fixtures, so the demo and the tests run on the same real components. Data lives under a
state folder; each server gets a config file written there. Installing the Debian
packages does not start these servers (DESIGN.md §9), which is why we start them here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
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


# What each role may do on the broker (Mosquitto acl_file syntax). Least privilege: each
# service may publish what it produces and read what it consumes (twin/topics.py), so a
# leaked device password cannot forge telemetry, alerts or acknowledgements.
_TELEMETRY = "twin/v1/+/+/+/+/telemetry"
_ALERTS = "twin/v1/+/+/+/+/alerts"
ROLE_ACL: dict[str, tuple[str, ...]] = {
    "edge": (f"topic write {_TELEMETRY}", "topic write twin/v1/_sys/edge/+/status",
             "topic read twin/v1/_sys/edge/+/ack", "topic read twin/v1/_sys/ingest/+/state",
             "topic write twin/v1/_sys/deadletter/#", "topic read devices/#"),
    "ingest": (f"topic read {_TELEMETRY}", "topic read twin/v1/_sys/edge/+/status",
               "topic write twin/v1/_sys/edge/+/ack", "topic write twin/v1/_sys/ingest/+/state",
               "topic write twin/v1/_sys/deadletter/#"),
    "analytics": (f"topic read {_TELEMETRY}", f"topic write {_ALERTS}", "topic write twin/v1/_sys/deadletter/#"),
    "alerts": (f"topic read {_TELEMETRY}", f"topic read {_ALERTS}", "topic read twin/v1/_sys/edge/+/status",
               "topic write twin/v1/_sys/deadletter/#"),
    "device": ("topic write devices/#",),
}


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """A broker user with one of the roles of ROLE_ACL."""

    username: str
    password: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLE_ACL:
            raise ValueError(f"unknown broker role {self.role!r}; expected one of {sorted(ROLE_ACL)}")

    def __repr__(self) -> str:  # never the password, in a log line or a test report
        return f"BrokerAccount(username={self.username!r}, role={self.role!r})"


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """A TLS listener: the broker's certificate and key; with `client_ca_file`, client certificates required."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


def mosquitto_password_hash(password: str, *, iterations: int = 101) -> str:
    """A password in Mosquitto 2's file format ($7$: PBKDF2-SHA512, as `mosquitto_passwd -b` writes).

    Computed here so that the password never appears on a command line (visible in `ps`).
    """
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_secret(path: Path, text: str) -> None:
    """Write a file that holds a secret, readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # an existing file keeps its old mode through O_CREAT
        f.write(text)


class LocalMosquitto(_Process):
    """Mosquitto on 127.0.0.1:port with persistence under state_dir.

    Anonymous by default (the test fixture). With `accounts`, a password file and an ACL
    file (ROLE_ACL) are written and anonymous clients are refused; with `tls`, the
    listener speaks TLS only.
    """

    name = "mosquitto"

    def __init__(self, state_dir: Path, port: int | None, *, accounts: Mapping[str, BrokerAccount] | None = None,
                 tls: BrokerTls | None = None) -> None:
        super().__init__(state_dir, port)
        self.accounts = dict(accounts or {})
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _security(self) -> str:
        lines: list[str] = []
        if self.tls is not None:
            lines += [f"certfile {self.tls.cert_file}", f"keyfile {self.tls.key_file}"]
            if self.tls.client_ca_file is not None:
                lines += [f"cafile {self.tls.client_ca_file}", "require_certificate true"]
        if not self.accounts:
            return "\n".join([*lines, "allow_anonymous true"]) + "\n"
        passwords = self.state_dir / "mosquitto.passwd"
        acl = self.state_dir / "mosquitto.acl"
        write_secret(passwords, "".join(f"{a.username}:{mosquitto_password_hash(a.password)}\n"
                                        for a in self.accounts.values()))
        rules = []
        for account in self.accounts.values():
            rules += [f"user {account.username}", *ROLE_ACL[account.role], ""]
        write_secret(acl, "\n".join(rules))
        return "\n".join([*lines, "allow_anonymous false", f"password_file {passwords}", f"acl_file {acl}"]) + "\n"

    def command(self) -> list[str]:
        binary = _find("mosquitto", "mosquitto")
        conf = self.state_dir / "mosquitto.conf"
        data = self.state_dir / "mosquitto-data"
        data.mkdir(parents=True, exist_ok=True)
        security = self._security()
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + security
            # With secrets, run as the user who started it: Mosquitto started as root otherwise
            # switches to the `mosquitto` user, who cannot read the 0600 password, ACL, key files.
            + ("user root\n" if os.geteuid() == 0 and (self.accounts or self.tls) else "") +
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
