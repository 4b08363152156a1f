"""Positions and closed trades, rebuilt from fills and settlements (DESIGN §5.1, §7).

Every entry order is one trade: it opens a lot (all its buy fills) and closes when its market
settles or when later sells consume it first-in-first-out. Rebuilding from the exchange's own
records, rather than keeping a running tally, makes the ledger idempotent: replaying the same
fills and settlements always gives the same positions and the same closed trades.

Money is exact: a lot's cost is the sum of contracts x price over its fills, fees are the
exchange's per-fill charges, settlement pays $1 per winning contract and charges nothing.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from flb_pipeline.core.fees import FeeLeg, FeeSchedule
from flb_pipeline.core.records import SIDES, Count, Fill, Settlement, Side, count_of

BASIS_POINTS = Decimal(10_000)
MONEY_PLACES = Decimal("0.0001")
SETTLEMENT, SALE = "settlement", "sale"
WIN, LOSS, VOID, SOLD = "win", "loss", "void", "sold"


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What we knew when we sent an order: the decision it came from."""

    client_order_id: str
    scan_id: str
    model_id: str
    thresholds_id: str
    decision_price: Decimal
    win_probability: float
    family: str
    group_id: str


@dataclass(frozen=True, slots=True)
class Lot:
    """The open remainder of one entry order."""

    order_id: str
    ticker: str
    side: Side
    contracts: Count
    cost: Decimal
    fees: Decimal
    opened_at: datetime
    context: OrderContext | None

    @property
    def entry_price(self) -> Decimal:
        return (self.cost / self.contracts).quantize(MONEY_PLACES)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    trade_id: str
    order_id: str
    ticker: str
    family: str
    group_id: str
    side: Side
    entry_price: Decimal
    decision_price: Decimal | None
    contracts: Count
    cost: Decimal
    fees: Decimal
    slippage_bps: float | None
    result: str
    gross_pnl: Decimal
    net_pnl: Decimal
    opened_at: datetime
    closed_at: datetime
    holding_period_s: float
    model_id: str | None
    scan_id: str | None
    win_probability: float | None
    close_kind: str


@dataclass(frozen=True, slots=True)
class Ledger:
    open_lots: list[Lot]
    closed_trades: list[ClosedTrade]
    markets: frozenset[str]
    """Every market the replay saw a fill or a settlement of."""

    @property
    def closed_out_markets(self) -> frozenset[str]:
        """Replayed markets with no lot left open: their trades are final until a fill or
        settlement of theirs changes (a market's lots never mix with another's)."""
        return self.markets - {lot.ticker for lot in self.open_lots}


def with_fees(fills: Iterable[Fill], schedule_of: Callable[[str], FeeSchedule]) -> list[Fill]:
    """Fills with every missing fee computed as the exchange charges it: per order, through
    the rounding accumulator, in fill order. Reported fees are kept as they are."""
    fills = list(fills)
    missing: dict[str, list[int]] = defaultdict(list)
    for index, fill in enumerate(fills):
        if fill.fee is None:
            missing[fill.order_id].append(index)
    for indices in missing.values():
        ordered = sorted(indices, key=lambda i: (fills[i].created_time, fills[i].fill_id))
        schedule = schedule_of(fills[ordered[0]].ticker)
        charges = schedule.order_fill_fees(
            FeeLeg(fills[i].contracts, fills[i].price, fills[i].is_taker, fills[i].action == "buy")
            for i in ordered
        )
        for index, charge in zip(ordered, charges, strict=True):
            fills[index] = replace(fills[index], fee=charge)
    return fills


def net_contracts(lots: Iterable[Lot]) -> dict[str, Count]:
    """Net position per market as the exchange reports it: YES positive, NO negative."""
    net: dict[str, Count] = defaultdict(int)
    for lot in lots:
        net[lot.ticker] += lot.contracts if lot.side == "yes" else -lot.contracts
    return {ticker: count_of(contracts) for ticker, contracts in net.items() if contracts}


def position_mismatches(
    local: Mapping[str, Count], exchange: Mapping[str, Count]
) -> list[tuple[str, Count, Count]]:
    """(ticker, ours, theirs) wherever our net contracts differ from the exchange's."""
    return [
        (ticker, local.get(ticker, 0), exchange.get(ticker, 0))
        for ticker in sorted(set(local) | set(exchange))
        if local.get(ticker, 0) != exchange.get(ticker, 0)
    ]


def paper_settlement(
    ticker: str, lots: Iterable[tuple[Side, Count, Decimal]], result: str, settled_time: datetime
) -> Settlement:
    """What the exchange would have paid on paper lots `(side, contracts, cost)`: $1 per
    contract of the winning side, no fee."""
    held = {side: [(n, cost) for s, n, cost in lots if s == side] for side in SIDES}

    def contracts(side: Side) -> Count:
        return count_of(sum(n for n, _ in held[side]))

    def cost(side: Side) -> Decimal:
        return sum((c for _, c in held[side]), Decimal(0))

    won = next((contracts(side) for side in SIDES if side == result), 0)
    return Settlement(
        ticker, "", result, contracts("yes"), contracts("no"), cost("yes"), cost("no"),
        Decimal(won), settled_time,
    )  # fmt: skip


def slippage_bps(fill_price: Decimal, decision_price: Decimal) -> float:
    """(fill - decision) / decision x 10,000 for a buy: positive is worse than decided. The
    strategy only buys (a sale is buying the other side), so there is no sell form."""
    return float((fill_price - decision_price) / decision_price * BASIS_POINTS)


def build_ledger(
    fills: Iterable[Fill],
    contexts: Mapping[str, OrderContext],
    settlements: Iterable[Settlement],
) -> Ledger:
    """Replay fills and settlements in time order. `contexts` is keyed by client_order_id."""
    book: dict[tuple[str, Side], deque[Lot]] = defaultdict(deque)
    closed: list[ClosedTrade] = []
    events = sorted(
        [(f.created_time, 0, f.fill_id, f) for f in fills]
        + [(s.settled_time, 1, s.ticker, s) for s in settlements],
        key=lambda event: event[:3],
    )
    for _, _, _, event in events:
        if isinstance(event, Fill):
            closed.extend(_apply_fill(book, event, contexts))
        else:
            closed.extend(_settle(book, event))
    open_lots = sorted(
        (lot for lots in book.values() for lot in lots),
        key=lambda lot: (lot.opened_at, lot.order_id),
    )
    markets = frozenset(event.ticker for _, _, _, event in events)
    return Ledger(open_lots, closed, markets)


def _apply_fill(
    book: dict[tuple[str, Side], deque[Lot]], fill: Fill, contexts: Mapping[str, OrderContext]
) -> list[ClosedTrade]:
    lots = book[(fill.ticker, fill.side)]
    if fill.action == "buy":
        _add_to_lot(lots, fill, contexts.get(fill.client_order_id or ""))
        return []
    return _sell(lots, fill)


def _add_to_lot(lots: deque[Lot], fill: Fill, context: OrderContext | None) -> None:
    for index, lot in enumerate(lots):
        if lot.order_id == fill.order_id:
            lots[index] = replace(
                lot,
                contracts=count_of(lot.contracts + fill.contracts),
                cost=lot.cost + fill.contracts * fill.price,
                fees=lot.fees + _fee(fill),
            )
            return
    lots.append(
        Lot(
            order_id=fill.order_id,
            ticker=fill.ticker,
            side=fill.side,
            contracts=fill.contracts,
            cost=fill.contracts * fill.price,
            fees=_fee(fill),
            opened_at=fill.created_time,
            context=context,
        )
    )


def _sell(lots: deque[Lot], fill: Fill) -> list[ClosedTrade]:
    """Close the oldest lots first; the sale's fee is shared by the contracts it closes."""
    closed: list[ClosedTrade] = []
    remaining = fill.contracts
    fee_left = _fee(fill)
    while remaining and lots:
        lot = lots[0]
        sold = min(remaining, lot.contracts)
        part, rest = _split(lot, sold)
        exit_fee = fee_left if sold == remaining else _share(_fee(fill), sold, fill.contracts)
        fee_left -= exit_fee
        closed.append(
            _closed(part, fill.created_time, sold * fill.price, exit_fee, SOLD, SALE, fill.fill_id)
        )
        remaining = count_of(remaining - sold)
        if rest is None:
            lots.popleft()
        else:
            lots[0] = rest
    return closed


def _settle(book: dict[tuple[str, Side], deque[Lot]], settlement: Settlement) -> list[ClosedTrade]:
    """Every open lot in the market closes: $1 per winning contract, nothing charged."""
    closed: list[ClosedTrade] = []
    for side in SIDES:
        lots = book.pop((settlement.ticker, side), deque())
        for lot in lots:
            closed.append(_settled(lot, settlement))
    return closed


def _settled(lot: Lot, settlement: Settlement) -> ClosedTrade:
    if settlement.result not in ("yes", "no"):
        return _closed(lot, settlement.settled_time, lot.cost, Decimal(0), VOID, SETTLEMENT, "")
    won = settlement.result == lot.side
    proceeds = Decimal(lot.contracts) if won else Decimal(0)
    result = WIN if won else LOSS
    return _closed(lot, settlement.settled_time, proceeds, Decimal(0), result, SETTLEMENT, "")


def _closed(
    lot: Lot,
    closed_at: datetime,
    proceeds: Decimal,
    exit_fees: Decimal,
    result: str,
    close_kind: str,
    closing_ref: str,
) -> ClosedTrade:
    gross = proceeds - lot.cost
    fees = lot.fees + exit_fees
    context = lot.context
    decision = context.decision_price if context else None
    return ClosedTrade(
        trade_id=f"{lot.order_id}:{close_kind}:{closing_ref or closed_at.isoformat()}",
        order_id=lot.order_id,
        ticker=lot.ticker,
        family=context.family if context else "",
        group_id=context.group_id if context else "",
        side=lot.side,
        entry_price=lot.entry_price,
        decision_price=decision,
        contracts=lot.contracts,
        cost=lot.cost,
        fees=fees,
        slippage_bps=slippage_bps(lot.cost / lot.contracts, decision) if decision else None,
        result=result,
        gross_pnl=gross,
        net_pnl=gross - fees,
        opened_at=lot.opened_at,
        closed_at=closed_at,
        holding_period_s=(closed_at - lot.opened_at).total_seconds(),
        model_id=context.model_id if context else None,
        scan_id=context.scan_id if context else None,
        win_probability=context.win_probability if context else None,
        close_kind=close_kind,
    )


def _split(lot: Lot, sold: Count) -> tuple[Lot, Lot | None]:
    """The sold part of a lot and what stays open, cost and fees shared pro rata exactly."""
    if sold == lot.contracts:
        return lot, None
    cost = _share(lot.cost, sold, lot.contracts)
    fees = _share(lot.fees, sold, lot.contracts)
    part = replace(lot, contracts=sold, cost=cost, fees=fees)
    left = count_of(lot.contracts - sold)
    rest = replace(lot, contracts=left, cost=lot.cost - cost, fees=lot.fees - fees)
    return part, rest


def _fee(fill: Fill) -> Decimal:
    """The ledger only ever sees fills whose fee is known (see `with_fees`)."""
    if fill.fee is None:
        raise ValueError(f"fill {fill.fill_id} has no fee: complete it with with_fees first")
    return fill.fee


def _share(amount: Decimal, part: Count, whole: Count) -> Decimal:
    """`amount × part / whole` to the ten-thousandth; the remainder stays with the rest."""
    return (amount * part / whole).quantize(MONEY_PLACES)
