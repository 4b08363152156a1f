"""Model fit on 1,000,000 settled price points; candidate evaluation for 5,000 markets.

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
    evaluate_calibration,
    fit_calibration,
    parse_reference_csv,
    prior_from_reference,
    time_split,
)
from flb_pipeline.core.fees import FeeSchedule
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
NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)


def synthetic_history(rng: np.random.Generator) -> CalibrationSample:
    """Prices from the FLB-distorted truth with b = 1.2; outcomes drawn from the truth."""
    truth = rng.beta(0.6, 0.6, POINTS).clip(0.005, 0.995)
    price = expit((logit(truth) - 0.02) / 1.2)
    return CalibrationSample(
        price=np.round(price, 2).clip(0.01, 0.99),
        outcome=(rng.random(POINTS) < truth).astype(int),
        family=FAMILIES[rng.integers(0, 4, POINTS)],
        close_ts=np.sort(rng.uniform(0, 86400 * 30, POINTS)),
    )


def bench_fit(rng: np.random.Generator) -> WinProbabilityModel:
    sample, _ = clean_sample(synthetic_history(rng))
    prior = prior_from_reference(parse_reference_csv(calibration_reference_text()))
    timings, model = [], None
    for _ in range(3):
        started = time.perf_counter()
        train, test = time_split(sample)
        fit = fit_calibration(train, prior)
        report = evaluate_calibration(fit, test)
        timings.append(time.perf_counter() - started)
        model = WinProbabilityModel("bench", fit, report, 300.0)
    print(f"fit + evaluate on {POINTS:,} points (s): {percentiles(timings)}")
    assert model is not None
    print(f"  fitted b = {model.fit.slope:.3f} ± {model.fit.slope_se:.4f} (true 1.2)")
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
                float(model.assess(np.array([mid]), ["weather"])[0][0]),
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
