"""The event backtester on seeded worlds with known truth: money, no look-ahead, fills,
kill switches, bad input, determinism, and the pre-screen's promise."""

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from flb_pipeline.core.backtest import ReplaySettings, replay
from flb_pipeline.core.calendar import next_trading_day
from flb_pipeline.core.overfitting import day_event_bootstrap
from flb_pipeline.core.prescreen import Screenable, screenable
from flb_pipeline.core.realisation import realisation_by_bucket
from flb_pipeline.core.replay_history import NO, YES, moment
from flb_pipeline.core.replay_models import ModelSchedule, refit_times, walk_forward_models
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.defs.assets.model import reference_prior
from flb_pipeline_tests.core.backtest_world import (
    TEST_MODEL,
    ReplayWorld,
    broken_history,
    world_history,
)

HOUR = 3_600.0
LAG = 600.0
SETTINGS = ReplaySettings(settlement_lag_s=LAG)
THRESHOLDS = StrategyThresholds()


def models_for(world, start, end, every=6 * HOUR) -> ModelSchedule:
    return walk_forward_models(
        world.history.training, refit_times(start, end, every), TEST_MODEL, reference_prior(),
        LAG,
    )  # fmt: skip


@pytest.fixture(scope="module")
def biased():
    """A day and a half of a world with slope 1.3, replayed over its last day."""
    world = world_history(3, ReplayWorld(slope=1.3, days=1.5, markets_per_day=1200))
    window = (world.end_ts - 86_400.0, world.end_ts)
    schedule = models_for(world, *window)
    return world, window, schedule, screenable(world.history, schedule, *window)


def test_replayed_money_adds_up_and_trades_have_the_closed_trades_columns(biased):
    world, window, schedule, screen = biased
    result = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, window, "thr-test")

    assert len(result.trades) == len(result.orders) > 20
    net = sum((t.net_pnl for t in result.trades), Decimal(0))
    assert result.final_capital == result.starting_capital + net
    assert result.equity[-1][1] == result.final_capital
    for trade in result.trades:
        assert trade.result in ("win", "loss") and trade.close_kind == "settlement"
        assert trade.net_pnl == trade.gross_pnl - trade.fees and trade.fees > 0
        assert trade.entry_price >= THRESHOLDS.min_favourite_price
        assert trade.model_id.startswith("wf-") and trade.scan_id.startswith("bt-")
        assert not np.isnan(trade.win_probability)
        assert window[0] <= trade.opened_at.timestamp() < window[1]
        market = world.history.markets.ticker.tolist().index(trade.ticker)
        settles = world.history.markets.close_ts[market] + LAG
        assert trade.closed_at == moment(settles)
        won = world.history.markets.result[market] == (YES if trade.side == "yes" else NO)
        assert trade.result == ("win" if won else "loss")


def truth_expectations(world, trades) -> list[float]:
    """q × contracts − cost − fees of each trade, q the world's true probability of its side
    when it was bought."""
    truth = [world.truth_at(t.ticker, t.opened_at.timestamp()) for t in trades]
    return [
        (q if t.side == "yes" else 1 - q) * float(t.contracts) - float(t.cost + t.fees)
        for q, t in zip(truth, trades, strict=True)
    ]


def test_realised_net_per_contract_agrees_with_the_truth_per_price_bucket():
    """Four seeded worlds with slope 1.3, replayed and pooled (their events are independent):
    each 5¢ bucket's realised net P&L per contract has a 95% day/event bootstrap CI (where it
    saw five losing events or more), and the expectation from the true probabilities at
    entry, after the fee paid and the spread crossed, lies inside it; so does the expectation
    of all trades together. A look-ahead or a fee error would push it outside."""
    trades, expected = [], []
    for seed in range(2, 6):
        world = world_history(seed, ReplayWorld(slope=1.3, days=1.5, markets_per_day=2000))
        window = (world.end_ts - 86_400.0, world.end_ts)
        schedule = models_for(world, *window)
        screen = screenable(world.history, schedule, *window)
        result = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, window)
        trades += result.trades
        expected += truth_expectations(world, result.trades)
    events = [t.ticker for t in trades]
    days = [t.closed_at.date().isoformat() for t in trades]
    by_bucket = realisation_by_bucket(trades, expected, ["all"] * len(trades), events, days)
    checked = [cell for cell in by_bucket if cell.ci is not None]
    assert len(checked) >= 2
    for cell in checked:
        assert cell.ci.low <= cell.expected <= cell.ci.high, cell
        assert cell.expected > 0  # slope 1.3 leaves edge after fees and spreads
    contracts = np.array([float(t.contracts) for t in trades])
    pooled = day_event_bootstrap(
        np.array([float(t.net_pnl) for t in trades]), np.array(days, object),
        np.array(events, object), denominator=contracts,
    )  # fmt: skip
    assert pooled.low <= sum(expected) / contracts.sum() <= pooled.high


def test_the_prescreen_lets_through_every_row_the_live_path_would_trade(biased):
    """Every row through `decide_cycle` (nothing screened out beforehand) gives the same
    orders as the vectorised pre-screen: its conditions are necessary, never sufficient."""
    world, full, schedule, screen = biased
    orders = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, full).orders
    start = orders[0].decided_at.timestamp()
    window = (start, start + 3 * HOUR)
    quotes = world.history.quotes
    rows = np.flatnonzero((quotes.ts >= window[0]) & (quotes.ts < window[1]))
    everything = Screenable(
        rows=rows,
        seconds_to_close=np.full(len(rows), THRESHOLDS.min_seconds_to_close),
        yes_ask=np.full(len(rows), 9_999, dtype=np.int16),
        no_ask=np.full(len(rows), 9_999, dtype=np.int16),
        yes_edge=np.full(len(rows), np.inf, dtype=np.float32),
        no_edge=np.full(len(rows), np.inf, dtype=np.float32),
    )
    assert (
        len(everything.survivors(THRESHOLDS)) == len(rows) > 10 * len(screen.survivors(THRESHOLDS))
    )
    screened = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, window)
    unscreened = replay(world.history, schedule, everything, THRESHOLDS, SETTINGS, window)

    assert screened.orders == unscreened.orders and len(screened.orders) > 3
    assert screened.trades == unscreened.trades
    cut = orders[len(orders) // 2].decided_at  # a window ending mid-day, screened for the day
    shorter = replay(
        world.history, schedule, screen, THRESHOLDS, SETTINGS, (full[0], cut.timestamp())
    )
    assert shorter.orders == [o for o in orders if o.decided_at < cut]
    own = screenable(world.history, schedule, *window)  # screens of this window alone
    assert replay(world.history, schedule, own, THRESHOLDS, SETTINGS, window).orders == (
        screened.orders
    )
    assert len(own.rows) < len(screen.rows)


def test_walk_forward_models_only_know_markets_settled_before_them(biased):
    world, _, schedule, _ = biased
    training = world.history.training
    settled = np.asarray(training.close_ts) + LAG
    for version in schedule.versions:
        assert version.model is not None
        known = settled <= version.valid_from
        assert 0 < version.model.fit.n_train <= known.sum()
        assert version.model.model_id.endswith(f"{moment(version.valid_from):%Y%m%dT%H%M%S}")
    times = np.array([v.valid_from for v in schedule.versions])
    probe = times[1] + 1.0
    assert schedule.segment_of(np.array([times[0] - 1.0, probe]))[1] == 1


def test_a_history_too_short_for_a_model_trades_nothing_and_says_why():
    world = world_history(4, ReplayWorld(days=0.25, markets_per_day=400))
    start = world.world.start_ts
    window = (start, start + 2 * HOUR)
    schedule = models_for(world, *window)
    result = replay(
        world.history, schedule, screenable(world.history, schedule, *window), THRESHOLDS,
        SETTINGS, window,
    )  # fmt: skip
    assert schedule.versions[0].model is None and "settled price points" in (
        schedule.versions[0].reason
    )
    assert result.orders == [] and result.trades == []
    assert result.skipped["cycles_without_model"] == result.cycles > 0
    assert result.final_capital == result.starting_capital


def test_an_empty_window_replays_nothing(biased):
    world, _, schedule, _ = biased
    window = (world.end_ts + 86_400.0, world.end_ts + 2 * 86_400.0)
    screen = screenable(world.history, schedule, *window)
    result = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, window)
    assert (result.cycles, result.orders, result.trades) == (0, [], [])
    assert result.final_capital == result.starting_capital
    assert result.equity == [(window[1], result.starting_capital)]


def test_a_losing_day_trips_the_daily_loss_switch_until_the_next_trading_day(biased):
    """Every result turned against the favourite: the daily loss switch trips, nothing is
    sent until New York midnight, and the pause is in the replay's risk events."""
    world, window, schedule, screen = biased
    markets = world.history.markets
    favourite_lost = replace(markets, result=np.where(markets.result == YES, NO, YES))
    history = replace(world.history, markets=favourite_lost)
    result = replay(history, schedule, screen, THRESHOLDS, SETTINGS, window)

    trips = [e for e in result.risk_events if e.check == "daily_loss" and e.kind == "trip"]
    assert trips and result.blocked_cycles["daily_loss"] > 0
    first = trips[0]
    assert first.paused_until == next_trading_day(first.event_ts)
    paused = [o for o in result.orders if first.event_ts <= o.decided_at < first.paused_until]
    assert paused == []


def test_bad_rows_are_skipped_and_counted():
    assert world_history(6, ReplayWorld(days=0.5, markets_per_day=200)).history.skipped == {}
    broken = broken_history(6)
    skipped = broken.history.skipped
    assert skipped["markets_without_result"] == 3
    assert skipped["quotes_of_markets_without_result"] > 0
    assert skipped["crossed_or_invalid_quotes"] == 5
    assert skipped["candle_gaps"] == 7
    assert "KXHIGHTEST-M00000" not in broken.history.markets.ticker.tolist()


def test_the_same_seed_replays_to_the_same_bytes(biased):
    world, window, schedule, screen = biased
    first = replay(world.history, schedule, screen, THRESHOLDS, SETTINGS, window)
    again = world_history(3, ReplayWorld(slope=1.3, days=1.5, markets_per_day=1200))
    schedule_again = models_for(again, *window)
    second = replay(
        again.history, schedule_again, screenable(again.history, schedule_again, *window),
        THRESHOLDS, SETTINGS, window,
    )  # fmt: skip
    assert repr(first) == repr(second)


def test_maker_orders_rest_one_tick_inside_and_fill_only_from_recorded_prints(biased):
    world, window, schedule, screen = biased
    maker = replace(SETTINGS, order_style="maker")
    result = replay(world.history, schedule, screen, THRESHOLDS, maker, window)
    assert result.orders and all(o.time_in_force == "good_till_canceled" for o in result.orders)
    assert all(o.limit_price == o.decision_price - Decimal("0.01") for o in result.orders)
    filled = {t.order_id.removeprefix("paper:") for t in result.trades}
    assert 0 < len(filled) < len(result.orders)  # some never saw a seller through the queue
    by_order = {o.client_order_id: o for o in result.orders}
    for trade in result.trades:
        order = by_order[trade.order_id.removeprefix("paper:")]
        assert trade.entry_price == order.limit_price and trade.fees == 0  # quadratic series
        assert trade.opened_at > order.decided_at  # filled by a later print, never at once
    net = sum((t.net_pnl for t in result.trades), Decimal(0))
    assert result.final_capital == result.starting_capital + net
