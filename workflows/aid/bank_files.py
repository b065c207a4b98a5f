"""The bank files of the aid payment (代发清单 and the bank's result, issue #6 step 7; domain.md §2.a A7–A8).

The payment file is the one place where resident ID and card numbers are written in full: the agent bank matches
name, ID and card before it pays. It is rendered from the batch's payment rows (read with one query), which snapshot
the amount and the bank details used, so rendering a batch again gives the same rows and totals, and (the workbook's
timestamps pinned to the batch's creation) the same bytes; rendering writes nothing.

The bank's result file (回盘) has the same columns plus 处理结果 (成功 / 失败), 失败原因 and 到账日期. `parse_result`
checks every row against the batch (pure: no database) and raises `ListRejected` with every problem by row and
column, or returns one answer per payment. Every spreadsheet goes in and out through `workflows.tabular`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import object_session

from workflows.aid.validation import ListRejected, RowProblem, parse_date, table_problem
from workflows.models import AidBatch, AidPayment, AidWorker, PaymentStatus
from workflows.tabular import CellValue, TableError, TableLimits, read_table, write_csv, write_xlsx

SERIAL, NAME, RESIDENT_ID, CARD = "序号", "姓名", "身份证号", "银行卡号"
BANK, AMOUNT, BATCH = "开户银行", "金额（元）", "批次号"
RESULT, REASON, PAID_ON = "处理结果", "失败原因", "到账日期"
BATCH_COLUMNS = (SERIAL, NAME, RESIDENT_ID, CARD, BANK, AMOUNT, BATCH)
RESULT_COLUMNS = (*BATCH_COLUMNS, RESULT, REASON, PAID_ON)
TOTAL_LABEL = "合计"
FEN = Decimal("0.01")
MAX_REASON_LENGTH = 200  # aid_payment.failure_reason
# Reasons banks give for a failed card payment (退票), domain.md §2.a A8 [R57, R58]: examples offered to officials.
COMMON_FAILURE_REASONS = ("户名不符", "账户已销户", "账户冻结", "社保卡金融功能未激活", "卡号错误")


@dataclass(frozen=True)
class ResultAnswer:
    """The bank's answer for one payment of the batch."""

    payment_id: int
    status: PaymentStatus
    failure_reason: str
    paid_on: date | None


def _serial_rows(batch: AidBatch) -> Iterator[list[CellValue]]:
    """The batch's payments in batch order (payment id) as file rows. A stored batch's rows are read with one query
    of the five columns the file shows, not as 40,000 payment and worker objects (issue #9: 0.9 s a download)."""
    session = object_session(batch)
    lines: Sequence[tuple[str, str, str, str, Decimal]]
    if session is None:  # a batch never stored (none is, in practice): its loaded payments
        lines = [(p.worker.name, p.worker.resident_id, p.card_number, p.bank_name, p.amount) for p in batch.payments]
    else:
        query = (
            select(
                AidWorker.name, AidWorker.resident_id, AidPayment.card_number, AidPayment.bank_name, AidPayment.amount
            )
            .join(AidWorker, AidWorker.id == AidPayment.worker_id)
            .where(AidPayment.batch_id == batch.id)
            .order_by(AidPayment.id)
        )
        lines = session.execute(query).all()
    number = batch.batch_number
    for serial, (name, resident_id, card, bank, amount) in enumerate(lines, start=1):
        yield [serial, name, resident_id, card, bank, amount, number]


def _total_row(batch: AidBatch, width: int) -> list[CellValue]:
    row: list[CellValue] = [TOTAL_LABEL, f"共 {batch.row_count} 笔", "", "", "", batch.total, batch.batch_number]
    return row + [""] * (width - len(row))


def batch_rows(batch: AidBatch) -> list[list[CellValue]]:
    """The payment file's rows in batch order (payment id), then the totals line (合计: count and amount)."""
    rows = list(_serial_rows(batch))
    rows.append(_total_row(batch, len(BATCH_COLUMNS)))
    return rows


def _stamp(batch: AidBatch) -> datetime:
    """The time a batch's workbooks carry: its creation (so rendering it again gives the same bytes; openpyxl would
    stamp the time of writing), or 1980-01-01 for a batch not yet stored (zip cannot store an earlier time)."""
    return batch.created_at or datetime(1980, 1, 1, tzinfo=UTC)


def batch_file_xlsx(batch: AidBatch) -> bytes:
    """The 代发清单 as an Excel workbook (every cell text, so long numbers stay exact)."""
    return write_xlsx(BATCH_COLUMNS, batch_rows(batch), sheet_title="代发清单", stamped=_stamp(batch))


def batch_file_csv(batch: AidBatch) -> bytes:
    """The 代发清单 as CSV (UTF-8 with BOM, as Excel in China opens it)."""
    return write_csv(BATCH_COLUMNS, batch_rows(batch))


def result_template(batch: AidBatch) -> bytes:
    """The bank's result file to fill: the batch's rows with empty 处理结果 / 失败原因 / 到账日期."""
    blank: list[CellValue] = ["", "", ""]
    rows = [row + blank for row in _serial_rows(batch)]
    rows.append(_total_row(batch, len(RESULT_COLUMNS)))
    return write_xlsx(RESULT_COLUMNS, rows, sheet_title="银行回盘", stamped=_stamp(batch))


def _digits(text: str) -> str:
    """Full-width digits typed with a Chinese input method as ASCII, upper-case X, blanks inside removed."""
    return "".join(unicodedata.normalize("NFKC", text).upper().split())


def _amount(text: str) -> Decimal | str:
    """The amount in yuan, or the reason it is not one."""
    try:
        value = Decimal(text.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return "应为金额数字，如 3000.00"
    if not value.is_finite():
        return "应为金额数字，如 3000.00"
    if value != value.quantize(FEN):
        return "只能精确到分（两位小数）"
    return value


class _Checker:
    def __init__(self, batch: AidBatch, today: date, batch_day: date) -> None:
        self.batch, self.today, self.batch_day = batch, today, batch_day
        self.problems: list[RowProblem] = []
        self.by_id = {payment.worker.resident_id.upper(): payment for payment in batch.payments}
        self.answered: dict[int, int] = {}  # payment id → the row that answered it
        self.answers: list[ResultAnswer] = []

    def problem(self, row: int, column: str, reason: str) -> None:
        self.problems.append(RowProblem(row, column, f"{column}：{reason}"))

    def row(self, number: int, values: dict[str, str]) -> None:
        if values[SERIAL] == TOTAL_LABEL:
            return  # the totals line the payment file ends with
        if values[BATCH] != self.batch.batch_number:
            self.problem(number, BATCH, f"应为本批次号 {self.batch.batch_number}")
        payment = self._payment(number, values)
        status = self._status(number, values)
        dated, paid_on = self._paid_on(number, values, status)
        if payment is None or status is None or not dated:
            return
        reason = values[REASON] if status is PaymentStatus.FAILED else ""
        self.answers.append(ResultAnswer(payment.id, status, reason, paid_on))

    def _payment(self, number: int, values: dict[str, str]) -> AidPayment | None:
        payment = self.by_id.get(_digits(values[RESIDENT_ID]))
        if payment is None:
            self.problem(number, RESIDENT_ID, "不能为空" if not values[RESIDENT_ID] else "本批次中没有该身份证号")
            return None
        ok = True
        if values[NAME].replace(" ", "").replace("\u3000", "") != payment.worker.name:
            self.problem(number, NAME, "与本批次代发清单中该身份证号的姓名不符")
            ok = False
        if _digits(values[CARD]) != payment.card_number:
            self.problem(number, CARD, "与本批次代发清单中该职工的银行卡号不符")
            ok = False
        amount = _amount(values[AMOUNT]) if values[AMOUNT] else "不能为空"
        if isinstance(amount, str):
            self.problem(number, AMOUNT, amount)
            ok = False
        elif amount != payment.amount:
            self.problem(number, AMOUNT, f"与本批次代发金额 {payment.amount:.2f} 元不符")
            ok = False
        if (first := self.answered.get(payment.id)) is not None:
            self.problem(number, RESIDENT_ID, f"与第 {first} 行为同一笔代发，每笔只能有一个处理结果")
            return None
        self.answered[payment.id] = number
        return payment if ok else None

    def _status(self, number: int, values: dict[str, str]) -> PaymentStatus | None:
        result, reason = values[RESULT], values[REASON]
        if result not in (PaymentStatus.PAID.value, PaymentStatus.FAILED.value):
            self.problem(number, RESULT, "不能为空" if not result else "应为“成功”或“失败”")
            return None
        status = PaymentStatus(result)
        if status is PaymentStatus.FAILED and not reason:
            self.problem(number, REASON, "处理结果为“失败”时必须填写")
            return None
        if status is PaymentStatus.PAID and reason:
            self.problem(number, REASON, "处理结果为“成功”时不应填写")
            return None
        if len(reason) > MAX_REASON_LENGTH:
            self.problem(number, REASON, f"不能超过 {MAX_REASON_LENGTH} 个字")
            return None
        return status

    def _paid_on(self, number: int, values: dict[str, str], status: PaymentStatus | None) -> tuple[bool, date | None]:
        """(valid, the date the money arrived: None for a failed row)."""
        text, problem = values[PAID_ON], ""
        day = None
        if status is not PaymentStatus.PAID:
            problem = "处理结果为“失败”时不应填写" if text and status is PaymentStatus.FAILED else ""
        elif not text:
            problem = "处理结果为“成功”时必须填写"
        else:
            try:
                day = parse_date(_digits(text))
            except ValueError as exc:
                problem = str(exc)
            else:
                if day > self.today:
                    problem = "不能晚于今天"
                elif day < self.batch_day:
                    problem = f"不能早于批次生成日期 {self.batch_day.isoformat()}"
        if problem:
            self.problem(number, PAID_ON, problem)
        return not problem, day

    def unanswered(self) -> None:
        for serial, payment in enumerate(self.batch.payments, start=1):
            if payment.id not in self.answered:
                self.problems.append(RowProblem(0, "", f"代发清单第 {serial} 笔（{payment.worker.name}）没有处理结果"))


def parse_result(
    batch: AidBatch, data: bytes, filename: str, *, today: date, batch_day: date, limits: TableLimits | None = None
) -> list[ResultAnswer]:
    """One answer per payment of `batch`, or `ListRejected` with every problem of the file by row and column."""
    try:
        table = read_table(data, filename, limits, text_columns=(RESIDENT_ID, CARD), required_columns=RESULT_COLUMNS)
    except TableError as exc:
        raise ListRejected([table_problem(problem) for problem in exc.problems]) from exc
    checker = _Checker(batch, today, batch_day)
    for number, values in table.records():
        checker.row(number, values)
    checker.unanswered()
    if checker.problems:
        order = {column: index for index, column in enumerate(RESULT_COLUMNS)}
        rows_first = sorted(checker.problems, key=lambda problem: (problem.row or 10**9, order.get(problem.column, -1)))
        raise ListRejected(rows_first)
    return checker.answers
