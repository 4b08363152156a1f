import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult
from scipy.special import expit, logit

import flb_pipeline
from flb_pipeline.core import calibration
from flb_pipeline.core.calibration import (
    CalibrationFailed,
    CalibrationFit,
    CalibrationPrior,
    CalibrationSample,
    ReferencePoint,
    WinProbabilityModel,
    clean_sample,
    cold_start_fit,
    evaluate_calibration,
    fit_calibration,
    parse_reference_csv,
    prior_from_reference,
    time_split,
    wilson_interval,
    win_probability,
)

Z95 = 1.959963984540054
REFERENCE_CSV = Path(flb_pipeline.__file__).parent / "reference" / "flb_calibration.csv"
# Centred away from the truths below, so passing recovery tests shows the data won.
NEUTRAL_PRIOR = CalibrationPrior(
    intercept=0.0, slope=1.0, intercept_sd=0.25, slope_sd=0.15, family_sd=0.25
)


def simulated_sample(
    rng: np.random.Generator,
    n: int,
    *,
    intercept: float,
    slope: float,
    family_offsets: dict[str, float] | None = None,
) -> CalibrationSample:
    """Settled markets whose outcomes follow the model exactly, at uniform prices."""
    offsets = family_offsets or {"weather": 0.0}
    family = rng.choice(np.array(sorted(offsets), dtype=object), n)
    price = rng.uniform(0.01, 0.99, n)
    eta = intercept + slope * logit(price) + np.array([offsets[f] for f in family])
    outcome = (rng.uniform(size=n) < expit(eta)).astype(np.int8)
    return CalibrationSample(price, outcome, family, np.arange(n, dtype=float))


def hand_sample(prices, outcomes, family="weather", close_ts=None) -> CalibrationSample:
    n = len(prices)
    return CalibrationSample(
        np.array(prices, dtype=float),
        np.array(outcomes),
        np.array([family] * n, dtype=object),
        np.arange(n, dtype=float) if close_ts is None else np.array(close_ts, dtype=float),
    )


def true_model(intercept: float, slope: float) -> CalibrationFit:
    return CalibrationFit(intercept, slope, {}, 0, True, 0, 0.0)


# --- reference prior ----------------------------------------------------------------------------


def test_prior_from_the_published_kalshi_calibration():
    points = parse_reference_csv(REFERENCE_CSV.read_text())

    prior = prior_from_reference(points)

    assert len(points) == 6
    assert prior.intercept == pytest.approx(0.02, abs=0.02)
    assert prior.slope == pytest.approx(1.09, abs=0.03)
    assert (prior.intercept_sd, prior.slope_sd, prior.family_sd) == (0.25, 0.15, 0.25)


def test_parse_reference_csv_skips_comments_and_filters_the_venue():
    text = (
        "# a comment, with commas\n"
        "venue,bucket_low_cents,bucket_high_cents,mean_price,realised_win_rate,contracts_or_trades\n"
        "kalshi,90,95,0.92,0.94,1000\n"
        "\n"
        "polymarket,0,5,0.025,0.012,\n"
    )

    assert parse_reference_csv(text) == [ReferencePoint(90, 95, 0.92, 0.94, 1000.0)]
    assert parse_reference_csv(text, venue="polymarket") == [
        ReferencePoint(0, 5, 0.025, 0.012, 1.0)
    ]


def test_prior_is_the_exact_line_through_points_on_a_line():
    prices = [0.05, 0.3, 0.9]
    points = [
        ReferencePoint(0, 5, p, float(expit(0.1 + 1.2 * logit(p))), w)
        for p, w in zip(prices, [1.0, 5.0, 2.0], strict=True)
    ]

    prior = prior_from_reference(points, slope_sd=0.1)

    assert prior.intercept == pytest.approx(0.1)
    assert prior.slope == pytest.approx(1.2)
    assert prior.slope_sd == 0.1


def test_prior_needs_two_distinct_prices():
    with pytest.raises(ValueError, match="two distinct prices"):
        prior_from_reference([ReferencePoint(90, 95, 0.92, 0.94, 1.0)] * 3)


# --- samples ----------------------------------------------------------------------------------


def test_clean_sample_drops_unusable_rows_and_counts_them():
    sample = CalibrationSample(
        price=[0.5, np.nan, 0.0, 1.0, -0.2, 0.3, 0.7, 0.9],
        outcome=[1, 0, 0, 1, 0, 2, 0, 1],
        family=["weather"] * 8,
        close_ts=[1, 2, 3, 4, 5, 6, np.nan, 8],
    )

    cleaned, dropped = clean_sample(sample)

    assert dropped == 6
    assert cleaned.price.tolist() == [0.5, 0.9]
    assert cleaned.outcome.tolist() == [1, 1]
    assert cleaned.close_ts.tolist() == [1.0, 8.0]


def test_sample_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        CalibrationSample([0.5, 0.6], [1], ["weather"] * 2, [1.0, 2.0])


def test_time_split_tests_on_the_latest_markets_never_random():
    close_ts = [5, 9, 1, 7, 3, 0, 8, 2, 6, 4]
    sample = hand_sample([0.5] * 10, [0] * 10, close_ts=close_ts)

    train, test = time_split(sample)

    assert train.close_ts.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert test.close_ts.tolist() == [7, 8, 9]


def test_time_split_sends_markets_tied_at_the_boundary_to_test():
    sample = hand_sample([0.5] * 10, [0] * 10, close_ts=[1, 2, 3, 4, 5, 6, 6, 6, 7, 8])

    train, test = time_split(sample)

    assert train.close_ts.tolist() == [1, 2, 3, 4, 5]
    assert test.close_ts.tolist() == [6, 6, 6, 7, 8]


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_time_split_rejects_degenerate_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        time_split(hand_sample([0.5], [1]), fraction)


# --- fitting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [1.09, 1.3])
def test_fit_recovers_intercept_and_slope(slope):
    sample = simulated_sample(np.random.default_rng(7), 50_000, intercept=0.02, slope=slope)

    fit = fit_calibration(sample, NEUTRAL_PRIOR)

    assert fit.intercept == pytest.approx(0.02, abs=0.05)
    assert fit.slope == pytest.approx(slope, abs=0.05)
    assert fit.n_train == 50_000
    assert fit.converged
    assert fit.iterations > 0
    assert fit.log_likelihood < 0


def test_big_families_get_their_offsets_and_a_tiny_family_shrinks_to_the_pool():
    rng = np.random.default_rng(11)
    big = simulated_sample(
        rng, 40_000, intercept=0.02, slope=1.09, family_offsets={"weather": 0.4, "sports": -0.4}
    )
    tiny = simulated_sample(rng, 5, intercept=0.02, slope=1.09, family_offsets={"crypto": 1.0})
    columns = ("price", "outcome", "family", "close_ts")
    sample = CalibrationSample(
        *(np.concatenate([getattr(big, c), getattr(tiny, c)]) for c in columns)
    )

    prior = prior_from_reference(parse_reference_csv(REFERENCE_CSV.read_text()))

    fit = fit_calibration(sample, prior)

    assert fit.family_offsets["weather"] == pytest.approx(0.4, abs=0.08)
    assert fit.family_offsets["sports"] == pytest.approx(-0.4, abs=0.08)
    assert abs(fit.family_offsets["crypto"]) < 0.15


def test_too_few_points_raise_instead_of_fitting():
    sample = simulated_sample(np.random.default_rng(1), 10, intercept=0.0, slope=1.0)

    with pytest.raises(CalibrationFailed, match="10 settled markets") as failure:
        fit_calibration(sample, NEUTRAL_PRIOR)
    assert "need at least 200" in failure.value.reason


def test_non_convergence_raises_instead_of_returning_a_half_fitted_model(monkeypatch):
    def stalled(fun, x0, **_):
        return OptimizeResult(x=x0, success=False, nit=500, message="ABNORMAL")

    monkeypatch.setattr(calibration, "minimize", stalled)
    sample = simulated_sample(np.random.default_rng(1), 500, intercept=0.0, slope=1.0)

    with pytest.raises(CalibrationFailed, match="did not converge: ABNORMAL"):
        fit_calibration(sample, NEUTRAL_PRIOR)


def test_fit_refuses_an_uncleaned_sample():
    sample = hand_sample([0.5] * 199 + [1.0], [1] * 200)

    with pytest.raises(ValueError, match="clean_sample"):
        fit_calibration(sample, NEUTRAL_PRIOR)


def test_cold_start_is_the_prior():
    prior = CalibrationPrior(0.02, 1.09, 0.25, 0.15, 0.25)

    fit = cold_start_fit(prior)

    assert (fit.intercept, fit.slope, fit.family_offsets, fit.n_train) == (0.02, 1.09, {}, 0)
    assert win_probability(fit, 0.9, "weather") == pytest.approx(expit(0.02 + 1.09 * logit(0.9)))


# --- prediction -------------------------------------------------------------------------------


def test_win_probability_applies_family_offsets_and_zero_for_unknown_families():
    fit = CalibrationFit(0.1, 1.2, {"weather": 0.3}, 1000, True, 12, -600.0)
    prices = np.array([0.1, 0.5, 0.92])

    weather = win_probability(fit, prices, "weather")
    mixed = win_probability(fit, prices, np.array(["weather", "never_seen", "weather"], object))

    assert weather == pytest.approx(expit(0.4 + 1.2 * logit(prices)))
    assert mixed == pytest.approx(expit(0.1 + 1.2 * logit(prices) + [0.3, 0.0, 0.3]))
    assert isinstance(win_probability(fit, 0.92, "weather"), float)
    assert win_probability(fit, 0.92, "weather") == pytest.approx(weather[2])


def test_win_probability_stays_finite_at_the_price_limits():
    q = win_probability(true_model(0.0, 1.3), np.array([0.0, 1.0]), "weather")

    assert np.all(np.isfinite(q))
    assert q[0] < 1e-6 < 1 - 1e-6 < q[1]


# --- evaluation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 10, 0.0, Z95**2 / (10 + Z95**2)),  # closed forms at 0 and n wins
        (10, 10, 10 / (10 + Z95**2), 1.0),
        (1, 1, 1 / (1 + Z95**2), 1.0),
        (50, 100, 0.403832, 0.596168),
        (8, 10, 0.490162, 0.943318),
    ],
)
def test_wilson_interval_matches_published_values(successes, n, low, high):
    assert wilson_interval(successes, n) == pytest.approx((low, high), abs=1e-6)


@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_brackets_the_observed_rate(case):
    successes, n = case

    low, high = wilson_interval(successes, n)

    assert 0.0 <= low <= successes / n <= high <= 1.0


@pytest.mark.parametrize(("successes", "n"), [(0, 0), (3, 2), (-1, 5)])
def test_wilson_interval_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_reliability_buckets_count_and_average_exactly():
    #        [0,5)       [5,10)  [15,20)      [95,100]
    prices = [0.02, 0.03, 0.05, 0.15, 0.19, 0.95, 0.999]
    outcomes = [0, 1, 0, 0, 1, 1, 1]
    fit = true_model(0.0, 1.2)

    report = evaluate_calibration(fit, hand_sample(prices, outcomes), min_bucket_n=2)

    by_low = {b.bucket_low_cents: b for b in report.reliability}
    assert [b.bucket_low_cents for b in report.reliability] == list(range(0, 100, 5))
    assert [b.bucket_high_cents for b in report.reliability] == list(range(5, 105, 5))
    assert {low: b.n for low, b in by_low.items() if b.n} == {0: 2, 5: 1, 15: 2, 95: 2}
    first = by_low[0]
    assert first.mean_price == pytest.approx(0.025)
    assert first.win_rate == 0.5
    assert (first.ci_low, first.ci_high) == wilson_interval(1, 2)
    expected_q = win_probability(fit, np.array([0.02, 0.03]), "weather")
    assert first.model_prediction == pytest.approx(expected_q.mean())
    assert first.brier_model == pytest.approx(np.mean((expected_q - [0, 1]) ** 2))
    assert first.brier_price == pytest.approx((0.02**2 + 0.97**2) / 2)
    assert by_low[95].mean_price == pytest.approx((0.95 + 0.999) / 2)
    assert report.n_test == 7
    assert report.brier_price == pytest.approx(
        np.mean((np.array(prices) - np.array(outcomes)) ** 2)
    )


def test_empty_buckets_are_present_without_statistics_and_not_tradeable():
    report = evaluate_calibration(true_model(0.0, 1.0), hand_sample([0.5], [1]))

    empty = report.reliability[0]
    assert empty.n == 0
    assert (empty.mean_price, empty.win_rate, empty.ci_low, empty.ci_high) == (None,) * 4
    assert (empty.model_prediction, empty.brier_model, empty.brier_price) == (None, None, None)
    assert not empty.tradeable


@pytest.fixture(scope="module")
def biased_test_set() -> CalibrationSample:
    """Later markets whose outcomes carry a strong favourite-longshot bias (slope 1.3)."""
    return simulated_sample(np.random.default_rng(3), 100_000, intercept=0.0, slope=1.3)


def test_tradeable_where_the_model_beats_the_price_out_of_sample(biased_test_set):
    report = evaluate_calibration(true_model(0.0, 1.3), biased_test_set)

    extremes = [report.reliability[k] for k in (0, 1, 18, 19)]
    assert all(b.tradeable for b in extremes)
    assert all(b.brier_model < b.brier_price for b in extremes)
    assert [(s.family, s.tradeable) for s in report.families] == [("weather", True)]
    assert report.log_loss_model < report.log_loss_price
    assert report.is_tradeable(0.92, "weather")
    assert report.is_tradeable(0.03, "weather")


def test_not_tradeable_where_the_model_is_wrong(biased_test_set):
    # Slope 0.7 bets on the reverse bias: worse than the raw price everywhere it matters.
    report = evaluate_calibration(true_model(0.0, 0.7), biased_test_set)

    assert not any(report.reliability[k].tradeable for k in (0, 1, 18, 19))
    assert not report.families[0].tradeable
    assert not report.is_tradeable(0.92, "weather")


def test_not_tradeable_without_enough_evidence_or_on_unseen_families(biased_test_set):
    model = true_model(0.0, 1.3)

    thin = evaluate_calibration(model, biased_test_set, min_bucket_n=10_000, min_family_n=200_000)

    assert not any(b.tradeable for b in thin.reliability)
    assert not thin.families[0].tradeable
    report = evaluate_calibration(model, biased_test_set)
    assert not report.is_tradeable(0.92, "never_seen")
    assert not report.is_tradeable(float("nan"), "weather")


def test_reports_and_fits_serialise_to_json_without_nan(biased_test_set):
    fit = fit_calibration(biased_test_set.take(np.arange(5_000)), NEUTRAL_PRIOR)
    sparse = hand_sample([0.02, 0.97], [0, 1])

    documents = [
        asdict(fit),
        asdict(evaluate_calibration(fit, biased_test_set)),
        asdict(evaluate_calibration(fit, sparse)),
        asdict(evaluate_calibration(fit, sparse.take(np.arange(0)))),
    ]

    for document in documents:
        json.dumps(document, allow_nan=False)
    assert documents[-1]["n_test"] == 0
    assert documents[-1]["brier_model"] is None
    assert documents[-1]["families"] == []


def test_tradeable_mask_agrees_with_is_tradeable_market_by_market(biased_test_set):
    report = evaluate_calibration(true_model(0.0, 1.3), biased_test_set)
    prices = np.array([0.02, 0.5, 0.92, 1.0, 0.92, float("nan"), -0.1, 1.2])
    families = ["weather"] * 4 + ["never_seen", "weather", "weather", "weather"]

    mask = report.tradeable_mask(prices, families)

    assert mask.tolist() == [
        report.is_tradeable(p, f) for p, f in zip(prices, families, strict=True)
    ]
    assert mask[[0, 2]].all() and not mask[4:].any()


# --- the deployed model -------------------------------------------------------------------------


def test_assess_gives_probabilities_and_flags_and_nan_for_families_the_fit_never_saw(
    biased_test_set,
):
    fit = CalibrationFit(0.0, 1.3, {"weather": 0.0}, 10_000, True, 12, -600.0)
    model = WinProbabilityModel(
        "wpm-1", fit, evaluate_calibration(fit, biased_test_set), horizon_s=300.0
    )
    prices = np.array([0.92, 0.92, 0.5])

    q, tradeable = model.assess(prices, ["weather", "never_seen", "weather"])

    assert q[0] == pytest.approx(expit(1.3 * logit(0.92)))
    assert np.isnan(q[1]) and q[2] == pytest.approx(0.5)
    assert tradeable[0] and not tradeable[1]


def test_a_cold_start_model_prices_every_family_from_the_prior_and_trades_nothing():
    fit = cold_start_fit(CalibrationPrior(0.02, 1.09, 0.25, 0.15, 0.25))
    model = WinProbabilityModel("wpm-cold", fit, None, horizon_s=300.0)

    q, tradeable = model.assess(np.array([0.05, 0.95]), ["weather", "never_seen"])

    assert model.cold_start
    assert q == pytest.approx(expit(0.02 + 1.09 * logit(np.array([0.05, 0.95]))))
    assert not tradeable.any()
