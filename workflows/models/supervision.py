"""Supervised matters (督办事项, issue #8, process `supervision`): 立项 → 交办 → 签收 → 反馈 → 办结 → 销号."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import OrgUnit
from workflows.models.process import ProcessInstance


class SupervisionStatus(StrEnum):
    REGISTERED = "registered"  # 已立项, awaiting 交办
    ASSIGNED = "assigned"  # 已交办, awaiting 签收
    IN_PROGRESS = "in_progress"  # 已签收 / 承办中 (progress reports)
    REPORTED = "reported"  # 办结报告已报送, awaiting 销号
    CLOSED = "closed"  # 已销号
    WITHDRAWN = "withdrawn"  # 不予交办 (the head declined to assign the registered matter)


class FeedbackKind(StrEnum):
    PROGRESS = "progress"  # 进展反馈
    COMPLETION = "completion"  # 办结报告
    CO_UNIT = "co_unit"  # 协办单位反馈
    SENT_BACK = "sent_back"  # 退回重办 (the head's reason)


class SupervisionItem(Base):
    __tablename__ = "supervision_item"
    __table_args__ = (Index("ix_supervision_open", "status", "deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("plan_item.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100), default="")  # 督办来源: 领导批示, 会议议定 …
    content: Mapped[str] = mapped_column(Text, default="")
    # The department that registered the matter and whose head assigns and closes it.
    assigning_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    assigning_department_code: Mapped[str | None] = mapped_column(String(32))
    assigning_head_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    deadline: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16), default=SupervisionStatus.REGISTERED.value)
    assigned_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Set once when the deadline passed before 销号 and the head was told (escalation).
    escalated_at: Mapped[datetime | None]
    sent_back_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    instance: Mapped[ProcessInstance] = relationship()
    assigning_unit: Mapped[OrgUnit] = relationship()
    units: Mapped[list[SupervisionUnit]] = relationship(order_by="SupervisionUnit.id", cascade="all, delete-orphan")
    feedback: Mapped[list[SupervisionFeedback]] = relationship(
        order_by="SupervisionFeedback.id", cascade="all, delete-orphan"
    )


class SupervisionUnit(Base):
    """A unit the matter is assigned to: the lead unit (主办) or a co-unit (协办)."""

    __tablename__ = "supervision_unit"
    __table_args__ = (UniqueConstraint("item_id", "org_unit_id", "department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_item.id", ondelete="CASCADE"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    department_code: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(8))  # ResponsibilityRole: lead / co
    signed_at: Mapped[datetime | None]

    org_unit: Mapped[OrgUnit] = relationship()


class SupervisionFeedback(Base):
    """A progress report, completion report, co-unit report or the head's reason for sending the matter back."""

    __tablename__ = "supervision_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("supervision_item.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()
