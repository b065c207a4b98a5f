"""The studio registry (创新工作室名录) and its annual assessment (issue 7 step 10; seed 004; domain §2.c C10–C11).

Every named studio of the city with its standing (正常 / 黄牌整改 / 已摘牌) and assessments year by year, and the
studios due for this year's assessment. The city's 经济技术和劳动保护部 records the assessment (良好; 黄牌 with a
rectification deadline; 红牌, which revokes the name) and the re-check of a yellow card (passed clears it, failed
revokes). Readers: workflows.studio.access.may_see_city_overview; others get 403. The routes are registered on
`webapp.studio.bp`.
"""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from webapp.studio_pages import reader_city, whole_number
from workflows.calendar import beijing_today
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.models import OrgUnit, Studio
from workflows.studio.access import may_assess
from workflows.studio.registry import assess_studio, city_studios, due_for_assessment, pending_recheck, recheck_studio

ASSESSMENT_RESULTS = ("良好", "黄牌", "红牌")


def _registry(
    session: Session,
    city: OrgUnit,
    cities: list[OrgUnit],
    errors: dict[int, dict[str, str]] | None = None,
    values: dict[int, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    today = beijing_today()
    studios = city_studios(session, city.id)
    html = render_template(
        "studio/registry.html",
        city=city,
        cities=cities,
        studios=studios,
        pending={studio.id: pending_recheck(studio) for studio in studios},
        due=due_for_assessment(session, city.id, today.year),
        assesses=may_assess(current_user.user, city),
        results=ASSESSMENT_RESULTS,
        today=today,
        errors=errors or {},
        values=values or {},
        city_arg={"city": city.code} if cities else {},
    )
    return html, status


@login_required
def registry() -> tuple[str, int]:
    session = get_session()
    city, cities = reader_city(session)
    return _registry(session, city, cities)


def _assessed_studio(session: Session, studio_id: int) -> tuple[Studio, OrgUnit]:
    """A studio of the user's own city, for its econ-labour department: 403 for others, 404 for other cities."""
    user = current_user.user
    city = user.org_unit
    if not may_assess(user, city):
        raise PermissionDenied(_("只有本市总工会经济技术和劳动保护部可以考核创新工作室"))
    studio = session.get(Studio, studio_id)
    if studio is None or studio.city_unit_id != city.id:
        raise NotFound(_("没有该工作室"))
    return studio, city


@login_required
def assess(studio_id: int) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    studio, city = _assessed_studio(session, studio_id)
    values = {name: request.form.get(name, "").strip()
              for name in ("year", "result", "opinion", "rectification_deadline")}  # fmt: skip
    year = whole_number(values["year"])
    deadline: date | None = None
    errors: dict[str, str] = {}
    if year is None:
        errors["year"] = _("考核年度：请填写四位年份，如 %(year)d", year=beijing_today().year)
    if values["rectification_deadline"]:
        try:
            deadline = date.fromisoformat(values["rectification_deadline"])
        except ValueError:
            errors["rectification_deadline"] = _("整改期限：请填写日期，如 %(day)s", day=beijing_today().isoformat())
    try:
        if errors or year is None:
            raise forms.FormValidationError(errors)
        assessment = assess_studio(session, studio, user, year, values["result"], values["opinion"], deadline)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _registry(session, city, [], {studio_id: exc.errors}, {studio_id: values}, 422)
    except OperationRefused as refused:
        session.rollback()
        return _registry(session, city, [], {studio_id: {"assessment": str(refused)}}, {studio_id: values}, 422)
    flash(_("已记录“%(name)s” %(year)d 年度考核：%(result)s", name=studio.name, year=assessment.year,
            result=assessment.result), "success")  # fmt: skip
    return redirect(url_for("studio.registry", _anchor=f"studio-{studio.id}"))


@login_required
def recheck(studio_id: int) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    studio, city = _assessed_studio(session, studio_id)
    values = {name: request.form.get(name, "").strip() for name in ("recheck_passed", "recheck_opinion")}
    try:
        if values["recheck_passed"] not in ("true", "false"):
            raise forms.FormValidationError({"recheck_passed": _("复查结论：请选择“整改到位”或“整改不到位”")})
        recheck_studio(session, studio, user, values["recheck_passed"] == "true", values["recheck_opinion"])
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _registry(session, city, [], {studio_id: exc.errors}, {studio_id: values}, 422)
    except OperationRefused as refused:
        session.rollback()
        return _registry(session, city, [], {studio_id: {"recheck": str(refused)}}, {studio_id: values}, 422)
    flash(_("已记录“%(name)s”的复查结论：%(standing)s", name=studio.name, standing=studio.standing), "success")
    return redirect(url_for("studio.registry", _anchor=f"studio-{studio.id}"))
