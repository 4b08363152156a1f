"""Parse the exchange's operational answers: V2 order results, order groups, the account's
API limits, trading status and schedule, scheduled fee changes and the historical cutoff."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flb_pipeline.core.fees import FeeChange
from flb_pipeline.core.records import (
    AccountLimits,
    ExchangeOrder,
    ExchangeState,
    MaintenanceWindow,
    OrderGroup,
    OrderIntent,
    RateBudget,
)
from flb_pipeline.exchange.errors import SchemaError
from flb_pipeline.exchange.fields import (
    Json,
    amount_in_range,
    decimal,
    fixed_point_count,
    mapping,
    optional_text,
    required,
    shown,
    text,
    timestamp,
    whole,
)

RESTING, EXECUTED, CANCELED = "resting", "executed", "canceled"
FEE_PLACES = Decimal("0.0001")


def created_order(intent: OrderIntent, obj: Json) -> ExchangeOrder:
    """A `CreateOrderV2Response` as the order it created. The answer carries counts and the
    average fee only: the status follows from them, and the fee is that average over the
    filled count to $0.0001 (each fill's exact fee arrives with the fills)."""
    filled = fixed_point_count(required(obj, "fill_count"), "fill_count")
    remaining = fixed_point_count(required(obj, "remaining_count"), "remaining_count")
    average_fee = obj.get("average_fee_paid")
    fees = Decimal(0)
    if average_fee is not None and filled:
        per_contract = amount_in_range(decimal(average_fee, "average_fee_paid"), "fee", average_fee)
        fees = (per_contract * Decimal(filled)).quantize(FEE_PLACES)
    done = EXECUTED if filled == intent.contracts else CANCELED
    status = RESTING if remaining else done
    ts_ms = obj.get("ts_ms")
    return ExchangeOrder(
        order_id=text(obj, "order_id"),
        client_order_id=optional_text(obj, "client_order_id") or intent.client_order_id,
        ticker=intent.ticker,
        side=intent.side,
        action=intent.action,
        status=status,
        limit_price=intent.limit_price,
        initial_contracts=intent.contracts,
        filled_contracts=filled,
        remaining_contracts=remaining,
        fees=fees,
        created_time=timestamp(ts_ms / 1000, "ts_ms") if isinstance(ts_ms, int) else None,
    )


def order_group(group_id: str, obj: Json, triggered: bool = False) -> OrderGroup:
    limit = obj.get("contracts_limit_fp")
    return OrderGroup(
        order_group_id=group_id,
        contracts_limit=fixed_point_count(limit, "contracts_limit_fp") if limit else 0,
        triggered=triggered,
    )


def account_limits(obj: Json) -> AccountLimits:
    return AccountLimits(
        usage_tier=text(obj, "usage_tier"),
        read=_budget(mapping(required(obj, "read"), "read"), "read"),
        write=_budget(mapping(required(obj, "write"), "write"), "write"),
    )


def _budget(obj: Json, name: str) -> RateBudget:
    refill = whole(required(obj, "refill_rate"), f"{name}.refill_rate")
    capacity = whole(required(obj, "bucket_capacity"), f"{name}.bucket_capacity")
    if refill <= 0 or capacity <= 0:
        raise SchemaError(f"field {name!r} has no tokens: {shown(dict(obj))}")
    return RateBudget(float(refill), float(capacity))


def exchange_state(obj: Json) -> ExchangeState:
    resumes = obj.get("exchange_estimated_resume_time")
    return ExchangeState(
        exchange_active=_boolean(obj, "exchange_active"),
        trading_active=_boolean(obj, "trading_active"),
        resumes_at=timestamp(resumes, "exchange_estimated_resume_time") if resumes else None,
    )


def maintenance_windows(obj: Json) -> list[MaintenanceWindow]:
    schedule = mapping(required(obj, "schedule"), "schedule")
    windows = required(schedule, "maintenance_windows")
    if not isinstance(windows, list):
        raise SchemaError("field 'maintenance_windows' is not a list")
    return [
        MaintenanceWindow(
            start=timestamp(required(w, "start_datetime"), "start_datetime"),
            end=timestamp(required(w, "end_datetime"), "end_datetime"),
        )
        for w in (mapping(item, "maintenance_windows") for item in windows)
    ]


def fee_changes(obj: Json) -> list[FeeChange]:
    changes = required(obj, "series_fee_change_arr")
    if not isinstance(changes, list):
        raise SchemaError("field 'series_fee_change_arr' is not a list")
    parsed = []
    for item in changes:
        change = mapping(item, "series_fee_change_arr")
        raw = required(change, "fee_multiplier")
        parsed.append(
            FeeChange(
                series_ticker=text(change, "series_ticker"),
                fee_type=text(change, "fee_type"),
                multiplier=amount_in_range(decimal(raw, "fee_multiplier"), "fee_multiplier", raw),
                scheduled_at=timestamp(required(change, "scheduled_ts"), "scheduled_ts"),
            )
        )
    return parsed


def historical_cutoff(obj: Json) -> datetime:
    """Markets settled before this are served only by the historical endpoints."""
    return timestamp(required(obj, "market_settled_ts"), "market_settled_ts")


def _boolean(obj: Json, field: str) -> bool:
    value = required(obj, field)
    if not isinstance(value, bool):
        raise SchemaError(f"field {field!r} is not a boolean: {shown(value)}")
    return value
