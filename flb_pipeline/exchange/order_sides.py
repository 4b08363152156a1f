"""YES/NO contracts ↔ Kalshi's V2 orders, which are bids and asks on the YES book.

We think in contracts (buy NO at 7¢); a V2 order is a bid or an ask on the market's YES book
at a YES price. Buying NO at p is an ask on YES at 1 − p, selling YES at p an ask at p.
This is the one place that translation lives, for the client and the simulator alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, cast

from flb_pipeline.core.records import Action, Side

BookSide = Literal["bid", "ask"]
BOOK_SIDES: tuple[BookSide, BookSide] = ("bid", "ask")
ONE = Decimal(1)


def to_book_order(side: Side, action: Action, price: Decimal) -> tuple[BookSide, Decimal]:
    """(book side, YES price) of `action`-ing `side` contracts at `price` (of that side)."""
    yes_price = price if side == "yes" else ONE - price
    buys_yes = (side == "yes") == (action == "buy")
    return ("bid" if buys_yes else "ask"), yes_price


def from_book_order(
    book_side: BookSide, outcome_side: Side, yes_price: Decimal
) -> tuple[Action, Decimal]:
    """(action, price of `outcome_side`) of a book order that trades `outcome_side`."""
    buys_yes = book_side == "bid"
    action = cast(Action, "buy" if buys_yes == (outcome_side == "yes") else "sell")
    return action, (yes_price if outcome_side == "yes" else ONE - yes_price)
