"""Escalation of overdue supervised matters (issue 8: "Overdue items escalate to the head"; bpm-anchors §3 到期催办).

A matter still open (not 销号, not 不予交办) whose deadline, a Beijing date, has passed is escalated once: its
`escalated_at` is set and the assigning head gets a notification naming the lead unit, the days overdue and
whether any progress report came in. The scheduler calls `escalate_overdue_items` on every pass; each matter is
claimed with `UPDATE … WHERE escalated_at IS NULL`, so two schedulers running at once tell the head once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.models import NotificationKind, ResponsibilityRole, SupervisionItem, User
from workflows.notifications import notify, unit_label
from workflows.supervision.records import FINISHED, progress_count


def escalation_text(session: Session, item: SupervisionItem, days_overdue: int) -> tuple[str, str]:
    """The notification's title and body."""
    lead = next((unit for unit in item.units if unit.role == ResponsibilityRole.LEAD.value), None)
    lead_name = unit_label(lead.org_unit, lead.department_code) if lead else "（未指定）"
    reports = progress_count(session, item)
    progress = f"已有进展反馈 {reports} 次" if reports else "尚无进展反馈"
    assert item.deadline is not None
    body = (
        f"主办单位：{lead_name}；办结时限 {item.deadline.isoformat()}，已超期 {days_overdue} 天；{progress}。"
        f"案件 {item.instance.case_number}。"
    )
    return f"督办事项超期：{item.title}", body


def escalate_overdue_items(session: Session, now: datetime) -> int:
    """Escalate every open matter whose deadline passed before today (Beijing); returns how many were escalated."""
    today = now.astimezone(SHANGHAI).date()
    candidates = session.scalars(
        select(SupervisionItem)
        .where(
            SupervisionItem.status.not_in(FINISHED),
            SupervisionItem.deadline < today,
            SupervisionItem.escalated_at.is_(None),
        )
        .order_by(SupervisionItem.id)
    ).all()
    escalated = 0
    for item in candidates:
        # Claim the matter: a concurrent pass that got here first has set escalated_at, and this UPDATE matches
        # nothing. The row stays locked until the caller commits, so the other pass waits and then skips it.
        claimed = session.execute(
            update(SupervisionItem)
            .where(SupervisionItem.id == item.id, SupervisionItem.escalated_at.is_(None))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            continue
        session.refresh(item, ["escalated_at"])
        head = session.get(User, item.assigning_head_id) if item.assigning_head_id is not None else None
        assert item.deadline is not None
        title, body = escalation_text(session, item, (today - item.deadline).days)
        if head is not None:
            notify(
                session,
                [head.id],
                NotificationKind.ESCALATED,
                title,
                body,
                instance_id=item.instance_id,
                plan_item_id=item.plan_item_id,
            )
        escalated += 1
    session.flush()
    return escalated
