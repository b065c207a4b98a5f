"""The year's studio call (年度申报通知): quotas and funding fixed from that year's policy parameters.

Rules: quotas of 30 model-worker and 50 worker studios and funding of 50,000 / 30,000 yuan (大工办发〔2017〕28号
第4项), 100,000 yuan from 2021 (seed 004). For a year whose quota no source gives (2021 onwards), the official opening
the call enters it and the call records that it was entered by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.models import Level, OrgUnit, PolicyParameter, StudioCall, User
from workflows.organisation import ancestor_of_level
from workflows.policy.parameters import MissingParameter, effective_parameter
from workflows.policy.studio import STUDIO_KINDS, studio_funding, studio_parameters

ENTERED_BY_HAND = "开启申报时由经办人填写（该年度无名额来源）"


@dataclass(frozen=True)
class CallRequest:
    year: int
    deadline: date
    # Used only when the year has no quota parameter; keyed by studio type.
    quotas: dict[str, int | None]
    note: str = ""


def city_of(session: Session, unit: OrgUnit) -> OrgUnit | None:
    return ancestor_of_level(session, unit, Level.CITY)


def call_for(session: Session, city_unit_id: int, year: int) -> StudioCall | None:
    return session.scalar(select(StudioCall).where(StudioCall.city_unit_id == city_unit_id, StudioCall.year == year))


def open_call_for(session: Session, unit: OrgUnit, today: date) -> StudioCall | None:
    """The call an applicant under `unit` may apply to today: its city's latest call whose deadline has not passed."""
    city = city_of(session, unit)
    if city is None:
        return None
    return session.scalar(
        select(StudioCall)
        .where(StudioCall.city_unit_id == city.id, StudioCall.deadline >= today)
        .order_by(StudioCall.year.desc())
        .limit(1)
    )


def _parameter(session: Session, key: str, on: date) -> PolicyParameter | None:
    try:
        return effective_parameter(session, key, on)
    except MissingParameter:
        return None


def open_call(session: Session, user: User, request: CallRequest) -> StudioCall:
    """Open the year's call for the user's city. Flushes; refuses with Chinese messages keyed by field."""
    city = user.org_unit
    if city.level != Level.CITY:
        raise FormValidationError({"year": "只有市总工会可以开启创新工作室申报"})
    errors: dict[str, str] = {}
    today = beijing_today()
    if not 2017 <= request.year <= today.year + 1:
        errors["year"] = f"申报年度：应在2017至{today.year + 1}年之间（现有资金标准最早为2017年）"
    elif call_for(session, city.id, request.year) is not None:
        errors["year"] = f"申报年度：{request.year}年的申报已经开启"
    if request.deadline < today:
        errors["deadline"] = "申报截止日期：不能早于今天"
    if errors:
        raise FormValidationError(errors)
    on = date(request.year, 1, 1)
    params = studio_parameters(session, request.year)
    quotas: dict[str, int] = {}
    quota_sources: list[str] = []
    for studio_type, kind in STUDIO_KINDS.items():
        parameter = _parameter(session, f"studio.{kind}.quota", on)
        if parameter is not None:
            quotas[studio_type] = int(parameter.value)
            quota_sources.append(parameter.source)
            continue
        entered = request.quotas.get(studio_type)
        if entered is None or entered < 0:
            errors[f"quota_{kind}"] = f"{studio_type}名额：{request.year}年没有名额来源，请填写名额（不少于0个）"
        else:
            quotas[studio_type] = entered
            quota_sources.append(ENTERED_BY_HAND)
    try:
        funding = {studio_type: studio_funding(studio_type, request.year, params) for studio_type in STUDIO_KINDS}
    except (MissingParameter, ValueError) as missing:
        errors["year"] = f"申报年度：{missing}"
    if errors:
        raise FormValidationError(errors)
    funding_parameter = _parameter(session, "studio.worker.funding", on)
    call = StudioCall(
        city_unit_id=city.id,
        year=request.year,
        deadline=request.deadline,
        model_worker_quota=quotas["劳模创新工作室"],
        worker_quota=quotas["职工创新工作室"],
        model_worker_funding=funding["劳模创新工作室"],
        worker_funding=funding["职工创新工作室"],
        quota_source="；".join(dict.fromkeys(quota_sources))[:255],
        funding_source=(funding_parameter.source if funding_parameter else "")[:255],
        note=request.note.strip(),
        opened_by_id=user.id,
    )
    session.add(call)
    session.flush()
    return call


def city_calls(session: Session, city_unit_id: int) -> list[StudioCall]:
    return list(
        session.scalars(
            select(StudioCall).where(StudioCall.city_unit_id == city_unit_id).order_by(StudioCall.year.desc())
        )
    )
