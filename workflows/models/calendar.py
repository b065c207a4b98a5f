"""The administrators' working-day table: days the `chinese_calendar` package gets wrong or does not know yet."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base, utcnow


class WorkingDayOverride(Base):
    """One day whose working status the State Council's announcement (or a local closure) fixes.

    For years the package does not ship, administrators enter that year's public holidays (is_working_day False)
    and 调休 working weekends (True); every "N working days" count reads this table first (workflows.calendar).
    """

    __tablename__ = "working_day_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    is_working_day: Mapped[bool]
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
