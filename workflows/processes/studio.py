"""Domain hooks of studio naming (创新工作室命名, seed 000 item 4; seed 004; domain research §2.c)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.models import (
    ApplicationStatus,
    ProcessInstance,
    StudioApplication,
    StudioCall,
    StudioExpertScore,
    User,
)
from workflows.policy import as_count
from workflows.policy.countersign import countersign_passed
from workflows.policy.parameters import parameter_value
from workflows.processes import StartPlan
from workflows.processes.nomination import Nominated, NominationHooks, decide
from workflows.routing import ProcessInfo
from workflows.studio.applicants import applicant_district, applicant_enterprise
from workflows.studio.calls import open_call_for
from workflows.studio.experts import panel_members
from workflows.studio.quotas import studio_quota_usage
from workflows.studio.registry import funding_problem, name_studio, record_funding, studio_of

# The expert panel passes an application when two thirds of its experts agree: a default [I] (domain §2.c C5 gives
# no rule); the diagram's script reads it from case data, so changing it here changes both.
PANEL_RULE = "ratio:2/3"
# Domain §2.c (R29): the lead of a model-worker studio is a model worker at city level or above or holds a
# 五一劳动奖章 (practice of other provinces; Liaoning lowered the thresholds in 2020, text not available).
MODEL_WORKER_HONOURS = frozenset({"全国劳动模范", "省级劳动模范", "市级劳动模范", "全国五一劳动奖章", "省五一劳动奖章"})
REJECTED = frozenset(
    {
        ApplicationStatus.NOT_RECOMMENDED,
        ApplicationStatus.NOT_PASSED,
        ApplicationStatus.PANEL_REJECTED,
        ApplicationStatus.NOT_APPROVED,
        ApplicationStatus.OBJECTION_UPHELD,
    }
)
APPLICATION_FIELDS = (
    "studio_name",
    "studio_type",
    "tech_enterprise",
    "lead_name",
    "lead_honour",
    "lead_position",
    "members",
    "running_since",
    "patents",
    "economic_benefit",
    "techniques",
    "results_summary",
    "training_sessions",
    "trained_workers",
)


def team_members(members: str) -> list[str]:
    return [line.strip() for line in members.splitlines() if line.strip()]


def application_problems(
    session: Session, data: dict[str, Any], call: StudioCall, exclude_id: int | None = None
) -> dict[str, str]:
    """The application's own rules (a JSON Schema cannot express them); field -> Chinese message."""
    errors: dict[str, str] = {}
    if data["studio_type"] == "劳模创新工作室" and data["lead_honour"] not in MODEL_WORKER_HONOURS:
        errors["lead_honour"] = "领衔人荣誉：劳模创新工作室的领衔人应为市级以上劳动模范或五一劳动奖章获得者"
    minimum = as_count(parameter_value(session, "studio.min_team_size", beijing_today()), "团队最少人数")
    if len(team_members(data["members"])) + 1 < minimum:
        errors["members"] = f"团队成员：连同领衔人不少于{minimum}人（每行填写一人）"
    if date.fromisoformat(data["running_since"]) > beijing_today():
        errors["running_since"] = "工作室创建时间：不能晚于今天"
    same_name = select(StudioApplication.id).where(
        StudioApplication.call_id == call.id,
        StudioApplication.studio_name == data["studio_name"].strip(),
        StudioApplication.status.not_in([status.value for status in REJECTED]),
    )
    if exclude_id is not None:
        same_name = same_name.where(StudioApplication.id != exclude_id)
    if session.scalar(same_name.limit(1)) is not None:
        errors["studio_name"] = f"工作室名称：{call.year}年已有同名工作室申报"
    return errors


def _apply_fields(application: StudioApplication, data: dict[str, Any]) -> None:
    for name in APPLICATION_FIELDS:
        value = data[name]
        if name == "running_since":
            value = date.fromisoformat(value)
        elif isinstance(value, str):
            value = value.strip()
        setattr(application, name, value)


def application_of(session: Session, instance: ProcessInstance) -> StudioApplication:
    application = session.scalar(select(StudioApplication).where(StudioApplication.instance_id == instance.id))
    if application is None:
        raise LookupError(f"案件 {instance.case_number} 没有工作室申报记录")
    return application


def _site_total(scores: dict[str, Any]) -> Decimal:
    return Decimal(sum(int(value) for value in scores.values()))


class StudioNamingHooks(NominationHooks):
    # Once the meeting has decided and the list is on public notice, the decision stands: objections go through the
    # verification step, never by returning the case; naming and funding have left the building.
    irreversible_steps = frozenset({"leadership", "notice", "verify_objection", "naming", "funding"})

    def rank_scope(self, record: Nominated) -> tuple[Any, list[ColumnElement[bool]]]:
        assert isinstance(record, StudioApplication)
        return StudioApplication.district_rank, [
            StudioApplication.call_id == record.call_id,
            StudioApplication.district_unit_id == record.district_unit_id,
            StudioApplication.id != record.id,
            StudioApplication.status.not_in([status.value for status in REJECTED]),
        ]

    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        call = open_call_for(session, user.org_unit, beijing_today())
        if call is None:
            raise FormValidationError({"studio_type": "本市尚未开启创新工作室申报，或申报已截止"})
        errors = application_problems(session, data, call)
        if errors:
            raise FormValidationError(errors)
        district = applicant_district(session, user.org_unit)
        enterprise = applicant_enterprise(session, user.org_unit, district, data)
        initial = {"call_id": call.id, "call_year": call.year, "studio_type": data["studio_type"]}
        title = f"{data['studio_name'].strip()}（{call.year}年{data['studio_type']}）"[:255]
        return StartPlan(home_unit=user.org_unit, title=title, enterprise=enterprise, initial_data=initial)

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        call = open_call_for(session, instance.home_unit, beijing_today())
        assert call is not None and instance.enterprise_id is not None
        application = StudioApplication(
            instance_id=instance.id,
            call_id=call.id,
            enterprise_id=instance.enterprise_id,
            applicant_unit_id=instance.home_unit_id,
            district_unit_id=applicant_district(session, instance.home_unit).id,
        )
        _apply_fields(application, data)
        session.add(application)
        session.flush()

    def form_values(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> dict[str, Any]:
        if bpmn_id != "revise":
            return {}
        application = application_of(session, instance)
        values = {name: getattr(application, name) for name in APPLICATION_FIELDS}
        values["running_since"] = application.running_since.isoformat()
        values["enterprise_uscc"] = application.enterprise.uscc
        values["enterprise_name"] = application.enterprise.name
        return values

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        application = application_of(session, instance)
        if bpmn_id == "revise":
            errors = application_problems(session, data, application.call, exclude_id=application.id)
            if data["enterprise_uscc"].upper() != application.enterprise.uscc:
                errors["enterprise_uscc"] = "申报单位统一社会信用代码：补正时不能更换申报单位，请另行申报"
            return errors
        if bpmn_id == "city_review" and data["decision"] == "提交专家评审":
            if not data["materials_complete"]:
                return {"materials_complete": "申报材料齐全：材料不齐全的不能提交专家评审，请退回补正"}
            minimum = as_count(parameter_value(session, "studio.panel.min_experts", beijing_today()), "专家人数")
            _, problem = panel_members(session, data.get("experts", ""), instance, minimum)
            return {"experts": problem} if problem else {}
        if bpmn_id == "leadership" and data["decision"] == "同意命名":
            # The call row is locked so that two meetings recorded at once cannot both take the last name.
            session.scalar(select(StudioCall).where(StudioCall.id == application.call_id).with_for_update())
            usage = studio_quota_usage(session, application.call, application.studio_type)
            if usage.left <= 0:
                return {
                    "decision": f"会议决定：{application.call.year}年{application.studio_type}名额 {usage.quota} 个"
                    f"已全部使用（已用 {usage.used} 个），不能再同意命名"
                }
        if bpmn_id == "funding":
            return funding_problem(studio_of(session, application), data["amount"])
        return self.shared_check(session, instance, application, bpmn_id, data)

    def step_data(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
        user: User,
    ) -> dict[str, Any]:
        application = application_of(session, instance)
        if bpmn_id == "revise":
            _apply_fields(application, data)
            application.status = ApplicationStatus.APPLIED.value
        elif bpmn_id == "city_review":
            application.site_score = _site_total(data["scores"])
            if data["decision"] == "提交专家评审":
                experts, _ = panel_members(session, data["experts"], instance, 0)
                application.panel_round += 1
                # Each round starts its output collection empty (the engine will not overwrite the last round's).
                return {"experts": [expert.id for expert in experts], "expert_votes": [], "panel_rule": PANEL_RULE}
            if data["decision"] == "退回修改":
                application.status = ApplicationStatus.RETURNED.value
            else:
                decide(application, ApplicationStatus.NOT_PASSED)
        elif bpmn_id == "expert_review":
            return self._record_expert(session, application, data, case_data, user)
        elif bpmn_id == "leadership":
            if data["decision"] != "同意命名":
                decide(application, ApplicationStatus.NOT_APPROVED)
                return {}
            return self.put_on_notice(session, instance, application)
        elif bpmn_id == "naming":
            name_studio(session, application, data["document_number"], date.fromisoformat(data["named_on"]))
            application.decided_at = utcnow()
        elif bpmn_id == "funding":
            studio = studio_of(session, application)
            assert studio is not None
            record_funding(
                session, studio, user, data["amount"], data["voucher_number"], date.fromisoformat(data["paid_on"])
            )
        else:
            return self.shared_step(session, instance, application, bpmn_id, data, user)
        session.flush()
        return {}

    def _record_expert(
        self,
        session: Session,
        application: StudioApplication,
        data: dict[str, Any],
        case_data: dict[str, Any],
        user: User,
    ) -> dict[str, Any]:
        session.add(
            StudioExpertScore(
                application_id=application.id,
                panel_round=application.panel_round,
                expert_id=user.id,
                score=data["score"],
                decision=data["decision"],
                opinion=data["opinion"].strip(),
            )
        )
        session.flush()
        votes = list(
            session.scalars(
                select(StudioExpertScore.decision).where(
                    StudioExpertScore.application_id == application.id,
                    StudioExpertScore.panel_round == application.panel_round,
                )
            )
        )
        panel_size = len(case_data.get("experts", []))
        # The last expert's vote decides the panel; the diagram's script reaches the same outcome from its own
        # collection, this records it for the ended case (a rejected panel has no later step).
        if len(votes) == panel_size and not countersign_passed(votes, panel_size, case_data["panel_rule"]):
            decide(application, ApplicationStatus.PANEL_REJECTED)
        # The panel's output item: distinct from `decision`, which the case data already holds from earlier steps.
        return {"vote": data["decision"]}
