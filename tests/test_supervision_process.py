"""The supervision process (督办事项, issue 8) through every branch, its checks, its escalation and its ledger."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.supervision_helpers import (
    HEAD,
    assign,
    co_report,
    co_task,
    in_days,
    item_of,
    plan_item,
    register,
    report,
    sign,
    verify,
)
from tests.workflow_helpers import complete, open_steps, open_task, user
from workflows.calendar import SHANGHAI, add_working_days, beijing_today
from workflows.engine.runtime import load_workflow
from workflows.errors import NotFound, PermissionDenied, TaskAlreadyClaimed
from workflows.inbox import Light, near_due_limit
from workflows.integrity import check_instance
from workflows.models import InstanceStatus, Notification, NotificationKind, SupervisionStatus
from workflows.operations import complete_task
from workflows.rollback import return_targets, return_task
from workflows.routing import load_routing
from workflows.steps import engine_task
from workflows.supervision.escalation import escalate_overdue_items
from workflows.supervision.ledger import LedgerFilter, ledger_rows


def feedback_kinds(world: Session, case) -> list[str]:  # type: ignore[no-untyped-def]
    return [feedback.kind for feedback in item_of(world, case).feedback]


def test_not_assigned_ends_the_matter_as_withdrawn(world: Session) -> None:
    case = register(world)
    item = item_of(world, case)
    assert (case.case_number or "").startswith("DB-") and case.title == "落实困难职工帮扶资金发放"
    assert (item.source, item.assigning_department_code, item.status) == ("领导批示", "econ-labour", "registered")
    assert item.assigning_head_id == user(world, HEAD).id
    entry = open_task(world, case, "assign")
    # The head holds 交办 by name; the due period is the configurable default counted from 立项.
    assert entry.assigned_to_id == user(world, HEAD).id and entry.department_code == "econ-labour"
    ready = entry.ready_at.astimezone(SHANGHAI).date()
    assert entry.due_at is not None and entry.due_at.astimezone(SHANGHAI).date() == add_working_days(ready, 2)
    assign(world, case, "不予交办")
    assert open_steps(world, case) == [] and case.status == InstanceStatus.COMPLETED
    assert item.status == SupervisionStatus.WITHDRAWN and item.assigned_at is None


def test_assigned_signed_reported_twice_completed_and_closed_without_co_units(world: Session) -> None:
    case = register(world)
    item = item_of(world, case)
    moved = in_days(45)
    assign(world, case, deadline=moved)
    # Zero co-units: the co-unit branch has nothing to wait for.
    assert open_steps(world, case) == ["sign"]
    assert item.status == SupervisionStatus.ASSIGNED and item.assigned_at is not None
    assert item.deadline is not None and item.deadline.isoformat() == moved
    sign_task = open_task(world, case, "sign")
    assert (sign_task.org_unit.code, sign_task.department_code) == ("210211", None)
    sign(world, case)
    assert item.status == SupervisionStatus.IN_PROGRESS and item.signed_at is not None
    assert item.units[0].signed_at is not None
    handle = open_task(world, case, "handle")
    assert handle.due_at is not None and handle.due_at.astimezone(SHANGHAI).date().isoformat() == moved
    report(world, case)
    report(world, case, username="ganjingzi2")
    assert open_steps(world, case) == ["handle"] and item.status == SupervisionStatus.IN_PROGRESS
    report(world, case, "办结报告")
    assert open_steps(world, case) == ["verify"]
    assert item.status == SupervisionStatus.REPORTED and item.reported_at is not None
    assert open_task(world, case, "verify").assigned_to_id == user(world, HEAD).id
    verify(world, case)
    assert case.status == InstanceStatus.COMPLETED
    assert item.status == SupervisionStatus.CLOSED and item.closed_at is not None
    assert feedback_kinds(world, case) == ["progress", "progress", "completion"]
    assert [feedback.author_name for feedback in item.feedback][:2] == ["马晓东", "朱丽"]


def test_a_completion_report_needs_a_progress_report_first(world: Session) -> None:
    case = register(world)
    assign(world, case)
    sign(world, case)
    with pytest.raises(FormValidationError) as refused:
        report(world, case, "办结报告")
    assert refused.value.errors["report_kind"].startswith("反馈类型：报送办结报告前至少要有一次进展反馈")
    assert open_steps(world, case) == ["handle"] and feedback_kinds(world, case) == []


def test_sent_back_for_rework_then_closed(world: Session) -> None:
    case = register(world)
    assign(world, case)
    sign(world, case)
    report(world, case)
    report(world, case, "办结报告")
    verify(world, case, "退回重办", "发放名单未公示，请补充公示材料后重新报送。")
    item = item_of(world, case)
    assert open_steps(world, case) == ["handle"] and open_task(world, case, "handle").org_unit.code == "210211"
    assert item.sent_back_count == 1 and item.status == SupervisionStatus.IN_PROGRESS and item.reported_at is None
    assert item.feedback[-1].kind == "sent_back" and item.feedback[-1].body.startswith("发放名单未公示")
    report(world, case, "办结报告")
    verify(world, case)
    assert item.status == SupervisionStatus.CLOSED and case.status == InstanceStatus.COMPLETED
    assert feedback_kinds(world, case) == ["progress", "completion", "sent_back", "completion"]


def test_co_units_report_and_closing_waits_for_every_one(world: Session) -> None:
    case = register(world, co_units="210200:finance，210204")
    assign(world, case)
    assert open_steps(world, case) == ["co_report", "co_report", "sign"]
    finance = co_task(world, case, "caiwu1")
    assert (finance.org_unit.code, finance.department_code) == ("210200", "finance")
    assert finance.due_at is not None and finance.due_at.astimezone(SHANGHAI).date().isoformat() == in_days(30)
    # Another department of the same federation cannot act on the finance department's report.
    with pytest.raises(NotFound):
        complete_task(world, user(world, "baozhang1"), case.id, finance.task_id, {"opinion": "代为反馈。"})
    sign(world, case)
    report(world, case)
    report(world, case, "办结报告")
    with pytest.raises(FormValidationError) as refused:
        verify(world, case)
    waiting = "核查结论：协办单位尚未反馈：大连市总工会财务部、沙河口区总工会，暂不能销号"
    assert refused.value.errors["decision"] == waiting
    co_report(world, case, "caiwu1")
    with pytest.raises(FormValidationError) as still:
        verify(world, case)
    assert "尚未反馈：沙河口区总工会，" in still.value.errors["decision"]
    co_report(world, case, "shahekou1")
    verify(world, case)
    item = item_of(world, case)
    assert case.status == InstanceStatus.COMPLETED and item.status == SupervisionStatus.CLOSED
    assert all(unit.signed_at is not None for unit in item.units)
    assert sorted(feedback_kinds(world, case)) == ["co_unit", "co_unit", "completion", "progress"]


def test_the_lead_unit_returns_the_matter_to_the_head(world: Session) -> None:
    """退回 across the fork resets both branches; the matter's record follows (reopen_step), reports stay."""
    case = register(world, co_units="210204")
    assign(world, case)
    sign(world, case)
    report(world, case)
    handle = open_task(world, case, "handle")
    targets = return_targets(engine_task(load_workflow(case), handle.task_id))
    assert [task.task_spec.bpmn_id for task in targets] == ["assign", "sign", "handle"]
    reason = "不属于本单位职责范围。"
    return_task(world, user(world, "ganjingzi1"), case.id, handle.task_id, str(targets[0].id), reason)
    item = item_of(world, case)
    assert open_steps(world, case) == ["assign"] and check_instance(world, case, load_routing()) == []
    assert item.status == SupervisionStatus.REGISTERED and item.assigned_at is None and item.signed_at is None
    assert all(unit.signed_at is None for unit in item.units) and feedback_kinds(world, case) == ["progress"]
    assign(world, case)
    assert open_steps(world, case) == ["co_report", "sign"] and item.status == SupervisionStatus.ASSIGNED


def test_only_the_assigning_head_assigns(world: Session) -> None:
    case = register(world)
    entry = open_task(world, case, "assign")
    data = {"decision": "交办", "opinion": "同意交办。"}
    # A colleague of the department sees the step but the head holds it by name; another department sees nothing.
    with pytest.raises(TaskAlreadyClaimed):
        complete_task(world, user(world, "jingji2"), case.id, entry.task_id, data)
    with pytest.raises(NotFound):
        complete_task(world, user(world, "caiwu_head"), case.id, entry.task_id, data)
    complete(world, HEAD, case, "assign", data)
    assert open_steps(world, case) == ["sign"]


def test_registration_is_checked(world: Session) -> None:
    cases = [
        ({"deadline": (beijing_today() - timedelta(days=1)).isoformat()}, "deadline", "办结时限：不能早于今天"),
        ({"co_units": "210204 210211"}, "co_units", "协办单位：甘井子区总工会已是主办单位"),
        ({"lead_unit": "210100"}, "lead_unit", "主办单位：“210100”不是本单位的部门或下级工会"),
        ({"lead_unit": "210211-G001"}, "lead_unit", "主办单位：“210211-G001”不是本单位的部门或下级工会"),
        ({"co_units": "210202 210000:finance"}, "co_units", "协办单位：“210000:finance”不是本单位的部门或下级工会"),
        ({"plan_item_id": str(plan_item(world, "210000").id)}, "plan_item_id", "关联工作事项：不是本单位责任分工方案"),
    ]
    for overrides, field, message in cases:
        with pytest.raises(FormValidationError) as refused:
            register(world, **overrides)
        assert refused.value.errors[field].startswith(message), (overrides, refused.value.errors)
    own = plan_item(world, "210200")
    assert item_of(world, register(world, plan_item_id=str(own.id))).plan_item_id == own.id
    # The office has no head to assign its matters; an expert has no department; a grassroots union may not start.
    for username, reason in [("bangong1", "办公室没有在岗的部门负责人"), ("zhuanjia1", "没有所属部门")]:
        with pytest.raises(PermissionDenied, match=reason):
            register(world, username)
    with pytest.raises(PermissionDenied):
        register(world, "haichang_gonghui")


def test_a_district_registers_for_its_grassroots_unions(world: Session) -> None:
    case = register(world, "ganjingzi1", lead_unit="210211-G001")
    item = item_of(world, case)
    assert item.assigning_department_code is None and item.assigning_head_id == user(world, "ganjingzi_head").id
    complete(world, "ganjingzi_head", case, "assign", {"decision": "交办", "opinion": "请海昌工会办理。"})
    complete(world, "haichang_gonghui", case, "sign", {"handler_name": "于海波"})
    assert open_steps(world, case) == ["handle"]


def _end_of(day_offset: int) -> datetime:
    return datetime.combine(beijing_today() + timedelta(days=day_offset), time(10), tzinfo=SHANGHAI)


def test_overdue_matters_escalate_once_to_the_head_and_closed_ones_never(world: Session) -> None:
    today = beijing_today().isoformat()
    open_case = register(world, deadline=today, title="按期完成帮扶资金发放")
    withdrawn = register(world, deadline=today)
    assign(world, withdrawn, "不予交办")
    closed = register(world, deadline=today)
    assign(world, closed)
    sign(world, closed)
    report(world, closed)
    report(world, closed, "办结报告")
    verify(world, closed)
    assert escalate_overdue_items(world, _end_of(0)) == 0  # due today is not overdue
    assert escalate_overdue_items(world, _end_of(2)) == 1
    assert escalate_overdue_items(world, _end_of(3)) == 0  # once only
    item = item_of(world, open_case)
    assert item.escalated_at is not None
    [sent] = world.scalars(select(Notification).where(Notification.kind == NotificationKind.ESCALATED.value)).all()
    assert sent.recipient_id == user(world, HEAD).id and sent.instance_id == open_case.id
    assert sent.title == "督办事项超期：按期完成帮扶资金发放"
    assert "主办单位：甘井子区总工会" in sent.body and "已超期 2 天" in sent.body and "尚无进展反馈" in sent.body


def test_the_ledger_shows_each_matter_to_those_concerned_with_lights(world: Session) -> None:
    routing = load_routing()
    now = datetime.now(SHANGHAI)
    near = near_due_limit(now)
    urgent = register(world, deadline=beijing_today().isoformat(), co_units="210204")
    assign(world, urgent)
    sign(world, urgent)
    report(world, urgent)
    later = register(world, "jingji2", title="开展劳动竞赛督查", lead_unit="210200:finance")
    assign(world, later)

    def seen(username: str, wanted: LedgerFilter | None = None) -> list[str]:
        rows = ledger_rows(world, user(world, username), routing, wanted or LedgerFilter(), now=now, near_limit=near)
        return [row.case_number for row in rows]

    both = [urgent.case_number, later.case_number]
    assert seen("jingji1") == both and seen("jingji_head") == both and seen("admin") == both
    assert seen("ganjingzi1") == [urgent.case_number] and seen("shahekou1") == [urgent.case_number]
    assert seen("caiwu1") == [later.case_number]
    assert seen("zhongshan1") == [] and seen("baozhang1") == []
    assert seen("jingji1", LedgerFilter(light=Light.YELLOW)) == [urgent.case_number]
    assert seen("jingji1", LedgerFilter(light=Light.GREEN)) == [later.case_number]
    assert seen("jingji1", LedgerFilter(light=Light.RED)) == []
    assert seen("jingji1", LedgerFilter(status="assigned")) == [later.case_number]
    [row] = ledger_rows(world, user(world, "ganjingzi1"), routing, LedgerFilter(), now=now, near_limit=near)
    assert (row.light, row.days_left, row.feedback_count, row.lead) == (Light.YELLOW, 0, 1, "甘井子区总工会")
    assert row.co_units == ["沙河口区总工会"] and row.last_feedback_at is not None
    overdue = ledger_rows(world, user(world, "jingji1"), routing, LedgerFilter(light=Light.RED),
                          now=now + timedelta(days=1), near_limit=near)  # fmt: skip
    assert [(row.case_number, row.days_left) for row in overdue] == [(urgent.case_number, -1)]
