"""The factor table against the published values, Scope 2 both ways, Scope 1 fuels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.energy.carbon import EmissionFactor, FactorTable, GreenSupply, fuel_co2_kg, scope2
from analytics.energy.errors import ConfigError

# Every published value the table must carry: id → (value, unit, data year).
PUBLISHED = {
    "cn_national_2023": (0.5306, "kgCO2/kWh", 2023),
    "cn_national_2022": (0.5366, "kgCO2/kWh", 2022),
    "cn_grid_north_2023": (0.6361, "kgCO2/kWh", 2023),
    "cn_grid_northeast_2023": (0.5122, "kgCO2/kWh", 2023),
    "cn_grid_east_2023": (0.5500, "kgCO2/kWh", 2023),
    "cn_grid_central_2023": (0.5271, "kgCO2/kWh", 2023),
    "cn_grid_northwest_2023": (0.5543, "kgCO2/kWh", 2023),
    "cn_grid_south_2023": (0.4042, "kgCO2/kWh", 2023),
    "cn_grid_southwest_2023": (0.2472, "kgCO2/kWh", 2023),
    "cn_carbon_market_2023": (0.5703, "tCO2/MWh", 2023),
    "ipcc2006_natural_gas_co2": (56100.0, "kgCO2/TJ", 2006),
    "ipcc2006_diesel_co2": (74100.0, "kgCO2/TJ", 2006),
    "ipcc2006_diesel_ncv": (43.0, "TJ/Gg", 2006),
    "cn_natural_gas_ncv": (389.31, "GJ/10^4Nm3", 2015),
}


@pytest.fixture(scope="module")
def table() -> FactorTable:
    return FactorTable.load()


@pytest.mark.parametrize("fid", sorted(PUBLISHED))
def test_published_factor_is_in_the_table_with_unit_year_and_source(table: FactorTable, fid: str) -> None:
    f = table.get(fid)
    value, unit, year = PUBLISHED[fid]
    assert (f.value, f.unit, f.year) == (value, unit, year)
    assert len(f.source) > 20


def test_every_table_entry_has_value_unit_year_and_source(table: FactorTable) -> None:
    assert set(table.factors) == set(PUBLISHED)
    assert all(f.year and f.source and f.unit for f in table.factors.values())


def test_electricity_factors_convert_to_kg_per_kwh(table: FactorTable) -> None:
    assert table.get("cn_carbon_market_2023").kg_per_kwh == 0.5703  # 1 tCO2/MWh = 1 kgCO2/kWh
    with pytest.raises(ConfigError, match="not an electricity factor"):
        _ = table.get("ipcc2006_diesel_co2").kg_per_kwh


def test_month_mixing_location_and_market_based_electricity() -> None:
    # March 2026, 100 000 kWh on the East China grid (0.5500 kgCO2/kWh).
    # Green certificates cover 30 000 kWh at 0; a contract covers 25 % (25 000 kWh) at 0.1 kg/kWh;
    # a certificate for April does not count; the residual 45 000 kWh is at the grid factor.
    supplies = [
        GreenSupply(name="gec-2026Q1", kind="gec", energy_kwh=30000.0, months=frozenset({"2026-03"})),
        GreenSupply(name="contract", kind="ppa", share=0.25, factor_kg_per_kwh=0.1),
        GreenSupply(name="gec-april", kind="gec", energy_kwh=50000.0, months=frozenset({"2026-04"})),
    ]
    r = scope2(100000.0, location_factor_kg_per_kwh=0.5500, supplies=supplies, month="2026-03")
    location = Decimal(100000) * Decimal("0.5500")
    market = Decimal(25000) * Decimal("0.1") + Decimal(45000) * Decimal("0.5500")
    assert (location, market) == (Decimal("55000.0000"), Decimal("27250.0000"))
    assert round(r.location_co2e_kg, 6) == float(location)
    assert round(r.market_co2e_kg, 6) == float(market)
    assert (r.covered_kwh, r.residual_kwh) == (55000.0, 45000.0)
    assert [u.name for u in r.supplies] == ["gec-2026Q1", "contract"]

    # Same month with an explicit residual factor (here the carbon-market factor 0.5703).
    r2 = scope2(100000.0, location_factor_kg_per_kwh=0.5500, supplies=supplies, month="2026-03",
                residual_factor_kg_per_kwh=0.5703)
    assert round(r2.market_co2e_kg, 6) == float(Decimal(2500) + Decimal(45000) * Decimal("0.5703"))  # 28163.5


def test_green_supply_beyond_consumption_is_capped_and_reported_unused() -> None:
    r = scope2(80000.0, location_factor_kg_per_kwh=0.5306,
               supplies=[GreenSupply(name="gec", energy_kwh=120000.0)])
    assert (r.market_co2e_kg, r.covered_kwh, r.residual_kwh) == (0.0, 80000.0, 0.0)
    assert r.supplies[0].unused_kwh == 40000.0


def test_green_supply_needs_exactly_one_amount() -> None:
    with pytest.raises(ConfigError):
        GreenSupply(name="x", energy_kwh=1.0, share=0.5)


def test_scope1_natural_gas_and_diesel(table: FactorTable) -> None:
    # 1000 Nm3 × 389.31 GJ/10^4 Nm3 = 38.931 GJ; × 56.1 kgCO2/GJ = 2184.0291 kg
    assert round(fuel_co2_kg("natural_gas", 1000.0, "Nm3", table), 6) == float(
        Decimal(1000) * Decimal("389.31") / 10000 * Decimal("56.1"))
    assert round(fuel_co2_kg("natural_gas", 10.0, "GJ", table), 6) == 561.0
    # 1 t diesel × 43.0 GJ/t × 74.1 kgCO2/GJ = 3186.3 kg
    assert round(fuel_co2_kg("diesel", 1.0, "t", table), 6) == 3186.3
    assert round(fuel_co2_kg("diesel", 500.0, "kg", table), 6) == 1593.15
    # 1000 L at 0.84 kg/L = 0.84 t → 2676.492 kg
    assert round(fuel_co2_kg("diesel", 1000.0, "L", table, diesel_density_kg_per_l=0.84), 6) == 2676.492
    with pytest.raises(ConfigError, match="density"):
        fuel_co2_kg("diesel", 1000.0, "L", table)


def test_plant_overrides_replace_any_factor(table: FactorTable) -> None:
    t = table.with_overrides({
        "cn_grid_east_2023": 0.58,
        "cn_natural_gas_ncv": EmissionFactor(id="", value=360.0, unit="", year=2026, source="supplier bill 2026-02"),
    })
    assert t.get("cn_grid_east_2023").value == 0.58
    assert t.get("cn_grid_east_2023").source == "plant override"
    assert t.get("cn_natural_gas_ncv").unit == "GJ/10^4Nm3"
    assert round(fuel_co2_kg("natural_gas", 1000.0, "Nm3", t), 6) == 2019.6  # 36.0 GJ × 56.1
    assert table.get("cn_grid_east_2023").value == 0.55  # the shipped table is unchanged
    with pytest.raises(ConfigError, match="unknown emission factor"):
        table.with_overrides({"no_such_factor": 1.0})
