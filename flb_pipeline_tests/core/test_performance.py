"""Sharpe, Sortino and drawdown on hand-computed series."""

import math

import numpy as np
import pytest

from flb_pipeline.core.performance import max_drawdown, sharpe_ratio, sortino_ratio


def test_sharpe_is_mean_over_sample_deviation_annualised_over_365_days():
    returns = np.array([0.01, -0.005, 0.02, 0.0])
    mean, deviation = 0.00625, np.std(returns, ddof=1)
    assert sharpe_ratio(returns) == pytest.approx(mean / deviation * math.sqrt(365))
    assert sharpe_ratio(returns, periods_per_year=252) == pytest.approx(
        mean / deviation * math.sqrt(252)
    )


def test_sortino_counts_only_losses_as_risk():
    returns = np.array([0.02, -0.01, 0.03, -0.02])
    downside = math.sqrt((0.01**2 + 0.02**2) / 4)
    assert sortino_ratio(returns) == pytest.approx(0.005 / downside * math.sqrt(365))


@pytest.mark.parametrize("returns", [[], [0.01], [0.01, 0.01, 0.01]])
def test_undefined_ratios_are_none_not_nan(returns):
    assert sharpe_ratio(np.array(returns)) is None
    assert sortino_ratio(np.array(returns)) is None


def test_max_drawdown_from_the_running_peak():
    drawdown = max_drawdown(np.array([100.0, 120.0, 90.0, 130.0, 110.0]))
    assert drawdown.amount == 30.0 and drawdown.fraction == pytest.approx(0.25)
    assert max_drawdown(np.array([1.0, 2.0, 3.0])).amount == 0.0
    assert max_drawdown(np.array([])).fraction == 0.0
