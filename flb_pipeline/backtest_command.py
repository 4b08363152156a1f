"""`flb backtest`: a threshold search over the store's history, in this process, with a
progress bar; prints the summary and where the report is.

It runs the same steps as `backtest_job` (`defs.backtest_plan`) one after another and writes
nothing to the store: research from a terminal. Adopting thresholds is `backtest_job`'s
(its merge step records the verdict that `strategy_thresholds` reads).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tqdm import tqdm

from flb_pipeline.core.backtest import ReplaySettings
from flb_pipeline.core.threshold_search import GridCell, GridTooLarge, SearchSettings
from flb_pipeline.defs.assets.model import CalibrationConfig, reference_prior
from flb_pipeline.defs.backtest_plan import (
    Budget,
    events_of,
    export,
    fold_tasks,
    load_history,
    make_plan,
    merge,
    replay_fold,
    skipped_in,
)
from flb_pipeline.operations import cli_store, print_table
from flb_pipeline.reports.backtest import SCORE_HEADER, write_backtest_report
from flb_pipeline.reports.exports import write_json
from flb_pipeline.settings import Settings
from flb_pipeline.store.history_export import CANDLES, SCANS, market_directory, open_export

HOUR = 3_600.0
STRATEGIES = ("flb",)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "backtest",
        help="walk-forward threshold search over the store's history (nothing is adopted)",
    )
    parser.add_argument("--from", dest="first_day", required=True, help="first UTC day")
    parser.add_argument("--to", dest="last_day", required=True, help="last UTC day, included")
    parser.add_argument("--grid", choices=["small", "full"], default="small")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the verdict")
    parser.add_argument("--strategy", choices=STRATEGIES, default="flb")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--refit-hours", type=float, default=24.0)
    parser.add_argument("--period-hours", type=float, default=24.0, help="P&L period")
    parser.add_argument("--source", choices=[CANDLES, SCANS], default=CANDLES)
    parser.add_argument("--max-seconds", type=float, default=3_600.0, help="time budget")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        first, last = date.fromisoformat(args.first_day), date.fromisoformat(args.last_day)
    except ValueError as error:
        print(f"flb backtest: --from and --to must be YYYY-MM-DD: {error}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    store = cli_store(settings)
    run_id = f"cli-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    search = SearchSettings(
        folds=args.folds,
        refit_every_s=args.refit_hours * HOUR,
        pnl_period_s=args.period_hours * HOUR,
        replay=ReplaySettings(starting_capital=Decimal(10_000)),
        model=CalibrationConfig().settings(),
    )
    plan = make_plan(
        run_id=run_id, first_day=first, last_day=last, grid=args.grid, settings=search,
        source=args.source, step_s=60.0, lookback=timedelta(days=30),
        root=store.backtest_dir, budget=Budget(max_seconds=args.max_seconds, workers=1),
    )  # fmt: skip
    try:
        exported, estimate = export(plan, store)
    except GridTooLarge as refused:
        print(f"flb backtest: {refused}", file=sys.stderr)
        return 2
    print(f"history: {exported.rows['settled_markets']} settled markets,"
          f" {exported.rows['settled_prices']} candles; {estimate.describe()}")  # fmt: skip
    history = load_history(plan)
    with tqdm(total=len(plan.cells) * search.folds, desc="cells x folds", unit="cell") as bar:

        def advance(cell: GridCell) -> None:
            bar.update()

        everything = replace(plan, cells_per_step=len(plan.cells))
        outcomes = [
            replay_fold(everything, task, reference_prior(), history, advance)
            for task in fold_tasks(everything)
        ]
    merged = merge(plan, events_of(history))
    con = open_export(plan.export_dir)
    markets = market_directory(con)
    con.close()
    skipped = skipped_in(outcomes)
    report = write_backtest_report(
        Path(settings.reports_dir) / "backtests" / run_id, run_id=run_id,
        window=(plan.start, plan.end), cells=plan.cells, verdict=merged.verdict,
        results=merged.results, markets=markets, skipped=skipped,
        starting_capital=float(search.replay.starting_capital),
    )  # fmt: skip
    print_table(["figure", "value"], [list(row) for row in report.summary])
    print()
    print_table(SCORE_HEADER, [list(row) for row in report.score_rows])
    if skipped:
        print("\nskipped: " + ", ".join(f"{reason} {n}" for reason, n in skipped.items()))
    print(f"\nreport: {report.markdown_path} (and .html beside it)")
    if args.json:
        document = {"run_id": run_id, "verdict": merged.verdict, "skipped": skipped}
        write_json(Path(args.json), document)
        print(f"json: {args.json}")
    return 0
