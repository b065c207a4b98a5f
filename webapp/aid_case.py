"""The hardship-aid case around its list (issue #6): the province's 下发, a city's overview, and the panel on each
task page that leads to the grid, bank files and documents the step needs.

The overview is for those who hold the city's part (`workflows.aid.access.may_see_city_list`); anyone else gets 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from workflows.aid.access import may_see_city_list
from workflows.aid.importing import may_import_aid_list
from workflows.aid.process import PROCESS_KEY, city_progress, dispatch_aid_list, unit_progress
from workflows.models import AidBatch, AidCityList, AidWorker, OrgUnit, TaskIndexEntry, User

bp = Blueprint("aid_case", __name__, url_prefix="/aid")


@bp.post("/lists/<int:year>/dispatch")
@login_required
def dispatch(year: int) -> Response:
    if not may_import_aid_list(current_user.user):
        abort(404)
    session = get_session()
    try:
        cases = dispatch_aid_list(session, current_user.user, year)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        flash("；".join(exc.errors.values()), "error")
        return redirect(url_for("aid.lists"))
    if cases:
        flash(_("已向 %(count)d 个市下发 %(year)d 年度援助名单", count=len(cases), year=year), "success")
    else:
        flash(_("%(year)d 年度援助名单已全部下发", year=year), "info")
    return redirect(url_for("aid.lists"))


def _city_list(year: int, city_code: str) -> AidCityList:
    session = get_session()
    city_list = session.scalar(
        select(AidCityList)
        .join(OrgUnit, OrgUnit.id == AidCityList.city_unit_id)
        .where(AidCityList.year == year, OrgUnit.code == city_code)
    )
    if city_list is None or not may_see_city_list(current_user.user, city_list.city_unit):
        abort(404)
    return city_list


@dataclass
class Figures:
    workers: int = 0
    eligible: int = 0
    not_eligible: int = 0
    confirmed: int = 0
    confirmed_total: Decimal = Decimal("0.00")
    by_conclusion: dict[str | None, int] = field(default_factory=dict)


def _figures(city_list: AidCityList) -> Figures:
    session = get_session()
    rows = session.execute(
        select(
            AidWorker.review_conclusion,
            func.count(),
            func.count(AidWorker.confirmed_at),
            func.sum(AidWorker.aid_amount),
        )
        .where(AidWorker.year == city_list.year, AidWorker.city_unit_id == city_list.city_unit_id)
        .group_by(AidWorker.review_conclusion)
    ).all()
    figures = Figures()
    for conclusion, count, confirmed, total in rows:
        figures.workers += count
        figures.by_conclusion[conclusion] = count
        figures.confirmed += confirmed
        figures.confirmed_total += Decimal(total or 0)
    figures.eligible = figures.by_conclusion.get("符合", 0)
    figures.not_eligible = figures.by_conclusion.get("不符合", 0)
    return figures


@bp.get("/<int:year>/<city_code>")
@login_required
def city(year: int, city_code: str) -> Response:
    city_list = _city_list(year, city_code)
    session = get_session()
    batches = session.scalars(
        select(AidBatch)
        .where(AidBatch.year == year, AidBatch.city_unit_id == city_list.city_unit_id)
        .order_by(AidBatch.sequence)
    ).all()
    html = render_template(
        "aid/city.html",
        city_list=city_list,
        city=city_list.city_unit,
        case=city_list.instance,
        progress=city_progress(session, year, city_list.city_unit_id),
        figures=_figures(city_list),
        batches=batches,
    )
    return Response(html, mimetype="text/html")


@bp.app_template_global()
def aid_task_panel(entry: TaskIndexEntry) -> dict[str, object] | None:
    """What the task page shows for a step of a hardship-aid case: the year, the unit's progress and the links the
    step needs (the review grid, the corrections, the batch, the city's documents)."""
    if entry.process_key != PROCESS_KEY:
        return None
    session = get_session()
    city_list = session.scalar(select(AidCityList).where(AidCityList.instance_id == entry.instance_id))
    if city_list is None:
        return None
    user: User = current_user.user
    panel: dict[str, object] = {"year": city_list.year, "city": city_list.city_unit, "step": entry.bpmn_id}
    if entry.bpmn_id == "district_review":
        panel["progress"] = unit_progress(session, city_list.year, entry.org_unit_id)
    panel["batch"] = session.scalar(
        select(AidBatch)
        .where(AidBatch.year == city_list.year, AidBatch.city_unit_id == city_list.city_unit_id)
        .order_by(AidBatch.sequence.desc())
        .limit(1)
    )
    panel["sees_city"] = may_see_city_list(user, city_list.city_unit)
    return panel
