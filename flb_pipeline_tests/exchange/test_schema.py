import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flb_pipeline.exchange import schema
from flb_pipeline.exchange.errors import SchemaError
from flb_pipeline.store.migrations import migrate
from flb_pipeline.store.snapshots import append_market_snapshots, snapshot_quotes

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
    quote = schema.market_quote(market_json(yes_bid_dollars="0.8850", yes_ask_dollars="0.8950"))
    assert quote.yes_bid == D("0.8850") and quote.yes_ask == D("0.8950")


def test_the_quote_time_is_when_the_listing_arrived_never_updated_time():
    """Kalshi's `updated_time` is the last metadata change: days old on a live market."""
    received = datetime(2026, 11, 29, 12, 0, 1, tzinfo=UTC)
    quote = schema.market_quote(market_json(updated_time="2026-11-20T00:00:00Z"), received)
    assert quote.quote_ts == received
    assert schema.market_quote(market_json(updated_time="2026-11-20T00:00:00Z")).quote_ts is None


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


def test_fixed_point_counts_keep_hundredths_and_refuse_anything_finer():
    assert schema.count({"count_fp": "2.50"}, "count") == D("2.50")
    assert schema.count({"count_fp": "7.00"}, "count") == 7
    with pytest.raises(SchemaError, match="finer than a hundredth"):
        schema.count({"count_fp": "2.505"}, "count")
    with pytest.raises(SchemaError, match="fractional"):
        schema.count({"count": 2.5}, "count")


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


BAD_FIELDS = {
    "volume not a number": ({"volume": "lots"}, "field 'volume' is not a number: 'lots'"),
    "volume beyond the store": ({"volume": 10**30}, "field 'volume' is out of range: 10000000"),
    "volume beyond as parsed": ({"volume": 1e30}, "field 'volume' is out of range: 1e+30"),
    "ask beyond DECIMAL(10, 4)": (
        {"yes_ask_dollars": "12345678.5"},
        "field 'yes_ask_dollars' is outside [0, 1] dollars: '12345678.5'",
    ),
    "NaN price": ({"yes_ask_dollars": "NaN"}, "field 'yes_ask_dollars' is not a number: 'NaN'"),
    "ask above one": ({"yes_ask_dollars": "1.0001"}, "'yes_ask_dollars' is outside [0, 1]"),
    "bid below zero": ({"no_bid_dollars": "-0.0100"}, "'no_bid_dollars' is outside [0, 1]"),
    "cents above a dollar": ({"yes_bid": 101}, "field 'yes_bid' is outside [0, 1] dollars: 101"),
    "last price above one": ({"last_price_dollars": "2"}, "'last_price_dollars' is outside"),
    "negative volume": ({"volume": -5}, "field 'volume' is out of range: -5"),
    "volume one digit too long": ({"volume_fp": "1e16"}, "'volume_fp' is out of range"),
    "open interest finer than a hundredth": (
        {"open_interest_fp": "2.505"},
        "'open_interest_fp' is finer than a hundredth",
    ),
    "boolean volume": ({"volume": True}, "field 'volume' is not a number: True"),
    "title not a string": ({"title": ["x"]}, "field 'title' is not a string: ['x']"),
    "status not a string": ({"status": 3}, "field 'status' is not a non-empty string: 3"),
    "close time not a time": ({"close_time": "soon"}, "'close_time' is not a timestamp: 'soon'"),
    "close time beyond any clock": ({"close_time": 1e20}, "'close_time' is not a timestamp"),
    "open time past year 9999 in UTC": (
        {"open_time": "9999-12-31T23:00:00-05:00"},
        "field 'open_time' is not a timestamp",
    ),
    "price grid label not a string": (
        {"price_level_structure": 5},
        "'price_level_structure' is not a string",
    ),
    "price range without a step": (
        {"price_ranges": [{"start": "0.0", "end": "1.0", "step": "0"}]},
        "price range is empty or has no step",
    ),
    "fee waiver not a time": (
        {"fee_waiver_expiration_time": "soon"},
        "'fee_waiver_expiration_time' is not a timestamp",
    ),
}


@pytest.mark.parametrize("change", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_a_bad_field_is_a_schema_error_naming_the_field_and_the_ticker(change):
    fields, message = change
    parsed, invalid = schema.each(
        [market_json(ticker="GOOD"), market_json(ticker="BAD", **fields)],
        schema.market_quote,
        "markets",
    )
    assert [quote.ticker for quote in parsed] == ["GOOD"]
    (error,) = invalid
    assert str(error).startswith("markets record 'BAD': ") and message in str(error)


def test_a_record_without_a_ticker_is_named_by_its_position():
    nameless = market_json()
    del nameless["ticker"]
    _, (error,) = schema.each([market_json(), nameless], schema.market_quote, "markets")
    assert str(error) == ("markets record #2 (no ticker or id): missing required field 'ticker'")


def test_a_record_that_is_not_an_object_is_skipped_not_a_crash():
    parsed, (error,) = schema.each([market_json(), ["x"]], schema.market_quote, "markets")
    assert len(parsed) == 1 and "field 'markets' is not an object: ['x']" in str(error)


def test_counts_prefer_the_fixed_point_form():
    quote = schema.market_quote(market_json(volume="lots", volume_fp="12.00"))
    assert quote.volume == 12 and schema.market_quote(market_json()).volume == 1200


def test_prices_at_the_bounds_and_net_positions_below_zero_are_accepted():
    quote = schema.market_quote(market_json(no_bid_dollars="0.0000", yes_ask_dollars="1.0000"))
    assert quote.no_bid is None and quote.yes_ask is None  # 0 and 100 cents mean "no quote"
    assert schema.market_quote(market_json(last_price_dollars="1.0000")).last_price == D(1)
    assert schema.count({"position_fp": "-3.00"}, "position", signed=True) == -3
    with pytest.raises(SchemaError, match="'position_fp' is out of range"):
        schema.count({"position_fp": "-3.00"}, "position")


def test_amounts_beyond_the_store_are_refused_not_rounded():
    with pytest.raises(SchemaError, match="'balance' is out of range"):
        schema.balance({"balance": 10**20})
    with pytest.raises(SchemaError, match="more than six decimals"):
        schema.balance({"balance_dollars": "1E-30"})
    assert schema.balance({"balance_dollars": "0.100000000"}).balance == D("0.1")
    assert schema.balance({"balance_dollars": "0.009350"}).balance == D("0.00935")


def test_an_offending_value_is_shown_cut_short():
    _, (error,) = schema.each(
        [market_json(title="x" * 10**6, volume="x" * 10**6)], schema.market_quote, "markets"
    )
    assert len(str(error)) < 200


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.decimals().map(str)
    | st.datetimes().map(datetime.isoformat)
    | st.sampled_from(["NaN", "-0", "1E+30", "0.00001", "1.0000", "2026-11-29T10:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)
MARKET_FIELDS = [
    *("ticker", "event_ticker", "status", "title", "category"),
    *("yes_bid", "yes_ask", "no_bid", "no_ask", "last_price"),
    *("yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "no_ask_dollars"),
    *("last_price_dollars", "volume", "volume_fp", "open_interest", "open_interest_fp"),
    *("open_time", "close_time", "updated_time"),
]
RECEIVED_AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def snapshot_table():
    con = duckdb.connect()
    migrate(con)
    yield con
    con.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(MARKET_FIELDS), value=JSON_VALUES)
def test_any_value_in_any_field_is_stored_exactly_or_refused_as_a_schema_error(
    snapshot_table, field, value
):
    """Whatever a hostile exchange puts in a field, the record either parses into a quote
    the store holds exactly, or is a SchemaError: never a raw error from Python or Arrow."""
    try:
        quote = schema.market_quote(market_json(**{field: value}))
    except SchemaError:
        return
    scan_id = f"scan-{field}-{id(value)}"
    assert append_market_snapshots(snapshot_table, scan_id, [quote], RECEIVED_AT) == 1
    (stored,) = snapshot_quotes(snapshot_table, scan_id)
    snapshot_table.execute("DELETE FROM market_snapshots WHERE scan_id = ?", [scan_id])
    assert stored == dataclasses.replace(quote, quote_ts=quote.quote_ts or RECEIVED_AT)
