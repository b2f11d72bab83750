"""Measuring the detector and the RUL estimate on labelled files, so quality is measured rather than claimed.

Anomaly detection (`evaluate_files`): labelled multivariate CSVs in the layout of the
public SKAB benchmark (Katser & Kozitsin, *Skoltech Anomaly Benchmark*, 2020,
github.com/waico/SKAB): a timestamp column, numeric signal columns, a 0/1 `anomaly`
label and possibly other label columns (`changepoint`), which are ignored. For each
file a baseline is trained on normal rows and the rest is scored row by row through the
same hysteresis as the live service; a row is predicted anomalous when the alert state
is not normal. Reported per file and pooled over files (sums of the confusion counts):
precision, recall, F1, false-alarm rate FAR = FP/(FP+TN) and missed-alarm rate
MAR = FN/(FN+TP), the two SKAB uses.

RUL (`evaluate_rul`): run-to-failure data, one row per unit and time step, `unit,time,
<signals…>`, each unit's last row being its failure, so the true RUL of a row is
(last time of its unit − its time). Scores: RMSE and the asymmetric PHM08 score
s = Σ (exp(−d/13) − 1) for d < 0 and (exp(d/10) − 1) for d ≥ 0, d = predicted − true,
which punishes late predictions more than early ones (Saxena, Goebel, Simon & Eklund,
"Damage propagation modeling for aircraft engine run-to-failure simulation", PHM 2008).
"""

from __future__ import annotations

import csv
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from analytics.pdm.errors import DataError
from analytics.pdm.features import FeatureVector
from analytics.pdm.hysteresis import NORMAL, AlertHysteresis
from analytics.pdm.models import MIN_TRAIN_ROWS, BaselineModel, Method, fit_baseline
from analytics.pdm.scorer import AssetScorer, default_levels

log = logging.getLogger(__name__)

# Label columns of SKAB; never signals even when numeric.
KNOWN_LABELS = frozenset({"anomaly", "changepoint"})
# Column names taken as the timestamp when --time-col is not given.
TIME_COLUMNS = frozenset({"datetime", "timestamp", "time", "ts"})


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV read into numeric columns; non-numeric columns are named in `ignored`."""

    path: Path
    columns: dict[str, np.ndarray]
    times: list[str] | None
    ignored: tuple[str, ...]
    n_rows: int


def read_table(path: Path | str, *, sep: str = ",", time_col: str | None = None, detect_time: bool = True) -> Table:
    """Read a CSV; every column whose values all parse as numbers (blank = NaN) becomes numeric.

    Without `time_col`, a column named datetime, timestamp, time or ts is taken as the
    time column when `detect_time` is true.
    """
    path = Path(path)
    if len(sep) != 1 or sep in "\r\n":  # csv.reader raises TypeError for anything but one character
        raise DataError(f"separator must be one character (not a line break), got {sep!r}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f, delimiter=sep))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV file: {exc}") from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise DataError(f"{path}: empty file")
    header = [c.strip() for c in rows[0]]
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if not body:
        raise DataError(f"{path}: a header but no data rows")
    if len(header) == 1 and sep not in rows[0][0]:
        hint = "';'" if ";" in rows[0][0] else "','" if "," in rows[0][0] else None
        if hint:
            raise DataError(f"{path}: one column only; is the separator {hint}? (use --sep)")
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise DataError(f"{path}: line {i} has {len(r)} fields, the header has {len(header)}")
    if time_col is not None and time_col not in header:
        raise DataError(f"{path}: no time column {time_col!r} (columns: {', '.join(header)})")
    if time_col is None and detect_time:
        # A numeric time column (epoch seconds, cycles) must not be mistaken for a signal.
        time_col = next((c for c in header if c.lower() in TIME_COLUMNS), None)
    columns: dict[str, np.ndarray] = {}
    ignored: list[str] = []
    times = None
    for j, name in enumerate(header):
        values = [r[j].strip() for r in body]
        if name == time_col:
            times = values
            continue
        try:
            columns[name] = np.array([float(v) if v else math.nan for v in values], dtype=float)
        except ValueError:
            ignored.append(name)
    return Table(path=path, columns=columns, times=times, ignored=tuple(ignored), n_rows=len(body))


def parse_time_s(value: str) -> float:
    """Epoch seconds from an ISO 8601 timestamp (naive = UTC) or a plain number of seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True, slots=True)
class Confusion:
    """Row-wise confusion counts and the rates derived from them (NaN where undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else math.nan

    @property
    def precision(self) -> float:
        """TP / (TP + FP)."""
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN), the harmonic mean of precision and recall."""
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def false_alarm_rate(self) -> float:
        """FP / (FP + TN): share of normal rows alarmed."""
        return self._ratio(self.fp, self.fp + self.tn)

    @property
    def missed_alarm_rate(self) -> float:
        """FN / (FN + TP): share of anomalous rows missed."""
        return self._ratio(self.fn, self.fn + self.tp)

    @classmethod
    def of(cls, truth: np.ndarray, predicted: np.ndarray) -> Confusion:
        """Counts from 0/1 arrays."""
        t, p = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
        return cls(int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p)), int(np.sum(~t & ~p)))

    def as_dict(self) -> dict[str, Any]:
        """Counts and rates (JSON-ready: NaN becomes None)."""
        rates = {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                 "false_alarm_rate": self.false_alarm_rate, "missed_alarm_rate": self.missed_alarm_rate}
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                **{k: (None if math.isnan(v) else round(v, 6)) for k, v in rates.items()}}


@dataclass(frozen=True, slots=True)
class FileResult:
    """What evaluating one file gave."""

    path: Path
    n_train: int
    n_scored: int
    signals: tuple[str, ...]
    confusion: Confusion
    ignored: tuple[str, ...] = ()
    false_alarm_episodes: int = 0
    segments: int = 0
    delays_rows: tuple[int, ...] = ()

    @property
    def detected_segments(self) -> int:
        """Labelled anomaly segments with at least one alarmed row."""
        return len(self.delays_rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {"file": str(self.path), "train_rows": self.n_train, "scored_rows": self.n_scored,
                "signals": list(self.signals), "ignored_columns": list(self.ignored), **self.confusion.as_dict(),
                "false_alarm_episodes": self.false_alarm_episodes, "anomaly_segments": self.segments,
                "detected_segments": self.detected_segments,
                "mean_detection_delay_rows": round(statistics.mean(self.delays_rows), 3) if self.delays_rows else None}


def episodes(truth: np.ndarray, predicted: np.ndarray) -> tuple[int, int, tuple[int, ...]]:
    """(alarms raised on a normal row, labelled segments, delay in rows to the first alarm of each detected one).

    Row counts say how long the operator was misled; these say how often they were woken
    and how long a real fault went unnoticed.
    """
    t, p = np.asarray(truth, dtype=int), np.asarray(predicted, dtype=int)
    rises = np.flatnonzero(np.diff(np.concatenate([[0], p])) == 1)
    false_alarms = int(np.sum(t[rises] == 0))
    starts = np.flatnonzero(np.diff(np.concatenate([[0], t])) == 1)
    ends = np.flatnonzero(np.diff(np.concatenate([t, [0]])) == -1) + 1
    delays = []
    for a, b in zip(starts, ends, strict=True):
        hit = np.flatnonzero(p[a:b])
        if len(hit):
            delays.append(int(hit[0]))
    return false_alarms, len(starts), tuple(delays)


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """How `evaluate` trains and alarms."""

    method: Method = "pca"
    alpha: float = 0.01
    dwell: int = 3
    ignore: tuple[str, ...] = field(default_factory=tuple)
    trim: float | None = 0.001


def labels_of(table: Table, label_col: str) -> np.ndarray:
    """The 0/1 label column; DataError naming the column and file otherwise."""
    if label_col not in table.columns:
        where = "is not numeric" if label_col in table.ignored else "is missing"
        raise DataError(f"{table.path}: label column {label_col!r} {where}")
    y = table.columns[label_col]
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad)) + 2
        raise DataError(f"{table.path}: label column {label_col!r} must be 0 or 1 "
                        f"(line {row} has {float(y[bad][0]):g})")
    return y.astype(int)


def signal_names(table: Table, label_col: str, ignore: Sequence[str] = ()) -> tuple[str, ...]:
    """Numeric columns that are neither labels nor ignored."""
    skip = {label_col, *KNOWN_LABELS, *ignore}
    names = tuple(c for c in table.columns if c not in skip)
    if not names:
        raise DataError(f"{table.path}: no numeric signal columns besides the labels")
    return names


def matrix(table: Table, names: Sequence[str]) -> np.ndarray:
    """Rows × names; DataError when a name is missing."""
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise DataError(f"{table.path}: missing signal column(s) {', '.join(missing)}")
    return np.column_stack([table.columns[n] for n in names])


def alarm_states(model: BaselineModel, x: np.ndarray, *, dwell: int) -> np.ndarray:
    """1 where the hysteresis state (default levels) is not normal, row by row."""
    h = AlertHysteresis(levels=default_levels(model.info.failure_score), dwell=dwell)
    return np.array([h.update(float(s)) != NORMAL for s in model.score(x)], dtype=int)


def evaluate_file(path: Path | str, *, sep: str = ",", time_col: str | None = None, label_col: str = "anomaly",
                  train_rows: int | None = None, train: Table | None = None,
                  settings: DetectorSettings | None = None) -> FileResult:
    """Train on the normal part (or `train`) and score the rest of one labelled file.

    Training rows: the first `train_rows` rows if given, else the rows of `train` if
    given (then every row of the file is scored), else the leading run of rows labelled 0.
    Rows labelled 1 inside the training part are left out of training and not scored.
    """
    settings = settings or DetectorSettings()
    table = read_table(path, sep=sep, time_col=time_col)
    y = labels_of(table, label_col)
    names = signal_names(table, label_col, settings.ignore)
    x = matrix(table, names)
    if train is not None:
        x_train = matrix(train, names)
        if label_col in train.columns:
            x_train = x_train[labels_of(train, label_col) == 0]
        start = 0
    else:
        if train_rows is None:
            start = int(np.argmax(y == 1)) if y.any() else len(y)
            if start == len(y):
                raise DataError(f"{table.path}: no row labelled 1, so nothing to detect; give --train-rows")
        else:
            start = train_rows
        if start >= len(y):
            raise DataError(f"{table.path}: --train-rows {start} leaves no rows to score ({len(y)} rows)")
        x_train = x[:start][y[:start] == 0]
    if len(x_train) < MIN_TRAIN_ROWS:
        raise DataError(f"{table.path}: {len(x_train)} normal training rows; at least {MIN_TRAIN_ROWS} are needed"
                        " (see --train-rows / --train-file)")
    model = fit_baseline(x_train, names, asset=table.path.stem, method=settings.method, alpha=settings.alpha,
                         trim=settings.trim)
    predicted = alarm_states(model, x[start:], dwell=settings.dwell)
    confusion = Confusion.of(y[start:], predicted)
    false_alarms, segments, delays = episodes(y[start:], predicted)
    log.info("%s: trained on %d rows, scored %d: %s", table.path, len(x_train), len(y) - start, confusion)
    return FileResult(path=table.path, n_train=len(x_train), n_scored=len(y) - start, signals=names,
                      confusion=confusion, ignored=tuple(c for c in table.ignored if c != time_col),
                      false_alarm_episodes=false_alarms, segments=segments, delays_rows=delays)


def pooled_summary(results: Sequence[FileResult]) -> dict[str, Any]:
    """Confusion counts and rates summed over files, with alarm episodes and detection delays."""
    pooled = sum((r.confusion for r in results), Confusion())
    delays = [d for r in results for d in r.delays_rows]
    return {"files": len(results), "train_rows": sum(r.n_train for r in results),
            "scored_rows": sum(r.n_scored for r in results), **pooled.as_dict(),
            "false_alarm_episodes": sum(r.false_alarm_episodes for r in results),
            "anomaly_segments": sum(r.segments for r in results),
            "detected_segments": sum(r.detected_segments for r in results),
            "mean_detection_delay_rows": round(statistics.mean(delays), 3) if delays else None}


def evaluate_files(paths: Sequence[Path | str], **kwargs: Any) -> tuple[list[FileResult], dict[str, Any]]:
    """Evaluate each file; return per-file results and the pooled summary."""
    results = [evaluate_file(p, **kwargs) for p in paths]
    return results, pooled_summary(results)


# --- RUL -----------------------------------------------------------------------------------


def phm08_score(predicted: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """PHM08 score Σ exp(−d/13) − 1 (d < 0) or exp(d/10) − 1 (d ≥ 0), d = predicted − true (Saxena et al. 2008)."""
    d = np.asarray(predicted, dtype=float) - np.asarray(true, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def rmse(predicted: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray) -> float:
    """Root mean square error."""
    d = np.asarray(predicted, dtype=float) - np.asarray(true, dtype=float)
    return float(np.sqrt(np.mean(d**2))) if len(d) else math.nan


@dataclass(frozen=True, slots=True)
class UnitResult:
    """RUL evaluation of one run to failure."""

    unit: str
    failure_time: float
    first_alarm_time: float | None
    n_rows: int
    true_rul: np.ndarray
    predicted: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def lead_time(self) -> float | None:
        """Failure time − first non-normal state (None: never alarmed)."""
        return None if self.first_alarm_time is None else self.failure_time - self.first_alarm_time


@dataclass(frozen=True, slots=True)
class RulReport:
    """Pooled RUL scores over all units."""

    units: list[UnitResult]
    failure_scores: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures."""
        true = np.concatenate([u.true_rul for u in self.units]) if self.units else np.array([])
        pred = np.concatenate([u.predicted for u in self.units]) if self.units else np.array([])
        low = np.concatenate([u.low for u in self.units]) if self.units else np.array([])
        high = np.concatenate([u.high for u in self.units]) if self.units else np.array([])
        leads = [u.lead_time for u in self.units if u.lead_time is not None]
        n_rows = sum(u.n_rows for u in self.units)
        phm = phm08_score(pred, true) if len(pred) else math.nan

        def clean(v: float) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), 4)

        return {
            "units": len(self.units), "predictions": len(pred),
            "rmse": clean(rmse(pred, true)), "phm08_score": clean(phm),
            "phm08_score_mean": clean(phm / len(pred)) if len(pred) else None,
            "mean_error": clean(float(np.mean(pred - true))) if len(pred) else None,
            "interval_coverage": clean(float(np.mean((low <= true) & (true <= high)))) if len(pred) else None,
            "prediction_share": clean(len(pred) / n_rows) if n_rows else None,
            "alarmed_units": len(leads),
            "lead_time_median": clean(statistics.median(leads)) if leads else None,
            "lead_time_min": clean(min(leads)) if leads else None,
        }


def read_runs(path: Path | str, *, sep: str = ",", unit_col: str = "unit", time_col: str = "time",
              ignore: Sequence[str] = ()) -> tuple[tuple[str, ...], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Signals and, per unit, (times, rows) sorted by time, from a run-to-failure CSV."""
    table = read_table(path, sep=sep, detect_time=False)
    for col in (unit_col, time_col):
        if col not in table.columns:
            where = "is not numeric" if col in table.ignored else "is missing"
            raise DataError(f"{table.path}: column {col!r} {where}")
    names = tuple(c for c in table.columns if c not in {unit_col, time_col, *ignore})
    if not names:
        raise DataError(f"{table.path}: no numeric signal columns besides {unit_col!r} and {time_col!r}")
    units = table.columns[unit_col]
    t = table.columns[time_col]
    if not np.all(np.isfinite(t)) or not np.all(np.isfinite(units)):
        raise DataError(f"{table.path}: {unit_col!r} and {time_col!r} must be filled in on every row")
    x = matrix(table, names)
    runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for u in dict.fromkeys(units.tolist()):
        sel = units == u
        order = np.argsort(t[sel], kind="stable")
        label = str(int(u)) if float(u).is_integer() else str(u)
        runs[label] = (t[sel][order], x[sel][order])
    return names, runs


def evaluate_rul(path: Path | str, *, sep: str = ",", unit_col: str = "unit", time_col: str = "time",
                 train_steps: int = 50, method: Method = "pca", failure_score: float | None = None,
                 dwell: int = 3, rul_level: float = 0.90, max_rul: float | None = None,
                 trim: float | None = 0.001) -> RulReport:
    """Score streaming RUL on runs to failure.

    The baseline is trained on the first `train_steps` rows of every unit (units start
    healthy, as in C-MAPSS). Unless `failure_score` is given, each unit's failure threshold
    is the median end-of-life score of the *other* units (leave-one-unit-out), so no unit
    is scored with a threshold learnt from its own failure. Time is in the file's unit
    (hours, cycles); the scorer's "hours" are that unit.

    With `max_rul`, true and predicted RUL (and the interval) are capped at it, the
    piecewise-linear target of the C-MAPSS literature (Heimes, PHM 2008): "more than
    max_rul left" is then not an error, as no maintenance plan looks further ahead.
    """
    names, runs = read_runs(path, sep=sep, unit_col=unit_col, time_col=time_col)
    healthy = [x[:train_steps] for _, x in runs.values()]
    x_train = np.vstack(healthy)
    model = fit_baseline(x_train, names, asset=Path(path).stem, method=method, trim=trim)
    end_scores = {u: float(model.score(x[-1:])[0]) for u, (_, x) in runs.items()}
    thresholds: dict[str, float] = {}
    for u in runs:
        if failure_score is not None:
            thresholds[u] = failure_score
            continue
        others = [s for v, s in end_scores.items() if v != u]
        if not others:
            raise DataError(f"{path}: one unit only; give --failure-score to score it")
        thresholds[u] = max(statistics.median(others), 1.0 + 1e-6)
    results = []
    for u, (t, x) in runs.items():
        scorer = AssetScorer(model.with_failure_score(thresholds[u]), dwell=dwell, rul_level=rul_level)
        failure_time = float(t[-1])
        first_alarm = None
        rows = []
        for ti, row in zip(t, x, strict=True):
            r = scorer.update(FeatureVector(ts_s=float(ti) * 3600.0, values=dict(zip(names, row, strict=True))))
            if r.state != NORMAL and first_alarm is None:
                first_alarm = float(ti)
            if r.rul_hours is not None and r.rul_hours_low is not None and r.rul_hours_high is not None:
                rows.append((failure_time - float(ti), r.rul_hours, r.rul_hours_low, r.rul_hours_high))
        a = np.array(rows, dtype=float).reshape(-1, 4)
        if max_rul is not None:
            a = np.minimum(a, max_rul)
        results.append(UnitResult(unit=u, failure_time=failure_time, first_alarm_time=first_alarm, n_rows=len(t),
                                  true_rul=a[:, 0], predicted=a[:, 1], low=a[:, 2], high=a[:, 3]))
    return RulReport(units=results, failure_scores=thresholds)


# --- labels from the simulator (interval form) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelInterval:
    """One ground-truth fault: asset, signal, kind, [start, end) in epoch seconds, failure time if any.

    This is the row form of the simulator's scenario labels CSV
    (asset, signal, kind, start, end, failure_time); `interval_labels` turns intervals into
    per-row 0/1 labels so the same `Confusion` and lead-time code applies.
    """

    asset: str
    signal: str
    kind: str
    start_s: float
    end_s: float
    failure_s: float | None = None


def interval_labels(times_s: np.ndarray, intervals: Sequence[LabelInterval], *, asset: str | None = None) -> np.ndarray:
    """1 for each time inside any interval (of `asset` when given), else 0."""
    y = np.zeros(len(times_s), dtype=int)
    for iv in intervals:
        if asset is None or iv.asset == asset:
            y |= ((times_s >= iv.start_s) & (times_s < iv.end_s)).astype(int)
    return y
