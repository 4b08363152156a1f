"""Hand-computed fixtures: four trades with known fills, fees and outcomes (see
`flb_pipeline_tests.trade_fixtures`)."""

from decimal import Decimal

import pytest

from flb_pipeline.core import metrics
from flb_pipeline_tests.trade_fixtures import fixture_trades

D = Decimal


@pytest.fixture
def closed():
    return fixture_trades()


def test_summary_pnl_and_net_bps(closed):
    summary = metrics.trading_summary(closed)
    assert (summary.trades, summary.wins, summary.contracts) == (4, 3, 180)
    assert summary.cost == D("165.20") and summary.fees == D("0.95")
    assert summary.gross_pnl == D("4.80") and summary.net_pnl == D("3.85")
    assert summary.net_bps == pytest.approx(3.85 / 165.20 * 10_000)  # 233.05 bps
    assert summary.win_rate == 0.75


def test_entry_price_buckets(closed):
    buckets = {(b.low_cents, b.high_cents): b for b in metrics.entry_price_buckets(closed)}
    assert sorted(buckets) == [(85, 90), (90, 95), (95, 100)]
    favourites = buckets[(85, 90)]
    assert favourites.trades == 2 and favourites.win_rate == 1.0
    assert favourites.predicted_win_rate == pytest.approx(0.91)
    assert favourites.net_pnl == D("8.26")
    assert favourites.gross_bps == pytest.approx(8.80 / 61.20 * 10_000)
    assert favourites.net_bps == pytest.approx(8.26 / 61.20 * 10_000)
    assert buckets[(90, 95)].net_pnl == D("-9.07") and buckets[(90, 95)].win_rate == 0.0


def test_attribution_by_family_and_group(closed):
    by_family = metrics.attribution(closed, lambda t: t.family)
    assert [(a.key, a.trades, a.net_pnl) for a in by_family] == [
        ("financials", 2, D("8.26")),
        ("weather", 2, D("-4.41")),
    ]
    by_group = metrics.attribution(closed, lambda t: t.group_id)
    assert [(a.key, a.net_pnl) for a in by_group] == [
        ("weather_california", D("-9.07")),
        ("financials_kxinx", D("8.26")),
        ("weather_newyork", D("4.66")),
    ]


def test_slippage_against_the_decision_price(closed):
    stats = metrics.slippage_stats([t.slippage_bps for t in closed])
    assert stats.observations == 4 and stats.median_bps == 0.0
    assert stats.worst_bps == pytest.approx(0.01 / 0.85 * 10_000)  # 117.65 bps on D
    assert stats.mean_bps == pytest.approx(0.01 / 0.85 * 10_000 / 4)


def test_realised_vs_expected_edge(closed):
    edge = metrics.edge_realisation(closed)
    # expected: 97-95-0.34 + 9.3-9-0.07 + 46-44-0.37 + 18-17.2-0.17 = 1.66+0.23+1.63+0.63
    assert edge.expected_pnl == D("4.15") and edge.realised_pnl == D("3.85")
    assert edge.expected_bps == pytest.approx(4.15 / 165.20 * 10_000)


def test_cumulative_pnl_and_outcome_reliability(closed):
    assert [p for _, p in metrics.cumulative_pnl(closed)] == [
        D("4.66"), D("-4.41"), D("1.22"), D("3.85"),
    ]  # fmt: skip
    rows = metrics.outcome_reliability(closed)
    assert [(round(r.low, 2), r.trades, r.realised) for r in rows] == [
        (0.9, 3, 2 / 3),
        (0.95, 1, 1.0),
    ]


def test_empty_day_has_no_nan():
    summary = metrics.trading_summary([])
    assert summary.net_bps is None and summary.win_rate is None
    assert metrics.slippage_stats([]).median_bps is None
    assert metrics.edge_realisation([]).expected_bps is None
    assert metrics.entry_price_buckets([]) == [] and metrics.attribution([], str) == []
