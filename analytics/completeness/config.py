"""The `completeness:` section of a signal: how often it should arrive, and when silence is an alert.

    signals:
      spindle_speed:
        opcua: {connection: cell-1, node: "ns=2;s=cnc-01.spindle_speed"}
        completeness: {interval_s: 1.0}          # one sample a second expected
      power_kw:
        mqtt: {topic: devices/meters/cnc-01, path: $.power_kw}
        completeness: {interval_s: 5.0, silent_after_s: 60}

Only signals that say how often they arrive can be counted: with report-by-exception
(OPC UA data-change subscriptions, deadbands) an unchanged value sends nothing, so such
signals should not declare an interval — silence is then not a gap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SignalCompleteness(BaseModel):
    """Expected arrival of one signal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval_s: float = Field(gt=0, le=86400, description="expected time between two samples (sampling rate⁻¹)")
    window_s: float = Field(default=60.0, gt=0, le=86400, description="expected vs received is counted per window")
    silent_after_s: float | None = Field(
        default=None, gt=0, le=7 * 86400,
        description="alert when nothing arrived for this long (default: 10 intervals, at least 10 s)")

    @model_validator(mode="after")
    def _window_holds_samples(self) -> SignalCompleteness:
        if self.window_s < self.interval_s:
            raise ValueError(f"window_s ({self.window_s}) must be at least interval_s ({self.interval_s})")
        return self

    @property
    def silence_s(self) -> float:
        """How long without a sample before the signal counts as silent."""
        return self.silent_after_s if self.silent_after_s is not None else max(10.0, 10 * self.interval_s)

    @property
    def expected_per_window(self) -> float:
        """Samples a window should hold."""
        return self.window_s / self.interval_s
