"""Reporting periods of the dashboard and ledger: a calendar year, quarter or month (Beijing dates, inclusive)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from workflows.calendar import SHANGHAI


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    code: str  # "2026", "2026-Q4", "2026-11": how it is written in links and file names
    label: str  # 2026年, 2026年第四季度, 2026年11月

    @property
    def year(self) -> int:
        return self.start.year

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


_QUARTERS = "一二三四"


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse_period(code: str | None, today: date) -> Period:
    """ "2026", "2026-Q1" … "2026-Q4", "2026-01" … "2026-12"; empty means this year."""
    code = (code or "").strip() or str(today.year)
    if not 2000 <= int(code[:4] if code[:4].isdigit() else 0) <= 2100:
        raise PeriodError(f"统计期间“{code}”无效：年份须在2000至2100年之间，如 2026、2026-Q4、2026-11")
    if match := re.fullmatch(r"(\d{4})", code):
        year = int(match.group(1))
        return Period(date(year, 1, 1), date(year, 12, 31), code, f"{year}年")
    if match := re.fullmatch(r"(\d{4})-Q([1-4])", code):
        year, quarter = int(match.group(1)), int(match.group(2))
        first = 3 * quarter - 2
        return Period(
            date(year, first, 1), _month_end(year, first + 2), code, f"{year}年第{_QUARTERS[quarter - 1]}季度"
        )
    if match := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", code):
        year, month = int(match.group(1)), int(match.group(2))
        return Period(date(year, month, 1), _month_end(year, month), code, f"{year}年{month}月")
    raise PeriodError(f"统计期间“{code}”无效：请写年份（2026）、季度（2026-Q4）或月份（2026-11）")


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: Beijing midnight of its first day to that after its last."""
    start = datetime.combine(period.start, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    return start, end
