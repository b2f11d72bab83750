"""Configuration models (pydantic, extra="forbid") for meters, tariffs, factors and green contracts.

These validate at the edge — a plant file section or a YAML file — and convert to the plain
frozen dataclasses the computation uses (`to_tariff()`, `to_settings()` ...), so nothing
inside the package depends on pydantic. The plant model embeds `EnergyConfig` as its
`energy:` section; `EnergyConfig.check_references` checks it against the plant's assets.

Attribution: `MeterConfig.asset` names the **meter** asset, whose `signal` is read. The
energy is attributed to the machine that meter's `meters:` link names in the plant file
(no link: to the meter asset itself, e.g. a main feeder meter). The machine's `state`
signal gives idle energy, its gauge (the asset whose `measures:` names it) or its
`part_count` gives good parts (analytics/energy/README.md, "Streaming service").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analytics.energy.carbon import EmissionFactor, GreenSupply
from analytics.energy.counters import DEFAULT_MAX_INTERVAL_S, CounterSettings
from analytics.energy.errors import ConfigError
from analytics.energy.tariffs import DEFAULT_TZ, Period, Tariff, window
from twin.errors import ConfigError as TwinConfigError
from twin.timezones import zone
from twin.yamlfile import read_yaml

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineConfig(_Model):
    """An ISO 50001 energy baseline of one machine, per hour: E = intercept + kWh/part × good parts.

    Give both coefficients (fitted offline, e.g. with `fit_baseline` over a reference year),
    or neither: then the service fits them over the first `reference_hours` complete hours
    it sees and freezes them (a reference that kept learning would absorb the very drift it
    should show).
    """

    intercept_kwh_per_h: float | None = Field(default=None, description="energy per hour at zero production")
    kwh_per_good_part: float | None = Field(default=None, description="marginal energy per good part")
    reference_hours: int = Field(default=8, ge=3, description="complete hours to fit over when not given")
    deviation_limit_pct: float = Field(default=20.0, gt=0,
                                       description="an hour this far above or below expected is a finding")
    min_expected_kwh: float = Field(default=0.1, ge=0, description="no deviation finding below this expectation")

    @model_validator(mode="after")
    def _both_or_none(self) -> BaselineConfig:
        if (self.intercept_kwh_per_h is None) != (self.kwh_per_good_part is None):
            raise ValueError("give both intercept_kwh_per_h and kwh_per_good_part, or neither (fitted online)")
        return self


class EnvironmentLimitConfig(_Model):
    """Limits on one environment signal (temperature, humidity) of one sensor asset, with hysteresis.

    Above `high` (or below `low`) fires; the event clears once the value is back inside the
    limits by at least `deadband`, so a value hovering at a limit does not flap.
    """

    asset: str = Field(description="sensor asset id")
    signal: str = Field(description="signal name, e.g. temp_c or humidity_pct")
    high: float | None = None
    low: float | None = None
    deadband: float = Field(default=0.0, ge=0, description="hysteresis in the signal's unit")
    severity: Literal["info", "warning", "critical"] = "warning"

    @model_validator(mode="after")
    def _limits(self) -> EnvironmentLimitConfig:
        if self.high is None and self.low is None:
            raise ValueError("give high, low or both")
        if self.high is not None and self.low is not None and not self.low + self.deadband < self.high - self.deadband:
            raise ValueError(f"low ({self.low}) + deadband must stay below high ({self.high}) - deadband")
        return self


class MeterConfig(_Model):
    """One energy meter and how to read it."""

    asset: str = Field(description="the meter asset whose signal is read; its `meters:` link names the machine charged")
    signal: str = Field(default="energy_kwh", description="signal carrying the value")
    kind: Literal["counter", "power"] = Field(default="counter", description="cumulative kWh counter or kW")
    line: str | None = None
    counter_max_kwh: float | None = Field(default=None, gt=0, description="largest register value, e.g. 999999.9")
    resolution_kwh: float = Field(default=0.1, ge=0, description="register step (roll-over adds one step)")
    reset_near_zero_kwh: float = Field(default=1.0, ge=0)
    max_interval_s: float = Field(default=DEFAULT_MAX_INTERVAL_S, gt=0, description="longer spacing is a gap")
    standby_threshold_kw: float | None = Field(default=None, ge=0, description="idle above this is waste")
    waste_min_duration_s: float = Field(default=600.0, gt=0)
    air_leak_loaded_kw: float | None = Field(
        default=None, ge=0, description="for a compressor's meter: above this it is loaded; loaded while no "
                                        "machine of the plant runs is a compressed-air leak finding")
    air_leak_min_duration_s: float = Field(default=1800.0, gt=0)
    baseline: BaselineConfig | None = Field(
        default_factory=BaselineConfig,
        description="ISO 50001 EnB of the metered machine (default: fitted over the first complete hours); "
                    "null for none")

    def to_settings(self) -> CounterSettings:
        """The counter settings for `CounterIntegrator`."""
        return CounterSettings(counter_max_kwh=self.counter_max_kwh, resolution_kwh=self.resolution_kwh,
                               reset_near_zero_kwh=self.reset_near_zero_kwh, max_interval_s=self.max_interval_s)


class TariffWindowConfig(_Model):
    """A daily window of a period: 'HH:MM' to 'HH:MM' local time, optionally some months."""

    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)
    period: Period
    months: list[int] = Field(default_factory=list)

    @field_validator("months")
    @classmethod
    def _months_valid(cls, v: list[int]) -> list[int]:
        if any(m < 1 or m > 12 for m in v):
            raise ValueError(f"months must be 1..12, got {v}")
        return v


class TariffConfig(_Model):
    """A time-of-use tariff."""

    name: str
    timezone: str = DEFAULT_TZ
    currency: Literal["CNY"] = "CNY"
    source: str = ""
    prices_cny_per_kwh: dict[Period, float]
    default_period: Period = Period.FLAT
    windows: list[TariffWindowConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz_valid(cls, v: str) -> str:
        zone(v)  # UnknownTimeZone is a ValueError: a field error naming the key
        return v

    def to_tariff(self) -> Tariff:
        """The `Tariff` this config describes."""
        return Tariff(
            name=self.name, timezone=self.timezone, source=self.source, default_period=self.default_period,
            prices_cny_per_kwh=dict(self.prices_cny_per_kwh),
            windows=tuple(window(w.start, w.end, w.period, w.months) for w in self.windows),
        )


class FactorOverride(_Model):
    """A plant's own value for a factor of the table (e.g. a provincial factor, a supplier's)."""

    value: float = Field(ge=0)
    unit: str | None = None
    year: int | None = None
    source: str = Field(min_length=1, description="where the value comes from (required: auditable)")


class GreenContractConfig(_Model):
    """Green electricity covering part of the consumption (market-based Scope 2).

    `kind`: `gec` green electricity certificates (绿证), `green_power_trade` (绿电交易),
    `ppa` a direct contract, `onsite` own solar. Give `energy_kwh` (contracted per month) or
    `share` (fraction of consumption); `factor_kg_per_kwh` is 0 for renewables unless the
    contract states otherwise.
    """

    name: str
    kind: Literal["gec", "green_power_trade", "ppa", "onsite"] = "gec"
    energy_kwh: float | None = Field(default=None, ge=0)
    share: float | None = Field(default=None, ge=0, le=1)
    factor_kg_per_kwh: float = Field(default=0.0, ge=0)
    months: list[str] = Field(default_factory=list, description="'YYYY-MM' months it covers; empty = all")

    @model_validator(mode="after")
    def _one_amount(self) -> GreenContractConfig:
        if (self.energy_kwh is None) == (self.share is None):
            raise ValueError("give exactly one of energy_kwh or share")
        return self

    def to_supply(self) -> GreenSupply:
        """The `GreenSupply` this config describes."""
        return GreenSupply(name=self.name, kind=self.kind, energy_kwh=self.energy_kwh, share=self.share,
                           factor_kg_per_kwh=self.factor_kg_per_kwh, months=frozenset(self.months))


class EnergyConfig(_Model):
    """The energy section of a plant: meters, tariff, factor choice and overrides, green contracts."""

    timezone: str = DEFAULT_TZ
    meters: list[MeterConfig] = Field(default_factory=list)
    tariff: TariffConfig | None = None
    location_factor: str = Field(default="cn_national_2023", description="factor id for location-based Scope 2")
    residual_factor: str | None = Field(default=None, description="factor id for the residual kWh (market-based)")
    factor_overrides: dict[str, FactorOverride] = Field(default_factory=dict)
    green_contracts: list[GreenContractConfig] = Field(default_factory=list)
    environment: list[EnvironmentLimitConfig] = Field(
        default_factory=list, description="temperature / humidity limits per sensor asset and signal")

    @field_validator("meters")
    @classmethod
    def _unique_meters(cls, v: list[MeterConfig]) -> list[MeterConfig]:
        seen: set[tuple[str, str]] = set()
        for i, m in enumerate(v):
            if (m.asset, m.signal) in seen:
                raise ValueError(f"meters[{i}]: {m.asset}.{m.signal} is configured twice (would count twice)")
            seen.add((m.asset, m.signal))
        return v

    def check_references(self, signals: Mapping[str, Collection[str]], meters: Mapping[str, str | None]) -> None:
        """Check the section against the plant: `signals` maps asset id → its signal names, `meters`
        asset id → its `meters:` link. ValueError names the entry at fault (plant validation calls this).
        """
        machines: dict[str, int] = {}
        for i, m in enumerate(self.meters):
            where = f"energy.meters[{i}]"
            if m.asset not in signals:
                raise ValueError(f"{where}.asset: unknown asset {m.asset!r} (name the meter asset, whose "
                                 f"`meters:` link names the machine)")
            if m.signal not in signals[m.asset]:
                raise ValueError(f"{where}.signal: {m.asset!r} has no signal {m.signal!r}")
            machine = meters.get(m.asset) or m.asset
            if machine in machines:
                raise ValueError(f"{where}.asset: {machine!r} is already metered by energy.meters[{machines[machine]}]")
            machines[machine] = i
        for i, e in enumerate(self.environment):
            where = f"energy.environment[{i}]"
            if e.asset not in signals:
                raise ValueError(f"{where}.asset: unknown asset {e.asset!r}")
            if e.signal not in signals[e.asset]:
                raise ValueError(f"{where}.signal: {e.asset!r} has no signal {e.signal!r}")

    def overrides(self) -> dict[str, EmissionFactor]:
        """Factor overrides as `EmissionFactor`s keyed by id (merged by `FactorTable.with_overrides`)."""
        return {k: EmissionFactor(id=k, value=o.value, unit=o.unit or "", year=o.year, source=o.source,
                                  scope="override") for k, o in self.factor_overrides.items()}


def _read(path: Path, what: str) -> object:
    try:
        return read_yaml(path, what=what)
    except TwinConfigError as exc:  # a folder, binary, unreadable or not YAML: the package's own error
        raise ConfigError(str(exc)) from None


def load_tariff(path: str | Path) -> Tariff:
    """Read a tariff YAML file (see tariff_example.yaml)."""
    p = Path(path)
    try:
        return TariffConfig.model_validate(_read(p, "tariff file")).to_tariff()
    except ValidationError as exc:
        raise ConfigError(f"{p}: invalid tariff:\n{exc}") from exc


def load_energy_config(path: str | Path) -> EnergyConfig:
    """Read an energy configuration YAML file."""
    p = Path(path)
    try:
        return EnergyConfig.model_validate(_read(p, "energy config"))
    except ValidationError as exc:
        raise ConfigError(f"{p}: invalid energy config:\n{exc}") from exc


EXAMPLE_TARIFF_PATH = Path(__file__).with_name("tariff_example.yaml")
