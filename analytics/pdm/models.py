"""Per-asset baseline models learnt from a healthy period, and multivariate anomaly scores.

Three detectors, all fitted on standardised features of healthy data and all returning a
*normalised anomaly score* `a`, the statistic divided by its control limit, so that
`a = 1` is the limit, whatever the method:

- `pca` — PCA with Hotelling's T² in the retained subspace and Q (SPE, the squared
  residual) outside it (Jackson, *A User's Guide to Principal Components*, Wiley 1991;
  MacGregor & Kourti, Control Eng. Practice 3 (1995) 403–414). `a = max(T²/T²_lim, Q/Q_lim)`.
  T²_lim is the F-distribution limit for a new observation, k(n−1)(n+1)/(n(n−k))·F(k, n−k)
  (Tracy, Young & Mason, J. Quality Technology 24 (1992) 88–95); Q_lim is the
  Jackson & Mudholkar (Technometrics 21 (1979) 341–349) normal approximation, with Box's
  (Ann. Math. Stat. 25 (1954) 290–302) scaled chi-square g·χ²(h) as fallback when the
  former is undefined (h0 ≤ 0).
- `mcd` — squared robust Mahalanobis distance under the Minimum Covariance Determinant
  estimate (Rousseeuw & Van Driessen, Technometrics 41 (1999) 212–223; sklearn `MinCovDet`),
  limit χ²(p) at 1−α. Robust, so a few unnoticed outliers in the "healthy" period do not
  inflate the baseline.
- `iforest` — isolation forest (Liu, Ting & Zhou, ICDM 2008), no distributional limit:
  the score is (s − median)/(q − median) with s the sklearn anomaly score (−score_samples),
  median and q its median and 1−α quantile over the training data, so `a = 1` at q too.

The health index maps `a` on a log scale: 100 at or below the control limit (the asset is
indistinguishable from its healthy baseline), 0 at `failure_score` (the score at which the
asset is considered failed, in control-limit units; calibrate it per asset type from
run-to-failure history, see `calibrate_failure_score`):

    health = 100 · (1 − clip(ln a / ln failure_score, 0, 1))

Log scale because degradation (and with it T², Q and d²) grows roughly exponentially
(Gebraeel et al., IIE Transactions 37 (2005) 543–557), so equal steps of health are equal
ratios of the score, and the RUL fit in `rul.py` is linear in ln a.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

import numpy as np
from scipy import stats
from sklearn.covariance import MinCovDet
from sklearn.ensemble import IsolationForest

from analytics.pdm.errors import DataError, ModelError
from analytics.pdm.features import FeatureVector

log = logging.getLogger(__name__)

Method = Literal["pca", "mcd", "iforest"]
METHODS: tuple[Method, ...] = ("pca", "mcd", "iforest")
DEFAULT_METHOD: Method = "pca"

# Fewer healthy rows than this and no covariance or control limit is worth having.
MIN_TRAIN_ROWS = 20


class Detector(Protocol):
    """A fitted detector on standardised features; `score` is 1.0 at its control limit."""

    def fit(self, xs: np.ndarray) -> None:
        """Learn the healthy baseline from standardised rows."""
        ...

    def score(self, xs: np.ndarray) -> np.ndarray:
        """Normalised anomaly score per row."""
        ...


class PcaT2Q:
    """PCA monitoring: Hotelling T² in the model subspace and Q (SPE) in the residual."""

    def __init__(self, *, alpha: float = 0.01, variance: float = 0.90) -> None:
        self.alpha = alpha
        self.variance = variance

    def fit(self, xs: np.ndarray) -> None:
        n, p = xs.shape
        mean = xs.mean(axis=0)
        _, sv, vt = np.linalg.svd(xs - mean, full_matrices=False)
        eig = sv**2 / (n - 1)
        eig = np.concatenate([eig, np.zeros(p - len(eig))])
        ratio = np.cumsum(eig) / max(eig.sum(), 1e-300)
        # Keep enough components for `variance` of the total, but leave at least one
        # direction for Q when there is more than one feature.
        k = int(np.searchsorted(ratio, self.variance) + 1)
        k = max(1, min(k, p - 1 if p > 1 else 1, n - 2))
        self.mean_ = mean
        self.components_ = vt[:k].T  # p × k loadings
        self.eigenvalues_ = np.maximum(eig[:k], 1e-12)
        self.k_ = k
        # T² limit for a new observation (Tracy, Young & Mason 1992, eq. for Phase II).
        f = stats.f.ppf(1 - self.alpha, k, n - k)
        self.t2_limit_ = float(k * (n - 1) * (n + 1) / (n * (n - k)) * f)
        residual = eig[k:]
        self.q_limit_ = _q_limit(residual, self.alpha) if p > k else math.inf
        if not math.isfinite(self.q_limit_) or self.q_limit_ <= 0:
            # No residual variance in training (p == k or exactly collinear features):
            # then any residual is a break of the correlation structure; use a tiny limit
            # scaled to the data instead of dividing by zero.
            self.q_limit_ = 1e-6 * float(np.sum(self.eigenvalues_))

    def statistics(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T² and Q per row."""
        centred = xs - self.mean_
        scores = centred @ self.components_
        t2 = np.sum(scores**2 / self.eigenvalues_, axis=1)
        residual = centred - scores @ self.components_.T
        q = np.sum(residual**2, axis=1)
        return t2, q

    def score(self, xs: np.ndarray) -> np.ndarray:
        t2, q = self.statistics(xs)
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_)


def _q_limit(residual_eigenvalues: np.ndarray, alpha: float) -> float:
    """Upper control limit of Q = SPE (Jackson & Mudholkar 1979, eq. 3.4; Box 1954 fallback)."""
    theta1, theta2, theta3 = (float(np.sum(residual_eigenvalues**i)) for i in (1, 2, 3))
    if theta1 <= 0 or theta2 <= 0:
        return math.nan
    h0 = 1 - 2 * theta1 * theta3 / (3 * theta2**2)
    c = float(stats.norm.ppf(1 - alpha))
    if h0 > 0:
        inner = c * math.sqrt(2 * theta2 * h0**2) / theta1 + 1 + theta2 * h0 * (h0 - 1) / theta1**2
        if inner > 0:
            return float(theta1 * inner ** (1 / h0))
    g, h = theta2 / theta1, theta1**2 / theta2
    return float(g * stats.chi2.ppf(1 - alpha, h))


class RobustCovariance:
    """Squared Mahalanobis distance under the MCD robust covariance; limit χ²(p, 1−α)."""

    def __init__(self, *, alpha: float = 0.01, random_state: int = 0) -> None:
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, xs: np.ndarray) -> None:
        with warnings.catch_warnings():
            # sklearn warns when the MCD support is singular; that is reported by the
            # rank check below as a DataError the user can act on instead.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            self.mcd_ = MinCovDet(random_state=self.random_state).fit(xs)
        if np.linalg.matrix_rank(self.mcd_.covariance_) < xs.shape[1]:
            raise DataError("robust covariance of the healthy data is singular (collinear or near-constant features)")
        self.limit_ = float(stats.chi2.ppf(1 - self.alpha, xs.shape[1]))

    def score(self, xs: np.ndarray) -> np.ndarray:
        return np.asarray(self.mcd_.mahalanobis(xs), dtype=float) / self.limit_


class IsolationForestDetector:
    """Isolation forest; normalised so the training (1−α) quantile maps to 1 and the median to 0."""

    def __init__(self, *, alpha: float = 0.01, n_estimators: int = 100, random_state: int = 0) -> None:
        self.alpha = alpha
        self.n_estimators = n_estimators
        self.random_state = random_state

    def fit(self, xs: np.ndarray) -> None:
        # n_jobs=1: analytics share small machines with the rest of the pipeline.
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=1)
        self.forest_.fit(xs)
        s = -self.forest_.score_samples(xs)
        self.median_ = float(np.median(s))
        self.limit_ = float(np.quantile(s, 1 - self.alpha))
        if self.limit_ <= self.median_:
            self.limit_ = self.median_ + 1e-6

    def score(self, xs: np.ndarray) -> np.ndarray:
        s = -self.forest_.score_samples(xs)
        return np.asarray(np.maximum((s - self.median_) / (self.limit_ - self.median_), 0.0), dtype=float)


def make_detector(method: Method, *, alpha: float = 0.01) -> Detector:
    """A new, unfitted detector of the named method."""
    if method == "pca":
        return PcaT2Q(alpha=alpha)
    if method == "mcd":
        return RobustCovariance(alpha=alpha)
    if method == "iforest":
        return IsolationForestDetector(alpha=alpha)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def health_index(score: float | np.ndarray, failure_score: float) -> float | np.ndarray:
    """Health 0..100 from the normalised anomaly score (see the module docstring)."""
    a = np.maximum(np.asarray(score, dtype=float), 1.0)
    a = np.where(np.isfinite(a), a, failure_score)
    h = 100.0 * (1.0 - np.clip(np.log(a) / math.log(failure_score), 0.0, 1.0))
    return float(h) if np.ndim(h) == 0 else h


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model is: the JSON sidecar of a saved model carries exactly this."""

    asset: str
    method: str
    feature_names: tuple[str, ...]
    version: int = 1
    alpha: float = 0.01
    failure_score: float = 100.0
    n_train: int = 0
    train_start: str | None = None
    train_end: str | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    dropped_features: tuple[str, ...] = ()
    n_trimmed: int = 0


class BaselineModel:
    """A fitted per-asset baseline: standardisation, detector, failure threshold and metadata."""

    def __init__(self, info: ModelInfo, *, center: np.ndarray, scale: np.ndarray, active: np.ndarray,
                 detector: Detector) -> None:
        self.info = info
        self.center = center
        self.scale = scale
        self.active = active
        self.detector = detector

    def __repr__(self) -> str:
        i = self.info
        return (f"BaselineModel(asset={i.asset!r}, method={i.method!r}, version={i.version}, "
                f"features={len(i.feature_names)})")

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature order the model expects."""
        return self.info.feature_names

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        if x.shape[1] != len(self.center):
            raise ModelError(f"model for {self.info.asset} expects {len(self.center)} features, got {x.shape[1]}")
        # A missing feature (NaN) is imputed with its healthy centre: it neither raises
        # nor lowers the score, it just carries no evidence.
        x = np.where(np.isfinite(x), x, self.center)
        return np.asarray(((x - self.center) / self.scale)[:, self.active], dtype=float)

    def score(self, x: np.ndarray) -> np.ndarray:
        """Normalised anomaly score per row of x (columns in `feature_names` order); 1 = control limit."""
        return self.detector.score(self._standardise(x))

    def score_features(self, features: FeatureVector | Mapping[str, float]) -> tuple[float, int]:
        """Score one feature vector; returns (score, number of missing features)."""
        values = features.values if isinstance(features, FeatureVector) else features
        row = np.array([values.get(n, math.nan) for n in self.feature_names], dtype=float)
        missing = int(np.sum(~np.isfinite(row)))
        return float(self.score(row)[0]), missing

    def with_failure_score(self, failure_score: float) -> BaselineModel:
        """The same model with another failure threshold (e.g. from `calibrate_failure_score`)."""
        if failure_score <= 1:
            raise DataError("failure_score must be above 1 (the control limit)")
        info = dataclasses.replace(self.info, failure_score=failure_score)
        return BaselineModel(info, center=self.center, scale=self.scale, active=self.active, detector=self.detector)

    def health(self, score: float) -> float:
        """Health index 0..100 for a normalised score."""
        return float(health_index(score, self.info.failure_score))


def trim_outliers(x: np.ndarray, *, trim: float) -> np.ndarray:
    """Mask of rows to keep: those within the χ²(p, 1 − trim) quantile of their MCD robust distance.

    A "healthy" period nearly always holds a few upsets nobody labelled (a crash, a knock on
    the sensor). The robust distance finds them without being pulled towards them, and
    dropping them before any detector is fitted keeps them out of its covariance, its
    forest and its limits (the reweighting step of Rousseeuw & Van Driessen 1999, used
    the same way for robust PCA by Hubert, Rousseeuw & Vanden Branden, Technometrics 47
    (2005) 64–79).
    """
    med = np.median(x, axis=0)
    mad = np.median(np.abs(x - med), axis=0) * 1.4826  # MAD → σ for Gaussian data
    ok = mad > 0
    if ok.sum() < 1:
        return np.ones(len(x), dtype=bool)
    z = (x[:, ok] - med[ok]) / mad[ok]
    try:
        mcd = RobustCovariance(alpha=trim)
        mcd.fit(z)
    except DataError:
        log.warning("robust covariance singular; training rows are not trimmed")
        return np.ones(len(x), dtype=bool)
    return np.asarray(mcd.score(z) <= 1.0, dtype=bool)


def fit_baseline(x: np.ndarray, feature_names: Sequence[str], *, asset: str, method: Method = DEFAULT_METHOD,
                 alpha: float = 0.01, failure_score: float = 100.0, version: int = 1,
                 train_start: str | None = None, train_end: str | None = None,
                 trim: float | None = 0.001) -> BaselineModel:
    """Learn a baseline from healthy rows x (n × p, columns named by feature_names).

    With `trim`, rows beyond the 1 − trim robust-distance quantile are left out first
    (see `trim_outliers`); None fits on every row.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(feature_names):
        raise DataError(f"expected rows of {len(feature_names)} features, got an array of shape {x.shape}")
    rows = np.all(np.isfinite(x), axis=1)
    x = x[rows]
    if len(x) < MIN_TRAIN_ROWS:
        raise DataError(f"{asset}: {len(x)} complete healthy rows; at least {MIN_TRAIN_ROWS} are needed")
    if failure_score <= 1:
        raise DataError("failure_score must be above 1 (the control limit)")
    n_trimmed = 0
    if trim is not None:
        keep = trim_outliers(x, trim=trim)
        if keep.sum() >= MIN_TRAIN_ROWS:
            n_trimmed = int(len(x) - keep.sum())
            x = x[keep]
            log.info("asset %s: %d of %d training rows trimmed as outliers", asset, n_trimmed, n_trimmed + len(x))
    center = x.mean(axis=0)
    scale = x.std(axis=0, ddof=1)
    # A feature that never moved while healthy has no spread to standardise by; it is left
    # out of the multivariate model (and named in the metadata) rather than divided by zero.
    active = scale > 1e-9 * (1.0 + np.abs(center))
    dropped = tuple(n for n, a in zip(feature_names, active, strict=True) if not a)
    if dropped:
        log.warning("asset %s: features constant in the healthy data are not modelled: %s", asset, ", ".join(dropped))
    if not active.any():
        raise DataError(f"{asset}: every feature is constant in the healthy data")
    scale = np.where(active, scale, 1.0)
    detector = make_detector(method, alpha=alpha)
    detector.fit(((x - center) / scale)[:, active])
    info = ModelInfo(asset=asset, method=method, feature_names=tuple(feature_names), version=version, alpha=alpha,
                     failure_score=failure_score, n_train=len(x), train_start=train_start, train_end=train_end,
                     dropped_features=dropped, n_trimmed=n_trimmed)
    return BaselineModel(info, center=center, scale=scale, active=active, detector=detector)


def calibrate_failure_score(model: BaselineModel, x_at_failure: np.ndarray) -> float:
    """A failure score from rows observed at failure (e.g. the last window of each run to failure).

    The median of their scores: half the recorded failures reached it, which is the
    threshold whose crossing time a RUL fit should predict.
    """
    scores = model.score(np.atleast_2d(x_at_failure))
    value = float(np.median(scores))
    if not value > 1:
        raise DataError("rows at failure score within the control limit; they cannot define a failure threshold")
    return value
