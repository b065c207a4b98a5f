"""The plan as data (issue #8): 大工办发〔2017〕28号 reproduced from seed 000, loaded all or nothing, and its
targets' progress computed from the records the linked processes write."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.aid_helpers import confirmed_list, distributed_list, review_all
from tests.studio_helpers import Clock, named_studio
from tests.test_aid_payment import new_batch, result_rows, result_xlsx
from tests.test_cli import count_rows, run
from tests.test_honour_process import close, nominate, to_notice
from tests.workflow_helpers import complete, start_report, user
from workflows.aid.payment import import_bank_result
from workflows.calendar import beijing_today
from workflows.models import HazardReport, Plan, PlanItem, PlanTarget
from workflows.organisation import unit_by_code
from workflows.plans.loading import PlanDataError, builtin_plan_files, load_plan, read_plan_file
from workflows.plans.metrics import ProgressReader, target_progress
from workflows.plans.periods import Period, PeriodError, parse_period

SEED = Path(__file__).parent / "data" / "seed_000.txt"
CHINESE_NUMERALS = "一二三四五六七八九十"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def dalian_plan(session: Session) -> Plan:
    plan = session.scalar(select(Plan).where(Plan.code == "dalian-2017-28"))
    assert plan is not None
    return plan


def item(session: Session, number: int) -> PlanItem:
    found = next(i for i in dalian_plan(session).items if i.number == number)
    return found


def plan_data() -> dict[str, Any]:
    return read_plan_file(builtin_plan_files()[0])


def test_the_plan_reproduces_seed_000_line_for_line(world: Session) -> None:
    lines = {line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()}
    plan = dalian_plan(world)
    assert {plan.document_number, plan.issuing_office} <= lines
    assert plan.issued_on == date(2017, 9, 29) and plan.issuing_unit.name == "大连市总工会"
    assert plan.title == "大连市工会贯彻落实《辽宁省总工会支持企业发展十项措施（实施细则）》责任分工方案"
    assert [m.number for m in plan.measures] == list(range(1, 11))
    assert [i.number for i in plan.items] == list(range(1, 16))
    for measure in plan.measures:
        assert f"{CHINESE_NUMERALS[measure.number - 1]}、{measure.title}" in lines
    for plan_item in plan.items:
        printed = f"{plan_item.number}. {plan_item.heading}。{plan_item.body}（责任单位：{plan_item.responsible_text}）"
        assert printed in lines, f"第{plan_item.number}项与原文不一致"
        # The structured units say the same as the printed list, in its order.
        assert [r.label for r in plan_item.responsibilities] == [
            part for chunk in plan_item.responsible_text.split("，") for part in chunk.split("、")
        ]
    assert item(world, 9).measure.number == 7 and item(world, 15).measure.number == 10


def test_responsible_units_and_linked_processes(world: Session) -> None:
    aid = item(world, 8)
    lead, *co = aid.responsibilities
    assert (lead.role, lead.label, lead.department_code, lead.org_unit_id) == (
        "lead", "市总工会生活保障部", "livelihood", dalian_plan(world).issuing_unit_id,
    )  # fmt: skip
    assert [(r.role, r.unit_group) for r in co] == [("co", "districts"), ("co", "industry")]
    publicity = item(world, 14).responsibilities
    assert [(r.role, r.department_code) for r in publicity[:2]] == [("lead", "publicity"), ("co", "econ-labour")]
    links = {i.number: [p.process_key for p in i.processes] for i in dalian_plan(world).items}
    assert links[13] == ["hazard_report"] and links[4] == ["studio_naming"] and links[5] == ["honour_nomination"]
    assert links[8] == links[9] == links[10] == ["hardship_aid"]
    assert links[1] == ["fee_remittance"] and links[12] == []


def test_loading_again_updates_in_place_and_keeps_the_items(world: Session) -> None:
    plan = dalian_plan(world)
    ids = {i.number: i.id for i in plan.items}
    data = plan_data()
    data["measures"][6]["items"][2]["targets"][0]["label"] = "援助资金发放（银行卡）"
    load_plan(world, data)
    world.expire_all()
    assert {i.number: i.id for i in dalian_plan(world).items} == ids
    assert item(world, 10).targets[0].label == "援助资金发放（银行卡）"
    assert world.scalar(select(func.count()).select_from(Plan)) == 1


def _mutated(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(plan_data())
    change(data)
    return data


def _item_data(data: dict[str, Any], number: int) -> dict[str, Any]:
    return next(i for m in data["measures"] for i in m["items"] if i["number"] == number)


BAD_FILES = {
    "unknown department": (
        lambda d: _item_data(d, 8)["responsible"][0].update(department="nosuch"),
        "第8项第1个责任单位：“大连市总工会”没有部门 'nosuch'",
    ),
    "missing text": (lambda d: _item_data(d, 3).pop("body"), "第3项：缺少“body”或不是文字"),
    "unknown metric": (
        lambda d: _item_data(d, 13)["targets"][0].update(metric="reports"),
        "第13项第1个目标：未知的统计指标 'reports'",
    ),
    "unknown parameter": (
        lambda d: _item_data(d, 10)["targets"][0].update(parameter="aid.nosuch"),
        "第10项第1个目标：政策参数 'aid.nosuch' 不存在",
    ),
    "co-unit first": (
        lambda d: _item_data(d, 2)["responsible"][0].update(role="co"),
        "第2项：第一个责任单位必须是牵头单位（lead）",
    ),
    "duplicate item": (lambda d: _item_data(d, 15).update(number=14), "第14项：编号重复"),
    "bad date": (lambda d: d.update(issued_on="2017-09-31"), "方案：issued_on 不是有效日期"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_plan_file_is_refused_naming_the_place_and_nothing_is_loaded(world: Session, case: str) -> None:
    change, message = BAD_FILES[case]
    data = _mutated(change)
    data["code"] = "dalian-2017-28-copy"  # a new plan: the refusal must leave no trace of it
    savepoint = world.begin_nested()
    with pytest.raises(PlanDataError) as refused:
        load_plan(world, data)
    savepoint.rollback()
    assert message in str(refused.value)
    assert world.scalar(select(func.count()).select_from(Plan)) == 1


def test_an_item_already_loaded_cannot_be_dropped(world: Session) -> None:
    data = _mutated(lambda d: d["measures"][9]["items"].pop())
    with pytest.raises(PlanDataError, match="第15项：已载入的事项不能从方案中删除"):
        load_plan(world, data)


def test_load_plan_command(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    good = tmp_path / "plan.json"
    good.write_text(json.dumps(plan_data(), ensure_ascii=False), encoding="utf-8")
    result = run(app, runner, "load-plan", str(good))
    assert result.exit_code == 0 and "已载入方案 大工办发〔2017〕28号：10 项措施，15 个工作事项" in result.output
    bad_data = _mutated(lambda d: _item_data(d, 15).update(heading=""))
    bad_data["code"] = "another-plan"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_data, ensure_ascii=False), encoding="utf-8")
    result = run(app, runner, "load-plan", str(bad))
    assert result.exit_code == 1 and "方案未载入：第15项：缺少“heading”或不是文字" in result.output
    assert count_rows(app, Plan) == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert "不是有效的 JSON" in run(app, runner, "load-plan", str(broken)).output


def test_periods() -> None:
    today = date(2026, 11, 21)
    assert parse_period("", today) == Period(date(2026, 1, 1), date(2026, 12, 31), "2026", "2026年")
    assert parse_period("2026-Q4", today).label == "2026年第四季度"
    assert (parse_period("2024-02", today).end, parse_period("2025-12", today).end) == (
        date(2024, 2, 29), date(2025, 12, 31),
    )  # fmt: skip
    for bad in ("2026-Q5", "2026-13", "26", "1899", "abc"):
        with pytest.raises(PeriodError, match="统计期间"):
            parse_period(bad, today)


# --- Targets from live data ----------------------------------------------------------------------------------


def progress(session: Session, number: int, position: int, period: str, scope: str = "210200") -> Any:
    target = next(t for t in item(session, number).targets if t.position == position)
    unit = unit_by_code(session, scope)
    return target_progress(
        session, target, parse_period(period, beijing_today()), unit, dalian_plan(session).issuing_unit_id
    )


def test_studios_named_and_funded_count_against_the_year_s_quota(world: Session, clock: Clock) -> None:
    studio = named_studio(world, clock, year=2018)  # 海昌 (under 甘井子区) applies for a worker studio
    worker_position = 2 if studio.studio_type == "职工创新工作室" else 1
    named = progress(world, 4, worker_position, "2018")
    assert named.value == 1
    assert named.goal.value == (50 if worker_position == 2 else 30)
    assert "大工办发〔2017〕28号 第4项" in named.goal.source
    assert progress(world, 4, 3 - worker_position, "2018").value == 0  # the other studio type
    assert progress(world, 4, worker_position, "2018", scope="210211").value == 1  # 甘井子区
    assert progress(world, 4, worker_position, "2018", scope="210204").value == 0  # 沙河口区
    assert progress(world, 4, worker_position, "2017").value == 0
    funded = progress(world, 4, 3, "2018")
    assert funded.value == studio.fundings[0].amount and funded.goal is None


def test_studio_quota_after_2020_comes_from_the_year_s_call(world: Session, clock: Clock) -> None:
    named_studio(world, clock, year=2025)
    goals = {progress(world, 4, position, "2025").goal for position in (1, 2)}
    assert all(goal is not None and "2025年度创新工作室申报通知" in goal.source for goal in goals)
    assert progress(world, 4, 1, "2030").goal is None  # no parameter and no call: no goal is invented


def test_honours_awarded(world: Session, clock: Clock) -> None:
    case = nominate(world)  # 五一劳动奖章
    to_notice(world, case)
    close(world, case, clock)
    awarded_on = clock.today + timedelta(days=1)
    complete(
        world, "jingji1", case, "award", {"document_number": "大工发〔2026〕30号", "awarded_on": awarded_on.isoformat()}
    )
    medal = progress(world, 5, 2, str(awarded_on.year))
    assert (medal.value, medal.goal.value) == (1, 30) and medal.percent == Decimal("3.3")
    assert progress(world, 5, 1, str(awarded_on.year)).value == 0  # 五一劳动奖状


def test_aid_workers_reviewed(world: Session) -> None:
    distributed_list(world, {"甘井子区": 2, "中山区": 1}, year=2019)
    review_all(world, "ganjingzi1", year=2019)
    today = beijing_today().isoformat()[:4]
    assert progress(world, 8, 1, today).value == 2
    assert progress(world, 8, 1, today, scope="210202").value == 0  # 中山区 has not reviewed yet


def test_aid_paid_to_bank_cards(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 2, "中山区": 1})  # 2017, 3,000.00 each
    batch = new_batch(world)
    payments = batch.payments
    failures = {payments[2].id: "户名不符"}
    paid_file = result_xlsx(result_rows(batch, failures))  # paid today, the day the bank answered
    import_bank_result(world, user(world, "caiwu1"), batch.id, paid_file, "回盘.xlsx")
    this_year = str(beijing_today().year)
    paid = progress(world, 10, 1, this_year)
    assert paid.value == Decimal("6000.00")  # the failed row is not counted
    assert progress(world, 10, 2, this_year).value == 2
    assert progress(world, 10, 1, this_year, scope="210202").value == 0  # 中山区's one worker failed
    assert progress(world, 10, 1, str(beijing_today().year - 1)).value == 0
    assert progress(world, 10, 1, "2018").goal.value == 50_000_000
    # The goal is in force for part of 2020 only (“连续3年” from 2017-10-01): that year still has it.
    assert progress(world, 10, 1, "2020").goal.value == 50_000_000
    assert progress(world, 10, 1, "2021").goal is None


def test_hazard_reports_verified_and_rewards_paid(world: Session) -> None:
    verified, false_report = start_report(world), start_report(world, username="shahekou1")
    for case, result in ((verified, "属实"), (false_report, "不属实")):
        report = world.scalar(select(HazardReport).where(HazardReport.instance_id == case.id))
        assert report is not None
        report.verification_result = result
        if result == "属实":
            report.reward_amount, report.reward_paid_on = Decimal("500.00"), beijing_today()
    world.flush()
    year = str(beijing_today().year)
    assert progress(world, 13, 1, year).value == 1
    assert progress(world, 13, 1, year, scope="210204").value == 0  # 沙河口区's report was not true
    rewards = progress(world, 13, 2, year)
    assert rewards.value == Decimal("500.00") and rewards.goal is None


def test_one_reader_serves_every_target_and_scope_with_one_statement_for_the_metrics(world: Session) -> None:
    """Issue #9: the dashboard reads each metric once, grouped by unit, and sums it per scope. One reader shared by
    every target and scope gives what a fresh reader per target gives (its kept groups are keyed right), and the
    hazard figures are counted by hand; the other metrics' figures are checked by the tests above."""
    for unit_code, result in (("210211-G001", "属实"), ("210211", "基本属实"), ("210204", "属实")):
        report = world.scalar(select(HazardReport).where(HazardReport.instance_id == start_report(world).id))
        assert report is not None
        report.home_unit_id = unit_by_code(world, unit_code).id  # a case at a grassroots union, a district
        report.verification_result, report.reward_amount = result, Decimal("300.10")
        report.reward_paid_on = beijing_today()
    world.flush()
    plan, period = dalian_plan(world), parse_period(str(beijing_today().year), beijing_today())
    scopes = [unit_by_code(world, code) for code in ("210200", "210211", "210204", "210202")]
    targets = [target for plan_item in plan.items for target in plan_item.targets]
    alone = {(t.id, s.id): target_progress(world, t, period, s, plan.issuing_unit_id) for t in targets for s in scopes}

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    connection = world.connection()
    event.listen(connection, "before_cursor_execute", count)
    reader = ProgressReader(world, plan.issuing_unit_id)
    together = {(t.id, s.id): reader.progress(t, period, s) for t in targets for s in scopes}
    event.remove(connection, "before_cursor_execute", count)

    assert together == alone
    # Told the page's targets, a reader loads only their goals' parameters, with the same figures.
    announced = ProgressReader(world, plan.issuing_unit_id, targets=targets)
    assert {(t.id, s.id): announced.progress(t, period, s) for t in targets for s in scopes} == alone
    assert set(announced.parameters[(period.year, True)]) <= {t.parameter_key for t in targets}
    assert alone[(targets_of(plan, "hazard_reports_verified").id, scopes[0].id)].value == 3
    # A count read in one statement with money sums stays a count (SQLite types the union by its first member).
    assert str(alone[(targets_of(plan, "hazard_reports_verified").id, scopes[0].id)].value) == "3"
    assert alone[(targets_of(plan, "hazard_reports_verified").id, scopes[1].id)].value == 2  # 甘井子区 and below it
    assert alone[(targets_of(plan, "hazard_rewards_paid").id, scopes[2].id)].value == Decimal("300.10")  # 沙河口区
    assert alone[(targets_of(plan, "hazard_rewards_paid").id, scopes[3].id)].value == Decimal("0.00")  # 中山区
    assert len({t.metric for t in targets if t.metric}) == 8
    # every metric in one statement, the parameters once, the year's studio call once, each scope's subtree once
    assert len(statements) == 1 + 1 + 1 + len(scopes)


def targets_of(plan: Plan, metric: str) -> PlanTarget:
    return next(t for plan_item in plan.items for t in plan_item.targets if t.metric == metric)


def test_a_target_without_a_data_source_shows_its_goal_and_no_figure(world: Session) -> None:
    hardship = progress(world, 11, 1, "2018")
    assert hardship.value is None and hardship.goal.value == 130_000_000
    target: PlanTarget = hardship.target
    assert "暂无数据来源" in target.note
