"""Deployment settings read from the environment, with the documented defaults (README).

Secrets (`KALSHI_API_KEY_ID`, `KALSHI_PRIVATE_KEY_PATH`) are deliberately absent: they are
read from the environment at the moment a request is signed and never stored in config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_PATH = "data/flb.duckdb"
DEFAULT_DAGSTER_HOME = "data/dagster_home"
DEFAULT_SIM_PORT = 8765
DEFAULT_CLI_LOCK_WAIT_S = 5.0


class SettingsError(ValueError):
    """An environment variable the deployment cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    db_path: str = DEFAULT_DB_PATH
    exchange: str = "sim"
    exchange_url: str | None = None
    execution: str | None = None
    sim_port: int = DEFAULT_SIM_PORT
    cli_lock_wait_s: float = DEFAULT_CLI_LOCK_WAIT_S
    alert_webhook_url: str | None = None
    """Where alert lines are also POSTed as JSON (FLB_ALERT_WEBHOOK_URL)."""

    @property
    def exports_dir(self) -> str:
        """Trade log and daily JSON live beside the database (data/exports by default)."""
        return str(Path(self.db_path).parent / "exports")

    @property
    def reports_dir(self) -> str:
        return str(Path(self.db_path).parent / "reports")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            db_path=env.get("FLB_DB_PATH") or DEFAULT_DB_PATH,
            exchange=env.get("FLB_EXCHANGE") or "sim",
            exchange_url=env.get("FLB_EXCHANGE_URL") or None,
            execution=env.get("FLB_EXECUTION") or None,
            sim_port=_port(env, "FLB_SIM_PORT", DEFAULT_SIM_PORT),
            cli_lock_wait_s=_seconds(env, "FLB_CLI_LOCK_WAIT_S", DEFAULT_CLI_LOCK_WAIT_S),
            alert_webhook_url=env.get("FLB_ALERT_WEBHOOK_URL") or None,
        )


def creates_data_directory(db_path: str | Path) -> bool:
    """Whether a missing directory of `db_path` may be created: only the default `data/`
    (relative to the working directory) is; any other missing directory is most likely a
    mistyped FLB_DB_PATH, and a store silently created there would trade from an empty book."""
    return Path(db_path).parent.resolve() == Path(DEFAULT_DB_PATH).parent.resolve()


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise SettingsError(f"{name}={text!r} is not a TCP port (1-65535)")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SettingsError(f"{name}={text!r} is not a number of seconds >= 0")
    return seconds
