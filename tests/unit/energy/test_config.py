"""Configuration models: extra keys refused, conversion to the computation's dataclasses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from analytics.energy.carbon import FactorTable
from analytics.energy.config import EnergyConfig, GreenContractConfig, MeterConfig, load_energy_config
from analytics.energy.errors import ConfigError
from analytics.energy.tariffs import Period

CONFIG = """
timezone: Asia/Shanghai
location_factor: cn_grid_east_2023
residual_factor: cn_carbon_market_2023
factor_overrides:
  cn_grid_east_2023: {value: 0.5620, year: 2024, source: "provincial factor, plant's 2024 verification report"}
meters:
  - {asset: cnc-01, line: L1, counter_max_kwh: 999999.9, max_interval_s: 600, standby_threshold_kw: 1.5}
  - {asset: oven-03, kind: power, signal: power_kw}
green_contracts:
  - {name: gec-2026, kind: gec, energy_kwh: 20000, months: ["2026-03"]}
tariff:
  name: test
  prices_cny_per_kwh: {peak: 1.0, flat: 0.6, valley: 0.3}
  windows:
    - {start: "08:00", end: "12:00", period: peak}
    - {start: "23:00", end: "24:00", period: valley}
"""


def test_energy_config_loads_and_converts(tmp_path: Path) -> None:
    (tmp_path / "energy.yaml").write_text(CONFIG, encoding="utf-8")
    cfg = load_energy_config(tmp_path / "energy.yaml")
    settings = cfg.meters[0].to_settings()
    assert (settings.counter_max_kwh, settings.max_interval_s, settings.resolution_kwh) == (999999.9, 600.0, 0.1)
    tariff = cfg.tariff.to_tariff() if cfg.tariff else None
    assert tariff is not None
    sh = ZoneInfo("Asia/Shanghai")
    assert tariff.period_at(datetime(2026, 3, 2, 23, 30, tzinfo=sh)) is Period.VALLEY
    assert tariff.period_at(datetime(2026, 3, 2, 0, 30, tzinfo=sh)) is Period.FLAT
    table = FactorTable.load().with_overrides(cfg.overrides())
    east = table.get(cfg.location_factor)
    assert (east.value, east.unit, east.year) == (0.5620, "kgCO2/kWh", 2024)
    assert cfg.green_contracts[0].to_supply().months == frozenset({"2026-03"})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra_field"):
        MeterConfig.model_validate({"asset": "a", "extra_field": 1})
    with pytest.raises(ValidationError):
        EnergyConfig.model_validate({"tarrif": {}})


def test_green_contract_needs_exactly_one_amount_and_override_needs_a_source() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        GreenContractConfig.model_validate({"name": "x"})
    with pytest.raises(ValidationError):
        EnergyConfig.model_validate({"factor_overrides": {"cn_grid_east_2023": {"value": 0.6}}})


def test_bad_tariff_time_and_file_errors_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "energy.yaml"
    p.write_text("tariff: {name: t, prices_cny_per_kwh: {flat: 0.6}, windows: [{start: '8:00', end: '12:00', "
                 "period: flat}]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"energy\.yaml"):
        load_energy_config(p)
