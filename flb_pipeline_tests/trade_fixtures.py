"""Four hand-computed trades (fills, fees, outcomes known) shared by metric and summary tests.

    A  yes 100 @ 0.95  fee 0.34  wins   gross  5.00  net  4.66  weather / weather_newyork
    B  no   10 @ 0.90  fee 0.07  loses  gross -9.00  net -9.07  weather / weather_california
    C  yes  50 @ 0.88  fee 0.37  wins   gross  6.00  net  5.63  financials / financials_kxinx
    D  yes  20 @ 0.86  fee 0.17  wins   gross  2.80  net  2.63  financials / financials_kxinx
                                        (decided at 0.85: 117.65 bps of slippage)
Totals: cost 165.20, fees 0.95, gross 4.80, net 3.85 (233.05 bps).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flb_pipeline.core.ledger import ClosedTrade, OrderContext, build_ledger
from flb_pipeline.core.records import Fill, Settlement

D = Decimal
OPENED = datetime(2026, 3, 2, 15, tzinfo=UTC)  # 10:00 in New York

TRADES = [
    ("A", "yes", 100, "0.95", "0.34", "0.95", 0.97, "weather", "weather_newyork", "yes"),
    ("B", "no", 10, "0.90", "0.07", "0.90", 0.93, "weather", "weather_california", "yes"),
    ("C", "yes", 50, "0.88", "0.37", "0.88", 0.92, "financials", "financials_kxinx", "yes"),
    ("D", "yes", 20, "0.86", "0.17", "0.85", 0.90, "financials", "financials_kxinx", "yes"),
]


def fixture_trades() -> list[ClosedTrade]:
    fills, contexts, settlements = [], {}, []
    for n, (ticker, side, count, price, fee, decision, q, family, group, result) in enumerate(
        TRADES
    ):
        opened = OPENED + timedelta(minutes=n)
        fills.append(
            Fill(f"f{n}", f"o{n}", f"c{n}", ticker, side, "buy", count, D(price), D(fee), True,
                 opened)
        )  # fmt: skip
        contexts[f"c{n}"] = OrderContext(f"c{n}", "s", "m", "t", D(decision), q, family, group)
        settled_at = OPENED + timedelta(hours=1, minutes=n)
        settlements.append(Settlement(ticker, "E", result, 0, 0, D(0), D(0), D(0), settled_at))
    return build_ledger(fills, contexts, settlements).closed_trades
