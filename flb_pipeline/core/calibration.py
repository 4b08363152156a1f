"""Win-probability model `logit(q) = a + (b_h + β_f)·logit(p) + o_f` (DESIGN §5.2).

The favourite-longshot bias is a miscalibration of prices: longshots win less often than their
price says and favourites more often, which shows up as a slope `b > 1` on the logit scale.
The evidence says the bias depends on the time to close (almost none in the last hour, about
1.3 beyond a month) and on the product family, so the slope is fitted per log-horizon bucket h
of the time to close (`HorizonBuckets`, default < 1 h, 1–6 h, 6–24 h, 1–7 d, > 7 d).

A family gets an offset `o_f` and also a slope shift `β_f`: politics prices are compressed
toward 50% (a steeper slope, not a shifted one) and crypto carries more bias than finance,
which an offset alone cannot express (it moves favourites and longshots the same way on the
logit scale). The issue's "o_family × h where the data supports it" is this slope shift: it
grows with the price's distance from 50% instead of with the horizon.

All parameters are fitted together by maximum a posteriori on settled markets (each market's
YES mid at several horizons before close -> its outcome) with Gaussian priors:
- `a ~ N(published intercept)`, each `b_h ~ N(published slope)`: a cold start trades on the
  literature;
- a random walk `b_h − b_{h−1} ~ N(0, horizon_step_sd)`: a horizon bucket with little data
  borrows from its neighbours;
- `o_f, β_f ~ N(0, ·)`: a family with little data is the pooled model. Their data-weighted
  means are held at 0 (sd `family_mean_sd`), so `a` and `b_h` describe the pooled market and a
  family's terms are only what sets it apart (without this, the split of a common slope
  between `b_h` and `β_f` would be decided by the priors alone).

Standard errors are clustered by event: the brackets of one event and the same market at
several horizons share one outcome, so they are not independent evidence. Every output is
NaN-free (`None` where undefined) so reports serialise to JSON as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit

if TYPE_CHECKING:
    from flb_pipeline.core.gate import CalibrationReport

PROBABILITY_FLOOR = 1e-6
WILSON_Z95 = 1.959963984540054
DEFAULT_HORIZON_EDGES_S = (3_600.0, 21_600.0, 86_400.0, 604_800.0)
_OPTIMISER_GRADIENT_TOLERANCE = 1e-8
_OPTIMISER_MAX_ITERATIONS = 1000


class CalibrationFailed(Exception):
    """No trustworthy model: too little data or the optimiser did not converge.

    Raised instead of returning a half-fitted model; callers keep the previous fit or fall back
    to `cold_start_fit` and report `reason`.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def wilson_interval(successes: int, n: int, z: float = WILSON_Z95) -> tuple[float, float]:
    """Wilson score interval for a win rate: unlike the normal interval it stays inside [0, 1]
    and is honest at the extreme rates (a 97¢ favourite bucket) where the edge lives."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    rate = successes / n
    z2_n = z * z / n
    centre = (rate + z2_n / 2) / (1 + z2_n)
    half_width = z * np.sqrt(rate * (1 - rate) / n + z2_n / (4 * n)) / (1 + z2_n)
    # Rounding must neither leave [0, 1] nor put the observed rate outside its own interval
    # (exact arithmetic gives bounds of exactly 0 and 1 for 0 and n wins).
    low = min(rate, max(0.0, float(centre - half_width)))
    high = max(rate, min(1.0, float(centre + half_width)))
    return low, high


# --- prior from the published calibration ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferencePoint:
    """One published calibration bucket: average price paid vs realised win rate."""

    bucket_low_cents: int
    bucket_high_cents: int
    mean_price: float
    realised_win_rate: float
    weight: float

    def __post_init__(self) -> None:
        if not (0 < self.mean_price < 1 and 0 < self.realised_win_rate < 1):
            raise ValueError(f"reference rates must lie in (0, 1): {self}")
        if self.weight <= 0:
            raise ValueError(f"reference weight must be positive: {self}")


@dataclass(frozen=True, slots=True)
class CalibrationPrior:
    """Gaussian prior of the MAP fit: centre (intercept, slope of every horizon bucket) and the
    spreads around it (see the module docstring for what each spread shrinks)."""

    intercept: float
    slope: float
    intercept_sd: float
    slope_sd: float
    family_sd: float
    horizon_step_sd: float = 0.1
    family_slope_sd: float = 0.15
    family_mean_sd: float = 0.01

    def __post_init__(self) -> None:
        spreads = (
            self.intercept_sd, self.slope_sd, self.family_sd, self.horizon_step_sd,
            self.family_slope_sd, self.family_mean_sd,
        )  # fmt: skip
        if min(spreads) <= 0:
            raise ValueError(f"prior standard deviations must be positive: {self}")


def parse_reference_csv(text: str, venue: str = "kalshi") -> list[ReferencePoint]:
    """The rows of one venue from the shared reference CSV text.

    Rows without a contract count (published without one) weigh 1, i.e. equally.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [
        ReferencePoint(
            bucket_low_cents=int(row["bucket_low_cents"]),
            bucket_high_cents=int(row["bucket_high_cents"]),
            mean_price=float(row["mean_price"]),
            realised_win_rate=float(row["realised_win_rate"]),
            weight=float(row["contracts_or_trades"] or 1),
        )
        for row in csv.DictReader(io.StringIO("\n".join(lines)))
        if row["venue"] == venue
    ]


def prior_from_reference(
    points: Sequence[ReferencePoint],
    *,
    intercept_sd: float = 0.25,
    slope_sd: float = 0.15,
    family_sd: float = 0.25,
) -> CalibrationPrior:
    """Centre the prior on a weighted least-squares line through the published points.

    Weights are contract counts, so the heavily traded extreme buckets (where the bias is
    traded) dominate, as they do in the data the line summarises. The published table is
    pooled over horizons, so every horizon bucket starts from the same slope.
    """
    if len({point.mean_price for point in points}) < 2:
        raise ValueError("a calibration line needs reference points at two distinct prices")
    root_weight = np.sqrt([point.weight for point in points])
    design = np.column_stack([np.ones(len(points)), logit([p.mean_price for p in points])])
    target = logit([point.realised_win_rate for point in points])
    (intercept, slope), *_ = np.linalg.lstsq(
        design * root_weight[:, None], target * root_weight, rcond=None
    )
    return CalibrationPrior(float(intercept), float(slope), intercept_sd, slope_sd, family_sd)


# --- horizons -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HorizonBuckets:
    """Log-horizon buckets of the time to close, split at `edges_s` (seconds)."""

    edges_s: tuple[float, ...] = DEFAULT_HORIZON_EDGES_S

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges_s, dtype=float)
        if edges.size and not (np.all(edges > 0) and np.all(np.diff(edges) > 0)):
            raise ValueError(f"horizon edges must be positive and increasing: {self.edges_s}")

    @property
    def count(self) -> int:
        return len(self.edges_s) + 1

    def index(self, seconds_to_close: float | np.ndarray) -> np.ndarray:
        """The bucket of each time to close; a bucket holds its lower edge."""
        seconds = np.asarray(seconds_to_close, dtype=float)
        return np.searchsorted(np.asarray(self.edges_s, dtype=float), seconds, side="right")

    def labels(self) -> list[str]:
        """`<1h`, `1h-6h`, ..., `>7d`: what reports and heatmaps show."""
        names = [_duration(edge) for edge in self.edges_s]
        if not names:
            return ["all"]
        middle = [f"{low}-{high}" for low, high in pairwise(names)]
        return [f"<{names[0]}", *middle, f">{names[-1]}"]


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# --- settled-market samples -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationSample:
    """Training or test points as parallel arrays, one row per (settled market, horizon): the
    YES mid then and the quotes it came from, the time to close it was quoted at, the outcome
    (1 = YES won), family, event (the cluster) and close time (used only to split train from
    test)."""

    price: np.ndarray
    outcome: np.ndarray
    family: np.ndarray
    close_ts: np.ndarray
    event: np.ndarray
    seconds_to_close: np.ndarray
    yes_bid: np.ndarray
    yes_ask: np.ndarray

    def __post_init__(self) -> None:
        # Coerce once here (callers pass lists or database columns) so every consumer can rely
        # on float prices and times and object-dtype labels.
        for name in ("price", "close_ts", "seconds_to_close", "yes_bid", "yes_ask"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        object.__setattr__(self, "outcome", np.asarray(self.outcome))
        object.__setattr__(self, "family", np.asarray(self.family, dtype=object))
        object.__setattr__(self, "event", np.asarray(self.event, dtype=object))
        shapes = {getattr(self, name).shape for name in _SAMPLE_FIELDS}
        if len(shapes) != 1 or self.price.ndim != 1:
            raise ValueError(f"sample arrays must be 1-D and of one length: {sorted(shapes)}")

    def __len__(self) -> int:
        return len(self.price)

    def take(self, rows: np.ndarray) -> CalibrationSample:
        """The rows selected by an index array or boolean mask, in that order."""
        return CalibrationSample(*(getattr(self, name)[rows] for name in _SAMPLE_FIELDS))


_SAMPLE_FIELDS = (
    "price", "outcome", "family", "close_ts", "event", "seconds_to_close", "yes_bid", "yes_ask",
)  # fmt: skip


def _invalid_rows(sample: CalibrationSample) -> np.ndarray:
    """Rows the model cannot use: price not strictly inside (0, 1) (logit is infinite at the
    ends, NaN fails the comparison), an outcome other than 0/1, no finite close time or time
    to close, or quotes that are not an uncrossed book inside [0, 1]."""
    price_ok = (sample.price > 0) & (sample.price < 1)
    outcome_ok = (sample.outcome == 0) | (sample.outcome == 1)
    time_ok = np.isfinite(sample.close_ts) & (sample.seconds_to_close >= 0)
    book_ok = (sample.yes_bid >= 0) & (sample.yes_bid <= sample.yes_ask) & (sample.yes_ask <= 1)
    return ~(price_ok & outcome_ok & time_ok & book_ok)


def clean_sample(sample: CalibrationSample) -> tuple[CalibrationSample, int]:
    """The usable rows and how many were dropped, so callers can report data quality."""
    invalid = _invalid_rows(sample)
    return sample.take(~invalid), int(invalid.sum())


def require_clean(sample: CalibrationSample) -> None:
    dropped = int(_invalid_rows(sample).sum())
    if dropped:
        raise ValueError(f"{dropped} unusable rows: pass the sample through clean_sample first")


def time_split(
    sample: CalibrationSample, test_fraction: float = 0.3
) -> tuple[CalibrationSample, CalibrationSample]:
    """Train on earlier markets, test on the latest `test_fraction` of points by close time.

    Never random: the model is traded forward in time, so it must be judged on markets that
    closed after everything it learned from (a random split also leaks information between
    markets that settled together). Points tied at the boundary close time all go to the test
    set, so every training market closed strictly before every test market and the horizons
    of one market stay together. Both halves come back in close-time order.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    by_close = np.argsort(sample.close_ts, kind="stable")
    n_test = round(len(sample) * test_fraction)
    if n_test == 0:
        return sample.take(by_close), sample.take(by_close[:0])
    boundary = sample.close_ts[by_close[len(sample) - n_test]]
    in_test = sample.close_ts[by_close] >= boundary
    return sample.take(by_close[~in_test]), sample.take(by_close[in_test])


# --- fitting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CalibrationFit:
    """A fitted (or prior) model.

    Parameters are `theta = [a, b_0..b_{H-1}, β_f for f in families, o_f for f in families]`
    with families in sorted order; `covariance` is theirs, clustered by event.
    `log_likelihood` is of the training outcomes at the fit.
    """

    intercept: float
    horizon_edges_s: tuple[float, ...]
    horizon_slopes: tuple[float, ...]
    family_offsets: dict[str, float]
    family_slopes: dict[str, float]
    covariance: tuple[tuple[float, ...], ...]
    n_train: int
    n_events: int
    horizon_points: tuple[int, ...]
    converged: bool
    iterations: int
    log_likelihood: float

    @property
    def horizons(self) -> HorizonBuckets:
        return HorizonBuckets(self.horizon_edges_s)

    @property
    def families(self) -> list[str]:
        return sorted(self.family_offsets)

    @property
    def theta(self) -> np.ndarray:
        families = self.families
        return np.array(
            [
                self.intercept,
                *self.horizon_slopes,
                *(self.family_slopes[f] for f in families),
                *(self.family_offsets[f] for f in families),
            ]
        )

    @property
    def intercept_se(self) -> float:
        return float(np.sqrt(self.covariance[0][0]))

    @property
    def horizon_slope_ses(self) -> tuple[float, ...]:
        return tuple(
            float(np.sqrt(self.covariance[k][k])) for k in range(1, 1 + len(self.horizon_slopes))
        )


@dataclass(frozen=True, slots=True, eq=False)
class Design:
    """Training or test points as the linear predictor sees them: logit price, outcome and the
    codes of horizon bucket, family (F = a family the fit never saw) and event."""

    x: np.ndarray
    outcome: np.ndarray
    horizon: np.ndarray
    family: np.ndarray
    event: np.ndarray
    n_horizons: int
    n_families: int
    n_events: int

    @property
    def n_parameters(self) -> int:
        return 1 + self.n_horizons + 2 * self.n_families

    def blocks(self) -> list[tuple[np.ndarray, int, np.ndarray | None]]:
        """Each parameter block as (code per point, block size, value per point or None for 1):
        `eta = Σ_blocks theta_block[code] · value`. Gradients, Hessians and cluster scores are
        all bincounts over these, so nothing is ever a dense n × parameters matrix."""
        zero = np.zeros(len(self.x), dtype=np.intp)
        return [
            (zero, 1, None),
            (self.horizon, self.n_horizons, self.x),
            (self.family, self.n_families, self.x),
            (self.family, self.n_families, None),
        ]

    def linear_predictor(self, theta: np.ndarray) -> np.ndarray:
        a, b, beta, offset = _split(theta, self.n_horizons, self.n_families)
        return a + (b[self.horizon] + _pad(beta)[self.family]) * self.x + _pad(offset)[self.family]

    def gradient(self, weight: np.ndarray) -> np.ndarray:
        """Σ_i weight_i · ∂eta_i/∂theta."""
        return np.concatenate(
            [
                np.bincount(code, weight if value is None else weight * value, size)[:size]
                for code, size, value in self.blocks()
            ]
        )

    def hessian(self, weight: np.ndarray) -> np.ndarray:
        """Σ_i weight_i · ∂eta_i/∂theta ∂eta_i/∂theta'."""
        blocks = self.blocks()
        rows = []
        for code_a, size_a, value_a in blocks:
            row = []
            for code_b, size_b, value_b in blocks:
                w = weight * _value(value_a) * _value(value_b)
                pair = code_a * (size_b + 1) + code_b
                counts = np.bincount(pair, w, (size_a + 1) * (size_b + 1))
                row.append(counts.reshape(size_a + 1, size_b + 1)[:size_a, :size_b])
            rows.append(row)
        return np.block(rows)

    def event_scores(self, residual: np.ndarray) -> np.ndarray:
        """Per event, the sum of its points' scores (events × parameters)."""
        columns = []
        for code, size, value in self.blocks():
            w = residual * _value(value)
            sums = np.bincount(self.event * (size + 1) + code, w, self.n_events * (size + 1))
            columns.append(sums.reshape(self.n_events, size + 1)[:, :size])
        return np.hstack(columns)


def _value(value: np.ndarray | None) -> np.ndarray | float:
    return 1.0 if value is None else value


def _pad(family_terms: np.ndarray) -> np.ndarray:
    """Family terms with a 0 appended: the code F stands for a family the fit never saw."""
    return np.append(family_terms, 0.0)


def _split(
    theta: np.ndarray, n_horizons: int, n_families: int
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    slopes_end = 1 + n_horizons
    return (
        theta[0],
        theta[1:slopes_end],
        theta[slopes_end : slopes_end + n_families],
        theta[slopes_end + n_families :],
    )


def factorize(labels: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Sorted distinct labels and each row's index into them (pandas' hash table: several
    times faster than `np.unique` on object arrays of strings)."""
    codes, distinct = pd.factorize(np.asarray(labels, dtype=object), sort=True)
    return distinct.tolist(), codes.astype(np.intp)


def codes_in(labels: np.ndarray, known: Sequence[Any]) -> np.ndarray:
    """Each label's index in `known`; `len(known)` for a label not in it."""
    distinct, codes = factorize(labels)
    index_of = {label: i for i, label in enumerate(known)}
    lookup = np.array([index_of.get(label, len(known)) for label in distinct], dtype=np.intp)
    return lookup[codes] if len(codes) else codes


@dataclass(frozen=True, slots=True, eq=False)
class _Prior:
    """The Gaussian prior as `0.5 (theta − centre)' precision (theta − centre)`; `belief` is
    its precision without the family-mean constraint, which only defines what `a` and `b_h`
    mean (it is no evidence, so it must not widen the standard errors)."""

    centre: np.ndarray
    precision: np.ndarray
    belief: np.ndarray

    def penalty(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        gradient = self.precision @ (theta - self.centre)
        return 0.5 * float((theta - self.centre) @ gradient), gradient


def _prior(prior: CalibrationPrior, n_horizons: int, family_share: np.ndarray) -> _Prior:
    n_families = len(family_share)
    centre = np.concatenate(
        [[prior.intercept], np.full(n_horizons, prior.slope), np.zeros(2 * n_families)]
    )
    sd = np.concatenate(
        [
            [prior.intercept_sd],
            np.full(n_horizons, prior.slope_sd),
            np.full(n_families, prior.family_slope_sd),
            np.full(n_families, prior.family_sd),
        ]
    )
    precision = np.diag(1.0 / sd**2)
    slopes = slice(1, 1 + n_horizons)
    step = np.diff(np.eye(n_horizons), axis=0)
    precision[slopes, slopes] += step.T @ step / prior.horizon_step_sd**2
    belief = precision.copy()
    for start in (1 + n_horizons, 1 + n_horizons + n_families):
        block = slice(start, start + n_families)
        precision[block, block] += np.outer(family_share, family_share) / prior.family_mean_sd**2
    return _Prior(centre, precision, belief)


def _neg_log_posterior(
    theta: np.ndarray, design: Design, prior: _Prior
) -> tuple[float, np.ndarray]:
    """Negative log posterior per training point and its analytic gradient.

    Dividing by n keeps the optimiser's tolerances meaningful at any sample size without
    moving the optimum.
    """
    eta = design.linear_predictor(theta)
    # One exponential serves both log(1 + e^eta) and expit(eta), stably for any sign.
    decay = np.exp(-np.abs(eta))
    value = np.sum(np.maximum(eta, 0.0) + np.log1p(decay) - design.outcome * eta)
    q = np.where(eta >= 0, 1.0, decay) / (1.0 + decay)
    penalty, penalty_gradient = prior.penalty(theta)
    gradient = design.gradient(q - design.outcome) + penalty_gradient
    n = len(eta)
    return (float(value) + penalty) / n, gradient / n


def training_design(
    sample: CalibrationSample, horizons: HorizonBuckets, families: Sequence[str]
) -> Design:
    events, event_code = factorize(sample.event)
    return Design(
        x=logit(np.clip(sample.price, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)),
        outcome=sample.outcome.astype(float),
        horizon=horizons.index(sample.seconds_to_close),
        family=codes_in(sample.family, families),
        event=event_code,
        n_horizons=horizons.count,
        n_families=len(families),
        n_events=len(events),
    )


def fit_calibration(
    train: CalibrationSample,
    prior: CalibrationPrior,
    *,
    horizons: HorizonBuckets | None = None,
    min_points: int = 200,
) -> CalibrationFit:
    """Maximum a posteriori fit of the intercept, the slope per horizon bucket and each
    family's slope shift and offset on `train` (which must have been through `clean_sample`).

    Raises `CalibrationFailed` on fewer than `min_points` points or non-convergence.
    """
    if len(train) < min_points:
        raise CalibrationFailed(f"{len(train)} settled price points, need at least {min_points}")
    require_clean(train)
    horizons = horizons or HorizonBuckets()
    families, _ = factorize(train.family)
    design = training_design(train, horizons, families)
    family_share = np.bincount(design.family, minlength=len(families)) / len(train)
    gaussian = _prior(prior, horizons.count, family_share)
    result = minimize(
        _neg_log_posterior,
        gaussian.centre,
        args=(design, gaussian),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": _OPTIMISER_GRADIENT_TOLERANCE, "maxiter": _OPTIMISER_MAX_ITERATIONS},
    )
    if not result.success or not np.all(np.isfinite(result.x)):
        raise CalibrationFailed(f"optimiser did not converge: {result.message}")
    theta = result.x
    _, slopes, family_slopes, offsets = _split(theta, horizons.count, len(families))
    return CalibrationFit(
        intercept=float(theta[0]),
        horizon_edges_s=tuple(float(edge) for edge in horizons.edges_s),
        horizon_slopes=tuple(slopes.tolist()),
        family_offsets=dict(zip(families, offsets.tolist(), strict=True)),
        family_slopes=dict(zip(families, family_slopes.tolist(), strict=True)),
        covariance=_as_rows(clustered_covariance(theta, design, gaussian)),
        n_train=len(train),
        n_events=design.n_events,
        horizon_points=tuple(np.bincount(design.horizon, minlength=horizons.count).tolist()),
        converged=True,
        iterations=int(result.nit),
        log_likelihood=_log_likelihood(design, theta),
    )


def _log_likelihood(design: Design, theta: np.ndarray) -> float:
    eta = design.linear_predictor(theta)
    return float(np.sum(design.outcome * eta - np.logaddexp(0.0, eta)))


def clustered_covariance(theta: np.ndarray, design: Design, prior: _Prior) -> np.ndarray:
    """Sandwich covariance of the MAP estimate, clustered by event.

    Bread: the Hessian of the negative log posterior at the fit. Meat: the sum over events of
    the outer product of each event's summed scores (with the G/(G−1) small-sample factor),
    plus the prior's precision, which counts the prior as one more, independent, observation:
    with independent points this is the posterior covariance, with no data it is the prior's,
    and points of one event that move together inflate it as they should.
    """
    q = expit(design.linear_predictor(theta))
    bread = design.hessian(q * (1 - q)) + prior.precision
    scores = design.event_scores(q - design.outcome)
    clusters = design.n_events
    meat = scores.T @ scores * (clusters / (clusters - 1) if clusters > 1 else 1.0)
    inverse = np.linalg.inv(bread)
    covariance = inverse @ (meat + prior.belief) @ inverse
    return (covariance + covariance.T) / 2


def _as_rows(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(row) for row in matrix.tolist())


def cold_start_fit(
    prior: CalibrationPrior, horizons: HorizonBuckets | None = None
) -> CalibrationFit:
    """The prior as a model: what we trade on before any of our own markets have settled."""
    horizons = horizons or HorizonBuckets()
    gaussian = _prior(prior, horizons.count, np.zeros(0))
    return CalibrationFit(
        intercept=prior.intercept,
        horizon_edges_s=tuple(float(edge) for edge in horizons.edges_s),
        horizon_slopes=(prior.slope,) * horizons.count,
        family_offsets={},
        family_slopes={},
        covariance=_as_rows(np.linalg.inv(gaussian.belief)),
        n_train=0,
        n_events=0,
        horizon_points=(0,) * horizons.count,
        converged=True,
        iterations=0,
        log_likelihood=0.0,
    )


# --- prediction -------------------------------------------------------------------------------


def prediction_design(
    fit: CalibrationFit,
    yes_price: np.ndarray,
    family: np.ndarray,
    seconds_to_close: np.ndarray,
    event: np.ndarray | None = None,
) -> Design:
    """Points as the fitted model sees them: a family it never saw gets the pooled model."""
    prices = np.clip(np.asarray(yes_price, dtype=float), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    families = np.asarray(family, dtype=object)
    if event is None:
        events, event_code = [None], np.zeros(len(prices), dtype=np.intp)
    else:
        events, event_code = factorize(np.asarray(event, dtype=object))
    return Design(
        x=logit(prices),
        outcome=np.zeros(len(prices)),
        horizon=fit.horizons.index(seconds_to_close),
        family=codes_in(families, fit.families),
        event=event_code,
        n_horizons=fit.horizons.count,
        n_families=len(fit.families),
        n_events=len(events),
    )


def win_probability(
    fit: CalibrationFit,
    yes_price: float | np.ndarray,
    family: str | np.ndarray,
    seconds_to_close: float | np.ndarray,
) -> np.ndarray:
    """Probability that YES wins given its price, family and time to close (NO wins with 1
    minus this), vectorised; scalars broadcast. Prices are clipped into
    [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR] so a quote at 0 or 1 still gives a finite answer.
    """
    prices, families, seconds = np.broadcast_arrays(
        np.atleast_1d(np.asarray(yes_price, dtype=float)),
        np.atleast_1d(np.asarray(family, dtype=object)),
        np.atleast_1d(np.asarray(seconds_to_close, dtype=float)),
    )
    design = prediction_design(fit, prices, families, seconds)
    return expit(design.linear_predictor(fit.theta))


# --- the deployed model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WinProbabilityModel:
    """A versioned model as trading uses it: the fit, its held-out report (with the tradeable
    gate) and the horizons its training prices were taken at.

    What was evaluated is what trades: the fit on the training window is deployed unchanged,
    so the tradeable flags describe exactly this model.
    """

    model_id: str
    fit: CalibrationFit
    report: CalibrationReport | None
    training_horizons_s: tuple[float, ...]

    @property
    def cold_start(self) -> bool:
        """No history of our own yet: the published prior, never tradeable."""
        return self.fit.n_train == 0

    def assess(
        self, yes_prices: np.ndarray, families: Sequence[str], seconds_to_close: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """YES win probabilities at each market's own time to close (NaN for a family the fit
        never saw) and tradeable flags, vectorised: one scan holds thousands of markets."""
        family_array = np.asarray(families, dtype=object)
        seconds = np.asarray(seconds_to_close, dtype=float)
        q = win_probability(self.fit, yes_prices, family_array, seconds)
        if not self.cold_start:
            known = codes_in(family_array, self.fit.families) < len(self.fit.families)
            q = np.where(known, q, np.nan)
        if self.report is None:
            return q, np.zeros(len(q), dtype=bool)
        return q, self.report.tradeable_mask(yes_prices, family_array, seconds)

    def gate_reasons(
        self, yes_prices: np.ndarray, families: Sequence[str], seconds_to_close: np.ndarray
    ) -> list[str]:
        """Why each market is tradeable or not, in the gate's words (`tradeable` if it is)."""
        if self.report is None:
            return ["cold_start"] * len(yes_prices)
        return self.report.reasons(yes_prices, np.asarray(families, object), seconds_to_close)
