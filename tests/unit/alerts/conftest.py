"""Fixtures for alert unit tests: a manual clock and a manager on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.alerts.config import AlertsConfig, parse_config
from analytics.alerts.manager import AlertManager
from analytics.alerts.store import AlertStore
from twin.events import AlertEvent, EventState, Severity
from twin.topics import AssetPath

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ASSET = AssetPath("plant1", "machining", "line1", "cnc-01")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def event(state: str = "firing", *, key: str = "spc:bore:nelson_1", asset: AssetPath = ASSET,
          severity: str = "warning", ts: datetime = T0, kind: str = "nelson_1") -> AlertEvent:
    """An SPC-like alert event."""
    return AlertEvent(asset, "spc", kind, Severity(severity), EventState(state), key, "bore beyond 3σ", ts)


BASE: dict[str, Any] = {
    "channels": {"mail": {"url": "mailto://localhost?to=a@example.com"},
                 "lead": {"url": "json://localhost/lead"}},
    "routes": [{"name": "all", "escalation": [{"after_s": 0, "channels": ["mail"]},
                                               {"after_s": 60, "channels": ["lead"]}]}],
    "hysteresis": {"min_firing_s": 0, "clear_hold_s": 0, "refire_holdoff_s": 300},
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_manager(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., AlertManager]]:
    """Build managers on one SQLite file (a second call is a 'restart')."""
    stores: list[AlertStore] = []

    def make(**overrides: Any) -> AlertManager:
        raw = {**BASE, **overrides}
        config: AlertsConfig = parse_config(raw)
        store = AlertStore(tmp_path / "alerts.db").__enter__()
        stores.append(store)
        return AlertManager(store, config, clock=clock)

    yield make
    for s in stores:
        s.__exit__(None, None, None)


API_TOKENS = "viewer1:viewer:view-token-1,alice:maintainer:maint-token-1,ops:admin:admin-token-1"
"""A viewer, a maintainer and an admin for the HTTP API tests."""


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def outbox(manager: AlertManager, alert_id: int) -> list[tuple[str, str]]:
    """(channel, event) of every notification recorded for an alert."""
    return [(d.channel, d.event) for d in manager.store.deliveries(alert_id)]
