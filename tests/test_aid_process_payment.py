"""The hardship-aid case from allocation to archive (issue #6 steps 6–8): bank payment, failures corrected by the
districts, a follow-up batch of only the corrected rows, reconciliation, archive; never paid twice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.aid_helpers import YEAR, complete_unit_step, unit_task
from tests.test_aid_payment import result_rows, result_xlsx
from tests.test_aid_process import confirm, reviewed_and_consolidated
from tests.test_aid_validation import card
from tests.workflow_helpers import complete, open_steps, user
from workflows.aid.payment import correct_bank_details, failed_rows, import_bank_result, withhold_payment
from workflows.models import AidBatch, AidPayment, AidWorker, InstanceStatus, PaymentStatus, ProcessInstance

OPINION = "已办理。"
NEW_CARD = card("621700123456789012")


def allocated(world: Session) -> tuple[ProcessInstance, list[AidWorker]]:
    case, workers = reviewed_and_consolidated(world)
    confirm(world, case)
    complete(
        world, "shengzong_baozhang1", case, "allocate",
        {"allocation_document": "辽工发〔2017〕30号", "allocated_on": "2017-12-01", "amount": "12000.00",
         "opinion": "拨付。"},
    )  # fmt: skip
    return case, workers


def latest_batch(world: Session) -> AidBatch:
    batch = world.scalar(select(AidBatch).order_by(AidBatch.sequence.desc()).limit(1))
    assert batch is not None
    return batch


def test_a_failed_payment_is_corrected_by_its_district_and_only_that_row_is_paid_again(world: Session) -> None:
    case, _ = allocated(world)
    complete(world, "baozhang1", case, "prepare_payment", {"opinion": OPINION})
    first = latest_batch(world)
    assert (first.row_count, first.total) == (6, Decimal("12000.00"))

    # The finance department cannot report the bank's answer before importing it.
    with pytest.raises(FormValidationError) as early:
        complete(world, "caiwu1", case, "bank_result", {"opinion": OPINION})
    assert early.value.errors["opinion"] == "请先导入银行回盘文件，再提交本环节"

    ganjingzi = next(p for p in first.payments if p.worker.district == "甘井子区")
    zhongshan = next(p for p in first.payments if p.worker.district == "中山区")
    answer = result_xlsx(result_rows(first, {ganjingzi.id: "户名不符", zhongshan.id: "账户已销户"}))
    import_bank_result(world, user(world, "caiwu1"), first.id, answer, "回盘.xlsx")
    again = import_bank_result(world, user(world, "caiwu1"), first.id, answer, "回盘.xlsx")
    assert again.already_imported
    complete(world, "caiwu1", case, "bank_result", {"opinion": OPINION})

    assert sorted(e for e in open_steps(world, case)) == ["correct_bank", "correct_bank"]
    with pytest.raises(FormValidationError):
        complete_unit_step(world, "ganjingzi1", case, "correct_bank", OPINION)
    [failed] = failed_rows(world, user(world, "ganjingzi1"), YEAR)
    correct_bank_details(world, user(world, "ganjingzi1"), failed.id, "中国建设银行大连分行", NEW_CARD)
    complete_unit_step(world, "ganjingzi1", case, "correct_bank", OPINION)
    [closed] = failed_rows(world, user(world, "zhongshan1"), YEAR)
    withhold_payment(world, user(world, "zhongshan1"), closed.id, "职工已去世，待核实继承人")
    complete_unit_step(world, "zhongshan1", case, "correct_bank", OPINION)

    # Something is left to pay: a follow-up batch of the corrected row only, with its new card.
    complete(world, "baozhang1", case, "prepare_payment", {"opinion": OPINION})
    second = latest_batch(world)
    assert second.sequence == 2 and [(p.worker_id, p.card_number) for p in second.payments] == [
        (ganjingzi.worker_id, NEW_CARD)
    ]
    import_bank_result(world, user(world, "caiwu1"), second.id, result_xlsx(result_rows(second)), "回盘2.xlsx")
    complete(world, "caiwu1", case, "bank_result", {"opinion": OPINION})
    assert open_steps(world, case) == ["reconcile"]
    complete(world, "baozhang1", case, "reconcile", {"opinion": OPINION})
    complete(world, "shengzong_baozhang1", case, "province_archive", {"opinion": "归档。"})

    assert case.status == InstanceStatus.COMPLETED.value
    paid = world.scalars(select(AidPayment).where(AidPayment.status == PaymentStatus.PAID.value)).all()
    assert len(paid) == 5 and len({p.worker_id for p in paid}) == 5
    assert world.scalar(select(func.count()).select_from(AidPayment)) == 7


def test_when_every_failed_row_is_withheld_the_city_goes_on_to_reconcile(world: Session) -> None:
    case, _ = allocated(world)
    complete(world, "baozhang1", case, "prepare_payment", {"opinion": OPINION})
    batch = latest_batch(world)
    failure = next(p for p in batch.payments if p.worker.district == "中山区")
    answer = result_xlsx(result_rows(batch, {failure.id: "账户冻结"}))
    import_bank_result(world, user(world, "caiwu1"), batch.id, answer, "回盘.xlsx")
    complete(world, "caiwu1", case, "bank_result", {"opinion": OPINION})
    assert unit_task(world, case, "correct_bank", "zhongshan1")
    withhold_payment(world, user(world, "zhongshan1"), failure.id, "账户冻结，职工暂无其他银行卡")
    complete_unit_step(world, "zhongshan1", case, "correct_bank", OPINION)
    assert open_steps(world, case) == ["reconcile"]
