"""OPC UA connection security settings: valid combinations, and clear messages for the rest; the PKI folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_agent.sources.opcua.config import OpcUaConnection
from edge_agent.sources.opcua.pki import Pki, PkiError, thumbprint
from twin.errors import ConfigError
from twin.plant import parse_plant

ENDPOINT = "opc.tcp://127.0.0.1:4840"


def connection(**keys: Any) -> OpcUaConnection:
    """A connection parsed as part of a plant file (so errors come as the plant file reports them)."""
    plant = parse_plant({"version": 1, "site": "s",
                         "connections": {"opcua": {"c": {"endpoint": ENDPOINT, **keys}}},
                         "areas": {"a": {"lines": {"l": {"assets": {"m": {"type": "cnc", "signals": {
                             "x": {"opcua": {"connection": "c", "node": "ns=2;s=x"}}}}}}}}}})
    conn: OpcUaConnection = plant.connections_of("opcua")["c"]
    return conn


def refused(**keys: Any) -> str:
    """The plant file's error message for these connection keys."""
    with pytest.raises(ConfigError) as caught:
        connection(**keys)
    return str(caught.value)


def test_no_security_is_the_default_and_anonymous() -> None:
    conn = connection()
    assert (conn.security_policy, conn.security_mode, conn.username, conn.secured) == ("None", "None", None, False)


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
def test_each_policy_works_with_sign_and_sign_and_encrypt(policy: str, mode: str) -> None:
    conn = connection(security_policy=policy, security_mode=mode, username="op",
                      password_env="TWIN_OPCUA_CELL1_PASSWORD")
    assert conn.secured and conn.password_env == "TWIN_OPCUA_CELL1_PASSWORD"


def test_policy_none_with_a_mode_is_refused_naming_both() -> None:
    message = refused(security_mode="SignAndEncrypt")
    assert "security_policy None with security_mode SignAndEncrypt" in message


def test_a_policy_with_mode_none_is_refused() -> None:
    assert "security_policy Basic256Sha256 with security_mode None" in refused(security_policy="Basic256Sha256")


def test_an_unknown_policy_is_refused() -> None:
    assert "security_policy" in refused(security_policy="Basic128Rsa15", security_mode="Sign")


def test_a_password_in_the_plant_file_is_refused() -> None:
    assert "not the password itself" in refused(username="op", password_env="hunter 2!")
    assert "password" in refused(username="op", password="x")  # no such key


def test_username_needs_password_env_and_the_other_way_round() -> None:
    assert "username needs password_env" in refused(username="op")
    assert "password_env is given without username" in refused(password_env="TWIN_X")


def test_user_certificate_and_username_exclude_each_other() -> None:
    cert = {"certificate": "u.der", "private_key": "u.pem"}
    message = refused(security_policy="Basic256Sha256", security_mode="Sign", username="op", password_env="P",
                      user_certificate=cert)
    assert "not both" in message
    assert "needs a security_policy" in refused(user_certificate=cert)
    assert connection(security_policy="Basic256Sha256", security_mode="Sign", user_certificate=cert) \
        .user_certificate is not None


def test_the_old_security_key_is_gone() -> None:
    assert "security" in refused(security="none")


def test_trust_and_reject_move_a_certificate_by_thumbprint_prefix(tmp_path: Path) -> None:
    server = Pki(tmp_path / "server", application_uri="urn:s")
    cert = server.renew()
    edge = Pki(tmp_path / "edge", application_uri="urn:e")
    edge.make_dirs()
    edge.save_rejected(cert)
    thumb = thumbprint(cert)
    assert [c.thumbprint for c in edge.listing("rejected/certs")] == [thumb]
    assert edge.trust(thumb[:8].upper()) == edge.dir("trusted/certs") / f"{thumb}.der"
    assert edge.listing("rejected/certs") == []
    with pytest.raises(PkiError, match="already in trusted/certs"):
        edge.trust(thumb)
    edge.reject(thumb)
    assert [c.thumbprint for c in edge.listing("rejected/certs")] == [thumb]
    with pytest.raises(PkiError, match="too short"):
        edge.trust("ab")


def test_ensure_keeps_a_fitting_certificate_and_replaces_one_for_another_uri(tmp_path: Path) -> None:
    pki = Pki(tmp_path, application_uri="urn:factory-twin:edge:a")
    first = pki.ensure()
    assert pki.ensure() == first
    other = Pki(tmp_path, application_uri="urn:factory-twin:edge:b").ensure()
    assert other != first
