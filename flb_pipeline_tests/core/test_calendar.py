from datetime import UTC, date, datetime

import pytest

from flb_pipeline.core.calendar import (
    hours_between,
    next_trading_day,
    trading_day_start,
    trading_day_window,
)


@pytest.mark.parametrize(
    ("day", "start", "hours"),
    [
        (date(2026, 6, 15), datetime(2026, 6, 15, 4, tzinfo=UTC), 24.0),
        (date(2026, 3, 8), datetime(2026, 3, 8, 5, tzinfo=UTC), 23.0),
        (date(2026, 11, 1), datetime(2026, 11, 1, 4, tzinfo=UTC), 25.0),
    ],
)
def test_trading_day_window_is_new_york_midnight_to_midnight_in_utc(
    day: date, start: datetime, hours: float
) -> None:
    window_start, window_end = trading_day_window(day)
    assert window_start == start
    assert window_start.tzinfo is UTC
    assert hours_between(window_start, window_end) == hours


def test_trading_day_start_and_end_around_new_york_midnight() -> None:
    before_midnight = datetime(2026, 11, 30, 4, 59, tzinfo=UTC)  # 23:59 New York, Nov 29
    assert trading_day_start(before_midnight) == datetime(2026, 11, 29, 5, tzinfo=UTC)
    assert next_trading_day(before_midnight) == datetime(2026, 11, 30, 5, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert trading_day_start(after_midnight) == datetime(2026, 11, 30, 5, tzinfo=UTC)
