"""`energy report`: a simulated day of meter data gives totals equal to the raw data."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner

from analytics.energy.cli import build_energy_group, energy
from analytics.energy.config import EXAMPLE_TARIFF_PATH, load_tariff
from analytics.energy.counters import CounterSettings
from analytics.energy.report import MeterRow, build_report, read_csv, to_csv

SH = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 2, tzinfo=SH)
FACTOR = 0.5306
TARIFF = load_tariff(EXAMPLE_TARIFF_PATH)


def simulated_day() -> tuple[list[MeterRow], dict[str, float], dict[str, float]]:
    """One day at 1-minute readings: two counter meters on L1 (one rolls over), one power meter on L2.

    Returns the rows and, computed directly from the raw data, energy and cost per asset.
    """
    rng = np.random.default_rng(6)
    minutes = 24 * 60
    rows: list[MeterRow] = []
    energy: dict[str, float] = {}
    cost: dict[str, float] = {}
    for asset, start_kwh in (("cnc-01", 1250.0), ("press-02", 999800.0)):
        # Per-minute energy: 0.1–0.4 kWh, quantised to the 0.1 kWh register step.
        steps = np.round(rng.uniform(0.1, 0.4, minutes), 1)
        running_kwh = start_kwh + np.concatenate([[0.0], np.cumsum(steps)])
        counter = np.round(np.mod(running_kwh, 1_000_000.0), 1)  # a 999999.9 register wraps to 0
        energy[asset] = math.fsum(steps)
        cost[asset] = math.fsum(float(s) * TARIFF.price_at(DAY + timedelta(minutes=i)) for i, s in enumerate(steps))
        for i, c in enumerate(counter):
            rows.append(MeterRow(ts=DAY + timedelta(minutes=i), asset=asset, energy_kwh=float(c), line="L1",
                                 product="P-100" if i <= 720 else "P-200",
                                 good_parts=2.0 if i % 10 == 0 and i else None,
                                 state="idle" if 720 < i <= 780 else "running"))
    power = rng.uniform(20.0, 60.0, minutes + 1)
    trapezoid_kwh = (power[:-1] + power[1:]) / 2.0 / 60.0
    energy["oven-03"] = math.fsum(trapezoid_kwh)
    cost["oven-03"] = math.fsum(float(e) * TARIFF.price_at(DAY + timedelta(minutes=i))
                                for i, e in enumerate(trapezoid_kwh))
    rows += [MeterRow(ts=DAY + timedelta(minutes=i), asset="oven-03", power_kw=float(p), line="L2", product="P-100")
             for i, p in enumerate(power)]
    return rows, energy, cost


SETTINGS = CounterSettings(counter_max_kwh=999999.9, resolution_kwh=0.1)


def test_report_for_a_simulated_day_equals_the_raw_meter_data() -> None:
    rows, energy, cost = simulated_day()
    r = build_report(rows, start=DAY, end=DAY + timedelta(days=1), by="machine", tariff=TARIFF,
                     factor_kg_per_kwh=FACTOR, settings=SETTINGS)
    got = {row.key: row for row in r.rows}
    assert set(got) == {"cnc-01", "press-02", "oven-03"}
    for asset in got:
        assert round(got[asset].energy_kwh, 6) == round(energy[asset], 6)
        assert round(got[asset].cost_cny, 6) == round(cost[asset], 6)
        assert round(got[asset].co2e_kg, 6) == round(energy[asset] * FACTOR, 6)
    assert got["press-02"].rollovers == 1 and got["cnc-01"].rollovers == 0
    assert round(r.total.energy_kwh, 6) == round(math.fsum(energy.values()), 6)
    assert r.total.good_parts == 2 * 2 * 144  # two counter assets, 2 parts every 10 min
    assert round(got["cnc-01"].kwh_per_good_part or 0.0, 6) == round(energy["cnc-01"] / 288, 6)
    assert r.total.gaps == 0


def test_grouping_by_line_and_by_product_sums_to_the_same_total() -> None:
    rows, energy, _ = simulated_day()
    kw = dict(start=DAY, end=DAY + timedelta(days=1), tariff=TARIFF, factor_kg_per_kwh=FACTOR, settings=SETTINGS)
    by_line = build_report(rows, by="line", **kw)  # type: ignore[arg-type]
    by_product = build_report(rows, by="product", **kw)  # type: ignore[arg-type]
    lines = {row.key: round(row.energy_kwh, 6) for row in by_line.rows}
    assert lines == {"L1": round(energy["cnc-01"] + energy["press-02"], 6), "L2": round(energy["oven-03"], 6)}
    assert {row.key for row in by_product.rows} == {"P-100", "P-200"}
    assert round(by_product.total.energy_kwh, 6) == round(by_line.total.energy_kwh, 6)
    assert round(by_product.total.cost_cny, 6) == round(by_line.total.cost_cny, 6)


def test_report_window_clips_intervals_and_counts_idle_energy() -> None:
    rows, _, _ = simulated_day()
    noon = DAY + timedelta(hours=12)
    r = build_report([x for x in rows if x.asset == "cnc-01"], start=noon, end=noon + timedelta(hours=1),
                     tariff=TARIFF, factor_kg_per_kwh=FACTOR, settings=SETTINGS)
    raw = [x.energy_kwh or 0.0 for x in rows if x.asset == "cnc-01"]
    assert round(r.total.energy_kwh, 6) == round(raw[780] - raw[720], 6)
    assert round(r.total.idle_kwh, 6) == round(raw[780] - raw[720], 6)  # the machine idled 12:00–13:00


def test_gap_in_the_report_is_counted_once_and_noted() -> None:
    rows = [MeterRow(ts=DAY + timedelta(minutes=m), asset="a", energy_kwh=v) for m, v in
            ((0, 10.0), (5, 11.0), (65, 20.0), (70, 21.0))]
    r = build_report(rows, start=DAY, end=DAY + timedelta(hours=2), tariff=None, factor_kg_per_kwh=FACTOR)
    assert round(r.total.energy_kwh, 6) == 11.0 and r.total.gaps == 1
    assert any("gap" in n for n in r.notes) and any("no tariff" in n for n in r.notes)


def write_csv(path: Path, rows: list[MeterRow]) -> None:
    lines = ["timestamp,asset,energy_kwh,power_kw,good_parts,line,product,state"]
    for x in rows:
        lines.append(",".join([x.ts.isoformat(), x.asset, "" if x.energy_kwh is None else repr(x.energy_kwh),
                               "" if x.power_kw is None else repr(x.power_kw),
                               "" if x.good_parts is None else repr(x.good_parts), x.line or "", x.product or "",
                               x.state or ""]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_csv_round_trip_gives_the_same_rows(tmp_path: Path) -> None:
    rows, _, _ = simulated_day()
    write_csv(tmp_path / "day.csv", rows)
    assert read_csv(tmp_path / "day.csv") == rows


def test_cli_report_from_csv_in_every_format(tmp_path: Path) -> None:
    rows, energy_kwh, _ = simulated_day()
    write_csv(tmp_path / "day.csv", rows)
    args = ["report", "--from", "2026-03-02T00:00:00+08:00", "--to", "2026-03-03T00:00", "--input",
            str(tmp_path / "day.csv"), "--counter-max", "999999.9"]
    runner = CliRunner()
    as_json = runner.invoke(energy, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert round(data["total"]["energy_kwh"], 6) == round(math.fsum(energy_kwh.values()), 6)
    assert data["factor_id"] == "cn_national_2023"
    as_csv = runner.invoke(energy, [*args, "--format", "csv", "--by", "line"])
    assert as_csv.exit_code == 0
    assert as_csv.stdout.splitlines()[0].startswith("line,energy_kwh,cost_cny,co2e_kg")
    assert [ln.split(",")[0] for ln in as_csv.stdout.splitlines()[1:]] == ["L1", "L2", "TOTAL"]
    table = runner.invoke(energy, [*args, "--factor", "cn_grid_east_2023"])
    assert table.exit_code == 0 and "TOTAL" in table.stdout and "illustrative" in table.stderr


def test_cli_uses_the_injected_source_and_refuses_without_one() -> None:
    rows, energy_kwh, _ = simulated_day()
    calls: list[tuple[datetime, datetime]] = []

    def source(start: datetime, end: datetime) -> list[MeterRow]:
        calls.append((start, end))
        return rows

    group = build_energy_group(source_factory=lambda: source)
    out = CliRunner().invoke(group, ["report", "--from", "2026-03-02", "--to", "2026-03-03", "--format", "json",
                                     "--counter-max", "999999.9"])
    assert out.exit_code == 0, out.output
    assert calls[0][0] == DAY - timedelta(minutes=15)  # fetched from one max interval before --from
    assert round(json.loads(out.stdout)["total"]["energy_kwh"], 6) == round(math.fsum(energy_kwh.values()), 6)
    refused = CliRunner().invoke(energy, ["report", "--from", "2026-03-02", "--to", "2026-03-03"])
    assert refused.exit_code != 0 and "--input" in refused.output


def test_csv_output_has_one_line_per_group_and_total() -> None:
    rows, _, _ = simulated_day()
    r = build_report(rows, start=DAY, end=DAY + timedelta(days=1), tariff=TARIFF, factor_kg_per_kwh=FACTOR,
                     settings=SETTINGS)
    assert len(to_csv(r).splitlines()) == 1 + 3 + 1


@pytest.mark.parametrize("bad", ["timestamp,asset\n2026-03-02T00:00:00+08:00,a\n",
                                 "timestamp,asset,energy_kwh\nnot-a-time,a,1.0\n"])
def test_bad_csv_is_a_data_error(tmp_path: Path, bad: str) -> None:
    from analytics.energy.errors import DataError

    (tmp_path / "bad.csv").write_text(bad, encoding="utf-8")
    with pytest.raises(DataError):
        read_csv(tmp_path / "bad.csv")
