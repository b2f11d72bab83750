"""Carbon accounting: Scope 2 (location- and market-based) for electricity, Scope 1 for fuels.

The factor table (`factors.yaml`, next to this module) holds every factor with its value,
unit, data year and source; a plant overrides any of them by id.

Formulas (GHG Protocol Corporate Standard and its Scope 2 Guidance, 2015):

* location-based:  co2e_kg = energy_kwh × grid factor (kgCO2/kWh)
* market-based:    green supply covers part of the kWh at its contract factor (0 for
  renewables with certificates or green-power trades); the rest is the *residual* at a
  residual factor. China publishes no residual-mix factor, so — as the Scope 2 Guidance
  allows when no residual mix exists — the default residual factor is the location-based
  grid factor in use. That double-counts the green kWh that others claimed (which makes
  the market-based figure conservative, never flattering); a plant with a better residual
  value configures it (`EnergyConfig.residual_factor` or an override).
* Scope 1 (stationary combustion): co2e_kg = fuel × net calorific value × CO2 factor per TJ
  (IPCC 2006 Vol. 2 Ch. 2, Tier 1, oxidation factor 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from analytics.energy.errors import ConfigError

FACTORS_PATH = Path(__file__).with_name("factors.yaml")

#: Units the table may use for electricity factors, and their multiplier to kgCO2/kWh.
#: 1 tCO2/MWh = 1000 kg / 1000 kWh = 1 kg/kWh.
_ELECTRICITY_UNITS: Mapping[str, float] = {"kgCO2/kWh": 1.0, "tCO2/MWh": 1.0, "gCO2/kWh": 0.001}


@dataclass(frozen=True, slots=True)
class EmissionFactor:
    """One factor of the table: value in `unit`, with its data year and source."""

    id: str
    value: float
    unit: str
    year: int | None
    source: str
    scope: str = ""
    region: str = ""

    @property
    def kg_per_kwh(self) -> float:
        """The value as kgCO2/kWh (electricity factors only)."""
        try:
            return self.value * _ELECTRICITY_UNITS[self.unit]
        except KeyError:
            raise ConfigError(f"factor {self.id!r} has unit {self.unit!r}, not an electricity factor "
                              f"({', '.join(_ELECTRICITY_UNITS)})") from None


@dataclass(frozen=True)
class FactorTable:
    """All factors by id; `with_overrides` returns a new table with plant values."""

    factors: Mapping[str, EmissionFactor]

    @classmethod
    def load(cls, path: str | Path | None = None) -> FactorTable:
        """Read a factor table (default: the shipped factors.yaml)."""
        p = Path(path) if path is not None else FACTORS_PATH
        try:
            data: dict[str, dict[str, dict[str, Any]]] = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{p}: cannot read factor table: {exc}") from exc
        factors: dict[str, EmissionFactor] = {}
        for scope, entries in data.items():
            for fid, e in entries.items():
                missing = [k for k in ("value", "unit", "source") if k not in e]
                if missing:
                    raise ConfigError(f"{p}: factor {fid!r} lacks {', '.join(missing)}")
                factors[fid] = EmissionFactor(id=fid, value=float(e["value"]), unit=str(e["unit"]),
                                              year=e.get("year"), source=str(e["source"]), scope=scope,
                                              region=str(e.get("region", "")))
        return cls(factors)

    def get(self, factor_id: str) -> EmissionFactor:
        """The factor with this id; ConfigError naming the known ids if absent."""
        try:
            return self.factors[factor_id]
        except KeyError:
            raise ConfigError(f"unknown emission factor {factor_id!r}; known: {', '.join(sorted(self.factors))}") \
                from None

    def with_overrides(self, overrides: Mapping[str, EmissionFactor | float]) -> FactorTable:
        """A copy where the plant's values replace (or add) factors.

        A bare float keeps the unit of the table's entry and records the source as a plant override.
        """
        merged = dict(self.factors)
        for fid, o in overrides.items():
            if isinstance(o, EmissionFactor):
                base = merged.get(fid)
                unit = o.unit or (base.unit if base else "")
                if not unit:
                    raise ConfigError(f"override of new factor {fid!r} needs a unit")
                merged[fid] = replace(o, id=fid, unit=unit, scope=o.scope or "override")
            else:
                base = self.get(fid)
                merged[fid] = replace(base, value=float(o), source="plant override", scope="override")
        return FactorTable(merged)


def scope2_location_kg(energy_kwh: float, factor_kg_per_kwh: float) -> float:
    """Location-based Scope 2: energy × grid factor."""
    return energy_kwh * factor_kg_per_kwh


@dataclass(frozen=True, slots=True)
class GreenSupply:
    """Green electricity covering part of the consumption: `energy_kwh` per month or a `share`.

    `months` are 'YYYY-MM' strings the supply applies to (empty = every month).
    """

    name: str
    kind: str = "gec"
    energy_kwh: float | None = None
    share: float | None = None
    factor_kg_per_kwh: float = 0.0
    months: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if (self.energy_kwh is None) == (self.share is None):
            raise ConfigError(f"green supply {self.name!r}: give exactly one of energy_kwh or share")

    def applies(self, month: str | None) -> bool:
        """True when the supply covers `month` ('YYYY-MM'; None = any)."""
        return not self.months or month is None or month in self.months


@dataclass(frozen=True, slots=True)
class SupplyUse:
    """How much of one green supply was applied."""

    name: str
    energy_kwh: float
    co2e_kg: float
    unused_kwh: float


@dataclass(frozen=True, slots=True)
class Scope2Result:
    """Scope 2 for one accounting period (usually a month) under both methods."""

    energy_kwh: float
    location_co2e_kg: float
    market_co2e_kg: float
    covered_kwh: float
    residual_kwh: float
    residual_co2e_kg: float
    supplies: tuple[SupplyUse, ...] = field(default_factory=tuple)


def scope2(energy_kwh: float, *, location_factor_kg_per_kwh: float, supplies: Sequence[GreenSupply] = (),
           residual_factor_kg_per_kwh: float | None = None, month: str | None = None) -> Scope2Result:
    """Scope 2 location- and market-based for `energy_kwh` consumed in `month`.

    Supplies apply in the order given until the consumption is covered; a supply larger
    than what is left is used only up to it (`unused_kwh` — certificates cannot create
    negative emissions). Share-based supplies take their share of the total consumption.
    """
    residual_factor = location_factor_kg_per_kwh if residual_factor_kg_per_kwh is None else residual_factor_kg_per_kwh
    remaining_kwh = energy_kwh
    uses: list[SupplyUse] = []
    for s in supplies:
        if not s.applies(month):
            continue
        offered_kwh = s.energy_kwh if s.energy_kwh is not None else energy_kwh * (s.share or 0.0)
        used_kwh = min(offered_kwh, remaining_kwh)
        remaining_kwh -= used_kwh
        uses.append(SupplyUse(s.name, used_kwh, used_kwh * s.factor_kg_per_kwh, offered_kwh - used_kwh))
    covered_kwh = math.fsum(u.energy_kwh for u in uses)
    residual_kwh = energy_kwh - covered_kwh
    residual_co2e_kg = residual_kwh * residual_factor
    return Scope2Result(
        energy_kwh=energy_kwh,
        location_co2e_kg=scope2_location_kg(energy_kwh, location_factor_kg_per_kwh),
        market_co2e_kg=math.fsum([residual_co2e_kg, *(u.co2e_kg for u in uses)]),
        covered_kwh=covered_kwh, residual_kwh=residual_kwh, residual_co2e_kg=residual_co2e_kg,
        supplies=tuple(uses),
    )


Fuel = Literal["natural_gas", "diesel"]


def fuel_co2_kg(fuel: Fuel, amount: float, unit: str, table: FactorTable | None = None,
                *, diesel_density_kg_per_l: float | None = None) -> float:
    """Scope 1 CO2 (kg) from burning `amount` of `fuel` measured in `unit`.

    natural_gas: unit 'Nm3' (converted with cn_natural_gas_ncv) or 'GJ'.
    diesel: unit 'kg', 't' (converted with ipcc2006_diesel_ncv), 'L' (needs the density from
    the supplier's delivery note: it varies with grade and temperature) or 'GJ'.
    """
    t = table if table is not None else FactorTable.load()
    if fuel == "natural_gas":
        ef_kg_per_gj = t.get("ipcc2006_natural_gas_co2").value / 1000.0  # kg/TJ → kg/GJ
        if unit == "GJ":
            energy_gj = amount
        elif unit == "Nm3":
            energy_gj = amount * t.get("cn_natural_gas_ncv").value / 10_000.0  # GJ per 10^4 Nm3 → GJ/Nm3
        else:
            raise ConfigError(f"natural gas in {unit!r}: use 'Nm3' or 'GJ'")
    elif fuel == "diesel":
        ef_kg_per_gj = t.get("ipcc2006_diesel_co2").value / 1000.0
        ncv_gj_per_t = t.get("ipcc2006_diesel_ncv").value  # TJ/Gg = GJ/t
        if unit == "GJ":
            energy_gj = amount
        elif unit == "t":
            energy_gj = amount * ncv_gj_per_t
        elif unit == "kg":
            energy_gj = amount / 1000.0 * ncv_gj_per_t
        elif unit == "L":
            if diesel_density_kg_per_l is None:
                raise ConfigError("diesel in litres needs diesel_density_kg_per_l (from the supplier)")
            energy_gj = amount * diesel_density_kg_per_l / 1000.0 * ncv_gj_per_t
        else:
            raise ConfigError(f"diesel in {unit!r}: use 'kg', 't', 'L' or 'GJ'")
    else:
        raise ConfigError(f"unknown fuel {fuel!r}: natural_gas or diesel")
    return energy_gj * ef_kg_per_gj
