"""A worker's record on a year's aid list (issue #6 "Records": every conclusion and payment attempt, who and when).

The listing as imported, every review conclusion (the district's, and the province's returns, which are `AidReview`
rows with conclusion 退回), the confirmation and amount, and every payment attempt oldest first with its batch and
the bank's answer. Identity, card and mobile numbers are masked here, before any template sees them. No Flask; the
caller has checked `workflows.aid.access.may_see_worker`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.aid.review import review_history
from workflows.models import AidBatch, AidPayment, AidWorker, User


@dataclass(frozen=True)
class Person:
    """Who did it: the official's name and union, as the record prints them."""

    name: str
    unit: str

    def __str__(self) -> str:
        return f"{self.name}（{self.unit}）" if self.unit else self.name


@dataclass(frozen=True)
class ReviewEntry:
    number: int
    conclusion: str  # 符合, 不符合, or 退回 (the province returned the row to its district)
    reason: str
    reemployed_on: date | None
    evidence: str
    by: Person
    at: datetime


@dataclass(frozen=True)
class PaymentEntry:
    number: int
    batch_number: str
    bank_name: str
    card_number: str  # masked
    amount: Decimal
    status: str
    failure_reason: str
    paid_on: date | None
    sent_by: Person
    sent_at: datetime
    result_by: Person | None
    result_at: datetime | None
    corrected_by: Person | None
    corrected_at: datetime | None


@dataclass(frozen=True)
class WorkerRecord:
    worker_id: int
    year: int
    row_number: int
    name: str
    resident_id: str  # masked
    sex: str
    mobile: str  # masked
    placement_type: str
    internal_retirement_start: date | None
    statutory_retirement_on: date | None
    buyout_on: date | None
    ui_benefit_start: date | None
    ui_benefit_end: date | None
    enterprise_name: str
    enterprise_uscc: str
    city: str
    district: str
    bank_name: str
    card_number: str  # masked: the current bank details
    reviews: list[ReviewEntry]
    returned_reason: str
    confirmed_at: datetime | None
    aid_amount: Decimal | None
    withheld_reason: str
    payments: list[PaymentEntry]


def _people(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    users = session.scalars(select(User).where(User.id.in_(wanted)))
    return {user.id: Person(user.display_name, user.org_unit.name) for user in users}


UNKNOWN = Person("—", "")


def _payment(number: int, payment: AidPayment, batch: AidBatch, people: dict[int, Person]) -> PaymentEntry:
    return PaymentEntry(
        number=number,
        batch_number=batch.batch_number,
        bank_name=payment.bank_name,
        card_number=forms.mask_bank_card(payment.card_number),
        amount=payment.amount,
        status=payment.status,
        failure_reason=payment.failure_reason,
        paid_on=payment.paid_on,
        sent_by=people.get(batch.created_by_id, UNKNOWN),
        sent_at=batch.created_at,
        result_by=people.get(batch.result_imported_by_id, UNKNOWN) if batch.result_imported_by_id else None,
        result_at=batch.result_imported_at,
        corrected_by=people.get(payment.corrected_by_id, UNKNOWN) if payment.corrected_by_id else None,
        corrected_at=payment.corrected_at,
    )


def worker_record(session: Session, worker: AidWorker) -> WorkerRecord:
    reviews = review_history(session, worker)
    attempts: list[tuple[AidPayment, AidBatch]] = [
        (payment, batch)
        for payment, batch in session.execute(
            select(AidPayment, AidBatch)
            .join(AidBatch, AidBatch.id == AidPayment.batch_id)
            .where(AidPayment.worker_id == worker.id)
            .order_by(AidPayment.id)
        )
    ]
    people = _people(
        session,
        [review.reviewed_by_id for review in reviews]
        + [p.corrected_by_id for p, _ in attempts]
        + [b.created_by_id for _, b in attempts]
        + [b.result_imported_by_id for _, b in attempts],
    )
    return WorkerRecord(
        worker_id=worker.id,
        year=worker.year,
        row_number=worker.row_number,
        name=worker.name,
        resident_id=forms.mask_resident_id(worker.resident_id),
        sex=worker.sex,
        mobile=forms.mask_mobile(worker.mobile),
        placement_type=worker.placement_type,
        internal_retirement_start=worker.internal_retirement_start,
        statutory_retirement_on=worker.statutory_retirement_on,
        buyout_on=worker.buyout_on,
        ui_benefit_start=worker.ui_benefit_start,
        ui_benefit_end=worker.ui_benefit_end,
        enterprise_name=worker.enterprise_name,
        enterprise_uscc=worker.enterprise_uscc,
        city=worker.city_unit.name,
        district=worker.district_unit.name if worker.district_unit else worker.district,
        bank_name=worker.bank_name,
        card_number=forms.mask_bank_card(worker.card_number),
        reviews=[
            ReviewEntry(
                number,
                review.conclusion,
                review.reason,
                review.reemployed_on,
                review.evidence,
                people.get(review.reviewed_by_id, UNKNOWN),
                review.reviewed_at,
            )
            for number, review in enumerate(reviews, start=1)
        ],
        returned_reason=worker.returned_reason,
        confirmed_at=worker.confirmed_at,
        aid_amount=worker.aid_amount,
        withheld_reason=worker.payment_withheld_reason,
        payments=[_payment(number, payment, batch, people) for number, (payment, batch) in enumerate(attempts, 1)],
    )
