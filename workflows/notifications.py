"""The notification centre's writing side (issue #8): who is told about an event, written in the caller's
transaction. Reading, marking read and e-mailing live in `notification_centre` and `mailer`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.db import utcnow
from workflows.models import Notification, NotificationKind, OrgUnit, Role, TaskIndexEntry, User

MAX_BODY_LENGTH = 500


def unit_recipients(session: Session, org_unit_id: int, department_code: str | None) -> list[User]:
    """Everyone who works a queue: the active officials and heads of the unit (and department, if it has one)."""
    users = session.scalars(
        select(User)
        .where(
            User.org_unit_id == org_unit_id,
            User.active.is_(True),
            User.role.in_((Role.OFFICIAL.value, Role.HEAD.value)),
        )
        .order_by(User.id)
    )
    return [user for user in users if department_code in (None, user.department_code)]


def task_recipients(session: Session, entry: TaskIndexEntry) -> list[User]:
    """The holder of an open task, or, while it sits unclaimed in a department queue, everyone who works it."""
    holder_id = entry.assigned_to_id or entry.claimed_by_id
    if holder_id is not None:
        holder = session.get(User, holder_id)
        return [holder] if holder is not None and holder.active else []
    return unit_recipients(session, entry.org_unit_id, entry.department_code)


def notify(
    session: Session,
    recipients: Iterable[User],
    kind: NotificationKind,
    title: str,
    body: str = "",
    *,
    instance_id: int | None = None,
    task_id: str | None = None,
    plan_item_id: int | None = None,
    exclude: User | None = None,
) -> list[Notification]:
    """Write one notification per recipient (once each, never to `exclude`, the person who caused it); flushes."""
    now = utcnow()
    seen: set[int] = set()
    written = []
    for user in recipients:
        if user.id in seen or (exclude is not None and user.id == exclude.id):
            continue
        seen.add(user.id)
        notification = Notification(
            recipient_id=user.id,
            kind=kind.value,
            title=title[:255],
            body=body[:MAX_BODY_LENGTH],
            instance_id=instance_id,
            task_id=task_id,
            plan_item_id=plan_item_id,
            created_at=now,
        )
        session.add(notification)
        written.append(notification)
    session.flush()
    return written


def notify_task(
    session: Session,
    entry: TaskIndexEntry,
    kind: NotificationKind,
    title: str,
    body: str = "",
    *,
    exclude: User | None = None,
) -> list[Notification]:
    """Tell whoever works an open task about it (new, urged, returned, due soon, overdue)."""
    return notify(
        session,
        task_recipients(session, entry),
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


def recipients_by_id(session: Session, user_ids: Sequence[int]) -> list[User]:
    if not user_ids:
        return []
    return list(session.scalars(select(User).where(User.id.in_(user_ids), User.active.is_(True)).order_by(User.id)))
