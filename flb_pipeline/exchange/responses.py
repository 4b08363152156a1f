"""Reading and classifying one HTTP answer of the exchange, body streamed under a size cap.

429 and 5xx are classified from the status alone, so their bodies (an HTML error page, say)
are never read; any other body is read only up to `max_bytes` and within the attempt's
timeout, so one hostile answer can neither exhaust memory nor drip in forever.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from flb_pipeline.exchange.errors import (
    AuthRejected,
    ExchangeTimeout,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    ResponseTooLarge,
    ServerError,
)


def classify(
    response: httpx.Response, *, max_bytes: int, timeout_s: float, started: float
) -> dict[str, Any]:
    """The body of a 2xx as a JSON object, or the failure class of the answer; `started` is
    the attempt's `time.perf_counter()` reading."""
    status = response.status_code
    if status == 429:
        raise RateLimited("HTTP 429 rate limited")
    if status >= 500:
        raise ServerError(f"HTTP {status}")
    content = read_body(response, max_bytes=max_bytes, timeout_s=timeout_s, started=started)
    if status in (401, 403):
        raise AuthRejected(f"HTTP {status}: {_error_code(content)[1]}")
    if status >= 400:
        code, message = _error_code(content)
        raise RequestRejected(status, code, message)
    if status == 204:
        return {}
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as bad:
        raise MalformedResponse(f"HTTP {status} body is not JSON: {bad}") from None
    if not isinstance(body, dict):
        raise MalformedResponse(f"HTTP {status} body is not a JSON object")
    return body


def read_body(
    response: httpx.Response, *, max_bytes: int, timeout_s: float, started: float
) -> bytes:
    """The body as it streams in, refused once it passes `max_bytes` (declared or counted)
    or once the attempt outlasts `timeout_s`: httpx's read timeout alone bounds the gap
    between two chunks, not a body dripped in one byte at a time."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(
            f"HTTP {response.status_code} body of {int(declared):,} bytes"
            f" is over the {max_bytes:,}-byte cap"
        )
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise ResponseTooLarge(
                f"HTTP {response.status_code} body passed the {max_bytes:,}-byte cap"
                f" (stopped reading at {received:,} bytes)"
            )
        if time.perf_counter() - started > timeout_s:
            raise ExchangeTimeout(
                f"body not received within the {timeout_s:g} s timeout ({received:,} bytes so far)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _error_code(content: bytes) -> tuple[str, str]:
    """Kalshi's `{"error": {"code", "message"}}` (or a bare `{"error": "..."}`), else the
    start of whatever came instead."""
    try:
        error = orjson.loads(content).get("error") or {}
        if isinstance(error, str):
            return "unknown", error
        return str(error.get("code", "unknown")), str(error.get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        return "unknown", content[:200].decode("utf-8", errors="replace")


def list_field(body: dict[str, Any], field_name: str) -> list[dict[str, Any]]:
    """A list the answer must carry (a listing's items, a batch's answers)."""
    items = body.get(field_name)
    if not isinstance(items, list):
        raise MalformedResponse(f"response field {field_name!r} is missing or not a list")
    return items
