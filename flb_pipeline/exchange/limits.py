"""The account's API tier, read once per process and exchange (`GET /account/limits`).

Every Dagster step opens its own client; asking for the tier each time would spend a read
per step on an answer that changes only when the account is upgraded. An answer is kept for
ten minutes; a failed read is remembered too (the client keeps its configured defaults),
so a server without the endpoint is not asked again and again.
"""

from __future__ import annotations

import logging
import threading
import time

from flb_pipeline.core.records import AccountLimits
from flb_pipeline.exchange.client import KalshiClient
from flb_pipeline.exchange.errors import ExchangeError

KEEP_S = 600.0
log = logging.getLogger(__name__)
_known: dict[str, tuple[float, AccountLimits | None]] = {}
_lock = threading.Lock()


def tier_limits(client: KalshiClient) -> AccountLimits | None:
    """The account's limits at `client`'s exchange, None when they cannot be read."""
    key = client.settings.base_url
    with _lock:
        cached = _known.get(key)
        if cached is not None and time.monotonic() - cached[0] < KEEP_S:
            return cached[1]
    try:
        limits: AccountLimits | None = client.account_limits()
    except ExchangeError as error:
        log.warning("account limits not read (%s); pacing at the configured rates", error)
        limits = None
    with _lock:
        _known[key] = (time.monotonic(), limits)
    return limits
