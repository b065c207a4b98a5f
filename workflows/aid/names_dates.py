"""Names and dates as an aid list writes them (issue #6 list checks), pure functions shared by the list's and the
bank result file's validation."""

from __future__ import annotations

import calendar
import re
from datetime import date

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_NAME = re.compile(f"[{_HAN}]+(·[{_HAN}]+)*")
NAME_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", ".": "·", "．": "·"})
_DATES = (
    re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]0{1,2}:00(?::00)?)?"),  # also a database's "… 00:00:00"
    re.compile(r"(\d{4})()年(\d{1,2})月(\d{1,2})日"),
    re.compile(r"(\d{4})()(\d{2})(\d{2})"),  # 20170901, as HR database extracts write dates
)


def name_problem(name: str) -> str | None:
    if not _NAME.fullmatch(name):
        return "只能包含汉字和间隔号“·”"
    return None if 2 <= len(name) <= 20 else "应为 2 至 20 个字"


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the 31st becomes the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_between(earlier: date, later: date) -> int:
    """Whole years from `earlier` to `later` (an age)."""
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


def parse_date(text: str) -> date:
    """2017-09-01, 2017/9/1, 2017.09.01, 2017年9月1日 or 20170901 (tabular gives Excel dates as ISO text);
    raises ValueError with the reason otherwise."""
    for pattern in _DATES:
        if found := pattern.fullmatch(text):
            try:
                return date(int(found[1]), int(found[3]), int(found[4]))
            except ValueError:
                raise ValueError("日期不存在") from None
    raise ValueError("格式不正确，应为 2017-09-01 这样的日期")
