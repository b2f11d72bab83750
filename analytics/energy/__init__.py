"""Energy, cost and carbon accounting (环): meters → kWh → cost (time-of-use) and CO2e, KPIs, baselines.

Pure computation, no I/O: the streaming service and `twin energy report` are thin wrappers.
See README.md in this folder for formulas and factor sources.
"""

from analytics.energy.baseline import Baseline, Deviation, cooling_degree_days, fit_baseline, heating_degree_days
from analytics.energy.carbon import (
    EmissionFactor,
    FactorTable,
    GreenSupply,
    Scope2Result,
    SupplyUse,
    fuel_co2_kg,
    scope2,
    scope2_location_kg,
)
from analytics.energy.config import (
    EnergyConfig,
    FactorOverride,
    GreenContractConfig,
    MeterConfig,
    TariffConfig,
    load_energy_config,
    load_tariff,
)
from analytics.energy.counters import (
    CounterIntegrator,
    CounterSettings,
    PowerIntegrator,
    energy_from_counter,
    energy_from_power,
)
from analytics.energy.errors import ConfigError, DataError, EnergyError
from analytics.energy.intervals import EnergyInterval, IntervalKind, clip, split_at
from analytics.energy.kpis import (
    AirLeakDetector,
    EpisodeDetector,
    Finding,
    IdleWasteDetector,
    Span,
    allocate,
    idle_energy_kwh,
    kwh_per_good_part,
)
from analytics.energy.report import EnergyReport, MeterRow, ReportRow, ReportSource, build_report, read_csv
from analytics.energy.rollups import AssetRef, LabeledInterval, Pricing, RollupAccumulator, RollupRecord, rollup
from analytics.energy.stream import AssetEnergyTracker, TrackerOutput
from analytics.energy.tariffs import CostBreakdown, Period, Tariff, TariffWindow, flat_tariff

__all__ = [
    "AirLeakDetector",
    "AssetEnergyTracker",
    "AssetRef",
    "Baseline",
    "ConfigError",
    "CostBreakdown",
    "CounterIntegrator",
    "CounterSettings",
    "DataError",
    "Deviation",
    "EmissionFactor",
    "EnergyConfig",
    "EnergyError",
    "EnergyInterval",
    "EnergyReport",
    "EpisodeDetector",
    "FactorOverride",
    "FactorTable",
    "Finding",
    "GreenContractConfig",
    "GreenSupply",
    "IdleWasteDetector",
    "IntervalKind",
    "LabeledInterval",
    "MeterConfig",
    "MeterRow",
    "Period",
    "PowerIntegrator",
    "Pricing",
    "ReportRow",
    "ReportSource",
    "RollupAccumulator",
    "RollupRecord",
    "Scope2Result",
    "Span",
    "SupplyUse",
    "Tariff",
    "TariffConfig",
    "TariffWindow",
    "TrackerOutput",
    "allocate",
    "build_report",
    "clip",
    "cooling_degree_days",
    "energy_from_counter",
    "energy_from_power",
    "fit_baseline",
    "flat_tariff",
    "fuel_co2_kg",
    "heating_degree_days",
    "idle_energy_kwh",
    "kwh_per_good_part",
    "load_energy_config",
    "load_tariff",
    "read_csv",
    "rollup",
    "scope2",
    "scope2_location_kg",
    "split_at",
]
