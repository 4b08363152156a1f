"""The exchange engine: world + member account + time, with Kalshi's trading rules.

Time is processed lazily: every request first calls `advance()`, which lists new events,
fills resting orders the market moved through (as maker fills, at their limit), cancels
orders in markets that closed, and settles positions whose market settled, in that order.
Maker fills happen before their market's close, which precedes its settlement, so batching
the three steps gives the same books as replaying every tick.
"""

from __future__ import annotations

import uuid

import numpy as np

from flb_pipeline.core.fees import FeeSchedule
from flb_pipeline.core.records import other_side
from flb_pipeline.exchange.simulator.book import Book, DepthLedger, build_book, level_sizes, shifted
from flb_pipeline.exchange.simulator.catalog import FEE_MULTIPLIER
from flb_pipeline.exchange.simulator.clock import SimClock
from flb_pipeline.exchange.simulator.config import FaultConfig, SimConfig
from flb_pipeline.exchange.simulator.errors import ApiError, bad_request, not_found
from flb_pipeline.exchange.simulator.orders import OrderTicket
from flb_pipeline.exchange.simulator.portfolio import (
    CANCELED,
    EXECUTED,
    Account,
    Order,
    Trade,
)
from flb_pipeline.exchange.simulator.pricing import NO_ASK, NO_BID
from flb_pipeline.exchange.simulator.trading import (
    cash_needed,
    fill_cap,
    resting_escrow,
    taker_trades,
)
from flb_pipeline.exchange.simulator.world import ACTIVE, SETTLED, World

_EMPTY_BOOK = Book(yes=(), no=())


class IdFactory:
    """Deterministic ids (uuid5 of seed, kind and a counter), so replays match exactly."""

    def __init__(self, seed: int) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"flb-sim/{seed}")
        self._counters: dict[str, int] = {}
        self.user_id = str(uuid.uuid5(self._namespace, "user"))

    def next(self, kind: str) -> str:
        number = self._counters.get(kind, 0)
        self._counters[kind] = number + 1
        return str(uuid.uuid5(self._namespace, f"{kind}/{number}"))


class Exchange:
    """Everything stateful about one simulated exchange; `/_sim/reset` builds a new one."""

    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.now = clock.now()
        self.world = World(config, clock.start_ts)
        self.account = Account(config.starting_balance_cents)
        self.depth = DepthLedger()
        self.ids = IdFactory(config.seed)
        self.result_overrides: dict[int, bool] = {}
        self.faults = FaultConfig()
        self._frozen_tick: int | None = None
        self.set_faults(config.faults)

    # --- time and faults --------------------------------------------------------------------

    def advance(self) -> None:
        """Bring the exchange up to the clock's now (never backwards)."""
        self.now = max(self.now, self.clock.now())
        self.world.extend_to(self.world.tick_at(self.now))
        self._fill_resting_orders()
        self._cancel_orders_in_closed_markets()
        self._settle_due_positions()

    def set_faults(self, faults: FaultConfig) -> None:
        """Apply new fault knobs; freezing pins the quote tick, thawing resumes from now."""
        tick = self.world.tick_at(self.now)
        if faults.frozen_books and self._frozen_tick is None:
            self._frozen_tick = tick
        elif not faults.frozen_books and self._frozen_tick is not None:
            self._frozen_tick = None
            for order in self.account.resting_orders():
                order.checked_tick = max(order.checked_tick, tick)
        self.faults = faults

    def quote_tick(self) -> int:
        """The tick whose quotes are displayed (pinned while books are frozen)."""
        tick = self.world.tick_at(self.now)
        return tick if self._frozen_tick is None else min(tick, self._frozen_tick)

    # --- market state -----------------------------------------------------------------------

    def market_index(self, ticker: str) -> int:
        market = self.world.market_by_ticker.get(ticker)
        if market is None:
            raise not_found(f"market {ticker}")
        return market

    def status(self, market: int) -> int:
        return int(self.world.status_codes(self.now, np.array([market]))[0])

    def result(self, market: int) -> bool | None:
        """True = YES won; None until the market settled."""
        if self.status(market) != SETTLED:
            return None
        return self.result_overrides.get(market, self.world.natural_yes(market))

    def fee_schedule(self, market: int) -> FeeSchedule:
        return FeeSchedule(self.world.event_of(market).family.fee_type, FEE_MULTIPLIER)

    def book(self, market: int) -> Book:
        """The displayed book: empty unless the market is open."""
        if self.status(market) != ACTIVE:
            return _EMPTY_BOOK
        tick = self.quote_tick()
        yes_bid, yes_ask = self.world.quote_at(market, tick)
        config = self.config
        sizes = level_sizes(
            config.seed,
            market,
            tick,
            config.book_levels,
            config.level_size_min,
            config.level_size_max,
        )
        return build_book(yes_bid, yes_ask, sizes, self.depth.for_market(market, tick))

    def consumed_tops(self) -> dict[int, tuple[int, int]]:
        """(yes_bid, yes_ask) of open markets whose displayed depth a taker ate into."""
        tops = {}
        for market in self.depth.touched_markets(self.quote_tick()):
            if self.status(market) == ACTIVE:
                book = self.book(market)
                tops[market] = (book.best_bid("yes"), book.best_ask("yes"))
        return tops

    def portfolio_value(self) -> int:
        """Open positions marked at the bid of the held side, in cents."""
        tick = self.quote_tick()
        value = 0
        for position in self.account.positions.values():
            yes_bid, yes_ask = self.world.quote_at(position.market, tick)
            no_bid = 100 - yes_ask if yes_ask < NO_ASK else NO_BID
            bid = yes_bid if position.contracts > 0 else no_bid
            value += abs(position.contracts) * bid
        return value

    # --- orders -----------------------------------------------------------------------------

    def place(self, ticket: OrderTicket) -> Order:
        """Match a new order against the book; the remainder rests or is canceled."""
        if self.faults.reject_orders:
            raise bad_request(self.faults.reject_orders, "order rejected")
        market = self.market_index(ticket.ticker)
        if ticket.client_order_id in self.account.order_by_client_id:
            raise ApiError(409, "order_already_exists", "client_order_id was already used")
        if self.status(market) != ACTIVE:
            raise bad_request("market_closed", f"market {ticket.ticker} is not open")
        fees = self.fee_schedule(market)
        cap = fill_cap(ticket.count, self.faults.partial_fill_ratio)
        asks = shifted(self.book(market).asks(ticket.bought_side), self.faults.adverse_move_cents)
        trades = taker_trades(ticket, asks, cap, fees)
        escrow = resting_escrow(ticket, trades, fees)
        position = self.account.positions.get(market)
        held = position.contracts if position else 0
        if cash_needed(ticket, trades, held, fees) + escrow > self.account.balance:
            raise bad_request("insufficient_balance", "cost and fees exceed the balance")
        order = self._new_order(ticket, market, fees, cap)
        self.account.add_order(order)
        self._execute(order, trades)
        if escrow:
            self.account.rest(order, escrow)
        else:
            done = order.fill_count == ticket.count
            self.account.finish(order, EXECUTED if done else CANCELED, self.now)
        return order

    def cancel(self, order_id: str) -> tuple[Order, int]:
        order = self.account.orders.get(order_id)
        if order is None:
            raise not_found(f"order {order_id}")
        if order.remaining == 0:
            raise bad_request("order_not_resting", "only resting orders can be canceled")
        return order, self.account.finish(order, CANCELED, self.now)

    def _new_order(self, ticket: OrderTicket, market: int, fees: FeeSchedule, cap: int) -> Order:
        return Order(
            sequence=len(self.account.orders),
            order_id=self.ids.next("order"),
            ticket=ticket,
            market=market,
            event_ticker=self.world.event_of(market).ticker,
            fees=fees,
            created_ts=self.now,
            last_update_ts=self.now,
            fill_cap=cap,
            checked_tick=self.quote_tick(),
        )

    def _execute(self, order: Order, trades: list[Trade]) -> None:
        tick = self.quote_tick()
        shift = self.faults.adverse_move_cents
        for trade in trades:
            resting_price = 100 - (trade.bought_price - shift)
            self.depth.consume(
                order.market, tick, other_side(order.ticket.bought_side), resting_price, trade.count
            )
            self.account.fill(order, trade, self.now, self.ids.next("fill"))

    # --- lazy time processing ---------------------------------------------------------------

    def _fill_resting_orders(self) -> None:
        """Maker-fill, in time order, every resting order the quotes traded through."""
        visible = self.quote_tick()
        due = []
        for order in self.account.resting_orders():
            tick = self._maker_tick(order, visible)
            order.checked_tick = max(order.checked_tick, visible)
            if tick is not None:
                due.append((tick, order.sequence, order))
        for tick, _, order in sorted(due):
            count = min(order.remaining, order.fill_cap - order.fill_count)
            if count <= 0:
                continue
            trade = Trade(count, order.ticket.bought_limit, is_taker=False)
            self.account.fill(order, trade, self.world.tick_ts(tick), self.ids.next("fill"))
            if order.fill_count == order.ticket.count:
                self.account.finish(order, EXECUTED, order.last_update_ts)

    def _maker_tick(self, order: Order, visible: int) -> int | None:
        """First tick after the last check, up to `visible`, whose quote trades through the
        order's limit: a YES ask at or below a YES bid's limit, or the mirror for NO."""
        world = self.world
        open_tick = int(world.open_tick[order.market])
        first = order.checked_tick + 1
        last = min(visible, open_tick + world.lifetime_ticks - 1)
        if first > last:
            return None
        yes_bid, yes_ask = world.quote_series(order.market)
        window = slice(max(first, open_tick) - open_tick, last - open_tick + 1)
        limit = order.ticket.bought_limit
        if order.ticket.bought_side == "yes":
            crossed = yes_ask[window] <= limit
        else:
            crossed = yes_bid[window] >= 100 - limit
        if not crossed.any():
            return None
        return max(first, open_tick) + int(np.argmax(crossed))

    def _cancel_orders_in_closed_markets(self) -> None:
        for order in self.account.resting_orders():
            close_ts = self.world.tick_ts(int(self.world.close_tick[order.market]))
            if close_ts <= self.now:
                self.account.finish(order, CANCELED, close_ts)

    def _settle_due_positions(self) -> None:
        world = self.world
        due = sorted(
            (world.settle_ts(int(world.close_tick[market])), market)
            for market in self.account.positions
            if self.status(market) == SETTLED
        )
        for settle_ts, market in due:
            position = self.account.positions[market]
            if position.contracts == 0:
                self.account.forget(position)
            else:
                yes_won = self._settlement_result(market, position.contracts)
                self.account.settle(position, yes_won, settle_ts)

    def _settlement_result(self, market: int, contracts: int) -> bool:
        """The latent outcome, unless the rig_settlements fault targets held markets."""
        rig = self.faults.rig_settlements
        if rig is None:
            return self.world.natural_yes(market)
        yes_won = contracts < 0 if rig == "against_positions" else contracts > 0
        self.result_overrides[market] = yes_won
        return yes_won
