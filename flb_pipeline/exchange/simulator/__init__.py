"""A Kalshi Trade API v2-compatible exchange simulator served over HTTP on loopback.

The embedded default exchange of flb_pipeline: the demo, the tests and the backtests talk to
it exactly as they would to Kalshi (see notes/simulator_spec.md).
"""

from flb_pipeline.exchange.simulator.config import FaultConfig, SimConfig
from flb_pipeline.exchange.simulator.server import SimulatorServer, serve_forever

__all__ = ["FaultConfig", "SimConfig", "SimulatorServer", "serve_forever"]
