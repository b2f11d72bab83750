"""The project's MQTT topic scheme (a Unified Namespace), in one place.

    twin/v1/{site}/{area}/{line}/{asset}/{kind}      kind: telemetry | parts | state | alerts
    twin/v1/_sys/edge/{agent_id}/status              retained edge-agent status, with a last will
    twin/v1/_sys/edge/{agent_id}/ack                 ingest → edge: these messages are in the database
    twin/v1/_sys/ingest/{worker_id}/state            retained ingest state (online/offline, last will)
    twin/v1/_sys/deadletter/{component}              unparseable input, with the reason

Identifiers may not contain MQTT wildcards or separators (the plant model checks this),
so a topic can always be split back into its parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ROOT: Final = "twin/v1"
SYS: Final = f"{ROOT}/_sys"
KINDS: Final = ("telemetry", "parts", "state", "alerts")


@dataclass(frozen=True, slots=True)
class AssetPath:
    """An asset's place in the ISA-95 hierarchy: site / area / line / asset."""

    site: str
    area: str
    line: str
    asset: str

    def __str__(self) -> str:
        return f"{self.site}/{self.area}/{self.line}/{self.asset}"

    @classmethod
    def parse(cls, text: str) -> AssetPath:
        """Parse 'site/area/line/asset'."""
        parts = text.split("/")
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"asset path must be 'site/area/line/asset', got {text!r}")
        return cls(*parts)


def asset_topic(path: AssetPath, kind: str) -> str:
    """Topic on which data of `kind` for one asset is published."""
    if kind not in KINDS:
        raise ValueError(f"unknown topic kind {kind!r}; expected one of {KINDS}")
    return f"{ROOT}/{path}/{kind}"


def parse_asset_topic(topic: str) -> tuple[AssetPath, str]:
    """Split an asset topic into its asset path and kind; ValueError if it is not one."""
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != ROOT or parts[2].startswith("_"):
        raise ValueError(f"not an asset topic: {topic!r}")
    if parts[6] not in KINDS:
        raise ValueError(f"unknown kind {parts[6]!r} in topic {topic!r}")
    return AssetPath(*parts[2:6]), parts[6]


def subscription(kind: str, site: str = "+") -> str:
    """Wildcard filter for one kind of data from every asset of a site (or all sites)."""
    return f"{ROOT}/{site}/+/+/+/{kind}"


def shared(group: str, topic_filter: str) -> str:
    """MQTT v5 shared subscription, so N workers split one stream (DESIGN.md §8)."""
    return f"$share/{group}/{topic_filter}"


def edge_status(agent_id: str) -> str:
    """Retained status topic of an edge agent (its last will marks it offline)."""
    return f"{SYS}/edge/{agent_id}/status"


def edge_ack(agent_id: str) -> str:
    """Where ingest tells an edge agent which of its messages are in the database (end-to-end ack)."""
    return f"{SYS}/edge/{agent_id}/ack"


def ingest_state(worker_id: str = "+") -> str:
    """Retained state of an ingest worker (the primary host the edge waits for); '+' for all."""
    return f"{SYS}/ingest/{worker_id}/state"


def deadletter(component: str) -> str:
    """Dead-letter topic of one component (e.g. 'edge.agent-1', 'ingest')."""
    return f"{SYS}/deadletter/{component}"
