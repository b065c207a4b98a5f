"""The hardship-aid case (`hardship_aid`, issue #6 steps 1–6): from the province's dispatch to the allocation.

One case per city and year; each district's review is an instance of one step routed to that district, and
completes only when every one of its workers has a conclusion. The province confirms or returns chosen rows; the
amounts follow the policy parameters; an allocation beyond the province's annual fund is refused with the figures.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.aid_helpers import (
    DALIAN,
    YEAR,
    complete_unit_step,
    dispatched_case,
    distributed_list,
    imported_list,
    review_all,
    unit_task,
)
from tests.workflow_helpers import complete, open_steps, user
from workflows.aid.process import aid_amount, dispatch_aid_list, rules_date
from workflows.aid.review import ReviewInput, record_review, review_history
from workflows.errors import OperationRefused
from workflows.models import AidCityList, AidWorker, ProcessInstance, TaskIndexEntry, TaskStatus
from workflows.policy.aid import internal_retirement_aid_table
from workflows.rollback import return_targets

COUNTS = {"甘井子区": 4, "中山区": 2}
OPINION = "经审核，同意上报。"


def reviewed_and_consolidated(world: Session) -> tuple[ProcessInstance, list[AidWorker]]:
    case, workers = distributed_list(world, COUNTS)
    for username in ("ganjingzi1", "zhongshan1"):
        review_all(world, username)
        complete_unit_step(world, username, case, "district_review")
    complete(world, "baozhang1", case, "consolidate", {"document_number": "大工发〔2017〕9号", "opinion": OPINION})
    return case, workers


def confirm(world: Session, case: ProcessInstance) -> None:
    complete(world, "shengzong_baozhang1", case, "province_confirm", {"decision": "确认", "opinion": "同意。"})


def test_the_province_dispatches_one_case_per_city_and_each_district_gets_its_own_step(world: Session) -> None:
    imported_list(world, COUNTS)
    case = dispatched_case(world)
    assert case.home_unit.code == DALIAN and case.case_number.startswith("YZ-")
    assert world.scalar(select(AidCityList).where(AidCityList.instance_id == case.id)).year == YEAR  # type: ignore[union-attr]
    assert open_steps(world, case) == ["distribute"]
    # A second dispatch of the same year starts nothing new.
    assert dispatch_aid_list(world, user(world, "shengzong_baozhang1"), YEAR) == []

    complete(world, "baozhang1", case, "distribute", {"review_deadline": "2099-12-31", "opinion": OPINION})

    reviews = world.scalars(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "district_review")
    ).all()
    assert sorted(entry.org_unit.name for entry in reviews) == ["中山区总工会", "甘井子区总工会"]
    assert all(entry.due_at is not None and entry.due_at.year == 2099 for entry in reviews)


def test_only_the_provincial_livelihood_department_dispatches(world: Session) -> None:
    imported_list(world, COUNTS)
    with pytest.raises(FormValidationError):
        dispatch_aid_list(world, user(world, "baozhang1"), YEAR)


def test_a_district_that_has_not_finished_cannot_submit_and_the_city_cannot_consolidate(world: Session) -> None:
    case, workers = distributed_list(world, COUNTS)
    official = user(world, "ganjingzi1")
    mine = [w.id for w in workers if w.district_unit_id == official.org_unit_id]
    record_review(world, official, YEAR, mine[:2], ReviewInput("符合"))

    with pytest.raises(FormValidationError) as refused:
        complete_unit_step(world, "ganjingzi1", case, "district_review")
    assert "还有 2 名职工没有审查结论" in refused.value.errors["opinion"]

    review_all(world, "ganjingzi1")
    complete_unit_step(world, "ganjingzi1", case, "district_review")
    # 中山区 has not submitted: the city has nothing to consolidate yet.
    assert open_steps(world, case) == ["district_review"]
    # 甘井子区 submitted: its conclusions are closed.
    with pytest.raises(OperationRefused):
        record_review(world, official, YEAR, mine[:1], ReviewInput("不符合", "已再就业"))


def test_reviews_wait_for_the_city_to_distribute(world: Session) -> None:
    workers = imported_list(world, COUNTS)
    dispatched_case(world)
    with pytest.raises(OperationRefused):
        record_review(world, user(world, "ganjingzi1"), YEAR, [workers[0].id], ReviewInput("符合"))


def test_returned_rows_go_back_to_their_district_only_and_the_rest_stay(world: Session) -> None:
    case, workers = reviewed_and_consolidated(world)
    returned = next(w for w in workers if w.district == "中山区")
    kept = [w for w in workers if w is not returned]

    complete(
        world, "shengzong_baozhang1", case, "province_confirm",
        {"decision": "退回部分人员", "returned_rows": f"{returned.row_number}", "return_reason": "请核实再就业情况",
         "opinion": "部分人员退回重审。"},
    )  # fmt: skip

    assert open_steps(world, case) == ["district_review"]
    assert unit_task(world, case, "district_review", "zhongshan1")
    assert returned.review_conclusion is None and returned.returned_reason == "请核实再就业情况"
    assert all(w.review_conclusion == "符合" for w in kept)
    assert [r.conclusion for r in review_history(world, returned)] == ["符合", "退回"]
    # Only the returned row's district may change conclusions now.
    with pytest.raises(OperationRefused):
        record_review(world, user(world, "ganjingzi1"), YEAR, [kept[0].id], ReviewInput("不符合", "x"))

    found_again = ReviewInput("不符合", "已再就业", "2017-05-02")
    record_review(world, user(world, "zhongshan1"), YEAR, [returned.id], found_again)
    complete_unit_step(world, "zhongshan1", case, "district_review")
    complete(world, "baozhang1", case, "consolidate", {"opinion": OPINION})
    confirm(world, case)

    assert returned.confirmed_at is None and returned.aid_amount is None
    assert all(w.confirmed_at is not None and w.aid_amount == Decimal("2000.00") for w in kept)


def test_unknown_returned_rows_are_named(world: Session) -> None:
    case, _ = reviewed_and_consolidated(world)
    with pytest.raises(FormValidationError) as refused:
        complete(
            world, "shengzong_baozhang1", case, "province_confirm",
            {"decision": "退回部分人员", "returned_rows": "2, 999", "return_reason": "核实", "opinion": "退回。"},
        )  # fmt: skip
    assert refused.value.errors["returned_rows"] == "退回人员：第 999 行不在本市名单中"


def test_confirmation_computes_amounts_and_the_allocation_must_match_them(world: Session) -> None:
    case, workers = reviewed_and_consolidated(world)
    confirm(world, case)
    task_data = {"allocation_document": "辽工发〔2017〕30号", "allocated_on": "2017-12-01", "opinion": "拨付。"}
    total = sum((w.aid_amount or Decimal(0) for w in workers), Decimal(0))
    assert total == Decimal("12000.00")  # six 内退 workers, each 7 months in 内退 by the end of 2017: 2,000 yuan

    with pytest.raises(FormValidationError) as refused:
        complete(world, "shengzong_baozhang1", case, "allocate", {**task_data, "amount": "11999.99"})
    assert "12,000.00" in refused.value.errors["amount"]

    complete(world, "shengzong_baozhang1", case, "allocate", {**task_data, "amount": "12000.00"})
    city_list = world.scalar(select(AidCityList).where(AidCityList.instance_id == case.id))
    assert city_list is not None and city_list.allocated_amount == Decimal("12000.00")
    assert open_steps(world, case) == ["prepare_payment"]


def test_an_allocation_beyond_the_annual_fund_is_refused_with_the_figures(world: Session) -> None:
    case, _ = distributed_list(world, {**COUNTS, "沈阳市·和平区": 1})
    for username in ("ganjingzi1", "zhongshan1"):
        review_all(world, username)
        complete_unit_step(world, username, case, "district_review")
    complete(world, "baozhang1", case, "consolidate", {"opinion": OPINION})
    confirm(world, case)
    shenyang = world.scalar(select(AidCityList).where(AidCityList.instance_id != case.id))
    assert shenyang is not None and shenyang.city_unit.name == "沈阳市总工会"
    shenyang.allocated_amount = Decimal("49990000.00")
    with pytest.raises(FormValidationError) as refused:
        complete(
            world, "shengzong_baozhang1", case, "allocate",
            {"allocation_document": "辽工发〔2017〕30号", "allocated_on": "2017-12-01", "amount": "12000.00",
             "opinion": "拨付。"},
        )  # fmt: skip
    assert refused.value.errors["amount"] == (
        "拨付金额：2017 年度已拨付 49,990,000.00 元，本次 12,000.00 元，合计 50,002,000.00 元，"
        "超过省总去产能专项援助资金 50,000,000.00 元"
    )


def test_no_return_or_withdrawal_undoes_a_confirmation(world: Session) -> None:
    case, _ = reviewed_and_consolidated(world)
    confirm(world, case)
    from workflows.engine.runtime import load_workflow

    workflow = load_workflow(case)
    [allocate] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "allocate" and t.state == TaskState.READY]
    assert [t.task_spec.bpmn_id for t in return_targets(allocate)] == []
    assert world.scalar(
        select(TaskIndexEntry.status).where(
            TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "province_confirm"
        )
    ) == TaskStatus.COMPLETED.value


def test_amount_rules(world: Session) -> None:
    workers = imported_list(world, {"甘井子区": 1})
    table = internal_retirement_aid_table(world, rules_date(world, YEAR))
    worker = workers[0]
    assert aid_amount(worker, YEAR, table, Decimal("3000")) == Decimal("2000.00")  # 内退 2017-06-01: 6 months
    assert aid_amount(worker, 2019, table, Decimal("3000")) == Decimal("3000.00")  # 2 years 6 months
    assert aid_amount(worker, 2021, table, Decimal("3000")) == Decimal("4000.00")  # 4 years 6 months
    worker.placement_type, worker.internal_retirement_start = "买断解除劳动关系", None
    from datetime import date

    worker.ui_benefit_start, worker.ui_benefit_end = date(2017, 3, 15), date(2019, 3, 14)
    assert aid_amount(worker, YEAR, table, Decimal("3000")) == Decimal("2500.00")  # March to December: 10 months
    worker.reemployed_on = date(2017, 7, 1)
    assert aid_amount(worker, YEAR, table, Decimal("3000")) == Decimal("1000.00")  # March to June
    assert aid_amount(worker, 2018, table, Decimal("3000")) == Decimal("0.00")


def test_the_summary_carries_the_city_s_consolidation_opinion(world: Session) -> None:
    from webapp.aid_documents import consolidation_opinion

    case, _ = reviewed_and_consolidated(world)
    assert consolidation_opinion(world, case.home_unit, YEAR) == OPINION
    assert consolidation_opinion(world, case.home_unit, YEAR + 1) == ""
