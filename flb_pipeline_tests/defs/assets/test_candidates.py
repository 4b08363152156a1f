"""correlation_groups and trade_candidates after a snapshot, through Dagster."""

import math
from decimal import Decimal

from flb_pipeline.demo import materialization_metadata
from flb_pipeline.store import Store
from flb_pipeline_tests.conftest import definitions_for

DECISION_ASSETS = [
    "market_snapshots",
    "correlation_groups",
    "strategy_thresholds",
    "trade_candidates",
]


def materialise_decision(defs):
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[__import__("dagster").AssetKey(name) for name in DECISION_ASSETS],
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        raise_on_error=False,
    )


def test_candidates_materialise_after_a_snapshot_with_a_readable_table(trading_sim, trading_db):
    result = materialise_decision(definitions_for(trading_sim.url, trading_db))
    assert result.success
    metadata = materialization_metadata(result, "trade_candidates")
    assert metadata["candidates"] > 0 and metadata["execution"] == "exchange"
    table = metadata["top_candidates"]
    assert table.splitlines()[0].startswith("| ticker | side | price | win_probability | edge")
    with Store(trading_db).connect() as con:
        rows = con.execute(
            "SELECT side, price, win_probability, fee, edge, contracts, cost, binding_cap,"
            " model_id, thresholds_id FROM trade_candidates"
        ).fetchall()
        (capital,) = con.execute("SELECT capital FROM capital_marks").fetchone()
    assert len(rows) == metadata["candidates"]
    for _side, price, q, fee, edge, contracts, cost, cap, model_id, thresholds_id in rows:
        assert price >= Decimal("0.85") and edge >= 0.01 and contracts > 0
        assert not math.isnan(q) and not math.isnan(edge)
        assert cost == contracts * price + fee and cost <= Decimal("0.05") * capital
        assert cap in {"kelly", "position_cap", "group_cap", "total_cap", "depth"}
        assert model_id.startswith("wpm-") and thresholds_id.startswith("thr-")


def test_exclusions_are_counted_with_their_reasons(trading_sim, trading_db):
    result = materialise_decision(definitions_for(trading_sim.url, trading_db))
    metadata = materialization_metadata(result, "trade_candidates")
    exclusions = metadata["exclusions"]
    assert exclusions["below_min_favourite_price"] > 100
    assert exclusions["no_book"] > 0  # one-sided books at the extremes
    total_sides = sum(exclusions.values()) + metadata["candidates"]
    assert total_sides >= metadata["markets"]


def test_groups_show_their_method_and_largest_groups(trading_sim, trading_db):
    defs = definitions_for(trading_sim.url, trading_db)
    result = materialise_decision(defs)
    metadata = materialization_metadata(result, "correlation_groups")
    assert metadata["method"] == "event+heuristic"
    assert "weather_california" in metadata["largest_groups"]
    with Store(trading_db).connect() as con:
        california = con.execute(
            "SELECT DISTINCT g.group_id FROM correlation_groups g JOIN market_snapshots s"
            " USING (scan_id, ticker) WHERE s.series_ticker IN ('KXHIGHLAX', 'KXHIGHSFO')"
        ).fetchall()
    assert california == [("weather_california",)]


def test_decision_run_needs_a_model(simulator, db_path):
    result = materialise_decision(definitions_for(simulator.url, db_path))
    assert not result.success
    assert result.is_node_success("market_snapshots")
    messages = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert any("no win-probability model yet" in m for m in messages)
