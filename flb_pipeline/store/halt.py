"""The manual halt flag: a small file beside the database.

A halt must take effect at once, even while a long run holds the DuckDB file, so its state
lives outside DuckDB; `risk_events` keeps the audit trail of every halt and resume.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from flb_pipeline.core.risk import HALT, MANUAL_HALT, RiskEvent


def write_halt(path: Path, event: RiskEvent) -> None:
    """Atomically: the flag is either absent or complete, never half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"since": event.event_ts.isoformat(), "reason": event.reason}))
    os.replace(scratch, path)


def read_halt(path: Path) -> RiskEvent | None:
    """The halt in force, if any. An unreadable flag still halts: never trade on doubt."""
    if not path.exists():
        return None
    try:
        flag = json.loads(path.read_text())
        since = datetime.fromisoformat(flag["since"])
        reason = str(flag.get("reason", ""))
    except (OSError, ValueError, KeyError, TypeError) as error:
        since = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        reason = f"unreadable halt flag: {error}"
    return RiskEvent(since, MANUAL_HALT, HALT, reason=reason)


def clear_halt(path: Path) -> None:
    path.unlink(missing_ok=True)
