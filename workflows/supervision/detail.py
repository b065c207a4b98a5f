"""One supervised matter as its page and the task panel show it (issue 8): who it went to and whether they signed
for it or reported, and the timeline of reports, send-backs and escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import (
    PlanItem,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.models.plan import ResponsibilityRole
from workflows.notifications import unit_label
from workflows.supervision.records import CO_REPORT_STEP, FEEDBACK_LABELS, REPORT_KINDS, STATUS_LABELS

ROLE_LABELS = {ResponsibilityRole.LEAD.value: "主办", ResponsibilityRole.CO.value: "协办"}


@dataclass(frozen=True)
class UnitStatus:
    label: str
    role: str  # 主办 / 协办
    state: str  # 待签收, 已签收, 待反馈, 已反馈, 未交办
    at: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    kind_label: str
    unit: str
    author: str
    body: str
    at: datetime


@dataclass(frozen=True)
class MatterDetail:
    item: SupervisionItem
    status_label: str
    assigning: str
    head: str
    plan_item: str | None
    units: list[UnitStatus]
    timeline: list[TimelineEntry]
    report_count: int


def _unit_states(session: Session, item: SupervisionItem) -> list[UnitStatus]:
    """The lead's 签收 from the matter's record; a co-unit has reported unless its 协办反馈 is open in the task
    index (which follows the engine, so a returned report counts as open again)."""
    open_co = {
        (entry.org_unit_id, entry.department_code)
        for entry in session.scalars(
            select(TaskIndexEntry).where(
                TaskIndexEntry.instance_id == item.instance_id,
                TaskIndexEntry.bpmn_id == CO_REPORT_STEP,
                TaskIndexEntry.status == TaskStatus.READY.value,
            )
        )
    }
    assigned = item.assigned_at is not None
    states = []
    for unit in item.units:
        label = unit_label(unit.org_unit, unit.department_code)
        if not assigned:
            state, at = "未交办", None
        elif unit.role == ResponsibilityRole.LEAD.value:
            state, at = ("已签收", unit.signed_at) if unit.signed_at else ("待签收", None)
        elif (unit.org_unit_id, unit.department_code) in open_co:
            state, at = "待反馈", None
        else:
            state, at = "已反馈", unit.signed_at
        states.append(UnitStatus(label, ROLE_LABELS.get(unit.role, unit.role), state, at))
    return states


def _timeline(session: Session, item: SupervisionItem) -> list[TimelineEntry]:
    author_ids = {feedback.author_id for feedback in item.feedback}
    authors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(author_ids)))} if author_ids else {}
    entries = []
    for feedback in item.feedback:
        author = authors.get(feedback.author_id)
        # A city department's report names the department its author works in.
        department = author.department_code if author and author.org_unit_id == feedback.org_unit_id else None
        entries.append(
            TimelineEntry(
                kind=feedback.kind,
                kind_label=FEEDBACK_LABELS.get(feedback.kind, feedback.kind),
                unit=unit_label(feedback.org_unit, department),
                author=feedback.author_name,
                body=feedback.body,
                at=feedback.created_at,
            )
        )
    return entries


def matter_detail(session: Session, item: SupervisionItem) -> MatterDetail:
    head = session.get(User, item.assigning_head_id) if item.assigning_head_id is not None else None
    plan_item = session.get(PlanItem, item.plan_item_id) if item.plan_item_id is not None else None
    timeline = _timeline(session, item)
    return MatterDetail(
        item=item,
        status_label=STATUS_LABELS.get(item.status, item.status),
        assigning=unit_label(item.assigning_unit, item.assigning_department_code),
        head=head.display_name if head else "—",
        plan_item=f"{plan_item.plan.title} 第{plan_item.number}项：{plan_item.heading}" if plan_item else None,
        units=_unit_states(session, item),
        timeline=timeline,
        report_count=sum(1 for entry in timeline if entry.kind in REPORT_KINDS),
    )
