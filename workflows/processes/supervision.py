"""Domain hooks of the supervision process (督办事项, issue 8 §Supervision items; bpm-anchors §3 督查督办).

立项 (start) → 交办 by the registering department's head → 签收 by the lead unit (主办) → 承办反馈 (进展反馈 loops,
办结报告 goes on; at least one 进展反馈 first) while each co-unit (协办) reports once → 核查销号 by the same head:
销号 (only once every co-unit has reported) or 退回重办 with a reason.

The case data carries only routing values: the assigning unit, department and head, the lead unit, the co-unit list
(a multi-instance collection, one small dict per unit), the deadline and the due periods read at 立项. The matter,
its units and every report are rows of workflows/models/supervision.py, kept current by `after_step`, which runs on
every completion path (also when a 后加签 holds the decision).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.errors import PermissionDenied
from workflows.models import (
    Plan,
    PlanItem,
    ProcessInstance,
    ResponsibilityRole,
    SupervisionItem,
    SupervisionStatus,
    SupervisionUnit,
    User,
)
from workflows.models.supervision import FeedbackKind
from workflows.policy import as_count
from workflows.policy.parameters import parameter_value
from workflows.processes import ProcessHooks, StartPlan
from workflows.routing import ProcessInfo
from workflows.supervision.records import item_of, pending_co_units, progress_count, record_feedback
from workflows.supervision.units import (
    UnitChoice,
    assigning_head,
    choice_for,
    registering_problem,
    split_references,
    unit_choices,
)

ASSIGN, NOT_ASSIGNED = "交办", "不予交办"
COMPLETION = "办结报告"  # the other 反馈类型, 进展反馈, loops back to 承办反馈
CLOSE, SEND_BACK = "销号", "退回重办"
# Due periods (working days) of the steps without a deadline of their own: configurable defaults (bpm-anchors §3).
DUE_PARAMETERS = {
    "assign_days": "supervision.assign.working_days",
    "sign_days": "supervision.sign.working_days",
    "verify_days": "supervision.verify.working_days",
}
_REFERENCE_HINT = "写法如 210200:finance（本级部门）或 210211（下级工会）"


def resolve_units(
    session: Session, user: User, data: dict[str, Any]
) -> tuple[UnitChoice | None, list[UnitChoice], dict[str, str]]:
    """The lead unit and the co-units the start form names, and a message per field that names a wrong one."""
    choices = unit_choices(session, user.org_unit)
    errors: dict[str, str] = {}
    lead = choice_for(choices, data["lead_unit"])
    if lead is None:
        errors["lead_unit"] = f"主办单位：“{data['lead_unit'].strip()}”不是本单位的部门或下级工会（{_REFERENCE_HINT}）"
    co: list[UnitChoice] = []
    unknown: list[str] = []
    for reference in split_references(data.get("co_units", "")):
        choice = choice_for(choices, reference)
        if choice is None:
            unknown.append(reference)
        elif lead is not None and choice.reference == lead.reference:
            errors["co_units"] = f"协办单位：{choice.label}已是主办单位，不能同时作为协办单位"
        else:
            co.append(choice)
    if unknown:
        errors["co_units"] = f"协办单位：“{'、'.join(unknown)}”不是本单位的部门或下级工会（{_REFERENCE_HINT}）"
    return lead, co, errors


def plan_item_problem(session: Session, user: User, plan_item_id: int | None) -> str | None:
    if plan_item_id is None:
        return None
    issuer = session.scalar(
        select(Plan.issuing_unit_id).join(PlanItem, PlanItem.plan_id == Plan.id).where(PlanItem.id == plan_item_id)
    )
    if issuer != user.org_unit_id:
        return "关联工作事项：不是本单位责任分工方案中的工作事项"
    return None


def _set_status(item: SupervisionItem, status: SupervisionStatus) -> None:
    item.status = status.value


def unit_of_role(item: SupervisionItem, role: ResponsibilityRole) -> SupervisionUnit | None:
    """The matter's lead unit (主办), or its first co-unit."""
    return next((unit for unit in item.units if unit.role == role.value), None)


def co_unit_of(item: SupervisionItem, user: User) -> SupervisionUnit | None:
    """The co-unit whose 协办反馈 `user` gives: their unit, and their department where the unit names one."""
    return next(
        (
            unit
            for unit in item.units
            if unit.role == ResponsibilityRole.CO.value
            and unit.org_unit_id == user.org_unit_id
            and unit.department_code in (None, user.department_code)
        ),
        None,
    )


class SupervisionHooks(ProcessHooks):
    # A closed matter is closed: 销号 is never returned to or withdrawn (reopen it as a new matter).
    irreversible_steps = frozenset({"verify"})

    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        problem = registering_problem(session, user)
        if problem is not None:
            raise PermissionDenied(problem)
        lead, co, errors = resolve_units(session, user, data)
        today = beijing_today()
        if date.fromisoformat(data["deadline"]) < today:
            errors["deadline"] = f"办结时限：不能早于今天（{today.isoformat()}）"
        plan_problem = plan_item_problem(session, user, data.get("plan_item_id"))
        if plan_problem is not None:
            errors["plan_item_id"] = plan_problem
        if errors:
            raise FormValidationError(errors)
        assert lead is not None
        head = assigning_head(session, user)
        assert head is not None  # registering_problem said so
        initial: dict[str, Any] = {
            "assigning_unit_id": user.org_unit_id,
            "assigning_department": user.department_code,
            "head_id": head.id,
            "lead_unit_id": lead.unit.id,
            "lead_department": lead.department_code,
            # The co-unit branch's multi-instance collection: one small dict per unit, never a list of records.
            "co_units": [{"unit_id": choice.unit.id, "department": choice.department_code} for choice in co],
            "deadline": data["deadline"],
        }
        for name, key in DUE_PARAMETERS.items():
            initial[name] = as_count(parameter_value(session, key, today), "督办时限")
        return StartPlan(home_unit=user.org_unit, title=data["title"].strip()[:255], initial_data=initial)

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        starter = instance.started_by
        lead, co, _errors = resolve_units(session, starter, data)
        head = assigning_head(session, starter)
        assert lead is not None and head is not None  # checked by prepare_start in this transaction
        item = SupervisionItem(
            instance_id=instance.id,
            plan_item_id=data.get("plan_item_id"),
            title=data["title"].strip()[:200],
            source=data["source"],
            content=data["content"].strip(),
            assigning_unit_id=starter.org_unit_id,
            assigning_department_code=starter.department_code,
            assigning_head_id=head.id,
            deadline=date.fromisoformat(data["deadline"]),
            status=SupervisionStatus.REGISTERED.value,
        )
        session.add(item)
        session.flush()
        for choice, role in [(lead, ResponsibilityRole.LEAD), *((choice, ResponsibilityRole.CO) for choice in co)]:
            session.add(
                SupervisionUnit(
                    item_id=item.id, org_unit_id=choice.unit.id, department_code=choice.department_code, role=role.value
                )
            )
        session.flush()

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        if bpmn_id == "assign" and data["decision"] == ASSIGN and "deadline" in data:
            today = beijing_today()
            if date.fromisoformat(data["deadline"]) < today:
                return {"deadline": f"调整办结时限：不能早于今天（{today.isoformat()}）"}
        # The issue: progress reports (反馈), "at least one", before the completion report (办结).
        completion = bpmn_id == "handle" and data["report_kind"] == COMPLETION
        if completion and progress_count(session, item_of(session, instance)) == 0:
            return {"report_kind": "反馈类型：报送办结报告前至少要有一次进展反馈，请先报送进展反馈"}
        if bpmn_id == "verify" and data["decision"] == CLOSE:
            pending = pending_co_units(session, instance.id)
            if pending:
                return {"decision": f"核查结论：协办单位尚未反馈：{'、'.join(pending)}，暂不能销号"}
        return {}

    def after_step(
        self, session: Session, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any], user: User
    ) -> None:
        item = item_of(session, instance)
        now = utcnow()
        if bpmn_id == "assign":
            if data["decision"] == NOT_ASSIGNED:
                _set_status(item, SupervisionStatus.WITHDRAWN)
            else:
                _set_status(item, SupervisionStatus.ASSIGNED)
                item.assigned_at = now
                if "deadline" in data:
                    item.deadline = date.fromisoformat(data["deadline"])
        elif bpmn_id == "sign":
            _set_status(item, SupervisionStatus.IN_PROGRESS)
            item.signed_at = now
            lead = unit_of_role(item, ResponsibilityRole.LEAD)
            if lead is not None:
                lead.signed_at = now
        elif bpmn_id == "handle":
            completion = data["report_kind"] == COMPLETION
            kind = FeedbackKind.COMPLETION if completion else FeedbackKind.PROGRESS
            lead = unit_of_role(item, ResponsibilityRole.LEAD)
            record_feedback(session, item, kind, lead.org_unit if lead else user.org_unit, user, data["opinion"])
            if completion:
                _set_status(item, SupervisionStatus.REPORTED)
                item.reported_at = now
        elif bpmn_id == "co_report":
            unit = co_unit_of(item, user)
            record_feedback(session, item, FeedbackKind.CO_UNIT, user.org_unit, user, data["opinion"])
            if unit is not None and unit.signed_at is None:
                unit.signed_at = now  # a co-unit's first report is its receipt of the matter
        elif bpmn_id == "verify":
            if data["decision"] == CLOSE:
                _set_status(item, SupervisionStatus.CLOSED)
                item.closed_at = now
            elif data["decision"] == SEND_BACK:
                record_feedback(session, item, FeedbackKind.SENT_BACK, user.org_unit, user, data["opinion"])
                item.sent_back_count += 1
                _set_status(item, SupervisionStatus.IN_PROGRESS)
                item.reported_at = None
        session.flush()

    def reopen_step(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> None:
        """A step returned to or withdrawn: the matter goes back to the state before it. Reports stay on the
        timeline (like the approval record's steps); only the status and its timestamps follow the engine."""
        item = item_of(session, instance)
        if bpmn_id == "assign":
            _set_status(item, SupervisionStatus.REGISTERED)
            item.assigned_at = item.signed_at = item.reported_at = None
            for unit in item.units:
                unit.signed_at = None
        elif bpmn_id == "sign" and item.status in (SupervisionStatus.IN_PROGRESS, SupervisionStatus.REPORTED):
            # A return to 交办 reopens 签收 too (in path order, after 交办): the matter stays 待交办 then.
            _set_status(item, SupervisionStatus.ASSIGNED)
            item.signed_at = item.reported_at = None
            lead = unit_of_role(item, ResponsibilityRole.LEAD)
            if lead is not None:
                lead.signed_at = None
        elif bpmn_id == "handle" and item.status == SupervisionStatus.REPORTED.value:
            _set_status(item, SupervisionStatus.IN_PROGRESS)
            item.reported_at = None
        session.flush()
