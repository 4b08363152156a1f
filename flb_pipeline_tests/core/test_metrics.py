"""Hand-computed fixtures: four trades with known fills, fees and outcomes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from flb_pipeline.core import metrics
from flb_pipeline.core.ledger import OrderContext, build_ledger
from flb_pipeline.core.records import Fill, Settlement

D = Decimal
T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)

#   ticker side count price fee    decision q     family       group                result
TRADES = [
    ("A", "yes", 100, "0.95", "0.34", "0.95", 0.97, "weather", "weather_newyork", "yes"),
    ("B", "no", 10, "0.90", "0.07", "0.90", 0.93, "weather", "weather_california", "yes"),
    ("C", "yes", 50, "0.88", "0.37", "0.88", 0.92, "financials", "financials_kxinx", "yes"),
    ("D", "yes", 20, "0.86", "0.17", "0.85", 0.90, "financials", "financials_kxinx", "yes"),
]


@pytest.fixture
def closed():
    fills, contexts, settlements = [], {}, []
    for n, (ticker, side, count, price, fee, decision, q, family, group, result) in enumerate(
        TRADES
    ):
        fills.append(
            Fill(f"f{n}", f"o{n}", f"c{n}", ticker, side, "buy", count, D(price), D(fee), True,
                 T0 + timedelta(minutes=n))
        )  # fmt: skip
        contexts[f"c{n}"] = OrderContext(f"c{n}", "s", "m", "t", D(decision), q, family, group)
        settlements.append(
            Settlement(
                ticker, "E", result, 0, 0, D(0), D(0), D(0), T0 + timedelta(hours=1, minutes=n)
            )
        )
    return build_ledger(fills, contexts, settlements).closed_trades


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
