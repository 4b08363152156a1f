from decimal import Decimal

import pytest

from flb_pipeline.exchange.order_sides import from_book_order, to_book_order

D = Decimal


@pytest.mark.parametrize(
    ("side", "action", "price", "book_side", "yes_price"),
    [
        ("yes", "buy", "0.93", "bid", "0.93"),
        ("no", "buy", "0.935", "ask", "0.065"),
        ("yes", "sell", "0.40", "ask", "0.40"),
        ("no", "sell", "0.07", "bid", "0.93"),
    ],
)
def test_contracts_translate_to_the_yes_book_and_back(side, action, price, book_side, yes_price):
    assert to_book_order(side, action, D(price)) == (book_side, D(yes_price))
    assert from_book_order(book_side, side, D(yes_price)) == (action, D(price))
