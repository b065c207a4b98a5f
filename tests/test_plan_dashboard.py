"""The plan dashboard and 催办 of a unit (issue #8 "Dashboard for department heads"): responsible rows, lights at
their boundaries, counts per row from real cases, completions by period, supervised matters, who may urge whom.

Cases are started and moved through the real processes on the seeded `world`; only due dates and completion times
are moved, to put them exactly on a boundary. Supervised matters are written as rows (tests/plan_helpers.py): the
dashboard reads the task index and the matter table, not the supervision diagram.
"""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.plan_helpers import (
    NOW,
    beijing,
    dashboard,
    demo_plan,
    item_figures,
    period,
    plan_item,
    row_figures,
    supervised_matter,
    unit,
)
from tests.studio_helpers import apply, open_studio_call
from tests.workflow_helpers import HAZARD_STEPS_TO_REWARD, complete, open_task, start_report, user
from workflows.audit import verify_chain
from workflows.errors import OperationRefused, PermissionDenied
from workflows.inbox import Light, due_light, near_due_limit
from workflows.models import AuditEvent, Notification, NotificationKind, PlanUrge, UnitKind
from workflows.organisation import create_user
from workflows.plans.drilldown import row_cases, row_tasks
from workflows.plans.responsibility import Standing, my_item_ids, plan_access, plan_items, responsible_rows
from workflows.plans.tally import recount_tallies
from workflows.plans.urging import urge_unit

GANJINGZI, SHAHEKOU = "210211", "210204"


def test_rows_expand_departments_and_groups(world: Session) -> None:
    plan = demo_plan(world)
    rows = responsible_rows(world, plan, plan_items(world, plan))
    item_14 = rows[plan_item(world, 14).id]
    lead, co = item_14[0], item_14[1]
    assert (lead.label, lead.role_label, lead.department_code) == ("大连市总工会宣传教育部", "牵头", "publicity")
    assert (co.label, co.role_label) == ("大连市总工会经济技术和劳动保护部", "配合")
    groups = {row.group for row in item_14[2:]}
    assert groups == {"districts", "industry"}
    districts = [row for row in item_14 if row.group == "districts"]
    kinds = {row.org_unit.kind for row in districts}
    assert kinds <= {UnitKind.DISTRICT, UnitKind.COUNTY, UnitKind.COUNTY_CITY, UnitKind.PILOT_ZONE}
    assert {"甘井子区总工会", "金普新区总工会", "长海县总工会"} <= {row.label for row in districts}
    assert next(row.label for row in item_14 if row.group == "industry") == "大连市建设工会"
    assert all(row.covers_subtree and row.role_label == "配合" for row in item_14[2:])
    # Items 1–3 name 财务部 and the districts only: no industry unions.
    assert {row.group for row in rows[plan_item(world, 1).id]} == {None, "districts"}


def test_lights_at_the_boundaries(world: Session) -> None:
    """Due today and due at the end of the yellow window (two working days) are yellow; one working day later is
    green; overdue by one day is red. The row's light is its worst task's."""
    cases = [start_report(world, location=f"{n}号车间配电箱") for n in range(4)]
    today, window_end, beyond, overdue = (open_task(world, case, "register_report") for case in cases)
    today.due_at = beijing(date(2026, 11, 18))  # NOW is Wednesday 2026-11-18 10:00
    window_end.due_at = beijing(date(2026, 11, 20))  # the second working day after today
    beyond.due_at = beijing(date(2026, 11, 23))  # Monday: one working day beyond the window
    overdue.due_at = beijing(date(2026, 11, 17))
    world.flush()
    near = near_due_limit(NOW)
    assert [due_light(e.due_at, NOW, near) for e in (today, window_end, beyond, overdue)] == [
        Light.YELLOW, Light.YELLOW, Light.GREEN, Light.RED]  # fmt: skip

    row = row_figures(dashboard(world), 13, GANJINGZI)
    assert (row.figures.open_tasks, row.figures.overdue, row.figures.due_soon) == (4, 1, 2)
    assert row.figures.light == Light.RED
    plan_row = next(r.row for r in item_figures(dashboard(world), 13).rows if r.row.org_unit.code == GANJINGZI)
    tasks, total = row_tasks(world, plan_item(world, 13), plan_row, now=NOW, near_limit=near)
    assert total == 4
    assert [t.light for t in tasks] == [Light.RED, Light.YELLOW, Light.YELLOW, Light.GREEN]  # the most urgent first

    overdue.due_at = beijing(date(2026, 11, 23))
    world.flush()
    row = row_figures(dashboard(world), 13, GANJINGZI)
    assert (row.figures.overdue, row.figures.due_soon, row.figures.light) == (0, 2, Light.YELLOW)
    # A holiday entered in the administrators' table moves the window: Monday becomes the window's last day.
    row = row_figures(dashboard(world, overrides={date(2026, 11, 19): False}), 13, GANJINGZI)
    assert (row.figures.due_soon, row.figures.light) == (4, Light.YELLOW)
    today.due_at = window_end.due_at = beijing(date(2026, 11, 30))
    world.flush()
    row = row_figures(dashboard(world), 13, GANJINGZI)
    assert (row.figures.open_tasks, row.figures.due_soon, row.figures.light) == (4, 0, Light.GREEN)


def test_counts_per_row_department_district_and_supervision(world: Session) -> None:
    """A district's task counts for its row, the city triage for the lead department, a grassroots union's task for
    its district; supervised matters of the item count as the item's cases."""
    start_report(world, location="一号车间")
    at_city = start_report(world, location="二号车间")
    complete(world, "ganjingzi1", at_city, "register_report", HAZARD_STEPS_TO_REWARD[0][2])
    assert open_task(world, at_city, "triage").department_code == "econ-labour"
    open_studio_call(world)
    returned = apply(world)
    complete(world, "ganjingzi1", returned, "district_recommend", {"decision": "退回修改", "opinion": "请补充材料。"})
    assert open_task(world, returned, "revise").org_unit.code == "210211-G001"  # the grassroots union under 甘井子区
    supervised_matter(world, plan_item(world, 11))  # 生活保障部 leads item 11, which has no process
    supervised_matter(world, plan_item(world, 13), unit_code=GANJINGZI, department=None, title="隐患整改督办")
    supervised_matter(world, None, title="与方案无关的督办")

    board = dashboard(world)
    lead_13 = row_figures(board, 13, "210200", "econ-labour")
    assert lead_13.figures.open_tasks == 1  # the triage
    assert row_figures(board, 13, GANJINGZI).figures.open_tasks == 2  # registration and the supervised matter
    assert row_figures(board, 13, SHAHEKOU).figures.open_tasks == 0
    item_13 = item_figures(board, 13)
    assert (item_13.totals.open_tasks, item_13.other.open_tasks, item_13.supervised) == (3, 0, 1)
    assert row_figures(board, 4, GANJINGZI).figures.open_tasks == 1  # the grassroots union's 补正
    assert row_figures(board, 4, "210200", "econ-labour").figures.open_tasks == 0
    assert item_figures(board, 4).totals.open_tasks == 1
    assert row_figures(board, 11, "210200", "livelihood").figures.open_tasks == 1
    assert item_figures(board, 12).totals.open_tasks == 0  # no process, no matter

    # A district's own view: its row's figures are the item's; other rows are not there.
    own = dashboard(world, own_unit_id=unit(world, GANJINGZI).id)
    assert [r.row.org_unit.code for r in item_figures(own, 13).rows] == [GANJINGZI]
    assert item_figures(own, 13).totals.open_tasks == 2
    # ...equal to that row's in the whole plan's view, item by item (the district's view reads only its subtree).
    assert [(f.item.number, f.totals) for f in own.items] == [
        (f.item.number, row_figures(board, f.item.number, GANJINGZI).figures) for f in board.items
    ]


def test_completed_cases_count_in_their_period_only(world: Session) -> None:
    open_studio_call(world)
    case = apply(world, "xinghai_gonghui", enterprise_uscc="91210204MA0TEN001X", studio_name="钱丽萍职工创新工作室",
                 studio_type="职工创新工作室", lead_honour="无")  # fmt: skip
    complete(world, "shahekou1", case, "district_recommend", {"decision": "不予推荐", "opinion": "条件不具备。"})
    assert case.status == "completed"
    # Completion is final: moving it in time rewrites history, so the dashboard's tally is recounted (issue #9).
    case.completed_at = beijing(date(2026, 3, 31))  # the last second of the first quarter
    recount_tallies(world)
    q1, q2 = dashboard(world, "2026-Q1"), dashboard(world, "2026-Q2")
    assert row_figures(q1, 4, SHAHEKOU).figures.completed_cases == 1
    assert item_figures(q1, 4).totals.completed_cases == 1
    assert row_figures(q1, 4, GANJINGZI).figures.completed_cases == 0
    assert row_figures(q2, 4, SHAHEKOU).figures.completed_cases == 0
    own_q1 = {code: dashboard(world, "2026-Q1", own_unit_id=unit(world, code).id) for code in (SHAHEKOU, GANJINGZI)}
    assert item_figures(own_q1[SHAHEKOU], 4).totals.completed_cases == 1  # a district's own view
    assert item_figures(own_q1[GANJINGZI], 4).totals.completed_cases == 0
    plan_row = next(r.row for r in item_figures(q1, 4).rows if r.row.org_unit.code == SHAHEKOU)
    assert [c.case.id for c in row_cases(world, plan_item(world, 4), plan_row, period("2026-Q1"))[0]] == [case.id]
    assert row_cases(world, plan_item(world, 4), plan_row, period("2026-Q2")) == ([], 0)
    case.completed_at = beijing(date(2026, 4, 1), time(0, 0))  # the first second of the second quarter
    recount_tallies(world)
    assert row_figures(dashboard(world, "2026-Q2"), 4, SHAHEKOU).figures.completed_cases == 1
    assert row_figures(dashboard(world, "2026-Q1"), 4, SHAHEKOU).figures.completed_cases == 0


def test_my_items_and_who_sees_the_plan(world: Session) -> None:
    plan = demo_plan(world)
    rows = responsible_rows(world, plan, plan_items(world, plan))
    numbers = {item.id: item.number for item in plan_items(world, plan)}

    def mine(username: str) -> list[int]:
        return sorted(numbers[item_id] for item_id in my_item_ids(user(world, username), rows))

    assert mine("jingji_head") == [4, 5, 6, 7, 12, 13, 14]
    assert mine("baozhang_head") == [8, 9, 10, 11]
    assert mine("caiwu1") == [1, 2, 3]
    assert mine("ganjingzi1") == list(range(1, 16))  # every item names the districts
    assert mine("jianshe1") == list(range(4, 16))  # the industry unions from item 4 on
    standings = {name: plan_access(user(world, name), plan) for name in
                 ("jingji_head", "admin", "ganjingzi1", "jianshe1", "shengzong_baozhang1", "haichang_gonghui",
                  "zhuanjia1")}  # fmt: skip
    assert {name: access.standing if access else None for name, access in standings.items()} == {
        "jingji_head": Standing.PLAN_UNIT, "admin": Standing.PLAN_UNIT, "ganjingzi1": Standing.DISTRICT,
        "jianshe1": Standing.DISTRICT, "shengzong_baozhang1": Standing.PROVINCE, "haichang_gonghui": None,
        "zhuanjia1": None,
    }  # fmt: skip


def test_urge_a_unit_notifies_it_and_counts_on_the_item(world: Session) -> None:
    item = plan_item(world, 13)
    head = user(world, "jingji_head")
    ganjingzi = unit(world, GANJINGZI)
    result = urge_unit(world, head, item, ganjingzi.id, None, "请于本周内完成隐患登记。", now=NOW)
    assert (result.row.label, result.notified) == ("甘井子区总工会", 3)
    urge = world.scalar(select(PlanUrge).where(PlanUrge.item_id == item.id))
    assert urge is not None and (urge.sender_name, urge.message) == ("张志强", "请于本周内完成隐患登记。")
    told = world.scalars(select(Notification).where(Notification.plan_item_id == item.id)).all()
    assert sorted(n.recipient_id for n in told) == sorted(
        user(world, name).id for name in ("ganjingzi1", "ganjingzi2", "ganjingzi_head"))  # fmt: skip
    assert head.id not in {n.recipient_id for n in told}
    first = told[0]
    assert first.kind == NotificationKind.URGED
    assert first.title.startswith("催办：第13项 深入开展")
    assert "请于本周内完成隐患登记。" in first.body and "张志强" in first.body
    event = world.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and (event.action, event.object_id) == ("plan.urged", str(item.id))
    assert verify_chain(world).ok

    with pytest.raises(OperationRefused, match="请勿频繁催办"):
        urge_unit(world, head, item, ganjingzi.id, None, now=NOW + timedelta(hours=23))
    urge_unit(world, head, item, ganjingzi.id, None, now=NOW + timedelta(hours=25))
    urge_unit(world, head, item, unit(world, SHAHEKOU).id, None, now=NOW)  # another unit: no limit
    row = row_figures(dashboard(world, now=NOW + timedelta(days=2)), 13, GANJINGZI)
    assert row.figures.urges == 2 and row.figures.last_urge_at == NOW + timedelta(hours=25)
    assert item_figures(dashboard(world, now=NOW + timedelta(days=2)), 13).totals.urges == 3
    assert item_figures(dashboard(world, "2025"), 13).totals.urges == 0  # urges count in their period


def test_who_may_urge_whom(world: Session) -> None:
    item = plan_item(world, 13)
    ganjingzi = unit(world, GANJINGZI).id
    city = unit(world, "210200").id
    for name in ("jingji1", "caiwu_head", "ganjingzi_head", "shengzong_baozhang_head", "admin"):
        with pytest.raises(PermissionDenied, match="负责人"):
            urge_unit(world, user(world, name), item, ganjingzi, None, now=NOW)
    head = user(world, "jingji_head")
    with pytest.raises(FormValidationError, match="本部门"):
        urge_unit(world, head, item, city, "econ-labour", now=NOW)
    with pytest.raises(FormValidationError, match="不是第13项的责任单位"):
        urge_unit(world, head, item, unit(world, "210211-G001").id, None, now=NOW)
    with pytest.raises(FormValidationError, match="不能超过 500 字"):
        urge_unit(world, head, item, ganjingzi, None, "催" * 501, now=NOW)
    assert world.scalar(select(PlanUrge.id)) is None
    # The office (督查) may urge on any item, its lead department included.
    office_head = create_user(world, "bangong_head_t", "demo12345", "210200", "office", "head", "黄主任")
    assert urge_unit(world, office_head, item, city, "econ-labour", now=NOW).notified == 3
    # A co-department's head may urge the lead department (item 14: 经技部 co-operates with 宣传教育部).
    assert urge_unit(world, head, plan_item(world, 14), city, "publicity", now=NOW).notified == 1
