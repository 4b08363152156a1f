"""The event backtester: recorded history through the live decision path, cycle by cycle.

Every decision time in the window is a replayed trading cycle, in time order:
1. resting maker orders fill from the prints recorded since the last cycle, and held markets
   whose settlement time has come settle on their recorded result;
2. capital is marked (cash plus held contracts at their last recorded bid);
3. the quotes that passed the vectorised screens (`core.prescreen`) go through
   `core.cycle.decide_cycle`, the function live trading calls, with the model that the
   walk-forward schedule serves at that time;
4. the kill switches judge the cycle on the replayed state (`core.replay_risk`); if one fails,
   nothing is sent, as a failed blocking check stops `order_submissions`;
5. orders are built by `core.execution.order_intent` and filled by `core.replay_fills`.
Only this loop is path-dependent (capital, caps, pauses); everything per quote row that no
earlier fill can change was computed for all rows at once before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np

from flb_pipeline.core.calibration import WinProbabilityModel
from flb_pipeline.core.cycle import CycleInputs, decide_cycle
from flb_pipeline.core.execution import MAKER, TAKER, order_intent, paper_fills
from flb_pipeline.core.fees import FeeBook, FeeSchedule, schedule_for, schedules_of
from flb_pipeline.core.grouping import ScanGroups
from flb_pipeline.core.ledger import ClosedTrade, OrderContext
from flb_pipeline.core.prescreen import Screenable
from flb_pipeline.core.records import Fill, MarketQuote, OrderBook, OrderIntent
from flb_pipeline.core.replay_account import Account, RestingOrder
from flb_pipeline.core.replay_fills import TradeTape, queue_ahead, slipped_asks
from flb_pipeline.core.replay_history import ReplayHistory, moment
from flb_pipeline.core.replay_models import ModelSchedule
from flb_pipeline.core.replay_quotes import (
    cycle_scan_id,
    market_quotes,
    row_book,
    rows_by_ticker,
)
from flb_pipeline.core.replay_risk import OrderingScan, SwitchState
from flb_pipeline.core.risk import RiskEvent, RiskLimits, entry_gate
from flb_pipeline.core.sizing import ExposureBook, Holding
from flb_pipeline.core.strategy import (
    Candidate,
    DepthMap,
    Opportunity,
    StrategyThresholds,
    depth_within_limit,
)
from flb_pipeline.core.ticks import OffTick


@dataclass(frozen=True)
class ReplaySettings:
    """How orders meet the recorded market, and the account they start from.

    `assumed_depth`: contracts at the quoted price where no book was recorded (candles);
    `slippage_ticks`: how far the book moves against a taker between decision and arrival;
    `settlement_lag_s`: how long after its close a market pays out (and may be trained on).
    """

    starting_capital: Decimal = Decimal("10000")
    order_style: str = TAKER
    max_orders_per_cycle: int = 10
    limit_slippage_cents: int = 0
    slippage_ticks: int = 0
    assumed_depth: int = 100
    settlement_lag_s: float = 3_600.0
    limits: RiskLimits = field(default_factory=RiskLimits)

    def __post_init__(self) -> None:
        if self.order_style not in (TAKER, MAKER):
            raise ValueError(f"order_style must be taker or maker, not {self.order_style!r}")
        if self.starting_capital <= 0 or self.assumed_depth < 0 or self.slippage_ticks < 0:
            raise ValueError(f"bad replay settings: {self}")


@dataclass(frozen=True)
class ReplayedOrder:
    """An order the replay sent, as the live order row would show it."""

    client_order_id: str
    scan_id: str
    decided_at: datetime
    ticker: str
    side: str
    contracts: int | Decimal
    limit_price: Decimal
    decision_price: Decimal
    time_in_force: str
    model_id: str


@dataclass(frozen=True)
class ReplayResult:
    """What one replay produced: trades with the columns of `closed_trades`, every order,
    the capital curve (a mark per cycle and the final capital once every lot settled), the
    share of capital at risk per cycle, kill-switch trips and resets, and what was skipped."""

    trades: list[ClosedTrade]
    orders: list[ReplayedOrder]
    equity: list[tuple[float, Decimal]]
    exposure_share: list[float]
    risk_events: list[RiskEvent]
    cycles: int
    blocked_cycles: dict[str, int]
    skipped: dict[str, int]
    starting_capital: Decimal
    final_capital: Decimal


def replay(
    history: ReplayHistory,
    schedule: ModelSchedule,
    screen: Screenable,
    thresholds: StrategyThresholds,
    settings: ReplaySettings,
    window: tuple[float, float],
    thresholds_id: str = "",
) -> ReplayResult:
    """Replay every decision time in `window` = [start, end) under `thresholds`; lots still
    open at the end settle on their recorded results afterwards."""
    return _Replay(history, schedule, thresholds, settings, thresholds_id).run(screen, window)


class _Replay:
    def __init__(
        self,
        history: ReplayHistory,
        schedule: ModelSchedule,
        thresholds: StrategyThresholds,
        settings: ReplaySettings,
        thresholds_id: str,
    ) -> None:
        self.history = history
        self.schedule = schedule
        self.thresholds = thresholds
        self.settings = settings
        self.thresholds_id = thresholds_id
        self.account = Account(history, settings.starting_capital, settings.settlement_lag_s)
        self.switches = SwitchState(settings.limits)
        self.tape = TradeTape(history.trades, len(history.markets))
        self.schedules = schedules_of(history.series)
        self.fees = FeeBook(self.schedules)
        self.orders: list[ReplayedOrder] = []
        self.equity: list[tuple[float, Decimal]] = []
        self.exposure_share: list[float] = []
        self.blocked: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.scan_of_order: dict[str, OrderingScan] = {}
        self._idle: tuple[object, ...] | None = None
        self._last_verdict: str | None = None

    def run(self, screen: Screenable, window: tuple[float, float]) -> ReplayResult:
        quotes = self.history.quotes
        first, last = np.searchsorted(quotes.ts, window, side="left")
        times = quotes.ts[first:last]
        steps = times[np.r_[True, times[1:] != times[:-1]]] if len(times) else times
        rows = screen.survivors(self.thresholds)
        bounds = np.searchsorted(quotes.ts[rows], np.r_[steps, window[1]], side="left")
        segments = self.schedule.segment_of(steps)
        for index, ts in enumerate(steps.tolist()):
            version = segments[index]
            model = self.schedule.versions[version].model if version >= 0 else None
            self._cycle(ts, rows[bounds[index] : bounds[index + 1]], model, screen)
        self._finish(window[1])
        self.skipped.update(screen.skipped)
        return ReplayResult(
            trades=sorted(self.account.closed, key=lambda t: (t.closed_at, t.trade_id)),
            orders=self.orders,
            equity=self.equity,
            exposure_share=self.exposure_share,
            risk_events=list(self.switches.events),
            cycles=len(steps),
            blocked_cycles=dict(self.blocked),
            skipped={reason: n for reason, n in sorted(self.skipped.items()) if n},
            starting_capital=self.settings.starting_capital,
            final_capital=self.account.cash,
        )

    def _cycle(
        self, ts: float, rows: np.ndarray, model: WinProbabilityModel | None, screen: Screenable
    ) -> None:
        account, now = self.account, moment(ts)
        self._fill_resting(ts)
        account.settle_until(ts)
        capital = account.capital(ts)
        self.switches.mark(now, capital)
        self.equity.append((ts, capital))
        if model is None:
            self.skipped["cycles_without_model"] += 1
            return
        if self._idle_repeat(now, capital, rows):
            return
        scan_id = cycle_scan_id(self.history, ts, rows)
        groups = self.history.groups_of(scan_id)
        held = account.exposure_book(groups)
        self.exposure_share.append(float(held.total_exposure() / capital) if capital > 0 else 0.0)
        candidates: list[Candidate] = []
        quotes: dict[str, MarketQuote] = {}
        if len(rows) and not self.switches.paused(now):
            listed = market_quotes(self.history, rows)
            quotes = {q.ticker: q for q in listed}
            inputs = CycleInputs(
                listed, groups, self.history.series, self.fees, model, now,
                capital, self.thresholds, self.settings.limits.caps,
                self.settings.max_orders_per_cycle, screen.assessment(rows),
            )  # fmt: skip
            decision = decide_cycle(
                inputs, lambda chosen: self._depth(chosen, scan_id, rows), lambda _: held
            )
            candidates = decision.candidates
        proposed = _with_proposed(held, candidates, groups)
        oldest = min((quotes[c.ticker].quote_ts for c in candidates), default=None)
        verdicts = self.switches.verdicts(now, account.closed, proposed, oldest)
        failed = [v.check for v in verdicts if not v.passed]
        self._last_verdict = failed[0] if failed else None
        if failed:
            self.blocked[failed[0]] += 1
            return
        self._cancel_resting()
        self._send(candidates, quotes, scan_id, ts, model.model_id, rows)

    def _idle_repeat(self, now: datetime, capital: Decimal, rows: np.ndarray) -> bool:
        """A cycle with nothing to decide, hold or fill, whose switch inputs are those of the
        last such cycle (same capital, trades, fills, day and pauses): its verdicts, and so
        whether it is blocked, are the last ones, and recording them again would add no
        trip or reset. Most cycles of a quiet history are this."""
        account = self.account
        if len(rows) or account.open_markets() or account.resting:
            self._idle = None
            return False
        key = self.switches.state_key(now, capital, len(account.closed))
        if key != self._idle:
            self._idle = key
            return False
        self.exposure_share.append(0.0)
        if self._last_verdict is not None:
            self.blocked[self._last_verdict] += 1
        return True

    def _book(self, scan_id: str, row: int) -> OrderBook:
        return row_book(self.history, scan_id, row, self.settings.assumed_depth)

    def _depth(
        self, chosen: Sequence[Opportunity], scan_id: str, rows: np.ndarray
    ) -> DepthMap | None:
        """Depth within each taker order's limit, from the book of its row (makers: none)."""
        if self.settings.order_style != TAKER or not chosen:
            return None
        row_of = rows_by_ticker(self.history, rows)
        books = [self._book(scan_id, row_of[o.context.quote.ticker]) for o in chosen]
        return depth_within_limit(chosen, books, self.settings.limit_slippage_cents)

    def _send(
        self,
        candidates: list[Candidate],
        quotes: dict[str, MarketQuote],
        scan_id: str,
        ts: float,
        model_id: str,
        rows: np.ndarray,
    ) -> None:
        if not candidates:
            return
        now, row_of = moment(ts), rows_by_ticker(self.history, rows)
        scan = OrderingScan(now)
        sent = 0
        for candidate in candidates:
            row = row_of[candidate.ticker]
            try:
                intent = order_intent(
                    scan_id, candidate.ticker, candidate.side, candidate.contracts,
                    candidate.price, candidate.price_levels, style=self.settings.order_style,
                    limit_slippage_cents=self.settings.limit_slippage_cents,
                )  # fmt: skip
            except OffTick:
                self.skipped["orders_off_tick"] += 1
                continue
            quote_ts = quotes[candidate.ticker].quote_ts
            if entry_gate(None, quote_ts, now, self.settings.limits.max_quote_age):
                self.skipped["orders_dropped_stale_quote"] += 1
                continue
            sent += 1
            self._record_order(intent, candidate, scan_id, now, model_id)
            market = int(self.history.quotes.market[row])
            schedule = self._schedule(market)
            book = self._book(scan_id, row)
            if self.settings.order_style == MAKER:
                ahead = queue_ahead(intent.limit_price, intent.side, book)
                self.account.resting.append(
                    RestingOrder(intent, market, candidate.group_id, schedule, ts, ahead)
                )
                self.scan_of_order[intent.client_order_id] = scan
                continue
            asks = slipped_asks(
                book, intent.side, self.settings.slippage_ticks, candidate.price_levels
            )
            fills = paper_fills(intent, asks, schedule, now)
            self._record_fills(fills, market, candidate.group_id, scan)
        if sent:
            self.switches.ordering_scans.append(scan)

    def _record_order(
        self,
        intent: OrderIntent,
        candidate: Candidate,
        scan_id: str,
        now: datetime,
        model_id: str,
    ) -> None:
        self.account.contexts[intent.client_order_id] = OrderContext(
            client_order_id=intent.client_order_id,
            scan_id=scan_id,
            model_id=model_id,
            thresholds_id=self.thresholds_id,
            decision_price=candidate.price,
            win_probability=candidate.win_probability,
            family=candidate.family,
            group_id=candidate.group_id,
        )
        self.orders.append(
            ReplayedOrder(
                intent.client_order_id,
                scan_id,
                now,
                intent.ticker,
                intent.side,
                intent.contracts,
                intent.limit_price,
                candidate.price,
                intent.time_in_force,
                model_id,
            )
        )

    def _record_fills(
        self, fills: list[Fill], market: int, group_id: str, scan: OrderingScan
    ) -> None:
        """Fills into the account, and into what the slippage and no-fill switches read."""
        self.account.record_fills(fills, market, group_id)
        for fill in fills:
            context = self.account.contexts[fill.client_order_id or ""]
            self.switches.fill_prices.append(
                (fill.created_time, fill.fill_id, fill.price, context.decision_price)
            )
            scan.filled += fill.contracts

    def _fill_resting(self, ts: float) -> None:
        """Resting orders fill from the prints up to now (never after their market closed)."""
        close = self.history.markets.close_ts
        for order in self.account.resting:
            fills = self.tape.fill(order, min(ts, float(close[order.market])))
            if fills:
                scan = self.scan_of_order[order.intent.client_order_id]
                self._record_fills(fills, order.market, order.group_id, scan)

    def _cancel_resting(self) -> None:
        """A new cycle cancels what earlier cycles left resting before it sends its own."""
        self.account.resting = []

    def _schedule(self, market: int) -> FeeSchedule:
        series = str(self.history.markets.series_ticker[market])
        return schedule_for(self.schedules, series)

    def _finish(self, end: float) -> None:
        """After the last cycle: resting orders fill until the window ends and are cancelled,
        every open lot settles on its recorded result, and the final capital is marked."""
        self._fill_resting(end)
        self._cancel_resting()
        self.account.settle_until(np.inf)
        last = self.equity[-1][0] if self.equity else end
        self.equity.append((max(end, last), self.account.cash))


def _with_proposed(
    book: ExposureBook, candidates: list[Candidate], groups: ScanGroups
) -> ExposureBook:
    """Held exposure plus this cycle's proposed orders, as the exposure switches see it."""
    proposed = tuple(
        Holding(
            c.ticker,
            c.event_ticker,
            groups.of_holding(c.ticker, c.event_ticker, c.group_id),
            c.side,
            c.contracts,
            c.cost,
        )
        for c in candidates
    )
    return ExposureBook((*book.holdings, *proposed), book.mutually_exclusive_events)
