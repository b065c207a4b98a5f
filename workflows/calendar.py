"""Chinese working days (工作日) for "N working days" deadlines such as the 5-working-day 公示.

Order of authority for a day: the administrators' override table (announcements the package does not
know yet, local closures), then the `chinese_calendar` package (public holidays and 调休 working
weekends for the years it ships), then plain Monday–Friday. The fallback keeps timers running in a
year the package does not cover; its dates drift only by that year's holidays until the overrides or
the package are updated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def beijing_today() -> date:
    """Today's date where the officials are: UTC's date is yesterday's until 08:00 Beijing time."""
    return datetime.now(SHANGHAI).date()


END_OF_DAY = time(23, 59, 59)


@lru_cache(maxsize=8192)
def _known_working_day(day: date) -> bool | None:
    # The package's table is fixed for the life of the process; its lookup validates the date each time, which
    # made due dates a tenth of a step (issue #9).
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # the package's way of saying "year not covered"
        return None


def is_working_day(day: date, overrides: Mapping[date, bool] | None = None) -> bool:
    """Whether `day` is a working day. `overrides`: True = working day, False = holiday."""
    if isinstance(day, datetime):  # a datetime would miss the date-keyed overrides
        day = day.date()
    if overrides is not None and day in overrides:
        return bool(overrides[day])
    known = _known_working_day(day)
    if known is not None:
        return known
    return day.weekday() < 5


def add_working_days(start: date, n: int, overrides: Mapping[date, bool] | None = None) -> date:
    """The n-th working day after `start` (start itself not counted); n = 0 returns `start`."""
    if n < 0:
        raise ValueError(f"工作日数不能为负数：{n}")
    day = start
    remaining = n
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day, overrides):
            remaining -= 1
    return day


def working_days_between(start: date, end: date, overrides: Mapping[date, bool] | None = None) -> int:
    """Working days in (start, end]: so working_days_between(s, add_working_days(s, n)) == n.

    Negative when `end` is before `start`, e.g. for "overdue by N working days".
    """
    if end < start:
        return -working_days_between(end, start, overrides)
    days = (start + timedelta(days=offset) for offset in range(1, (end - start).days + 1))
    return sum(1 for day in days if is_working_day(day, overrides))


def due_at(ready_at: datetime, working_days: int, overrides: Mapping[date, bool] | None = None) -> datetime:
    """The deadline: end (23:59:59) of the n-th working day after `ready_at`, as aware UTC.

    Days are counted in Asia/Shanghai, where the rules apply, so a task created at 01:00 Beijing time
    (17:00 UTC the day before) counts from the Beijing date.
    """
    if ready_at.tzinfo is None:
        raise ValueError("ready_at 必须带时区（aware datetime）")
    local_day = ready_at.astimezone(SHANGHAI).date()
    due_day = add_working_days(local_day, working_days, overrides)
    return datetime.combine(due_day, END_OF_DAY, tzinfo=SHANGHAI).astimezone(UTC)
