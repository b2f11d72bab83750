"""The `pdm` commands: metrics on a hand-made labelled file whose answer is known, clean errors, train, RUL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.pdm.cli import pdm
from analytics.pdm.store import load_model
from analytics.pdm.synthetic import bearing_run, write_rul_csv, write_skab_csv

# SKAB's own column names (waico/SKAB data/valve1/*.csv), two of them, plus a text column.
HEADER = ["datetime", "Accelerometer1RMS", "Volume Flow RateRMS", "operator", "anomaly", "changepoint"]
TRAIN_ROWS = 30
# After the 30 training rows, (signal kind, label, count): N = the training centre (score 0),
# B = a point 50 units away on both signals (score thousands of times the control limit).
BLOCKS = [("N", 0, 10), ("B", 1, 5), ("N", 1, 3), ("B", 0, 2), ("N", 0, 10)]


def _write_known_file(path: Path, sep: str = ";") -> None:
    """Training rows on a circle around (0, 0); then the blocks above."""
    lines = [sep.join(HEADER)]
    row = 0

    def add(a: float, b: float, label: int) -> None:
        nonlocal row
        ts = f"2020-03-09 10:{row // 60:02d}:{row % 60:02d}"
        lines.append(sep.join([ts, f"{a:.9f}", f"{b:.9f}", "anna", f"{float(label)}", "0.0"]))
        row += 1

    for k in range(TRAIN_ROWS):
        add(math.cos(2 * math.pi * k / TRAIN_ROWS), math.sin(2 * math.pi * k / TRAIN_ROWS), 0)
    for kind, label, count in BLOCKS:
        for _ in range(count):
            add(*((50.0, 50.0) if kind == "B" else (0.0, 0.0)), label)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(pdm, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_metrics_on_a_hand_made_file_without_dwell(tmp_path: Path) -> None:
    path = tmp_path / "known.csv"
    _write_known_file(path)
    code, out = _run("evaluate", str(path), "--train-rows", str(TRAIN_ROWS), "--dwell", "1", "--json")
    assert code == 0, out
    got = json.loads(out)["files"][0]
    # Each B row alarms and each N row does not: TP 5, FP 2, FN 3, TN 20.
    assert (got["tp"], got["fp"], got["fn"], got["tn"]) == (5, 2, 3, 20)
    assert got["precision"] == pytest.approx(5 / 7, abs=1e-6)
    assert got["recall"] == pytest.approx(5 / 8, abs=1e-6)
    assert got["f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert got["false_alarm_rate"] == pytest.approx(2 / 22, abs=1e-6)
    assert got["missed_alarm_rate"] == pytest.approx(3 / 8, abs=1e-6)
    assert got["signals"] == ["Accelerometer1RMS", "Volume Flow RateRMS"]  # operator, labels, datetime ignored
    assert got["train_rows"] == TRAIN_ROWS and got["scored_rows"] == 30


def test_metrics_with_dwell_and_pooled_over_two_files(tmp_path: Path) -> None:
    skab, comma = tmp_path / "skab.csv", tmp_path / "comma.csv"
    _write_known_file(skab, sep=";")
    _write_known_file(comma, sep=",")
    code, out = _run("evaluate", str(skab), str(comma), "--json")  # default training: leading normal rows
    assert code == 0, out
    result = json.loads(out)
    # Default training = the leading 40 normal rows (30 circle + 10 centre) and dwell 3:
    # B×5 (label 1) → alarm from the 3rd row: TP 3, FN 2; N×3 (label 1) → clears on the
    # 3rd: TP 2, FN 1; B×2 (label 0) → too short to alarm: TN 2; N×10: TN 10.
    for f in result["files"]:
        assert (f["tp"], f["fp"], f["fn"], f["tn"]) == (5, 0, 3, 12)
        assert f["train_rows"] == 40
    assert (result["pooled"]["tp"], result["pooled"]["fn"], result["pooled"]["tn"]) == (10, 6, 24)
    assert result["pooled"]["precision"] == 1.0
    code, table = _run("evaluate", str(skab), str(comma))
    assert code == 0 and "pooled" in table and "0.625" in table  # recall 5/8


def test_train_file_option_scores_every_row(tmp_path: Path) -> None:
    path = tmp_path / "known.csv"
    _write_known_file(path)
    train = tmp_path / "train.csv"
    train.write_text("\n".join(path.read_text().splitlines()[: TRAIN_ROWS + 1]) + "\n")
    code, out = _run("evaluate", str(path), "--train-file", str(train), "--dwell", "1", "--json")
    assert code == 0, out
    got = json.loads(out)["files"][0]
    assert got["scored_rows"] == TRAIN_ROWS + 30 and got["fp"] == 2 and got["tp"] == 5


@pytest.mark.parametrize(("content", "args", "message"), [
    ("datetime;a;b\n2020-01-01;1;2\n", (), "label column 'anomaly' is missing"),
    ("datetime;a;anomaly\n2020-01-01;1;x\n", (), "label column 'anomaly' is not numeric"),
    ("datetime;a;anomaly\n2020-01-01;1;2\n", (), "must be 0 or 1"),
    ("datetime;anomaly\n2020-01-01;0\n", (), "no numeric signal columns"),
    ("datetime,a,anomaly\n2020-01-01,1,0\n", ("--sep", ";"), "is the separator ','"),
    ("datetime;a;anomaly\n2020-01-01;1;0\n2020-01-02;1\n", (), "line 3 has 2 fields"),
    ("datetime;a;anomaly\n" + "2020-01-01;1;0\n" * 5 + "2020-01-01;1;1\n", (), "at least 20 are needed"),
    ("", (), "empty file"),
])
def test_bad_files_give_a_clear_error_not_a_traceback(tmp_path: Path, content: str, args: tuple[str, ...],
                                                      message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out = _run("evaluate", str(path), *args)
    assert code == 2
    assert message in out and "bad.csv" in out and "Traceback" not in out


def test_train_rows_and_train_file_are_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "known.csv"
    _write_known_file(path)
    code, out = _run("evaluate", str(path), "--train-rows", "5", "--train-file", str(path))
    assert code == 2 and "not both" in out


def test_train_saves_a_versioned_model_with_metadata(tmp_path: Path) -> None:
    csv_path = tmp_path / "healthy.csv"
    write_skab_csv(csv_path, bearing_run(hours=48, seed=1))
    out_dir = tmp_path / "models"
    for version in (1, 2):
        code, out = _run("train", str(csv_path), "--asset", "CNC-03", "--out", str(out_dir))
        assert code == 0, out
        assert f"version {version}" in out
    model = load_model(out_dir / "CNC-03.v2.joblib")
    assert model.info.version == 2 and model.info.asset == "CNC-03"
    assert model.info.train_start == "2026-01-05 00:00:00" and "anomaly" not in model.feature_names


def test_evaluate_rul_on_synthetic_runs_to_failure(tmp_path: Path) -> None:
    runs = [bearing_run(hours=1e9, onset_h=100, failure_h=100 + life, seed=10 + i)
            for i, life in enumerate((120, 160, 200))]
    path = tmp_path / "runs.csv"
    write_rul_csv(path, runs)
    code, out = _run("evaluate-rul", str(path), "--train-steps", "300", "--max-rul", "100", "--json")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert summary["units"] == 3 and summary["alarmed_units"] == 3
    assert summary["lead_time_min"] > 48  # every bearing flagged two days or more before failure
    assert summary["rmse"] < 25
    assert summary["predictions"] > 0 and summary["phm08_score"] > 0


def test_evaluate_rul_errors_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("engine,cycle,s1\n1,1,0.5\n")
    code, out = _run("evaluate-rul", str(path))
    assert code == 2 and "'unit' is missing" in out
