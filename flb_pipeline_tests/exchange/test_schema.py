from datetime import UTC, datetime
from decimal import Decimal

import pytest

from flb_pipeline.exchange import schema
from flb_pipeline.exchange.errors import SchemaError

D = Decimal


def market_json(**overrides):
    market = {
        "ticker": "KXHIGHNY-26NOV29-B45.5",
        "event_ticker": "KXHIGHNY-26NOV29",
        "title": "High in NYC",
        "category": "Climate and Weather",
        "status": "active",
        "yes_bid": 88,
        "yes_ask": 90,
        "no_bid": 10,
        "no_ask": 12,
        "last_price": 89,
        "volume": 1200,
        "open_interest": 300,
        "open_time": "2026-11-29T10:00:00Z",
        "close_time": "2026-11-29T22:00:00Z",
    }
    market.update(overrides)
    return market


def test_cent_form_is_parsed_as_dollars():
    quote = schema.market_quote(market_json())
    assert (quote.yes_bid, quote.yes_ask, quote.no_bid, quote.no_ask) == (
        D("0.88"),
        D("0.90"),
        D("0.10"),
        D("0.12"),
    )
    assert quote.series_ticker == "KXHIGHNY"
    assert quote.close_time == datetime(2026, 11, 29, 22, tzinfo=UTC)
    assert quote.quote_ts is None


def test_dollar_strings_win_over_cents_and_keep_subpenny_precision():
    quote = schema.market_quote(
        market_json(
            yes_bid_dollars="0.8850", yes_ask_dollars="0.8950", updated_time="2026-11-29T12:00:01Z"
        )
    )
    assert quote.yes_bid == D("0.8850") and quote.yes_ask == D("0.8950")
    assert quote.quote_ts == datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC)


def test_empty_book_sides_are_none():
    quote = schema.market_quote(market_json(yes_bid=0, no_ask=100, yes_ask=100, no_bid=0))
    assert quote.yes_bid is None and quote.yes_ask is None
    assert quote.no_bid is None and quote.no_ask is None


def test_dollar_only_market_parses_without_cent_fields():
    market = market_json(yes_bid_dollars="0.5000", yes_ask_dollars="0.5200")
    del market["yes_bid"], market["yes_ask"]
    quote = schema.market_quote(market)
    assert quote.yes_bid == D("0.5") and quote.yes_ask == D("0.52")


@pytest.mark.parametrize("field", ["ticker", "event_ticker", "close_time", "status", "yes_bid"])
def test_missing_required_field_names_the_field(field):
    market = market_json()
    del market[field]
    with pytest.raises(SchemaError, match=field):
        schema.market_quote(market)


def test_unknown_fields_are_ignored():
    assert schema.market_quote(market_json(brand_new_field={"x": 1})).ticker.startswith("KX")


def test_each_returns_bad_records_instead_of_raising():
    bad = market_json()
    del bad["ticker"]
    parsed, invalid = schema.each(
        [market_json(), bad, market_json(ticker="B")], schema.market_quote, "markets"
    )
    assert [q.ticker for q in parsed] == ["KXHIGHNY-26NOV29-B45.5", "B"]
    assert len(invalid) == 1 and "ticker" in str(invalid[0])


def test_order_book_prefers_fixed_point_form():
    body = {
        "orderbook": {"yes": [[1, 5], [88, 10]], "no": [[9, 20]]},
        "orderbook_fp": {
            "yes_dollars": [["0.8700", "3.00"], ["0.8850", "12.00"]],
            "no_dollars": [["0.1000", "7.00"]],
        },
    }
    book = schema.order_book("T", body)
    assert [(lvl.price, lvl.contracts) for lvl in book.yes_bids] == [
        (D("0.885"), 12),
        (D("0.87"), 3),
    ]
    assert [(lvl.price, lvl.contracts) for lvl in book.asks("yes")] == [(D("0.9"), 7)]


def test_order_book_cent_form_best_bid_first_and_asks_mirror():
    book = schema.order_book(
        "T", {"orderbook": {"yes": [[86, 5], [88, 10]], "no": [[9, 20], [10, 4]]}}
    )
    assert book.yes_bids[0].price == D("0.88")
    assert [(lvl.price, lvl.contracts) for lvl in book.asks("yes")] == [
        (D("0.90"), 4),
        (D("0.91"), 20),
    ]
    assert [(lvl.price, lvl.contracts) for lvl in book.asks("no")] == [
        (D("0.12"), 10),
        (D("0.14"), 5),
    ]


def test_order_book_null_sides_mean_empty():
    book = schema.order_book("T", {"orderbook": {"yes": None, "no": None}})
    assert book.yes_bids == () and book.asks("no") == ()


def test_fill_uses_fixed_price_and_fee_cost_and_count_fp():
    fill = schema.fill(
        {
            "fill_id": "f1",
            "order_id": "o1",
            "client_order_id": "c1",
            "ticker": "T",
            "side": "no",
            "action": "buy",
            "count": 3,
            "count_fp": "3.00",
            "yes_price": 12,
            "no_price": 88,
            "no_price_fixed": "0.8800",
            "fee_cost": "0.0100",
            "is_taker": True,
            "created_time": "2026-11-29T12:00:00Z",
        }
    )
    assert (fill.price, fill.fee, fill.contracts, fill.side) == (D("0.88"), D("0.01"), 3, "no")


def test_fractional_count_is_refused():
    with pytest.raises(SchemaError, match="fractional"):
        schema.count({"count_fp": "2.50"}, "count")


def test_balance_and_settlement_in_cents():
    assert schema.balance({"balance": 1000050, "portfolio_value": 1000100}).balance == D("10000.50")
    settlement = schema.settlement(
        {
            "ticker": "T",
            "event_ticker": "E",
            "market_result": "yes",
            "yes_count": 10,
            "yes_total_cost": 900,
            "no_count": 0,
            "no_total_cost": 0,
            "revenue": 1000,
            "settled_time": "2026-11-29T12:00:00Z",
        }
    )
    assert settlement.revenue == D("10") and settlement.yes_total_cost == D("9")


def test_prices_finer_than_four_decimals_are_refused_not_rounded():
    with pytest.raises(SchemaError, match="more than four decimals"):
        schema.market_quote(market_json(yes_bid_dollars="0.88505"))
    assert schema.market_quote(market_json(yes_bid_dollars="0.8850")).yes_bid == D("0.885")


@pytest.mark.parametrize("price", ["abc", "NaN", "Infinity", "-Infinity", ""])
def test_prices_that_are_not_finite_numbers_are_refused_with_the_field_named(price):
    with pytest.raises(SchemaError, match="'yes_bid_dollars' is not a number"):
        schema.market_quote(market_json(yes_bid_dollars=price))
