"""Chinese working days: holidays, 调休 working weekends, fallback years and overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflows.calendar import add_working_days, due_at, is_working_day, working_days_between

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 9, 27), True),  # Friday
        (date(2024, 9, 28), False),  # Saturday
        (date(2024, 9, 29), True),  # Sunday, adjusted working day (调休) for 国庆
        (date(2024, 9, 30), True),
        *[(date(2024, 10, d), False) for d in range(1, 8)],  # 国庆 holiday
        (date(2024, 10, 8), True),
        (date(2024, 10, 12), True),  # Saturday, adjusted working day
        (date(2027, 1, 1), True),  # unknown year: Friday counts, holidays are not known
        (date(2027, 1, 2), False),  # unknown year: Saturday
        (date(2003, 6, 2), True),  # before the package's range: Monday
        (date(2003, 6, 1), False),  # Sunday
    ],
)
def test_is_working_day(day, working):
    assert is_working_day(day) is working


def test_unknown_years_never_raise():
    start = date(2026, 12, 1)
    for offset in range(800):
        is_working_day(start + timedelta(days=offset))
    assert add_working_days(date(2027, 12, 31), 1) == date(2028, 1, 3)


@pytest.mark.parametrize(
    ("overrides", "day", "working"),
    [
        ({date(2024, 10, 1): True}, date(2024, 10, 1), True),
        ({date(2024, 9, 30): False}, date(2024, 9, 30), False),
        ({date(2027, 2, 8): False}, date(2027, 2, 8), False),  # e.g. a newly announced 2027 holiday
        ({date(2027, 2, 8): False}, date(2027, 2, 9), True),
    ],
)
def test_overrides_win(overrides, day, working):
    assert is_working_day(day, overrides) is working


@pytest.mark.parametrize(
    ("start", "n", "expected", "overrides"),
    [
        (date(2024, 9, 27), 0, date(2024, 9, 27), None),
        (date(2024, 9, 27), 1, date(2024, 9, 29), None),
        (date(2024, 9, 27), 2, date(2024, 9, 30), None),
        (date(2024, 9, 27), 3, date(2024, 10, 8), None),
        (date(2024, 9, 27), 5, date(2024, 10, 10), None),  # across 国庆
        (date(2024, 9, 27), 6, date(2024, 10, 11), None),
        (date(2024, 9, 27), 5, date(2024, 10, 11), {date(2024, 9, 29): False}),
        (date(2027, 1, 1), 5, date(2027, 1, 8), None),
    ],
)
def test_add_working_days(start, n, expected, overrides):
    assert add_working_days(start, n, overrides) == expected


def test_add_working_days_refuses_negative():
    with pytest.raises(ValueError):
        add_working_days(date(2024, 1, 1), -1)


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2024, 9, 27), date(2024, 10, 10), 5),
        (date(2024, 9, 27), date(2024, 9, 27), 0),
        (date(2024, 10, 10), date(2024, 9, 27), -5),
        (date(2024, 10, 1), date(2024, 10, 7), 0),
        (date(2027, 1, 1), date(2027, 1, 8), 5),
    ],
)
def test_working_days_between(start, end, count):
    assert working_days_between(start, end) == count


@pytest.mark.parametrize("n", [0, 1, 5, 12, 30])
def test_between_inverts_add(n):
    start = date(2024, 9, 20)
    assert working_days_between(start, add_working_days(start, n)) == n


@pytest.mark.parametrize(
    ("ready_at", "n", "expected"),
    [
        # 10:00 Beijing on Friday 27 Sept: the 5th working day is 10 Oct; end of day Beijing = 15:59:59 UTC.
        (datetime(2024, 9, 27, 10, 0, tzinfo=SHANGHAI), 5, datetime(2024, 10, 10, 15, 59, 59, tzinfo=UTC)),
        # 17:00 UTC on 27 Sept is 01:00 on Saturday 28 Sept in Beijing; counting starts from the 28th.
        (datetime(2024, 9, 27, 17, 0, tzinfo=UTC), 1, datetime(2024, 9, 29, 15, 59, 59, tzinfo=UTC)),
        (datetime(2024, 9, 27, 15, 59, tzinfo=UTC), 1, datetime(2024, 9, 29, 15, 59, 59, tzinfo=UTC)),
        (datetime(2024, 9, 27, 1, 0, tzinfo=UTC), 0, datetime(2024, 9, 27, 15, 59, 59, tzinfo=UTC)),
    ],
)
def test_due_at(ready_at, n, expected):
    result = due_at(ready_at, n)
    assert result == expected
    assert result.tzinfo is UTC


def test_due_at_refuses_naive():
    with pytest.raises(ValueError):
        due_at(datetime(2024, 9, 27, 10, 0), 5)
