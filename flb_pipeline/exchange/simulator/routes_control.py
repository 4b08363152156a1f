"""Simulator control plane under /_sim (not part of Kalshi's API): clock, faults, reset,
API keys, trading pauses, and the hidden truth of a market for tests."""

from __future__ import annotations

import os
from typing import Any

from starlette.routing import Route

from flb_pipeline.exchange.simulator.config import ConfigError
from flb_pipeline.exchange.simulator.endpoints import Call, control_route
from flb_pipeline.exchange.simulator.errors import bad_request
from flb_pipeline.exchange.simulator.pauses import Pause
from flb_pipeline.exchange.simulator.units import iso, money_text
from flb_pipeline.exchange.simulator.world import ACTIVE, SETTLED, STATUS_NAMES


def _object(call: Call) -> dict[str, Any]:
    if not isinstance(call.payload, dict):
        raise bad_request("invalid_parameters", "the body must be a JSON object")
    return call.payload


def clock(call: Call) -> dict[str, Any]:
    now = call.state.exchange.now
    return {"now": iso(now), "now_ts": now, "mode": call.state.clock.mode}


def set_clock(call: Call) -> dict[str, Any]:
    """Switch mode and/or jump ahead; the jump is processed before answering."""
    body = _object(call)
    if "mode" in body:
        call.state.clock.set_mode(body["mode"])
    if "advance_seconds" in body:
        seconds = body["advance_seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ConfigError("advance_seconds must be a number")
        call.state.clock.advance(float(seconds))
    call.state.exchange.advance()
    return clock(call)


def faults(call: Call) -> dict[str, Any]:
    return call.state.exchange.faults.as_dict()


def set_faults(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    exchange.set_faults(exchange.faults.merged(_object(call)))
    return exchange.faults.as_dict()


def reset(call: Call) -> dict[str, Any]:
    state = call.state
    state.reset(state.base_config.merged(_object(call)))
    return {"reset": True, **clock(call)}


def register_key(call: Call) -> dict[str, Any]:
    body = _object(call)
    key_id, pem = body.get("key_id"), body.get("public_key_pem")
    if not isinstance(key_id, str) or not isinstance(pem, str):
        raise ConfigError("key_id and public_key_pem (strings) are required")
    call.state.keys.register(key_id, pem)
    return {"key_ids": call.state.keys.key_ids}


def pauses(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    return {
        "trading_active": exchange.trading_pause() is None,
        "pauses": [
            {"start": iso(p.start_ts), "end": iso(p.end_ts)}
            for p in exchange.pauses.upcoming(exchange.now)
        ],
    }


def schedule_pause(call: Call) -> dict[str, Any]:
    """Pause trading from `start_in_s` seconds from now (default 0) for `duration_s`."""
    body = _object(call)
    start_in, duration = body.get("start_in_s", 0), body.get("duration_s")
    numbers = (start_in, duration)
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        raise ConfigError("start_in_s and duration_s (seconds) are required numbers")
    if start_in < 0 or duration <= 0:
        raise ConfigError("start_in_s must be >= 0 and duration_s > 0")
    exchange = call.state.exchange
    start = exchange.now + float(start_in)
    exchange.schedule_pause(Pause(start, start + float(duration)))
    return pauses(call)


def market_truth(call: Call) -> dict[str, Any]:
    exchange = call.state.exchange
    market = exchange.market_index(call.path["ticker"])
    world = exchange.world
    probability, latent = world.truth(market, world.tick_at(exchange.now))
    result = exchange.result(market)
    body: dict[str, Any] = {
        "ticker": call.path["ticker"],
        "true_probability": probability,
        "latent": latent,
        "status": STATUS_NAMES[exchange.status(market)],
    }
    if result is not None:
        body["result"] = "yes" if result else "no"
    return body


def state_summary(call: Call) -> dict[str, Any]:
    """What the exchange holds, and the process serving it (so an operator can stop it)."""
    exchange = call.state.exchange
    codes = exchange.world.status_codes(exchange.now)
    account = exchange.account
    return {
        "pid": os.getpid(),
        "now": iso(exchange.now),
        "markets": exchange.world.market_count,
        "open_markets": int((codes == ACTIVE).sum()),
        "settled_markets": int((codes == SETTLED).sum()),
        "orders": len(account.orders),
        "resting_orders": len(account.resting_orders()),
        "fills": len(account.fills),
        "settlements": len(account.settlements),
        "positions": sum(1 for position in account.positions.values() if position.contracts),
        "balance": money_text(account.balance),
    }


ROUTES: list[Route] = [
    control_route("/clock", clock),
    control_route("/clock", set_clock, method="POST"),
    control_route("/faults", faults),
    control_route("/faults", set_faults, method="POST"),
    control_route("/reset", reset, method="POST"),
    control_route("/keys", register_key, method="POST"),
    control_route("/markets/{ticker}", market_truth),
    control_route("/pauses", pauses),
    control_route("/pauses", schedule_pause, method="POST"),
    control_route("/state", state_summary),
]
