"""Bank-card payment of the hardship aid (代发, issue #6 steps 7–8; seed 000 item 10; domain.md §2.a A7–A9).

- A7: the city's livelihood department (with finance) makes a batch (代发清单) of every confirmed worker not yet paid
  and sends it to the agent bank (`create_batch`, files in `bank_files`).
- A8: finance imports the bank's result (`import_bank_result`): all rows or none, once. Failed rows (退票) go back
  to the worker's district union, which corrects the bank details or withholds the payment with a reason; only the
  corrected rows go into the next batch.
- A9: `payment_summary` gives the reconciliation figures per district (paid ≤ allocated).

A worker is never paid twice for the same aid year: the partial unique index on aid_payment lets a worker hold at
most one pending-or-paid row, a batch takes only workers without one, and a result file is applied once (its
SHA-256 is kept; the identical file again changes nothing). Operations take a session and flush; the caller commits.
The files are rendered and parsed in `bank_files`, the districts' corrections live in `corrections`; both are
re-exported here, so this module is the payment API.
Audit events carry counts and ids, never an identity or card number.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Numeric, and_, case, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from workflows.aid.access import may_handle_bank_files, may_import_bank_result, may_see_city_list
from workflows.aid.bank_files import (
    COMMON_FAILURE_REASONS,
    ResultAnswer,
    batch_file_csv,
    batch_file_xlsx,
    parse_result,
    result_template,
)
from workflows.aid.corrections import (
    correct_bank_details,
    corrections_complete,
    districts_with_failures,
    failed_rows,
    uncorrected,
    withhold_payment,
)
from workflows.audit import record_event
from workflows.calendar import SHANGHAI, beijing_today
from workflows.db import utcnow
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.models import AidBatch, AidCityList, AidPayment, AidWorker, OrgUnit, PaymentStatus, User
from workflows.tabular import TableLimits

__all__ = [
    "COMMON_FAILURE_REASONS",
    "DistrictLine",
    "PaymentSummary",
    "ResultOutcome",
    "batch_file_csv",
    "batch_file_xlsx",
    "correct_bank_details",
    "corrections_complete",
    "create_batch",
    "districts_with_failures",
    "failed_rows",
    "import_bank_result",
    "payment_attempts",
    "payment_summary",
    "result_template",
    "withhold_payment",
]

FEN = Decimal("0.01")


def _fen(amount: Decimal | None) -> Decimal:
    return (amount or Decimal(0)).quantize(FEN, rounding=ROUND_HALF_UP)


def _city(session: Session, city_unit_id: int) -> OrgUnit:
    city = session.get(OrgUnit, city_unit_id)
    if city is None:
        raise NotFound("未找到该市总工会")
    return city


# --- A7: the batch ------------------------------------------------------------------------------------------------


def _uncorrected_failure() -> Any:
    """A failed payment of the worker that its district has neither corrected nor withheld yet."""
    return exists().where(
        AidPayment.worker_id == AidWorker.id,
        AidPayment.status == PaymentStatus.FAILED.value,
        AidPayment.corrected_at.is_(None),
    )


def _live_payment() -> Any:
    return exists().where(AidPayment.worker_id == AidWorker.id, AidPayment.status != PaymentStatus.FAILED.value)


def create_batch(session: Session, user: User, year: int, city_unit_id: int) -> AidBatch:
    """A payment batch of every confirmed worker of the city's year who is still to be paid. Flushes.

    Still to be paid: confirmed with an amount above zero, no pending or paid payment, not withheld, and, after a
    failure, corrected by the district (an uncorrected failed row would go to the bank with the same bad card).
    Refused while the city has a batch whose result is not imported, and when nobody is left to pay.
    """
    city = _city(session, city_unit_id)
    if not may_handle_bank_files(user, city):
        raise PermissionDenied("只有市总工会生活保障部和财务部可以生成代发清单")
    open_batch = session.scalar(
        select(AidBatch).where(
            AidBatch.year == year, AidBatch.city_unit_id == city.id, AidBatch.result_sha256.is_(None)
        )
    )
    if open_batch is not None:
        raise OperationRefused(f"批次 {open_batch.batch_number} 的银行回盘尚未导入，导入后才能生成下一批代发清单")
    workers = session.execute(
        select(AidWorker.id, AidWorker.aid_amount, AidWorker.bank_name, AidWorker.card_number)
        .where(
            AidWorker.year == year,
            AidWorker.city_unit_id == city.id,
            AidWorker.confirmed_at.is_not(None),
            AidWorker.aid_amount > 0,
            AidWorker.payment_withheld_reason == "",
            ~_live_payment(),
            ~_uncorrected_failure(),
        )
        .order_by(AidWorker.row_number, AidWorker.id)
    ).all()
    if not workers:
        raise OperationRefused(f"{city.name} {year} 年度没有待发放的职工，无需生成代发清单")
    sequence = (
        session.scalar(
            select(func.max(AidBatch.sequence)).where(AidBatch.year == year, AidBatch.city_unit_id == city.id)
        )
        or 0
    ) + 1
    batch = AidBatch(
        year=year,
        city_unit_id=city.id,
        sequence=sequence,
        batch_number=f"{city.code}-{year}-{sequence:02d}",
        row_count=len(workers),
        total=_fen(sum((_fen(amount) for _, amount, _, _ in workers), Decimal(0))),
        created_by_id=user.id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(batch)
            session.flush()
            # Bank details are copied: a later correction goes into the next batch, this row keeps what was sent.
            session.execute(
                insert(AidPayment),
                [
                    {"batch_id": batch.id, "worker_id": worker_id, "amount": _fen(amount), "bank_name": bank,
                     "card_number": card, "status": PaymentStatus.PENDING.value, "failure_reason": ""}
                    for worker_id, amount, bank, card in workers
                ],
            )  # fmt: skip
    except IntegrityError:
        # Another official made a batch of the same city at the same moment: its rows hold these workers.
        raise OperationRefused("另一份代发清单刚刚生成，请刷新后查看") from None
    record_event(
        session,
        "aid.batch_created",
        "aid_batch",
        batch.id,
        {"batch": batch.batch_number, "year": year, "city": city.code, "rows": batch.row_count,
         "total": f"{batch.total:.2f}"},
        actor_id=user.id,
    )  # fmt: skip
    return batch


def load_batch(session: Session, batch_id: int) -> AidBatch | None:
    """A batch, for its files: they query their rows (bank_files), so its 20,000 payments and workers are not loaded
    as objects first (issue #9: that was 0.9 s of each download)."""
    return session.get(AidBatch, batch_id)


def _batch_with_workers(session: Session, batch_id: int) -> AidBatch | None:
    """A batch with its payments and their workers loaded: checking a result file reads them all."""
    return session.scalar(
        select(AidBatch)
        .where(AidBatch.id == batch_id)
        .options(selectinload(AidBatch.payments).joinedload(AidPayment.worker))
    )


def visible_batch(session: Session, user: User, batch_id: int) -> AidBatch:
    """The batch if the user may see its city's list (masked), else NotFound."""
    batch = session.get(AidBatch, batch_id)
    if batch is None or not may_see_city_list(user, _city(session, batch.city_unit_id)):
        raise NotFound("未找到该代发批次")
    return batch


def city_batches(session: Session, year: int, city_unit_id: int) -> list[AidBatch]:
    query = select(AidBatch).where(AidBatch.year == year, AidBatch.city_unit_id == city_unit_id)
    return list(session.scalars(query.order_by(AidBatch.sequence)))


def status_counts(session: Session, batch: AidBatch) -> dict[str, int]:
    """The batch's payments per status: 待回盘, 成功, 失败 (each present, zero where none)."""
    counts = dict.fromkeys((status.value for status in PaymentStatus), 0)
    query = select(AidPayment.status, func.count()).where(AidPayment.batch_id == batch.id).group_by(AidPayment.status)
    counts.update({status: count for status, count in session.execute(query).all()})
    return counts


# --- A8: the bank's result ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultOutcome:
    batch: AidBatch
    paid: int
    failed: int
    paid_amount: Decimal
    already_imported: bool = False


def _outcome(session: Session, batch: AidBatch, already_imported: bool) -> ResultOutcome:
    paid = session.execute(
        select(func.count(), func.sum(AidPayment.amount)).where(
            AidPayment.batch_id == batch.id, AidPayment.status == PaymentStatus.PAID.value
        )
    ).one()
    failed = status_counts(session, batch)[PaymentStatus.FAILED.value]
    return ResultOutcome(batch, paid[0], failed, _fen(paid[1]), already_imported)


def import_bank_result(
    session: Session, user: User, batch_id: int, data: bytes, filename: str, *, limits: TableLimits | None = None
) -> ResultOutcome:
    """Apply the bank's result file to the batch: every row valid or nothing changes (`ListRejected`). Flushes.

    The identical file again changes nothing (`already_imported`); a different file after a result is refused.
    """
    batch = session.scalar(select(AidBatch).where(AidBatch.id == batch_id).with_for_update())
    city = _city(session, batch.city_unit_id) if batch is not None else None
    if batch is None or city is None or not may_handle_bank_files(user, city):
        raise NotFound("未找到该代发批次")
    if not may_import_bank_result(user, city):
        raise PermissionDenied("银行回盘文件由市总工会财务部导入")
    digest = hashlib.sha256(data).hexdigest()
    if batch.result_sha256 == digest:
        return _outcome(session, batch, already_imported=True)
    if batch.result_sha256 is not None:
        when = batch.result_imported_at.astimezone(SHANGHAI) if batch.result_imported_at else None
        at = f"已于 {when:%Y-%m-%d %H:%M} " if when else "已"
        raise OperationRefused(
            f"批次 {batch.batch_number} 的银行回盘{at}导入（{batch.result_filename}），不能再导入不同的文件"
        )
    batch = _batch_with_workers(session, batch.id) or batch
    batch_day = batch.created_at.astimezone(SHANGHAI).date()
    answers = parse_result(batch, data, filename, today=beijing_today(), batch_day=batch_day, limits=limits)
    _apply(batch, answers)
    batch.result_sha256 = digest
    batch.result_filename = filename[:200]
    batch.result_imported_by_id = user.id
    batch.result_imported_at = utcnow()
    session.flush()
    outcome = _outcome(session, batch, already_imported=False)
    record_event(
        session,
        "aid.bank_result_imported",
        "aid_batch",
        batch.id,
        {"batch": batch.batch_number, "paid": outcome.paid, "failed": outcome.failed,
         "paid_amount": f"{outcome.paid_amount:.2f}", "sha256": digest},
        actor_id=user.id,
    )  # fmt: skip
    return outcome


def _apply(batch: AidBatch, answers: list[ResultAnswer]) -> None:
    by_id = {payment.id: payment for payment in batch.payments}
    for answer in answers:
        payment = by_id[answer.payment_id]
        payment.status = answer.status.value
        payment.failure_reason = answer.failure_reason
        payment.paid_on = answer.paid_on


def payment_attempts(session: Session, worker: AidWorker) -> list[AidPayment]:
    """Every payment of the worker, oldest first, with its batch (the per-worker record)."""
    query = select(AidPayment).where(AidPayment.worker_id == worker.id).options(joinedload(AidPayment.batch))
    return list(session.scalars(query.order_by(AidPayment.id)))


# --- A9: reconciliation ---------------------------------------------------------------------------------------------


@dataclass
class DistrictLine:
    """One district's figures; amounts in yuan, rounded to the fen. Outstanding = confirmed and not paid (still at
    the bank, failed, or withheld)."""

    unit_id: int | None
    name: str
    confirmed: int = 0
    confirmed_amount: Decimal = Decimal("0.00")
    paid: int = 0
    paid_amount: Decimal = Decimal("0.00")
    pending: int = 0
    failed: int = 0  # failed and not yet corrected or withheld
    withheld: int = 0
    withheld_amount: Decimal = Decimal("0.00")
    outstanding: int = 0
    outstanding_amount: Decimal = Decimal("0.00")

    def add(self, other: DistrictLine) -> None:
        for name in ("confirmed", "confirmed_amount", "paid", "paid_amount", "pending", "failed", "withheld",
                     "withheld_amount", "outstanding", "outstanding_amount"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PaymentSummary:
    year: int
    city_unit_id: int
    lines: list[DistrictLine]
    totals: DistrictLine
    allocated: Decimal | None  # the province's allocation to the city, when recorded
    batches: list[AidBatch] = field(default_factory=list)

    @property
    def within_allocation(self) -> bool | None:
        return None if self.allocated is None else self.totals.paid_amount <= self.allocated


def payment_summary(session: Session, year: int, city_unit_id: int) -> PaymentSummary:
    """Per district: confirmed, paid, at the bank, failed, withheld and outstanding, with counts and amounts."""
    # At most one live (pending or paid) payment per worker (uq_aid_payment_worker_live): the outer join keeps one row.
    live = and_(AidPayment.worker_id == AidWorker.id, AidPayment.status != PaymentStatus.FAILED.value)
    money = Numeric(14, 2)
    is_paid = AidPayment.status == PaymentStatus.PAID.value
    not_paid = AidPayment.id.is_(None) | (AidPayment.status != PaymentStatus.PAID.value)
    withheld = AidPayment.id.is_(None) & (AidWorker.payment_withheld_reason != "")
    rows = session.execute(
        select(
            AidWorker.district_unit_id,
            func.count(AidWorker.id),
            func.sum(AidWorker.aid_amount, type_=money),
            func.count(AidPayment.id).filter(is_paid),
            func.sum(case((is_paid, AidPayment.amount), else_=0), type_=money),
            func.count(AidPayment.id).filter(AidPayment.status == PaymentStatus.PENDING.value),
            func.count(AidWorker.id).filter(withheld),
            func.sum(case((withheld, AidWorker.aid_amount), else_=0), type_=money),
            func.count(AidWorker.id).filter(not_paid),
            func.sum(case((not_paid, AidWorker.aid_amount), else_=0), type_=money),
        )
        .outerjoin(AidPayment, live)
        .where(
            AidWorker.year == year,
            AidWorker.city_unit_id == city_unit_id,
            AidWorker.confirmed_at.is_not(None),
            AidWorker.aid_amount > 0,
        )
        .group_by(AidWorker.district_unit_id)
    ).all()
    failed_query = (
        uncorrected(year)
        .where(AidWorker.city_unit_id == city_unit_id)
        .with_only_columns(AidWorker.district_unit_id, func.count())
        .group_by(AidWorker.district_unit_id)
    )
    failed: dict[int | None, int] = {unit_id: count for unit_id, count in session.execute(failed_query).all()}
    units = {unit.id: unit for unit in session.scalars(select(OrgUnit).where(OrgUnit.id.in_([r[0] for r in rows])))}
    lines = []
    for unit_id, *figures in rows:
        line = DistrictLine(unit_id, units[unit_id].name if unit_id in units else "未分到区县")
        (line.confirmed, confirmed_amount, line.paid, paid_amount, line.pending, line.withheld, withheld_amount,
         line.outstanding, outstanding_amount) = figures  # fmt: skip
        line.confirmed_amount, line.paid_amount = _fen(confirmed_amount), _fen(paid_amount)
        line.withheld_amount, line.outstanding_amount = _fen(withheld_amount), _fen(outstanding_amount)
        line.failed = failed.get(unit_id, 0)
        lines.append(line)
    lines.sort(key=lambda line: (line.unit_id is None, units[line.unit_id].code if line.unit_id in units else ""))
    totals = DistrictLine(None, "合计")
    for line in lines:
        totals.add(line)
    city_list = session.scalar(
        select(AidCityList).where(AidCityList.year == year, AidCityList.city_unit_id == city_unit_id)
    )
    allocated = _fen(city_list.allocated_amount) if city_list and city_list.allocated_amount is not None else None
    return PaymentSummary(year, city_unit_id, lines, totals, allocated, city_batches(session, year, city_unit_id))
