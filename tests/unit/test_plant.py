"""Plant file validation: errors name the file, the place in it and what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLE_PLANT
from twin.errors import ConfigError
from twin.plant import load_plant


def write(tmp_path: Path, mutate: object) -> Path:
    raw = yaml.safe_load(EXAMPLE_PLANT.read_text())
    mutate(raw)  # type: ignore[operator]
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cnc(raw: dict) -> dict:  # type: ignore[type-arg]
    return raw["areas"]["machining"]["lines"]["line-1"]["assets"]["cnc-01"]  # type: ignore[no-any-return]


def test_example_plant_is_valid() -> None:
    plant = load_plant(EXAMPLE_PLANT)
    assert plant.site == "demo-plant"
    names = {(s.asset.asset, s.name) for s in plant.signals()}
    assert ("cnc-01", "spindle_speed") in names and ("meter-cnc-01", "energy_kwh") in names
    assert len(names) == 18
    _, gauge = plant.asset("gauge-cnc-01")
    assert gauge.measures == "cnc-01"
    spc = gauge.signals["bore_diameter_mm"].spc
    assert spc is not None and (spc.chart, spc.subgroup_size, spc.lsl, spc.usl) == ("xbar-r", 5, 19.98, 20.02)
    _, machine = plant.asset("cnc-01")
    assert machine.pdm is not None and "bearing_band_energy" in machine.pdm.feature_spec().signals()
    assert plant.energy is not None and plant.energy.meters[0].asset == "meter-cnc-01"


def test_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: cnc(raw)["signals"]["spindle_speed"].update(unti="rpm"))
    with pytest.raises(ConfigError) as err:
        load_plant(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "areas.machining.lines.line-1.assets.cnc-01.signals.spindle_speed: unknown key 'unti'" in msg


def test_missing_field_is_named_with_its_path(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: raw["connections"]["opcua"]["cell-1"].pop("endpoint"))
    with pytest.raises(ConfigError) as err:
        load_plant(path)
    assert "connections.opcua.cell-1: missing required field 'endpoint'" in str(err.value)


def test_missing_top_level_field(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: raw.pop("site"))
    with pytest.raises(ConfigError, match=r"\(top level\): missing required field 'site'"):
        load_plant(path)


def test_unknown_connection_reference_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: cnc(raw)["signals"]["state"]["opcua"].update(connection="cell-9"))
    with pytest.raises(ConfigError, match=r"unknown connection 'cell-9' \(connections.opcua has: cell-1\)"):
        load_plant(path)


def test_signal_needs_exactly_one_binding(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: cnc(raw)["signals"]["state"].pop("opcua"))
    with pytest.raises(ConfigError, match=r"signals.state: needs exactly one source binding"):
        load_plant(path)


@pytest.mark.parametrize("bad_id", ["line 1", "line/1", "line+", "#", "_sys"])
def test_identifiers_that_would_break_topics_are_refused(tmp_path: Path, bad_id: str) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        lines = raw["areas"]["machining"]["lines"]
        lines[bad_id] = lines.pop("line-1")

    with pytest.raises(ConfigError, match=r"areas.machining.lines"):
        load_plant(write(tmp_path, mutate))


def test_wildcard_device_topic_and_bad_jsonpath_are_refused(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        meter = raw["areas"]["machining"]["lines"]["line-1"]["assets"]["meter-cnc-01"]["signals"]
        meter["power_kw"]["mqtt"]["topic"] = "devices/+/cnc-01"
        meter["voltage_v"]["mqtt"]["path"] = "$..[?("

    with pytest.raises(ConfigError) as err:
        load_plant(write(tmp_path, mutate))
    assert "signals.power_kw.mqtt.topic: must be a concrete topic without wildcards" in str(err.value)
    assert "signals.voltage_v.mqtt.path: not a valid JSONPath" in str(err.value)


def test_duplicate_asset_ids_are_refused(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["areas"]["assembly"] = {"lines": {"line-2": {"assets": {"cnc-01": cnc(raw)}}}}

    with pytest.raises(ConfigError, match="asset id 'cnc-01' is already used"):
        load_plant(write(tmp_path, mutate))


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_plant(bad)
    with pytest.raises(ConfigError, match="plant file not found"):
        load_plant(tmp_path / "nope.yaml")


def gauge(raw: dict) -> dict:  # type: ignore[type-arg]
    return raw["areas"]["machining"]["lines"]["line-1"]["assets"]["gauge-cnc-01"]  # type: ignore[no-any-return]


def test_link_to_an_unknown_asset_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: gauge(raw).update(measures="cnc-99"))
    with pytest.raises(ConfigError, match=r"assets.gauge-cnc-01.measures: unknown asset 'cnc-99'"):
        load_plant(path)


def test_pdm_section_naming_a_missing_signal_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: cnc(raw)["pdm"].update(vibration=["vibration_rms", "vib_x"]))
    with pytest.raises(ConfigError, match=r"assets.cnc-01.pdm: unknown signal\(s\) vib_x"):
        load_plant(path)


def test_spc_section_errors_name_the_characteristic(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: gauge(raw)["signals"]["bore_diameter_mm"]["spc"].update(lsl=20.5))
    with pytest.raises(ConfigError) as err:
        load_plant(path)
    msg = str(err.value)
    assert "assets.gauge-cnc-01.signals.bore_diameter_mm.spc" in msg and "must be below usl" in msg


def test_alert_route_to_an_unknown_channel_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: raw["alerts"].update(
        routes=[{"name": "r", "escalation": [{"after_s": 0, "channels": ["nowhere"]}]}]))
    with pytest.raises(ConfigError, match=r"alerts: .*channel 'nowhere'"):
        load_plant(path)


def test_energy_meter_naming_an_unknown_asset_is_refused_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, lambda raw: raw["energy"]["meters"][0].update(asset="meter-99"))
    with pytest.raises(ConfigError) as err:
        load_plant(path)
    assert "energy.meters[0]" in str(err.value) and "meter-99" in str(err.value)
