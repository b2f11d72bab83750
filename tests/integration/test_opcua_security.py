"""The OPC UA source on a secured server: Basic256Sha256 SignAndEncrypt, a user name, a trust list.

The server is the project's simulator with `ServerSecurity` (a real asyncua server on a
free loopback port) offering only Basic256Sha256 SignAndEncrypt and refusing anonymous
users. The edge's PKI folder is a fresh `$TWIN_STATE_DIR/pki` per test, and trusting a
certificate goes through the real `twin` executable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from cryptography import x509

from app.localservers import free_port
from edge_agent.sources.opcua.pki import Pki, application_uri
from edge_agent.sources.opcua.source import OpcUaSource
from simulators.opcua_server import OpcUaMachineServer, ServerSecurity
from tests.helpers import eventually, running
from twin.backoff import ReconnectPolicy
from twin.plant import Plant, parse_plant
from twin.readings import Reading
from twin.stats import Stats

pytestmark = pytest.mark.integration
TWIN = Path(sys.executable).with_name("twin")
REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = REPO_ROOT / "tests" / "interop" / "opcua_secure_client.mjs"
USER, PASSWORD, ENV = "operator", "s3cret-42", "TWIN_OPCUA_CELL1_PASSWORD"
SECURED = {"security_policy": "Basic256Sha256", "security_mode": "SignAndEncrypt", "username": USER,
           "password_env": ENV}


def plant(endpoint: str, **connection: Any) -> Plant:
    """One machine with one signal x on the simulator's namespace, on connection cell-1."""
    return parse_plant({"version": 1, "site": "s",
                        "connections": {"opcua": {"cell-1": {"endpoint": endpoint, **connection}}},
                        "areas": {"a": {"lines": {"l": {"assets": {"m": {"type": "cnc", "signals": {
                            "x": {"opcua": {"connection": "cell-1", "node": "ns=2;s=m.x"}}}}}}}}}})


@dataclass
class Rig:
    """A secured simulator, its certificate, and the edge's state dir."""

    server: OpcUaMachineServer
    plant: Plant
    state: Path
    server_cert: Path

    @property
    def pki(self) -> Pki:
        """The edge's PKI folder."""
        return Pki(self.state / "pki", application_uri=application_uri("edge-1"))

    @property
    def thumbprint(self) -> str:
        """SHA-1 of the server's DER certificate."""
        return hashlib.sha1(self.server_cert.read_bytes()).hexdigest()

    def trust_server(self) -> None:
        """Put the server's certificate in the edge's trust list, as an operator would."""
        folder = self.state / "pki" / "trusted" / "certs"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.server_cert, folder / "server.der")

    def source(self) -> OpcUaSource:
        """An OPC UA source on the connection, retrying fast."""
        return OpcUaSource(name="cell-1", connection=self.plant.connections_of("opcua")["cell-1"],
                           signals=list(self.plant.signals()), stats=Stats("test"), pki=self.pki,
                           reconnect=ReconnectPolicy(fast_delay_s=0.1))


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """A simulator serving only Basic256Sha256 SignAndEncrypt to user `operator`."""
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    connection: dict[str, Any] = getattr(request, "param", SECURED)
    p = plant(endpoint, **connection)
    sig = next(iter(p.signals()))
    cert = tmp_path / "server" / "cert.der"
    security = ServerSecurity(certificate=cert, private_key=tmp_path / "server" / "key.pem",
                              users={USER: PASSWORD})
    async with OpcUaMachineServer(endpoint=endpoint, signals=[sig], initial={sig: 1.0}, security=security) as srv:
        yield Rig(srv, p, tmp_path / "state", cert)


class Recorder:
    """The source's emit."""

    def __init__(self) -> None:
        self.readings: list[Reading] = []

    def __call__(self, reading: Reading) -> None:
        self.readings.append(reading)

    def values(self) -> list[Any]:
        """Every emitted value."""
        return [r.value for r in self.readings]


async def _true(value: bool) -> bool:
    return value


async def twin(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `twin` executable with TWIN_STATE_DIR (off the event loop: the server lives on it)."""
    env = {**os.environ, "TWIN_STATE_DIR": str(state)}
    return await asyncio.to_thread(subprocess.run, [str(TWIN), *args], env=env, capture_output=True, text=True,
                                   timeout=60)


async def test_source_collects_over_basic256sha256_sign_and_encrypt_with_a_user_name(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    rig.trust_server()
    source, emitted = rig.source(), Recorder()
    async with running(source.run(emitted)):
        await asyncio.wait_for(source.ready.wait(), 20)
        sig = rig.server.signals[0]
        await rig.server.write(sig, 42.5, datetime.now(UTC))
        await eventually(lambda: _true(42.5 in emitted.values()), timeout_s=10, interval_s=0.02)
        # The server's session is the user's (its user manager checked the password).
        users = [s.user.name for s in rig.server.server.iserver._external_sessions.values()]
        assert users == [USER]
    assert source.last_error is None


@pytest.mark.parametrize("rig", [{}], indirect=True)
async def test_an_unsecured_client_gets_nothing_from_the_secured_server(rig: Rig) -> None:
    source, emitted = rig.source(), Recorder()
    async with running(source.run(emitted)):
        await eventually(lambda: _true(source.last_error is not None), timeout_s=20, interval_s=0.02)
    assert not source.ready.is_set() and emitted.readings == []
    assert source.last_error == ("connection cell-1: the server offers no endpoint without security (it offers: "
                                 "Basic256Sha256 SignAndEncrypt); set security_policy and security_mode")


async def test_a_wrong_password_is_refused_with_a_clear_message(
        rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(ENV, "not-the-password")
    caplog.set_level(logging.DEBUG)
    rig.trust_server()
    source, emitted = rig.source(), Recorder()
    async with running(source.run(emitted)):
        await eventually(lambda: _true(source.last_error is not None), timeout_s=20, interval_s=0.02)
    assert source.last_error == f"the server refused the user name or password (BadUserAccessDenied) (user {USER})"
    assert not source.ready.is_set() and emitted.readings == []
    assert "not-the-password" not in caplog.text  # not even at DEBUG, from us or asyncua


async def test_a_missing_password_variable_is_named(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    source = rig.source()
    async with running(source.run(Recorder())):
        await eventually(lambda: _true(source.last_error is not None), timeout_s=20, interval_s=0.02)
    assert source.last_error is not None and f"environment variable {ENV} (password_env) is not set" \
        in source.last_error


async def test_an_untrusted_server_is_refused_until_twin_certs_trust(
        rig: Rig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    caplog.set_level(logging.DEBUG, logger="edge_agent.sources.opcua.source")
    source, emitted = rig.source(), Recorder()

    def retries() -> int:
        return sum("still away" in r.getMessage() for r in caplog.records)

    async with running(source.run(emitted)):
        await eventually(lambda: _true(source.last_error is not None and retries() >= 2), timeout_s=20,
                         interval_s=0.02)
        # Said once for the series of attempts, at ERROR, with the command; the retries at DEBUG.
        told = [r for r in caplog.records if r.levelno >= logging.WARNING and "twin certs trust" in r.getMessage()]
        assert len(told) == 1 and told[0].levelno == logging.ERROR
        error = source.last_error
        assert error is not None and f"to trust it run: twin certs trust {rig.thumbprint}" in error
        rejected = rig.state / "pki" / "rejected" / "certs" / f"{rig.thumbprint}.der"
        assert rejected.read_bytes() == rig.server_cert.read_bytes()
        assert not source.ready.is_set() and emitted.readings == []

        listed = await twin(rig.state, "certs", "list")
        assert listed.returncode == 0, listed.stderr
        assert "rejected" in listed.stdout and rig.thumbprint in listed.stdout

        result = await twin(rig.state, "certs", "trust", rig.thumbprint)
        assert result.returncode == 0, result.stderr
        assert (rig.state / "pki" / "trusted" / "certs" / f"{rig.thumbprint}.der").is_file()
        assert not rejected.exists()
        listed = await twin(rig.state, "certs", "list")
        assert [line.split()[:2] for line in listed.stdout.splitlines()] == [["trusted", rig.thumbprint]]
        await asyncio.wait_for(source.ready.wait(), 20)  # the next attempt, same source, no restart
        await rig.server.write(rig.server.signals[0], 7.25, datetime.now(UTC))
        await eventually(lambda: _true(7.25 in emitted.values()), timeout_s=10, interval_s=0.02)
    assert source.last_error is None


async def test_our_certificate_is_made_on_first_use_with_the_uri_and_right_file_modes(
        rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    rig.trust_server()
    source = rig.source()
    async with running(source.run(Recorder())):
        await asyncio.wait_for(source.ready.wait(), 20)
    pki = rig.state / "pki"
    for sub in ("own/certs", "own/private", "trusted/certs", "trusted/crl", "rejected/certs", "issuers/certs",
                "issuers/crl"):
        assert (pki / sub).is_dir(), sub
    key, cert_file = pki / "own" / "private" / "key.pem", pki / "own" / "certs" / "cert.der"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((pki / "own" / "private").stat().st_mode) == 0o700
    cert = x509.load_der_x509_certificate(cert_file.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:factory-twin:edge:edge-1"]
    assert san.get_values_for_type(x509.DNSName)  # the host name

    shown = await twin(rig.state, "certs", "show")
    assert shown.returncode == 0, shown.stderr
    assert "urn:factory-twin:edge:edge-1" in shown.stdout
    assert hashlib.sha1(cert_file.read_bytes()).hexdigest() in shown.stdout
    listed = await twin(rig.state, "certs", "list")
    assert "trusted" in listed.stdout and rig.thumbprint in listed.stdout


async def test_twin_certs_errors_are_one_line_with_a_non_zero_exit(tmp_path: Path) -> None:
    shown = await twin(tmp_path, "certs", "show")
    assert shown.returncode != 0 and shown.stderr.strip().count("\n") == 0 and "no certificate yet" in shown.stderr
    trusted = await twin(tmp_path, "certs", "trust", "abcdef")
    assert trusted.returncode != 0 and "no certificate with thumbprint abcdef" in trusted.stderr
    rejected = await twin(tmp_path, "certs", "reject", "abcdef")
    assert rejected.returncode != 0 and "no certificate with thumbprint abcdef in pki/trusted/certs" in rejected.stderr
    renewed = await twin(tmp_path, "certs", "renew")
    assert renewed.returncode == 0, renewed.stderr
    first = (tmp_path / "pki" / "own" / "certs" / "cert.der").read_bytes()
    again = await twin(tmp_path, "certs", "renew")
    assert again.returncode == 0 and (tmp_path / "pki" / "own" / "certs" / "cert.der").read_bytes() != first


async def test_security_is_set_up_again_after_the_server_restarts(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    rig.trust_server()
    source, emitted = rig.source(), Recorder()
    sig = rig.server.signals[0]
    assert rig.server.security is not None
    async with running(source.run(emitted)):
        await asyncio.wait_for(source.ready.wait(), 20)
        await rig.server.__aexit__(None, None, None)
        await eventually(lambda: _true(not source.ready.is_set()), timeout_s=10, interval_s=0.02)
        # The same machine back, with the same certificate (its files are kept) and users.
        async with OpcUaMachineServer(endpoint=rig.server.endpoint, signals=[sig], initial={sig: 3.0},
                                      security=rig.server.security) as again:
            await asyncio.wait_for(source.ready.wait(), 20)
            await again.write(sig, 9.5, datetime.now(UTC))
            await eventually(lambda: _true(9.5 in emitted.values()), timeout_s=10, interval_s=0.02)
            assert [s.user.name for s in again.server.iserver._external_sessions.values()] == [USER]


@pytest.mark.parametrize(("password", "expected"), [
    (PASSWORD, {"value": 1.0, "status": "Good"}),
    ("wrong", {"error": " serviceResult = BadUserAccessDenied (0x801f0000)"}),
])
async def test_node_opcua_reads_the_secured_simulator_only_with_the_right_password(
        rig: Rig, tmp_path: Path, password: str, expected: dict[str, Any]) -> None:
    """An independent client (node-opcua) on the simulator's Basic256Sha256 SignAndEncrypt endpoint."""
    assert shutil.which("node"), "Node.js is part of the test environment"
    assert (REPO_ROOT / "node_modules" / "node-opcua-client").exists(), "run `make setup` (npm ci)"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OPCUA_USER": USER, "OPCUA_PASSWORD": password}
    proc = await asyncio.create_subprocess_exec(
        "node", str(NODE_CLIENT), rig.server.endpoint, "ns=2;s=m.x", str(tmp_path / "node"), cwd=REPO_ROOT,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    # node-opcua logs to stdout too; the client's result is the one JSON line.
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    assert lines, err.decode()[-2000:]
    assert json.loads(lines[-1]) == expected


async def test_source_logs_in_with_an_x509_user_certificate(tmp_path: Path) -> None:
    user = Pki(tmp_path / "user", application_uri="urn:factory-twin:user:operator")
    await asyncio.to_thread(user.renew)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    p = plant(endpoint, security_policy="Basic256Sha256", security_mode="SignAndEncrypt",
              user_certificate={"certificate": str(user.cert_path), "private_key": str(user.key_path)})
    sig = next(iter(p.signals()))
    security = ServerSecurity(certificate=tmp_path / "server" / "cert.der", private_key=tmp_path / "server" / "key.pem",
                              user_certificates=(user.cert_path,))
    async with OpcUaMachineServer(endpoint=endpoint, signals=[sig], initial={sig: 1.0}, security=security) as srv:
        rig = Rig(srv, p, tmp_path / "state", security.certificate)
        rig.trust_server()
        source, emitted = rig.source(), Recorder()
        async with running(source.run(emitted)):
            await asyncio.wait_for(source.ready.wait(), 20)
            await srv.write(sig, 5.5, datetime.now(UTC))
            await eventually(lambda: _true(5.5 in emitted.values()), timeout_s=10, interval_s=0.02)
            assert [s.user.name for s in srv.server.iserver._external_sessions.values()] == ["x509"]


def test_the_edge_agent_s_sources_use_the_pki_of_the_state_dir_with_the_agent_s_uri(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_agent.sources.base import SourceContext
    from edge_agent.sources.opcua.source import build_sources

    monkeypatch.setenv("TWIN_STATE_DIR", str(tmp_path))
    p = plant("opc.tcp://127.0.0.1:4840", **SECURED)
    context = SourceContext(plant=p, signals=list(p.signals()), client=None, stats=Stats("t"),  # type: ignore[arg-type]
                            agent_id="edge-7", deadletters=None, commit=None)  # type: ignore[arg-type]
    (source,) = build_sources(context)
    assert isinstance(source, OpcUaSource) and source.pki is not None
    assert (source.pki.root, source.pki.application_uri) == (tmp_path / "pki", "urn:factory-twin:edge:edge-7")


@pytest.mark.parametrize(("policy", "mode", "served"), [
    ("Aes128_Sha256_RsaOaep", "SignAndEncrypt", ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt),
    ("Aes256_Sha256_RsaPss", "SignAndEncrypt", ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt),
    ("Basic256Sha256", "Sign", ua.SecurityPolicyType.Basic256Sha256_Sign),
])
async def test_each_policy_and_mode_collects_from_a_server_serving_only_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, mode: str, served: ua.SecurityPolicyType) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    p = plant(endpoint, security_policy=policy, security_mode=mode, username=USER, password_env=ENV)
    sig = next(iter(p.signals()))
    security = ServerSecurity(certificate=tmp_path / "server" / "cert.der", private_key=tmp_path / "server" / "key.pem",
                              users={USER: PASSWORD}, policies=(served,))
    async with OpcUaMachineServer(endpoint=endpoint, signals=[sig], initial={sig: 1.0}, security=security) as srv:
        rig = Rig(srv, p, tmp_path / "state", security.certificate)
        rig.trust_server()
        source, emitted = rig.source(), Recorder()
        async with running(source.run(emitted)):
            await asyncio.wait_for(source.ready.wait(), 20)
            await srv.write(sig, 6.5, datetime.now(UTC))
            await eventually(lambda: _true(6.5 in emitted.values()), timeout_s=10, interval_s=0.02)


async def test_twin_opcua_browse_works_on_a_secured_server(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Onboarding a secured machine: the same certificate, trust list and user as the edge."""
    rig.trust_server()
    endpoint = rig.plant.connections_of("opcua")["cell-1"].endpoint
    secured = ["--policy", "Basic256Sha256", "--mode", "SignAndEncrypt", "--username", USER, "--password-env", ENV]
    monkeypatch.setenv(ENV, PASSWORD)
    done = await twin(rig.state, "opcua", "browse", endpoint, *secured, "--yaml", "--connection", "cell-1")
    assert done.returncode == 0, done.stderr
    node = rig.server.signals[0].spec.section("opcua").node
    assert node in done.stdout
    monkeypatch.setenv(ENV, "not-the-password")
    done = await twin(rig.state, "opcua", "browse", endpoint, *secured)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "BadUserAccessDenied" in done.stderr and "not-the-password" not in done.stderr
    done = await twin(rig.state, "opcua", "browse", endpoint)  # no security: refused, offers listed
    assert done.returncode != 0 and "Traceback" not in done.stderr
