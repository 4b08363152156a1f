"""The request pipeline shared by every route.

Kalshi API routes run: fault gate (429 burst, injected 500) -> rate limit (the tier's token
buckets) -> authentication (portfolio only) -> `exchange.advance()` -> handler ->
malformed-body fault -> latency fault. Latency is
applied after the handler so that a client which times out on `POST /portfolio/orders` has
still placed its order, exactly the case idempotent retries must survive. Control routes under
`/_sim` skip faults and auth. Handlers are plain functions of a `Call`; the single event loop
runs one at a time, so exchange state needs no locks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flb_pipeline.exchange.schema import API_PREFIX
from flb_pipeline.exchange.simulator.config import ConfigError
from flb_pipeline.exchange.simulator.errors import ApiError, TooManyRequests, bad_request
from flb_pipeline.exchange.simulator.faults import truncated
from flb_pipeline.exchange.simulator.ratelimit import REQUEST_COST
from flb_pipeline.exchange.simulator.state import SimulatorState

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler may read about one request."""

    state: SimulatorState
    params: Mapping[str, str]
    path: Mapping[str, str]
    payload: Any


Handler = Callable[[Call], dict[str, Any] | None]
TokenCost = Callable[[Any], float]
"""Tokens a request costs, from its JSON payload (batches cost per item)."""


def _ordinary(payload: Any) -> float:
    return REQUEST_COST


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    """Compact UTF-8 JSON via orjson: a 1,000-market page encodes in ~2 ms, not ~20."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def api_route(
    path: str,
    handler: Handler,
    *,
    method: str = "GET",
    private: bool = False,
    success: int = 200,
    cost: TokenCost = _ordinary,
) -> Route:
    """A Kalshi Trade API v2 route under /trade-api/v2, with faults, the rate limit and
    (optionally) auth. A handler that returns None answers `success` with no body."""

    async def endpoint(request: Request) -> Response:
        state: SimulatorState = request.app.state.sim
        faults, injected = state.injector.before_request(state.exchange.faults)
        state.exchange.set_faults(faults)
        if injected is None and not state.limiter.admit(method, await _tokens(request, cost)):
            injected = TooManyRequests()
        if injected is not None:
            response = json_response(injected.body(), injected.status)
        else:
            response = await _serve(request, handler, private, success)
        if response.status_code == success and state.injector.malformed(faults):
            response = Response(truncated(bytes(response.body)), media_type="application/json")
        delay = state.injector.latency_s(faults, method, path)
        if delay:
            await asyncio.sleep(delay)
        return response

    return Route(API_PREFIX + path, endpoint, methods=[method])


def control_route(path: str, handler: Handler, *, method: str = "GET") -> Route:
    """A simulator control route under /_sim: no faults, no auth."""

    async def endpoint(request: Request) -> Response:
        return await _serve(request, handler, private=False, success=200)

    return Route("/_sim" + path, endpoint, methods=[method])


async def _serve(request: Request, handler: Handler, private: bool, success: int) -> Response:
    state: SimulatorState = request.app.state.sim
    try:
        if private:
            state.keys.authenticate(request.headers, request.method, request.url.path)
        call = Call(state, request.query_params, request.path_params, await _payload(request))
        state.exchange.advance()
        body = handler(call)
        if body is None:
            return Response(status_code=success)
        return json_response(body, success)
    except ApiError as error:
        return json_response(error.body(), error.status)
    except ConfigError as error:
        invalid = bad_request("invalid_parameters", str(error))
        return json_response(invalid.body(), invalid.status)
    except Exception:
        logger.exception("simulator handler failed: %s %s", request.method, request.url.path)
        failure = ApiError(500, "internal_server_error", "simulator error")
        return json_response(failure.body(), failure.status)


async def _tokens(request: Request, cost: TokenCost) -> float:
    """What the request costs; an unreadable body costs an ordinary request (and is then
    refused by the handler with a 400)."""
    try:
        return cost(await _payload(request))
    except ApiError:
        return REQUEST_COST


async def _payload(request: Request) -> Any:
    if request.method not in ("POST", "PUT", "DELETE"):
        return None
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request("invalid_parameters", "the body is not valid JSON") from exc
