"""Which exchange we talk to and whether orders leave the building (DESIGN §3).

Live trading is `prod` + `exchange` execution; it needs `FLB_LIVE_TRADING=I_UNDERSTAND` and
key material, and the refusal names exactly what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

EXCHANGES = ("sim", "demo", "prod")
EXECUTIONS = ("paper", "exchange")
LIVE_TRADING_CONSENT = "I_UNDERSTAND"


class TradingRefused(RuntimeError):
    """The configuration does not allow the requested execution mode."""


@dataclass(frozen=True)
class TradingMode:
    exchange: str
    execution: str

    @property
    def is_live(self) -> bool:
        return self.exchange == "prod" and self.execution == "exchange"


def resolve_trading_mode(
    exchange: str,
    execution: str | None,
    *,
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
    mode = TradingMode(exchange, chosen)
    missing = []
    if mode.execution == "exchange" and exchange != "sim":
        if not has_key_id:
            missing.append("KALSHI_API_KEY_ID")
        if not has_private_key:
            missing.append("KALSHI_PRIVATE_KEY_PATH (a readable RSA private key)")
    if mode.is_live and live_trading != LIVE_TRADING_CONSENT:
        missing.insert(0, f"FLB_LIVE_TRADING={LIVE_TRADING_CONSENT}")
    if missing:
        raise TradingRefused(
            f"refusing {exchange} + {mode.execution} execution: missing " + ", ".join(missing)
        )
    return mode


def default_execution(exchange: str, execution: str | None) -> str:
    """The execution mode a deployment runs in, without the live-trading gate (reporting
    about a mode is always allowed; trading in it is what `resolve_trading_mode` guards)."""
    return execution or ("exchange" if exchange == "sim" else "paper")
