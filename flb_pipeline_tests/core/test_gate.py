import json
from dataclasses import asdict, replace
from decimal import Decimal

import numpy as np
import pytest
from scipy.special import expit, logit

from flb_pipeline.core.calibration import (
    CalibrationFit,
    CalibrationSample,
    HorizonBuckets,
    WinProbabilityModel,
    fit_calibration,
    win_probability,
)
from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.gate import (
    TRADEABLE,
    GateRules,
    bucket_index,
    clustered_mean,
    evaluate_calibration,
    fee_per_contract,
)
from flb_pipeline_tests.core.synthetic_world import (
    DAY,
    HOUR,
    MINUTE,
    World,
    evidence_slope,
    flat_slope,
    history,
)
from flb_pipeline_tests.core.test_calibration import NEAR, PUBLISHED_PRIOR, points


def true_fit(slope: float, families=("weather",), *, se: float = 1e-4) -> CalibrationFit:
    """A fit that is the truth (slope at every horizon, no family terms), with tiny errors."""
    n_parameters = 1 + 5 + 2 * len(families)
    return CalibrationFit(
        intercept=0.0,
        horizon_edges_s=HorizonBuckets().edges_s,
        horizon_slopes=(slope,) * 5,
        family_offsets=dict.fromkeys(families, 0.0),
        family_slopes=dict.fromkeys(families, 0.0),
        covariance=tuple(tuple(row) for row in (np.eye(n_parameters) * se**2).tolist()),
        n_train=10_000,
        n_events=10_000,
        horizon_points=(10_000, 0, 0, 0, 0),
        converged=True,
        iterations=10,
        log_likelihood=-1.0,
    )


def biased_world(rng: np.random.Generator, n: int, slope: float, *, price: float,
                 half_spread: float = 0.01, family="weather") -> CalibrationSample:  # fmt: skip
    """Independent markets at one price whose outcomes carry slope `slope`."""
    prices = np.full(n, price)
    outcomes = (rng.random(n) < expit(slope * logit(prices))).astype(np.int8)
    return points(prices, outcomes, family=family, half_spread=half_spread)


# --- reliability ------------------------------------------------------------------------------


def test_reliability_buckets_count_and_average_exactly():
    #        [0,5)       [5,10)  [15,20)      [95,100]
    prices = [0.02, 0.03, 0.05, 0.15, 0.19, 0.95, 0.999]
    outcomes = [0, 1, 0, 0, 1, 1, 1]
    fit = true_fit(1.2)

    report = evaluate_calibration(fit, points(prices, outcomes, half_spread=0.0))

    by_low = {b.bucket_low_cents: b for b in report.reliability}
    assert [b.bucket_low_cents for b in report.reliability] == list(range(0, 100, 5))
    assert {low: b.n for low, b in by_low.items() if b.n} == {0: 2, 5: 1, 15: 2, 95: 2}
    first = by_low[0]
    assert first.mean_price == pytest.approx(0.025) and first.win_rate == 0.5
    expected_q = win_probability(fit, np.array([0.02, 0.03]), "weather", NEAR)
    assert first.model_prediction == pytest.approx(expected_q.mean())
    assert first.brier_model == pytest.approx(np.mean((expected_q - [0, 1]) ** 2))
    assert first.brier_price == pytest.approx((0.02**2 + 0.97**2) / 2)
    assert report.n_test == 7 and report.n_test_events == 7
    assert [(s.name, s.n) for s in report.horizons] == [("<1h", 7)]
    assert [(s.name, s.n) for s in report.families] == [("weather", 7)]


def test_empty_buckets_are_present_without_statistics():
    report = evaluate_calibration(true_fit(1.0), points([0.5], [1]))

    empty = report.reliability[0]
    assert empty.n == 0
    assert (empty.mean_price, empty.win_rate, empty.ci_low, empty.ci_high) == (None,) * 4
    assert (empty.model_prediction, empty.brier_model, empty.brier_price) == (None, None, None)


def test_bucket_index_keeps_boundaries_in_their_bucket():
    assert bucket_index(np.array([0.0, 0.15, 0.1499, 0.95, 1.0])).tolist() == [0, 3, 2, 19, 19]


# --- the clustered test and the fee -------------------------------------------------------------


def test_clustered_mean_is_statsmodels_cluster_robust_ols_with_one_sided_p():
    rng = np.random.default_rng(4)
    cluster = np.repeat(np.arange(200), 5)
    shared = rng.normal(size=200)[cluster]  # points of one cluster move together
    values = 0.2 + shared + rng.normal(size=1000) * 0.1

    result = clustered_mean(values, cluster)

    means = np.bincount(cluster, values) / 5
    # With equal clusters, the cluster-robust SE is the SE of the 200 cluster means.
    se = np.std(means, ddof=1) / np.sqrt(200)
    assert result.t == pytest.approx(values.mean() / se, rel=1e-3)
    assert 0 < result.p_greater < 0.05
    assert result.ci_low < values.mean() < result.ci_high
    assert clustered_mean(np.full(50, 0.3), np.arange(50)).p_greater == 1.0


def test_fee_per_contract_is_the_exact_rounded_taker_fee():
    asks = np.array([0.95, 0.5, 0.95, 0.123])

    fees = fee_per_contract(asks, 100, FeeSchedule())

    expected = [float(FeeSchedule().taker_fee(100, Decimal(str(a)))) / 100 for a in asks]
    assert fees.tolist() == expected
    assert fees[0] == pytest.approx(0.0034)  # 100 at 95¢ pay 34¢


# --- the gate's rules -------------------------------------------------------------------------


def test_a_cell_is_tradeable_where_the_model_beats_the_price_and_the_edge_pays():
    """Truth slope 1.3 at a 92¢ YES favourite: the model (the truth) beats the price beyond
    chance and its edge after fee and a 1¢ half-spread is about 2¢."""
    sample = biased_world(np.random.default_rng(1), 20_000, 1.3, price=0.92)

    (cell,) = evaluate_calibration(true_fit(1.3), sample).cells

    assert (cell.bucket_low_cents, cell.horizon, cell.family) == (90, 0, "weather")
    assert cell.favourite == "yes" and cell.tradeable and cell.reason == TRADEABLE
    assert cell.p_value < 1e-4 and cell.q_value == cell.p_value  # one test: BH changes nothing
    q = expit(1.3 * logit(0.92))
    fee = float(FeeSchedule().taker_fee(100, Decimal("0.93"))) / 100
    assert cell.model_edge == pytest.approx(q - 0.93 - fee)
    assert cell.realised_edge_ci_low < cell.model_edge < cell.realised_edge_ci_high


def test_a_better_calibrated_cell_whose_bias_the_costs_eat_is_not_tradeable():
    """Slope 1.1 at 92¢: the model beats the price (the bias is real) but fee plus a 1.5¢
    half-spread is more than the bias, so buying there loses."""
    sample = biased_world(np.random.default_rng(2), 200_000, 1.1, price=0.92, half_spread=0.015)

    (cell,) = evaluate_calibration(true_fit(1.1), sample).cells

    assert cell.q_value <= 0.05 and cell.model_edge < 0
    assert not cell.tradeable and cell.reason == "no_edge_after_costs"


def test_a_model_that_is_wrong_is_not_tradeable():
    # The model bets on a strong bias the world does not have.
    sample = biased_world(np.random.default_rng(3), 20_000, 1.0, price=0.92)

    (cell,) = evaluate_calibration(true_fit(1.3), sample).cells

    assert cell.p_value > 0.5 and not cell.tradeable
    assert cell.reason == "no_significant_improvement" and cell.model_edge > 0


def test_too_little_data_is_not_tradeable_with_the_reason():
    rng = np.random.default_rng(5)
    few = biased_world(rng, 50, 1.3, price=0.92)
    one_event = replace(biased_world(rng, 500, 1.3, price=0.92), event=np.zeros(500, int))
    fit = true_fit(1.3)

    assert evaluate_calibration(fit, few).cells[0].reason == "too_few_points"
    assert evaluate_calibration(fit, one_event).cells[0].reason == "too_few_events"
    assert evaluate_calibration(fit, few, rules=GateRules(min_points=20)).cells[0].p_value


def test_families_and_horizons_without_data_are_not_tradeable_with_the_reason():
    sample = biased_world(np.random.default_rng(1), 20_000, 1.3, price=0.92)
    fit = true_fit(1.3, families=("weather", "politics"))
    model = WinProbabilityModel("wpm-1", fit, evaluate_calibration(fit, sample), (300.0,))
    prices = np.array([0.92, 0.92, 0.92, 0.5, 0.92, 1.5, 0.92])
    families = ["weather", "politics", "crypto", "weather", "weather", "weather", "weather"]
    seconds = np.array([NEAR, NEAR, NEAR, NEAR, 3 * DAY, NEAR, np.nan])

    reasons = model.gate_reasons(prices, families, seconds)
    _, tradeable = model.assess(prices, families, seconds)

    assert reasons == [
        TRADEABLE,
        "family_without_data",  # in training, not in the held-out data
        "family_without_data",  # never seen at all
        "cell_without_data",
        "horizon_without_data",
        "invalid_price",
        "invalid_time_to_close",
    ]
    assert tradeable.tolist() == [reason == TRADEABLE for reason in reasons]


def test_a_family_missing_from_training_is_not_tradeable_even_with_held_out_data():
    sample = biased_world(np.random.default_rng(1), 2_000, 1.3, price=0.92, family="crypto")

    (cell,) = evaluate_calibration(true_fit(1.3), sample).cells

    assert cell.reason == "family_not_in_training" and cell.p_value is None


def test_reports_serialise_to_json_without_nan():
    sample = biased_world(np.random.default_rng(1), 2_000, 1.3, price=0.92)
    fit = true_fit(1.3)

    documents = [
        asdict(evaluate_calibration(fit, sample)),
        asdict(evaluate_calibration(fit, points([0.02, 0.97], [0, 1]))),
        asdict(evaluate_calibration(fit, sample.take(np.arange(0)))),
    ]

    for document in documents:
        json.dumps(document, allow_nan=False)
    assert documents[-1]["n_test"] == 0 and documents[-1]["cells"] == []


# --- must show: the gate cannot pass by chance and finds real edge -----------------------------

EVIDENCE_HORIZONS = (5 * MINUTE, 30 * MINUTE, 3 * HOUR, 12 * HOUR, 3 * DAY, 40 * DAY)


def test_no_bias_no_gate():
    """b = 1 at every horizon and family, 20 seeds: at most 5% of the cells with held-out data
    pass (the previous rule, 'model Brier below price Brier with n >= 30', passed 49%)."""
    world = World(flat_slope, {"crypto": 0.0, "finance": 0.0}, horizons_s=EVIDENCE_HORIZONS,
                  events=3_000)  # fmt: skip
    cells = passed = 0
    for seed in range(20):
        train, test, _ = history(np.random.default_rng(seed), world).split(0.5)
        report = evaluate_calibration(fit_calibration(train, PUBLISHED_PRIOR), test)
        cells += len(report.cells)
        passed += len(report.tradeable_cells())
    assert cells > 20 * 100
    assert passed / cells <= 0.05


EDGE_WORLD = World(
    evidence_slope,
    family_slopes={"crypto": 0.1, "finance": -0.1},
    horizons_s=EVIDENCE_HORIZONS,
    events=15_000,
    start=(0.85, 0.1, 0.05),
    start_concentration=600.0,
    half_spreads=(0.01, 0.015, 0.02),
)
DETECTABLE_POINTS = 1_000


def true_net_edge(test: CalibrationSample, truth: np.ndarray) -> np.ndarray:
    """Per held-out point: the truth's net edge of buying the favourite at the ask after the
    taker fee for 100 contracts (the ask is half a spread beyond the mid)."""
    yes = bucket_index(test.price) >= 10
    ask = np.where(yes, test.yes_ask, 1 - test.yes_bid)
    return np.where(yes, truth, 1 - truth) - ask - fee_per_contract(ask, 100, FeeSchedule())


def test_the_gate_finds_real_edge():
    """A world shaped like the evidence (slope 1.0 in the last hour rising with log horizon to
    1.3 beyond a month, crypto 0.1 steeper and finance 0.1 flatter), 10 seeds: cells whose true
    net edge after fee and half-spread is >= 1¢ and that hold enough held-out data to show it
    (>= 1,000 points) pass in >= 80% of the seeds; cells whose true edge is <= 0 in <= 5%."""
    with_edge, without_edge = [], []
    for seed in range(10):
        train, test, truth = history(np.random.default_rng(seed), EDGE_WORLD).split(0.7)
        report = evaluate_calibration(fit_calibration(train, PUBLISHED_PRIOR), test)
        edge = true_net_edge(test, truth)
        bucket, horizon = bucket_index(test.price), HorizonBuckets().index(test.seconds_to_close)
        for cell in report.cells:
            rows = ((bucket * 5 == cell.bucket_low_cents) & (horizon == cell.horizon)
                    & (test.family == cell.family))  # fmt: skip
            true_edge = edge[rows].mean()
            if true_edge >= 0.01 and cell.n >= DETECTABLE_POINTS:
                with_edge.append(cell.tradeable)
            elif true_edge <= 0:
                without_edge.append(cell.tradeable)
    assert len(with_edge) >= 10 * 10 and len(without_edge) >= 10 * 40
    assert np.mean(with_edge) >= 0.8
    assert np.mean(without_edge) <= 0.05


def test_the_vectorised_tradeable_mask_is_exactly_the_gates_verdict():
    sample = biased_world(np.random.default_rng(1), 20_000, 1.3, price=0.92)
    fit = true_fit(1.3, families=("weather", "politics"))
    report = evaluate_calibration(fit, sample)
    rng = np.random.default_rng(8)
    prices = np.concatenate([rng.uniform(-0.1, 1.1, 2_000), np.full(200, 0.92), [np.nan]])
    families = rng.choice(["weather", "politics", "crypto"], len(prices)).astype(object)
    seconds = rng.choice([NEAR, 3 * DAY, -1.0, np.inf, np.nan], len(prices))

    mask = report.tradeable_mask(prices, families, seconds)

    assert mask.tolist() == [r == TRADEABLE for r in report.reasons(prices, families, seconds)]
    assert 0 < mask.sum() < len(prices)
