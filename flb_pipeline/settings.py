"""Deployment settings read from the environment (DESIGN §8), with the documented defaults.

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


@dataclass(frozen=True)
class Settings:
    db_path: str = DEFAULT_DB_PATH
    exchange: str = "sim"
    exchange_url: str | None = None
    execution: str | None = None

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
        )
