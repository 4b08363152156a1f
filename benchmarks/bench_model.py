"""Model fit on 1,000,000 settled price points at six horizons; candidates for 5,000 markets.

.venv/bin/python -m benchmarks.bench_model
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from scipy.special import expit, logit

from benchmarks.common import peak_rss_mb, percentiles
from flb_pipeline.core.calibration import (
    CalibrationSample,
    WinProbabilityModel,
    clean_sample,
    fit_calibration,
    parse_reference_csv,
    prior_from_reference,
    time_split,
)
from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.gate import evaluate_calibration
from flb_pipeline.core.records import MarketQuote
from flb_pipeline.core.sizing import ExposureBook, ExposureCaps
from flb_pipeline.core.strategy import (
    MarketContext,
    StrategyThresholds,
    screen_market,
    size_candidates,
)
from flb_pipeline.reference import calibration_reference_text

POINTS = 1_000_000
MARKETS = 5_000
FAMILIES = np.array(["weather", "financials", "economics", "sports"], dtype=object)
FAMILY_SLOPES = np.array([0.0, -0.1, 0.05, 0.05])
HORIZONS_S = np.array([300.0, 1800.0, 10_800.0, 43_200.0, 259_200.0, 1_209_600.0])
TRUE_SLOPES = np.array([1.0, 1.0, 1.05, 1.11, 1.2, 1.27])
POINTS_PER_EVENT = 12  # e.g. two brackets at six horizons
NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
BIASED_HORIZON_S = np.array([5 * 86_400.0])
"""Where the synthetic history carries bias: the candidates' q is taken there, so screening
and sizing have opportunities to work on."""


def synthetic_history(rng: np.random.Generator) -> CalibrationSample:
    """Prices distorted by a slope per horizon and family; outcomes drawn from the truth."""
    truth = rng.beta(0.6, 0.6, POINTS).clip(0.005, 0.995)
    horizon = rng.integers(0, len(HORIZONS_S), POINTS)
    family = rng.integers(0, len(FAMILIES), POINTS)
    price = expit((logit(truth) - 0.02) / (TRUE_SLOPES[horizon] + FAMILY_SLOPES[family]))
    mid = np.round(price, 2).clip(0.01, 0.99)
    return CalibrationSample(
        price=mid,
        outcome=(rng.random(POINTS) < truth).astype(int),
        family=FAMILIES[family],
        close_ts=np.sort(rng.uniform(0, 86400 * 30, POINTS)),
        event=np.arange(POINTS) // POINTS_PER_EVENT,
        seconds_to_close=HORIZONS_S[horizon],
        yes_bid=mid - 0.01,
        yes_ask=mid + 0.01,
    )


def bench_fit(rng: np.random.Generator) -> WinProbabilityModel:
    sample, _ = clean_sample(synthetic_history(rng))
    prior = prior_from_reference(parse_reference_csv(calibration_reference_text()))
    fits, totals, model = [], [], None
    for _ in range(3):
        started = time.perf_counter()
        train, test = time_split(sample)
        fit = fit_calibration(train, prior)
        fitted = time.perf_counter()
        report = evaluate_calibration(fit, test)
        totals.append(time.perf_counter() - started)
        fits.append(fitted - started)
        model = WinProbabilityModel("bench", fit, report, tuple(HORIZONS_S.tolist()))
    assert model is not None
    print(f"time split + MAP fit (5 horizon buckets, 4 families) on {POINTS:,} points (s):"
          f" {percentiles(fits)}")  # fmt: skip
    print(f"  + held-out evaluation and gate ({len(model.report.cells)} cells) (s):"
          f" {percentiles(totals)}")  # fmt: skip
    slopes = ", ".join(
        f"{label} {b:.3f} ± {se:.3f}"
        for label, b, se in zip(model.fit.horizons.labels(), model.fit.horizon_slopes,
                                model.fit.horizon_slope_ses, strict=True)
    )  # fmt: skip
    print(f"  fitted slopes {slopes} (true 1.0, 1.05, 1.11, 1.2, 1.27 pooled)")
    return model


def contexts(rng: np.random.Generator, model: WinProbabilityModel) -> list[MarketContext]:
    result = []
    for i in range(MARKETS):
        bid = int(rng.integers(1, 97))
        quote = MarketQuote(
            f"KXB-{i}", f"KXB-E{i // 6}", "KXB", "", "Climate and Weather", "active",
            Decimal(bid) / 100, Decimal(bid + 2) / 100, Decimal(98 - bid) / 100,
            Decimal(100 - bid) / 100, None, 0, 0, NOW - timedelta(hours=1),
            NOW + timedelta(minutes=10), NOW,
        )  # fmt: skip
        mid = (bid + 1) / 100
        result.append(
            MarketContext(
                quote,
                "weather",
                f"g{i % 40}",
                FeeSchedule(),
                float(model.assess(np.array([mid]), ["weather"], BIASED_HORIZON_S)[0][0]),
                True,
            )
        )
    return result


def bench_candidates(rng: np.random.Generator, model: WinProbabilityModel) -> None:
    markets = contexts(rng, model)
    thresholds, timings = StrategyThresholds(), []
    for _ in range(5):
        started = time.perf_counter()
        opportunities = [
            o for m in markets for o in screen_market(m, thresholds, Decimal(10_000), NOW)[0]
        ]
        candidates, _, _ = size_candidates(
            opportunities, ExposureBook(), Decimal(10_000), ExposureCaps(), thresholds
        )
        timings.append(time.perf_counter() - started)
    print(f"screen + size {MARKETS:,} markets (both sides), s: {percentiles(timings)}")
    print(f"  {len(opportunities)} opportunities, {len(candidates)} sized candidates")


def main() -> None:
    rng = np.random.default_rng(11)
    model = bench_fit(rng)
    bench_candidates(rng, model)
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
