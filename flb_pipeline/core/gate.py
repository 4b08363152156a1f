"""Out-of-sample report and the tradeable gate (DESIGN §5.2): where the model beats the price.

A (5¢ price bucket × horizon bucket × family) cell is tradeable only when all of this holds on
later, held-out markets:
1. enough evidence: at least `min_points` points from `min_events` events;
2. the model's Brier score beats the raw price's by more than chance: a one-sided paired test
   of the per-point loss differences (Brier of price − Brier of model), an intercept-only OLS
   with covariance clustered by event (statsmodels), with Benjamini–Hochberg false-discovery
   control across every cell with enough evidence;
3. buying the favourite side there at the ask, after Kalshi's taker fee, is expected to pay:
   the model's mean net edge per contract stays above 0 at its one-sided 95% bound (the
   clustered covariance of the fit, by the delta method). A model can beat the price where the
   bias is smaller than fee plus spread; such a cell is better calibrated, not profitable.

With no bias in the world no cell's improvement is more than chance, so false-discovery
control keeps the share of cells that pass at most `fdr`; too little data, a cold start, or a
family or horizon never seen are not tradeable, with the reason kept per cell.

Each cell also shows the realised out-of-sample net edge of the same trade (held-out outcome
− ask − fee per contract) with a cluster-robust 95% CI: what the trade actually earned there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit

from flb_pipeline.core.calibration import (
    PROBABILITY_FLOOR,
    CalibrationFit,
    CalibrationSample,
    Design,
    codes_in,
    factorize,
    prediction_design,
    require_clean,
    wilson_interval,
)
from flb_pipeline.core.fees import FeeSchedule

BUCKET_WIDTH_CENTS = 5
BUCKET_COUNT = 100 // BUCKET_WIDTH_CENTS
FAVOURITE_YES_FROM_BUCKET = 50 // BUCKET_WIDTH_CENTS
ONE_SIDED_Z95 = 1.6448536269514722
TRADEABLE = "tradeable"


@dataclass(frozen=True, slots=True)
class GateRules:
    """What a cell needs to be tradeable; `edge_contracts` is the order size its fee is for.

    `fdr = 1` switches false-discovery control off (every tested cell passes the improvement
    test, so the model's own edge bound decides): only for showing the mechanics on a small
    simulated history, never for money, since with no bias in the world it passes by chance.
    """

    min_points: int = 100
    min_events: int = 30
    fdr: float = 0.05
    edge_contracts: int = 100
    edge_z: float = ONE_SIDED_Z95

    def __post_init__(self) -> None:
        if self.min_points < 2 or self.min_events < 2:
            raise ValueError(f"a clustered test needs at least 2 points and 2 events: {self}")
        if not 0 < self.fdr <= 1 or self.edge_contracts < 1:
            raise ValueError(f"bad gate rules: {self}")


@dataclass(frozen=True, slots=True)
class ReliabilityBucket:
    """Held-out points whose YES price fell in [low, high) cents ([95, 100] for the last);
    statistics are `None` for an empty bucket."""

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


@dataclass(frozen=True, slots=True)
class SliceScore:
    """Held-out Brier scores of one family or one horizon bucket."""

    name: str
    n: int
    events: int
    brier_model: float
    brier_price: float


@dataclass(frozen=True, slots=True)
class EdgeCell:
    """One (price bucket × horizon bucket × family) cell of held-out points and its verdict.

    Edges are dollars per contract of buying the `favourite` side at the ask after the taker
    fee for `GateRules.edge_contracts`; the test figures are `None` where it was not tested.
    """

    bucket_low_cents: int
    horizon: int
    family: str
    n: int
    events: int
    favourite: str
    brier_model: float
    brier_price: float
    improvement_t: float | None
    p_value: float | None
    q_value: float | None
    model_edge: float
    model_edge_se: float
    realised_edge: float
    realised_edge_ci_low: float | None
    realised_edge_ci_high: float | None
    tradeable: bool
    reason: str


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """How the model did against the raw price on later markets, overall, per slice and per
    gate cell. Overall scores are `None` when the test set is empty (then nothing is
    tradeable)."""

    n_test: int
    n_test_events: int
    brier_model: float | None
    brier_price: float | None
    log_loss_model: float | None
    log_loss_price: float | None
    horizon_edges_s: tuple[float, ...]
    horizon_labels: tuple[str, ...]
    fdr: float
    reliability: list[ReliabilityBucket]
    families: list[SliceScore]
    horizons: list[SliceScore]
    cells: list[EdgeCell]

    def tradeable_mask(
        self, yes_prices: np.ndarray, families: np.ndarray, seconds_to_close: np.ndarray
    ) -> np.ndarray:
        """Whether each market's cell passed the gate; a price outside [0, 1], a time to close
        that is not a finite number ≥ 0, or a cell without held-out data never is.

        Vectorised (one table lookup per market): a backtest asks for millions of quotes at
        once. It answers exactly `reasons(...) == TRADEABLE`: a cell can only pass on held-out
        data of its family and horizon."""
        prices = np.atleast_1d(np.asarray(yes_prices, dtype=float))
        seconds = np.atleast_1d(np.asarray(seconds_to_close, dtype=float))
        passed = self.tradeable_cells()
        known = sorted({cell.family for cell in passed})
        table = np.zeros((len(known) + 1, BUCKET_COUNT, len(self.horizon_labels)), dtype=bool)
        for cell in passed:
            table[
                known.index(cell.family), cell.bucket_low_cents // BUCKET_WIDTH_CENTS, cell.horizon
            ] = True
        valid = (prices >= 0) & (prices <= 1) & np.isfinite(seconds) & (seconds >= 0)
        bucket = bucket_index(np.where(valid, prices, 0.0))
        horizon = np.searchsorted(
            np.asarray(self.horizon_edges_s, float), np.where(valid, seconds, 0.0), side="right"
        )
        family = codes_in(np.atleast_1d(np.asarray(families, dtype=object)), known)
        return valid & table[family, bucket, horizon]

    def reasons(
        self, yes_prices: np.ndarray, families: np.ndarray, seconds_to_close: np.ndarray
    ) -> list[str]:
        """The gate's verdict per market: `tradeable` or why not."""
        prices = np.atleast_1d(np.asarray(yes_prices, dtype=float))
        seconds = np.atleast_1d(np.asarray(seconds_to_close, dtype=float))
        bucket = bucket_index(np.where((prices >= 0) & (prices <= 1), prices, 0.0))
        horizon = np.searchsorted(np.asarray(self.horizon_edges_s, float), seconds, side="right")
        cells = {(c.bucket_low_cents, c.horizon, c.family): c.reason for c in self.cells}
        tested_families = {s.name for s in self.families}
        tested_horizons = {s.name for s in self.horizons}
        verdicts = []
        for price, second, low, h, family in zip(
            prices, seconds, (bucket * BUCKET_WIDTH_CENTS).tolist(), horizon.tolist(),
            np.atleast_1d(np.asarray(families, dtype=object)).tolist(), strict=True,
        ):  # fmt: skip
            if not 0 <= price <= 1:
                verdicts.append("invalid_price")
            elif not (np.isfinite(second) and second >= 0):
                verdicts.append("invalid_time_to_close")
            elif family not in tested_families:
                verdicts.append("family_without_data")
            elif self.horizon_labels[h] not in tested_horizons:
                verdicts.append("horizon_without_data")
            else:
                verdicts.append(cells.get((low, h, family), "cell_without_data"))
        return verdicts

    def tradeable_cells(self) -> list[EdgeCell]:
        return [cell for cell in self.cells if cell.tradeable]


def bucket_index(yes_price: float | np.ndarray) -> np.ndarray:
    """The 5¢ bucket of each price; rounding first keeps 0.15 (= 15.000000000000002¢) in
    [15, 20) and the last bucket is closed so a price of 1 lands in [95, 100]."""
    cents = np.round(np.asarray(yes_price, dtype=float) * 100, 6)
    return np.clip(np.floor(cents / BUCKET_WIDTH_CENTS), 0, BUCKET_COUNT - 1).astype(np.intp)


@dataclass(frozen=True, slots=True, eq=False)
class _Scored:
    """Held-out points with everything the report needs, row-aligned (events as codes)."""

    price: np.ndarray
    outcome: np.ndarray
    model: np.ndarray
    event: np.ndarray
    loss_difference: np.ndarray
    model_edge: np.ndarray
    realised_edge: np.ndarray

    def __len__(self) -> int:
        return len(self.price)

    def take(self, rows: np.ndarray) -> _Scored:
        return _Scored(*(getattr(self, name)[rows] for name in _SCORED_FIELDS))

    def brier_model(self) -> float:
        return float(np.mean((self.model - self.outcome) ** 2))

    def brier_price(self) -> float:
        return float(np.mean((self.price - self.outcome) ** 2))

    def events(self) -> int:
        return len(np.unique(self.event))


_SCORED_FIELDS = (
    "price", "outcome", "model", "event", "loss_difference", "model_edge", "realised_edge",
)  # fmt: skip


def _log_loss(prediction: np.ndarray, outcome: np.ndarray) -> float:
    p = np.clip(prediction, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return float(-np.mean(outcome * np.log(p) + (1 - outcome) * np.log1p(-p)))


def fee_per_contract(asks: np.ndarray, contracts: int, schedule: FeeSchedule) -> np.ndarray:
    """Kalshi's exact taker fee per contract of buying `contracts` at each ask, computed once
    per distinct ask (quotes sit on a price grid, so there are few)."""
    distinct, index = np.unique(np.round(asks, 4), return_inverse=True)
    fees = [
        float(schedule.taker_fee(contracts, Decimal(f"{ask:.4f}"))) / contracts for ask in distinct
    ]
    return np.asarray(fees, dtype=float)[index]


def _score(
    fit: CalibrationFit, test: CalibrationSample, rules: GateRules, schedule: FeeSchedule
) -> tuple[_Scored, np.ndarray, np.ndarray, Design]:
    """Model predictions, loss differences and edges per held-out point, plus each point's
    favourite side (+1 YES, −1 NO), price bucket and design."""
    design = prediction_design(fit, test.price, test.family, test.seconds_to_close)
    model = expit(design.linear_predictor(fit.theta))
    outcome = test.outcome.astype(float)
    bucket = bucket_index(test.price)
    yes = bucket >= FAVOURITE_YES_FROM_BUCKET
    sign = np.where(yes, 1.0, -1.0)
    ask = np.where(yes, test.yes_ask, 1 - test.yes_bid)
    fee = fee_per_contract(ask, rules.edge_contracts, schedule)
    won = np.where(yes, outcome, 1 - outcome)
    _, event_code = factorize(test.event)
    scored = _Scored(
        price=test.price,
        outcome=outcome,
        model=model,
        event=event_code,
        loss_difference=(test.price - outcome) ** 2 - (model - outcome) ** 2,
        model_edge=np.where(yes, model, 1 - model) - ask - fee,
        realised_edge=won - ask - fee,
    )
    return scored, sign, bucket, design


def evaluate_calibration(
    fit: CalibrationFit,
    test: CalibrationSample,
    *,
    rules: GateRules | None = None,
    schedule: FeeSchedule | None = None,
) -> CalibrationReport:
    """Score `fit` against the raw price on held-out points (`test` must be cleaned), and
    decide per cell whether it may be traded. The twenty 5¢ buckets are always all present
    so reports line up version to version."""
    require_clean(test)
    rules = rules or GateRules()
    scored, sign, bucket, design = _score(fit, test, rules, schedule or FeeSchedule())
    labels = fit.horizons.labels()
    has_data = len(test) > 0
    return CalibrationReport(
        n_test=len(test),
        n_test_events=scored.events(),
        brier_model=scored.brier_model() if has_data else None,
        brier_price=scored.brier_price() if has_data else None,
        log_loss_model=_log_loss(scored.model, scored.outcome) if has_data else None,
        log_loss_price=_log_loss(scored.price, scored.outcome) if has_data else None,
        horizon_edges_s=fit.horizon_edges_s,
        horizon_labels=tuple(labels),
        fdr=rules.fdr,
        reliability=[_reliability_bucket(k, scored.take(bucket == k)) for k in range(BUCKET_COUNT)],
        families=_slices(scored, test.family),
        horizons=_slices(scored, np.array(labels, dtype=object)[design.horizon]),
        cells=_cells(fit, test, design, scored, sign, bucket, rules),
    )


def _slices(scored: _Scored, names: np.ndarray) -> list[SliceScore]:
    distinct, code = factorize(names)
    return [_slice_score(name, scored.take(code == k)) for k, name in enumerate(distinct)]


def _slice_score(name: str, scored: _Scored) -> SliceScore:
    return SliceScore(
        name, len(scored), scored.events(), scored.brier_model(), scored.brier_price()
    )


def _reliability_bucket(index: int, scored: _Scored) -> ReliabilityBucket:
    low = index * BUCKET_WIDTH_CENTS
    if len(scored) == 0:
        return ReliabilityBucket(low, low + BUCKET_WIDTH_CENTS, 0, *(None,) * 7)
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
    )


@dataclass(frozen=True, slots=True)
class _ClusteredMean:
    """A mean with its cluster-robust t statistic, one-sided p (mean > 0) and 95% CI."""

    t: float
    p_greater: float
    ci_low: float
    ci_high: float


def clustered_mean(values: np.ndarray, clusters: np.ndarray) -> _ClusteredMean:
    """Intercept-only OLS with covariance clustered by `clusters` (integer codes) and t(G − 1)
    inference; a mean without sampling variation (all values equal) is no evidence, so p = 1."""
    result = sm.OLS(values, np.ones((len(values), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": clusters}, use_t=True
    )
    se = float(result.bse[0])
    if not (np.isfinite(se) and se > 0):
        return _ClusteredMean(0.0, 1.0, float(values.mean()), float(values.mean()))
    t = float(result.tvalues[0])
    low, high = result.conf_int(0.05)[0]
    return _ClusteredMean(
        t, float(stats.t.sf(t, result.df_resid_inference)), float(low), float(high)
    )


def _cells(
    fit: CalibrationFit,
    test: CalibrationSample,
    design: Design,
    scored: _Scored,
    sign: np.ndarray,
    bucket: np.ndarray,
    rules: GateRules,
) -> list[EdgeCell]:
    families, family_code = factorize(test.family)
    n_horizons = fit.horizons.count
    cell_id = (bucket * n_horizons + design.horizon) * max(len(families), 1) + family_code
    ids, cell_of_point = np.unique(cell_id, return_inverse=True)
    edge_se = _model_edge_se(fit, design, scored, sign, cell_of_point, len(ids))
    order = np.argsort(cell_of_point, kind="stable")
    starts = np.searchsorted(cell_of_point[order], np.arange(len(ids) + 1))
    drafts = [
        _draft(
            scored.take(order[starts[k] : starts[k + 1]]),
            int(ids[k] // (n_horizons * len(families))),
            int(ids[k] // len(families) % n_horizons),
            families[int(ids[k] % len(families))],
            float(edge_se[k]),
            fit,
            rules,
        )
        for k in range(len(ids))
    ]
    return _decide(drafts, rules)


def _model_edge_se(
    fit: CalibrationFit,
    design: Design,
    scored: _Scored,
    sign: np.ndarray,
    cell: np.ndarray,
    n_cells: int,
) -> np.ndarray:
    """Standard error of each cell's mean model edge from the fit's clustered covariance: the
    edge moves with the parameters through q, d(mean edge)/dθ = mean(±q(1−q)·∂η/∂θ)."""
    weight = sign * scored.model * (1 - scored.model)
    columns = []
    for code, size, value in design.blocks():
        w = weight if value is None else weight * value
        sums = np.bincount(cell * (size + 1) + code, w, n_cells * (size + 1))
        columns.append(sums.reshape(n_cells, size + 1)[:, :size])
    gradient = np.hstack(columns) / np.maximum(np.bincount(cell, minlength=n_cells), 1)[:, None]
    covariance = np.asarray(fit.covariance, dtype=float)
    variance = np.einsum("cp,pq,cq->c", gradient, covariance, gradient)
    return np.sqrt(np.maximum(variance, 0.0))


@dataclass(frozen=True, slots=True)
class _Draft:
    """A cell before false-discovery control: its figures, and its test if it had one."""

    cell: EdgeCell
    improvement: _ClusteredMean | None
    realised: _ClusteredMean | None
    untested_reason: str | None


def _draft(
    scored: _Scored,
    bucket: int,
    horizon: int,
    family: str,
    edge_se: float,
    fit: CalibrationFit,
    rules: GateRules,
) -> _Draft:
    events = scored.events()
    untested = next(
        (
            reason
            for failed, reason in (
                (family not in fit.family_offsets, "family_not_in_training"),
                (len(scored) < rules.min_points, "too_few_points"),
                (events < rules.min_events, "too_few_events"),
            )
            if failed
        ),
        None,
    )
    tested = untested is None
    improvement = clustered_mean(scored.loss_difference, scored.event) if tested else None
    realised = clustered_mean(scored.realised_edge, scored.event) if tested else None
    cell = EdgeCell(
        bucket_low_cents=bucket * BUCKET_WIDTH_CENTS,
        horizon=horizon,
        family=family,
        n=len(scored),
        events=events,
        favourite="yes" if bucket >= FAVOURITE_YES_FROM_BUCKET else "no",
        brier_model=scored.brier_model(),
        brier_price=scored.brier_price(),
        improvement_t=improvement.t if improvement else None,
        p_value=improvement.p_greater if improvement else None,
        q_value=None,
        model_edge=float(scored.model_edge.mean()),
        model_edge_se=edge_se,
        realised_edge=float(scored.realised_edge.mean()),
        realised_edge_ci_low=realised.ci_low if realised else None,
        realised_edge_ci_high=realised.ci_high if realised else None,
        tradeable=False,
        reason=untested or "",
    )
    return _Draft(cell, improvement, realised, untested)


def _decide(drafts: list[_Draft], rules: GateRules) -> list[EdgeCell]:
    """Benjamini–Hochberg over the tested cells, then the edge condition."""
    tested = [d for d in drafts if d.improvement is not None]
    p_values = np.array([d.improvement.p_greater for d in tested if d.improvement])
    q_values = stats.false_discovery_control(p_values, method="bh") if len(tested) else []
    q_of = {id(d): float(q) for d, q in zip(tested, q_values, strict=True)}
    cells = []
    for draft in drafts:
        cell = draft.cell
        if draft.untested_reason is not None:
            cells.append(cell)
            continue
        q_value = q_of[id(draft)]
        reason = (
            "no_significant_improvement"
            if q_value > rules.fdr
            else "no_edge_after_costs"
            if cell.model_edge - rules.edge_z * cell.model_edge_se <= 0
            else TRADEABLE
        )
        cells.append(replace(cell, q_value=q_value, tradeable=reason == TRADEABLE, reason=reason))
    return cells
