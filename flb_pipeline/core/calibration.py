"""Win-probability model `logit(q) = a + b·logit(p) + o[family]` (DESIGN §5.2).

The favourite-longshot bias is a miscalibration of prices: longshots win less often than their
price says and favourites more often, which shows up as a slope `b > 1` on the logit scale. We
fit `a`, `b` and one offset per product family by maximum a posteriori on settled markets (YES
mid at a fixed horizon before close -> outcome). The priors are centred on the published
calibration, so a cold start trades on the literature and a family with little data shrinks to
the pooled fit instead of chasing noise.

A model is only worth trading where it beats the raw price out of sample, so the reliability
report scores it on later (held-out) markets per 5¢ bucket and per family, and fails closed:
too little evidence means not tradeable. Every output is NaN-free (`None` where undefined) so
reports serialise to JSON as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

PROBABILITY_FLOOR = 1e-6
BUCKET_WIDTH_CENTS = 5
BUCKET_COUNT = 100 // BUCKET_WIDTH_CENTS
WILSON_Z95 = 1.959963984540054
_OPTIMISER_GRADIENT_TOLERANCE = 1e-8
_OPTIMISER_MAX_ITERATIONS = 500


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
    """Gaussian prior of the MAP fit: centre (intercept, slope) and the spreads around it."""

    intercept: float
    slope: float
    intercept_sd: float
    slope_sd: float
    family_sd: float

    def __post_init__(self) -> None:
        if min(self.intercept_sd, self.slope_sd, self.family_sd) <= 0:
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
    traded) dominate, as they do in the data the line summarises.
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


# --- settled-market samples -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CalibrationSample:
    """Settled markets as parallel arrays: YES price at the horizon, outcome (1 = YES won),
    family and close time (epoch seconds, used only to split train from test)."""

    price: np.ndarray
    outcome: np.ndarray
    family: np.ndarray
    close_ts: np.ndarray

    def __post_init__(self) -> None:
        # Coerce once here (callers pass lists or database columns) so every consumer can rely
        # on float prices and times and object-dtype family labels.
        object.__setattr__(self, "price", np.asarray(self.price, dtype=float))
        object.__setattr__(self, "outcome", np.asarray(self.outcome))
        object.__setattr__(self, "family", np.asarray(self.family, dtype=object))
        object.__setattr__(self, "close_ts", np.asarray(self.close_ts, dtype=float))
        shapes = {self.price.shape, self.outcome.shape, self.family.shape, self.close_ts.shape}
        if len(shapes) != 1 or self.price.ndim != 1:
            raise ValueError(f"sample arrays must be 1-D and of one length: {sorted(shapes)}")

    def __len__(self) -> int:
        return len(self.price)

    def take(self, rows: np.ndarray) -> CalibrationSample:
        """The rows selected by an index array or boolean mask, in that order."""
        return CalibrationSample(
            self.price[rows], self.outcome[rows], self.family[rows], self.close_ts[rows]
        )


def _invalid_rows(sample: CalibrationSample) -> np.ndarray:
    """Rows the model cannot use: price not strictly inside (0, 1) (logit is infinite at the
    ends, NaN fails the comparison), an outcome other than 0/1, or no finite close time."""
    price_ok = (sample.price > 0) & (sample.price < 1)
    outcome_ok = (sample.outcome == 0) | (sample.outcome == 1)
    return ~(price_ok & outcome_ok & np.isfinite(sample.close_ts))


def clean_sample(sample: CalibrationSample) -> tuple[CalibrationSample, int]:
    """The usable rows and how many were dropped, so callers can report data quality."""
    invalid = _invalid_rows(sample)
    return sample.take(~invalid), int(invalid.sum())


def _require_clean(sample: CalibrationSample) -> None:
    dropped = int(_invalid_rows(sample).sum())
    if dropped:
        raise ValueError(f"{dropped} unusable rows: pass the sample through clean_sample first")


def time_split(
    sample: CalibrationSample, test_fraction: float = 0.3
) -> tuple[CalibrationSample, CalibrationSample]:
    """Train on earlier markets, test on the latest `test_fraction` by close time.

    Never random: the model is traded forward in time, so it must be judged on markets that
    closed after everything it learned from (a random split also leaks information between
    markets that settled together).
    Markets tied at the boundary close time all go to the test set, so every training market
    closed strictly before every test market. Both halves come back in close-time order.
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
    """A fitted (or prior) model; `log_likelihood` is of the training outcomes at the fit."""

    intercept: float
    slope: float
    family_offsets: dict[str, float]
    n_train: int
    converged: bool
    iterations: int
    log_likelihood: float
    intercept_se: float = 0.0
    slope_se: float = 0.0


def _factorize(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Sorted distinct labels and each row's index into them.

    A dict lookup per row is several times faster than `np.unique` on object arrays of strings.
    """
    distinct = sorted(set(labels.tolist()))
    index_of = {label: i for i, label in enumerate(distinct)}
    codes = np.fromiter(map(index_of.__getitem__, labels), dtype=np.intp, count=len(labels))
    return distinct, codes


@dataclass(frozen=True, slots=True, eq=False)
class _Design:
    """The training data in the form the optimiser needs; parameters are
    `theta = [intercept, slope, offset_0, ..., offset_{F-1}]`."""

    logit_price: np.ndarray
    outcome: np.ndarray
    family_code: np.ndarray
    n_families: int

    def linear_predictor(self, theta: np.ndarray) -> np.ndarray:
        return theta[0] + theta[1] * self.logit_price + theta[2:][self.family_code]

    def log_likelihood(self, theta: np.ndarray) -> float:
        eta = self.linear_predictor(theta)
        return float(np.sum(self.outcome * eta - np.logaddexp(0.0, eta)))


def _prior_centre_and_sd(prior: CalibrationPrior, n_families: int) -> tuple[np.ndarray, np.ndarray]:
    centre = np.concatenate([[prior.intercept, prior.slope], np.zeros(n_families)])
    sd = np.concatenate(
        [[prior.intercept_sd, prior.slope_sd], np.full(n_families, prior.family_sd)]
    )
    return centre, sd


def _neg_log_posterior(
    theta: np.ndarray, design: _Design, centre: np.ndarray, sd: np.ndarray
) -> tuple[float, np.ndarray]:
    """Negative log posterior per training point and its analytic gradient.

    Dividing by n keeps the optimiser's tolerances meaningful at any sample size without
    moving the optimum.
    """
    eta = design.linear_predictor(theta)
    residual = expit(eta) - design.outcome
    z = (theta - centre) / sd
    value = np.sum(np.logaddexp(0.0, eta) - design.outcome * eta) + 0.5 * (z @ z)
    data_gradient = np.concatenate(
        [
            [residual.sum(), residual @ design.logit_price],
            np.bincount(design.family_code, residual, design.n_families),
        ]
    )
    n = len(residual)
    return float(value) / n, (data_gradient + z / sd) / n


def fit_calibration(
    train: CalibrationSample, prior: CalibrationPrior, *, min_points: int = 200
) -> CalibrationFit:
    """Maximum a posteriori fit of intercept, slope and family offsets on `train`.

    Independent Gaussian priors: a ~ N(prior.intercept, intercept_sd), b ~ N(prior.slope,
    slope_sd), o_f ~ N(0, family_sd). The offset prior is what separates the offsets from the
    shared intercept, so no reference family is needed. Raises `CalibrationFailed` on fewer than
    `min_points` markets or non-convergence; `train` must have been through `clean_sample`.
    """
    if len(train) < min_points:
        raise CalibrationFailed(f"{len(train)} settled markets, need at least {min_points}")
    _require_clean(train)
    families, family_code = _factorize(train.family)
    design = _Design(logit(train.price), train.outcome.astype(float), family_code, len(families))
    centre, sd = _prior_centre_and_sd(prior, len(families))
    result = minimize(
        _neg_log_posterior,
        centre,
        args=(design, centre, sd),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": _OPTIMISER_GRADIENT_TOLERANCE, "maxiter": _OPTIMISER_MAX_ITERATIONS},
    )
    if not result.success or not np.all(np.isfinite(result.x)):
        raise CalibrationFailed(f"optimiser did not converge: {result.message}")
    intercept_se, slope_se = _posterior_standard_errors(result.x, design, sd)
    return CalibrationFit(
        intercept=float(result.x[0]),
        slope=float(result.x[1]),
        family_offsets=dict(zip(families, result.x[2:].tolist(), strict=True)),
        n_train=len(train),
        converged=True,
        iterations=int(result.nit),
        log_likelihood=design.log_likelihood(result.x),
        intercept_se=intercept_se,
        slope_se=slope_se,
    )


def _posterior_standard_errors(
    theta: np.ndarray, design: _Design, sd: np.ndarray
) -> tuple[float, float]:
    """Standard errors of a and b from the inverse Hessian of the negative log posterior.

    They say how far a fitted slope may be from the truth by chance alone, so a recovered
    slope is only evidence when its standard error is small.
    """
    q = expit(design.linear_predictor(theta))
    weight = q * (1 - q)
    x = design.logit_price
    code, n_families = design.family_code, design.n_families
    hessian = np.diag(1.0 / sd**2)
    hessian[0, 0] += weight.sum()
    hessian[0, 1] = hessian[1, 0] = weight @ x
    hessian[1, 1] += weight @ (x * x)
    by_family = np.bincount(code, weight, n_families)
    by_family_x = np.bincount(code, weight * x, n_families)
    hessian[0, 2:] = hessian[2:, 0] = by_family
    hessian[1, 2:] = hessian[2:, 1] = by_family_x
    hessian[2:, 2:] += np.diag(by_family)
    covariance = np.linalg.inv(hessian)
    return float(np.sqrt(covariance[0, 0])), float(np.sqrt(covariance[1, 1]))


def cold_start_fit(prior: CalibrationPrior) -> CalibrationFit:
    """The prior as a model: what we trade on before any of our own markets have settled."""
    return CalibrationFit(
        intercept=prior.intercept,
        slope=prior.slope,
        family_offsets={},
        n_train=0,
        converged=True,
        iterations=0,
        log_likelihood=0.0,
        intercept_se=prior.intercept_sd,
        slope_se=prior.slope_sd,
    )


# --- prediction -------------------------------------------------------------------------------


def _family_offset(fit: CalibrationFit, family: str | np.ndarray) -> float | np.ndarray:
    """Each family's fitted offset; a family the fit never saw gets 0, the pooled model."""
    if np.ndim(family) == 0:
        return fit.family_offsets.get(str(family), 0.0)
    families, codes = _factorize(np.asarray(family, dtype=object))
    return np.array([fit.family_offsets.get(f, 0.0) for f in families])[codes]


def win_probability(
    fit: CalibrationFit, yes_price: float | np.ndarray, family: str | np.ndarray
) -> float | np.ndarray:
    """Probability that YES wins given its price and family (NO wins with 1 minus this).

    Vectorised over prices and/or families. Prices are clipped into
    [PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR] so a quote at 0 or 1 still gives a finite answer.
    """
    price = np.clip(yes_price, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    q = expit(fit.intercept + fit.slope * logit(price) + _family_offset(fit, family))
    return float(q) if np.ndim(q) == 0 else q


# --- out-of-sample evaluation -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliabilityBucket:
    """Held-out markets whose YES price fell in [low, high) cents ([95, 100] for the last).

    Statistics are `None` for an empty bucket; `tradeable` requires at least the minimum count
    and a model Brier score strictly below the price's.
    """

    bucket_low_cents: int
    bucket_high_cents: int
    n: int
    mean_price: float | None
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    model_prediction: float | None
    brier_model: float | None
    brier_price: float | None
    tradeable: bool


@dataclass(frozen=True, slots=True)
class FamilyScore:
    """Held-out Brier scores of one family; tradeable on the same rule as a bucket."""

    family: str
    n: int
    brier_model: float
    brier_price: float
    tradeable: bool


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """How the model did against the raw price on later markets, overall and per slice.

    Overall scores are `None` when the test set is empty (then nothing is tradeable).
    """

    n_test: int
    brier_model: float | None
    brier_price: float | None
    log_loss_model: float | None
    log_loss_price: float | None
    reliability: list[ReliabilityBucket]
    families: list[FamilyScore]

    def is_tradeable(self, yes_price: float, family: str) -> bool:
        """Only where the model beat the price out of sample in both the price bucket and the
        family; a family absent from the test set has no evidence and is not tradeable."""
        return bool(self.tradeable_mask(np.array([yes_price]), [family])[0])

    def tradeable_mask(self, yes_prices: np.ndarray, families: Sequence[str]) -> np.ndarray:
        """`is_tradeable` for many markets at once; a price outside [0, 1] (or NaN) never is."""
        prices = np.asarray(yes_prices, dtype=float)
        valid = (prices >= 0) & (prices <= 1)
        index = _bucket_index(np.where(valid, prices, 0.0))
        buckets = np.array([b.tradeable for b in self.reliability])[index] & valid
        tradeable_families = {s.family for s in self.families if s.tradeable}
        return buckets & np.array([f in tradeable_families for f in families], dtype=bool)


def _bucket_index(yes_price: float | np.ndarray) -> np.ndarray:
    """The 5¢ bucket of each price; rounding first keeps 0.15 (= 15.000000000000002¢) in
    [15, 20) and the last bucket is closed so a price of 1 lands in [95, 100]."""
    cents = np.round(np.asarray(yes_price, dtype=float) * 100, 6)
    return np.clip(np.floor(cents / BUCKET_WIDTH_CENTS), 0, BUCKET_COUNT - 1).astype(np.intp)


@dataclass(frozen=True, slots=True, eq=False)
class _Scored:
    """Held-out YES prices, outcomes and model predictions, row-aligned, for slicing."""

    price: np.ndarray
    outcome: np.ndarray
    model: np.ndarray

    def __len__(self) -> int:
        return len(self.price)

    def take(self, rows: np.ndarray) -> _Scored:
        return _Scored(self.price[rows], self.outcome[rows], self.model[rows])

    def brier_model(self) -> float:
        return float(np.mean((self.model - self.outcome) ** 2))

    def brier_price(self) -> float:
        return float(np.mean((self.price - self.outcome) ** 2))

    def model_beats_price(self, min_n: int) -> bool:
        """Fail closed: too few markets is no evidence that the model is better."""
        return len(self) >= min_n and self.brier_model() < self.brier_price()


def _log_loss(prediction: np.ndarray, outcome: np.ndarray) -> float:
    p = np.clip(prediction, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return float(-np.mean(outcome * np.log(p) + (1 - outcome) * np.log1p(-p)))


def _reliability_bucket(index: int, scored: _Scored, min_n: int) -> ReliabilityBucket:
    low = index * BUCKET_WIDTH_CENTS
    if len(scored) == 0:
        return ReliabilityBucket(
            bucket_low_cents=low,
            bucket_high_cents=low + BUCKET_WIDTH_CENTS,
            n=0,
            mean_price=None,
            win_rate=None,
            ci_low=None,
            ci_high=None,
            model_prediction=None,
            brier_model=None,
            brier_price=None,
            tradeable=False,
        )
    ci_low, ci_high = wilson_interval(int(scored.outcome.sum()), len(scored))
    return ReliabilityBucket(
        bucket_low_cents=low,
        bucket_high_cents=low + BUCKET_WIDTH_CENTS,
        n=len(scored),
        mean_price=float(scored.price.mean()),
        win_rate=float(scored.outcome.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        model_prediction=float(scored.model.mean()),
        brier_model=scored.brier_model(),
        brier_price=scored.brier_price(),
        tradeable=scored.model_beats_price(min_n),
    )


def _family_score(family: str, scored: _Scored, min_n: int) -> FamilyScore:
    return FamilyScore(
        family=family,
        n=len(scored),
        brier_model=scored.brier_model(),
        brier_price=scored.brier_price(),
        tradeable=scored.model_beats_price(min_n),
    )


def evaluate_calibration(
    fit: CalibrationFit,
    test: CalibrationSample,
    *,
    min_bucket_n: int = 30,
    min_family_n: int = 100,
) -> CalibrationReport:
    """Score `fit` against the raw price on held-out markets (`test` must be cleaned).

    The twenty 5¢ buckets are always all present so reports line up scan to scan.
    """
    _require_clean(test)
    model = np.asarray(win_probability(fit, test.price, test.family), dtype=float)
    scored = _Scored(test.price, test.outcome.astype(float), model)
    bucket = _bucket_index(test.price)
    families, family_code = _factorize(test.family)
    has_data = len(test) > 0
    return CalibrationReport(
        n_test=len(test),
        brier_model=scored.brier_model() if has_data else None,
        brier_price=scored.brier_price() if has_data else None,
        log_loss_model=_log_loss(scored.model, scored.outcome) if has_data else None,
        log_loss_price=_log_loss(scored.price, scored.outcome) if has_data else None,
        reliability=[
            _reliability_bucket(k, scored.take(bucket == k), min_bucket_n)
            for k in range(BUCKET_COUNT)
        ],
        families=[
            _family_score(family, scored.take(family_code == k), min_family_n)
            for k, family in enumerate(families)
        ],
    )


# --- the deployed model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WinProbabilityModel:
    """A versioned model as trading uses it: the fit, its held-out report, its horizon.

    What was evaluated is what trades: the fit on the training window is deployed unchanged,
    so the tradeable flags describe exactly this model.
    """

    model_id: str
    fit: CalibrationFit
    report: CalibrationReport | None
    horizon_s: float

    @property
    def cold_start(self) -> bool:
        """No history of our own yet: the published prior, never tradeable."""
        return self.fit.n_train == 0

    def assess(
        self, yes_prices: np.ndarray, families: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """YES win probabilities (NaN for an unknown family) and tradeable flags, vectorised:
        one scan holds thousands of markets."""
        family_array = np.asarray(families, dtype=object)
        q = np.asarray(win_probability(self.fit, yes_prices, family_array), dtype=float)
        if not self.cold_start:
            known = np.array([f in self.fit.family_offsets for f in families], dtype=bool)
            q = np.where(known, q, np.nan)
        if self.report is None:
            return q, np.zeros(len(q), dtype=bool)
        return q, self.report.tradeable_mask(yes_prices, families)
