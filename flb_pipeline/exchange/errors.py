"""Exchange failure classes. `error_class` is what lands in `api_calls.error_class`."""

from __future__ import annotations


class ExchangeError(Exception):
    """Any failure talking to the exchange; `retryable` says whether a resend may help."""

    error_class = "exchange_error"
    retryable = False


class ExchangeUnreachable(ExchangeError):
    error_class = "unreachable"
    retryable = True


class ExchangeTimeout(ExchangeError):
    error_class = "timeout"
    retryable = True


class RateLimited(ExchangeError):
    error_class = "rate_limited"
    retryable = True


class ServerError(ExchangeError):
    error_class = "server_error"
    retryable = True


class MalformedResponse(ExchangeError):
    """The body is not the JSON document the endpoint promises."""

    error_class = "malformed_response"
    retryable = True


class ResponseTooLarge(ExchangeError):
    """The body outgrew `ClientSettings.max_response_bytes` while it streamed in: reading on
    would let one hostile answer exhaust memory, and resending would fetch it again."""

    error_class = "response_too_large"


class ScanBoundExceeded(ExchangeError):
    """A listing kept paging past the scan's page cap or wall-clock budget (`ScanBounds`)."""

    error_class = "scan_bound_exceeded"


class SchemaError(ExchangeError):
    """A record lacks a required field or carries an unusable value; resending won't fix it."""

    error_class = "schema_error"


class AuthRejected(ExchangeError):
    error_class = "auth_rejected"


class RequestRejected(ExchangeError):
    """A 4xx with the exchange's own reason code (e.g. `insufficient_balance`)."""

    error_class = "rejected"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


class OrderOutcomeUnknown(ExchangeError):
    """The order POST got no answer: it may or may not rest at the exchange.

    Resolved by `client_order_id` before anything new is sent; never blindly resent with a
    new id.
    """

    error_class = "outcome_unknown"
