"""trading_job through Dagster against the simulator: each kill switch trips on recorded state
and stops `order_submissions` in that run; the passing cycle sends its orders once."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import dagster as dg
import pytest

from flb_pipeline.core.ticks import PriceLevels
from flb_pipeline.demo import materialization_metadata
from flb_pipeline.exchange.simulator import SimulatorServer
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import (
    SLOW_PORTFOLIO,
    STRICT_QUOTE_AGE,
    TRADING_WORLD,
    SimControl,
    check_results,
    definitions_for,
    run_job,
    small_world,
)
from flb_pipeline_tests.defs import crash_cycle

UPSTREAM = ("market_snapshots", "correlation_groups", "strategy_thresholds", "trade_candidates")
KILL_SWITCHES = (
    "daily_loss", "loss_streak", "slippage", "error_burst", "stale_book", "no_fills",
    "correlation_breach", "exposure_limits",
)  # fmt: skip
BLOCKING_CHECKS = (*KILL_SWITCHES, "exchange_pause", "manual_halt")
LOOSE_RISK = {"daily_loss_dollars": 1e9, "daily_loss_fraction": 1.0}


def exchange_orders(control: SimControl) -> list[dict[str, Any]]:
    return control.http.get("/trade-api/v2/portfolio/orders", params={"limit": 1000}).json()[
        "orders"
    ]


def local_orders(db) -> list[tuple]:
    with Store(db).connect() as con:
        return con.execute(
            "SELECT client_order_id, scan_id, model_id, thresholds_id, status, check_results"
            " FROM orders ORDER BY client_order_id"
        ).fetchall()


def assert_blocked_by(result: dg.ExecuteInProcessResult, check: str) -> None:
    """The switch failed, no order step ran, and the decision path still materialised."""
    assert check_results(result)[check] is False
    assert result.asset_materializations_for_node("order_submissions") == []
    for asset in UPSTREAM:
        assert result.asset_materializations_for_node(asset), asset


def check_description(result: dg.ExecuteInProcessResult, check: str) -> dict[str, Any]:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def test_passing_cycle_sends_each_order_once_with_its_provenance(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db)
    result = run_job(defs, "trading_job")
    assert result.success
    assert all(check_results(result)[name] for name in BLOCKING_CHECKS)
    sent = materialization_metadata(result, "order_submissions")
    orders = local_orders(trading_db)
    at_exchange = exchange_orders(trading_control)
    assert sent["orders_sent"] == len(orders) == len(at_exchange) > 0
    assert {o["client_order_id"] for o in at_exchange} == {o[0] for o in orders}
    for _cid, scan_id, model_id, thresholds_id, status, checks in orders:
        assert scan_id and model_id.startswith("wpm-") and thresholds_id.startswith("thr-")
        assert status in {"executed", "canceled"}
        verdicts = json.loads(checks)
        assert set(verdicts) == set(BLOCKING_CHECKS) and all(v["passed"] for v in verdicts.values())
    assert materialization_metadata(result, "positions")["open_lots"] > 0


def test_failed_snapshot_quality_check_sends_no_order(trading_sim, trading_control, trading_db):
    trading_control.faults(crossed_book_rate=0.05)
    result = run_job(definitions_for(trading_sim.url, trading_db), "trading_job")
    assert check_results(result)["no_crossed_books"] is False
    assert result.asset_materializations_for_node("market_snapshots")
    assert result.asset_materializations_for_node("trade_candidates") == []
    assert result.asset_materializations_for_node("order_submissions") == []
    assert exchange_orders(trading_control) == [] and local_orders(trading_db) == []


def test_daily_loss_trips_on_losing_settlements(trading_sim, trading_control, trading_db):
    defs = definitions_for(trading_sim.url, trading_db)
    trading_control.faults(rig_settlements="against_positions")
    assert run_job(defs, "trading_job").success
    trading_control.advance(1500)  # every position's market closes and settles against us
    result = run_job(defs, "trading_job")
    assert_blocked_by(result, "daily_loss")
    details = check_description(result, "daily_loss")
    assert details["value"] <= details["threshold"] == -500.0
    next_ny_midnight = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert datetime.fromisoformat(details["paused_until"]) == next_ny_midnight


def test_loss_streak_pauses_four_hours_and_survives_a_restart(
    trading_sim, trading_control, trading_db
):
    risk = dict(LOOSE_RISK)
    trading_control.faults(rig_settlements="against_positions")
    assert run_job(definitions_for(trading_sim.url, trading_db, risk=risk), "trading_job").success
    trading_control.advance(1500)
    blocked = run_job(definitions_for(trading_sim.url, trading_db, risk=risk), "trading_job")
    assert_blocked_by(blocked, "loss_streak")
    paused_until = check_description(blocked, "loss_streak")["paused_until"]
    trading_control.faults(rig_settlements=None)

    trading_control.advance(2 * 3600)  # a fresh process: new Definitions, state only in DuckDB
    restarted = definitions_for(trading_sim.url, trading_db, risk=risk)
    still = run_job(restarted, "trading_job")
    assert_blocked_by(still, "loss_streak")
    assert check_description(still, "loss_streak")["paused_until"] == paused_until

    trading_control.advance(2 * 3600 + 60)
    lifted = run_job(definitions_for(trading_sim.url, trading_db, risk=risk), "trading_job")
    assert check_results(lifted)["loss_streak"] is True
    with Store(trading_db).connect() as con:
        kinds = con.execute(
            "SELECT kind FROM risk_events WHERE check_name = 'loss_streak' ORDER BY event_ts"
        ).fetchall()
    assert kinds == [("trip",), ("reset",)]


def test_slippage_trips_after_ten_fills_through_a_moving_book(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(
        trading_sim.url, trading_db, trading={"limit_slippage_cents": 2}, risk=LOOSE_RISK
    )
    trading_control.faults(adverse_move_cents=1)
    first = run_job(defs, "trading_job")
    assert first.success
    assert materialization_metadata(first, "order_submissions")["contracts_filled"] > 0
    trading_control.advance(30)
    second = run_job(defs, "trading_job")
    assert_blocked_by(second, "slippage")
    assert check_description(second, "slippage")["value"] > 50


def test_error_burst_trips_on_recorded_api_errors(trading_sim, trading_control, trading_db):
    """The switch counts calls that failed after their retries, not the attempts: 3 failed
    scans are 3 failed calls (of 4 attempts each), and the first run's read of the account's
    API tier failed too (remembered, not asked again): 4 failed calls over a limit of 2."""
    defs = definitions_for(trading_sim.url, trading_db, risk={"max_api_errors": 2})
    trading_control.faults(malformed_rate=1.0)
    for _ in range(3):
        assert not run_job(defs, "snapshot_job").success
    trading_control.faults(malformed_rate=0.0)
    result = run_job(defs, "trading_job")
    assert_blocked_by(result, "error_burst")
    assert check_description(result, "error_burst")["value"] == 4


def test_stale_book_trips_when_the_cycle_decides_on_aged_quotes(
    trading_sim, trading_control, trading_db
):
    """A quote is as old as the listing page that carried it; a cycle slowed down between
    the scan and its checks (here the exchange answers portfolio reads slowly) trips."""
    defs = definitions_for(trading_sim.url, trading_db, risk=STRICT_QUOTE_AGE)
    trading_control.faults(**SLOW_PORTFOLIO)
    result = run_job(defs, "trading_job")
    assert_blocked_by(result, "stale_book")
    assert check_description(result, "stale_book")["value"] > 1.0


def test_no_fills_trips_when_ordering_scans_fill_nothing(trading_sim, trading_control, trading_db):
    defs = definitions_for(trading_sim.url, trading_db, risk={"no_fill_scans": 3})
    trading_control.faults(partial_fill_ratio=0.0)
    for _ in range(3):
        result = run_job(defs, "trading_job")
        assert result.success
        assert materialization_metadata(result, "order_submissions")["contracts_filled"] == 0
        trading_control.advance(20)
    result = run_job(defs, "trading_job")
    assert_blocked_by(result, "no_fills")


BOLD_RISK = {"position_fraction": 0.3, "group_fraction": 0.9, "total_fraction": 0.95}


@pytest.mark.parametrize("check", ["correlation_breach", "exposure_limits"])
def test_exposure_switches_trip_on_positions_beyond_todays_caps(
    check, trading_sim, trading_control, trading_db
):
    """Positions bought under looser caps exceed today's: the switch blocks new entries."""
    bold = definitions_for(
        trading_sim.url, trading_db, risk=BOLD_RISK, trading={"max_orders_per_cycle": 30}
    )
    for _ in range(3):
        assert run_job(bold, "trading_job").success
        trading_control.advance(20)
    result = run_job(definitions_for(trading_sim.url, trading_db), "trading_job")
    assert_blocked_by(result, check)
    assert check_description(result, check)["value"] > check_description(result, check)["threshold"]


def test_manual_halt_is_its_own_check_and_the_switches_keep_their_state(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db)
    assert run_job(
        defs, "halt_job", run_config={"ops": {"set_manual_halt": {"config": {"reason": "fed day"}}}}
    ).success
    halted = run_job(defs, "trading_job")
    assert_blocked_by(halted, "manual_halt")
    assert all(check_results(halted)[name] for name in KILL_SWITCHES)
    assert "fed day" in check_description(halted, "manual_halt")["reason"]
    assert "fed day" not in check_description(halted, "error_burst")["reason"]
    assert exchange_orders(trading_control) == []
    assert run_job(defs, "resume_job").success
    resumed = run_job(defs, "trading_job")
    assert all(check_results(resumed)[name] for name in BLOCKING_CHECKS), check_results(resumed)
    assert resumed.success
    assert exchange_orders(trading_control)


def test_rejected_orders_keep_the_exchange_reason(trading_sim, trading_control, trading_db):
    trading_control.faults(reject_orders="insufficient_balance")
    result = run_job(definitions_for(trading_sim.url, trading_db), "trading_job")
    metadata = materialization_metadata(result, "order_submissions")
    assert metadata["rejected"] == {"insufficient_balance": metadata["orders_sent"]}
    statuses = {row[4] for row in local_orders(trading_db)}
    assert statuses == {"rejected"}


def test_post_timeout_is_resolved_by_client_order_id_never_resent(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(
        trading_sim.url, trading_db, exchange={"timeout_s": 0.5, "max_attempts": 2}
    )
    trading_control.faults(latency_ms=1200, **crash_cycle.HOLD_POSTS)
    result = run_job(defs, "trading_job")
    trading_control.faults(latency_ms=0)
    orders = local_orders(trading_db)
    at_exchange = exchange_orders(trading_control)
    assert len(orders) >= 1
    assert len(at_exchange) == len({o["client_order_id"] for o in at_exchange}) == len(orders)
    assert {o[4] for o in orders} <= {"executed", "canceled"}
    with Store(trading_db).connect() as con:
        posts = con.execute(
            "SELECT path, count(*) FROM api_calls WHERE method = 'POST'"
            " AND path LIKE '/portfolio/events/orders%' AND error_class = 'timeout' GROUP BY 1"
        ).fetchall()
    assert len(posts) == 1 and posts[0][1] == 2  # one create (batched when several), both
    assert result.success  # attempts timed out; every order was then found by its id


def test_live_trading_is_refused_with_what_is_missing(trading_sim, trading_db, monkeypatch):
    monkeypatch.delenv("FLB_LIVE_TRADING", raising=False)
    monkeypatch.delenv("KALSHI_API_KEY_ID", raising=False)
    defs = definitions_for(
        trading_sim.url, trading_db, exchange={"exchange": "prod", "execution": "exchange"}
    )
    result = run_job(defs, "trading_job")
    assert not result.success and result.asset_materializations_for_node("trade_candidates") == []
    messages = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert any(
        "FLB_LIVE_TRADING=I_UNDERSTAND" in m and "KALSHI_API_KEY_ID" in m
        and "KALSHI_PRIVATE_KEY_PATH" in m for m in messages
    )  # fmt: skip


def test_killed_between_post_and_record_then_rerun_leaves_exactly_one_order(
    trading_sim, trading_control, trading_db, tmp_path, monkeypatch
):
    """The process dies while the exchange is holding its answer to the POST; re-executing
    the failed run resolves the order by client_order_id and never sends it again."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("FLB_EXCHANGE_URL", trading_sim.url)
    monkeypatch.setenv("FLB_DB_PATH", str(trading_db))
    (tmp_path / "dagster_home").mkdir()
    crash_cycle.kill_mid_order(trading_control, lambda: bool(exchange_orders(trading_control)))
    assert len(exchange_orders(trading_control)) == 1
    assert [row[4] for row in local_orders(trading_db)] == ["pending"]

    instance = dg.DagsterInstance.get()
    (killed,) = instance.get_runs()
    instance.report_run_failed(killed)
    rerun = dg.execute_job(
        dg.reconstructable(crash_cycle.trading_job),
        instance=instance,
        reexecution_options=dg.ReexecutionOptions.from_failure(killed.run_id, instance),
    )
    assert rerun.success
    (order,) = exchange_orders(trading_control)
    ((cid, *_rest, status, _checks),) = local_orders(trading_db)
    assert cid == order["client_order_id"] and status == order["status"]
    with Store(trading_db).connect() as con:
        (local_filled,) = con.execute("SELECT sum(contracts) FROM fills").fetchone()
    assert local_filled == Decimal(order["fill_count_fp"])


def test_paper_execution_fills_against_the_recorded_book_and_sends_nothing(
    trading_sim, trading_control, trading_db
):
    defs = definitions_for(trading_sim.url, trading_db, exchange={"execution": "paper"})
    result = run_job(defs, "trading_job")
    assert result.success
    assert exchange_orders(trading_control) == []
    with Store(trading_db).connect() as con:
        fills = con.execute(
            "SELECT f.ticker, f.side, f.contracts, f.price, o.limit_price FROM fills f"
            " JOIN orders o USING (client_order_id) WHERE f.execution = 'paper'"
        ).fetchall()
        asks = dict(
            con.execute("SELECT ticker || side, min(price) FROM order_books GROUP BY 1").fetchall()
        )
    assert fills and all(price <= limit for *_, price, limit in fills)
    assert all(price >= asks[ticker + side] for ticker, side, _, price, _ in fills)

    trading_control.advance(1500)
    assert run_job(defs, "reconcile_job").success
    with Store(trading_db).connect() as con:
        trades = con.execute(
            "SELECT ticker, side, result, contracts, cost, net_pnl + fees FROM closed_trades"
            " WHERE execution = 'paper'"
        ).fetchall()
    assert trades
    for ticker, side, result, contracts, cost, gross in trades:
        truth = trading_control.http.get(f"/_sim/markets/{ticker}").json()["result"]
        assert result == ("win" if truth == side else "loss")
        assert gross == (contracts if result == "win" else 0) - cost


def test_maker_orders_rest_post_only_inside_the_spread(trading_sim, trading_control, trading_db):
    defs = definitions_for(trading_sim.url, trading_db, trading={"order_style": "maker"})
    result = run_job(defs, "trading_job")
    assert result.success
    at_exchange = exchange_orders(trading_control)
    assert at_exchange and {o["status"] for o in at_exchange} == {"resting"}
    with Store(trading_db).connect() as con:
        rows = con.execute(
            "SELECT o.limit_price, o.decision_price, o.time_in_force, o.status, c.price_levels"
            " FROM orders o JOIN trade_candidates c USING (scan_id, ticker, side)"
        ).fetchall()
    assert rows and all(
        limit == PriceLevels.from_text(levels).tick_below(decision)
        for limit, decision, _, _, levels in rows
    ), "one tick of the market's own grid inside the ask"
    assert {(tif, status) for _, _, tif, status, _ in rows} == {("good_till_canceled", "resting")}


def test_reconciliation_takes_the_exchange_position_and_logs_the_correction(
    trading_sim, trading_control, trading_db
):
    market = trading_control.api("/markets", status="open", limit=1000)["markets"][0]
    outside = {
        "ticker": market["ticker"], "side": "bid", "count": "3", "price": "0.9900",
        "client_order_id": "placed-by-hand", "time_in_force": "immediate_or_cancel",
        "self_trade_prevention_type": "taker_at_cross",
    }  # fmt: skip
    placed = trading_control.http.post("/trade-api/v2/portfolio/events/orders", json=outside)
    assert placed.status_code == 201
    result = run_job(definitions_for(trading_sim.url, trading_db), "reconcile_job")
    assert result.success
    assert materialization_metadata(result, "positions")["corrections"] == 0
    with Store(trading_db).connect() as con:
        (lots,) = con.execute(
            "SELECT count(*) FROM positions WHERE ticker = ? AND contracts = 3", [market["ticker"]]
        ).fetchone()
    assert lots == 1  # the fill itself explains the position: nothing to correct

    with Store(trading_db).connect() as con:  # a phantom local fill the exchange never made
        con.execute(
            "INSERT INTO fills SELECT 'phantom', order_id, client_order_id, execution, ticker,"
            " side, action, 5, price, fee, is_taker, created_time FROM fills LIMIT 1"
        )
    result = run_job(definitions_for(trading_sim.url, trading_db), "reconcile_job")
    assert result.success
    assert materialization_metadata(result, "positions")["corrections"] == 1
    with Store(trading_db).connect() as con:
        logged = con.execute(
            "SELECT kind, ticker, local_value, exchange_value, action FROM reconciliation_log"
        ).fetchall()
        held = con.execute(
            "SELECT contracts, source FROM positions WHERE ticker = ?", [market["ticker"]]
        ).fetchall()
        (phantoms,) = con.execute("SELECT count(*) FROM fills WHERE fill_id = 'phantom'").fetchone()
    assert logged == [
        ("fills", market["ticker"], "8", "1 fills", "dropped 1 unknown fill(s), added 0 missing")
    ]
    assert held == [(3, "ledger")] and phantoms == 0
    again = run_job(definitions_for(trading_sim.url, trading_db), "reconcile_job")
    assert materialization_metadata(again, "positions")["corrections"] == 0


def test_repeated_cycles_on_unchanged_markets_buy_each_target_once(trading_db):
    """Two cycles on the same quotes, caps loose enough that the Kelly target binds: what
    the first bought in full at its Kelly size is held at its target, so the second buys
    none of it again (orders trimmed by book depth may be topped up: they are below it).
    Books are deep here, so the Kelly target, not the depth, sizes most orders."""
    deep = small_world(**TRADING_WORLD, level_size_min=5000, level_size_max=8000)
    with SimulatorServer(deep) as exchange:
        defs = definitions_for(exchange.url, trading_db, risk=BOLD_RISK)
        first = run_job(defs, "trading_job")
        assert first.success
        second = run_job(defs, "trading_job")
        assert second.success
    first_scan = materialization_metadata(first, "order_submissions")["scan_id"]
    second_scan = materialization_metadata(second, "order_submissions")["scan_id"]
    with Store(trading_db).connect() as con:
        filled_in_full = set(
            con.execute(
                "SELECT o.ticker, o.side FROM orders o JOIN trade_candidates c"
                " USING (scan_id, ticker, side) WHERE o.scan_id = ? AND c.binding_cap = 'kelly'"
                " AND o.filled_contracts = o.contracts",
                [first_scan],
            ).fetchall()
        )
        bought_again = (
            set(
                con.execute(
                    "SELECT ticker, side FROM orders WHERE scan_id = ?", [second_scan]
                ).fetchall()
            )
            & filled_in_full
        )
    assert filled_in_full and not bought_again
    exclusions = materialization_metadata(second, "trade_candidates")["exclusions"]
    assert exclusions.get("zero_size_target_held", 0) >= len(filled_in_full) > 0


def test_a_reject_storm_trips_no_fills(trading_sim, trading_control, trading_db):
    """Scans whose orders were all rejected sent orders and got no fill: they count. (The
    rejections are failed API calls as well; error_burst is loosened to watch no_fills.)"""
    risk = {"no_fill_scans": 3, "max_api_errors": 1000}
    defs = definitions_for(trading_sim.url, trading_db, risk=risk)
    trading_control.faults(reject_orders="insufficient_balance")
    for _ in range(3):
        result = run_job(defs, "trading_job")
        assert result.success
        assert materialization_metadata(result, "order_submissions")["contracts_filled"] == 0
        trading_control.advance(20)
    assert_blocked_by(run_job(defs, "trading_job"), "no_fills")
