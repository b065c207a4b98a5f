"""Demo supervised matters (督办) under the Dalian plan's items, so the 督办台账, the plan dashboard and the
notification centre have something to show after `./dev.sh run`. Not part of `seed-demo`: the test databases stay
without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.calendar import beijing_today
from workflows.models import Plan, PlanItem, SupervisionItem, TaskIndexEntry, TaskStatus, User
from workflows.operations import complete_task, start_case

PLAN_CODE = "dalian-2017-28"


def _user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    if found is None:
        raise LookupError(f"演示账号 {username} 不存在：请先运行 seed-demo")
    return found


def _plan_item(session: Session, number: int) -> int:
    item_id = session.scalar(
        select(PlanItem.id)
        .join(Plan, Plan.id == PlanItem.plan_id)
        .where(Plan.code == PLAN_CODE, PlanItem.number == number)
    )
    if item_id is None:
        raise LookupError("演示方案未载入：请先运行 seed-demo")
    return item_id


def _complete(session: Session, username: str, instance_id: int, bpmn_id: str, data: dict[str, Any]) -> None:
    official = _user(session, username)
    entries = session.scalars(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == instance_id,
            TaskIndexEntry.bpmn_id == bpmn_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
            TaskIndexEntry.org_unit_id == official.org_unit_id,
        )
    )
    entry = next(e for e in entries if e.department_code in (None, official.department_code))
    complete_task(session, official, instance_id, entry.task_id, data)


def seed_demo_supervision(session: Session) -> int:
    """Three matters at different stages; returns how many were created (0 when they exist already). Flushes."""
    today = beijing_today()
    matters: list[tuple[str, str, dict[str, Any], int]] = [
        # At 甘井子区's 承办反馈 with one progress report, 沙河口区's 协办反馈 open.
        ("jingji1", "“安康杯”竞赛年度总结报送", {"lead_unit": "210211", "co_units": "210204"}, 12),
        # Assigned to 中山区, due tomorrow (a yellow light), not yet signed for.
        ("baozhang1", "困难职工帮扶资金发放情况核查", {"lead_unit": "210202"}, 11),
        # Registered, waiting for the head's 交办.
        ("jingji2", "“安全隐患随手拍”活动宣传发动", {"lead_unit": "210200:publicity"}, 13),
    ]
    created = 0
    for position, (username, title, units, number) in enumerate(matters):
        if session.scalar(select(SupervisionItem.id).where(SupervisionItem.title == title)) is not None:
            continue
        deadline = today + timedelta(days=1 if position == 1 else 15)
        data = {
            "title": title,
            "source": "责任分工",
            "content": f"按大工办发〔2017〕28号第{number}项要求，{title}，按时反馈进展。",
            "plan_item_id": _plan_item(session, number),
            "deadline": deadline.isoformat(),
            **units,
        }
        case = start_case(session, _user(session, username), "supervision", data)
        created += 1
        if position == 2:
            continue
        head = "jingji_head" if username == "jingji1" else "baozhang_head"
        _complete(session, head, case.id, "assign", {"decision": "交办", "opinion": "请按时办结并反馈。"})
        if position == 1:
            continue
        _complete(session, "ganjingzi1", case.id, "sign", {"handler_name": "马晓东", "handler_phone": "0411-86600000"})
        progress = {"report_kind": "进展反馈", "opinion": "已组织辖区企业开展自查，完成总结初稿。"}
        _complete(session, "ganjingzi1", case.id, "handle", progress)
    session.flush()
    return created
