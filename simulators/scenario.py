"""Scenario files: which plant to simulate and which faults to inject, when and how fast.

A scenario is YAML, validated strictly (pydantic, `extra="forbid"`); errors name the file,
the path inside it (e.g. `faults[2].asset`) and what is wrong. Times are seconds from the
start of the run, as a number or with a unit: `90`, `90s`, `15m`, `2h`, `1d`, `1h30m`.

    name: bearing-failure
    description: Spindle bearing of cnc-02 degrades from hour 2 and fails at hour 20.
    plant: examples/plant-full.yaml   # optional; relative to this file or the repository
    duration: 24h                     # default run length
    faults:
      - {kind: bearing_wear, asset: cnc-02, onset: 2h, failure: 20h}

Shipped scenarios live next to this module in `scenarios/`; see simulators/README.md.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from twin.errors import ConfigError
from twin.plant import Plant, load_plant
from twin.yamlfile import read_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_PLANT = REPO_ROOT / "examples" / "plant-full.yaml"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration_s(value: Any) -> float:
    """Seconds from a number or a text like '1h30m', '15m', '2d', '45s'; ValueError if not a finite duration."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            if text and _DURATION.sub("", text) == "":
                seconds = sum(float(n) * _UNIT_S[u] for n, u in _DURATION.findall(text))
    if seconds is None:
        raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 90s, 15m, 2h, 1d, 1h30m)")
    if not math.isfinite(seconds):
        # "inf", "nan" and "1e400" parse as floats; a run of that many ticks cannot be counted.
        raise ValueError(f"not a finite duration: {value!r}")
    return seconds


Seconds = Annotated[float, BeforeValidator(parse_duration_s), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Fault(_Model):
    asset: str = Field(description="asset id in the plant file")
    onset: Seconds = Field(description="when the fault starts, from the start of the run")
    duration: Seconds | None = Field(default=None, description="how long it lasts; until the end when absent")

    @property
    def end_s(self) -> float | None:
        """When the fault ends (None: it lasts until the end of the run)."""
        return None if self.duration is None else self.onset + self.duration


class BearingWear(_Fault):
    """A spindle/motor bearing degrades progressively until it fails at `failure`."""

    kind: Literal["bearing_wear"]
    failure: Seconds = Field(description="time of failure, from the start of the run")

    @model_validator(mode="after")
    def _after_onset(self) -> BearingWear:
        if self.failure <= self.onset:
            raise ValueError("failure must come after onset")
        return self


class ToolWear(_Fault):
    """The cutting tool wears `rate` times faster than the tool-life counter assumes."""

    kind: Literal["tool_wear"]
    rate: float = Field(default=3.0, gt=0, description="wear rate relative to a normal insert")


class MeanShift(_Fault):
    """The process mean of a signal moves by `magnitude` (in the signal's unit)."""

    kind: Literal["mean_shift"]
    signal: str
    magnitude: float


class VarianceIncrease(_Fault):
    """A signal's standard deviation grows by `factor`."""

    kind: Literal["variance_increase"]
    signal: str
    factor: float = Field(default=2.0, gt=1)


class SensorStuck(_Fault):
    """A sensor freezes at the value it had at onset."""

    kind: Literal["sensor_stuck"]
    signal: str


class SensorDropout(_Fault):
    """A sensor delivers no value (OPC UA status BadSensorFailure; MQTT null)."""

    kind: Literal["sensor_dropout"]
    signal: str


class SensorSpike(_Fault):
    """Short spikes of `magnitude` at random instants, `rate_per_h` of them per hour on average."""

    kind: Literal["sensor_spike"]
    signal: str
    magnitude: float
    rate_per_h: float = Field(default=6.0, gt=0)


class AirLeak(_Fault):
    """A compressed-air leak growing by `rate_m3_min_per_h` up to `max_m3_min` of free air."""

    kind: Literal["air_leak"]
    rate_m3_min_per_h: float = Field(default=0.5, gt=0)
    max_m3_min: float = Field(default=1.5, gt=0)


class MeterReset(_Fault):
    """An energy meter's kWh counter is reset (to `to_kwh`; near 1e6 it soon rolls over)."""

    kind: Literal["meter_reset"]
    to_kwh: float = Field(default=0.0, ge=0)


class DeviceOffline(_Fault):
    """An MQTT device stops publishing for `duration` (or until the end)."""

    kind: Literal["device_offline"]


class ServerRestart(_Model):
    """The OPC UA server of a connection stops at `onset` and comes back after `downtime`."""

    kind: Literal["server_restart"]
    connection: str
    onset: Seconds
    downtime: Seconds = 10.0


Fault = Annotated[
    BearingWear | ToolWear | MeanShift | VarianceIncrease | SensorStuck | SensorDropout | SensorSpike
    | AirLeak | MeterReset | DeviceOffline | ServerRestart,
    Field(discriminator="kind"),
]

# Which asset types each fault applies to (None: any asset).
FAULT_ASSET_TYPES: dict[str, tuple[str, ...] | None] = {
    "bearing_wear": ("cnc", "compressor"),
    "tool_wear": ("cnc",),
    "air_leak": ("compressor",),
    "meter_reset": ("energy_meter", "main_meter"),
}


class Scenario(_Model):
    """A scenario file."""

    name: str
    description: str = ""
    plant: str | None = Field(default=None, description="plant file; default examples/plant-full.yaml")
    duration: Seconds = Field(default=3600.0, gt=0, description="default run length")
    tick_s: float = Field(default=1.0, gt=0)
    start: datetime | None = Field(default=None, description="simulated start time; default now")
    faults: list[Fault] = Field(default_factory=list)
    source: str = Field(default="<scenario>", exclude=True, description="where it was read from")

    def plant_path(self) -> Path:
        """The plant file this scenario runs on."""
        if self.plant is None:
            return DEFAULT_PLANT
        path = Path(self.plant)
        if path.is_absolute():
            return path
        base = Path(self.source).parent
        return base / path if (base / path).exists() else REPO_ROOT / path

    def load_plant(self) -> Plant:
        """Load and check the plant, and check the faults against it."""
        plant = load_plant(self.plant_path())
        check_against_plant(self, plant)
        return plant


def check_against_plant(scenario: Scenario, plant: Plant) -> None:
    """ConfigError naming the fault's field when a fault refers to what the plant lacks."""
    assets = {path.asset: asset for path, asset in plant.assets()}
    problems = []
    for i, fault in enumerate(scenario.faults):
        where = f"faults[{i}]"
        if isinstance(fault, ServerRestart):
            if fault.connection not in plant.connections_of("opcua"):
                known = ", ".join(sorted(plant.connections_of("opcua"))) or "none"
                problems.append(f"{where}.connection: unknown OPC UA connection {fault.connection!r} "
                                f"(plant has: {known})")
            continue
        asset = assets.get(fault.asset)
        if asset is None:
            problems.append(f"{where}.asset: no asset {fault.asset!r} in the plant")
            continue
        allowed = FAULT_ASSET_TYPES.get(fault.kind)
        if allowed is not None and asset.type not in allowed:
            problems.append(f"{where}.asset: {fault.kind} applies to {', '.join(allowed)} assets; "
                            f"{fault.asset!r} is a {asset.type}")
        signal = getattr(fault, "signal", None)
        if signal is not None and signal not in asset.signals:
            problems.append(f"{where}.signal: asset {fault.asset!r} has no signal {signal!r} "
                            f"(it has: {', '.join(asset.signals)})")
        if isinstance(fault, DeviceOffline) and not any(s.source == "mqtt" for s in asset.signals.values()):
            problems.append(f"{where}.asset: device_offline needs an MQTT device; {fault.asset!r} has no MQTT signal")
    if problems:
        raise ConfigError(f"{scenario.source}: scenario does not fit plant {scenario.plant_path()}\n  "
                          + "\n  ".join(problems))


def shipped_scenarios() -> dict[str, Path]:
    """The scenarios that ship with the simulator, by name (file stem)."""
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def find_scenario(name_or_file: str) -> Path:
    """A shipped scenario's file by name, or the path of a scenario file."""
    shipped = shipped_scenarios()
    if name_or_file in shipped:
        return shipped[name_or_file]
    path = Path(name_or_file)
    if path.exists():
        return path
    raise ConfigError(f"no scenario {name_or_file!r}: not a file, and not one of {', '.join(shipped)}")


def load_scenario(name_or_file: str | Path) -> Scenario:
    """Read and validate a scenario (a shipped name or a file)."""
    path = find_scenario(str(name_or_file))
    return parse_scenario(read_yaml(path, what="scenario file"), source=str(path))


def parse_scenario(raw: Any, *, source: str = "<scenario>") -> Scenario:
    """Validate an already-parsed scenario document."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a scenario must be a YAML mapping at the top level")
    try:
        return Scenario.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid scenario\n" + _describe(exc, raw)) from None


def _describe(exc: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        loc: list[str] = []
        for part in err["loc"]:
            if isinstance(part, int):
                loc[-1] = f"{loc[-1]}[{part}]" if loc else f"[{part}]"
            elif part in FAULT_KINDS:
                continue  # the discriminated union's branch name: the user wrote `kind`, not this
            else:
                loc.append(str(part))
        kind = err["type"]
        if kind == "extra_forbidden":
            where, msg = ".".join(loc[:-1]) or "(top level)", f"unknown key {loc[-1]!r}"
        elif kind == "missing":
            where, msg = ".".join(loc[:-1]) or "(top level)", f"missing required field {loc[-1]!r}"
        elif kind == "union_tag_invalid":
            where, msg = ".".join(loc) + ".kind", f"unknown fault kind; use one of {', '.join(FAULT_KINDS)}"
        elif kind == "union_tag_not_found":
            where, msg = ".".join(loc), "missing required field 'kind'"
        else:
            where = ".".join(loc) or "(top level)"
            msg = re.sub(r"^(Value|Assertion) error, ", "", err["msg"])
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


FAULT_KINDS = ("bearing_wear", "tool_wear", "mean_shift", "variance_increase", "sensor_stuck", "sensor_dropout",
               "sensor_spike", "air_leak", "meter_reset", "device_offline", "server_restart")
