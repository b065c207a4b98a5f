"""Bank-card payment of the aid (代发, seed 000 item 10; domain.md §2.a A7–A9): batches, rows, the bank's result.

A worker is paid once per aid year: a payment row that is pending or paid blocks any other for the same worker (a
partial unique index), so a re-exported batch or a re-imported result file can never pay anyone twice. Only a failed
row lets the worker into a follow-up batch.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.aid import AidWorker


class PaymentStatus(StrEnum):
    PENDING = "待回盘"  # sent to the bank, no result yet
    PAID = "成功"
    FAILED = "失败"


class AidBatch(Base):
    """One payment file (代发清单) sent to the agent bank: the first batch of a city's year, then follow-ups."""

    __tablename__ = "aid_batch"
    __table_args__ = (UniqueConstraint("year", "city_unit_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    sequence: Mapped[int]
    batch_number: Mapped[str] = mapped_column(String(40), unique=True)
    row_count: Mapped[int]
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    result_filename: Mapped[str] = mapped_column(String(200), default="", server_default="")
    result_imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    result_imported_at: Mapped[datetime | None]

    payments: Mapped[list[AidPayment]] = relationship(back_populates="batch", order_by="AidPayment.id")


class AidPayment(Base):
    """One worker in one batch, with the bank details used for it and the bank's answer."""

    __tablename__ = "aid_payment"
    __table_args__ = (
        UniqueConstraint("batch_id", "worker_id"),
        # Aid paid in a period (plan target progress, issue #9).
        Index("ix_aid_payment_paid_on", "paid_on", "status"),
        # Never paid twice for the same aid year: at most one pending-or-paid row per worker (a worker row is one year).
        Index(
            "uq_aid_payment_worker_live",
            "worker_id",
            unique=True,
            sqlite_where=text("status != '失败'"),
            postgresql_where=text("status != '失败'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("aid_batch.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("aid_worker.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    bank_name: Mapped[str] = mapped_column(String(100))
    card_number: Mapped[str] = mapped_column(String(19))
    status: Mapped[str] = mapped_column(String(8), default=PaymentStatus.PENDING.value)
    failure_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    paid_on: Mapped[date | None]
    # A failed row's correction by the district (new bank details or withheld), before the next batch.
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    corrected_at: Mapped[datetime | None]

    batch: Mapped[AidBatch] = relationship(back_populates="payments")
    worker: Mapped[AidWorker] = relationship()
