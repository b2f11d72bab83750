"""Counters and gauges a service exposes about itself (for the demo's live status and for logs)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Monotonic counters, point-in-time gauges, and per-signal counts of one component."""

    component: str
    counters: Counter[str] = field(default_factory=Counter)
    gauges: dict[str, float] = field(default_factory=dict)
    signals: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, n: int = 1) -> None:
        """Add n to a counter."""
        self.counters[name] += n

    def gauge(self, name: str, value: float) -> None:
        """Set a gauge."""
        self.gauges[name] = value
