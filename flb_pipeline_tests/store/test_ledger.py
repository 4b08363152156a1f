"""Closed-out markets against a real DuckDB file: what is recorded is what was replayed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flb_pipeline.core.ledger import build_ledger
from flb_pipeline.core.records import Fill, Settlement
from flb_pipeline.store import Store
from flb_pipeline.store.ledger import (
    append_fills,
    append_settlements,
    load_fills,
    load_settlements,
    markets_to_replay,
    record_closed_out_markets,
)

T0 = datetime(2026, 11, 29, 15, tzinfo=UTC)
PAPER = "paper"


def bought(fill_id: str, ticker: str, minutes: int) -> Fill:
    return Fill(
        fill_id, f"order-{fill_id}", f"cid-{fill_id}", ticker, "yes", "buy", 10, Decimal("0.90"),
        Decimal("0.07"), True, T0 + timedelta(minutes=minutes),
    )  # fmt: skip


def settled(ticker: str) -> Settlement:
    return Settlement(
        ticker, "E", "yes", 10, 0, Decimal("9"), Decimal(0), Decimal(10), T0 + timedelta(hours=1)
    )


def test_a_fill_landing_after_the_replay_still_brings_its_market_back(tmp_path):
    with Store(tmp_path / "flb.duckdb").connect() as con:
        append_fills(con, [bought("f1", "A", 0), bought("f2", "B", 0)], PAPER)
        append_settlements(con, [settled("A"), settled("B")], PAPER)
        replayed = markets_to_replay(con, PAPER)
        assert [m.ticker for m in replayed] == ["A", "B"]

        append_fills(con, [bought("f3", "A", 5)], PAPER)  # lands while A is being replayed
        assert record_closed_out_markets(con, PAPER, replayed, T0) == 2

        assert [m.ticker for m in markets_to_replay(con, PAPER)] == ["A"]


def test_a_market_holding_a_position_is_never_recorded_closed_out(tmp_path):
    with Store(tmp_path / "flb.duckdb").connect() as con:
        append_fills(con, [bought("f1", "A", 0)], PAPER)
        con.execute(
            "INSERT INTO positions VALUES ('paper', 'exchange:A', 'A', 'yes', 10, 9, 0.07,"
            " ?, NULL, NULL, NULL, NULL, 'exchange')",
            [T0],
        )
        assert record_closed_out_markets(con, PAPER, markets_to_replay(con, PAPER), T0) == 0
        assert [m.ticker for m in markets_to_replay(con, PAPER)] == ["A"]


def test_fractional_counts_are_stored_exactly_and_settle_to_the_hundredth(tmp_path):
    """0.30 + 0.45 contracts of a market that trades fractions, settled YES: the lot, the
    payout and the P&L are exact; whole counts come back as ints."""
    fills = [
        Fill("f1", "o1", "c1", "F", "yes", "buy", Decimal("0.30"), Decimal("0.50"),
             Decimal("0.01"), True, T0),
        Fill("f2", "o1", "c1", "F", "yes", "buy", Decimal("0.45"), Decimal("0.50"),
             Decimal("0.00"), True, T0 + timedelta(seconds=1)),
        bought("w1", "W", 0),
    ]  # fmt: skip
    payout = Settlement(
        "F", "E", "yes", Decimal("0.75"), 0, Decimal("0.375"), Decimal(0), Decimal("0.75"),
        T0 + timedelta(hours=1),
    )  # fmt: skip
    with Store(tmp_path / "flb.duckdb").connect() as con:
        append_fills(con, fills, PAPER)
        append_settlements(con, [payout], PAPER)
        stored = load_fills(con, PAPER, ["F", "W"])
        (settlement,) = load_settlements(con, PAPER, ["F"])
    counts = {f.fill_id: f.contracts for f in stored}
    assert counts == {"f1": Decimal("0.30"), "f2": Decimal("0.45"), "w1": 10}
    assert isinstance(counts["w1"], int) and settlement.yes_contracts == Decimal("0.75")
    ledger = build_ledger(stored, {}, [settlement])
    (trade,) = [t for t in ledger.closed_trades if t.ticker == "F"]
    assert trade.contracts == Decimal("0.75") and trade.cost == Decimal("0.3750")
    assert trade.gross_pnl == Decimal("0.3750") and trade.net_pnl == Decimal("0.3650")
