"""The in-app notification centre (issue #8): one row per recipient and event, read or unread, and e-mailed when
SMTP is configured (an outbox: `emailed_at` is set once the message left)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base, utcnow


class NotificationKind(StrEnum):
    TASK = "task"  # 新待办
    URGED = "urged"  # 被催办
    RETURNED = "returned"  # 被退回
    COPIED = "copied"  # 抄送
    DUE_SOON = "due_soon"  # 临期
    OVERDUE = "overdue"  # 超期
    ESCALATED = "escalated"  # 督办超期升级


NOTIFICATION_LABELS: dict[str, str] = {
    NotificationKind.TASK.value: "新待办",
    NotificationKind.URGED.value: "催办",
    NotificationKind.RETURNED.value: "退回",
    NotificationKind.COPIED.value: "抄送",
    NotificationKind.DUE_SOON.value: "临期提醒",
    NotificationKind.OVERDUE.value: "超期提醒",
    NotificationKind.ESCALATED.value: "督办升级",
}


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_inbox", "recipient_id", "read_at", "id"),
        Index("ix_notification_outbox", "emailed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(String(500), default="")
    # What the notification points at (the web layer builds the link): a task, a case, or a plan item.
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36))
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
    email_attempts: Mapped[int] = mapped_column(default=0)
