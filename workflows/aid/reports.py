"""The aid list's documents as data (issue #6 "Records"; seed 000 items 8–10; domain.md §2.a A4, A7, A9).

- 审查结果汇总表 (`review_summary`, step 3): per district, workers sent, 符合, 不符合 (reasons grouped) and pending.
- 发放花名册 (`payment_roster`, step 7): every confirmed worker with amount and latest payment, paginated here, in
  Python, so every printed page's 本页合计 is the sum of exactly the rows on it.
- 发放情况报告 (`reconciliation`, step 8): confirmed, paid, failed, withheld and outstanding per district, against the
  province's allocation (total paid ≤ total allocated).

The per-worker record is in `workflows.aid.worker_record`. Every identity and card number leaves these functions
masked (issue #6 "Records and privacy"): the templates and sheets never see a full one. No Flask here; the caller
has checked access (`workflows.aid.access.may_see_city_list`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

import forms
from workflows.models import AidBatch, AidCityList, AidPayment, AidWorker, Level, OrgUnit, PaymentStatus

ZERO = Decimal("0.00")
NOT_PAID = "未发放"  # confirmed, never in a batch
PENDING_REVIEW = "未审查"
NO_REASON = "未填写原因"
ELIGIBLE, NOT_ELIGIBLE = "符合", "不符合"
# Lines of a printed roster page (worker rows and 小计 lines); the template's fixed row height fits these plus the
# 本页合计 and 总计 lines on an A4 landscape page.
ROSTER_LINES_PER_PAGE = 22


@dataclass(frozen=True)
class District:
    """A district, county, pilot-zone or industry union of the city (or the list's own text when it matched none)."""

    code: str
    name: str

    @property
    def sort_key(self) -> tuple[bool, str, str]:
        return (not self.code, self.code, self.name)


def find_city(session: Session, city_code: str, year: int) -> OrgUnit | None:
    """The city federation whose part of `year`'s list exists: None for an unknown code, a non-city unit, or a
    city that was sent no workers that year (the documents' routes answer 404)."""
    city = session.scalar(select(OrgUnit).where(OrgUnit.code == city_code))
    if city is None or city.level != Level.CITY:
        return None
    sent = session.scalar(
        select(AidWorker.id).where(AidWorker.year == year, AidWorker.city_unit_id == city.id).limit(1)
    )
    return city if sent is not None else None


def _city_part(city: OrgUnit, year: int) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return AidWorker.year == year, AidWorker.city_unit_id == city.id


def _district(code: str | None, unit_name: str | None, text: str) -> District:
    return District(code or "", unit_name or text)


# --- 审查结果汇总表 ------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    count: int


@dataclass
class DistrictReview:
    district: District
    sent: int = 0
    eligible: int = 0
    not_eligible: int = 0
    pending: int = 0
    reasons: list[ReasonCount] = field(default_factory=list)

    def add(self, conclusion: str | None, reason: str, count: int) -> None:
        self.sent += count
        if conclusion == ELIGIBLE:
            self.eligible += count
        elif conclusion == NOT_ELIGIBLE:
            self.not_eligible += count
            self.reasons.append(ReasonCount(reason.strip() or NO_REASON, count))
        else:  # not yet concluded, or returned by the province and not yet reviewed again
            self.pending += count


@dataclass(frozen=True)
class SummaryWorker:
    number: int
    name: str
    resident_id: str  # masked
    district: str
    conclusion: str
    reason: str
    reemployed_on: date | None


@dataclass(frozen=True)
class ReviewSummary:
    year: int
    city: str
    districts: list[DistrictReview]
    total: DistrictReview
    opinion: str


def _merged_reasons(counts: Iterable[ReasonCount]) -> list[ReasonCount]:
    """Same reason once, with its count; most frequent first, then by text, so the document is stable."""
    merged: dict[str, int] = defaultdict(int)
    for item in counts:
        merged[item.reason] += item.count
    return [ReasonCount(reason, count) for reason, count in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))]


def review_summary(session: Session, city: OrgUnit, year: int, opinion: str = "") -> ReviewSummary:
    """The city's review results per district, with the city's opinion when given (step 3, domain.md §2.a A4)."""
    query = (
        select(OrgUnit.code, OrgUnit.name, AidWorker.district, AidWorker.review_conclusion, AidWorker.review_reason,
               func.count())
        .outerjoin(OrgUnit, OrgUnit.id == AidWorker.district_unit_id)
        .where(*_city_part(city, year))
        .group_by(OrgUnit.code, OrgUnit.name, AidWorker.district, AidWorker.review_conclusion, AidWorker.review_reason)
    )  # fmt: skip
    by_district: dict[District, DistrictReview] = {}
    for code, unit_name, text, conclusion, reason, count in session.execute(query):
        district = _district(code, unit_name, text)
        by_district.setdefault(district, DistrictReview(district)).add(conclusion, reason or "", count)
    districts = [by_district[key] for key in sorted(by_district, key=lambda d: d.sort_key)]
    total = DistrictReview(District("", "合计"))
    for line in districts:
        line.reasons = _merged_reasons(line.reasons)
        total.sent += line.sent
        total.eligible += line.eligible
        total.not_eligible += line.not_eligible
        total.pending += line.pending
    total.reasons = _merged_reasons(reason for line in districts for reason in line.reasons)
    return ReviewSummary(year, city.name, districts, total, opinion.strip())


def summary_workers(session: Session, city: OrgUnit, year: int) -> Iterator[SummaryWorker]:
    """Every worker of the city's part with the conclusion, in district order then the imported sheet's order."""
    query = (
        select(OrgUnit.code, OrgUnit.name, AidWorker.district, AidWorker.name, AidWorker.resident_id,
               AidWorker.review_conclusion, AidWorker.review_reason, AidWorker.reemployed_on, AidWorker.row_number)
        .outerjoin(OrgUnit, OrgUnit.id == AidWorker.district_unit_id)
        .where(*_city_part(city, year))
    )  # fmt: skip
    rows = sorted(session.execute(query), key=lambda r: (*_district(r[0], r[1], r[2]).sort_key, r[8]))
    for number, (code, unit_name, text, name, resident_id, conclusion, reason, reemployed_on, _row) in enumerate(
        rows, start=1
    ):
        yield SummaryWorker(
            number,
            name,
            forms.mask_resident_id(resident_id),
            _district(code, unit_name, text).name,
            conclusion if conclusion in (ELIGIBLE, NOT_ELIGIBLE) else PENDING_REVIEW,
            (reason or "") if conclusion == NOT_ELIGIBLE else "",
            reemployed_on,
        )


# --- Latest payment of each worker (read straight from aid_payment, not through workflows.aid.payment) -------------


@dataclass(frozen=True)
class LatestPayment:
    status: str
    amount: Decimal
    batch_number: str
    corrected: bool


def latest_payments(session: Session, city: OrgUnit, year: int) -> dict[int, LatestPayment]:
    """Each worker's newest payment row (a follow-up batch's row is newer than the failed one it repeats)."""
    newest = (
        select(func.max(AidPayment.id).label("id"))
        .join(AidWorker, AidWorker.id == AidPayment.worker_id)
        .where(*_city_part(city, year))
        .group_by(AidPayment.worker_id)
        .subquery()
    )
    query = (
        select(AidPayment.worker_id, AidPayment.status, AidPayment.amount, AidBatch.batch_number,
               AidPayment.corrected_at)
        .join(newest, newest.c.id == AidPayment.id)
        .join(AidBatch, AidBatch.id == AidPayment.batch_id)
    )  # fmt: skip
    return {
        worker_id: LatestPayment(status, amount, batch_number, corrected_at is not None)
        for worker_id, status, amount, batch_number, corrected_at in session.execute(query)
    }


# --- 发放花名册 ------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    number: int
    name: str
    resident_id: str  # masked
    district: str
    placement_type: str
    amount: Decimal
    bank_name: str
    card_number: str  # masked
    status: str
    batch_number: str


@dataclass(frozen=True)
class Subtotal:
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class RosterPage:
    number: int
    lines: list[RosterRow | Subtotal]
    count: int  # worker rows on this page
    amount: Decimal  # 本页合计: the sum of exactly those rows


@dataclass(frozen=True)
class Roster:
    year: int
    city: str
    pages: list[RosterPage]
    subtotals: list[Subtotal]
    count: int
    amount: Decimal


def roster_rows(session: Session, city: OrgUnit, year: int) -> list[RosterRow]:
    """Every confirmed worker of the city's part, by district then the imported sheet's order, numbered."""
    query = (
        select(AidWorker.id, OrgUnit.code, OrgUnit.name, AidWorker.district, AidWorker.row_number, AidWorker.name,
               AidWorker.resident_id, AidWorker.placement_type, AidWorker.aid_amount, AidWorker.bank_name,
               AidWorker.card_number)
        .outerjoin(OrgUnit, OrgUnit.id == AidWorker.district_unit_id)
        .where(*_city_part(city, year), AidWorker.confirmed_at.is_not(None))
    )  # fmt: skip
    payments = latest_payments(session, city, year)
    rows = sorted(session.execute(query), key=lambda r: (*_district(r[1], r[2], r[3]).sort_key, r[4]))
    result = []
    for number, (worker_id, code, unit_name, text, _row, name, resident_id, placement, amount, bank, card) in enumerate(
        rows, start=1
    ):
        payment = payments.get(worker_id)
        result.append(
            RosterRow(
                number, name, forms.mask_resident_id(resident_id), _district(code, unit_name, text).name, placement,
                amount if amount is not None else ZERO, bank, forms.mask_bank_card(card),
                payment.status if payment else NOT_PAID, payment.batch_number if payment else "",
            )
        )  # fmt: skip
    return result


def paginate_roster(rows: list[RosterRow], lines_per_page: int = ROSTER_LINES_PER_PAGE) -> list[RosterPage]:
    """Rows grouped by district with a 小计 line after each district, cut into pages of `lines_per_page` lines."""
    if lines_per_page < 2:
        raise ValueError("a roster page needs room for a row and a subtotal")
    lines: list[RosterRow | Subtotal] = []
    count, amount = 0, ZERO
    for index, row in enumerate(rows):
        lines.append(row)
        count, amount = count + 1, amount + row.amount
        if index + 1 == len(rows) or rows[index + 1].district != row.district:
            lines.append(Subtotal(f"{row.district} 小计", count, amount))
            count, amount = 0, ZERO
    pages: list[RosterPage] = []
    for start in range(0, len(lines), lines_per_page):
        chunk = lines[start : start + lines_per_page]
        page_rows = [line for line in chunk if isinstance(line, RosterRow)]
        pages.append(RosterPage(len(pages) + 1, chunk, len(page_rows), _sum(r.amount for r in page_rows)))
    return pages or [RosterPage(1, [], 0, ZERO)]


def payment_roster(session: Session, city: OrgUnit, year: int, lines_per_page: int = ROSTER_LINES_PER_PAGE) -> Roster:
    rows = roster_rows(session, city, year)
    pages = paginate_roster(rows, lines_per_page)
    subtotals = [line for page in pages for line in page.lines if isinstance(line, Subtotal)]
    return Roster(year, city.name, pages, subtotals, len(rows), _sum(row.amount for row in rows))


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, ZERO)


# --- 发放情况报告 ------------------------------------------------------------


@dataclass
class Reconciled:
    district: District
    confirmed: int = 0
    confirmed_amount: Decimal = ZERO
    paid: int = 0
    paid_amount: Decimal = ZERO
    awaiting_bank: int = 0  # in a batch, no result from the bank yet (待回盘)
    awaiting_bank_amount: Decimal = ZERO
    failed: int = 0  # the bank refused it and the district has not corrected it yet
    failed_amount: Decimal = ZERO
    withheld: int = 0  # the district could not get working bank details (payment_withheld_reason)
    withheld_amount: Decimal = ZERO
    outstanding: int = 0  # confirmed and not paid, whatever the reason
    outstanding_amount: Decimal = ZERO

    def add(self, amount: Decimal, payment: LatestPayment | None, withheld: bool) -> None:
        self.confirmed += 1
        self.confirmed_amount += amount
        if payment is not None and payment.status == PaymentStatus.PAID:
            self.paid += 1
            self.paid_amount += payment.amount
            return
        self.outstanding += 1
        self.outstanding_amount += amount
        if withheld:
            self.withheld += 1
            self.withheld_amount += amount
        elif payment is not None and payment.status == PaymentStatus.PENDING:
            self.awaiting_bank += 1
            self.awaiting_bank_amount += amount
        elif payment is not None and payment.status == PaymentStatus.FAILED and not payment.corrected:
            self.failed += 1
            self.failed_amount += amount

    def merge(self, other: Reconciled) -> None:
        for name in ("confirmed", "paid", "awaiting_bank", "failed", "withheld", "outstanding"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
            setattr(self, f"{name}_amount", getattr(self, f"{name}_amount") + getattr(other, f"{name}_amount"))


@dataclass(frozen=True)
class Reconciliation:
    year: int
    city: str
    districts: list[Reconciled]
    total: Reconciled
    allocated: Decimal | None  # None: the province has not allocated the city's total yet
    allocation_document: str
    allocated_on: date | None

    @property
    def within_allocation(self) -> bool | None:
        """Total paid ≤ total allocated (domain.md §2.a A9); None while nothing is allocated."""
        return None if self.allocated is None else self.total.paid_amount <= self.allocated


def reconciliation(session: Session, city: OrgUnit, year: int) -> Reconciliation:
    """Paid, failed, withheld and outstanding per district for the city's part (step 8, domain.md §2.a A9)."""
    query = (
        select(AidWorker.id, OrgUnit.code, OrgUnit.name, AidWorker.district, AidWorker.aid_amount,
               AidWorker.payment_withheld_reason)
        .outerjoin(OrgUnit, OrgUnit.id == AidWorker.district_unit_id)
        .where(*_city_part(city, year), AidWorker.confirmed_at.is_not(None))
    )  # fmt: skip
    payments = latest_payments(session, city, year)
    by_district: dict[District, Reconciled] = {}
    for worker_id, code, unit_name, text, amount, withheld in session.execute(query):
        district = _district(code, unit_name, text)
        line = by_district.setdefault(district, Reconciled(district))
        line.add(amount if amount is not None else ZERO, payments.get(worker_id), bool(withheld.strip()))
    districts = [by_district[key] for key in sorted(by_district, key=lambda d: d.sort_key)]
    total = Reconciled(District("", "合计"))
    for line in districts:
        total.merge(line)
    allocation = session.scalar(
        select(AidCityList).where(AidCityList.year == year, AidCityList.city_unit_id == city.id)
    )
    return Reconciliation(
        year,
        city.name,
        districts,
        total,
        allocation.allocated_amount if allocation else None,
        allocation.allocation_document if allocation else "",
        allocation.allocated_on if allocation else None,
    )
