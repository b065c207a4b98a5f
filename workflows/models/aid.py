"""The capacity-reduction hardship-aid list (去产能企业特困职工援助, seed 000 items 8–10) as business tables.

A year's draft list is thousands of workers across the province's cities: it lives here, never in workflow task
data (DESIGN §2). An import is all or nothing: its rows and its `AidImport` row are written in one transaction,
and `row_count` lets `flask check` prove that no import left partial rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import OrgUnit
from workflows.models.process import ProcessInstance


class AidImport(Base):
    """One imported draft list (拟援助人员名单) of one aid year, from one extract of the HR placement database."""

    __tablename__ = "aid_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One draft list per aid year: a corrected extract replaces nothing, it is refused (the list is under review).
    year: Mapped[int] = mapped_column(unique=True)
    source_filename: Mapped[str] = mapped_column(String(200))
    source_sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int]
    imported_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)

    workers: Mapped[list[AidWorker]] = relationship(back_populates="aid_import", order_by="AidWorker.row_number")


class AidWorker(Base):
    """A worker on a year's aid list, as imported, with the district's review; confirmation and payment follow."""

    __tablename__ = "aid_worker"
    __table_args__ = (
        UniqueConstraint("year", "resident_id"),
        Index("ix_aid_worker_city", "year", "city_unit_id"),
        # District first: the review grid and the topbar ask "which years sent workers to this union?"
        Index("ix_aid_worker_district", "district_unit_id", "year"),
        # Workers reviewed in a period (plan target progress, issue #9).
        Index("ix_aid_worker_reviewed", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("aid_import.id"), index=True)
    year: Mapped[int]
    row_number: Mapped[int]  # the row of the imported sheet, so officials can find it in their file
    name: Mapped[str] = mapped_column(String(40))
    resident_id: Mapped[str] = mapped_column(String(18), index=True)
    sex: Mapped[str] = mapped_column(String(2))
    placement_type: Mapped[str] = mapped_column(String(16))
    internal_retirement_start: Mapped[date | None]
    statutory_retirement_on: Mapped[date | None]
    buyout_on: Mapped[date | None]
    ui_benefit_start: Mapped[date | None]
    ui_benefit_end: Mapped[date | None]
    enterprise_name: Mapped[str] = mapped_column(String(200))
    enterprise_uscc: Mapped[str] = mapped_column(String(18))
    city: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(40))
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    district_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    mobile: Mapped[str] = mapped_column(String(11))
    bank_name: Mapped[str] = mapped_column(String(100))
    card_number: Mapped[str] = mapped_column(String(19))
    # The district union's review (seed 000 item 8: 家庭经济和就业创业情况审查); None until it is recorded.
    review_conclusion: Mapped[str | None] = mapped_column(String(8))
    review_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    reemployed_on: Mapped[date | None]
    review_evidence: Mapped[str] = mapped_column(String(500), default="", server_default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None]
    # The province's latest return of this row to its district (seed 000 item 8 确认; the history is in AidReview).
    returned_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Set when the province confirms the city's list (final 援助人员名单), with the amount it approves (item 9).
    confirmed_at: Mapped[datetime | None]
    aid_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # A district that cannot get working bank details withholds the row from later batches (reported as outstanding).
    payment_withheld_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")

    aid_import: Mapped[AidImport] = relationship(back_populates="workers")
    city_unit: Mapped[OrgUnit] = relationship(foreign_keys=[city_unit_id])
    district_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[district_unit_id])


class AidReview(Base):
    """Every conclusion ever recorded for a worker, oldest first: the worker's columns hold only the latest, and the
    per-worker record shows each one with who and when (issue #6, records)."""

    __tablename__ = "aid_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("aid_worker.id"), index=True)
    conclusion: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500), default="")
    reemployed_on: Mapped[date | None]
    evidence: Mapped[str] = mapped_column(String(500), default="")
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AidCityList(Base):
    """A city's part of a year's list (the part the province sends, seed 000 item 8), the `hardship_aid` case that
    carries it, and the province's allocation of the city's total (拨付, item 10)."""

    __tablename__ = "aid_city_list"
    __table_args__ = (UniqueConstraint("year", "city_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    dispatched_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    dispatched_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    allocated_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    allocation_document: Mapped[str] = mapped_column(String(60), default="", server_default="")
    allocated_on: Mapped[date | None]
    allocated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    city_unit: Mapped[OrgUnit] = relationship(foreign_keys=[city_unit_id])
    instance: Mapped[ProcessInstance] = relationship()
