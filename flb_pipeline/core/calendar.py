"""Trading days: Kalshi's day runs midnight to midnight in New York.

Day windows are returned in UTC so that durations and comparisons stay right across DST
changes (a New York day is 23 or 25 hours twice a year).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TRADING_TIMEZONE = "America/New_York"


def trading_day_window(day: date, timezone: str = TRADING_TIMEZONE) -> tuple[datetime, datetime]:
    """[start, end) of one trading day, in UTC."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def trading_day_start(now: datetime, timezone: str = TRADING_TIMEZONE) -> datetime:
    """Midnight of `now`'s trading day, in UTC."""
    return trading_day_window(now.astimezone(ZoneInfo(timezone)).date(), timezone)[0]


def next_trading_day(now: datetime, timezone: str = TRADING_TIMEZONE) -> datetime:
    """Midnight that ends `now`'s trading day, in UTC."""
    return trading_day_window(now.astimezone(ZoneInfo(timezone)).date(), timezone)[1]


def hours_between(start: datetime, end: datetime) -> float:
    """Elapsed hours, measured in UTC so a DST change counts."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600
