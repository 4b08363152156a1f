"""The Starlette application: Kalshi API routes under /trade-api/v2, control under /_sim."""

from __future__ import annotations

from starlette.applications import Starlette

from flb_pipeline.exchange.simulator import routes_control, routes_market, routes_portfolio
from flb_pipeline.exchange.simulator.config import SimConfig
from flb_pipeline.exchange.simulator.state import SimulatorState


def build_app(config: SimConfig) -> Starlette:
    app = Starlette(
        routes=[*routes_market.ROUTES, *routes_portfolio.ROUTES, *routes_control.ROUTES]
    )
    app.state.sim = SimulatorState(config)
    return app
