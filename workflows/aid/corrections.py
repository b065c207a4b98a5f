"""A district union's corrections of failed aid payments (退票处理, issue #6 step 7; domain.md §2.a A8).

The bank returns a payment as failed with its reason (户名不符, 账户已销户, 账户冻结, 社保卡金融功能未激活, …).
The worker's district union either corrects the bank details, so the worker goes into the next batch with the new
card, or withholds the payment with a reason (the worker is then outstanding, not paid again). Only the worker's
own district union does this; for anyone else the row does not exist. The city's next batch waits for every
district (`districts_with_failures`, `corrections_complete` gate the process's correction tasks).
Operations flush; audit events carry ids and the bank's reason, never an identity or card number.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

import forms
from forms import identity
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.errors import NotFound, OperationRefused
from workflows.models import AidPayment, AidWorker, PaymentStatus, Role, User

MAX_BANK_NAME_LENGTH = 50  # as on the imported list (validation.BANK)
MAX_WITHHELD_REASON_LENGTH = 200  # aid_worker.payment_withheld_reason
NOT_FOUND = "未找到该笔代发记录"


def _acts(user: User) -> bool:
    return user.active and user.role in (Role.OFFICIAL, Role.HEAD)


def failed_rows(session: Session, user: User, year: int) -> list[AidPayment]:
    """The user's union's workers whose latest payment failed and is neither corrected nor withheld yet."""
    if not _acts(user):
        return []
    query = (
        select(AidPayment)
        .join(AidWorker, AidPayment.worker_id == AidWorker.id)
        .where(
            AidWorker.year == year,
            AidWorker.district_unit_id == user.org_unit_id,
            AidPayment.status == PaymentStatus.FAILED.value,
            AidPayment.corrected_at.is_(None),
        )
        .options(joinedload(AidPayment.worker), joinedload(AidPayment.batch))
        .order_by(AidWorker.row_number, AidPayment.id)
    )
    return list(session.scalars(query))


def _own_failed_payment(session: Session, user: User, payment_id: int) -> AidPayment:
    # The payment row alone is locked (PostgreSQL locks no outer-joined row): two officials on it queue up here.
    payment = session.scalar(select(AidPayment).where(AidPayment.id == payment_id).with_for_update())
    if payment is None or not _acts(user) or payment.worker.district_unit_id != user.org_unit_id:
        raise NotFound(NOT_FOUND)
    if payment.status != PaymentStatus.FAILED.value or payment.corrected_at is not None:
        raise OperationRefused("该笔代发不是待处理的失败记录（可能已由他人处理），请刷新后查看")
    return payment


def _mark_corrected(payment: AidPayment, user: User) -> None:
    payment.corrected_by_id = user.id
    payment.corrected_at = utcnow()


def correct_bank_details(session: Session, user: User, payment_id: int, bank_name: str, card_number: str) -> AidPayment:
    """New bank details for a failed row's worker (the worker goes into the next batch). Flushes.

    Raises forms.FormValidationError with Chinese messages keyed "bank_name" / "card_number".
    """
    payment = _own_failed_payment(session, user, payment_id)
    worker = payment.worker
    bank = bank_name.strip()
    card = "".join(unicodedata.normalize("NFKC", card_number).split())
    errors: dict[str, str] = {}
    if not bank:
        errors["bank_name"] = "开户银行：不能为空"
    elif len(bank) > MAX_BANK_NAME_LENGTH:
        errors["bank_name"] = f"开户银行：不能超过 {MAX_BANK_NAME_LENGTH} 个字"
    if reason := (identity.bank_card_problem(card) if card else "不能为空"):
        errors["card_number"] = f"银行卡号：{reason}"
    elif session.scalar(
        select(AidWorker.id).where(
            AidWorker.year == worker.year, AidWorker.card_number == card, AidWorker.id != worker.id
        )
    ):
        errors["card_number"] = "银行卡号：该卡号已登记为同年度另一名职工的银行卡，请核对"
    if errors:
        raise forms.FormValidationError(errors)
    worker.bank_name, worker.card_number, worker.payment_withheld_reason = bank, card, ""
    _mark_corrected(payment, user)
    session.flush()
    record_event(
        session,
        "aid.bank_details_corrected",
        "aid_payment",
        payment.id,
        {"worker": worker.id, "batch": payment.batch_id, "failure_reason": payment.failure_reason},
        actor_id=user.id,
    )
    return payment


def withhold_payment(session: Session, user: User, payment_id: int, reason: str) -> AidPayment:
    """The district cannot get working bank details: the worker is not paid again and counts as outstanding."""
    payment = _own_failed_payment(session, user, payment_id)
    text = reason.strip()
    if not text:
        raise forms.FormValidationError({"reason": "暂缓发放原因：不能为空"})
    if len(text) > MAX_WITHHELD_REASON_LENGTH:
        raise forms.FormValidationError({"reason": f"暂缓发放原因：不能超过 {MAX_WITHHELD_REASON_LENGTH} 个字"})
    payment.worker.payment_withheld_reason = text
    _mark_corrected(payment, user)
    session.flush()
    record_event(
        session,
        "aid.payment_withheld",
        "aid_payment",
        payment.id,
        {"worker": payment.worker_id, "batch": payment.batch_id, "reason": text},
        actor_id=user.id,
    )
    return payment


def uncorrected(year: int) -> Any:
    """District unit ids of the year's failed payments not yet corrected or withheld (one row per payment)."""
    return (
        select(AidWorker.district_unit_id)
        .join(AidPayment, AidPayment.worker_id == AidWorker.id)
        .where(
            AidWorker.year == year,
            AidPayment.status == PaymentStatus.FAILED.value,
            AidPayment.corrected_at.is_(None),
        )
    )


def corrections_complete(session: Session, year: int, district_unit_id: int) -> bool:
    """Whether the district has handled every failed row of the year (the gate of its correction task)."""
    query = uncorrected(year).where(AidWorker.district_unit_id == district_unit_id).limit(1)
    return session.scalar(query) is None


def districts_with_failures(session: Session, year: int, city_unit_id: int) -> list[int]:
    """The district unit ids of the city having failed rows not yet corrected or withheld (one correction task each).

    Workers without a district unit are not in it: nobody below the city can correct them."""
    query = uncorrected(year).where(AidWorker.city_unit_id == city_unit_id, AidWorker.district_unit_id.is_not(None))
    return sorted({unit_id for unit_id in session.scalars(query.distinct()) if unit_id is not None})
