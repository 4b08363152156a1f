"""Versioned schema migrations. Append a new `Migration`; never edit one that has shipped."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from flb_pipeline.store.bulk import transaction


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "ingestion: api calls, series, scans, market snapshots, settled history",
        """
        CREATE TABLE api_calls (
            called_at TIMESTAMPTZ NOT NULL,
            method VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            status INTEGER,
            latency_ms DOUBLE NOT NULL,
            error_class VARCHAR,
            attempt INTEGER NOT NULL
        );
        CREATE TABLE series (
            ticker VARCHAR PRIMARY KEY,
            title VARCHAR,
            category VARCHAR,
            fee_type VARCHAR NOT NULL,
            fee_multiplier DECIMAL(10, 4) NOT NULL,
            frequency VARCHAR,
            tags VARCHAR[],
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE scans (
            scan_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            pages INTEGER NOT NULL DEFAULT 0,
            markets INTEGER NOT NULL DEFAULT 0,
            invalid_records INTEGER NOT NULL DEFAULT 0,
            latency_ms DOUBLE,
            oldest_quote_ts TIMESTAMPTZ,
            error VARCHAR
        );
        CREATE TABLE market_snapshots (
            scan_id VARCHAR NOT NULL,
            snapshot_ts TIMESTAMPTZ NOT NULL,
            received_at TIMESTAMPTZ NOT NULL,
            ticker VARCHAR NOT NULL,
            event_ticker VARCHAR NOT NULL,
            series_ticker VARCHAR NOT NULL,
            title VARCHAR,
            category VARCHAR,
            status VARCHAR NOT NULL,
            yes_bid DECIMAL(10, 4),
            yes_ask DECIMAL(10, 4),
            no_bid DECIMAL(10, 4),
            no_ask DECIMAL(10, 4),
            last_price DECIMAL(10, 4),
            volume BIGINT,
            open_interest BIGINT,
            open_time TIMESTAMPTZ NOT NULL,
            close_time TIMESTAMPTZ NOT NULL,
            quote_ts TIMESTAMPTZ
        );
        CREATE TABLE settled_markets (
            ticker VARCHAR PRIMARY KEY,
            event_ticker VARCHAR NOT NULL,
            series_ticker VARCHAR NOT NULL,
            category VARCHAR,
            open_time TIMESTAMPTZ NOT NULL,
            close_time TIMESTAMPTZ NOT NULL,
            result VARCHAR NOT NULL,
            last_price DECIMAL(10, 4),
            fetched_at TIMESTAMPTZ NOT NULL,
            prices_fetched_at TIMESTAMPTZ
        );
        CREATE TABLE settled_prices (
            ticker VARCHAR NOT NULL,
            period_end TIMESTAMPTZ NOT NULL,
            yes_bid DECIMAL(10, 4),
            yes_ask DECIMAL(10, 4),
            last_price DECIMAL(10, 4),
            PRIMARY KEY (ticker, period_end)
        );
        CREATE TABLE history_fetches (
            fetched_at TIMESTAMPTZ NOT NULL,
            min_settled_ts BIGINT,
            markets INTEGER NOT NULL,
            price_points INTEGER NOT NULL
        );
        """,
    ),
    Migration(
        2,
        "decisions: events, models, correlation groups, thresholds, candidates, capital",
        """
        CREATE TABLE events (
            event_ticker VARCHAR PRIMARY KEY,
            series_ticker VARCHAR NOT NULL,
            title VARCHAR,
            mutually_exclusive BOOLEAN NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE win_probability_models (
            model_id VARCHAR PRIMARY KEY,
            fitted_at TIMESTAMPTZ NOT NULL,
            cold_start BOOLEAN NOT NULL,
            horizon_s DOUBLE NOT NULL,
            intercept DOUBLE NOT NULL,
            slope DOUBLE NOT NULL,
            slope_se DOUBLE NOT NULL,
            n_train INTEGER NOT NULL,
            n_test INTEGER NOT NULL,
            brier_model DOUBLE,
            brier_price DOUBLE,
            log_loss_model DOUBLE,
            log_loss_price DOUBLE,
            fit_json JSON NOT NULL,
            report_json JSON
        );
        CREATE TABLE correlation_groups (
            scan_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            group_id VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            PRIMARY KEY (scan_id, ticker)
        );
        CREATE TABLE strategy_thresholds (
            thresholds_id VARCHAR PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL,
            source VARCHAR NOT NULL,
            min_favourite_price DECIMAL(10, 4) NOT NULL,
            min_edge DOUBLE NOT NULL,
            kelly_fraction DOUBLE NOT NULL,
            min_seconds_to_close DOUBLE NOT NULL,
            max_seconds_to_close DOUBLE NOT NULL
        );
        CREATE TABLE trade_candidates (
            scan_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            event_ticker VARCHAR NOT NULL,
            family VARCHAR NOT NULL,
            group_id VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            price DECIMAL(10, 4) NOT NULL,
            win_probability DOUBLE NOT NULL,
            fee DECIMAL(18, 4) NOT NULL,
            edge DOUBLE NOT NULL,
            kelly_fraction DOUBLE NOT NULL,
            kelly_contracts INTEGER NOT NULL,
            contracts INTEGER NOT NULL,
            cost DECIMAL(18, 4) NOT NULL,
            binding_cap VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            thresholds_id VARCHAR NOT NULL,
            decided_at TIMESTAMPTZ NOT NULL,
            quote_ts TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scan_id, ticker, side)
        );
        CREATE TABLE candidate_exclusions (
            scan_id VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            sides INTEGER NOT NULL
        );
        CREATE TABLE capital_marks (
            marked_at TIMESTAMPTZ NOT NULL,
            scan_id VARCHAR,
            execution VARCHAR NOT NULL,
            balance DECIMAL(18, 4) NOT NULL,
            positions_value DECIMAL(18, 4) NOT NULL,
            capital DECIMAL(18, 4) NOT NULL
        );
        """,
    ),
    Migration(
        3,
        "execution: order books, orders, fills, settlements, positions, trades, risk",
        """
        CREATE TABLE order_books (
            scan_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            level INTEGER NOT NULL,
            price DECIMAL(10, 4) NOT NULL,
            contracts INTEGER NOT NULL,
            fetched_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scan_id, ticker, side, level)
        );
        CREATE TABLE orders (
            client_order_id VARCHAR PRIMARY KEY,
            order_id VARCHAR,
            execution VARCHAR NOT NULL,
            scan_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            event_ticker VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            contracts INTEGER NOT NULL,
            limit_price DECIMAL(10, 4) NOT NULL,
            decision_price DECIMAL(10, 4) NOT NULL,
            win_probability DOUBLE NOT NULL,
            family VARCHAR NOT NULL,
            group_id VARCHAR NOT NULL,
            time_in_force VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            filled_contracts INTEGER NOT NULL DEFAULT 0,
            fees DECIMAL(18, 4) NOT NULL DEFAULT 0,
            reject_code VARCHAR,
            reject_reason VARCHAR,
            model_id VARCHAR NOT NULL,
            thresholds_id VARCHAR NOT NULL,
            check_results JSON NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE fills (
            fill_id VARCHAR PRIMARY KEY,
            order_id VARCHAR NOT NULL,
            client_order_id VARCHAR,
            execution VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            contracts INTEGER NOT NULL,
            price DECIMAL(10, 4) NOT NULL,
            fee DECIMAL(18, 4) NOT NULL,
            is_taker BOOLEAN NOT NULL,
            created_time TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE settlements (
            ticker VARCHAR NOT NULL,
            execution VARCHAR NOT NULL,
            event_ticker VARCHAR,
            result VARCHAR NOT NULL,
            yes_contracts INTEGER NOT NULL,
            no_contracts INTEGER NOT NULL,
            yes_total_cost DECIMAL(18, 4) NOT NULL,
            no_total_cost DECIMAL(18, 4) NOT NULL,
            revenue DECIMAL(18, 4) NOT NULL,
            settled_time TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (ticker, execution)
        );
        CREATE TABLE positions (
            execution VARCHAR NOT NULL,
            order_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            side VARCHAR NOT NULL,
            contracts INTEGER NOT NULL,
            cost DECIMAL(18, 4) NOT NULL,
            fees DECIMAL(18, 4) NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            family VARCHAR,
            group_id VARCHAR,
            scan_id VARCHAR,
            model_id VARCHAR,
            source VARCHAR NOT NULL,
            PRIMARY KEY (execution, order_id)
        );
        CREATE TABLE closed_trades (
            trade_id VARCHAR PRIMARY KEY,
            execution VARCHAR NOT NULL,
            order_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            family VARCHAR,
            group_id VARCHAR,
            side VARCHAR NOT NULL,
            entry_price DECIMAL(10, 4) NOT NULL,
            decision_price DECIMAL(10, 4),
            contracts INTEGER NOT NULL,
            cost DECIMAL(18, 4) NOT NULL,
            fees DECIMAL(18, 4) NOT NULL,
            slippage_bps DOUBLE,
            result VARCHAR NOT NULL,
            gross_pnl DECIMAL(18, 4) NOT NULL,
            net_pnl DECIMAL(18, 4) NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            closed_at TIMESTAMPTZ NOT NULL,
            holding_period_s DOUBLE NOT NULL,
            model_id VARCHAR,
            scan_id VARCHAR,
            win_probability DOUBLE,
            close_kind VARCHAR NOT NULL
        );
        CREATE TABLE reconciliation_log (
            logged_at TIMESTAMPTZ NOT NULL,
            execution VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            ticker VARCHAR,
            local_value VARCHAR,
            exchange_value VARCHAR,
            action VARCHAR NOT NULL
        );
        CREATE TABLE risk_events (
            event_ts TIMESTAMPTZ NOT NULL,
            check_name VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            value DOUBLE,
            threshold DOUBLE,
            paused_until TIMESTAMPTZ,
            reason VARCHAR NOT NULL,
            run_id VARCHAR
        );
        CREATE TABLE risk_check_results (
            scan_id VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            check_name VARCHAR NOT NULL,
            passed BOOLEAN NOT NULL,
            value DOUBLE,
            threshold DOUBLE,
            paused_until TIMESTAMPTZ,
            reason VARCHAR NOT NULL,
            evaluated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scan_id, run_id, check_name)
        );
        """,
    ),
    Migration(
        4,
        "index snapshots by scan: every cycle reads its own scan out of a growing table",
        "CREATE INDEX market_snapshots_by_scan ON market_snapshots (scan_id);",
    ),
    Migration(
        5,
        "closed-out markets: the records each closed out with, replayed again only if they change",
        """
        CREATE TABLE closed_out_markets (
            execution VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            fills BIGINT NOT NULL,
            fill_digest UBIGINT NOT NULL,
            settlements BIGINT NOT NULL,
            closed_out_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (execution, ticker)
        );
        """,
    ),
    Migration(
        6,
        "api calls say whether the attempt ended its call; scans say which universe they paged",
        """
        ALTER TABLE api_calls ADD COLUMN final BOOLEAN NOT NULL DEFAULT TRUE;
        ALTER TABLE scans ADD COLUMN universe VARCHAR;
        """,
    ),
    Migration(
        7,
        "trust: scan quality results, last marks of held markets, order gate times",
        """
        CREATE TABLE scan_quality_checks (
            scan_id VARCHAR NOT NULL,
            check_name VARCHAR NOT NULL,
            passed BOOLEAN NOT NULL,
            description VARCHAR,
            run_id VARCHAR,
            evaluated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (scan_id, check_name)
        );
        CREATE TABLE market_marks (
            ticker VARCHAR PRIMARY KEY,
            event_ticker VARCHAR NOT NULL,
            yes_bid DECIMAL(10, 4),
            no_bid DECIMAL(10, 4),
            scan_id VARCHAR NOT NULL,
            quoted_at TIMESTAMPTZ NOT NULL
        );
        ALTER TABLE orders ADD COLUMN quote_ts TIMESTAMPTZ;
        ALTER TABLE orders ADD COLUMN sent_at TIMESTAMPTZ;
        """,
    ),
    Migration(
        9,
        "candidates carry their market's price grid",
        "ALTER TABLE trade_candidates ADD COLUMN price_levels VARCHAR;",
    ),
    Migration(
        10,
        "contract counts are fixed-point: hundredths where a market trades fractions",
        """
        ALTER TABLE orders ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        ALTER TABLE orders ALTER COLUMN filled_contracts TYPE DECIMAL(18, 2);
        ALTER TABLE fills ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        ALTER TABLE settlements ALTER COLUMN yes_contracts TYPE DECIMAL(18, 2);
        ALTER TABLE settlements ALTER COLUMN no_contracts TYPE DECIMAL(18, 2);
        ALTER TABLE positions ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        ALTER TABLE closed_trades ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        ALTER TABLE trade_candidates ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        ALTER TABLE trade_candidates ALTER COLUMN kelly_contracts TYPE DECIMAL(18, 2);
        ALTER TABLE order_books ALTER COLUMN contracts TYPE DECIMAL(18, 2);
        """,
    ),
    Migration(
        11,
        "win-probability models by horizon bucket: model_format says which code reads a row;"
        " rows of the one-horizon model (no format) are no longer read and count as no model",
        """
        ALTER TABLE win_probability_models ADD COLUMN model_format INTEGER;
        ALTER TABLE win_probability_models ADD COLUMN training_horizons_s DOUBLE[];
        ALTER TABLE win_probability_models ALTER COLUMN horizon_s DROP NOT NULL;
        ALTER TABLE win_probability_models ALTER COLUMN slope DROP NOT NULL;
        ALTER TABLE win_probability_models ALTER COLUMN slope_se DROP NOT NULL;
        """,
    ),
    Migration(
        12,
        "alerts sent, so a failure alerts once per reason",
        """
        CREATE TABLE alerts (
            alerted_at TIMESTAMPTZ NOT NULL,
            kind VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            message VARCHAR NOT NULL,
            run_id VARCHAR,
            run_created_ts DOUBLE
        );
        """,
    ),
    Migration(
        13,
        "Kalshi's current API: each snapshot keeps its market's price grid, fractional flag and"
        " fee waiver, volumes are fixed-point; settled markets keep their settlement time (it"
        " decides their tier); orders carry their order group; each cycle's order group, the"
        " exchange's trading state as the cycle read it, and scheduled fee changes; money to"
        " the millionth of a dollar (a fractional count at a sub-cent price costs that)",
        """
        ALTER TABLE trade_candidates ALTER COLUMN fee TYPE DECIMAL(20, 6);
        ALTER TABLE trade_candidates ALTER COLUMN cost TYPE DECIMAL(20, 6);
        ALTER TABLE capital_marks ALTER COLUMN balance TYPE DECIMAL(20, 6);
        ALTER TABLE capital_marks ALTER COLUMN positions_value TYPE DECIMAL(20, 6);
        ALTER TABLE capital_marks ALTER COLUMN capital TYPE DECIMAL(20, 6);
        ALTER TABLE orders ALTER COLUMN fees TYPE DECIMAL(20, 6);
        ALTER TABLE fills ALTER COLUMN fee TYPE DECIMAL(20, 6);
        ALTER TABLE settlements ALTER COLUMN yes_total_cost TYPE DECIMAL(20, 6);
        ALTER TABLE settlements ALTER COLUMN no_total_cost TYPE DECIMAL(20, 6);
        ALTER TABLE settlements ALTER COLUMN revenue TYPE DECIMAL(20, 6);
        ALTER TABLE positions ALTER COLUMN cost TYPE DECIMAL(20, 6);
        ALTER TABLE positions ALTER COLUMN fees TYPE DECIMAL(20, 6);
        ALTER TABLE closed_trades ALTER COLUMN cost TYPE DECIMAL(20, 6);
        ALTER TABLE closed_trades ALTER COLUMN fees TYPE DECIMAL(20, 6);
        ALTER TABLE closed_trades ALTER COLUMN gross_pnl TYPE DECIMAL(20, 6);
        ALTER TABLE closed_trades ALTER COLUMN net_pnl TYPE DECIMAL(20, 6);
        ALTER TABLE market_snapshots ADD COLUMN price_levels VARCHAR;
        ALTER TABLE market_snapshots ADD COLUMN fractional BOOLEAN;
        ALTER TABLE market_snapshots ADD COLUMN fee_waiver_expires TIMESTAMPTZ;
        DROP INDEX market_snapshots_by_scan;
        ALTER TABLE market_snapshots ALTER COLUMN volume TYPE DECIMAL(18, 2);
        ALTER TABLE market_snapshots ALTER COLUMN open_interest TYPE DECIMAL(18, 2);
        CREATE INDEX market_snapshots_by_scan ON market_snapshots (scan_id);
        ALTER TABLE settled_markets ADD COLUMN settled_at TIMESTAMPTZ;
        ALTER TABLE orders ADD COLUMN order_group_id VARCHAR;
        CREATE TABLE order_groups (
            order_group_id VARCHAR PRIMARY KEY,
            scan_id VARCHAR NOT NULL,
            contracts_limit DECIMAL(18, 2) NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        );
        CREATE TABLE exchange_states (
            scan_id VARCHAR PRIMARY KEY,
            read_at TIMESTAMPTZ NOT NULL,
            exchange_active BOOLEAN NOT NULL,
            trading_active BOOLEAN NOT NULL,
            resumes_at TIMESTAMPTZ,
            maintenance_windows VARCHAR NOT NULL
        );
        CREATE TABLE fee_changes (
            series_ticker VARCHAR NOT NULL,
            fee_type VARCHAR NOT NULL,
            fee_multiplier DECIMAL(10, 4) NOT NULL,
            scheduled_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (series_ticker, scheduled_at)
        );
        """,
    ),
    Migration(
        14,
        "backtests: other traders' recorded prints; threshold searches, their cells and trades",
        """
        CREATE TABLE market_trades (
            trade_id VARCHAR PRIMARY KEY,
            ticker VARCHAR NOT NULL,
            created_time TIMESTAMPTZ NOT NULL,
            yes_price DECIMAL(10, 4) NOT NULL,
            contracts DECIMAL(18, 2) NOT NULL,
            taker_side VARCHAR NOT NULL
        );
        CREATE INDEX market_trades_by_ticker ON market_trades (ticker, created_time);
        CREATE TABLE backtest_runs (
            run_id VARCHAR PRIMARY KEY,
            created_at TIMESTAMPTZ NOT NULL,
            range_start TIMESTAMPTZ NOT NULL,
            range_end TIMESTAMPTZ NOT NULL,
            grid VARCHAR NOT NULL,
            cells INTEGER NOT NULL,
            folds INTEGER NOT NULL,
            chosen_cell VARCHAR NOT NULL,
            adopted BOOLEAN NOT NULL,
            reason VARCHAR NOT NULL,
            tests JSON NOT NULL,
            pbo DOUBLE,
            deflated_sharpe DOUBLE,
            oos_return DOUBLE,
            oos_ci_low DOUBLE,
            oos_ci_high DOUBLE,
            thresholds_id VARCHAR,
            min_favourite_price DECIMAL(10, 4) NOT NULL,
            min_edge DOUBLE NOT NULL,
            kelly_fraction DOUBLE NOT NULL,
            min_seconds_to_close DOUBLE NOT NULL,
            max_seconds_to_close DOUBLE NOT NULL,
            order_style VARCHAR NOT NULL,
            skipped JSON NOT NULL,
            report_path VARCHAR
        );
        CREATE TABLE backtest_cells (
            run_id VARCHAR NOT NULL,
            cell_id VARCHAR NOT NULL,
            thresholds_id VARCHAR NOT NULL,
            order_style VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            trades INTEGER NOT NULL,
            net_pnl DOUBLE NOT NULL,
            net_return DOUBLE NOT NULL,
            sharpe DOUBLE,
            sortino DOUBLE,
            max_drawdown DOUBLE NOT NULL,
            hit_rate DOUBLE,
            turnover DOUBLE NOT NULL,
            capital_utilisation DOUBLE NOT NULL,
            bucket_net_bps JSON NOT NULL,
            kill_switch_trips INTEGER NOT NULL,
            PRIMARY KEY (run_id, cell_id)
        );
        CREATE TABLE backtest_trades (
            run_id VARCHAR NOT NULL,
            cell_id VARCHAR NOT NULL,
            fold INTEGER NOT NULL,
            trade_id VARCHAR NOT NULL,
            execution VARCHAR NOT NULL,
            order_id VARCHAR NOT NULL,
            ticker VARCHAR NOT NULL,
            family VARCHAR,
            group_id VARCHAR,
            side VARCHAR NOT NULL,
            entry_price DECIMAL(10, 4) NOT NULL,
            decision_price DECIMAL(10, 4),
            contracts DECIMAL(18, 2) NOT NULL,
            cost DECIMAL(20, 6) NOT NULL,
            fees DECIMAL(20, 6) NOT NULL,
            slippage_bps DOUBLE,
            result VARCHAR NOT NULL,
            gross_pnl DECIMAL(20, 6) NOT NULL,
            net_pnl DECIMAL(20, 6) NOT NULL,
            opened_at TIMESTAMPTZ NOT NULL,
            closed_at TIMESTAMPTZ NOT NULL,
            holding_period_s DOUBLE NOT NULL,
            model_id VARCHAR,
            scan_id VARCHAR,
            win_probability DOUBLE,
            close_kind VARCHAR NOT NULL,
            PRIMARY KEY (run_id, cell_id, trade_id)
        );
        """,
    ),
)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration the database has not had, in version order, each in its own
    transaction (by set, not by the highest version: branches may land out of order)."""
    applied = []
    current_version(con)
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        with transaction(con):
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (?, ?)",
                [migration.version, migration.description],
            )
        applied.append(migration.version)
    return applied
