"""The notification centre's writing side (issue #8): who is told about an event, written in the caller's
transaction. Reading, marking read and e-mailing live in `notification_centre` and `mailer`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from workflows.db import utcnow
from workflows.models import (
    Department,
    Notification,
    NotificationKind,
    OrgUnit,
    ProcessInstance,
    Role,
    User,
)

MAX_BODY_LENGTH = 500

# The title of a notification about a task that has become someone's work, by why it did.
TASK_TITLES: dict[NotificationKind, str] = {
    NotificationKind.TASK: "新待办：{step}",
    NotificationKind.RETURNED: "退回：{step}",
}


def unit_recipient_ids(session: Session, org_unit_id: int, department_code: str | None) -> list[int]:
    """Everyone who works a queue: the active officials and heads of the unit (and department, if it has one)."""
    workers = session.execute(_QUEUE_WORKERS, {"org_unit_id": org_unit_id})
    return [user_id for user_id, code in workers if department_code in (None, code)]


# Built once (issue #9): every new task asks it. Ids only: notifying needs no user objects.
_QUEUE_WORKERS = (
    select(User.id, Department.code)
    .outerjoin(Department, Department.id == User.department_id)
    .where(
        User.org_unit_id == bindparam("org_unit_id"),
        User.active.is_(True),
        User.role.in_((Role.OFFICIAL.value, Role.HEAD.value)),
    )
    .order_by(User.id)
)
_ACTIVE = select(User.id).where(User.id == bindparam("user_id"), User.active.is_(True))


class QueuedTask(Protocol):
    """What telling a task's workers needs: a task-index row, or task_index.NewWork before it is loaded."""

    @property
    def instance_id(self) -> int: ...
    @property
    def task_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def org_unit_id(self) -> int: ...
    @property
    def department_code(self) -> str | None: ...
    @property
    def claimed_by_id(self) -> int | None: ...
    @property
    def assigned_to_id(self) -> int | None: ...


def task_recipient_ids(session: Session, entry: QueuedTask) -> list[int]:
    """The holder of an open task, or, while it sits unclaimed in a department queue, everyone who works it."""
    holder_id = entry.assigned_to_id or entry.claimed_by_id
    if holder_id is not None:
        return list(session.scalars(_ACTIVE, {"user_id": holder_id}))
    return unit_recipient_ids(session, entry.org_unit_id, entry.department_code)


def notify(
    session: Session,
    recipient_ids: Iterable[int],
    kind: NotificationKind,
    title: str,
    body: str = "",
    *,
    instance_id: int | None = None,
    task_id: str | None = None,
    plan_item_id: int | None = None,
    exclude: User | None = None,
) -> list[int]:
    """Write one notification per recipient (once each, never to `exclude`, the person who caused it).

    Returns the recipients' ids. One multi-row INSERT rather than an object per row: a new task tells its whole
    queue at every step of every case (issue #9).
    """
    now = utcnow()
    told: list[int] = []
    for user_id in recipient_ids:
        if user_id not in told and (exclude is None or user_id != exclude.id):
            told.append(user_id)
    if told:
        session.execute(
            _NOTIFICATIONS,
            [
                {
                    "recipient_id": user_id,
                    "kind": kind.value,
                    "title": title[:255],
                    "body": body[:MAX_BODY_LENGTH],
                    "instance_id": instance_id,
                    "task_id": task_id,
                    "plan_item_id": plan_item_id,
                    "created_at": now,
                    "email_attempts": 0,
                }
                for user_id in told
            ],
        )
    return told


# Core: no ORM bulk-insert bookkeeping for rows nobody loads here.
_NOTIFICATIONS = insert(cast(Table, Notification.__table__))


def notify_task(
    session: Session,
    entry: QueuedTask,
    kind: NotificationKind,
    title: str,
    body: str = "",
    *,
    exclude: User | None = None,
) -> list[int]:
    """Tell whoever works an open task about it (new, urged, returned, due soon, overdue)."""
    return notify(
        session,
        task_recipient_ids(session, entry),
        kind,
        title,
        body,
        instance_id=entry.instance_id,
        task_id=entry.task_id,
        exclude=exclude,
    )


def unit_label(unit: OrgUnit, department_code: str | None) -> str:
    """“大连市总工会财务部”, or the unit's name where the unit works as a whole."""
    department = next((d for d in unit.departments if d.code == department_code), None)
    return f"{unit.name}{department.name}" if department else unit.name


def case_line(instance: ProcessInstance) -> str:
    """“AQ-2026-000012 大连海昌机械制造有限公司：三号车间东侧配电箱”: what a notification body starts with."""
    return f"{instance.case_number or ''} {instance.title}".strip()


def notify_new_tasks(
    session: Session,
    instance: ProcessInstance,
    entries: Iterable[QueuedTask],
    kind: NotificationKind = NotificationKind.TASK,
    *,
    exclude: User | None = None,
    note: str = "",
) -> list[int]:
    """Tell the workers of each task that just became their work (task_index.rebuild_index's answer).

    `kind` says why: a new step (TASK) or a step sent back (RETURNED, `note` carries the reason). A named signer
    (会签, 加签) holds their task, so only they are told; an unclaimed task tells its whole queue.
    """
    body = "\n".join(part for part in (case_line(instance), note) if part)
    template = TASK_TITLES.get(kind, "{step}")
    written: list[int] = []
    for entry in entries:
        written += notify_task(session, entry, kind, template.format(step=entry.title), body, exclude=exclude)
    return written


def mark_read_about(
    session: Session,
    user: User,
    *,
    task_id: str | None = None,
    instance_id: int | None = None,
    kinds: Sequence[NotificationKind] = (),
    now: datetime | None = None,
) -> int:
    """Mark the user's unread notifications about a task (or a case, of some kinds) read: opening the thing they
    point at is reading them. Returns how many; flushes.

    Read first, written only when something is unread: a page view must not take SQLite's write lock for nothing.
    """
    if task_id is None and instance_id is None:
        raise ValueError("mark_read_about needs a task or a case")
    query = select(Notification.id).where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    if task_id is not None:
        query = query.where(Notification.task_id == task_id)
    if instance_id is not None:
        query = query.where(Notification.instance_id == instance_id)
    if kinds:
        query = query.where(Notification.kind.in_([kind.value for kind in kinds]))
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.read_at.is_(None))
            .values(read_at=now or utcnow())
            .execution_options(synchronize_session="fetch")
        )
        session.flush()
    return len(ids)
