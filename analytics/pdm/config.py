"""Plant-model configuration of predictive maintenance for one asset (pydantic, extra="forbid").

An asset in the plant file opts in with a `pdm:` section naming which of its signals feed
which features (`FeatureSpec`), the window, and how the streaming service gets a baseline
when no trained model file exists yet:

    cnc-01:
      type: cnc
      pdm:
        vibration: [vibration_rms, bearing_band_energy]
        temperature: [spindle_temp]
        current: motor_current
        load: spindle_load
        window_s: 600
        hop_s: 60
        baseline_windows: 120   # learn from the first 120 windows if no model file exists
        running_signal: spindle_speed   # optional: use readings only while the spindle turns
        running_above: 0

Every key but the signals is optional. `running_signal` restricts the features to one
operating regime: vibration, band energy and temperature of a stopped spindle say nothing
about its bearing, and windows that mix cutting with idling would look anomalous whenever
the idle share changes (regime-dependent features, Jardine, Lin & Banjevic, MSSP 20 (2006)
1483–1510, §4). A reading is used only while the newest value of that signal is above
`running_above` (sample-and-hold, since edge deadbands report changes only).
`regime_signal` goes further for machines that alternate between programs with different
speeds and loads: each value of that signal gets its own baseline, and the features
window restarts when it changes, so one regime's windows are never judged by another's.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analytics.pdm.features import FeatureSpec


class PdmAssetConfig(BaseModel):
    """Which signals of the asset make its features, and how its baseline is obtained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vibration: list[str] = Field(default_factory=list, description="signals with RMS/peak/crest/kurtosis features")
    trend: list[str] = Field(default_factory=list, description="signals with a mean and slope feature")
    temperature: list[str] = Field(default_factory=list, description="signals with a rise-over-ambient feature")
    ambient: str | None = Field(default=None, description="ambient temperature signal, this asset's own")
    current: str | None = Field(default=None, description="motor current signal (for current per unit load)")
    load: str | None = Field(default=None, description="load signal (for current per unit load)")
    window_s: float = Field(default=600.0, gt=0, description="feature window length, seconds of source time")
    hop_s: float = Field(default=60.0, gt=0, description="one feature vector every hop_s")
    baseline_windows: int = Field(default=120, ge=10,
                                  description="windows learnt as healthy when no model file exists")
    component: str = Field(default="", description="named in alerts, e.g. 'spindle bearing'")
    running_signal: str | None = Field(default=None,
                                       description="use readings only while this signal is above running_above")
    running_above: float = Field(default=0.0, description="threshold of running_signal")
    regime_signal: str | None = Field(default=None,
                                      description="a signal naming the operating regime (e.g. the part program); "
                                                  "one baseline per value")
    method: Literal["pca", "mcd", "iforest"] = Field(default="pca", description="detector of a learnt baseline")
    failure_score: float = Field(default=100.0, gt=1,
                                 description="anomaly score (in control-limit units) taken as failure, for RUL")
    dwell: int = Field(default=3, ge=1, description="consecutive windows needed to raise or clear an alert")
    dwell_s: float = Field(default=600.0, ge=0,
                           description="source time a new alert state must persist (at least `dwell` windows); "
                                       "10 min by default, so short hops do not make short dwells")

    @property
    def dwell_windows(self) -> int:
        """Consecutive windows needed to change the alert state: `dwell`, or `dwell_s` worth of hops if longer."""
        return max(self.dwell, math.ceil(self.dwell_s / self.hop_s))

    @model_validator(mode="after")
    def _something(self) -> PdmAssetConfig:
        if not self.feature_spec().signals():
            raise ValueError("names no signals: set at least one of vibration, trend, temperature, current")
        if self.hop_s > self.window_s:
            raise ValueError(f"hop_s ({self.hop_s}) must not exceed window_s ({self.window_s})")
        return self

    def signals(self) -> set[str]:
        """Every signal of the asset this configuration reads (features and the running gate)."""
        names = self.feature_spec().signals()
        names.update(s for s in (self.running_signal, self.regime_signal) if s)
        return names

    def feature_spec(self) -> FeatureSpec:
        """The FeatureSpec this configuration describes."""
        return FeatureSpec(vibration=tuple(self.vibration), trend=tuple(self.trend),
                           temperature=tuple(self.temperature), ambient=self.ambient, current=self.current,
                           load=self.load)
