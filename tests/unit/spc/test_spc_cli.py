"""`twin spc analyze` and `twin spc arl`: results, JSON output, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.spc.cli import spc

CALM = [10.1, 9.9, 10.0, 10.2, 9.8, 10.0, 10.1, 9.9, 10.0, 10.1, 9.8, 10.2, 10.0, 9.9, 10.1, 10.0, 9.9, 10.1, 10.0, 9.9]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def imr_csv(tmp_path: Path) -> str:
    rows = [f"2026-11-26T08:{i:02d}:00Z,{v}" for i, v in enumerate([*CALM, 11.5])]
    return write(tmp_path, "imr.csv", "timestamp,value\n" + "\n".join(rows) + "\n")


def test_analyze_json_reports_limits_violations_and_capability(imr_csv: str) -> None:
    result = CliRunner().invoke(spc, ["analyze", imr_csv, "--chart", "imr", "--lsl", "9", "--usl", "11", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chart"] == "imr"
    assert data["phase_one"]["excluded"] == [20]
    assert data["limits"]["center"] == pytest.approx(sum(CALM) / len(CALM))
    assert data["violations_by_rule"]["nelson1"] >= 1
    last = data["violations"][-1]
    assert last["index"] == 20 and last["timestamps"][-1] == "2026-11-26T08:20:00+00:00"
    assert data["capability"]["cp"]["value"] > 0 and data["capability"]["cpk"]["lower"] is not None


def test_analyze_with_known_parameters_uses_them(imr_csv: str) -> None:
    result = CliRunner().invoke(spc, ["analyze", imr_csv, "--chart", "imr", "--target", "10", "--sigma", "0.5",
                                      "--rules", "nelson1", "--json"])
    data = json.loads(result.stdout)
    limits = data["limits"]
    assert (limits["center"], limits["sigma"], limits["source"]) == (10.0, 0.5, "known")
    assert data["phase_one"]["excluded"] == []
    assert data["points"][0]["ucl"] == pytest.approx(11.5)
    assert data["in_control"] is True  # 11.5 is on the limit, not beyond it
    # With all Nelson rules, fifteen points hugging the centre line (|z| < 1) are a pattern.
    nelson = CliRunner().invoke(spc, ["analyze", imr_csv, "--chart", "imr", "--target", "10", "--sigma", "0.5",
                                      "--json"])
    assert "nelson7" in json.loads(nelson.stdout)["violations_by_rule"]


def test_analyze_human_output_shows_tables(imr_csv: str) -> None:
    result = CliRunner().invoke(spc, ["analyze", imr_csv, "--chart", "imr", "--lsl", "9", "--usl", "11"])
    assert result.exit_code == 0, result.output
    for text in ("UCL", "nelson1", "Cpk", "Phase I dropped 1 point"):
        assert text in result.output


def test_analyze_subgroups_and_attributes(tmp_path: Path) -> None:
    sub = write(tmp_path, "sub.csv", "subgroup,value\n" + "".join(f"g{i // 4},{v}\n" for i, v in enumerate(CALM)))
    data = json.loads(CliRunner().invoke(spc, ["analyze", sub, "--chart", "xbar-s", "--json"]).stdout)
    assert data["subgroup_size"] == 4 and len(data["points"]) == 5
    assert data["points"][0]["dispersion"]["chart"] == "s"
    attr = write(tmp_path, "u.csv", "defects,size\n3,2\n5,3\n2,2\n4,2\n")
    data = json.loads(CliRunner().invoke(spc, ["analyze", attr, "--chart", "u", "--json"]).stdout)
    assert data["limits"]["center"] == pytest.approx(14 / 9)
    assert data["capability"] is None


@pytest.mark.parametrize(("content", "args", "message"), [
    ("", [], "empty"),
    ("value\n1\n2\nabc\n", [], "line 4: column 'value' holds 'abc'"),
    ("reading\n1\n2\n", [], "no 'value' column; found columns: 'reading'"),
    ("value\n\n", [], "no data rows"),
    ("value\n1\n", [], "only 1 usable baseline point"),
    ("value,timestamp\n1,yesterday\n2,\n", [], "not ISO 8601"),
    ("value\n1\n2\n3\n", ["--chart", "xbar-r", "--subgroup-size", "2"], "do not split into subgroups"),
    ("value\n1\n2\n", ["--chart", "p"], "needs a column named defectives"),
    ("defectives,n\n5,4\n", ["--chart", "p"], "more defectives than units"),
    ("value\n5\n5\n5\n", [], "sigma"),
])
def test_bad_csv_gives_a_clear_error_not_a_traceback(tmp_path: Path, content: str, args: list[str],
                                                     message: str) -> None:
    path = write(tmp_path, "bad.csv", content)
    argv = ["analyze", path, *(args or ["--chart", "imr"])]
    result = CliRunner().invoke(spc, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, KeyError))


def test_analyze_help_documents_the_csv_format() -> None:
    result = CliRunner().invoke(spc, ["analyze", "--help"])
    for column in ("value", "subgroup", "timestamp", "defectives", "defects", "size"):
        assert column in result.output


def test_arl_json_has_the_arl_and_its_standard_error() -> None:
    result = CliRunner().invoke(spc, ["arl", "--chart", "cusum", "--k", "0.5", "--h", "5", "--shift", "1",
                                      "--runs", "300", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert abs(data["arl"] - 10.4) < 4 * data["std_error"]
    assert data["std_error"] > 0 and data["runs"] == 300 and data["seed"] == 3


def test_arl_human_output_and_option_checks() -> None:
    result = CliRunner().invoke(spc, ["arl", "--chart", "ewma", "--lambda", "0.2", "--L", "2.86", "--shift", "2",
                                      "--runs", "50", "--seed", "1"])
    assert result.exit_code == 0 and "std error" in result.output
    wrong = CliRunner().invoke(spc, ["arl", "--chart", "ewma", "--k", "1", "--shift", "0", "--runs", "10"])
    assert wrong.exit_code == 2 and "--k do(es) not apply to --chart ewma" in wrong.output
    bad = CliRunner().invoke(spc, ["arl", "--chart", "ewma", "--lambda", "2", "--shift", "0", "--runs", "10"])
    assert bad.exit_code == 2 and "lambda" in bad.output
