"""The notification centre's reading side (issue #8 §Notifications): the unread count in the navigation, the list
(all or unread, by kind, newest first), and marking read — one, all, or those about a task its holder opened.

Every query is the recipient's own: a notification of someone else is "not found", never shown or changed.
The writing side is `workflows.notifications`; e-mail is `workflows.mailer`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from workflows.db import utcnow
from workflows.errors import NotFound
from workflows.inbox import Page, clamp_page
from workflows.models import Notification, NotificationKind, User
from workflows.notifications import mark_read_about
from workflows.queries import DEFAULT_PAGE_SIZE


def unread_count(session: Session, user: User) -> int:
    """How many of the user's notifications are unread: one COUNT over ix_notification_inbox, for every page."""
    count = session.scalar(
        select(func.count(Notification.id)).where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
    )
    return int(count or 0)


def _listed(user: User, *, unread_only: bool, kind: NotificationKind | None) -> Select[Notification]:
    query = select(Notification).where(Notification.recipient_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if kind is not None:
        query = query.where(Notification.kind == kind.value)
    return query


def notification_page(
    session: Session,
    user: User,
    *,
    unread_only: bool = False,
    kind: NotificationKind | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
) -> Page[Notification]:
    """One page of the user's notifications, newest first (ids grow with time, and the index ends with the id)."""
    page, per_page = clamp_page(page, per_page)
    query = _listed(user, unread_only=unread_only, kind=kind)
    items = session.scalars(
        query.order_by(Notification.id.desc()).limit(per_page).offset((page - 1) * per_page)
    ).all()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return Page(items, int(total), page, per_page)


def own_notification(session: Session, user: User, notification_id: int) -> Notification:
    """The user's own notification; someone else's, or none, is NotFound (existence does not leak)."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != user.id:
        raise NotFound("通知不存在")
    return notification


def mark_read(session: Session, user: User, notification_id: int, now: datetime | None = None) -> Notification:
    """Mark one of the user's notifications read (again: keeps the first reading time); flushes."""
    notification = own_notification(session, user, notification_id)
    if notification.read_at is None:
        notification.read_at = now or utcnow()
        session.flush()
    return notification


def mark_all_read(session: Session, user: User, now: datetime | None = None) -> int:
    """全部标为已读: every unread notification of the user; returns how many; flushes."""
    result = session.execute(
        update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def mark_task_read(session: Session, user: User, task_id: str, now: datetime | None = None) -> int:
    """Opening a task page reads the user's notifications about that task (新待办, 催办, 退回, 临期, 超期)."""
    return mark_read_about(session, user, task_id=task_id, now=now)
