"""Trading metrics (DESIGN §7): buckets, net bps, slippage, attribution, realised vs expected.

Inputs are closed trades from the ledger; money stays `Decimal` until a metric is a ratio.
Every ratio over an empty set is `None`, never NaN, so summaries serialise cleanly.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flb_pipeline.core.ledger import BASIS_POINTS, WIN, ClosedTrade
from flb_pipeline.core.records import Count, count_of

BUCKET_CENTS = 5
ZERO = Decimal(0)


def net_bps(pnl: Decimal, cost: Decimal) -> float | None:
    """P&L per dollar put at risk, in basis points (None when nothing was at risk)."""
    return float(pnl / cost * BASIS_POINTS) if cost else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class TradingSummary:
    trades: int
    wins: int
    win_rate: float | None
    contracts: Count
    cost: Decimal
    fees: Decimal
    gross_pnl: Decimal
    net_pnl: Decimal
    gross_bps: float | None
    net_bps: float | None


def trading_summary(trades: Sequence[ClosedTrade]) -> TradingSummary:
    cost = sum((t.cost for t in trades), ZERO)
    gross = sum((t.gross_pnl for t in trades), ZERO)
    net = sum((t.net_pnl for t in trades), ZERO)
    wins = sum(1 for t in trades if t.result == WIN)
    return TradingSummary(
        trades=len(trades),
        wins=wins,
        win_rate=_rate(wins, len(trades)),
        contracts=count_of(sum(t.contracts for t in trades)),
        cost=cost,
        fees=sum((t.fees for t in trades), ZERO),
        gross_pnl=gross,
        net_pnl=net,
        gross_bps=net_bps(gross, cost),
        net_bps=net_bps(net, cost),
    )


@dataclass(frozen=True)
class BucketPerformance:
    """Trades whose entry price fell in [low, high) cents."""

    low_cents: int
    high_cents: int
    trades: int
    win_rate: float | None
    predicted_win_rate: float | None
    gross_bps: float | None
    net_bps: float | None
    net_pnl: Decimal


def entry_price_buckets(trades: Sequence[ClosedTrade]) -> list[BucketPerformance]:
    """Performance per 5¢ entry-price bucket, for the buckets that saw trades."""
    by_bucket: dict[int, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        cents = int(trade.entry_price * 100)
        by_bucket[min(cents // BUCKET_CENTS, 100 // BUCKET_CENTS - 1)].append(trade)
    return [_bucket(index, by_bucket[index]) for index in sorted(by_bucket)]


def _bucket(index: int, trades: list[ClosedTrade]) -> BucketPerformance:
    summary = trading_summary(trades)
    predicted = [t.win_probability for t in trades if t.win_probability is not None]
    return BucketPerformance(
        low_cents=index * BUCKET_CENTS,
        high_cents=(index + 1) * BUCKET_CENTS,
        trades=summary.trades,
        win_rate=summary.win_rate,
        predicted_win_rate=_mean(predicted),
        gross_bps=summary.gross_bps,
        net_bps=summary.net_bps,
        net_pnl=summary.net_pnl,
    )


@dataclass(frozen=True)
class Attribution:
    key: str
    trades: int
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    net_bps: float | None


def attribution(
    trades: Sequence[ClosedTrade], key: Callable[[ClosedTrade], str]
) -> list[Attribution]:
    """P&L per family or group, largest contribution (by size) first."""
    grouped: dict[str, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        grouped[key(trade) or "unknown"].append(trade)
    rows = [_attributed(name, members) for name, members in grouped.items()]
    return sorted(rows, key=lambda row: (-abs(row.net_pnl), row.key))


def _attributed(name: str, trades: list[ClosedTrade]) -> Attribution:
    summary = trading_summary(trades)
    return Attribution(
        key=name,
        trades=summary.trades,
        gross_pnl=summary.gross_pnl,
        fees=summary.fees,
        net_pnl=summary.net_pnl,
        net_bps=summary.net_bps,
    )


@dataclass(frozen=True)
class SlippageStats:
    observations: int
    mean_bps: float | None
    median_bps: float | None
    p95_bps: float | None
    worst_bps: float | None


def slippage_stats(slippages_bps: Sequence[float]) -> SlippageStats:
    """Slippage against the decision price; positive is worse than decided."""
    values = sorted(slippages_bps)
    if not values:
        return SlippageStats(0, None, None, None, None)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return SlippageStats(
        len(values), statistics.fmean(values), statistics.median(values), p95, values[-1]
    )


@dataclass(frozen=True)
class EdgeRealisation:
    """What the model expected these trades to earn after fees, and what they earned."""

    trades: int
    expected_pnl: Decimal
    realised_pnl: Decimal
    expected_bps: float | None
    realised_bps: float | None


def edge_realisation(trades: Sequence[ClosedTrade]) -> EdgeRealisation:
    priced = [t for t in trades if t.win_probability is not None]
    cost = sum((t.cost for t in priced), ZERO)
    expected = sum((_expected_pnl(t) for t in priced), ZERO)
    realised = sum((t.net_pnl for t in priced), ZERO)
    return EdgeRealisation(
        len(priced), expected, realised, net_bps(expected, cost), net_bps(realised, cost)
    )


def _expected_pnl(trade: ClosedTrade) -> Decimal:
    """q x $1 per contract, less what was paid and the fees."""
    payout = Decimal(str(trade.win_probability)) * trade.contracts
    return (payout - trade.cost - trade.fees).quantize(Decimal("0.0001"))


def cumulative_pnl(trades: Sequence[ClosedTrade]) -> list[tuple[datetime, Decimal]]:
    """Running net P&L in closing order, for the cumulative P&L plot."""
    running = ZERO
    points = []
    for trade in sorted(trades, key=lambda t: (t.closed_at, t.trade_id)):
        running += trade.net_pnl
        points.append((trade.closed_at, running))
    return points


@dataclass(frozen=True)
class OutcomeReliability:
    """Realised win rate of trades grouped by the win probability predicted at entry."""

    low: float
    high: float
    trades: int
    predicted: float
    realised: float


def outcome_reliability(
    trades: Sequence[ClosedTrade], width: float = 0.05
) -> list[OutcomeReliability]:
    grouped: dict[int, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        if trade.win_probability is not None:
            grouped[min(int(trade.win_probability / width), int(1 / width) - 1)].append(trade)
    return [
        OutcomeReliability(
            low=index * width,
            high=(index + 1) * width,
            trades=len(members),
            predicted=statistics.fmean(t.win_probability or 0.0 for t in members),
            realised=sum(1 for t in members if t.result == WIN) / len(members),
        )
        for index, members in sorted(grouped.items())
    ]
