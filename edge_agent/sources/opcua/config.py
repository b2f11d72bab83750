"""The plant-file side of the OPC UA source: a named connection and a node binding per signal."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twin.plant import Ident


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SecurityPolicy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class OpcUaUserCertificate(_Model):
    """An X.509 user identity (OPC UA Part 4 §7.36.5): a certificate and its private key, as paths."""

    certificate: Path = Field(description="user certificate, DER or PEM")
    private_key: Path = Field(description="its private key, PEM or DER")


class OpcUaConnection(_Model):
    """An OPC UA server the edge agent connects to (`connections.opcua.NAME`)."""

    endpoint: str = Field(description="e.g. opc.tcp://192.168.1.10:4840")
    publishing_interval_ms: float = Field(default=100, gt=0)
    security_policy: SecurityPolicy = Field(
        default="None", description="OPC UA security policy (Part 7); None: no signing, no encryption")
    security_mode: SecurityMode = Field(
        default="None", description="message security mode; None exactly when security_policy is None")
    username: str | None = Field(default=None, description="user name identity (else anonymous)")
    password_env: str | None = Field(
        default=None, description="name of the environment variable holding the password (never the password)")
    user_certificate: OpcUaUserCertificate | None = Field(default=None, description="X.509 user identity")
    request_timeout_s: float = Field(
        default=2.0, gt=0, description="how long a request (and the TCP connect) may take before the server "
                                       "counts as away; the session's health is probed every second")
    history_backfill: bool = Field(
        default=True, description="after a reconnect, read the server's history (HistoryRead) to fill the gap")
    history_max_values: int = Field(
        default=10_000, gt=0, description="at most this many values per node read back after one outage; "
                                          "beyond it the rest of the outage is recorded as a gap")

    @field_validator("endpoint")
    @classmethod
    def _opc_tcp(cls, v: str) -> str:
        if not v.startswith("opc.tcp://"):
            raise ValueError("must start with opc.tcp://")
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError("must be the name of an environment variable (e.g. TWIN_OPCUA_CELL1_PASSWORD), "
                             "not the password itself")
        return v

    @model_validator(mode="after")
    def _combinations(self) -> OpcUaConnection:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError(
                f"security_policy {self.security_policy} with security_mode {self.security_mode}: "
                "use both None (no security) or a policy with Sign or SignAndEncrypt")
        if self.username is not None and self.user_certificate is not None:
            raise ValueError("give either username (with password_env) or user_certificate, not both")
        if self.username is not None and self.password_env is None:
            raise ValueError("username needs password_env: the environment variable that holds the password")
        if self.password_env is not None and self.username is None:
            raise ValueError("password_env is given without username")
        if self.user_certificate is not None and self.security_policy == "None":
            # The server's proof of the user key is signed over the channel's nonce (Part 4 §5.6.3).
            raise ValueError("user_certificate needs a security_policy other than None")
        return self

    @property
    def secured(self) -> bool:
        """Whether messages are signed (and maybe encrypted)."""
        return self.security_policy != "None"


class OpcUaBinding(_Model):
    """A signal read from an OPC UA node through a subscription."""

    connection: Ident
    node: str = Field(description="node id, e.g. ns=2;s=cnc-01.spindle_speed")
