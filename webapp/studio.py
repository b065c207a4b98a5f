"""创新工作室 and 劳动竞赛荣誉 pages (issue 7; seed 000 items 4–5; seed 004): the year's calls with their quotas, the
applications of a call, the studio registry with its annual assessment, and the year's honours.

- `/studio/`: for the city federation (and the province, read-only, `?city=<code>`): the calls by year with quota
  used and left per type (names held from the meeting's approval, QUOTA_HOLDING), the figures' sources, the open-call
  form for the city's 经济技术和劳动保护部, and the applications of a call with the panel's figures. District and
  grassroots unions see the open call and their own applications, with the link to apply.
- `/studio/registry`: every named studio with its standing and assessments; the econ-labour department assesses
  (良好 / 黄牌 with a rectification deadline / 红牌) and re-checks a yellow card (domain §2.c C10–C11).
- `/honours/<year>`: the honours' quotas used and left, the technology-enterprise share, the year's nominations.
- `/notices/<case_number>` and the task panel: webapp.studio_case; the registry's views: webapp.studio_registry.

Who may do what: workflows.studio.access. Pages of the city refuse other users with 403 and a Chinese reason; the
documents (PDF, Excel) are webapp.studio_documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

import forms
from webapp import studio_case, studio_registry
from webapp.database import get_session
from webapp.studio_pages import YEARS, may_start, page_city, whole_number
from workflows.calendar import beijing_today
from workflows.errors import NotFound, PermissionDenied
from workflows.models import HonourNomination, Level, OrgUnit, StudioApplication, StudioCall
from workflows.policy.parameters import MissingParameter, effective_parameter
from workflows.policy.studio import STUDIO_KINDS, studio_funding, studio_parameters
from workflows.studio.access import (
    is_applicant_side,
    may_open_call,
    may_see_city_overview,
    may_see_panel_scores,
    may_see_studio_pages,
)
from workflows.studio.calls import CallRequest, city_calls, open_call, open_call_for
from workflows.studio.quotas import call_quota_usage, honour_tech_share, honours_quota_usage

bp = Blueprint("studio", __name__)
bp.add_app_template_global(may_see_studio_pages, "may_see_studio_pages")
bp.add_app_template_global(studio_case.studio_task_panel, "studio_task_panel")
bp.add_url_rule("/notices/<case_number>", "notice", studio_case.notice, methods=["GET"])
bp.add_url_rule("/notices/<case_number>", "add_objection", studio_case.add_objection, methods=["POST"])
bp.add_url_rule("/studio/registry", "registry", studio_registry.registry, methods=["GET"])
bp.add_url_rule("/studio/registry/<int:studio_id>/assessment", "assess", studio_registry.assess, methods=["POST"])
bp.add_url_rule("/studio/registry/<int:studio_id>/recheck", "recheck", studio_registry.recheck, methods=["POST"])

FIRST_CALL_YEAR = 2017  # the earliest funding rule (大工办发〔2017〕28号 第4项)
CALL_FIELDS = ("year", "deadline", "quota_model_worker", "quota_worker", "note")


@bp.app_template_global()
def studio_year() -> int:
    """This year in Beijing: the navigation opens this year's honours."""
    return beijing_today().year


# --- 申报通知与申报 ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearRule:
    """What a call for `year` would take from the policy parameters; None where the official must enter it."""

    year: int
    quotas: list[tuple[str, int | None, str]]  # type, quota, source
    funding: list[tuple[str, Decimal | None]]
    funding_source: str


def _year_rules(session: Session, opened: set[int]) -> list[YearRule]:
    """Every year a call may still be opened for (2017 to next year), with the figures it would take and their
    sources, so the official sees which figures the parameters give and which they must enter."""
    rules = []
    for year in range(beijing_today().year + 1, FIRST_CALL_YEAR - 1, -1):
        if year in opened:
            continue
        on = date(year, 1, 1)
        quotas: list[tuple[str, int | None, str]] = []
        for studio_type, kind in STUDIO_KINDS.items():
            try:
                parameter = effective_parameter(session, f"studio.{kind}.quota", on)
                quotas.append((studio_type, int(parameter.value), parameter.source))
            except MissingParameter:
                quotas.append((studio_type, None, ""))
        params = studio_parameters(session, year)
        funding: list[tuple[str, Decimal | None]] = []
        for studio_type in STUDIO_KINDS:
            try:
                funding.append((studio_type, studio_funding(studio_type, year, params)))
            except (MissingParameter, ValueError):
                funding.append((studio_type, None))
        try:
            source = effective_parameter(session, "studio.worker.funding", on).source
        except MissingParameter:
            source = ""
        rules.append(YearRule(year, quotas, funding, source))
    return rules


def _overview(
    session: Session,
    city: OrgUnit,
    cities: list[OrgUnit],
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = current_user.user
    calls = city_calls(session, city.id)
    wanted = request.args.get("year", "")
    selected = next((call for call in calls if str(call.year) == wanted), calls[0] if calls else None)
    applications: list[StudioApplication] = []
    if selected is not None:
        applications = list(
            session.scalars(
                select(StudioApplication)
                .where(StudioApplication.call_id == selected.id)
                .options(selectinload(StudioApplication.enterprise), selectinload(StudioApplication.district_unit),
                         selectinload(StudioApplication.instance))
                .order_by(StudioApplication.studio_type, StudioApplication.district_unit_id,
                          StudioApplication.district_rank, StudioApplication.id)
            )
        )  # fmt: skip
    sees_scores = may_see_panel_scores(user, city)
    opens = may_open_call(user) and user.org_unit_id == city.id
    html = render_template(
        "studio/index.html",
        city=city,
        cities=cities,
        calls=calls,
        usage={call.id: call_quota_usage(session, call) for call in calls},
        selected=selected,
        applications=applications,
        panels=studio_case.panel_summaries(session, applications) if sees_scores else {},
        sees_scores=sees_scores,
        opens=opens,
        rules=_year_rules(session, {call.year for call in calls}) if opens else [],
        errors=errors or {},
        values=values or {"year": str(beijing_today().year)},
        city_arg={"city": city.code} if cities else {},
    )
    return html, status


def _applicant_page(session: Session, city: OrgUnit) -> tuple[str, int]:
    unit = current_user.user.org_unit
    call = open_call_for(session, unit, beijing_today())
    mine = (
        StudioApplication.applicant_unit_id == unit.id
        if unit.level == Level.GRASSROOTS
        else StudioApplication.district_unit_id == unit.id
    )
    applications = session.scalars(
        select(StudioApplication)
        .join(StudioCall, StudioCall.id == StudioApplication.call_id)
        .where(StudioCall.city_unit_id == city.id, mine)
        .order_by(StudioCall.year.desc(), StudioApplication.id.desc())
    ).all()
    html = render_template(
        "studio/applicant.html",
        city=city,
        call=call,
        usage=call_quota_usage(session, call) if call else [],
        applications=applications,
        may_apply=call is not None and may_start(session, studio_case.STUDIO),
    )
    return html, 200


@bp.get("/studio/")
@login_required
def index() -> tuple[str, int]:
    session, user = get_session(), current_user.user
    city, cities = page_city(session)
    if may_see_city_overview(user, city):
        return _overview(session, city, cities)
    if is_applicant_side(user):
        return _applicant_page(session, city)
    raise PermissionDenied(_("只有市总工会、省总工会和申报单位可以查看创新工作室申报"))


@bp.post("/studio/calls")
@login_required
def open_call_form() -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    if not may_open_call(user):
        raise PermissionDenied(_("只有市总工会经济技术和劳动保护部可以开启创新工作室申报"))
    values = {name: request.form.get(name, "").strip() for name in CALL_FIELDS}
    errors: dict[str, str] = {}
    year = whole_number(values["year"])
    if year is None:
        errors["year"] = _("申报年度：请填写四位年份，如 %(year)d", year=beijing_today().year)
    deadline: date | None = None
    try:
        deadline = date.fromisoformat(values["deadline"])
    except ValueError:
        errors["deadline"] = _("申报截止日期：请填写日期，如 %(day)s", day=beijing_today().isoformat())
    quotas: dict[str, int | None] = {}
    for studio_type, kind in STUDIO_KINDS.items():
        text = values[f"quota_{kind}"]
        quotas[studio_type] = whole_number(text) if text else None
        if text and quotas[studio_type] is None:
            errors[f"quota_{kind}"] = _("%(type)s名额：请填写不小于0的整数", type=studio_type)
    city = user.org_unit
    if errors or year is None or deadline is None:
        return _overview(session, city, [], errors, values, 422)
    try:
        call = open_call(session, user, CallRequest(year, deadline, quotas, values["note"]))
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _overview(session, city, [], exc.errors, values, 422)
    flash(_("已开启 %(year)d 年创新工作室申报，截止日期 %(day)s", year=call.year, day=call.deadline.isoformat()),
          "success")  # fmt: skip
    return redirect(url_for("studio.index", year=call.year))


# --- 荣誉推荐 -------------------------------------------------------------------------------------------------------


@bp.get("/honours/<int:year>")
@login_required
def honours(year: int) -> tuple[str, int]:
    if year not in YEARS:
        raise NotFound(_("页面不存在"))
    session, user = get_session(), current_user.user
    city, cities = page_city(session)
    overview = may_see_city_overview(user, city)
    if not overview and not is_applicant_side(user):
        raise PermissionDenied(_("只有市总工会、省总工会和推荐单位可以查看荣誉推荐"))
    query = select(HonourNomination).where(HonourNomination.city_unit_id == city.id, HonourNomination.year == year)
    if not overview:
        unit = user.org_unit
        query = query.where(
            HonourNomination.nominating_unit_id == unit.id
            if unit.level == Level.GRASSROOTS
            else HonourNomination.district_unit_id == unit.id
        )
    nominations = session.scalars(
        query.options(selectinload(HonourNomination.enterprise), selectinload(HonourNomination.district_unit),
                      selectinload(HonourNomination.instance))
        .order_by(HonourNomination.honour_type, HonourNomination.district_unit_id, HonourNomination.district_rank,
                  HonourNomination.id)
    ).all()  # fmt: skip
    tech, total, share = honour_tech_share(session, city, year)
    html = render_template(
        "studio/honours.html",
        year=year,
        city=city,
        cities=cities,
        overview=overview,
        usage=honours_quota_usage(session, city, year),
        tech=tech,
        total=total,
        share=share,
        nominations=nominations,
        may_nominate=year == beijing_today().year and may_start(session, studio_case.HONOUR),
        city_arg={"city": city.code} if cities else {},
    )
    return html, 200
