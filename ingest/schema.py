"""Readings → InfluxDB points: the `telemetry` measurement.

    telemetry,site=…,area=…,line=…,asset=…,signal=… value=<float>,text="…",quality="good",status="…" <ns>

Tags are bounded (the plant file enumerates them); everything else is a field. Numbers
and booleans go to the float field `value` (booleans as 1/0, integers as float) so one
field never changes type, which InfluxDB would refuse; strings go to `text`. A Bad
reading without a value still gets a point: its `quality` and `status` fields. The time
is the source timestamp, so a re-delivered reading overwrites itself instead of
duplicating (DESIGN.md §5).
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.influx import FieldValue, to_line, to_ns
from twin.readings import Reading

MEASUREMENT = "telemetry"


def reading_fields(r: Reading) -> dict[str, FieldValue | None]:
    """The fields of one reading's point."""
    value = r.value
    fields: dict[str, FieldValue | None] = {"quality": r.quality.value, "status": r.status}
    if isinstance(value, str):
        fields["text"] = value
    elif isinstance(value, bool):
        fields["value"] = 1.0 if value else 0.0
    elif value is not None:
        fields["value"] = float(value)
    return fields


def telemetry_lines(readings: Iterable[Reading]) -> list[str]:
    """Line protocol for readings."""
    return [
        to_line(MEASUREMENT,
                {"site": r.asset.site, "area": r.asset.area, "line": r.asset.line,
                 "asset": r.asset.asset, "signal": r.signal},
                reading_fields(r), to_ns(r.ts))
        for r in readings
    ]
