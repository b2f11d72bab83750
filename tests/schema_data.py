"""Schema fixture: points for the measurements whose services are still being built.

`spc`, `capability`, `health`, `energy` and `alerts` are written here exactly as
docs/schema.md specifies them (tags, field names, float fields, time = source time of
what the point describes), with twin.influx.to_line, so the dashboard queries can be
verified before the SPC, PdM, energy and alert services exist. When those services land,
the dashboard test should run them instead of this module (the lead switches it).
`telemetry` and `pipeline` never come from here: the real pipeline writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from twin.influx import to_line, to_ns


@dataclass(frozen=True, slots=True)
class AssetTags:
    """The ISA-95 tags of one asset."""

    site: str
    area: str
    line: str
    asset: str

    def tags(self, **extra: str) -> dict[str, str]:
        """Tags of a point about this asset, plus measurement-specific ones."""
        return {"site": self.site, "area": self.area, "line": self.line, "asset": self.asset, **extra}


# The example plant (examples/plant.yaml): one machine and its energy meter.
CNC = AssetTags("demo-plant", "machining", "line-1", "cnc-01")
METER = AssetTags("demo-plant", "machining", "line-1", "meter-cnc-01")

# Characteristic → (chart, subgroup size, target, sigma of the plotted statistic).
CHARACTERISTICS = {
    "bore_diameter": ("xbar-r", 5.0, 12.000, 0.004),
    "surface_roughness": ("imr", 1.0, 0.80, 0.05),
}


def spc_lines(asset: AssetTags, now: datetime, *, points: int = 40,
              every: timedelta = timedelta(minutes=5)) -> list[str]:
    """Control-chart points per characteristic; every tenth breaks Nelson rule 1, so violations exist."""
    lines = []
    for characteristic, (chart, n, cl, sigma) in CHARACTERISTICS.items():
        for i in range(points):
            ts = now - every * (points - i)
            rule_1 = i % 10 == 9
            value = cl + (3.5 * sigma if rule_1 else sigma * math.sin(i / 3))
            rng = 2.326 * sigma  # d2 for n=5 (ASTM E2587 table); any positive range will do
            lines.append(to_line("spc", asset.tags(characteristic=characteristic, chart=chart), {
                "value": value, "cl": cl, "ucl": cl + 3 * sigma, "lcl": cl - 3 * sigma,
                "range_value": rng * (1 + 0.2 * math.cos(i)), "range_cl": rng,
                "range_ucl": 2.114 * rng, "range_lcl": 0.0,
                "violation": "nelson_1" if rule_1 else "", "violations": 1.0 if rule_1 else 0.0,
                "n": n, "serial": f"SN-{characteristic[:4].upper()}-{i:05d}",
            }, to_ns(ts)))
    return lines


def capability_lines(asset: AssetTags, now: datetime, *, points: int = 6) -> list[str]:
    """Capability indices per characteristic, recomputed every half hour."""
    lines = []
    for characteristic, (_chart, _n, target, sigma) in CHARACTERISTICS.items():
        lsl, usl = target - 5 * sigma, target + 5 * sigma
        for i in range(points):
            cpk = 1.45 + 0.02 * i
            lines.append(to_line("capability", asset.tags(characteristic=characteristic), {
                "cp": 1.67, "cpk": cpk, "pp": 1.6, "ppk": cpk - 0.05, "cpm": 1.5,
                "cpk_low": cpk - 0.15, "cpk_high": cpk + 0.15, "n": 125.0, "mean": target + sigma / 10,
                "sigma_within": sigma, "sigma_overall": sigma * 1.05, "normality_p": 0.42,
                "lsl": lsl, "usl": usl,
            }, to_ns(now - timedelta(minutes=30) * (points - i))))
    return lines


def health_lines(asset: AssetTags, now: datetime, *, points: int = 60) -> list[str]:
    """A slowly degrading machine: health index falling, anomaly rising, RUL shrinking."""
    lines = []
    for i in range(points):
        health = 95.0 - 0.6 * i
        state = "normal" if health > 80 else "warning" if health > 50 else "alarm"
        rul = 400.0 - 4.0 * i
        lines.append(to_line("health", asset.tags(), {
            "health_index": health, "anomaly_score": 0.1 + 0.01 * i, "rul_hours": rul,
            "rul_low_hours": rul * 0.8, "rul_high_hours": rul * 1.2, "state": state,
            "model_version": "fixture-1",
        }, to_ns(now - timedelta(minutes=5) * (points - i))))
    return lines


def energy_lines(assets: list[AssetTags], now: datetime, *, hours: int = 48) -> list[str]:
    """Hourly and daily rollups; the current hour is included so "today" always has data."""
    lines = []
    hour0 = now.replace(minute=0, second=0, microsecond=0)
    for asset in assets:
        for h in range(hours):
            start = hour0 - timedelta(hours=hours - 1 - h)
            kwh = 12.0 + 3.0 * math.sin(h / 4)
            parts = 0.0 if h % 24 == 3 else 40.0  # an hour without good parts, as after a breakdown
            lines.append(to_line("energy", asset.tags(period="hour"), {
                "energy_kwh": kwh, "cost_cny": kwh * 0.85, "co2e_kg": kwh * 0.5703,  # China grid factor 2022
                "idle_kwh": 1.5, "good_parts": parts, "kwh_per_good_part": kwh / parts if parts else None,
                "expected_kwh": 12.0, "deviation_pct": (kwh - 12.0) / 12.0 * 100, "gap": 1.0 if h == 10 else 0.0,
            }, to_ns(start)))
        day = hour0.replace(hour=0)
        lines.append(to_line("energy", asset.tags(period="day"), {
            "energy_kwh": 288.0, "cost_cny": 244.8, "co2e_kg": 164.2, "idle_kwh": 36.0, "good_parts": 920.0,
            "kwh_per_good_part": 288.0 / 920.0, "expected_kwh": 288.0, "deviation_pct": 0.0, "gap": 0.0,
        }, to_ns(day)))
    return lines


def alert_lines(asset: AssetTags, now: datetime) -> list[str]:
    """One alert that fired and resolved, one still firing, one acknowledged."""
    def event(kind: str, severity: str, source: str, state: str, minutes_ago: int, message: str,
              by: str | None = None) -> str:
        return to_line("alerts", asset.tags(kind=kind, severity=severity, source=source), {
            "message": message, "state": state, "key": f"{source}:{asset.asset}:{kind}",
            "alert_id": f"{source}-{kind}-1", "by": by,
        }, to_ns(now - timedelta(minutes=minutes_ago)))

    return [
        event("nelson_1", "warning", "spc", "firing", 90, "bore_diameter beyond 3 sigma"),
        event("nelson_1", "warning", "spc", "resolved", 60, "bore_diameter back in control"),
        event("health_low", "critical", "pdm", "firing", 30, "health index below 70"),
        event("energy_deviation", "info", "energy", "firing", 20, "energy 25 % above baseline"),
        event("energy_deviation", "info", "energy", "acknowledged", 10, "energy 25 % above baseline", by="li.wei"),
    ]


def all_lines(now: datetime) -> list[str]:
    """Every schema-fixture point for the example plant."""
    return [*spc_lines(CNC, now), *capability_lines(CNC, now), *health_lines(CNC, now),
            *energy_lines([CNC, METER], now), *alert_lines(CNC, now)]
