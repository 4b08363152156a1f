"""The exchange engine: world + member account + time, with Kalshi's trading rules.

Time is processed lazily: every request first calls `advance()`, which lists new events,
cancels orders that asked for it when a trading pause began, fills resting orders the market
moved through (as maker fills, at their limit), cancels expired orders and orders in markets
that closed, and settles positions whose market settled, in that order. Maker fills happen
before their market's close, which precedes its settlement, so batching the steps gives the
same books as replaying every tick.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from flb_pipeline.core.fees import FeeChange, FeeSchedule, schedule_at
from flb_pipeline.core.records import HUNDREDTH, other_side
from flb_pipeline.exchange.simulator.book import Book, DepthLedger, build_book, level_sizes, shifted
from flb_pipeline.exchange.simulator.catalog import FEE_MULTIPLIER, SeriesSpec
from flb_pipeline.exchange.simulator.clock import SimClock
from flb_pipeline.exchange.simulator.config import FaultConfig, SimConfig
from flb_pipeline.exchange.simulator.errors import ApiError, bad_request, not_found
from flb_pipeline.exchange.simulator.grids import NO_ASK, NO_BID, is_on_grid
from flb_pipeline.exchange.simulator.order_groups import MAX_CONTRACTS_LIMIT, OrderGroup
from flb_pipeline.exchange.simulator.orders import OrderTicket
from flb_pipeline.exchange.simulator.pauses import Pause, PauseCalendar
from flb_pipeline.exchange.simulator.portfolio import (
    CANCELED,
    EXECUTED,
    ZERO,
    Account,
    FillRecord,
    Order,
    Trade,
)
from flb_pipeline.exchange.simulator.trading import (
    cash_needed,
    fill_cap,
    resting_escrow,
    taker_trades,
)
from flb_pipeline.exchange.simulator.units import ONE_DOLLAR_MILLS, mills_to_dollars
from flb_pipeline.exchange.simulator.world import ACTIVE, SETTLED, World

_EMPTY_BOOK = Book(yes=(), no=())
WHOLE = Decimal(1)


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


def fee_changes_of(config: SimConfig) -> list[FeeChange]:
    return [
        FeeChange(
            series_ticker=str(change["series_ticker"]),
            fee_type=str(change["fee_type"]),
            multiplier=Decimal(str(change.get("fee_multiplier", 1))),
            scheduled_at=datetime.fromtimestamp(float(change["scheduled_ts"]), UTC),
        )
        for change in config.fee_changes
    ]


class Exchange:
    """Everything stateful about one simulated exchange; `/_sim/reset` builds a new one."""

    def __init__(self, config: SimConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.now = clock.now()
        self.world = World(config, clock.start_ts)
        self.account = Account(Decimal(config.starting_balance_cents) / 100)
        self.depth = DepthLedger()
        self.ids = IdFactory(config.seed)
        self.result_overrides: dict[int, bool] = {}
        self.faults = FaultConfig()
        self.groups: dict[str, OrderGroup] = {}
        self.pauses = PauseCalendar(config.weekly_maintenance)
        self.fee_changes = fee_changes_of(config)
        self._frozen_tick: int | None = None
        self.set_faults(config.faults)

    # --- time and faults --------------------------------------------------------------------

    def advance(self) -> None:
        """Bring the exchange up to the clock's now (never backwards)."""
        before, self.now = self.now, max(self.now, self.clock.now())
        self.world.extend_to(self.world.tick_at(self.now))
        self._cancel_on_pauses(before)
        self._fill_resting_orders()
        self._cancel_expired_orders()
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

    def schedule_pause(self, pause: Pause) -> None:
        self.pauses.schedule(pause)
        self.advance()

    def quote_tick(self) -> int:
        """The tick whose quotes are displayed (pinned while books are frozen)."""
        tick = self.world.tick_at(self.now)
        return tick if self._frozen_tick is None else min(tick, self._frozen_tick)

    def trading_pause(self) -> Pause | None:
        return self.pauses.active(self.now)

    # --- market state -----------------------------------------------------------------------

    def market_index(self, ticker: str) -> int:
        market = self.world.market_by_ticker.get(ticker)
        if market is None:
            raise not_found(f"market {ticker}")
        return market

    def series_of(self, market: int) -> SeriesSpec:
        return self.world.event_of(market).series

    def status(self, market: int) -> int:
        return int(self.world.status_codes(self.now, np.array([market]))[0])

    def result(self, market: int) -> bool | None:
        """True = YES won; None until the market settled."""
        if self.status(market) < SETTLED:
            return None
        return self.result_overrides.get(market, self.world.natural_yes(market))

    def fee_waiver_expires_ts(self, market: int) -> float | None:
        """Markets of a waived series trade fee-free until they close."""
        if self.series_of(market).ticker not in self.config.fee_waiver_series:
            return None
        return float(self.world.tick_ts(int(self.world.close_tick[market])))

    def fee_schedule(self, market: int) -> FeeSchedule:
        """The fee model in force now: scheduled changes applied, waivers honoured."""
        family = self.world.event_of(market).family
        current = FeeSchedule(family.fee_type, FEE_MULTIPLIER)
        waiver = self.fee_waiver_expires_ts(market)
        scheduled = schedule_at(
            self.series_of(market).ticker,
            current,
            self.fee_changes,
            datetime.fromtimestamp(self.now, UTC),
            None if waiver is None else datetime.fromtimestamp(waiver, UTC),
        )
        return scheduled or current

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
        structure = self.series_of(market).price_structure
        return build_book(structure, yes_bid, yes_ask, sizes, self.depth.for_market(market, tick))

    def consumed_tops(self) -> dict[int, tuple[int, int]]:
        """(yes_bid, yes_ask) of open markets whose displayed depth a taker ate into."""
        tops = {}
        for market in self.depth.touched_markets(self.quote_tick()):
            if self.status(market) == ACTIVE:
                book = self.book(market)
                tops[market] = (book.best_bid("yes"), book.best_ask("yes"))
        return tops

    def portfolio_value(self) -> Decimal:
        """Open positions marked at the bid of the held side."""
        tick = self.quote_tick()
        value = ZERO
        for position in self.account.positions.values():
            yes_bid, yes_ask = self.world.quote_at(position.market, tick)
            no_bid = ONE_DOLLAR_MILLS - yes_ask if yes_ask < NO_ASK else NO_BID
            bid = yes_bid if position.contracts > 0 else no_bid
            value += abs(position.contracts) * mills_to_dollars(bid)
        return value

    # --- orders -----------------------------------------------------------------------------

    def place(self, ticket: OrderTicket) -> Order:
        """Match a new order against the book; the remainder rests or is canceled."""
        if self.faults.reject_orders:
            raise bad_request(self.faults.reject_orders, "order rejected")
        market = self.market_index(ticket.ticker)
        if ticket.client_order_id in self.account.order_by_client_id:
            raise ApiError(409, "order_already_exists", "client_order_id was already used")
        self._check_tradeable(ticket, market)
        group = self._group_for(ticket)
        fees = self.fee_schedule(market)
        step = HUNDREDTH if self.series_of(market).fractional else WHOLE
        cap = fill_cap(ticket.count, self.faults.partial_fill_ratio, step)
        book = self.book(market)
        asks = shifted(book.asks(ticket.bought_side), self.faults.adverse_move_cents * 10)
        trades = taker_trades(ticket, asks, cap, fees)
        escrow = resting_escrow(ticket, trades, fees)
        position = self.account.positions.get(market)
        held = position.contracts if position else ZERO
        if cash_needed(ticket, trades, held, fees) + escrow > self.account.balance:
            raise bad_request("insufficient_balance", "cost and fees exceed the balance")
        order = self._new_order(ticket, market, fees, cap)
        order.queue_ahead = book.size_at(ticket.bought_side, ticket.bought_limit)
        self.account.add_order(order)
        if group is not None:
            group.order_ids.append(order.order_id)
        self._execute(order, trades)
        done = order.fill_count == ticket.count
        if escrow and not done and not (group is not None and group.triggered):
            self.account.rest(order, escrow)
        else:
            self.account.finish(order, EXECUTED if done else CANCELED, self.now)
        return order

    def _check_tradeable(self, ticket: OrderTicket, market: int) -> None:
        """Refusals that depend on the market: status, pause, count step, price grid."""
        if self.status(market) != ACTIVE:
            raise bad_request("market_closed", f"market {ticket.ticker} is not open")
        if self.trading_pause() is not None:
            raise bad_request("trading_is_paused", "trading on the exchange is paused")
        series = self.series_of(market)
        if not series.fractional and ticket.count != ticket.count.to_integral_value():
            raise bad_request("invalid_count", f"{ticket.ticker} trades whole contracts only")
        if not is_on_grid(series.price_structure, ticket.yes_limit):
            raise bad_request(
                "invalid_price",
                f"price {mills_to_dollars(ticket.yes_limit)} is off the "
                f"{series.price_structure} grid of {ticket.ticker}",
            )
        if ticket.reduce_only:
            raise bad_request("invalid_parameters", "reduce_only orders are not supported here")

    def _group_for(self, ticket: OrderTicket) -> OrderGroup | None:
        if ticket.order_group_id is None:
            return None
        group = self.groups.get(ticket.order_group_id)
        if group is None:
            raise not_found(f"order group {ticket.order_group_id}")
        if group.triggered:
            raise bad_request(
                "order_group_triggered",
                f"order group {group.group_id} hit its contracts limit; reset it first",
            )
        return group

    def cancel(self, order_id: str) -> tuple[Order, Decimal]:
        order = self.account.orders.get(order_id)
        if order is None:
            raise not_found(f"order {order_id}")
        if order.remaining == 0:
            raise bad_request("order_not_resting", "only resting orders can be canceled")
        return order, self.account.finish(order, CANCELED, self.now)

    def cancel_all(self) -> int:
        """Cancel every resting order; returns how many were canceled."""
        resting = self.account.resting_orders()
        for order in resting:
            self.account.finish(order, CANCELED, self.now)
        return len(resting)

    def _new_order(
        self, ticket: OrderTicket, market: int, fees: FeeSchedule, cap: Decimal
    ) -> Order:
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
        shift = self.faults.adverse_move_cents * 10
        for trade in trades:
            resting_price = ONE_DOLLAR_MILLS - (trade.bought_price - shift)
            self.depth.consume(
                order.market, tick, other_side(order.ticket.bought_side), resting_price, trade.count
            )
            self._fill(order, trade, self.now)

    def _fill(self, order: Order, trade: Trade, ts: float) -> FillRecord:
        """Book one fill and let its order group react (it may cancel the group's orders)."""
        record = self.account.fill(order, trade, ts, self.ids.next("fill"))
        group_id = order.ticket.order_group_id
        group = self.groups.get(group_id) if group_id else None
        if group is not None and group.record_fill(ts, trade.count):
            self._cancel_group_orders(group, ts)
        return record

    # --- order groups -----------------------------------------------------------------------

    def create_group(self, contracts_limit: Decimal) -> OrderGroup:
        if not 1 <= contracts_limit <= MAX_CONTRACTS_LIMIT:
            raise bad_request("invalid_parameters", "contracts_limit must be within 1..1000000")
        group = OrderGroup(self.ids.next("order_group"), contracts_limit)
        self.groups[group.group_id] = group
        return group

    def group(self, group_id: str) -> OrderGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise not_found(f"order group {group_id}")
        return group

    def trigger_group(self, group_id: str) -> None:
        group = self.group(group_id)
        group.triggered = True
        self._cancel_group_orders(group, self.now)

    def set_group_limit(self, group_id: str, contracts_limit: Decimal) -> None:
        group = self.group(group_id)
        if not 1 <= contracts_limit <= MAX_CONTRACTS_LIMIT:
            raise bad_request("invalid_parameters", "contracts_limit must be within 1..1000000")
        if group.set_limit(contracts_limit, self.now):
            self._cancel_group_orders(group, self.now)

    def delete_group(self, group_id: str) -> None:
        group = self.group(group_id)
        self._cancel_group_orders(group, self.now)
        del self.groups[group_id]

    def _cancel_group_orders(self, group: OrderGroup, ts: float) -> None:
        for order_id in group.order_ids:
            order = self.account.orders[order_id]
            if order.remaining > 0:
                self.account.finish(order, CANCELED, ts)

    # --- lazy time processing ---------------------------------------------------------------

    def _cancel_on_pauses(self, since: float) -> None:
        """Orders that asked for it are canceled when a trading pause begins."""
        for pause in self.pauses.between(since, self.now):
            if not since < pause.start_ts <= self.now and not pause.covers(self.now):
                continue
            cancel_ts = max(pause.start_ts, since)
            for order in self.account.resting_orders():
                if order.ticket.cancel_order_on_pause and order.created_ts <= cancel_ts:
                    self.account.finish(order, CANCELED, cancel_ts)

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
            if order.remaining <= 0:
                continue
            count = min(order.remaining, order.fill_cap - order.fill_count)
            if count <= 0:
                continue
            trade = Trade(count, order.ticket.bought_limit, is_taker=False)
            self._fill(order, trade, float(self.world.tick_ts(tick)))
            if order.fill_count == order.ticket.count:
                self.account.finish(order, EXECUTED, order.last_update_ts)

    def _maker_tick(self, order: Order, visible: int) -> int | None:
        """First tick after the last check, up to `visible`, outside any trading pause,
        whose quote trades through the order's limit: a YES ask at or below a YES bid's
        limit, or the mirror for NO."""
        world = self.world
        open_tick = int(world.open_tick[order.market])
        first = max(order.checked_tick + 1, open_tick)
        last = min(visible, open_tick + world.lifetime_ticks - 1)
        if first > last:
            return None
        yes_bid, yes_ask = world.quote_series(order.market)
        window = slice(first - open_tick, last - open_tick + 1)
        limit = order.ticket.bought_limit
        if order.ticket.bought_side == "yes":
            crossed = yes_ask[window] <= limit
        else:
            crossed = yes_bid[window] >= ONE_DOLLAR_MILLS - limit
        ticks = np.arange(first, last + 1)
        crossed &= ~self.pauses.paused_mask(np.asarray(world.tick_ts(ticks), dtype=np.float64))
        if not crossed.any():
            return None
        return first + int(np.argmax(crossed))

    def _cancel_expired_orders(self) -> None:
        for order in self.account.resting_orders():
            expires = order.ticket.expiration_ts
            if expires is not None and expires <= self.now:
                self.account.finish(order, CANCELED, float(expires))

    def _cancel_orders_in_closed_markets(self) -> None:
        for order in self.account.resting_orders():
            close_ts = float(self.world.tick_ts(int(self.world.close_tick[order.market])))
            if close_ts <= self.now:
                self.account.finish(order, CANCELED, close_ts)

    def _settle_due_positions(self) -> None:
        world = self.world
        due = sorted(
            (float(world.settle_ts(int(world.close_tick[market]))), market)
            for market in self.account.positions
            if self.status(market) >= SETTLED
        )
        for settle_ts, market in due:
            position = self.account.positions[market]
            if position.contracts == 0:
                self.account.forget(position)
            else:
                yes_won = self._settlement_result(market, position.contracts)
                self.account.settle(position, yes_won, settle_ts)

    def _settlement_result(self, market: int, contracts: Decimal) -> bool:
        """The latent outcome, unless the rig_settlements fault targets held markets."""
        rig = self.faults.rig_settlements
        if rig is None:
            return self.world.natural_yes(market)
        yes_won = contracts < 0 if rig == "against_positions" else contracts > 0
        self.result_overrides[market] = yes_won
        return yes_won
