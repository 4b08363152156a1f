"""The trade log CSV: created with its header on first use, rebuilt only when something was
lost or damaged."""

import pandas as pd

from flb_pipeline.reports.exports import TRADE_LOG_COLUMNS, sync_trade_log

TRADE = {
    "trade_id": "t1", "ticker": "KXHIGHNY-26MAR02-B45", "family": "weather_new_york",
    "group_id": "g1", "side": "yes", "entry_price": "0.9000", "decision_price": "0.9000",
    "contracts": "10", "fees": "0.0700", "slippage_bps": "0", "result": "win",
    "gross_pnl": "1.0000", "net_pnl": "0.9300", "opened_at": "2026-03-02T15:00:00+00:00",
    "closed_at": "2026-03-02T18:00:00+00:00", "holding_period_s": "10800",
    "model_id": "m1", "scan_id": "s1",
}  # fmt: skip


def test_the_first_write_with_no_trade_yet_creates_the_header_and_is_no_rebuild(tmp_path):
    log = tmp_path / "exports" / "trades_log.csv"
    update = sync_trade_log(log, pd.DataFrame(columns=list(TRADE_LOG_COLUMNS)))
    assert (update.rebuilt, update.appended) == (False, 0)
    assert log.read_text().splitlines() == [",".join(TRADE_LOG_COLUMNS)]


def test_a_missing_log_while_trades_exist_is_rebuilt_from_the_table(tmp_path):
    log = tmp_path / "exports" / "trades_log.csv"
    update = sync_trade_log(log, pd.DataFrame([TRADE]))
    assert (update.rebuilt, update.reason, update.appended) == (True, "missing", 1)
    assert pd.read_csv(log, dtype=str)["trade_id"].tolist() == ["t1"]
