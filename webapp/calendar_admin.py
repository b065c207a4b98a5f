"""The administrators' working-day table (issue #7 §7): `/settings/calendar?year=YYYY`.

Lists a year's entries beside the holidays `chinese_calendar` knows, enters or changes a day (工作日 / 休息日, with a
note) and removes one. Only administrators see or change it; the table is national, not a unit's.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from workflows.calendar import beijing_today
from workflows.errors import NotFound, PermissionDenied
from workflows.models import Role
from workflows.working_days import (
    MAX_NOTE_LENGTH,
    MAX_YEAR,
    MIN_YEAR,
    remove_working_day,
    set_working_day,
    year_calendar,
)

bp = Blueprint("calendar_admin", __name__, url_prefix="/settings/calendar")

_FIELDS = ("day", "is_working_day", "note")
WORKING, DAY_OFF = "1", "0"


def _require_admin() -> None:
    if current_user.user.role != Role.ADMIN:
        raise PermissionDenied(_("只有系统管理员可以维护节假日表"))


def _render(
    year: int, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    errors = errors or {}
    html = render_template(
        "settings/calendar.html",
        calendar=year_calendar(get_session(), year),
        years=(year - 1, year + 1),
        min_year=MIN_YEAR,
        max_year=MAX_YEAR,
        max_note=MAX_NOTE_LENGTH,
        values=values or {"is_working_day": DAY_OFF},
        errors=errors,
        other_errors=[message for name, message in errors.items() if name not in _FIELDS],
        working=WORKING,
        day_off=DAY_OFF,
        active_view="settings",
    )
    return html, status


def _year_arg() -> tuple[int, dict[str, str]]:
    """The `year` query argument, or this year with the reason when it is not a year the table holds."""
    raw = (request.args.get("year") or "").strip()
    this_year = beijing_today().year
    if not raw:
        return this_year, {}
    if raw.isascii() and raw.isdecimal() and len(raw) == 4 and MIN_YEAR <= int(raw) <= MAX_YEAR:
        return int(raw), {}
    return this_year, {"year": _("年份：必须是 %(min)s 至 %(max)s 之间的年份", min=MIN_YEAR, max=MAX_YEAR)}


def _parse_day(raw: str, errors: dict[str, str]) -> date | None:
    raw = raw.strip()
    if not raw:
        errors["day"] = _("日期：必须填写")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors["day"] = _("日期：不是有效日期")
        return None


@bp.route("")
@login_required
def index() -> tuple[str, int]:
    _require_admin()
    year, errors = _year_arg()
    return _render(year, errors=errors, status=400 if errors else 200)


@bp.route("", methods=["POST"])
@login_required
def save() -> Response | tuple[str, int]:
    _require_admin()
    session = get_session()
    values = {name: request.form.get(name, "") for name in _FIELDS}
    errors: dict[str, str] = {}
    day = _parse_day(values["day"], errors)
    if values["is_working_day"] not in (WORKING, DAY_OFF):
        errors["is_working_day"] = _("类型：请选择工作日或休息日")
    page_year = day.year if day is not None and MIN_YEAR <= day.year <= MAX_YEAR else beijing_today().year
    if errors:
        return _render(page_year, values, errors, 422)
    assert day is not None
    working = values["is_working_day"] == WORKING
    try:
        set_working_day(session, day, working, values["note"], current_user.user)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render(page_year, values, exc.errors, 422)
    kind = _("工作日") if working else _("休息日")
    flash(_("已将 %(day)s 设为%(kind)s", day=day.isoformat(), kind=kind), "success")
    return redirect(url_for("calendar_admin.index", year=day.year), 303)


@bp.route("/remove", methods=["POST"])
@login_required
def remove() -> Response:
    _require_admin()
    session = get_session()
    errors: dict[str, str] = {}
    day = _parse_day(request.form.get("day", ""), errors)
    if day is None:
        # The day comes from the page's own button: anything else is a forged or stale form.
        raise NotFound(_("节假日表中没有该日期"))
    # NotFound (already removed, e.g. in another window) becomes the 404 page.
    remove_working_day(session, day, current_user.user)
    session.commit()
    flash(_("已从节假日表中删除 %(day)s", day=day.isoformat()), "success")
    return redirect(url_for("calendar_admin.index", year=day.year), 303)
