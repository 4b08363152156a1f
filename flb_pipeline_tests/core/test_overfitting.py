"""PBO, the deflated Sharpe ratio and the day/event bootstrap on cases with known answers."""

import math

import numpy as np
import pytest

from flb_pipeline.core.overfitting import (
    cscv_blocks,
    day_event_bootstrap,
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_overfitting,
)


def test_pbo_of_skill_less_strategies_is_about_one_half():
    values = [
        probability_of_overfitting(np.random.default_rng(seed).normal(0, 1, (240, 20))).pbo
        for seed in range(20)
    ]
    assert 0.4 <= float(np.mean(values)) <= 0.6


def test_pbo_is_near_zero_when_one_strategy_truly_dominates():
    rng = np.random.default_rng(3)
    performance = rng.normal(0, 1, (240, 20))
    performance[:, 7] += 0.6
    result = probability_of_overfitting(performance)
    assert result.pbo < 0.05
    assert result.blocks == 16 and result.splits == math.comb(16, 8) == len(result.logits)


def test_identical_strategies_teach_nothing_so_pbo_flags_them():
    flat = np.zeros((40, 5))
    assert probability_of_overfitting(flat).pbo == 1.0


def test_pbo_needs_two_strategies_and_four_periods():
    assert probability_of_overfitting(np.zeros((100, 1))) is None
    assert probability_of_overfitting(np.zeros((3, 4))) is None
    assert cscv_blocks(3) is None and cscv_blocks(5) == 4 and cscv_blocks(1000) == 16


def test_deflated_sharpe_matches_the_papers_worked_example():
    """Bailey & López de Prado (2014): best annualised SR 2.5 of N = 100 trials whose
    annualised SRs vary with variance 0.5, five years of daily returns (T = 1250), skewness
    −3, kurtosis 10: SR0 = 0.1132 per day and DSR = 0.9004."""
    daily_variance = 0.5 / 250
    benchmark = expected_maximum_sharpe(100, daily_variance)
    assert benchmark == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), benchmark, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def test_deflated_sharpe_falls_as_more_trials_were_run():
    returns = np.random.default_rng(5).normal(0.1, 1.0, 500)
    one = deflated_sharpe_ratio(returns, 1, 0.01)
    many = deflated_sharpe_ratio(returns, 1000, 0.01)
    assert one > 0.95 > many
    assert deflated_sharpe_ratio(np.zeros(10), 5, 0.01) is None


def _clustered_pnl(rng, days, events_per_day, day_shock):
    """Per-trade P&L: a shock shared by the day, one by the event, and trade noise."""
    day = np.repeat(np.arange(days), events_per_day * 3)
    event = np.repeat(np.arange(days * events_per_day), 3)
    pnl = (
        0.2
        + day_shock * rng.normal(size=days)[day]
        + rng.normal(size=days * events_per_day)[event]
        + rng.normal(size=len(event))
    )
    return pnl, day, event


def test_day_event_bootstrap_covers_the_true_mean_with_day_shocks():
    covered = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        pnl, day, event = _clustered_pnl(rng, days=30, events_per_day=8, day_shock=1.0)
        ci = day_event_bootstrap(pnl, day, event, denominator=np.ones(len(pnl)), seed=seed,
                                 resamples=500)  # fmt: skip
        covered += ci.low <= 0.2 <= ci.high
    assert 88 <= covered <= 99


def test_bootstrap_ratio_and_refusal_on_too_few_events():
    pnl = np.array([1.0, -0.5, 2.0] * 10)
    contracts = np.array([10.0, 5.0, 20.0] * 10)
    ci = day_event_bootstrap(pnl, np.zeros(30), np.arange(30), denominator=contracts)
    assert ci.estimate == pytest.approx(25.0 / 350.0) and ci.low <= ci.estimate <= ci.high
    assert (ci.days, ci.events) == (1, 30)
    assert day_event_bootstrap(pnl[:9], np.zeros(9), np.arange(9)) is None
