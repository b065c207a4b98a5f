"""Responsibility-assignment plans (责任分工方案, issue #8): a plan's measures and numbered work items, the units
responsible for each item, the processes that carry it out, its measurable targets, and 催办 of a unit."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import OrgUnit


class ResponsibilityRole(StrEnum):
    LEAD = "lead"  # 牵头 / 主办
    CO = "co"  # 配合 / 协办


class UnitGroup(StrEnum):
    """A group of units the plan names collectively; expanded to the issuing unit's children of these kinds."""

    DISTRICTS = "districts"  # 各区市县和开放先导区总工会
    INDUSTRY = "industry"  # 各产业工会


class Plan(Base):
    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    document_number: Mapped[str] = mapped_column(String(64))
    issuing_office: Mapped[str] = mapped_column(String(100))
    # The federation whose plan it is; unit groups expand to its children.
    issuing_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    issued_on: Mapped[date]
    source: Mapped[str] = mapped_column(String(255), default="")
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    issuing_unit: Mapped[OrgUnit] = relationship()
    measures: Mapped[list[PlanMeasure]] = relationship(
        back_populates="plan", order_by="PlanMeasure.number", cascade="all, delete-orphan"
    )
    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", order_by="PlanItem.number", cascade="all, delete-orphan"
    )


class PlanMeasure(Base):
    """一项措施 (the plan's numbered headings 一 … 十)."""

    __tablename__ = "plan_measure"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)

    plan: Mapped[Plan] = relationship(back_populates="measures")


class PlanItem(Base):
    """A numbered work item (工作事项 1 … 15): its heading, its full text and its responsible units as printed."""

    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("plan_measure.id", ondelete="CASCADE"))
    number: Mapped[int]
    heading: Mapped[str] = mapped_column(String(255))
    # The paragraph after the heading, without the "（责任单位：…）" tail.
    body: Mapped[str] = mapped_column(Text)
    responsible_text: Mapped[str] = mapped_column(String(500))

    plan: Mapped[Plan] = relationship(back_populates="items")
    measure: Mapped[PlanMeasure] = relationship()
    responsibilities: Mapped[list[PlanResponsibility]] = relationship(
        order_by="PlanResponsibility.position", cascade="all, delete-orphan"
    )
    processes: Mapped[list[PlanItemProcess]] = relationship(order_by="PlanItemProcess.id", cascade="all, delete-orphan")
    targets: Mapped[list[PlanTarget]] = relationship(order_by="PlanTarget.position", cascade="all, delete-orphan")


class PlanResponsibility(Base):
    """One responsible party of an item: a unit (and department), or a group of units the plan names together."""

    __tablename__ = "plan_responsibility"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    role: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    department_code: Mapped[str | None] = mapped_column(String(32))
    unit_group: Mapped[str | None] = mapped_column(String(16))

    org_unit: Mapped[OrgUnit | None] = relationship()


class PlanItemProcess(Base):
    """A process that carries the item out; the key may name a process that is not deployed yet."""

    __tablename__ = "plan_item_process"
    __table_args__ = (UniqueConstraint("item_id", "process_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(String(64))


class PlanTarget(Base):
    """A measurable target of an item: a metric computed from live data, compared with a policy parameter.

    `parameter_key` names the policy parameter (with its cited source) that gives the target value for a period;
    a target without one is tracked (the figure is shown) but has no goal.
    """

    __tablename__ = "plan_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    metric: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    label: Mapped[str] = mapped_column(String(200))
    parameter_key: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")


class PlanUrge(Base):
    """催办 of a responsible unit on a plan item; every urge is kept and counted on the item."""

    __tablename__ = "plan_urge"
    __table_args__ = (Index("ix_plan_urge_item", "item_id", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    department_code: Mapped[str | None] = mapped_column(String(32))
    sent_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    sender_name: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    org_unit: Mapped[OrgUnit] = relationship()
