"""The win-probability model: fitted daily on settled history, versioned, never overwritten."""

from datetime import datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from flb_pipeline.core.calibration import (
    CalibrationFailed,
    CalibrationFit,
    CalibrationPrior,
    CalibrationReport,
    CalibrationSample,
    ReliabilityBucket,
    WinProbabilityModel,
    clean_sample,
    cold_start_fit,
    evaluate_calibration,
    fit_calibration,
    parse_reference_csv,
    prior_from_reference,
    time_split,
)
from flb_pipeline.core.families import market_family
from flb_pipeline.defs.assets.ingest import settled_history
from flb_pipeline.defs.resources import ClockResource, ReportsResource, StoreResource
from flb_pipeline.defs.session import DUCKDB_POOL
from flb_pipeline.reference import calibration_reference_text
from flb_pipeline.reports.plots import reliability_diagram
from flb_pipeline.store.models import calibration_frame, latest_model, save_model


class CalibrationConfig(dg.Config):
    horizon_minutes: float = 5.0
    test_fraction: float = 0.3
    min_points: int = 200
    min_bucket_n: int = 30
    min_family_n: int = 100


def reference_prior() -> CalibrationPrior:
    return prior_from_reference(parse_reference_csv(calibration_reference_text()))


@dg.asset(
    deps=[settled_history],
    pool=DUCKDB_POOL,
    group_name="model",
    kinds={"scipy", "duckdb"},
    description="Calibrated P(win) = logistic(a + b·logit(price) + family offset), versioned.",
)
def win_probability_model(
    context: dg.AssetExecutionContext,
    config: CalibrationConfig,
    store: StoreResource,
    clock: ClockResource,
    reports: ReportsResource,
) -> dg.MaterializeResult:
    fitted_at = clock.now()
    horizon_s = config.horizon_minutes * 60
    with store.store().connect() as con:
        frame = calibration_frame(con, horizon_s)
        previous = latest_model(con)
    if frame.empty:
        model = WinProbabilityModel(
            _model_id(fitted_at, context.run.run_id), cold_start_fit(reference_prior()), None,
            horizon_s,
        )  # fmt: skip
        context.log.warning("no settled history yet: cold start on the published prior")
        dropped = 0
    else:
        fit, report, dropped = _fit(context, frame, config, previous)
        model = WinProbabilityModel(
            _model_id(fitted_at, context.run.run_id), fit, report, horizon_s
        )
    with store.store().connect() as con:
        save_model(con, model, fitted_at)
    return dg.MaterializeResult(metadata=_model_metadata(model, dropped, reports.reports()))


def _fit(
    context: dg.AssetExecutionContext,
    frame: pd.DataFrame,
    config: CalibrationConfig,
    previous: WinProbabilityModel | None,
) -> tuple[CalibrationFit, CalibrationReport, int]:
    sample, dropped = clean_sample(_sample(frame))
    train, test = time_split(sample, config.test_fraction)
    try:
        fit = fit_calibration(train, reference_prior(), min_points=config.min_points)
    except CalibrationFailed as failure:
        kept = previous.model_id if previous else "none (trading stays blocked)"
        context.log.error(f"calibration failed: {failure.reason}; keeping model {kept}")
        raise dg.Failure(
            description=f"calibration failed: {failure.reason}; the previous model {kept} stays",
            metadata={"kept_model_id": kept, "settled_markets": len(sample)},
        ) from failure
    report = evaluate_calibration(
        fit, test, min_bucket_n=config.min_bucket_n, min_family_n=config.min_family_n
    )
    return fit, report, dropped


def _sample(frame: pd.DataFrame) -> CalibrationSample:
    return CalibrationSample(
        price=frame["price"].to_numpy(dtype=float),
        outcome=frame["outcome"].to_numpy(dtype=int),
        family=np.array(
            [
                market_family(_text(market), _text(series))
                for market, series in zip(frame["category"], frame["series_category"], strict=True)
            ],
            dtype=object,
        ),
        close_ts=frame["close_time"].map(pd.Timestamp.timestamp).to_numpy(dtype=float),
    )


def _text(value: object) -> str | None:
    """A nullable text column's value (pandas shows SQL NULL as NaN)."""
    return None if pd.isna(value) else str(value)


def _model_id(fitted_at: datetime, run_id: str) -> str:
    """A new version per fit, even of identical data: versions are never overwritten."""
    return f"wpm-{fitted_at:%Y%m%dT%H%M%S}-{run_id[:8]}"


def _model_metadata(
    model: WinProbabilityModel, dropped: int, reports_dir: Path
) -> dict[str, dg.MetadataValue]:
    fit, report = model.fit, model.report
    metadata: dict[str, dg.MetadataValue] = {
        "model_id": dg.MetadataValue.text(model.model_id),
        "cold_start": dg.MetadataValue.bool(model.cold_start),
        "intercept": dg.MetadataValue.float(round(fit.intercept, 4)),
        "slope": dg.MetadataValue.float(round(fit.slope, 4)),
        "slope_se": dg.MetadataValue.float(round(fit.slope_se, 4)),
        "family_offsets": dg.MetadataValue.json(
            {family: round(offset, 4) for family, offset in fit.family_offsets.items()}
        ),
        "n_train": dg.MetadataValue.int(fit.n_train),
        "dropped_points": dg.MetadataValue.int(dropped),
    }
    if report is None:
        metadata["note"] = dg.MetadataValue.text(
            "cold start: the published prior, nothing evaluated, nothing tradeable"
        )
        return metadata
    picture = reliability_diagram(
        report,
        reports_dir / "models" / f"{model.model_id}.png",
        f"Reliability, held-out ({model.model_id})",
    )
    metadata.update(_score_metadata(report))
    metadata["reliability"] = _reliability_table(report)
    metadata["reliability_diagram"] = dg.MetadataValue.path(str(picture.resolve()))
    return metadata


def _score_metadata(report: CalibrationReport) -> dict[str, dg.MetadataValue]:
    return {
        "n_test": dg.MetadataValue.int(report.n_test),
        "brier_model": dg.MetadataValue.float(round(report.brier_model or 0.0, 6)),
        "brier_price": dg.MetadataValue.float(round(report.brier_price or 0.0, 6)),
        "log_loss_model": dg.MetadataValue.float(round(report.log_loss_model or 0.0, 6)),
        "log_loss_price": dg.MetadataValue.float(round(report.log_loss_price or 0.0, 6)),
        "tradeable_buckets": dg.MetadataValue.text(
            ", ".join(
                f"{b.bucket_low_cents}-{b.bucket_high_cents}¢"
                for b in report.reliability
                if b.tradeable
            )
            or "none"
        ),
        "tradeable_families": dg.MetadataValue.text(
            ", ".join(s.family for s in report.families if s.tradeable) or "none"
        ),
    }


def _reliability_table(report: CalibrationReport) -> dg.MetadataValue:
    columns = ["bucket", "n", "mean_price", "win_rate", "ci_low", "ci_high", "model", "tradeable"]
    rows = [
        dg.TableRecord(
            {
                "bucket": _bucket_label(b),
                "n": b.n,
                "mean_price": _rounded(b.mean_price),
                "win_rate": _rounded(b.win_rate),
                "ci_low": _rounded(b.ci_low),
                "ci_high": _rounded(b.ci_high),
                "model": _rounded(b.model_prediction),
                "tradeable": b.tradeable,
            }
        )
        for b in report.reliability
    ]
    schema = dg.TableSchema(columns=[dg.TableColumn(name) for name in columns])
    return dg.MetadataValue.table(rows, schema=schema)


def _bucket_label(bucket: ReliabilityBucket) -> str:
    return f"{bucket.bucket_low_cents}-{bucket.bucket_high_cents}¢"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
