"""Labour-competition and skills honours (五一劳动奖状/奖章, 工人先锋号, 优秀班组长; seed 000 item 5)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base
from workflows.models.org import Enterprise, OrgUnit
from workflows.models.process import ProcessInstance


class HonourNomination(Base):
    __tablename__ = "honour_nomination"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    year: Mapped[int] = mapped_column(index=True)
    honour_type: Mapped[str] = mapped_column(String(16))
    nominee_kind: Mapped[str] = mapped_column(String(4))  # 个人 or 集体
    nominee_name: Mapped[str] = mapped_column(String(100))
    nominee_position: Mapped[str] = mapped_column(String(60), default="")
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    tech_enterprise: Mapped[bool] = mapped_column(default=False)
    nominating_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    district_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    project_name: Mapped[str] = mapped_column(String(200))
    deeds: Mapped[str] = mapped_column(Text)
    district_rank: Mapped[int | None]
    # Reuses the studio application's statuses (workflows.models.studio.ApplicationStatus) where they apply.
    status: Mapped[str] = mapped_column(String(16), index=True)
    document_number: Mapped[str | None] = mapped_column(String(64))
    awarded_on: Mapped[date | None]
    decided_at: Mapped[datetime | None]

    instance: Mapped[ProcessInstance] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    nominating_unit: Mapped[OrgUnit] = relationship(foreign_keys=[nominating_unit_id])
    district_unit: Mapped[OrgUnit] = relationship(foreign_keys=[district_unit_id])
