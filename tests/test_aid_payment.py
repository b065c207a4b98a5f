"""Bank-card payment of the hardship aid (issue #6 steps 7–8; `workflows.aid.payment`, `workflows.aid.bank_files`).

The story of a city's payment: a batch of every confirmed worker, its files (full numbers, totals, the same bytes
every time), the bank's result with two failures, the identical result again (nothing changes), a different result
(refused), the district correcting one row and withholding the other, a follow-up batch with only the corrected row
and its new card, paid; nobody paid twice, and the reconciliation figures per district. Then every rule of the
result file, named by row and column.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import forms
from tests.aid_helpers import YEAR, confirmed_list
from tests.test_aid_validation import card
from tests.workflow_helpers import start_report, user
from workflows.aid.bank_files import BATCH_COLUMNS, RESULT_COLUMNS, batch_rows
from workflows.aid.payment import (
    batch_file_csv,
    batch_file_xlsx,
    correct_bank_details,
    corrections_complete,
    create_batch,
    districts_with_failures,
    failed_rows,
    import_bank_result,
    payment_attempts,
    payment_summary,
    result_template,
    withhold_payment,
)
from workflows.aid.validation import ListRejected
from workflows.calendar import beijing_today
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.models import AidBatch, AidCityList, AidPayment, AidWorker, AuditEvent, PaymentStatus
from workflows.organisation import unit_by_code
from workflows.tabular import CellValue, write_csv, write_xlsx

CITY = "210200"
NEW_CARD = card("621700987654321")


def city_id(session: Session) -> int:
    return unit_by_code(session, CITY).id


def new_batch(session: Session, username: str = "baozhang1") -> AidBatch:
    return create_batch(session, user(session, username), YEAR, city_id(session))


def result_rows(
    batch: AidBatch, failures: dict[int, str] | None = None, paid_on: str | None = None
) -> list[list[CellValue]]:
    """The bank's answer to every row of the batch: 失败 with the reason for the payments in `failures`."""
    failures, day = failures or {}, paid_on or beijing_today().isoformat()
    rows: list[list[CellValue]] = []
    for payment, row in zip(batch.payments, batch_rows(batch), strict=False):
        failed = payment.id in failures
        rows.append([*row, "失败" if failed else "成功", failures.get(payment.id, ""), "" if failed else day])
    rows.append([*batch_rows(batch)[-1], "", "", ""])  # the totals line, as the bank sends it back
    return rows


def result_xlsx(rows: list[list[CellValue]]) -> bytes:
    return write_xlsx(RESULT_COLUMNS, rows)


def snapshot(session: Session) -> dict[str, Any]:
    """Every payment-related row, to prove an operation changed nothing."""
    session.expire_all()
    payments = session.execute(select(AidPayment.__table__).order_by(AidPayment.id)).all()
    batches = session.execute(select(AidBatch.__table__).order_by(AidBatch.id)).all()
    workers = session.execute(
        select(AidWorker.id, AidWorker.bank_name, AidWorker.card_number, AidWorker.payment_withheld_reason)
    ).all()
    return {"payments": payments, "batches": batches, "workers": workers,
            "events": session.scalar(select(func.count()).select_from(AuditEvent))}  # fmt: skip


def sheet(data: bytes) -> list[tuple[Any, ...]]:
    """The first sheet's values; an empty cell as "" (as in the CSV)."""
    rows = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True)
    return [tuple("" if value is None else value for value in row) for row in rows]


# --- The batch and its files ---------------------------------------------------------------------------------------


def test_a_batch_takes_every_confirmed_worker_and_its_files_carry_full_numbers_and_totals(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 3, "中山区": 2})
    workers[4].aid_amount = Decimal("1234.56")

    batch = new_batch(world)

    assert batch.batch_number == f"{CITY}-{YEAR}-01" and batch.sequence == 1
    assert batch.row_count == 5 and batch.total == Decimal("13234.56")
    assert [p.worker_id for p in batch.payments] == [w.id for w in workers]
    assert all(p.status == PaymentStatus.PENDING.value for p in batch.payments)
    rows = sheet(batch_file_xlsx(batch))
    assert rows[0] == BATCH_COLUMNS
    first = workers[0]
    assert rows[1] == ("1", first.name, first.resident_id, first.card_number, first.bank_name, "3000.00",
                       batch.batch_number)  # fmt: skip
    assert rows[5][5] == "1234.56"
    assert rows[-1] == ("合计", "共 5 笔", "", "", "", "13234.56", batch.batch_number)
    assert len(rows) == 7
    text = batch_file_csv(batch).decode("utf-8-sig")
    assert [tuple(row) for row in csv.reader(io.StringIO(text))] == rows


def test_rendering_a_batch_again_gives_the_same_bytes_and_writes_nothing(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2})
    batch = new_batch(world)
    world.flush()
    before = snapshot(world)
    batch = world.get(AidBatch, batch.id)
    assert batch is not None
    xlsx, text = batch_file_xlsx(batch), batch_file_csv(batch)

    assert batch_file_xlsx(batch) == xlsx and batch_file_csv(batch) == text
    assert result_template(batch) == result_template(batch)
    assert not world.dirty and not world.new
    assert snapshot(world) == before


def test_only_confirmed_workers_with_an_amount_who_are_not_withheld_are_in_a_batch(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 4})
    workers[0].confirmed_at = None
    workers[1].aid_amount = Decimal("0.00")
    workers[2].payment_withheld_reason = "职工已去世"

    batch = new_batch(world, "caiwu1")  # finance may make the batch too

    assert [p.worker_id for p in batch.payments] == [workers[3].id]


def test_a_second_batch_waits_for_the_first_result_and_an_empty_batch_is_refused(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2})
    first = new_batch(world)
    with pytest.raises(OperationRefused, match=f"批次 {first.batch_number} 的银行回盘尚未导入"):
        new_batch(world)
    import_bank_result(world, user(world, "caiwu1"), first.id, result_xlsx(result_rows(first)), "回盘.xlsx")
    with pytest.raises(OperationRefused, match="没有待发放的职工"):
        new_batch(world)
    assert world.scalar(select(func.count()).select_from(AidBatch)) == 1


@pytest.mark.parametrize("username", ["ganjingzi1", "shengzong_baozhang1", "jingji1", "admin"])
def test_only_the_city_s_livelihood_and_finance_departments_make_batches(world: Session, username: str) -> None:
    confirmed_list(world, {"甘井子区": 1})
    with pytest.raises(PermissionDenied):
        new_batch(world, username)


# --- The whole story ---------------------------------------------------------------------------------------------


def test_failures_are_corrected_by_the_district_and_only_the_corrected_row_is_paid_again(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 4, "中山区": 2})
    finance, district = user(world, "caiwu1"), user(world, "ganjingzi1")
    first = new_batch(world)
    corrected_worker, withheld_worker = workers[1], workers[2]
    old_card = corrected_worker.card_number
    by_worker = {p.worker_id: p for p in first.payments}
    failures = {by_worker[corrected_worker.id].id: "户名不符", by_worker[withheld_worker.id].id: "账户已销户"}
    result = result_xlsx(result_rows(first, failures))

    # The bank's result with two failures.
    outcome = import_bank_result(world, finance, first.id, result, "回盘.xlsx")

    assert (outcome.paid, outcome.failed, outcome.paid_amount) == (4, 2, Decimal("12000.00"))
    assert not outcome.already_imported
    assert first.result_filename == "回盘.xlsx" and first.result_imported_by_id == finance.id
    assert by_worker[corrected_worker.id].failure_reason == "户名不符"
    assert by_worker[workers[0].id].paid_on == beijing_today()

    # The identical file again changes nothing and says so; a different one is refused.
    before = snapshot(world)
    again = import_bank_result(world, finance, first.id, result, "回盘（重新导出）.xlsx")
    assert again.already_imported and (again.paid, again.failed) == (4, 2)
    assert snapshot(world) == before
    different = result_xlsx(result_rows(first, {by_worker[corrected_worker.id].id: "户名不符"}))
    with pytest.raises(OperationRefused, match="不能再导入不同的文件"):
        import_bank_result(world, finance, first.id, different, "回盘2.xlsx")
    assert snapshot(world) == before

    # The district sees its failed rows; nothing is paid again before it has handled them.
    ganjingzi = unit_by_code(world, "210211").id
    assert [p.worker_id for p in failed_rows(world, district, YEAR)] == [corrected_worker.id, withheld_worker.id]
    assert failed_rows(world, user(world, "zhongshan1"), YEAR) == []
    assert districts_with_failures(world, YEAR, city_id(world)) == [ganjingzi]
    assert not corrections_complete(world, YEAR, ganjingzi)
    with pytest.raises(OperationRefused, match="没有待发放的职工"):
        new_batch(world)

    correct_bank_details(world, district, by_worker[corrected_worker.id].id, "中国建设银行大连分行", NEW_CARD)
    withhold_payment(world, district, by_worker[withheld_worker.id].id, "职工已迁居外省，无法联系")

    assert corrections_complete(world, YEAR, ganjingzi) and districts_with_failures(world, YEAR, city_id(world)) == []
    assert failed_rows(world, district, YEAR) == []
    assert corrected_worker.card_number == NEW_CARD and withheld_worker.payment_withheld_reason

    # The follow-up batch holds the corrected row alone, with its new card; the old row keeps the old card.
    second = new_batch(world)
    assert second.batch_number == f"{CITY}-{YEAR}-02"
    assert [(p.worker_id, p.card_number, p.bank_name) for p in second.payments] == [
        (corrected_worker.id, NEW_CARD, "中国建设银行大连分行")
    ]
    assert by_worker[corrected_worker.id].card_number == old_card
    assert sheet(batch_file_xlsx(second))[1][3] == NEW_CARD
    paid = import_bank_result(world, finance, second.id, result_xlsx(result_rows(second)), "回盘-02.xlsx")
    assert (paid.paid, paid.failed) == (1, 0)

    # Nobody paid twice, and the database itself refuses a second live payment.
    per_worker = world.execute(
        select(AidPayment.worker_id, func.count())
        .where(AidPayment.status == PaymentStatus.PAID.value)
        .group_by(AidPayment.worker_id)
    ).all()
    assert len(per_worker) == 5 and all(count == 1 for _, count in per_worker)
    assert [p.status for p in payment_attempts(world, corrected_worker)] == ["失败", "成功"]
    with pytest.raises(IntegrityError), world.begin_nested():
        world.add(AidPayment(batch_id=second.id, worker_id=workers[0].id, amount=Decimal(1),
                             bank_name="x", card_number=workers[0].card_number, status=PaymentStatus.PENDING.value))
        world.flush()

    # The reconciliation figures per district.
    summary = payment_summary(world, YEAR, city_id(world))
    by_name = {line.name: line for line in summary.lines}
    assert list(by_name) == ["中山区总工会", "甘井子区总工会"]  # by unit code: 210202, 210211
    gan = by_name["甘井子区总工会"]
    assert (gan.confirmed, gan.confirmed_amount) == (4, Decimal("12000.00"))
    assert (gan.paid, gan.paid_amount) == (3, Decimal("9000.00"))
    assert (gan.withheld, gan.withheld_amount) == (1, Decimal("3000.00"))
    assert (gan.outstanding, gan.outstanding_amount) == (1, Decimal("3000.00"))
    assert (gan.failed, gan.pending) == (0, 0)
    zs = by_name["中山区总工会"]
    assert (zs.confirmed, zs.paid, zs.outstanding, zs.withheld) == (2, 2, 0, 0)
    totals = summary.totals
    assert (totals.confirmed, totals.paid, totals.paid_amount, totals.outstanding) == (6, 5, Decimal("15000.00"), 1)
    assert summary.allocated is None and summary.within_allocation is None
    assert [b.batch_number for b in summary.batches] == [first.batch_number, second.batch_number]


def test_the_summary_counts_rows_at_the_bank_and_failed_rows_and_shows_the_allocation(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 3})
    first = new_batch(world)
    summary = payment_summary(world, YEAR, city_id(world))
    assert (summary.totals.pending, summary.totals.outstanding, summary.totals.paid) == (3, 3, 0)

    failures = {first.payments[0].id: "账户冻结"}
    import_bank_result(world, user(world, "caiwu1"), first.id, result_xlsx(result_rows(first, failures)), "r.xlsx")
    instance_id = _any_instance(world)
    world.add(AidCityList(year=YEAR, city_unit_id=city_id(world), instance_id=instance_id,
                          dispatched_by_id=user(world, "shengzong_baozhang1").id, allocated_amount=Decimal("9000")))
    world.flush()

    summary = payment_summary(world, YEAR, city_id(world))
    line = summary.lines[0]
    assert (line.paid, line.failed, line.pending, line.outstanding, line.outstanding_amount) == (
        2, 1, 0, 1, Decimal("3000.00"))  # fmt: skip
    assert summary.allocated == Decimal("9000.00") and summary.within_allocation is True
    assert workers[0].id == first.payments[0].worker_id


def _any_instance(session: Session) -> int:
    """A process instance for the AidCityList row (the lead's process creates the real one)."""
    return start_report(session).id


# --- Corrections ---------------------------------------------------------------------------------------------------


@pytest.fixture
def failed(world: Session) -> tuple[Session, list[AidPayment]]:
    """A first batch in which the first two 甘井子区 workers failed."""
    confirmed_list(world, {"甘井子区": 3, "中山区": 1})
    batch = new_batch(world)
    failures = {batch.payments[0].id: "户名不符", batch.payments[1].id: "社保卡金融功能未激活"}
    import_bank_result(world, user(world, "caiwu1"), batch.id, result_xlsx(result_rows(batch, failures)), "r.xlsx")
    return world, batch.payments[:2]


@pytest.mark.parametrize(
    ("bank", "number", "field", "message"),
    [
        ("", NEW_CARD, "bank_name", "开户银行：不能为空"),
        ("中国银行", "", "card_number", "银行卡号：不能为空"),
        ("中国银行", NEW_CARD[:-1] + str((int(NEW_CARD[-1]) + 1) % 10), "card_number", "银行卡号：校验失败"),
        ("中国银行", "622202123456789", "card_number", "银行卡号：应为16至19位数字"),
        ("中国银行", "6222 0212 3456 789X", "card_number", "银行卡号：只能包含数字"),
    ],
)
def test_a_correction_is_checked_and_names_the_field(
    failed: tuple[Session, list[AidPayment]], bank: str, number: str, field: str, message: str
) -> None:
    session, payments = failed
    with pytest.raises(forms.FormValidationError) as refused:
        correct_bank_details(session, user(session, "ganjingzi1"), payments[0].id, bank, number)
    assert list(refused.value.errors) == [field] and refused.value.errors[field].startswith(message)
    assert payments[0].corrected_at is None


def test_a_correction_accepts_a_card_in_groups_of_four_and_refuses_another_worker_s_card(
    failed: tuple[Session, list[AidPayment]],
) -> None:
    session, payments = failed
    district = user(session, "ganjingzi1")
    with pytest.raises(forms.FormValidationError, match="另一名职工"):
        correct_bank_details(session, district, payments[0].id, "中国银行", payments[1].worker.card_number)
    grouped = " ".join(NEW_CARD[i : i + 4] for i in range(0, len(NEW_CARD), 4))
    correct_bank_details(session, district, payments[0].id, " 中国银行 ", grouped)
    assert payments[0].worker.card_number == NEW_CARD and payments[0].worker.bank_name == "中国银行"
    assert payments[0].corrected_by_id == district.id


def test_only_the_worker_s_own_district_corrects_and_only_once(failed: tuple[Session, list[AidPayment]]) -> None:
    session, payments = failed
    for username in ("zhongshan1", "baozhang1", "caiwu1", "shengzong_baozhang1", "admin"):
        with pytest.raises(NotFound):
            correct_bank_details(session, user(session, username), payments[0].id, "中国银行", NEW_CARD)
        with pytest.raises(NotFound):
            withhold_payment(session, user(session, username), payments[0].id, "无法联系")
    head = user(session, "ganjingzi_head")
    withhold_payment(session, head, payments[0].id, "无法联系")
    with pytest.raises(OperationRefused, match="已由他人处理"):
        correct_bank_details(session, user(session, "ganjingzi2"), payments[0].id, "中国银行", NEW_CARD)
    paid = session.scalar(select(AidPayment).where(AidPayment.status == PaymentStatus.PAID.value))
    assert paid is not None
    with pytest.raises(OperationRefused):
        withhold_payment(session, head, paid.id, "无法联系")
    with pytest.raises(NotFound):
        withhold_payment(session, head, 10**9, "无法联系")


def test_withholding_needs_a_reason(failed: tuple[Session, list[AidPayment]]) -> None:
    session, payments = failed
    with pytest.raises(forms.FormValidationError) as refused:
        withhold_payment(session, user(session, "ganjingzi1"), payments[0].id, "  ")
    assert refused.value.errors == {"reason": "暂缓发放原因：不能为空"}


def test_audit_events_carry_counts_and_ids_never_identity_or_card_numbers(
    failed: tuple[Session, list[AidPayment]],
) -> None:
    session, payments = failed
    district = user(session, "ganjingzi1")
    correct_bank_details(session, district, payments[0].id, "中国银行", NEW_CARD)
    withhold_payment(session, district, payments[1].id, "无法联系")
    events = session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("aid."))).all()
    actions = [event.action for event in events]
    assert actions == ["aid.batch_created", "aid.bank_result_imported", "aid.bank_details_corrected",
                       "aid.payment_withheld"]  # fmt: skip
    numbers = {NEW_CARD} | {w.resident_id for w in session.scalars(select(AidWorker))}
    numbers |= {w.card_number for w in session.scalars(select(AidWorker))}
    numbers |= {p.card_number for p in session.scalars(select(AidPayment))}
    for event in events:
        assert not any(number in event.payload for number in numbers), event.action
    assert json.loads(events[1].payload)["failed"] == 2


# --- The bank's result file ------------------------------------------------------------------------------------------


def test_the_result_template_filled_in_excel_imports(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2})
    batch = new_batch(world)
    workbook = openpyxl.load_workbook(io.BytesIO(result_template(batch)))
    rows = list(workbook.worksheets[0].iter_rows())
    assert tuple(cell.value for cell in rows[0]) == RESULT_COLUMNS
    assert rows[-1][0].value == "合计"
    rows[1][7].value, rows[1][9].value = "成功", beijing_today()  # a date typed into Excel is a date cell
    rows[2][7].value, rows[2][8].value = "失败", "卡号错误"
    buffer = io.BytesIO()
    workbook.save(buffer)

    outcome = import_bank_result(world, user(world, "caiwu1"), batch.id, buffer.getvalue(), "回盘.xlsx")

    assert (outcome.paid, outcome.failed) == (1, 1)
    assert [p.failure_reason for p in batch.payments] == ["", "卡号错误"]


def test_a_csv_result_imports(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2})
    batch = new_batch(world)
    data = write_csv(RESULT_COLUMNS, result_rows(batch))
    assert import_bank_result(world, user(world, "caiwu1"), batch.id, data, "回盘.csv").paid == 2


Edit = Callable[[list[list[Any]], AidBatch], None]


def _set(row: int, column: str, value: str) -> Edit:
    def edit(rows: list[list[Any]], _batch: AidBatch) -> None:
        rows[row - 2][RESULT_COLUMNS.index(column)] = value

    return edit


def _swap_ids(rows: list[list[Any]], _batch: AidBatch) -> None:
    rows[0][2], rows[1][2] = rows[1][2], rows[0][2]


def _duplicate(rows: list[list[Any]], _batch: AidBatch) -> None:
    rows[1] = list(rows[0])


def _failed_with_date(rows: list[list[Any]], _batch: AidBatch) -> None:
    rows[0][RESULT_COLUMNS.index("处理结果")], rows[0][RESULT_COLUMNS.index("失败原因")] = "失败", "账户冻结"


def _drop_second(rows: list[list[Any]], _batch: AidBatch) -> None:
    del rows[1]


YESTERDAY_OF_BATCH = (beijing_today() - timedelta(days=1)).isoformat()
TOMORROW = (beijing_today() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    ("edit", "row", "column", "message"),
    [
        (_set(2, "批次号", "210200-2017-09"), 2, "批次号", "批次号：应为本批次号 210200-2017-01"),
        (_set(2, "身份证号", "210211196201140000"), 2, "身份证号", "身份证号：本批次中没有该身份证号"),
        (_set(2, "身份证号", ""), 2, "身份证号", "身份证号：不能为空"),
        (_set(3, "姓名", "张三"), 3, "姓名", "姓名：与本批次代发清单中该身份证号的姓名不符"),
        (_set(2, "银行卡号", NEW_CARD), 2, "银行卡号", "银行卡号：与本批次代发清单中该职工的银行卡号不符"),
        (_set(2, "金额（元）", "3000.01"), 2, "金额（元）", "金额（元）：与本批次代发金额 3000.00 元不符"),
        (_set(2, "金额（元）", "3000.001"), 2, "金额（元）", "金额（元）：只能精确到分"),
        (_set(2, "金额（元）", "三千"), 2, "金额（元）", "金额（元）：应为金额数字"),
        (_set(2, "处理结果", "已退票"), 2, "处理结果", "处理结果：应为“成功”或“失败”"),
        (_set(2, "处理结果", ""), 2, "处理结果", "处理结果：不能为空"),
        (_set(2, "处理结果", "失败"), 2, "失败原因", "失败原因：处理结果为“失败”时必须填写"),
        (_set(2, "失败原因", "户名不符"), 2, "失败原因", "失败原因：处理结果为“成功”时不应填写"),
        (_set(2, "到账日期", ""), 2, "到账日期", "到账日期：处理结果为“成功”时必须填写"),
        (_set(2, "到账日期", "2017-02-30"), 2, "到账日期", "到账日期：日期不存在"),
        (_set(2, "到账日期", "下周"), 2, "到账日期", "到账日期：格式不正确"),
        (_set(2, "到账日期", TOMORROW), 2, "到账日期", "到账日期：不能晚于今天"),
        (_set(2, "到账日期", YESTERDAY_OF_BATCH), 2, "到账日期", "到账日期：不能早于批次生成日期"),
        (_swap_ids, 2, "姓名", "姓名：与本批次代发清单中该身份证号的姓名不符"),
        (_duplicate, 3, "身份证号", "身份证号：与第 2 行为同一笔代发，每笔只能有一个处理结果"),
        (_failed_with_date, 2, "到账日期", "到账日期：处理结果为“失败”时不应填写"),
        (_drop_second, 0, "", "代发清单第 2 笔（"),
    ],
)
def test_each_rule_of_the_result_file_is_named_by_row_and_column(
    world: Session, edit: Edit, row: int, column: str, message: str
) -> None:
    confirmed_list(world, {"甘井子区": 3})
    batch = new_batch(world)
    rows = result_rows(batch)
    edit(rows, batch)
    before = snapshot(world)

    with pytest.raises(ListRejected) as rejected:
        import_bank_result(world, user(world, "caiwu1"), batch.id, result_xlsx(rows), "回盘.xlsx")

    found = [(p.row, p.column) for p in rejected.value.problems if p.message.startswith(message)]
    assert (row, column) in found, rejected.value.problems
    assert snapshot(world) == before and batch.result_sha256 is None


def test_a_card_number_excel_has_rounded_is_named_by_row_and_column(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2})
    batch = new_batch(world)
    rows = result_rows(batch)
    rows[1][RESULT_COLUMNS.index("银行卡号")] = "6.22202E+18"
    with pytest.raises(ListRejected) as rejected:
        import_bank_result(world, user(world, "caiwu1"), batch.id, result_xlsx(rows), "回盘.xlsx")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(3, "银行卡号")]
    assert "科学计数法" in rejected.value.problems[0].message


def test_a_file_that_is_not_a_result_file_is_one_problem(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 1})
    batch = new_batch(world)
    with pytest.raises(ListRejected) as rejected:
        import_bank_result(world, user(world, "caiwu1"), batch.id, batch_file_xlsx(batch), "代发清单.xlsx")
    assert "缺少列" in str(rejected.value.problems[0]) and "「处理结果」" in str(rejected.value.problems[0])


def test_only_city_finance_imports_the_result(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 1})
    batch = new_batch(world)
    data = result_xlsx(result_rows(batch))
    with pytest.raises(PermissionDenied, match="财务部"):
        import_bank_result(world, user(world, "baozhang1"), batch.id, data, "r.xlsx")
    for username in ("ganjingzi1", "shengzong_baozhang1", "jingji1"):
        with pytest.raises(NotFound):
            import_bank_result(world, user(world, username), batch.id, data, "r.xlsx")
    with pytest.raises(NotFound):
        import_bank_result(world, user(world, "caiwu1"), 10**9, data, "r.xlsx")
    assert import_bank_result(world, user(world, "caiwu_head"), batch.id, data, "r.xlsx").paid == 1
