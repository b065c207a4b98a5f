"""The business record of a hazard report (安全隐患报告, seed 000 item 13). The workflow carries only ids."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import Enterprise
from workflows.models.process import ProcessInstance


class HazardReport(Base):
    __tablename__ = "hazard_report"
    __table_args__ = (
        Index("ix_hazard_report_dedupe", "enterprise_id", "location_key"),
        # Plan target progress (workflows.plans.metrics, issue #9): a period's reports and rewards in a unit's subtree
        # from the index alone, without joining each report to its case.
        Index("ix_hazard_report_received", "received_at", "verification_result", "home_unit_id"),
        Index("ix_hazard_report_reward_paid", "reward_paid_on", "home_unit_id", "reward_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    # The case's home unit, copied when the report is filed (a case never changes unit): the metrics count by it.
    home_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    channel: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(String(200))
    # The location with spacing and punctuation removed, so "3号车间 东侧" and "3号车间东侧" match.
    location_key: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(String(40))
    reporter_mobile: Mapped[str] = mapped_column(String(11))
    reporter_resident_id: Mapped[str | None] = mapped_column(String(18))
    anonymous: Mapped[bool] = mapped_column(default=False)
    employee_of_reported_unit: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_at: Mapped[datetime | None]
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    verification_result: Mapped[str | None] = mapped_column(String(8))
    hazard_level: Mapped[str | None] = mapped_column(String(8))
    regulator_notified_on: Mapped[date | None]
    regulator_document_number: Mapped[str | None] = mapped_column(String(64))
    reward_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    reward_paid_on: Mapped[date | None]
    reward_payee_name: Mapped[str | None] = mapped_column(String(40))
    reward_bank_name: Mapped[str | None] = mapped_column(String(100))
    reward_card_number: Mapped[str | None] = mapped_column(String(19))

    instance: Mapped[ProcessInstance] = relationship(foreign_keys=[instance_id])
    enterprise: Mapped[Enterprise] = relationship()
