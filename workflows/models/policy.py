"""Policy parameters: every amount, rate, quota and time limit, with its effective period and source."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base, utcnow


class PolicyParameter(Base):
    """One value of one parameter for one period (DESIGN §5).

    A changed rule is a new row with a later `valid_from`, never an edit of the old row, so a case
    decided in 2017 can still be recomputed with the 2017 figure.
    """

    __tablename__ = "policy_parameter"
    __table_args__ = (UniqueConstraint("key", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), index=True)
    # Text, not a number column: a Decimal keeps its exact digits and a few keys hold short text (dates).
    value: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # inclusive; None = still in force
    source: Mapped[str] = mapped_column(Text)
    # True: a configurable default chosen for the system, not a rule found in a source document.
    is_default: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
