"""Our OPC UA source against an independent server (node-opcua), secured.

`tests/interop/opcua_secure_server.mjs` runs as a `node` subprocess on a free loopback port,
offering only Basic256Sha256 SignAndEncrypt, refusing anonymous users and accepting one
user name and password. It does not accept unknown client certificates: the edge's
certificate (made beforehand in `$TWIN_STATE_DIR/pki`, as the source would on first use)
is given to it and put in its trust list, as a server's admin would. The edge is built
as the edge agent builds it (`build_sources` with `TWIN_STATE_DIR`) and trusts the
server's certificate through the real `twin certs trust`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.localservers import free_port
from edge_agent.sources.base import SourceContext
from edge_agent.sources.opcua.pki import Pki, application_uri
from edge_agent.sources.opcua.source import OpcUaSource, build_sources
from tests.helpers import eventually, running
from twin.plant import Plant, parse_plant
from twin.readings import Quality, Reading
from twin.stats import Stats

pytestmark = pytest.mark.integration
TWIN = Path(sys.executable).with_name("twin")
REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_SERVER = REPO_ROOT / "tests" / "interop" / "opcua_secure_server.mjs"
USER, PASSWORD, ENV = "operator", "s3cret-42", "TWIN_OPCUA_NODE_PASSWORD"
AGENT = "edge-1"
VARIABLES = ("counter", "temperature", "running", "source_ms")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class NodeServer:
    """The running node-opcua server: its endpoint and its certificate (DER)."""

    endpoint: str
    certificate: bytes

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the server's DER certificate."""
        return hashlib.sha1(self.certificate).hexdigest()


@contextlib.asynccontextmanager
async def node_server(folder: Path, trusted_client_cert: Path | None) -> AsyncIterator[NodeServer]:
    """Start the node-opcua server; kill it on the way out."""
    assert shutil.which("node"), "Node.js is part of the test environment"
    assert (REPO_ROOT / "node_modules" / "node-opcua-server").exists(), "run `make setup` (npm ci)"
    env = {"PATH": os.environ["PATH"], "HOME": str(folder), "OPCUA_USER": USER, "OPCUA_PASSWORD": PASSWORD}
    args = [str(NODE_SERVER), str(free_port()), str(folder)]
    if trusted_client_cert is not None:
        args.append(str(trusted_client_cert))
    proc = await asyncio.create_subprocess_exec("node", *args, cwd=REPO_ROOT, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        seen: list[str] = []
        async with asyncio.timeout(30):
            while True:  # node-opcua logs to stdout too; ready is the one JSON line
                line = (await proc.stdout.readline()).decode()
                assert line, "the node-opcua server exited:\n" + "".join(seen)[-3000:]
                seen.append(line)
                if line.startswith("{"):
                    ready = json.loads(line)
                    break
        assert ready["node_ids"] == [f"ns=1;s={name}" for name in VARIABLES]
        pem = await asyncio.to_thread(Path(ready["certificate"]).read_bytes)
        der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
        drain = asyncio.create_task(proc.stdout.read())  # keep its pipe from filling up
        try:
            yield NodeServer(ready["endpoint"], der)
        finally:
            drain.cancel()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def plant(endpoint: str) -> Plant:
    """One machine m with a signal per server variable, on connection cell-1, secured, user operator."""
    signals = {name: {"opcua": {"connection": "cell-1", "node": f"ns=1;s={name}"}} for name in VARIABLES}
    return parse_plant({"version": 1, "site": "s",
                        "connections": {"opcua": {"cell-1": {
                            "endpoint": endpoint, "security_policy": "Basic256Sha256",
                            "security_mode": "SignAndEncrypt", "username": USER, "password_env": ENV}}},
                        "areas": {"a": {"lines": {"l": {"assets": {"m": {"type": "cnc", "signals": signals}}}}}}})


def edge_source(endpoint: str) -> OpcUaSource:
    """The source as the edge agent builds it (PKI from TWIN_STATE_DIR)."""
    p = plant(endpoint)
    context = SourceContext(plant=p, signals=list(p.signals()), client=None, stats=Stats("t"),  # type: ignore[arg-type]
                            agent_id=AGENT, deadletters=None, commit=None)  # type: ignore[arg-type]
    (source,) = build_sources(context)
    assert isinstance(source, OpcUaSource)
    return source


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The edge's state dir, with its application certificate already made (so the server can trust it)."""
    monkeypatch.setenv("TWIN_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv(ENV, PASSWORD)
    Pki(tmp_path / "state" / "pki", application_uri=application_uri(AGENT)).ensure()
    return tmp_path / "state"


class Recorder:
    """The source's emit."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    def __call__(self, reading: Reading) -> None:
        self.readings.append(reading)

    def of(self, name: str) -> list[Reading]:
        """The readings of one signal."""
        return [r for r in self.readings if r.signal == name]


async def _true(value: bool) -> bool:
    return value


async def twin(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `twin` executable with TWIN_STATE_DIR, off the event loop."""
    env = {**os.environ, "TWIN_STATE_DIR": str(state)}
    return await asyncio.to_thread(subprocess.run, [str(TWIN), *args], env=env, capture_output=True, text=True,
                                   timeout=60)


def trust_directly(state: Path, server: NodeServer) -> None:
    """Put the server's certificate in the edge's trust list."""
    folder = state / "pki" / "trusted" / "certs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "node-opcua.der").write_bytes(server.certificate)


async def test_an_untrusted_node_opcua_server_is_refused_then_collected_from_after_twin_certs_trust(
        state: Path, tmp_path: Path) -> None:
    async with node_server(tmp_path / "server", state / "pki" / "own" / "certs" / "cert.der") as server:
        source, emitted = edge_source(server.endpoint), Recorder()
        async with running(source.run(emitted)):
            await eventually(lambda: _true(source.last_error is not None), timeout_s=15, interval_s=0.02)
            error = source.last_error
            assert error is not None and f"to trust it run: twin certs trust {server.thumbprint}" in error
            rejected = state / "pki" / "rejected" / "certs" / f"{server.thumbprint}.der"
            assert rejected.read_bytes() == server.certificate
            assert not source.ready.is_set() and emitted.readings == []

            result = await twin(state, "certs", "trust", server.thumbprint)
            assert result.returncode == 0, result.stderr
            assert (state / "pki" / "trusted" / "certs" / f"{server.thumbprint}.der").is_file()
            await asyncio.wait_for(source.ready.wait(), 15)  # the next retry, same source
            await eventually(lambda: _true(all(len(emitted.of(name)) >= 5 for name in VARIABLES)), timeout_s=10,
                             interval_s=0.02)
        assert source.last_error is None
    readings = list(emitted.readings)
    assert {r.quality for r in readings} == {Quality.GOOD} and {r.status for r in readings} == {None}
    # source_ms holds its own source timestamp: the readings carry the server's source times.
    stamps = {r.ts for r in emitted.of("source_ms")}
    for r in emitted.of("source_ms"):
        assert isinstance(r.value, float) and r.ts == EPOCH + timedelta(milliseconds=r.value)
    # Each tick stamps every variable with one time; all of them came through.
    newest = max(stamps)
    assert all(r.ts in stamps for r in readings if r.ts <= newest)
    counters = [r.value for r in emitted.of("counter")]
    assert all(isinstance(c, int) for c in counters)
    assert all(a < b for a, b in itertools.pairwise(counters))  # type: ignore[operator]
    assert all(isinstance(r.value, bool) for r in emitted.of("running"))
    assert all(isinstance(r.value, float) and 20 <= r.value < 25 for r in emitted.of("temperature"))
    # ticks 100 ms apart, stamped by the server's clock (not when we received them)
    ordered = sorted(stamps)
    assert all(timedelta(milliseconds=50) < b - a < timedelta(seconds=5) for a, b in itertools.pairwise(ordered))


async def test_a_wrong_password_is_refused_by_node_opcua_with_a_clear_message(
        state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(ENV, "not-the-password")
    caplog.set_level(logging.DEBUG)
    async with node_server(tmp_path / "server", state / "pki" / "own" / "certs" / "cert.der") as server:
        trust_directly(state, server)
        source, emitted = edge_source(server.endpoint), Recorder()
        async with running(source.run(emitted)):
            await eventually(lambda: _true(source.last_error is not None), timeout_s=15, interval_s=0.02)
    assert source.last_error == f"the server refused the user name or password (BadUserAccessDenied) (user {USER})"
    assert not source.ready.is_set() and emitted.readings == []
    assert "not-the-password" not in caplog.text


async def test_node_opcua_refuses_our_certificate_until_its_admin_trusts_it(state: Path, tmp_path: Path) -> None:
    async with node_server(tmp_path / "server", None) as server:
        trust_directly(state, server)
        source, emitted = edge_source(server.endpoint), Recorder()
        ours = Pki(state / "pki", application_uri=application_uri(AGENT)).own().public_bytes(Encoding.DER)
        folder = tmp_path / "server" / "pki"

        def rejected_by_node() -> list[Path]:
            return [f for f in (folder / "rejected").glob("*.pem")
                    if x509.load_pem_x509_certificate(f.read_bytes()).public_bytes(Encoding.DER) == ours]

        async with running(source.run(emitted)):
            # node-opcua keeps our certificate among its rejected ones, for its admin to trust.
            await eventually(lambda: _true(source.last_error is not None and bool(rejected_by_node())),
                             timeout_s=15, interval_s=0.02)
            assert not source.ready.is_set() and emitted.readings == []
            (file,) = rejected_by_node()
            (folder / "trusted" / "certs").mkdir(parents=True, exist_ok=True)
            file.rename(folder / "trusted" / "certs" / file.name)  # what its admin does
            await asyncio.wait_for(source.ready.wait(), 15)  # the next retry, same source
            await eventually(lambda: _true(all(emitted.of(name) for name in VARIABLES)), timeout_s=10,
                             interval_s=0.02)


async def test_node_opcua_refusing_our_certificate_is_said_clearly(state: Path, tmp_path: Path) -> None:
    async with node_server(tmp_path / "server", None) as server:
        trust_directly(state, server)
        source = edge_source(server.endpoint)
        async with running(source.run(Recorder())):
            await eventually(lambda: _true(source.last_error is not None), timeout_s=15, interval_s=0.02)
    assert source.last_error is not None and "twin certs show" in source.last_error, source.last_error
