"""Public notice (公示) of a decision before it takes effect, and the objections registered during it.

Shared by every process that names or awards (studio naming, honours): 5 working days by default (parameter
`notice.working_days`, domain §3.7), counted on the Chinese working-day calendar.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import User


class PublicNotice(Base):
    __tablename__ = "public_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    working_days: Mapped[int]
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    objections: Mapped[list[NoticeObjection]] = relationship(
        back_populates="notice", order_by="NoticeObjection.id", cascade="all, delete-orphan"
    )


class NoticeObjection(Base):
    """An objection received during a notice (by letter, telephone or visit), and its verification (核实)."""

    __tablename__ = "notice_objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("public_notice.id"), index=True)
    received_on: Mapped[date]
    channel: Mapped[str] = mapped_column(String(16))
    # The objector may stay anonymous; a named objector's contact is personal data shown only on this record.
    objector_name: Mapped[str | None] = mapped_column(String(40))
    objector_contact: Mapped[str | None] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    upheld: Mapped[bool | None]
    finding: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None]

    notice: Mapped[PublicNotice] = relationship(back_populates="objections")
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id])
