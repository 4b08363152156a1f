import json
from dataclasses import asdict, fields
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
    CalibrationPrior,
    CalibrationSample,
    HorizonBuckets,
    ReferencePoint,
    WinProbabilityModel,
    clean_sample,
    cold_start_fit,
    fit_calibration,
    parse_reference_csv,
    prior_from_reference,
    time_split,
    wilson_interval,
    win_probability,
)
from flb_pipeline_tests.core.synthetic_world import (
    DAY,
    HOUR,
    MINUTE,
    World,
    evidence_slope,
    history,
)

Z95 = 1.959963984540054
REFERENCE_CSV = Path(flb_pipeline.__file__).parent / "reference" / "flb_calibration.csv"
# Centred away from the truths below, so passing recovery tests shows the data won.
NEUTRAL_PRIOR = CalibrationPrior(
    intercept=0.0, slope=1.0, intercept_sd=0.25, slope_sd=0.15, family_sd=0.25
)
PUBLISHED_PRIOR = prior_from_reference(parse_reference_csv(REFERENCE_CSV.read_text()))
NEAR = 600.0  # ten minutes to close: the first horizon bucket


def simulated_sample(
    rng: np.random.Generator,
    n: int,
    *,
    intercept: float,
    slope: float,
    family_offsets: dict[str, float] | None = None,
    seconds_to_close: float = NEAR,
) -> CalibrationSample:
    """Independent settled markets whose outcomes follow the model exactly, at uniform
    prices, all at one time to close."""
    offsets = family_offsets or {"weather": 0.0}
    family = rng.choice(np.array(sorted(offsets), dtype=object), n)
    price = rng.uniform(0.01, 0.99, n)
    eta = intercept + slope * logit(price) + np.array([offsets[f] for f in family])
    outcome = (rng.uniform(size=n) < expit(eta)).astype(np.int8)
    return points(price, outcome, family=family, seconds_to_close=seconds_to_close)


def points(prices, outcomes, *, family="weather", close_ts=None, event=None,
           seconds_to_close=NEAR, half_spread=0.01) -> CalibrationSample:  # fmt: skip
    price = np.asarray(prices, dtype=float)
    n = len(price)
    return CalibrationSample(
        price=price,
        outcome=np.asarray(outcomes),
        family=np.broadcast_to(np.asarray(family, dtype=object), (n,)),
        close_ts=np.arange(n, dtype=float) if close_ts is None else np.asarray(close_ts, float),
        event=np.arange(n) if event is None else np.asarray(event, dtype=object),
        seconds_to_close=np.broadcast_to(np.asarray(seconds_to_close, dtype=float), (n,)),
        yes_bid=np.clip(price - half_spread, 0, 1),
        yes_ask=np.clip(price + half_spread, 0, 1),
    )


def joined(samples: list[CalibrationSample]) -> CalibrationSample:
    names = [field.name for field in fields(CalibrationSample)]
    return CalibrationSample(*(np.concatenate([getattr(s, n) for s in samples]) for n in names))


# --- reference prior ----------------------------------------------------------------------------


def test_prior_from_the_published_kalshi_calibration():
    points_ = parse_reference_csv(REFERENCE_CSV.read_text())

    prior = prior_from_reference(points_)

    assert len(points_) == 6
    assert prior.intercept == pytest.approx(0.02, abs=0.02)
    assert prior.slope == pytest.approx(1.09, abs=0.03)
    assert (prior.intercept_sd, prior.slope_sd, prior.family_sd) == (0.25, 0.15, 0.25)
    assert (prior.horizon_step_sd, prior.family_slope_sd, prior.family_mean_sd) == (
        0.1,
        0.15,
        0.01,
    )


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
    points_ = [
        ReferencePoint(0, 5, p, float(expit(0.1 + 1.2 * logit(p))), w)
        for p, w in zip(prices, [1.0, 5.0, 2.0], strict=True)
    ]

    prior = prior_from_reference(points_, slope_sd=0.1)

    assert prior.intercept == pytest.approx(0.1)
    assert prior.slope == pytest.approx(1.2)
    assert prior.slope_sd == 0.1


def test_prior_needs_two_distinct_prices():
    with pytest.raises(ValueError, match="two distinct prices"):
        prior_from_reference([ReferencePoint(90, 95, 0.92, 0.94, 1.0)] * 3)


def test_prior_spreads_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        CalibrationPrior(0.0, 1.0, 0.25, 0.15, 0.25, horizon_step_sd=0.0)


# --- horizons and samples ---------------------------------------------------------------------


def test_horizon_buckets_split_the_time_to_close_at_their_edges():
    buckets = HorizonBuckets()
    seconds = np.array([0, 59 * MINUTE, HOUR, 5 * HOUR, 6 * HOUR, 23 * HOUR, DAY, 6 * DAY,
                        7 * DAY, 60 * DAY])  # fmt: skip

    assert buckets.index(seconds).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert buckets.labels() == ["<1h", "1h-6h", "6h-1d", "1d-7d", ">7d"]
    assert HorizonBuckets((300.0, 1800.0)).labels() == ["<5m", "5m-30m", ">30m"]
    assert HorizonBuckets(()).labels() == ["all"] and HorizonBuckets(()).count == 1


def test_horizon_edges_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        HorizonBuckets((DAY, HOUR))


def test_clean_sample_drops_unusable_rows_and_counts_them():
    sample = points([0.5, np.nan, 0.0, 1.0, -0.2, 0.3, 0.7, 0.9, 0.4, 0.6], [1, 0, 0, 1, 0, 2,
                    0, 1, 1, 0], close_ts=[1, 2, 3, 4, 5, 6, np.nan, 8, 9, 10],
                    seconds_to_close=[NEAR] * 8 + [-1.0, np.nan])  # fmt: skip

    cleaned, dropped = clean_sample(sample)

    assert dropped == 8
    assert cleaned.price.tolist() == [0.5, 0.9]
    assert cleaned.outcome.tolist() == [1, 1]
    assert cleaned.close_ts.tolist() == [1.0, 8.0]


def test_clean_sample_drops_crossed_or_impossible_books():
    sample = points([0.5, 0.5, 0.5], [1, 0, 1])
    crossed = CalibrationSample(
        *(getattr(sample, name) for name in ("price", "outcome", "family", "close_ts", "event",
                                             "seconds_to_close")),
        yes_bid=np.array([0.49, 0.52, -0.01]),
        yes_ask=np.array([0.51, 0.51, 0.51]),
    )  # fmt: skip

    cleaned, dropped = clean_sample(crossed)

    assert dropped == 2 and cleaned.yes_bid.tolist() == [0.49]


def test_sample_rejects_arrays_of_different_lengths():
    sample = points([0.5, 0.6], [1, 0])
    with pytest.raises(ValueError, match="one length"):
        CalibrationSample(sample.price, [1], *(getattr(sample, n) for n in (
            "family", "close_ts", "event", "seconds_to_close", "yes_bid", "yes_ask")))  # fmt: skip


def test_time_split_tests_on_the_latest_markets_never_random():
    sample = points([0.5] * 10, [0] * 10, close_ts=[5, 9, 1, 7, 3, 0, 8, 2, 6, 4])

    train, test = time_split(sample)

    assert train.close_ts.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert test.close_ts.tolist() == [7, 8, 9]


def test_time_split_keeps_one_markets_horizons_together_at_the_boundary():
    # Three horizons of the market closing at 6 sit across the 70% boundary: all go to test.
    sample = points([0.5] * 10, [0] * 10, close_ts=[1, 2, 3, 4, 5, 6, 6, 6, 7, 8])

    train, test = time_split(sample)

    assert train.close_ts.tolist() == [1, 2, 3, 4, 5]
    assert test.close_ts.tolist() == [6, 6, 6, 7, 8]


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_time_split_rejects_degenerate_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        time_split(points([0.5], [1]), fraction)


# --- fitting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [1.09, 1.3])
def test_fit_recovers_intercept_and_slope_where_the_data_is(slope):
    sample = simulated_sample(np.random.default_rng(7), 50_000, intercept=0.02, slope=slope)

    fit = fit_calibration(sample, NEUTRAL_PRIOR)

    assert fit.intercept == pytest.approx(0.02, abs=0.05)
    assert fit.horizon_slopes[0] == pytest.approx(slope, abs=0.05)
    assert fit.horizon_points == (50_000, 0, 0, 0, 0)
    assert fit.n_train == 50_000 and fit.n_events == 50_000
    assert fit.converged and fit.iterations > 0 and fit.log_likelihood < 0
    # Buckets without data follow their neighbour along the random walk, toward the prior.
    assert all(1.0 <= b <= max(slope, 1.0) + 1e-9 for b in fit.horizon_slopes[1:])
    assert fit.horizon_slope_ses[0] < 0.03 < fit.horizon_slope_ses[-1]


def test_a_family_slope_shift_expresses_what_an_offset_cannot():
    """Politics compressed toward 50% is a steeper slope, crypto a flatter one; the pooled
    slope is their data-weighted mean."""
    rng = np.random.default_rng(5)
    steep = simulated_sample(rng, 40_000, intercept=0.0, slope=1.4, family_offsets={"politics": 0})
    flat = simulated_sample(rng, 40_000, intercept=0.0, slope=1.0, family_offsets={"crypto": 0})

    fit = fit_calibration(joined([steep, flat]), NEUTRAL_PRIOR)

    assert fit.horizon_slopes[0] == pytest.approx(1.2, abs=0.04)
    assert fit.family_slopes["politics"] == pytest.approx(0.2, abs=0.04)
    assert fit.family_slopes["crypto"] == pytest.approx(-0.2, abs=0.04)
    assert abs(fit.family_offsets["politics"]) < 0.06 and abs(fit.family_offsets["crypto"]) < 0.06


def test_big_families_get_their_terms_and_a_tiny_family_shrinks_to_the_pool():
    rng = np.random.default_rng(11)
    big = simulated_sample(
        rng, 40_000, intercept=0.02, slope=1.09, family_offsets={"weather": 0.4, "sports": -0.4}
    )
    tiny = simulated_sample(rng, 5, intercept=0.02, slope=1.09, family_offsets={"crypto": 1.0})

    fit = fit_calibration(joined([big, tiny]), PUBLISHED_PRIOR)

    assert fit.family_offsets["weather"] == pytest.approx(0.4, abs=0.08)
    assert fit.family_offsets["sports"] == pytest.approx(-0.4, abs=0.08)
    assert abs(fit.family_offsets["crypto"]) < 0.15
    assert abs(fit.family_slopes["crypto"]) < 0.1


def test_too_few_points_raise_instead_of_fitting():
    sample = simulated_sample(np.random.default_rng(1), 10, intercept=0.0, slope=1.0)

    with pytest.raises(CalibrationFailed, match="10 settled price points") as failure:
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
    sample = points([0.5] * 199 + [1.0], [1] * 200)

    with pytest.raises(ValueError, match="clean_sample"):
        fit_calibration(sample, NEUTRAL_PRIOR)


def test_cold_start_is_the_prior_at_every_horizon():
    fit = cold_start_fit(PUBLISHED_PRIOR)

    assert fit.horizon_slopes == (PUBLISHED_PRIOR.slope,) * 5
    assert (fit.family_offsets, fit.family_slopes, fit.n_train) == ({}, {}, 0)
    assert fit.horizon_slope_ses[0] == pytest.approx(0.15, rel=0.5)
    expected = expit(PUBLISHED_PRIOR.intercept + PUBLISHED_PRIOR.slope * logit(0.9))
    assert win_probability(fit, 0.9, "weather", 14 * DAY)[0] == pytest.approx(expected)


# --- clustered standard errors ----------------------------------------------------------------


def test_standard_errors_grow_when_points_share_an_outcome():
    """Ten copies of each market (as if priced at ten horizons) are not ten times the
    evidence: clustered by market the slope's standard error is the one of the originals."""
    original = simulated_sample(np.random.default_rng(2), 4_000, intercept=0.0, slope=1.2)
    copies = joined([original] * 10)
    independent = CalibrationSample(
        *(getattr(copies, n) for n in ("price", "outcome", "family", "close_ts")),
        event=np.arange(len(copies)),
        **{n: getattr(copies, n) for n in ("seconds_to_close", "yes_bid", "yes_ask")},
    )

    se_original = fit_calibration(original, NEUTRAL_PRIOR).horizon_slope_ses[0]
    se_clustered = fit_calibration(copies, NEUTRAL_PRIOR).horizon_slope_ses[0]
    se_naive = fit_calibration(independent, NEUTRAL_PRIOR).horizon_slope_ses[0]

    assert se_clustered == pytest.approx(se_original, rel=0.1)
    assert se_naive == pytest.approx(se_original / np.sqrt(10), rel=0.15)


EVIDENCE_HORIZONS = (5 * MINUTE, 30 * MINUTE, 3 * HOUR, 12 * HOUR, 3 * DAY, 40 * DAY)
RECOVERY_WORLD = World(
    evidence_slope,
    family_slopes={"crypto": 0.1, "finance": -0.1},
    family_offsets={"crypto": 0.05, "finance": -0.05},
    horizons_s=EVIDENCE_HORIZONS,
    events=12_000,
)


def test_the_slope_is_recovered_at_every_horizon_with_covering_clustered_cis():
    """20 seeded worlds of 12,000 three-bracket events priced at six horizons, slope 1.0 in
    the last hour rising with log horizon to 1.3 beyond a month, two families of different
    slope: every bucket's fitted slope is within 0.05 of the truth, and the clustered 95%
    intervals cover it in 90–99% of the (seed, bucket) cases."""
    truth = evidence_slope(np.array([5 * MINUTE, 3 * HOUR, 12 * HOUR, 3 * DAY, 40 * DAY]))
    errors, covered, ses = [], [], []
    for seed in range(20):
        train, _, _ = history(np.random.default_rng(seed), RECOVERY_WORLD).split(0.3)
        fit = fit_calibration(train, PUBLISHED_PRIOR)
        assert min(fit.horizon_points) >= 5_000
        slopes, se = np.array(fit.horizon_slopes), np.array(fit.horizon_slope_ses)
        errors.append(slopes - truth)
        covered.append(np.abs(slopes - truth) <= Z95 * se)
        ses.append(se)

    assert np.max(np.abs(errors)) <= 0.05
    assert 0.90 <= np.mean(covered) <= 0.99
    # The clustered standard error is the estimate's actual spread across worlds.
    spread_over_se = np.std(errors, axis=0) / np.mean(ses, axis=0)
    assert np.all((spread_over_se > 0.75) & (spread_over_se < 1.33))


# --- prediction -------------------------------------------------------------------------------


def a_fit(**changes):
    base = cold_start_fit(CalibrationPrior(0.1, 1.0, 0.25, 0.15, 0.25))
    return calibration.CalibrationFit(
        **{
            **asdict(base),
            "horizon_slopes": (1.0, 1.1, 1.2, 1.25, 1.3),
            "family_offsets": {"weather": 0.3, "politics": 0.0},
            "family_slopes": {"weather": 0.0, "politics": 0.2},
            "covariance": tuple(tuple(r) for r in np.eye(10).tolist()),
            "n_train": 1_000,
            **changes,
        }
    )


def test_win_probability_uses_the_slope_of_the_time_to_close_and_the_family_terms():
    fit = a_fit()
    prices = np.array([0.1, 0.92, 0.92, 0.92])
    families = np.array(["weather", "weather", "politics", "never_seen"], dtype=object)
    seconds = np.array([NEAR, 3 * DAY, 3 * DAY, 30 * DAY])

    q = win_probability(fit, prices, families, seconds)

    assert q == pytest.approx(
        expit(
            0.1
            + np.array([1.0, 1.25, 1.25 + 0.2, 1.3]) * logit(prices)
            + np.array([0.3, 0.3, 0.0, 0.0])
        )
    )
    assert win_probability(fit, 0.92, "weather", 3 * DAY)[0] == pytest.approx(q[1])


def test_win_probability_stays_finite_at_the_price_limits():
    q = win_probability(a_fit(), np.array([0.0, 1.0]), "weather", NEAR)

    assert np.all(np.isfinite(q))
    assert q[0] < 1e-5 < 1 - 1e-5 < q[1]


def test_fits_serialise_to_json_without_nan():
    fit = fit_calibration(
        simulated_sample(np.random.default_rng(3), 5_000, intercept=0.0, slope=1.3), NEUTRAL_PRIOR
    )

    document = json.dumps(asdict(fit), allow_nan=False)

    assert '"horizon_slopes"' in document and '"covariance"' in document


def test_assess_gives_probabilities_at_each_time_to_close_and_nan_for_unseen_families():
    model = WinProbabilityModel("wpm-1", a_fit(), None, (300.0,))
    prices = np.array([0.92, 0.92, 0.92])

    q, tradeable = model.assess(prices, ["weather", "weather", "never_seen"],
                                np.array([NEAR, 30 * DAY, NEAR]))  # fmt: skip

    assert q[0] == pytest.approx(expit(0.1 + 1.0 * logit(0.92) + 0.3))
    assert q[1] == pytest.approx(expit(0.1 + 1.3 * logit(0.92) + 0.3))
    assert np.isnan(q[2]) and not tradeable.any()
    assert model.gate_reasons(prices, ["weather"] * 3, np.full(3, NEAR)) == ["cold_start"] * 3


def test_a_cold_start_model_prices_every_family_from_the_prior_and_trades_nothing():
    model = WinProbabilityModel("wpm-cold", cold_start_fit(PUBLISHED_PRIOR), None, (300.0,))

    q, tradeable = model.assess(np.array([0.05, 0.95]), ["weather", "never_seen"],
                                np.array([NEAR, 10 * DAY]))  # fmt: skip

    assert model.cold_start
    prior = PUBLISHED_PRIOR
    assert q == pytest.approx(expit(prior.intercept + prior.slope * logit(np.array([0.05, 0.95]))))
    assert not tradeable.any()


# --- evaluation helpers -------------------------------------------------------------------------


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
