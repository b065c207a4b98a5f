"""Helpers for driving supervised matters (督办, issue 8) through the workflow layer in tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, user
from workflows.calendar import beijing_today
from workflows.models import (
    OrgUnit,
    Plan,
    PlanItem,
    PlanMeasure,
    ProcessInstance,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
)
from workflows.operations import complete_task, start_case

OPINION = "请按要求抓紧办理。"
HEAD = "jingji_head"  # head of the city's 经济技术和劳动保护部, the department jingji1 and jingji2 work in
LEAD = "210211"  # 甘井子区总工会 (ganjingzi1, ganjingzi2, ganjingzi_head)


def in_days(days: int) -> str:
    return (beijing_today() + timedelta(days=days)).isoformat()


def matter(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "落实困难职工帮扶资金发放",
        "source": "领导批示",
        "content": "按市总主席批示，核实辖区困难职工帮扶资金发放情况，年底前全部发放到位。",
        "lead_unit": LEAD,
        "deadline": in_days(30),
    }
    data.update(overrides)
    return data


def register(world: Session, username: str = "jingji1", **overrides: Any) -> ProcessInstance:
    return start_case(world, user(world, username), "supervision", matter(**overrides))


def item_of(world: Session, case: ProcessInstance) -> SupervisionItem:
    found = world.scalar(select(SupervisionItem).where(SupervisionItem.instance_id == case.id))
    assert found is not None
    return found


def assign(world: Session, case: ProcessInstance, decision: str = "交办", **extra: Any) -> None:
    complete(world, HEAD, case, "assign", {"decision": decision, "opinion": OPINION, **extra})


def sign(world: Session, case: ProcessInstance, username: str = "ganjingzi1") -> None:
    complete(world, username, case, "sign", {"handler_name": "朱丽", "handler_phone": "0411-86600000"})


def report(world: Session, case: ProcessInstance, kind: str = "进展反馈", username: str = "ganjingzi1") -> None:
    body = "已完成辖区摸底，发放进度过半。" if kind == "进展反馈" else "帮扶资金已全部发放到位，名单已公示。"
    complete(world, username, case, "handle", {"report_kind": kind, "opinion": body})


def verify(world: Session, case: ProcessInstance, decision: str = "销号", opinion: str = "经核查，已办结。") -> None:
    complete(world, HEAD, case, "verify", {"decision": decision, "opinion": opinion})


def co_task(world: Session, case: ProcessInstance, username: str) -> TaskIndexEntry:
    """The open 协办反馈 of the co-unit `username` works in."""
    official = user(world, username)
    for entry in world.scalars(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == "co_report",
            TaskIndexEntry.status == TaskStatus.READY.value,
            TaskIndexEntry.org_unit_id == official.org_unit_id,
        )
    ):
        if entry.department_code in (None, official.department_code):
            return entry
    raise AssertionError(f"{username} has no open co-unit report")


def co_report(world: Session, case: ProcessInstance, username: str) -> None:
    entry = co_task(world, case, username)
    complete_task(world, user(world, username), case.id, entry.task_id, {"opinion": "已配合核对发放名单。"})


def plan_item(world: Session, issuer_code: str = "210200", number: int = 8) -> PlanItem:
    """A plan of `issuer_code` with one measure and one work item (the plan loader is not needed here)."""
    issuer = world.scalar(select(OrgUnit).where(OrgUnit.code == issuer_code))
    assert issuer is not None
    plan = Plan(
        code=f"test-plan-{issuer_code}",
        title="测试责任分工方案",
        document_number="测试〔2026〕1号",
        issuing_office=f"{issuer.name}办公室",
        issuing_unit_id=issuer.id,
        issued_on=date(2026, 1, 5),
    )
    measure = PlanMeasure(plan=plan, number=1, title="措施一")
    item = PlanItem(
        plan=plan,
        measure=measure,
        number=number,
        heading="做好困难职工帮扶",
        body="对困难职工给予帮扶。",
        responsible_text="生活保障部",
    )
    world.add_all([plan, measure, item])
    world.flush()
    return item
