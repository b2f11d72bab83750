"""The plant-file side of the MQTT device source: a topic and JSONPaths per signal."""

from __future__ import annotations

from jsonpath_ng import parse as parse_jsonpath
from pydantic import BaseModel, ConfigDict, Field, field_validator


class MqttBinding(BaseModel):
    """A signal taken from a JSON payload that a device publishes on an MQTT topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str
    path: str = Field(description="JSONPath of the value in the payload, e.g. $.power_kw")
    timestamp_path: str | None = Field(
        default=None, description="JSONPath of the source timestamp; receive time when absent"
    )

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, v: str) -> str:
        if not v or "+" in v or "#" in v:
            raise ValueError("must be a concrete topic without wildcards (+ or #)")
        return v

    @field_validator("path", "timestamp_path")
    @classmethod
    def _jsonpath(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_jsonpath(v)
            except Exception as exc:  # jsonpath-ng raises several exception types for bad paths
                raise ValueError(f"not a valid JSONPath: {exc}") from None
        return v
