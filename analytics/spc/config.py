"""Plant-model configuration of SPC for one quality characteristic (pydantic, extra="forbid").

The plant model (twin/plant.py) can carry one `CharacteristicSpc` per characteristic:

    spc:
      chart: xbar-r
      subgroup_size: 5
      rules: nelson            # or "we", "none", or a list such as [nelson1, nelson2, we4]
      lsl: 9.95
      usl: 10.05
      target: 10.0
      baseline_points: 25      # Phase I warm-up, in chart points (Montgomery: 20–25 subgroups)
      products:
        P-200: {lsl: 19.9, usl: 20.1, target: 20.0, center: 20.0, sigma: 0.02}

`center` and `sigma` are *known* process parameters (for attributes charts `center` is the
standard p, c or u); when they are missing the streaming evaluator estimates them from the
first `baseline_points` chart points (Phase I) and then freezes them. `target` is the
nominal value used for Cpm; it is not the chart's centre unless `center` says so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.spc.errors import SpcConfigError
from analytics.spc.phase1 import ATTRIBUTES_CHARTS, ChartSpec
from analytics.spc.rules import parse_rules

ChartKind = Literal["imr", "xbar-r", "xbar-s", "ewma", "cusum", "p", "np", "c", "u"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EwmaSettings(_Model):
    """EWMA design: λ and L (defaults give ARL₀ ≈ 500, Lucas & Saccucci 1990) and the limit form."""

    lam: float = Field(default=0.1, gt=0, le=1, description="smoothing constant λ")
    L: float = Field(default=2.814, gt=0, description="limit width in σ of the EWMA statistic")
    limits: Literal["exact", "asymptotic"] = "exact"


class CusumSettings(_Model):
    """Tabular CUSUM design in σ units (defaults k = 0.5, h = 5: ARL₀ ≈ 465, Montgomery ch. 9)."""

    k: float = Field(default=0.5, ge=0, description="reference value, in σ")
    h: float = Field(default=5.0, gt=0, description="decision interval, in σ")
    headstart: float = Field(default=0.0, ge=0, lt=1, description="fast initial response, fraction of H (0.5 is usual)")


class SpecLimits(_Model):
    """Spec limits, target and known process parameters; shared by the default and per-product entries."""

    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    center: float | None = Field(default=None, description="known process mean (or standard p, c, u); else Phase I")
    sigma: float | None = Field(default=None, gt=0, description="known within-subgroup σ; else Phase I")

    @model_validator(mode="after")
    def _ordered(self) -> SpecLimits:
        if self.lsl is not None and self.usl is not None and not self.lsl < self.usl:
            raise ValueError(f"lsl ({self.lsl}) must be below usl ({self.usl})")
        return self


class CharacteristicSpc(SpecLimits):
    """How one characteristic is charted: chart type, subgroup size, rules, specs, per-product overrides."""

    chart: ChartKind
    subgroup_size: int = Field(default=1, ge=1, description="measurements per subgroup (np: units per sample)")
    rules: str | list[str] = "nelson"
    L: float | None = Field(default=None, gt=0, description="Shewhart limit width in σ (default 3)")
    ewma: EwmaSettings = Field(default_factory=EwmaSettings)
    cusum: CusumSettings = Field(default_factory=CusumSettings)
    baseline_points: int = Field(default=25, ge=2, description="Phase I chart points when center/sigma unknown")
    products: dict[str, SpecLimits] = Field(default_factory=dict)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: str | list[str]) -> str | list[str]:
        try:
            parse_rules(v)
        except SpcConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CharacteristicSpc:
        n = self.subgroup_size
        if self.chart in ("xbar-r", "xbar-s") and not 2 <= n <= 25:
            raise ValueError(f"{self.chart} needs subgroup_size between 2 and 25, got {n}")
        if self.chart in ("imr", "ewma", "cusum") and n != 1:
            raise ValueError(f"{self.chart} charts individual measurements: subgroup_size must be 1, got {n}")
        if self.chart in ATTRIBUTES_CHARTS:
            for where, lim in [("", self), *((f"products.{k}.", v) for k, v in self.products.items())]:
                if lim.sigma is not None:
                    raise ValueError(f"{where}sigma has no meaning for a {self.chart} chart; set center instead")
                if self.chart in ("p", "np") and lim.center is not None and not 0 < lim.center < 1:
                    raise ValueError(f"{where}center is the standard fraction nonconforming: 0 < p < 1")
        return self

    def for_product(self, product: str | None) -> CharacteristicSpc:
        """This configuration with the product's overrides applied (unknown products use the defaults)."""
        if product is None or product not in self.products:
            return self
        override = self.products[product].model_dump(exclude_unset=True)
        # Re-validate the merged model so e.g. a product's lsl is checked against the default usl.
        return CharacteristicSpc.model_validate({**self.model_dump(), **override})

    def chart_spec(self) -> ChartSpec:
        """The plain ChartSpec the analytics core works with."""
        rules = self.rules if isinstance(self.rules, str) else tuple(self.rules)
        width = self.ewma.L if self.chart == "ewma" else self.L
        return ChartSpec(kind=self.chart, L=width, rules=rules, lam=self.ewma.lam, ewma_limits=self.ewma.limits,
                         k=self.cusum.k, h=self.cusum.h, headstart=self.cusum.headstart)
