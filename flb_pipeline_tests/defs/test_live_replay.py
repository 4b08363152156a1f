"""A live trading cycle and its replay on the same recorded data send the same orders.

Three paper trading cycles run through `trading_job` against the simulator; once their
markets have settled, the backtester replays the recorded scans (their books, groups, model
and capital) through the same decision path. Every order matches: market, side, count,
limit price and the scan it came from.
"""

from datetime import timedelta
from decimal import Decimal

from flb_pipeline.core.backtest import ReplaySettings, replay
from flb_pipeline.core.prescreen import screenable
from flb_pipeline.core.replay_models import ModelSchedule
from flb_pipeline.core.strategy import StrategyThresholds
from flb_pipeline.defs.resources import RiskResource
from flb_pipeline.store import Store
from flb_pipeline.store.history_export import SCANS, export_history, open_export, replay_history
from flb_pipeline.store.models import latest_model
from flb_pipeline_tests.conftest import SIM_START, definitions_for, run_job

CYCLES = 3
RISK = {"position_fraction": 0.08, "group_fraction": 0.3, "total_fraction": 0.6}
"""Caps loose enough that the marked-down positions of one cycle leave the next room to
trade (at the defaults the second cycle's exposure check blocks it: live and replay alike)."""


def live_orders(db) -> list[tuple]:
    with Store(db).connect() as con:
        return con.execute(
            "SELECT scan_id, ticker, side, CAST(contracts AS INTEGER),"
            " CAST(limit_price AS VARCHAR) FROM orders WHERE execution = 'paper'"
            " ORDER BY scan_id, ticker, side"
        ).fetchall()


def test_a_live_cycle_and_its_replay_send_the_same_orders(
    trading_sim, trading_control, trading_db, tmp_path
):
    defs = definitions_for(trading_sim.url, trading_db, exchange={"execution": "paper"}, risk=RISK)
    for _ in range(CYCLES):
        assert run_job(defs, "trading_job").success
        trading_control.advance(60)
    trading_control.advance(1_500)  # every traded market closes and settles
    assert run_job(defs, "history_job").success
    live = live_orders(trading_db)
    assert len({scan for scan, *_ in live}) == CYCLES and len(live) >= 3 * CYCLES

    store = Store(trading_db)
    with store.connect() as con:
        model = latest_model(con)
        export_history(
            con, tmp_path, SIM_START, SIM_START + timedelta(hours=1), SIM_START, store.archive_dir
        )
    history = replay_history(
        open_export(tmp_path), source=SCANS, step_s=60.0, training_horizons_s=(300.0,)
    )
    schedule = ModelSchedule.fixed(model)
    window = (SIM_START.timestamp(), (SIM_START + timedelta(hours=1)).timestamp())
    screen = screenable(history, schedule, *window)
    limits = RiskResource(**RISK).limits()
    settings = ReplaySettings(settlement_lag_s=0.0, limits=limits)
    result = replay(history, schedule, screen, StrategyThresholds(), settings, window)

    replayed = sorted(
        (o.scan_id, o.ticker, o.side, int(o.contracts), str(o.limit_price.normalize()))
        for o in result.orders
    )
    recorded = sorted((s, t, side, n, str(Decimal(p).normalize())) for s, t, side, n, p in live)
    assert replayed == recorded
    assert result.skipped.get("cycles_without_model", 0) == 0 and result.cycles == CYCLES
