"""The Starlette application: Kalshi API routes under /trade-api/v2, control under /_sim."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flb_pipeline.exchange.simulator import routes_control, routes_market, routes_portfolio
from flb_pipeline.exchange.simulator.config import SimConfig
from flb_pipeline.exchange.simulator.endpoints import json_response
from flb_pipeline.exchange.simulator.errors import ApiError
from flb_pipeline.exchange.simulator.state import SimulatorState

_ROUTING_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _routing_error(request: Request, exc: HTTPException) -> Response:
    """Unknown paths and methods answer in Kalshi's error shape too."""
    error = ApiError(exc.status_code, _ROUTING_CODES.get(exc.status_code, "bad_request"))
    return json_response(error.body(), error.status)


def build_app(config: SimConfig) -> Starlette:
    app = Starlette(
        routes=[*routes_market.ROUTES, *routes_portfolio.ROUTES, *routes_control.ROUTES],
        exception_handlers={HTTPException: _routing_error},
    )
    app.state.sim = SimulatorState(config)
    return app
