"""Jinja filters for Chinese conventions: Beijing time, 年月日 dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_date(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日"


def beijing_datetime(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    return f"{beijing_date(moment)} {local:%H:%M}"


def init_app(app: Flask) -> None:
    app.add_template_filter(beijing_date)
    app.add_template_filter(beijing_datetime)
