from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flb_pipeline.core.calibration import CalibrationPrior, WinProbabilityModel, cold_start_fit
from flb_pipeline.core.fees import FeeBook, FeeChange, FeeSchedule
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.records import MarketQuote, SeriesInfo
from flb_pipeline.core.sizing import ExposureBook, ExposureCaps, Holding
from flb_pipeline.core.strategy import (
    MarketContext,
    StrategyThresholds,
    edge_after_fee,
    exclusion_counts,
    market_contexts,
    screen_market,
    size_candidates,
)
from flb_pipeline.core.ticks import TAPERED_DECI_CENT, PriceLevels

D = Decimal
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
CAPITAL = D(10_000)


def quote(ticker="T", yes_bid="0.88", yes_ask="0.90", **overrides) -> MarketQuote:
    bid, ask = D(yes_bid) if yes_bid else None, D(yes_ask) if yes_ask else None
    fields = dict(
        ticker=ticker,
        event_ticker=f"E-{ticker}",
        series_ticker="S",
        title="",
        category="Climate and Weather",
        status="active",
        yes_bid=bid,
        yes_ask=ask,
        no_bid=(1 - ask) if ask else None,
        no_ask=(1 - bid) if bid else None,
        last_price=None,
        volume=0,
        open_interest=0,
        open_time=NOW - timedelta(hours=1),
        close_time=NOW + timedelta(minutes=10),
        quote_ts=NOW,
    )
    fields.update(overrides)
    return MarketQuote(**fields)


def context(q_yes: float | None = 0.95, **quote_overrides) -> MarketContext:
    return MarketContext(
        quote=quote(**quote_overrides),
        family="weather",
        group_id="weather_newyork",
        schedule=FeeSchedule(),
        yes_win_probability=q_yes,
        tradeable=True,
    )


THRESHOLDS = StrategyThresholds()


def test_favourite_with_edge_becomes_an_opportunity_on_its_side_only():
    opportunities, exclusions = screen_market(context(0.95), THRESHOLDS, CAPITAL, NOW)
    assert [(o.side, o.price) for o in opportunities] == [("yes", D("0.90"))]
    assert [(e.side, e.reason) for e in exclusions] == [("no", "below_min_favourite_price")]


def test_no_side_favourite_uses_one_minus_q():
    opportunities, _ = screen_market(
        context(0.03, yes_bid="0.08", yes_ask="0.10"), THRESHOLDS, CAPITAL, NOW
    )
    (no_side,) = opportunities
    assert no_side.side == "no" and no_side.price == D("0.92")
    assert abs(no_side.win_probability - 0.97) < 1e-12


def test_edge_counts_the_exact_fee_for_the_count():
    assert edge_after_fee(0.95, D("0.90"), D("0.63"), 100) == 0.95 - 0.90 - 0.0063
    opportunities, _ = screen_market(context(0.92), THRESHOLDS, CAPITAL, NOW)
    (yes_side,) = opportunities
    assert 0.01 <= yes_side.screening_edge < 0.02 - 0.006


def test_small_edge_is_screened_out():
    _, exclusions = screen_market(context(0.912), THRESHOLDS, CAPITAL, NOW)
    assert ("yes", "below_min_edge") in [(e.side, e.reason) for e in exclusions]


def test_degenerate_and_missing_books_are_excluded_with_a_reason():
    cases = {
        "no_book": context(yes_bid=None),
        "unknown_family": context(None),
        "unsupported_fee_type": replace(context(), schedule=None),
        "model_not_tradeable_here": replace(context(), tradeable=False),
        "not_active": context(status="closed"),
        "too_close_to_close": context(close_time=NOW + timedelta(seconds=30)),
        "too_far_from_close": context(close_time=NOW + timedelta(days=30)),
    }
    for reason, ctx in cases.items():
        opportunities, exclusions = screen_market(ctx, THRESHOLDS, CAPITAL, NOW)
        assert opportunities == [] and [e.reason for e in exclusions] == [reason]
    at_par = replace(context(0.99), quote=replace(quote(), yes_ask=D("1.00")))
    _, exclusions = screen_market(at_par, THRESHOLDS, CAPITAL, NOW)
    assert ("yes", "degenerate_price") in {(e.side, e.reason) for e in exclusions}
    one_sided = replace(context(0.99), quote=replace(quote(), yes_ask=None))
    _, exclusions = screen_market(one_sided, THRESHOLDS, CAPITAL, NOW)
    assert [e.reason for e in exclusions] == ["no_book"]
    no_offer = replace(context(0.99), quote=replace(quote(), no_ask=None))
    _, exclusions = screen_market(no_offer, THRESHOLDS, CAPITAL, NOW)
    assert ("no", "no_ask") in {(e.side, e.reason) for e in exclusions}


def test_best_edge_is_sized_first_and_uses_up_the_group_cap():
    contexts = [context(0.97, ticker=f"T{i}") for i in range(3)] + [context(0.99, ticker="BEST")]
    opportunities = [o for c in contexts for o in screen_market(c, THRESHOLDS, CAPITAL, NOW)[0]]
    candidates, exclusions, book = size_candidates(
        opportunities, ExposureBook(), CAPITAL, ExposureCaps(), THRESHOLDS
    )
    assert candidates[0].ticker == "BEST"
    assert [c.binding_cap for c in candidates] == ["position_cap"] * 2 + ["group_cap"]
    mark_losses = sum(c.cost - c.contracts * D("0.88") for c in candidates)
    assert D(1400) < book.group_exposure("weather_newyork") <= D("0.15") * (CAPITAL - mark_losses)
    assert exclusion_counts(exclusions) == {"zero_size_group_cap": 1}
    for candidate in candidates:
        assert candidate.cost == candidate.contracts * candidate.price + candidate.fee
        assert candidate.edge >= THRESHOLDS.min_edge


def test_existing_positions_count_against_caps():
    """The position cap is 5% of capital: $490 already held leaves room for about $10."""
    held = ExposureBook((Holding("T", "E-T", "weather_newyork", "yes", 540, D(490)),))
    opportunities, _ = screen_market(context(0.99), THRESHOLDS, CAPITAL, NOW)
    (candidate,), exclusions, book = size_candidates(
        opportunities, held, CAPITAL, ExposureCaps(), THRESHOLDS
    )
    assert (candidate.contracts, candidate.cost, candidate.binding_cap) == (
        11,
        D("9.97"),
        "position_cap",
    )
    assert exclusions == [] and book.position_exposure("T") <= D(500)


def test_a_full_position_cap_excludes_the_market():
    held = ExposureBook((Holding("T", "E-T", "weather_newyork", "yes", 540, D(500)),))
    opportunities, _ = screen_market(context(0.99), THRESHOLDS, CAPITAL, NOW)
    candidates, exclusions, _ = size_candidates(
        opportunities, held, CAPITAL, ExposureCaps(), THRESHOLDS
    )
    assert candidates == []
    assert [(e.ticker, e.reason) for e in exclusions] == [("T", "zero_size_position_cap")]


def test_depth_limits_the_size_and_is_named():
    opportunities, _ = screen_market(context(0.97), THRESHOLDS, CAPITAL, NOW)
    candidates, _, _ = size_candidates(
        opportunities, ExposureBook(), CAPITAL, ExposureCaps(), THRESHOLDS, {("T", "yes"): 40}
    )
    assert (candidates[0].contracts, candidates[0].binding_cap) == (40, "depth")


def test_the_kelly_stake_is_a_target_holding_so_repeated_cycles_buy_once():
    """q 0.92 at a 0.90 ask on $10k (an edge of 1.4 cents after the fee): the first cycle
    buys the quarter-Kelly target, about 3.7% of capital; the same market screened in the
    next two cycles buys nothing more (it used to buy the target again each time, until the
    5% position cap stopped it)."""
    market = context(0.92)
    book, bought = ExposureBook(), []
    for _ in range(3):
        opportunities, _ = screen_market(market, THRESHOLDS, CAPITAL, NOW)
        candidates, exclusions, _ = size_candidates(
            opportunities, book, CAPITAL, ExposureCaps(), THRESHOLDS
        )
        for c in candidates:
            book = book.with_holding(Holding(c.ticker, c.event_ticker, c.group_id, c.side,
                                             c.contracts, c.cost))  # fmt: skip
        bought.append((candidates, exclusion_counts(exclusions)))
    (first,), _ = bought[0]
    assert first.binding_cap == "kelly" and first.contracts == first.kelly_contracts
    assert first.cost < D("0.05") * CAPITAL  # the position cap is not what binds
    assert bought[1] == bought[2] == ([], {"zero_size_target_held": 1})
    assert book.held_contracts("T", "yes") == first.kelly_contracts


def test_an_order_tops_a_partial_holding_up_to_its_target():
    opportunities, _ = screen_market(context(0.92), THRESHOLDS, CAPITAL, NOW)
    (full,), _, _ = size_candidates(opportunities, ExposureBook(), CAPITAL, ExposureCaps(),
                                    THRESHOLDS)  # fmt: skip
    half = full.contracts // 2
    held = ExposureBook((Holding("T", "E-T", "weather_newyork", "yes", half, D(half)),))
    (top_up,), _, _ = size_candidates(opportunities, held, CAPITAL, ExposureCaps(), THRESHOLDS)
    assert top_up.contracts == full.kelly_contracts - half
    assert top_up.binding_cap == "target_held"


def test_a_market_on_a_price_grid_we_do_not_support_is_not_traded_and_says_why():
    unknown_grid = context(0.99, price_levels=None)
    opportunities, exclusions = screen_market(unknown_grid, THRESHOLDS, CAPITAL, NOW)
    assert opportunities == []
    assert [e.reason for e in exclusions] == ["unsupported_price_levels"]


def test_a_candidate_carries_its_market_grid_for_the_order_price():
    tapered = PriceLevels.of(TAPERED_DECI_CENT)
    market = context(0.99, yes_bid="0.925", yes_ask="0.935", price_levels=tapered)
    opportunities, _ = screen_market(market, THRESHOLDS, CAPITAL, NOW)
    (candidate, *_), _, _ = size_candidates(
        opportunities, ExposureBook(), CAPITAL, ExposureCaps(), THRESHOLDS
    )
    assert candidate.price == D("0.935") and candidate.price_levels == tapered


def test_sizing_stays_in_whole_contracts_unless_the_market_trades_fractions():
    whole_market, fractional_market = context(0.95), context(0.95, fractional=True)
    (whole, *_), _, _ = size_candidates(
        screen_market(whole_market, THRESHOLDS, CAPITAL, NOW)[0], ExposureBook(), CAPITAL,
        ExposureCaps(), THRESHOLDS,
    )  # fmt: skip
    (fraction, *_), _, _ = size_candidates(
        screen_market(fractional_market, THRESHOLDS, CAPITAL, NOW)[0], ExposureBook(), CAPITAL,
        ExposureCaps(), THRESHOLDS,
    )  # fmt: skip
    assert isinstance(whole.contracts, int)
    assert fraction.contracts == fraction.contracts.quantize(D("0.01"))
    assert whole.contracts <= fraction.contracts < whole.contracts + 1
    assert fraction.cost == fraction.contracts * fraction.price + fraction.fee


def test_a_market_pays_the_fee_in_force_now_waivers_and_scheduled_changes_included():
    model = WinProbabilityModel(
        "m", cold_start_fit(CalibrationPrior(0.02, 1.09, 0.25, 0.15, 0.25)), None, (300.0,)
    )
    quotes = [
        quote("A", series_ticker="S", fee_waiver_expires=NOW + timedelta(hours=1)),
        quote("B", series_ticker="S"),
        quote("C", series_ticker="S2"),
    ]
    changes = [FeeChange("S2", "quadratic_with_maker_fees", D(2), NOW - timedelta(minutes=1))]
    fees = FeeBook({"S": FeeSchedule(), "S2": FeeSchedule()}, changes)
    series = {"S": SeriesInfo("S", "", "", "quadratic", D(1))}
    contexts = market_contexts(quotes, ScanGroups({}, {}), series, fees, model, NOW)
    assert [c.schedule for c in contexts] == [
        FeeSchedule(waived=True),
        FeeSchedule(),
        FeeSchedule("quadratic_with_maker_fees", D(2)),
    ]
