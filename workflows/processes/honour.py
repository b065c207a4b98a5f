"""Domain hooks of honour nominations (劳动竞赛荣誉推荐, seed 000 item 5; domain research §2.f)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.models import ApplicationStatus, HonourNomination, OrgUnit, ProcessInstance, User
from workflows.policy.parameters import MissingParameter
from workflows.processes import StartPlan
from workflows.processes.nomination import Nominated, NominationHooks, decide
from workflows.routing import ProcessInfo
from workflows.studio.applicants import applicant_district, applicant_enterprise
from workflows.studio.calls import city_of
from workflows.studio.quotas import HONOUR_NOMINEE_KIND, honour_quota, honour_quota_usage

REJECTED = frozenset(
    {
        ApplicationStatus.NOT_RECOMMENDED,
        ApplicationStatus.NOT_PASSED,
        ApplicationStatus.OBJECTION_UPHELD,
    }
)
NOMINATION_FIELDS = ("honour_type", "nominee_name", "nominee_position", "tech_enterprise", "project_name", "deeds")


def nomination_of(session: Session, instance: ProcessInstance) -> HonourNomination:
    nomination = session.scalar(select(HonourNomination).where(HonourNomination.instance_id == instance.id))
    if nomination is None:
        raise LookupError(f"案件 {instance.case_number} 没有荣誉推荐记录")
    return nomination


def nomination_problems(
    session: Session, data: dict[str, Any], city: OrgUnit, year: int, exclude_id: int | None = None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    honour_type = data["honour_type"]
    try:
        honour_quota(session, honour_type, year)
    except MissingParameter:
        errors["honour_type"] = f"荣誉类别：{year}年没有{honour_type}的名额规定，暂不能推荐"
    if HONOUR_NOMINEE_KIND[honour_type] == "个人" and len((data.get("nominee_position") or "").strip()) < 2:
        errors["nominee_position"] = f"职务、岗位：{honour_type}授予个人，请填写推荐对象的职务或岗位"
    same = select(HonourNomination.id).where(
        HonourNomination.city_unit_id == city.id,
        HonourNomination.year == year,
        HonourNomination.honour_type == honour_type,
        HonourNomination.nominee_name == data["nominee_name"].strip(),
        HonourNomination.status.not_in([status.value for status in REJECTED]),
    )
    if exclude_id is not None:
        same = same.where(HonourNomination.id != exclude_id)
    if session.scalar(same.limit(1)) is not None:
        errors["nominee_name"] = f"推荐对象：{year}年已推荐“{data['nominee_name'].strip()}”参评{honour_type}"
    return errors


def _apply_fields(nomination: HonourNomination, data: dict[str, Any]) -> None:
    for name in NOMINATION_FIELDS:
        value = data.get(name) or ("" if name == "nominee_position" else data[name])
        setattr(nomination, name, value.strip() if isinstance(value, str) else value)
    nomination.nominee_kind = HONOUR_NOMINEE_KIND[nomination.honour_type]


def _city(session: Session, unit: OrgUnit) -> OrgUnit:
    city = city_of(session, unit)
    if city is None:
        raise FormValidationError({"honour_type": "本单位不在任何市总工会之下，不能推荐；请管理员核对组织机构"})
    return city


class HonourNominationHooks(NominationHooks):
    # After the city's approval the list is on public notice: objections go through verification, never a return.
    irreversible_steps = frozenset({"city_review", "notice", "verify_objection", "award"})

    def rank_scope(self, record: Nominated) -> tuple[Any, list[ColumnElement[bool]]]:
        assert isinstance(record, HonourNomination)
        return HonourNomination.district_rank, [
            HonourNomination.year == record.year,
            HonourNomination.honour_type == record.honour_type,
            HonourNomination.district_unit_id == record.district_unit_id,
            HonourNomination.id != record.id,
            HonourNomination.status.not_in([status.value for status in REJECTED]),
        ]

    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        year = beijing_today().year
        city = _city(session, user.org_unit)
        errors = nomination_problems(session, data, city, year)
        if errors:
            raise FormValidationError(errors)
        district = applicant_district(session, user.org_unit)
        enterprise = applicant_enterprise(session, user.org_unit, district, data)
        title = f"{data['nominee_name'].strip()}（{year}年{data['honour_type']}）"[:255]
        initial = {"year": year, "honour_type": data["honour_type"]}
        return StartPlan(home_unit=user.org_unit, title=title, enterprise=enterprise, initial_data=initial)

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        assert instance.enterprise_id is not None
        nomination = HonourNomination(
            instance_id=instance.id,
            city_unit_id=_city(session, instance.home_unit).id,
            year=beijing_today().year,
            enterprise_id=instance.enterprise_id,
            nominating_unit_id=instance.home_unit_id,
            district_unit_id=applicant_district(session, instance.home_unit).id,
            status=ApplicationStatus.APPLIED.value,
        )
        _apply_fields(nomination, data)
        session.add(nomination)
        session.flush()

    def form_values(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> dict[str, Any]:
        if bpmn_id != "revise":
            return {}
        nomination = nomination_of(session, instance)
        values = {name: getattr(nomination, name) for name in NOMINATION_FIELDS}
        values["enterprise_uscc"] = nomination.enterprise.uscc
        values["enterprise_name"] = nomination.enterprise.name
        return values

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        nomination = nomination_of(session, instance)
        if bpmn_id == "revise":
            city = session.get(OrgUnit, nomination.city_unit_id)
            assert city is not None
            errors = nomination_problems(session, data, city, nomination.year, exclude_id=nomination.id)
            if data["enterprise_uscc"].upper() != nomination.enterprise.uscc:
                errors["enterprise_uscc"] = "所在单位统一社会信用代码：补正时不能更换单位，请另行推荐"
            return errors
        if bpmn_id == "city_review" and data["decision"] == "同意授予":
            # The city's row is locked so that two approvals recorded at once cannot both take the last place.
            city = session.scalar(select(OrgUnit).where(OrgUnit.id == nomination.city_unit_id).with_for_update())
            assert city is not None
            usage = honour_quota_usage(session, city, nomination.year, nomination.honour_type)
            if usage.left <= 0:
                return {
                    "decision": f"审核结论：{nomination.year}年{nomination.honour_type}名额 {usage.quota} 个"
                    f"已全部使用（已用 {usage.used} 个），不能再同意授予"
                }
        return self.shared_check(session, instance, nomination, bpmn_id, data)

    def step_data(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
        user: User,
    ) -> dict[str, Any]:
        nomination = nomination_of(session, instance)
        result: dict[str, Any] = {}
        if bpmn_id == "revise":
            _apply_fields(nomination, data)
            nomination.status = ApplicationStatus.APPLIED.value
        elif bpmn_id == "city_review":
            if data["decision"] == "同意授予":
                result = self.put_on_notice(session, instance, nomination)
            elif data["decision"] == "退回修改":
                nomination.status = ApplicationStatus.RETURNED.value
            else:
                decide(nomination, ApplicationStatus.NOT_PASSED)
        elif bpmn_id == "award":
            nomination.document_number = data["document_number"].strip()
            nomination.awarded_on = date.fromisoformat(data["awarded_on"])
            decide(nomination, ApplicationStatus.AWARDED)
        else:
            result = self.shared_step(session, instance, nomination, bpmn_id, data, user)
        session.flush()
        return result
