"""The plant-file side of the OPC UA source: a named connection and a node binding per signal."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twin.plant import Ident


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpcUaConnection(_Model):
    """An OPC UA server the edge agent connects to (`connections.opcua.NAME`)."""

    endpoint: str = Field(description="e.g. opc.tcp://192.168.1.10:4840")
    publishing_interval_ms: float = Field(default=100, gt=0)
    security: Literal["none"] = "none"
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


class OpcUaBinding(_Model):
    """A signal read from an OPC UA node through a subscription."""

    connection: Ident
    node: str = Field(description="node id, e.g. ns=2;s=cnc-01.spindle_speed")
