"""Jinja filters for Chinese conventions: Beijing time, 年月日 dates, amounts in yuan, status labels."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask import Flask

import forms
from webapp.i18n import gettext as _
from workflows.records import redact

BEIJING = ZoneInfo("Asia/Shanghai")
_FEN = Decimal("0.01")


def beijing_date(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日"


def beijing_datetime(moment: datetime) -> str:
    local = moment.astimezone(BEIJING)
    return f"{beijing_date(moment)} {local:%H:%M}"


def yuan(amount: Decimal | str | int | None) -> str:
    """An amount as `1,234.50 元`, rounded to the fen; text that is not a number is shown unchanged."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount)).quantize(_FEN, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(amount)
    return f"{value:,.2f} 元"


def case_status(status: str) -> str:
    labels = {"running": _("办理中"), "completed": _("已办结"), "cancelled": _("已撤销")}
    return labels.get(status, status)


def light_label(light: str) -> str:
    """Only the label asked for is translated: lists call this for every row."""
    if light == "red":
        return str(_("已逾期"))
    if light == "yellow":
        return str(_("临近到期"))
    if light == "green":
        return str(_("正常"))
    return light


def init_app(app: Flask) -> None:
    app.add_template_filter(beijing_date)
    app.add_template_filter(beijing_datetime)
    app.add_template_filter(yuan)
    app.add_template_filter(case_status)
    app.add_template_filter(light_label)
    # An identity or card number typed by hand into an opinion is masked wherever an opinion is shown.
    app.add_template_filter(redact)
    # Identity numbers in lists are always masked (the full number is only where a step needs it).
    app.add_template_filter(forms.mask_resident_id, "mask_resident_id")
    app.add_template_filter(forms.mask_mobile, "mask_mobile")
