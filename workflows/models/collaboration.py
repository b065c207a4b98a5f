"""What officials do around a step besides deciding it (issue #4): delegation, hand-overs, returns, copies,
reminders, comments, common opinions, and which holder has opened a task."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import User


class Delegation(Base):
    """委托: during [starts_on, ends_on] (Beijing dates, inclusive) the delegate may act on the principal's tasks."""

    __tablename__ = "delegation"
    __table_args__ = (Index("ix_delegation_delegate", "delegate_id", "ends_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    principal: Mapped[User] = relationship(foreign_keys=[principal_id])
    delegate: Mapped[User] = relationship(foreign_keys=[delegate_id])


class ActionKind(StrEnum):
    TRANSFER = "transfer"  # 转办
    RETURN = "return"  # 退回
    WITHDRAW = "withdraw"  # 撤回
    ADD_SIGNER = "add_signer"  # 加签
    COPY = "copy"  # 抄送
    URGE = "urge"  # 催办


ACTION_LABELS: dict[str, str] = {
    ActionKind.TRANSFER.value: "转办",
    ActionKind.RETURN.value: "退回",
    ActionKind.WITHDRAW.value: "撤回",
    ActionKind.ADD_SIGNER.value: "加签",
    ActionKind.COPY.value: "抄送",
    ActionKind.URGE.value: "催办",
}


class CaseAction(Base):
    """流转记录: one hand-over, return, withdrawal, added signer, copy or urge on a case, as the record prints it."""

    __tablename__ = "case_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    step_title: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    # 委托: the principal whose authority the actor used, printed as "X（代Y）".
    on_behalf_of_name: Mapped[str | None] = mapped_column(String(64))
    # Who or what the action points at: the colleague, the added signer, the copied people, the earlier step.
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    target: Mapped[str] = mapped_column(String(500), default="")
    # 退回: the earlier step the case went back to (its engine task id).
    target_task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseComment(Base):
    """A remark on a case that is not a decision (备注/评论); printed in the record, never changes the flow."""

    __tablename__ = "case_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseCopy(Base):
    """抄送: a case copied to a person for information (抄送我), read or unread."""

    __tablename__ = "case_copy"
    __table_args__ = (
        UniqueConstraint("instance_id", "user_id"),
        Index("ix_case_copy_inbox", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    copied_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    copied_by: Mapped[User] = relationship(foreign_keys=[copied_by_id])


class ReminderKind(StrEnum):
    DUE_SOON = "due_soon"  # automatic: due within the near-due window
    OVERDUE = "overdue"  # automatic: past its due time
    URGE = "urge"  # 催办 by a person


class Reminder(Base):
    """A reminder about an open task. Automatic ones are written once per task and kind by the scheduler."""

    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_task", "task_id", "kind"),
        # Schedulers in several processes may pass over the same task at once: the database keeps the automatic
        # reminders at one per task and kind (reminders.send_due_reminders inserts with ON CONFLICT DO NOTHING).
        Index(
            "uq_reminder_automatic",
            "task_id",
            "kind",
            unique=True,
            sqlite_where=text("kind != 'urge'"),
            postgresql_where=text("kind != 'urge'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    # The holder at the time; None when the task sat unclaimed in a department queue.
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    message: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommonPhrase(Base):
    """常用语: an opinion an official writes often; user_id None marks the defaults every user starts with."""

    __tablename__ = "common_phrase"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskOpening(Base):
    """The first time a holder opened (or claimed) a task: after it, the previous step can no longer be withdrawn."""

    __tablename__ = "task_opening"
    __table_args__ = (UniqueConstraint("task_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
