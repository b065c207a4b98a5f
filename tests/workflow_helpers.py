"""Helpers for driving cases through the workflow layer in tests, as the web layer will."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.operations import Completion, complete_task, start_case

ENTERPRISE_USCC = "91210211MA0Q3R5K70"  # a demo enterprise supervised by 甘井子区总工会


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None, username
    return found


def intake(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "随手拍",
        "enterprise_uscc": ENTERPRISE_USCC,
        "location": "三号车间东侧配电箱",
        "category": "物的不安全状态",
        "description": "配电箱门损坏，带电部位裸露，职工经过时有触电危险。",
        "possible_consequence": "触电伤亡",
        "reporter": {
            "name": "李大勇",
            "mobile": "13904111234",
            "resident_id": "210211196803150130",
            "anonymous": "false",
            "employee_of_reported_unit": "true",
        },
    }
    data.update(overrides)
    return data


def open_task(session: Session, case: ProcessInstance, bpmn_id: str) -> TaskIndexEntry:
    entry = session.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == bpmn_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert entry is not None, f"no open task {bpmn_id}; open: {open_steps(session, case)}"
    return entry


def open_steps(session: Session, case: ProcessInstance) -> list[str]:
    return sorted(
        session.scalars(
            select(TaskIndexEntry.bpmn_id).where(
                TaskIndexEntry.instance_id == case.id, TaskIndexEntry.status == TaskStatus.READY.value
            )
        )
    )


def complete(session: Session, username: str, case: ProcessInstance, bpmn_id: str, data: dict[str, Any]) -> Completion:
    entry = open_task(session, case, bpmn_id)
    return complete_task(session, user(session, username), case.id, entry.task_id, data)


def start_report(session: Session, username: str = "ganjingzi1", **overrides: Any) -> ProcessInstance:
    return start_case(session, user(session, username), "hazard_report", intake(**overrides))
