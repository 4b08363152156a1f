"""Which exchange we talk to and whether orders leave the building (DESIGN §3).

Live trading is `exchange` execution against production Kalshi; it needs
`FLB_LIVE_TRADING=I_UNDERSTAND` and key material, and the refusal names exactly what is
missing. Production is judged by where orders would actually go, not only by the `prod`
label: an `FLB_EXCHANGE_URL` pointing anywhere but loopback or Kalshi's demo host is treated
as production too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

EXCHANGES = ("sim", "demo", "prod")
EXECUTIONS = ("paper", "exchange")
LIVE_TRADING_CONSENT = "I_UNDERSTAND"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEMO_HOSTS = frozenset({"demo-api.kalshi.co"})


class TradingRefused(RuntimeError):
    """The configuration does not allow the requested execution mode."""


@dataclass(frozen=True)
class TradingMode:
    exchange: str
    execution: str
    production: bool = False

    @property
    def is_live(self) -> bool:
        return self.production and self.execution == "exchange"


def targets_production(exchange: str, base_url: str | None) -> bool:
    """True when orders would reach real money: the prod label, or a URL that is neither
    loopback nor Kalshi's demo."""
    if exchange == "prod":
        return True
    if not base_url:
        return False
    host = urlsplit(base_url).hostname or ""
    return host not in LOOPBACK_HOSTS and host not in DEMO_HOSTS


def default_execution(exchange: str, execution: str | None) -> str:
    """The execution mode a deployment runs in, without the live-trading gate (reporting
    about a mode is always allowed; trading in it is what `resolve_trading_mode` guards)."""
    return execution or ("exchange" if exchange == "sim" else "paper")


def resolve_trading_mode(
    exchange: str,
    execution: str | None,
    *,
    base_url: str | None,
    live_trading: str | None,
    has_key_id: bool,
    has_private_key: bool,
) -> TradingMode:
    """Validate the mode; execution defaults to `exchange` on the simulator, `paper` elsewhere."""
    if exchange not in EXCHANGES:
        raise TradingRefused(f"FLB_EXCHANGE={exchange!r} is not one of {', '.join(EXCHANGES)}")
    chosen = default_execution(exchange, execution)
    if chosen not in EXECUTIONS:
        raise TradingRefused(f"FLB_EXECUTION={chosen!r} is not one of {', '.join(EXECUTIONS)}")
    mode = TradingMode(exchange, chosen, targets_production(exchange, base_url))
    missing = []
    if mode.execution == "exchange" and (exchange != "sim" or mode.production):
        if not has_key_id:
            missing.append("KALSHI_API_KEY_ID")
        if not has_private_key:
            missing.append("KALSHI_PRIVATE_KEY_PATH (a readable RSA private key)")
    if mode.is_live and live_trading != LIVE_TRADING_CONSENT:
        missing.insert(0, f"FLB_LIVE_TRADING={LIVE_TRADING_CONSENT}")
    if missing:
        where = f" at {base_url}" if base_url else ""
        raise TradingRefused(
            f"refusing {exchange}{where} + {mode.execution} execution: missing "
            + ", ".join(missing)
        )
    return mode
