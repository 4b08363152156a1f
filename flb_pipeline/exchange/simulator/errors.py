"""Kalshi-shaped API errors: `{"error": {"code", "message", "details"}}` with an HTTP status."""

from __future__ import annotations


class ApiError(Exception):
    """Raised anywhere below a route; the app turns it into Kalshi's error body."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message or code.replace("_", " ")

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message, "details": ""}}


class TooManyRequests(ApiError):
    """Kalshi answers a rate-limited request with a bare string error and no Retry-After."""

    def __init__(self) -> None:
        super().__init__(429, "too_many_requests", "too many requests")

    def body(self) -> dict[str, str]:  # type: ignore[override]
        return {"error": "too many requests"}


def bad_request(code: str, message: str = "") -> ApiError:
    return ApiError(400, code, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")
