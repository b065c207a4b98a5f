"""Due dates, reminders and 催办 (issue #4; DESIGN §7).

Every open task carries its due time in the task index (from the diagram's `dueWorkingDays` or `dueDate`). The
scheduler writes one automatic reminder when a task comes within the near-due window and one when it is overdue.
Anyone who may see a case but does not hold the task may urge its holder (催办), at most once per task per
interval (a configurable default, "use with restraint"); each urge is recorded on the case.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from workflows.audit import record_event
from workflows.calendar import SHANGHAI
from workflows.db import utcnow
from workflows.errors import OperationRefused, PermissionDenied
from workflows.models import (
    ActionKind,
    CaseAction,
    NotificationKind,
    Reminder,
    ReminderKind,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.notifications import notify_task
from workflows.routing import Action
from workflows.steps import locked_entry

# Configurable default, not a seed rule: one urge per person and task within this interval.
DEFAULT_URGE_INTERVAL = timedelta(hours=24)
MAX_MESSAGE_LENGTH = 500


def holder_of(entry: TaskIndexEntry) -> int | None:
    return entry.assigned_to_id or entry.claimed_by_id


def urge_task(
    session: Session,
    user: User,
    entry: TaskIndexEntry,
    own_actions: frozenset[Action],
    message: str = "",
    *,
    now: datetime | None = None,
    interval: timedelta = DEFAULT_URGE_INTERVAL,
) -> Reminder:
    """催办 an open task the caller may see (the caller has checked visibility and passes the user's own actions)."""
    now = now or utcnow()
    message = message.strip()[:MAX_MESSAGE_LENGTH]
    # Two clicks of 催办 in two workers: the case lock makes the second see the first's reminder.
    _instance, entry = locked_entry(session, entry.instance_id, entry.task_id)
    if entry.status != TaskStatus.READY:
        raise OperationRefused("该任务已办理，无需催办")
    if Action.COMPLETE in own_actions:
        raise PermissionDenied("这是您自己的待办，无需催办")
    recent = session.scalar(
        select(Reminder.id).where(
            Reminder.task_id == entry.task_id,
            Reminder.kind == ReminderKind.URGE.value,
            Reminder.sent_by_id == user.id,
            Reminder.created_at > now - interval,
        )
    )
    if recent is not None:
        raise OperationRefused("您已催办过该任务，请勿频繁催办")
    recipient_id = holder_of(entry)
    reminder = Reminder(
        instance_id=entry.instance_id,
        task_id=entry.task_id,
        kind=ReminderKind.URGE.value,
        recipient_id=recipient_id,
        sent_by_id=user.id,
        message=message,
        created_at=now,
    )
    session.add(reminder)
    recipient = session.get(User, recipient_id) if recipient_id else None
    session.add(
        CaseAction(
            instance_id=entry.instance_id,
            task_id=entry.task_id,
            step_title=entry.title,
            kind=ActionKind.URGE.value,
            actor_id=user.id,
            actor_name=user.display_name,
            target_user_id=recipient_id,
            target=recipient.display_name if recipient else f"{entry.org_unit.name}（部门待办）",
            reason=message,
            created_at=now,
        )
    )
    session.flush()
    # The holder, or the whole queue of an unclaimed task, is told who urged and what they said.
    said = f"{user.display_name}催办：{message}" if message else f"{user.display_name}催办"
    body = f"{_case_line(entry)}\n{said}"
    notify_task(session, entry, NotificationKind.URGED, f"催办：{entry.title}", body, exclude=user)
    record_event(session, "task.urged", "task", entry.task_id, {"case": entry.case_number}, actor_id=user.id)
    return reminder


def _case_line(entry: TaskIndexEntry) -> str:
    return f"{entry.case_number} {entry.case_title}".strip()


def _due_text(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# Each automatic reminder is also a notification to whoever works the task (issue #8).
_REMINDER_NOTIFICATIONS: dict[ReminderKind, tuple[NotificationKind, str]] = {
    ReminderKind.DUE_SOON: (NotificationKind.DUE_SOON, "即将到期：{step}"),
    ReminderKind.OVERDUE: (NotificationKind.OVERDUE, "已超期：{step}"),
}


def send_due_reminders(session: Session, now: datetime, near_limit: datetime, limit: int = 500) -> int:
    """Write the due-soon and overdue reminders that are missing (once per task and kind); returns how many."""
    written = 0
    for kind, condition in (
        (ReminderKind.OVERDUE, TaskIndexEntry.due_at < now),
        (ReminderKind.DUE_SOON, and_(TaskIndexEntry.due_at >= now, TaskIndexEntry.due_at <= near_limit)),
    ):
        sent = aliased(Reminder)
        entries = session.scalars(
            select(TaskIndexEntry)
            .where(TaskIndexEntry.status == TaskStatus.READY.value, TaskIndexEntry.due_at.is_not(None), condition)
            .where(~exists().where(sent.task_id == TaskIndexEntry.task_id, sent.kind == kind.value))
            .order_by(TaskIndexEntry.due_at)
            .limit(limit)
        ).all()
        if not entries:
            continue
        rows = [
            {
                "instance_id": entry.instance_id,
                "task_id": entry.task_id,
                "kind": kind.value,
                "recipient_id": holder_of(entry),
                "message": "",
                "created_at": now,
            }
            for entry in entries
        ]
        # Another scheduler may have written some of these since the read above: uq_reminder_automatic keeps one,
        # and only the reminders this pass wrote are told, so nobody hears of one twice.
        inserted = set(
            session.scalars(_insert_ignoring_duplicates(session).values(rows).returning(Reminder.task_id)).all()
        )
        written += len(inserted)
        notification_kind, title = _REMINDER_NOTIFICATIONS[kind]
        for entry in entries:
            if entry.task_id in inserted and entry.due_at is not None:
                body = f"{_case_line(entry)}\n办理期限：{_due_text(entry.due_at)}"
                notify_task(session, entry, notification_kind, title.format(step=entry.title), body)
    session.flush()
    return written


def _insert_ignoring_duplicates(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(Reminder).on_conflict_do_nothing(
        index_elements=["task_id", "kind"], index_where=Reminder.kind != ReminderKind.URGE.value
    )


def reminders_for(session: Session, task_id: str) -> list[Reminder]:
    return list(session.scalars(select(Reminder).where(Reminder.task_id == task_id).order_by(Reminder.id)))


def urge_counts(session: Session, task_ids: Iterable[str]) -> dict[str, int]:
    """How often each task was urged (for the 催办 badge in lists)."""
    ids = list(task_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Reminder.task_id, func.count(Reminder.id))
        .where(Reminder.task_id.in_(ids), Reminder.kind == ReminderKind.URGE.value)
        .group_by(Reminder.task_id)
    ).all()
    return {task_id: count for task_id, count in rows}
