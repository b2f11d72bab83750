"""Every `twin` error is a one-line message naming its cause and a non-zero exit, never a traceback.

The cases run the installed `twin` executable as a user would, with hostile arguments and
files and with servers that cannot be reached (a loopback port nothing listens on). Each
one fails before any server is started or contacted beyond that port, so they are quick.
The second half checks `twin.clirun.main_entry`, the console entry point's safety net, on
a tiny click group.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import click
import pytest

from twin.clirun import main_entry, run_service
from twin.errors import ConfigError, TwinError

ROOT = Path(__file__).resolve().parents[2]
TWIN = Path(sys.executable).with_name("twin")
UNREACHABLE_INFLUX = "http://127.0.0.1:9"  # the discard port: nothing listens there
UNREACHABLE_MQTT = "mqtt://127.0.0.1:9"


@dataclass(frozen=True)
class Case:
    """One hostile invocation: its arguments, the files it needs, and what the message must name."""

    name: str
    args: list[str]
    names: list[str]  # each must appear in stderr
    env: dict[str, str] = field(default_factory=dict)


def _files(tmp: Path) -> None:
    (tmp / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "deep.yaml").write_text("[" * 20_000 + "\n", encoding="utf-8")
    (tmp / "a-file").write_text("not a folder\n", encoding="utf-8")
    (tmp / "value-abc.csv").write_text("value\n1\n2\nabc\n", encoding="utf-8")
    (tmp / "meters-nan.csv").write_text("timestamp,asset,energy_kwh\n2026-03-01T00:00:00+08:00,m1,nan\n",
                                        encoding="utf-8")
    (tmp / "meters-short.csv").write_text("timestamp,asset,energy_kwh\n2026-03-01T00:00:00+08:00\n",
                                          encoding="utf-8")
    (tmp / "dashboards").mkdir()
    (tmp / "dashboards" / "broken.json").write_text("{broken", encoding="utf-8")
    plant = (ROOT / "examples" / "plant.yaml").read_text(encoding="utf-8")
    (tmp / "plant-tz-folder.yaml").write_text(plant.replace("timezone: Asia/Shanghai", "timezone: America", 1),
                                              encoding="utf-8")


REPORT = ["energy", "report", "--from", "2026-03-01", "--to", "2026-03-02"]

CASES = [
    # twin energy report
    Case("energy-influx-unreachable", REPORT, [UNREACHABLE_INFLUX]),
    Case("energy-from-year-1", ["energy", "report", "--from", "0001-01-01", "--to", "2026-03-02"],
         ["--from", "0001-01-01"]),
    Case("energy-to-year-9999", [*REPORT[:4], "--to", "9999-12-31T23:59:59", "--tz", "UTC"], ["9999-12-31"]),
    Case("energy-from-not-a-time", ["energy", "report", "--from", "yesterday", "--to", "2026-03-02"],
         ["--from", "yesterday"]),
    Case("energy-to-before-from", ["energy", "report", "--from", "2026-03-02", "--to", "2026-03-01"], ["--to"]),
    Case("energy-tz-unknown", [*REPORT, "--tz", "Mars/Olympus"], ["--tz", "Mars/Olympus"]),
    Case("energy-tz-folder", [*REPORT, "--tz", "America"], ["--tz", "America"]),
    Case("energy-max-gap-nan", [*REPORT, "--max-gap-s", "nan"], ["--max-gap-s"]),
    Case("energy-max-gap-huge", [*REPORT, "--max-gap-s", "1e300"], ["--max-gap-s"]),
    Case("energy-counter-max-nan", [*REPORT, "--counter-max", "nan"], ["--counter-max"]),
    Case("energy-input-missing", [*REPORT, "--input", "{tmp}/nope.csv"], ["--input", "nope.csv"]),
    Case("energy-input-binary", [*REPORT, "--input", "{tmp}/garbage.bin"], ["garbage.bin", "UTF-8"]),
    Case("energy-input-nan", [*REPORT, "--input", "{tmp}/meters-nan.csv"], ["meters-nan.csv", "line 2", "nan"]),
    Case("energy-input-short-row", [*REPORT, "--input", "{tmp}/meters-short.csv"], ["line 2", "asset"]),
    Case("energy-tariff-deep", [*REPORT, "--input", "{tmp}/meters-nan.csv", "--tariff", "{tmp}/deep.yaml"],
         ["deep.yaml", "nested too deeply"]),
    Case("energy-plant-folder", REPORT, ["is a directory"], env={"TWIN_PLANT_FILE": "{tmp}"}),
    # twin dashboards
    Case("dashboards-out-proc", ["dashboards", "generate", "--out", "/proc/x"], ["--out", "/proc/x"]),
    Case("dashboards-out-under-file", ["dashboards", "generate", "--out", "{tmp}/a-file/x"], ["--out", "a-file"]),
    Case("dashboards-push-broken-json", ["dashboards", "push", "--url", "http://127.0.0.1:9", "--token", "t",
                                         "--from", "{tmp}/dashboards"], ["broken.json", "JSON"]),
    Case("dashboards-push-unreachable", ["dashboards", "push", "--url", "http://127.0.0.1:9", "--token", "t"],
         ["http://127.0.0.1:9", "not reachable"]),
    Case("dashboards-push-bad-url", ["dashboards", "push", "--url", "http://[::1", "--token", "t"], ["--url"]),
    Case("dashboards-push-bad-port", ["dashboards", "push", "--url", "http://127.0.0.1:99999", "--token", "t"],
         ["--url", "99999"]),
    # twin spc
    Case("spc-analyze-binary", ["spc", "analyze", "{tmp}/garbage.bin", "--chart", "imr"], ["garbage.bin", "UTF-8"]),
    Case("spc-analyze-not-a-number", ["spc", "analyze", "{tmp}/value-abc.csv", "--chart", "imr"],
         ["line 4", "abc"]),
    Case("spc-analyze-folder", ["spc", "analyze", "{tmp}", "--chart", "imr"], ["FILE", "directory"]),
    Case("spc-arl-negative-seed", ["spc", "arl", "--chart", "shewhart", "--shift", "1", "--runs", "2", "--seed", "-1"],
         ["--seed"]),
    Case("spc-arl-huge-runs", ["spc", "arl", "--chart", "cusum", "--shift", "0", "--runs", "9" * 23], ["--runs"]),
    Case("spc-arl-misplaced-option", ["spc", "arl", "--chart", "cusum", "--shift", "0", "--runs", "2", "--L", "3"],
         ["--L"]),
    # twin pdm
    Case("pdm-evaluate-empty-sep", ["pdm", "evaluate", "{tmp}/value-abc.csv", "--sep", ""], ["--sep"]),
    Case("pdm-evaluate-long-sep", ["pdm", "evaluate", "{tmp}/value-abc.csv", "--sep", ";;"], ["--sep"]),
    Case("pdm-evaluate-binary", ["pdm", "evaluate", "{tmp}/garbage.bin"], ["garbage.bin", "UTF-8"]),
    Case("pdm-synth-unwritable", ["pdm", "synth", "/proc/x"], ["OUT_DIR", "/proc/x"]),
    # twin simulate (each fails before a server starts)
    Case("simulate-unknown-scenario", ["simulate", "--scenario", "nope"], ["nope"]),
    Case("simulate-scenario-deep", ["simulate", "--scenario", "{tmp}/deep.yaml"], ["deep.yaml", "nested too deeply"]),
    Case("simulate-scenario-folder", ["simulate", "--scenario", "{tmp}"], ["is a directory"]),
    Case("simulate-duration-nan", ["simulate", "--duration", "nan"], ["--duration"]),
    Case("simulate-duration-inf", ["simulate", "--duration", "1e400"], ["--duration"]),
    Case("simulate-speed-nan", ["simulate", "--speed", "nan", "--duration", "1"], ["--speed"]),
    Case("simulate-start-year-1", ["simulate", "--start", "0001-01-01", "--duration", "1"], ["--start"]),
    Case("simulate-labels-no-folder", ["simulate", "--labels", "/proc/x/labels.csv", "--duration", "1"],
         ["--labels", "/proc/x"]),
    # twin plant check
    Case("plant-check-folder-argument", ["plant", "check", "{tmp}"], ["directory"]),
    Case("plant-check-folder-setting", ["plant", "check"], ["is a directory"], env={"TWIN_PLANT_FILE": "{tmp}"}),
    Case("plant-check-binary", ["plant", "check", "{tmp}/garbage.bin"], ["garbage.bin", "UTF-8"]),
    Case("plant-check-deep", ["plant", "check", "{tmp}/deep.yaml"], ["deep.yaml", "nested too deeply"]),
    Case("plant-check-tz-folder", ["plant", "check", "{tmp}/plant-tz-folder.yaml"], ["timezone", "America"]),
]


def _run(args: list[str], tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    base |= {"TWIN_STATE_DIR": str(tmp / "state"), "TWIN_INFLUX_URL": UNREACHABLE_INFLUX,
             "TWIN_MQTT_URL": UNREACHABLE_MQTT, "TWIN_PLANT_FILE": str(ROOT / "examples" / "plant.yaml"),
             "COLUMNS": "200"}
    base |= {k: v.format(tmp=tmp) for k, v in env.items()}
    return subprocess.run([str(TWIN), *(a.format(tmp=tmp) for a in args)], cwd=tmp, env=base,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_error_is_one_line_naming_the_cause(case: Case, tmp_path: Path) -> None:
    _files(tmp_path)
    result = _run(case.args, tmp_path, case.env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for name in case.names:
        assert name in result.stderr, f"{name!r} not in: {result.stderr}"


# -- main_entry, the entry point's safety net -------------------------------------------------


def _group(action: Callable[[], object]) -> click.Group:
    @click.group()
    def cli() -> None:
        """A tiny CLI."""

    @cli.command()
    def go() -> None:
        action()

    return cli


def _raise(exc: BaseException) -> Callable[[], NoReturn]:
    def action() -> NoReturn:
        raise exc

    return action


def _exit_of(group: click.Group, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["tiny", *args])
    with pytest.raises(SystemExit) as exited:
        main_entry(group, prog_name="tiny")
    code = exited.value.code
    return code if isinstance(code, int) else 1


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWIN_DEBUG", raising=False)


def test_main_entry_turns_a_twin_error_into_its_message(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_of(_group(_raise(ConfigError("plant.yaml: unknown key 'x'"))), monkeypatch, "go") == 1
    assert capsys.readouterr().err == "Error: plant.yaml: unknown key 'x'\n"


def test_main_entry_reports_an_unexpected_exception_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_of(_group(_raise(RuntimeError("boom\nsecond line"))), monkeypatch, "go") == 1
    err = capsys.readouterr().err
    assert err == "Error: internal error: RuntimeError: boom second line (set TWIN_DEBUG=1 for the traceback)\n"


def test_main_entry_prints_the_traceback_with_twin_debug(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TWIN_DEBUG", "1")
    assert _exit_of(_group(_raise(RuntimeError("boom"))), monkeypatch, "go") == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("Error: internal error: RuntimeError: boom "
                                               "(set TWIN_DEBUG=1 for the traceback)\n")


def test_main_entry_lists_the_twin_errors_of_an_exception_group(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    group = ExceptionGroup("service failed", [TwinError("broker unreachable"),
                                              ExceptionGroup("inner", [TwinError("database unreachable")]),
                                              TwinError("broker unreachable")])
    assert _exit_of(_group(_raise(group)), monkeypatch, "go") == 1
    assert capsys.readouterr().err == "Error: 2 errors: broker unreachable; database unreachable\n"


def test_main_entry_names_the_unexpected_exceptions_of_a_group(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    group = ExceptionGroup("service failed", [TwinError("broker unreachable"), KeyError("cnc-01")])
    assert _exit_of(_group(_raise(group)), monkeypatch, "go") == 1
    err = capsys.readouterr().err
    assert err == "Error: internal error: KeyError: 'cnc-01' (set TWIN_DEBUG=1 for the traceback)\n"


def test_main_entry_exits_130_quietly_on_ctrl_c(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_of(_group(_raise(KeyboardInterrupt())), monkeypatch, "go") == 130
    assert capsys.readouterr().err.strip() == ""


def test_main_entry_leaves_click_errors_and_exit_codes_to_click(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_of(_group(_raise(click.ClickException("no such alert"))), monkeypatch, "go") == 1
    assert capsys.readouterr().err == "Error: no such alert\n"
    assert _exit_of(_group(lambda: None), monkeypatch, "nope") == 2
    assert "No such command 'nope'" in capsys.readouterr().err
    assert _exit_of(_group(lambda: click.get_current_context().exit(3)), monkeypatch, "go") == 3
    assert _exit_of(_group(lambda: None), monkeypatch, "go") == 0
    assert _exit_of(_group(lambda: None), monkeypatch, "--help") == 0
    assert "A tiny CLI." in capsys.readouterr().out


async def _fail_together(*errors: Exception) -> None:
    async def fail(exc: Exception) -> None:
        await asyncio.sleep(0)
        raise exc

    async with asyncio.TaskGroup() as tg:
        for exc in errors:
            tg.create_task(fail(exc))


def test_run_service_lists_the_twin_errors_of_its_task_group() -> None:
    with pytest.raises(click.ClickException) as raised:
        run_service(_fail_together(TwinError("MQTT broker at 127.0.0.1:9 unreachable"),
                                   TwinError("InfluxDB at 127.0.0.1:9 unreachable")))
    assert raised.value.message == ("2 errors: MQTT broker at 127.0.0.1:9 unreachable; "
                                    "InfluxDB at 127.0.0.1:9 unreachable")


def test_run_service_lets_a_group_with_a_bug_through_to_the_safety_net() -> None:
    with pytest.raises(ExceptionGroup):
        run_service(_fail_together(TwinError("InfluxDB unreachable"), ZeroDivisionError("division by zero")))
