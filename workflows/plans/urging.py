"""催办 of a responsible unit on a plan item (issue #8 "催办: urge a unit … with a recorded reminder that appears in
their notifications; repeated urging is visible on the item"; bpm-anchors §3: 到期催办, use with restraint).

Who may urge: the heads of the issuing federation's departments responsible for the item (牵头 or 配合), and the
heads of its office (办公室), which does the 督查 work for the whole plan. Whom: any responsible row of the item but
the sender's own department. Each urge is a PlanUrge row, a notification (kind URGED, pointing at the item) to every
official and head of the unit (and department), and an audit event. One urge per sender, item and unit within the
interval (the same default as urging a task holder, workflows.reminders).

Urging the holder of one task is workflows.reminders.urge_task (from the case page); this module never touches tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.errors import OperationRefused, PermissionDenied
from workflows.models import NotificationKind, OrgUnit, Plan, PlanItem, PlanUrge, Role, User
from workflows.notifications import notify, unit_label, unit_recipient_ids
from workflows.plans.responsibility import ResponsibleRow, find_row, responsible_rows
from workflows.reminders import DEFAULT_URGE_INTERVAL

OFFICE = "office"  # 办公室: the 督查 function of a federation
MAX_MESSAGE_LENGTH = 500  # the column's length (models.plan.PlanUrge.message)


def _head_of_issuing_unit(user: User, plan: Plan) -> bool:
    return user.active and user.role == Role.HEAD and user.org_unit_id == plan.issuing_unit_id


def may_urge(user: User, plan: Plan, item: PlanItem) -> bool:
    """Heads of the issuing federation's departments responsible for the item, and heads of its office."""
    if not _head_of_issuing_unit(user, plan) or user.department_code is None:
        return False
    if user.department_code == OFFICE:
        return True
    return any(
        r.org_unit_id == plan.issuing_unit_id and r.department_code == user.department_code
        for r in item.responsibilities
    )


def urge_targets(user: User, rows: list[ResponsibleRow]) -> list[ResponsibleRow]:
    """The rows `user` may urge: every responsible row but their own department."""
    return [row for row in rows if row.key != (user.org_unit_id, user.department_code)]


@dataclass(frozen=True)
class UrgeResult:
    urge: PlanUrge
    row: ResponsibleRow
    notified: int  # how many officials were told (0: the unit has no active account yet)


def urge_unit(
    session: Session,
    user: User,
    item: PlanItem,
    org_unit_id: int | None,
    department_code: str | None,
    message: str = "",
    *,
    now: datetime | None = None,
    interval: timedelta = DEFAULT_URGE_INTERVAL,
) -> UrgeResult:
    """催办 the responsible unit (`org_unit_id`, `department_code`) of `item`; flushes, the caller commits.

    PermissionDenied for anyone who may not urge on the item; FormValidationError naming the field for a unit that is
    not responsible for the item (or is the sender's own department) and a message over the limit; OperationRefused
    when the sender urged the same unit on the item within `interval`.
    """
    plan = item.plan
    if not may_urge(user, plan, item):
        raise PermissionDenied("只有本事项责任部门的负责人和办公室负责人可以催办责任单位")
    now = now or utcnow()
    message = message.strip()
    if len(message) > MAX_MESSAGE_LENGTH:
        raise FormValidationError(
            {"message": f"催办留言：不能超过 {MAX_MESSAGE_LENGTH} 字（现有 {len(message)} 字）"}
        )
    rows = responsible_rows(session, plan, [item])[item.id]
    row = find_row(rows, org_unit_id, department_code) if org_unit_id is not None else None
    if row is None:
        raise FormValidationError({"org_unit_id": f"责任单位：所选单位不是第{item.number}项的责任单位"})
    if row not in urge_targets(user, rows):
        raise FormValidationError({"org_unit_id": "责任单位：不能催办本部门，请直接督促本部门经办人"})
    # Two clicks at once: on PostgreSQL the item row's lock makes the second see the first urge.
    session.execute(select(PlanItem.id).where(PlanItem.id == item.id).with_for_update())
    recent = session.scalar(
        select(PlanUrge.created_at)
        .where(
            PlanUrge.item_id == item.id,
            PlanUrge.org_unit_id == row.org_unit.id,
            PlanUrge.department_code == row.department_code
            if row.department_code is not None
            else PlanUrge.department_code.is_(None),
            PlanUrge.sent_by_id == user.id,
            PlanUrge.created_at > now - interval,
        )
        .limit(1)
    )
    if recent is not None:
        hours = int(interval.total_seconds() // 3600)
        raise OperationRefused(f"您在 {hours} 小时内已就第{item.number}项催办过{row.label}，请勿频繁催办")
    urge = PlanUrge(
        item_id=item.id,
        org_unit_id=row.org_unit.id,
        department_code=row.department_code,
        sent_by_id=user.id,
        sender_name=user.display_name,
        message=message,
        created_at=now,
    )
    session.add(urge)
    session.flush()
    sender = f"{unit_label(user.org_unit, user.department_code)} {user.display_name}"
    lines = [f"请{row.label}加快落实{plan.document_number}第{item.number}项：{item.heading}"]
    if message:
        lines.append(f"催办留言：{message}")
    lines.append(f"催办人：{sender}")
    notified = notify(
        session,
        unit_recipient_ids(session, row.org_unit.id, row.department_code),
        NotificationKind.URGED,
        f"催办：第{item.number}项 {item.heading}",
        "\n".join(lines),
        plan_item_id=item.id,
        exclude=user,
    )
    record_event(
        session,
        "plan.urged",
        "plan_item",
        item.id,
        {"plan": plan.code, "item": item.number, "unit": row.org_unit.code, "department": row.department_code,
         "urge": urge.id},
        actor_id=user.id,
    )  # fmt: skip
    return UrgeResult(urge, row, len(notified))


def urged_unit_label(urge: PlanUrge, unit: OrgUnit | None = None) -> str:
    """The urged unit as the history shows it."""
    return unit_label(unit or urge.org_unit, urge.department_code)
