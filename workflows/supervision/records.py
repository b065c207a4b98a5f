"""The records kept beside the engine for a supervised matter: the item, its units and its reports (issue 8)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.models import (
    ApprovalStep,
    OrgUnit,
    ProcessInstance,
    SupervisionFeedback,
    SupervisionItem,
    SupervisionStatus,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.models.supervision import FeedbackKind
from workflows.notifications import unit_label

STATUS_LABELS: dict[str, str] = {
    SupervisionStatus.REGISTERED.value: "待交办",
    SupervisionStatus.ASSIGNED.value: "待签收",
    SupervisionStatus.IN_PROGRESS.value: "办理中",
    SupervisionStatus.REPORTED.value: "待销号",
    SupervisionStatus.CLOSED.value: "已销号",
    SupervisionStatus.WITHDRAWN.value: "不予交办",
}
FEEDBACK_LABELS: dict[str, str] = {
    FeedbackKind.PROGRESS.value: "进展反馈",
    FeedbackKind.COMPLETION.value: "办结报告",
    FeedbackKind.CO_UNIT.value: "协办反馈",
    FeedbackKind.SENT_BACK.value: "退回重办",
}
# A matter in one of these states is finished: no light, no escalation.
FINISHED = frozenset({SupervisionStatus.CLOSED.value, SupervisionStatus.WITHDRAWN.value})
# What the units reported (the head's 退回重办 is on the timeline, but is not a report).
REPORT_KINDS = (FeedbackKind.PROGRESS.value, FeedbackKind.COMPLETION.value, FeedbackKind.CO_UNIT.value)
CO_REPORT_STEP = "co_report"


def item_of(session: Session, instance: ProcessInstance) -> SupervisionItem:
    item = session.scalar(select(SupervisionItem).where(SupervisionItem.instance_id == instance.id))
    if item is None:
        raise LookupError(f"案件 {instance.case_number} 没有督办事项记录")
    return item


def record_feedback(
    session: Session, item: SupervisionItem, kind: FeedbackKind, unit: OrgUnit, author: User, body: str
) -> SupervisionFeedback:
    """One report (or the head's reason for sending the matter back), tied to the approval step just written."""
    step_task = session.scalar(
        select(ApprovalStep.task_id)
        .where(ApprovalStep.instance_id == item.instance_id)
        .order_by(ApprovalStep.id.desc())
        .limit(1)
    )
    feedback = SupervisionFeedback(
        kind=kind.value,
        org_unit_id=unit.id,
        author_id=author.id,
        author_name=author.display_name,
        body=body.strip(),
        task_id=step_task,
    )
    item.feedback.append(feedback)  # through the collection, so the item loaded in this session shows it
    session.flush()
    return feedback


def progress_count(session: Session, item: SupervisionItem) -> int:
    query = select(func.count(SupervisionFeedback.id)).where(
        SupervisionFeedback.item_id == item.id, SupervisionFeedback.kind == FeedbackKind.PROGRESS.value
    )
    return session.scalar(query) or 0


def pending_co_units(session: Session, instance_id: int) -> list[str]:
    """The co-units whose 协办反馈 is still open, by name: read from the task index, which follows the engine (a
    returned or withdrawn report is open again)."""
    entries = session.scalars(
        select(TaskIndexEntry)
        .where(
            TaskIndexEntry.instance_id == instance_id,
            TaskIndexEntry.bpmn_id == CO_REPORT_STEP,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
        .order_by(TaskIndexEntry.id)
    )
    return [unit_label(entry.org_unit, entry.department_code) for entry in entries]
