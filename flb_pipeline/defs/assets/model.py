"""The win-probability model: fitted daily on settled history, versioned, never overwritten."""

from collections import Counter
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from flb_pipeline.core.calibration import (
    CalibrationFailed,
    CalibrationPrior,
    HorizonBuckets,
    WinProbabilityModel,
    cold_start_fit,
    parse_reference_csv,
    prior_from_reference,
)
from flb_pipeline.core.gate import CalibrationReport, EdgeCell, GateRules
from flb_pipeline.core.horizon_prices import HorizonCount, PriceTolerance
from flb_pipeline.core.model_fit import ModelSettings, fit_model, horizon_quotes
from flb_pipeline.defs.assets.ingest import settled_history
from flb_pipeline.defs.resources import ClockResource, ReportsResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.reference import calibration_reference_text
from flb_pipeline.reports.plots import edge_heatmap, reliability_diagram
from flb_pipeline.store.models import calibration_frame, latest_model, save_model


class CalibrationConfig(dg.Config):
    """Training prices at `horizons_minutes` before each close; slopes per horizon bucket split
    at `horizon_bucket_edges_hours`; a candle may be `tolerance_fraction` of its horizon old
    (at least `min_tolerance_minutes`). The gate: `min_cell_points` held-out points from
    `min_cell_events` events per cell, false-discovery rate `fdr`."""

    horizons_minutes: list[float] = Field(
        default_factory=lambda: [5.0, 30.0, 180.0, 720.0, 4_320.0, 20_160.0]
    )
    horizon_bucket_edges_hours: list[float] = Field(default_factory=lambda: [1.0, 6.0, 24.0, 168.0])
    tolerance_fraction: float = 0.1
    min_tolerance_minutes: float = 2.0
    test_fraction: float = 0.3
    min_points: int = 200
    min_cell_points: int = 100
    min_cell_events: int = 30
    fdr: float = 0.05

    def horizons_s(self) -> tuple[float, ...]:
        return tuple(minutes * 60 for minutes in self.horizons_minutes)

    def buckets(self) -> HorizonBuckets:
        return HorizonBuckets(tuple(hours * 3600 for hours in self.horizon_bucket_edges_hours))

    def rules(self) -> GateRules:
        return GateRules(self.min_cell_points, self.min_cell_events, self.fdr)

    def settings(self) -> ModelSettings:
        tolerance = PriceTolerance(self.tolerance_fraction, self.min_tolerance_minutes * 60)
        return ModelSettings(
            self.horizons_s(), self.buckets(), tolerance, self.test_fraction, self.min_points,
            self.rules(),
        )  # fmt: skip


EDGE_ONLY_GATE = {"fdr": 1.0, "min_cell_points": 30, "min_cell_events": 20}
"""Gate settings that show the mechanics on a small simulated history (the demo, tests of the
trading path): a few hundred settled events cannot prove an edge per cell, so false-discovery
control is off and a cell passes on the model's own net-edge bound. Never for real money."""


def calibration_run_config(gate: dict[str, float]) -> dict[str, object]:
    """`calibration_job` run config with these gate settings."""
    return {"ops": {"win_probability_model": {"config": gate}}}


def reference_prior() -> CalibrationPrior:
    return prior_from_reference(parse_reference_csv(calibration_reference_text()))


@dg.asset(
    deps=[settled_history],
    pool=DUCKDB_POOL,
    group_name="model",
    kinds={"scipy", "duckdb"},
    description=(
        "Calibrated P(win) = logistic(a + (b[horizon] + family slope)·logit(price) + family"
        " offset), versioned, with the out-of-sample gate and net edge per cell."
    ),
)
def win_probability_model(
    context: dg.AssetExecutionContext,
    config: CalibrationConfig,
    store: StoreResource,
    clock: ClockResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    fitted_at = clock.now()
    model_id = _model_id(fitted_at, context.run.run_id)
    with store.store().connect() as con:
        frame = calibration_frame(con, config.horizons_s())
        previous = latest_model(con)
    counts: list[HorizonCount] = []
    dropped = 0
    if frame.empty:
        fit = cold_start_fit(reference_prior(), config.buckets())
        model = WinProbabilityModel(model_id, fit, None, config.horizons_s())
        context.log.warning("no settled history yet: cold start on the published prior")
    else:
        model, counts, dropped = _fit(context, frame, config, previous, model_id)
        _log_skips(context, counts)
    with store.store().connect() as con:
        save_model(con, model, fitted_at)
    return dg.MaterializeResult(metadata=_model_metadata(model, counts, dropped, reports.reports()))


def _fit(
    context: dg.AssetExecutionContext,
    frame: pd.DataFrame,
    config: CalibrationConfig,
    previous: WinProbabilityModel | None,
    model_id: str,
) -> tuple[WinProbabilityModel, list[HorizonCount], int]:
    try:
        fitted = fit_model(horizon_quotes(frame), config.settings(), reference_prior(), model_id)
    except CalibrationFailed as failure:
        kept = previous.model_id if previous else "none (trading stays blocked)"
        context.log.error(f"calibration failed: {failure.reason}; keeping model {kept}")
        raise dg.Failure(
            description=f"calibration failed: {failure.reason}; the previous model {kept} stays",
            metadata={"kept_model_id": kept},
        ) from failure
    return fitted.model, fitted.counts, fitted.dropped


def _log_skips(context: dg.AssetExecutionContext, counts: list[HorizonCount]) -> None:
    gaps = sum(c.gaps for c in counts)
    missing = sum(c.missing_prices for c in counts)
    if gaps or missing:
        context.log.warning(
            f"skipped {gaps} horizon price(s) at a gap in the candles and {missing} without a"
            " two-sided candle (never interpolated); per horizon in `horizon_prices`"
        )


def _model_id(fitted_at: datetime, run_id: str) -> str:
    """A new version per fit, even of identical data: versions are never overwritten."""
    return f"wpm-{fitted_at:%Y%m%dT%H%M%S}-{run_id[:8]}"


def _model_metadata(
    model: WinProbabilityModel, counts: list[HorizonCount], dropped: int, reports_dir: Path
) -> dict[str, dg.MetadataValue]:
    fit, report = model.fit, model.report
    metadata: dict[str, dg.MetadataValue] = {
        "model_id": dg.MetadataValue.text(model.model_id),
        "cold_start": dg.MetadataValue.bool(model.cold_start),
        "intercept": dg.MetadataValue.float(round(fit.intercept, 4)),
        "horizon_slopes": _slopes_table(model),
        "family_terms": dg.MetadataValue.json(
            {
                family: {
                    "offset": round(offset, 4),
                    "slope_shift": round(fit.family_slopes[family], 4),
                }
                for family, offset in fit.family_offsets.items()
            }
        ),
        "n_train": dg.MetadataValue.int(fit.n_train),
        "n_train_events": dg.MetadataValue.int(fit.n_events),
        "dropped_points": dg.MetadataValue.int(dropped),
        "horizon_prices": _counts_table(counts),
    }
    if report is None:
        metadata["note"] = dg.MetadataValue.text(
            "cold start: the published prior, nothing evaluated, nothing tradeable"
        )
        return metadata
    folder = reports_dir / "models"
    diagram = reliability_diagram(
        report, folder / f"{model.model_id}.png", f"Reliability, held-out ({model.model_id})"
    )
    heatmap = edge_heatmap(
        report, folder / f"{model.model_id}-edge.png", f"Held-out net edge ({model.model_id})"
    )
    metadata.update(_score_metadata(report))
    metadata["reliability"] = _reliability_table(report)
    metadata["reliability_diagram"] = dg.MetadataValue.path(str(diagram.resolve()))
    metadata["edge_cells"] = _edge_table(report)
    metadata["edge_heatmap"] = dg.MetadataValue.path(str(heatmap.resolve()))
    metadata["edge_summary"] = dg.MetadataValue.text(edge_summary(report))
    return metadata


def _slopes_table(model: WinProbabilityModel) -> dg.MetadataValue:
    fit = model.fit
    rows = [
        dg.TableRecord({"horizon": label, "slope": round(slope, 4), "se": round(se, 4),
                        "train_points": points})
        for label, slope, se, points in zip(
            fit.horizons.labels(), fit.horizon_slopes, fit.horizon_slope_ses, fit.horizon_points,
            strict=True,
        )
    ]  # fmt: skip
    return _table(rows, ["horizon", "slope", "se", "train_points"])


def _counts_table(counts: list[HorizonCount]) -> dg.MetadataValue:
    rows = [
        dg.TableRecord({"horizon_minutes": round(c.horizon_s / 60, 2), "markets": c.markets,
                        "used": c.used, "gaps": c.gaps, "missing_prices": c.missing_prices})
        for c in counts
    ]  # fmt: skip
    return _table(rows, ["horizon_minutes", "markets", "used", "gaps", "missing_prices"])


def _table(rows: list[dg.TableRecord], columns: list[str]) -> dg.MetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name) for name in columns])
    return dg.MetadataValue.table(rows, schema=schema)


def _score_metadata(report: CalibrationReport) -> dict[str, dg.MetadataValue]:
    return {
        "n_test": dg.MetadataValue.int(report.n_test),
        "n_test_events": dg.MetadataValue.int(report.n_test_events),
        "brier_model": dg.MetadataValue.float(round(report.brier_model or 0.0, 6)),
        "brier_price": dg.MetadataValue.float(round(report.brier_price or 0.0, 6)),
        "log_loss_model": dg.MetadataValue.float(round(report.log_loss_model or 0.0, 6)),
        "log_loss_price": dg.MetadataValue.float(round(report.log_loss_price or 0.0, 6)),
        "cells_tested": dg.MetadataValue.int(sum(c.p_value is not None for c in report.cells)),
        "tradeable_cells": dg.MetadataValue.text(
            ", ".join(_cell_label(report, c) for c in report.tradeable_cells()) or "none"
        ),
    }


def _reliability_table(report: CalibrationReport) -> dg.MetadataValue:
    rows = [
        dg.TableRecord(
            {
                "bucket": f"{b.bucket_low_cents}-{b.bucket_high_cents}¢",
                "n": b.n,
                "mean_price": _rounded(b.mean_price),
                "win_rate": _rounded(b.win_rate),
                "ci_low": _rounded(b.ci_low),
                "ci_high": _rounded(b.ci_high),
                "model": _rounded(b.model_prediction),
            }
        )
        for b in report.reliability
    ]
    return _table(rows, ["bucket", "n", "mean_price", "win_rate", "ci_low", "ci_high", "model"])


EDGE_COLUMNS = [
    "bucket", "horizon", "family", "favourite", "n", "events", "model_edge_cents",
    "model_edge_se_cents", "realised_edge_cents", "realised_ci_low_cents",
    "realised_ci_high_cents", "p_value", "q_value", "tradeable", "reason",
]  # fmt: skip


def _edge_table(report: CalibrationReport) -> dg.MetadataValue:
    """Every cell with held-out data; edges in cents per contract, bought at the ask after
    the taker fee."""
    rows = [
        dg.TableRecord(
            {
                "bucket": f"{c.bucket_low_cents}-{c.bucket_low_cents + 5}¢",
                "horizon": report.horizon_labels[c.horizon],
                "family": c.family,
                "favourite": c.favourite,
                "n": c.n,
                "events": c.events,
                "model_edge_cents": _cents(c.model_edge),
                "model_edge_se_cents": _cents(c.model_edge_se),
                "realised_edge_cents": _cents(c.realised_edge),
                "realised_ci_low_cents": _cents(c.realised_edge_ci_low),
                "realised_ci_high_cents": _cents(c.realised_edge_ci_high),
                "p_value": _rounded(c.p_value),
                "q_value": _rounded(c.q_value),
                "tradeable": c.tradeable,
                "reason": c.reason,
            }
        )
        for c in report.cells
    ]
    return _table(rows, EDGE_COLUMNS)


def edge_summary(report: CalibrationReport) -> str:
    """Where the model finds edge and where not, in two lines for people."""
    tradeable = sorted(report.tradeable_cells(), key=lambda c: -c.model_edge)
    shown = ", ".join(
        f"{_cell_label(report, c)} ({c.model_edge * 100:+.1f}¢ model,"
        f" {c.realised_edge * 100:+.1f}¢ realised)"
        for c in tradeable[:3]
    )
    more = f" and {len(tradeable) - 3} more" if len(tradeable) > 3 else ""
    found = f"edge in {shown}{more}" if tradeable else "no edge anywhere: nothing is tradeable"
    control = (
        "false-discovery control OFF (fdr 1): edge shown, not proven"
        if report.fdr >= 1
        else f"improvement tested at fdr {report.fdr:g}"
    )
    reasons = Counter(c.reason for c in report.cells if not c.tradeable)
    elsewhere = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in reasons.most_common())
    return (
        f"{found} ({control})\n"
        f"not tradeable: {len(report.cells) - len(tradeable)} cells ({elsewhere or '-'})"
    )


def _cell_label(report: CalibrationReport, cell: EdgeCell) -> str:
    side = "YES" if cell.favourite == "yes" else "NO"
    low = cell.bucket_low_cents if cell.favourite == "yes" else 95 - cell.bucket_low_cents
    return f"{cell.family} {side} {low}-{low + 5}¢ {report.horizon_labels[cell.horizon]}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)
